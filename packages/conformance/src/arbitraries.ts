import fc from 'fast-check'
import { mulberry32 } from '@logit-perturb/core'

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
 * Batches of random shape (N up to 256, C up to 200 by default), logits at magnitudes up to 1e4,
 * labels biased toward the first classes (long-tailed, so some classes are absent from the batch),
 * and long-tailed class counts with zeros. Sizes are drawn by fast-check (and shrink); values come
 * from a drawn seed.
 */
export function batchArbitrary(options: BatchOptions = {}): fc.Arbitrary<BatchCase> {
  const { maxN = 256, maxC = 200, minC = 1, scales = [1, 10, 100, 1e4], zeroCounts = true } = options
  return fc
    .record({
      n: fc.oneof(fc.integer({ min: 1, max: 8 }), fc.integer({ min: 1, max: maxN })),
      c: fc.oneof(fc.integer({ min: minC, max: Math.min(6, maxC) }), fc.integer({ min: minC, max: maxC })),
      scale: fc.constantFrom(...scales),
      seed: fc.integer({ min: 0, max: 2 ** 31 - 1 }),
      ratio: fc.constantFrom(1, 10, 100, 1e6),
    })
    .map(({ n, c, scale, seed, ratio }) => {
      const rand = mulberry32(seed)
      const logits = Array.from({ length: n * c }, () => scale * (2 * rand() - 1))
      const labels = Array.from({ length: n }, () => Math.min(c - 1, Math.floor(c * rand() ** 2)))
      const counts: number[] = Array.from({ length: c }, (_, k) =>
        zeroCounts && c > 1 && rand() < 0.15 ? 0 : Math.max(1, Math.floor(5000 * ratio ** (-k / Math.max(1, c - 1)))))
      if (!counts.some((v) => v > 0)) counts[0] = 1
      // Shuffle so class ids are not sorted by count.
      for (let k = c - 1; k > 0; k--) {
        const j = Math.floor(rand() * (k + 1))
        ;[counts[k], counts[j]] = [counts[j]!, counts[k]!]
      }
      return { n, c, logits, labels, counts, scale }
    })
}
