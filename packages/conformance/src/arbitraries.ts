import fc from 'fast-check'
import { mulberry32 } from '@logit-perturb/core'
import { uniform } from './batches.js'
import { longTailCounts, longTailLabel } from './longTail.js'

/** A batch drawn for property tests: flat `[N, C]` logits, labels, and training class counts. */
export interface BatchCase {
  n: number
  c: number
  logits: number[]
  labels: number[]
  /** Training-set counts: long-tailed, with some zeros, at least one positive. */
  counts: number[]
  /** The magnitude the logits were drawn at (1 to 1e4). */
  scale: number
}

/** Options of {@link batchArbitrary}. */
export interface BatchOptions {
  maxN?: number
  maxC?: number
  minC?: number
  /** Logit magnitudes to draw from; default 1, 10, 100, 1e4. */
  scales?: number[]
  /** Allow zero class counts; default true. */
  zeroCounts?: boolean
}

/**
 * The drawn part of a batch: its shape (small shapes as often as large ones), logit magnitude,
 * value seed and imbalance ratio. The values themselves come from the seed.
 */
function batchShape(maxN: number, minC: number, maxC: number, scales: number[], ratios: number[]) {
  return {
    n: fc.oneof(fc.integer({ min: 1, max: 8 }), fc.integer({ min: 1, max: maxN })),
    c: fc.oneof(fc.integer({ min: minC, max: Math.min(6, maxC) }), fc.integer({ min: minC, max: maxC })),
    scale: fc.constantFrom(...scales),
    seed: fc.integer({ min: 0, max: 2 ** 31 - 1 }),
    ratio: fc.constantFrom(...ratios),
  }
}

/**
 * Batches of random shape (N up to 256, C up to 200 by default), logits at magnitudes up to 1e4,
 * labels biased toward the first classes (long-tailed, so some classes are absent from the batch),
 * and long-tailed class counts with zeros. Sizes are drawn by fast-check (and shrink); values come
 * from a drawn seed.
 */
export function batchArbitrary(options: BatchOptions = {}): fc.Arbitrary<BatchCase> {
  const { maxN = 256, maxC = 200, minC = 1, scales = [1, 10, 100, 1e4], zeroCounts = true } = options
  return fc.record(batchShape(maxN, minC, maxC, scales, [1, 10, 100, 1e6])).map(({ n, c, scale, seed, ratio }) => {
    const rand = mulberry32(seed)
    const logits = Array.from({ length: n * c }, () => uniform(rand, scale))
    const labels = Array.from({ length: n }, () => longTailLabel(rand, c))
    const counts = longTailCounts(c, 5000, ratio).map((count) => (zeroCounts && c > 1 && rand() < 0.15 ? 0 : count))
    if (!counts.some((v) => v > 0)) counts[0] = 1
    // Shuffle so class ids are not sorted by count.
    for (let k = c - 1; k > 0; k--) {
      const j = Math.floor(rand() * (k + 1))
      ;[counts[k], counts[j]] = [counts[j]!, counts[k]!]
    }
    return { n, c, logits, labels, counts, scale }
  })
}

/** A multi-label batch drawn for property tests: flat `[N, C]` logits and 0/1 labels, and training statistics. */
export interface MultiLabelBatchCase {
  n: number
  c: number
  logits: number[]
  /** Flat `[N, C]` entries of 0 and 1. */
  labels: number[]
  /** Positives per label in the training set: long-tailed, with zeros and labels on every sample. */
  counts: number[]
  /** Training-set size; every count is at most this, and some label has `0 < n_c < numSamples`. */
  numSamples: number
  /** The magnitude the logits were drawn at (1 to 1e4). */
  scale: number
}

/**
 * Multi-label batches of random shape (N up to 128, C up to 100 by default), logits at magnitudes
 * up to 1e4, labels drawn with long-tailed per-label rates (some labels on no sample of the batch,
 * some on every sample), and training counts with zeros and counts equal to `numSamples`.
 */
export function multiLabelBatchArbitrary(options: BatchOptions = {}): fc.Arbitrary<MultiLabelBatchCase> {
  const { maxN = 128, maxC = 100, minC = 1, scales = [1, 10, 100, 1e4] } = options
  return fc
    .record({ ...batchShape(maxN, minC, maxC, scales, [1, 10, 100, 1e4]), numSamples: fc.constantFrom(50, 1000, 123457) })
    .map(({ n, c, scale, seed, ratio, numSamples }) => {
      const rand = mulberry32(seed)
      const pick = (): number => {
        const r = rand()
        return r < 0.1 ? 0 : r < 0.15 ? 1 : 0.9 * ratio ** -rand()
      }
      const rates = Array.from({ length: c }, pick)
      const labels = Array.from({ length: n * c }, (_, k) => (rand() < rates[k % c]! ? 1 : 0))
      const logits = Array.from({ length: n * c }, () => uniform(rand, scale))
      const counts = Array.from({ length: c }, () => Math.round(numSamples * pick()))
      // parseSpec needs one label with both positive and negative training samples.
      if (!counts.some((v) => v > 0 && v < numSamples)) counts[Math.floor(rand() * c)] = Math.max(1, Math.floor(numSamples / 3))
      return { n, c, logits, labels, counts, numSamples, scale }
    })
}
