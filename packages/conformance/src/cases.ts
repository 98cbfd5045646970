import type { ConformanceCase } from '@logit-perturb/core/verify'
import { mulberry32, ruleFacts } from '@logit-perturb/core'
import { type MultiLabelBatch, type SingleLabelBatch, multiLabelBatch, singleLabelBatch } from './batches.js'
import { multiLabelVariants, singleLabelVariants } from './ruleVariants.js'

const COUNTS = [4000, 1500, 600, 200, 60, 0]

/** The seeded single-label batch of a case (the last class absent from it), `[N, E·C]` for a rule with `E` heads. */
function batch(seed: number, n: number, c: number, scale: number, heads = 1): SingleLabelBatch {
  return singleLabelBatch(mulberry32(seed), n, c, scale, heads)
}

/**
 * Every rule, single- and multi-label, in each variant of the rule table (its main options, its
 * defaults, the combinations suites need), on batches of moderate and extreme magnitude.
 */
export function conformanceCases(): ConformanceCase[] {
  return [...singleLabelCases(), ...multiLabelCases(), ...weightedCases()].map((c, k) => withBatchInputs(c, 5000 + k))
}

/**
 * A case with values for the batch inputs its rule declares (GCL's `noise`): seeded, uniform in
 * each input's bounds, with the logits' shape, so that its training calls draw nothing and every
 * backend sees the same values. Cases of other rules are returned as they are.
 */
export function withBatchInputs(c: ConformanceCase, seed: number): ConformanceCase {
  const declared = ruleFacts(c.spec).batchInputs ?? []
  if (declared.length === 0) return c
  const rand = mulberry32(seed)
  const batchInputs = Object.fromEntries(
    declared.map(({ field, bounds: [low, high] }) => [
      field,
      c.logits.map((row) => row.map(() => Math.fround(low + (high - low) * rand()))),
    ]),
  )
  return { ...c, batchInputs }
}

const REDUCTIONS = ['mean', 'sum', 'none'] as const

/**
 * Every variant with sample weights and a mask (rows 3, 10 and 17 masked out), each with one of the
 * three reductions in turn: what the trainer contract adds to a call, on every backend.
 */
function weightedCases(): ConformanceCase[] {
  const rows = (n: number, seed: number) => {
    const rand = mulberry32(seed)
    return {
      sampleWeight: Array.from({ length: n }, () => Math.fround(0.25 + 2 * rand())),
      mask: Array.from({ length: n }, (_, i) => (i % 7 === 3 ? 0 : 1)),
    }
  }
  const single = singleLabelVariants(COUNTS, { batchInputs: true }).map(({ name, spec, heads }, k) => ({
    name,
    spec,
    ...batch(800 + k, 24, 6, 3, heads),
  }))
  const multi = multiLabelVariants(LABEL_COUNTS, NUM_SAMPLES).map(({ name, spec }, k) => ({
    name,
    spec,
    ...labelBatch(900 + k, 24, 3, 0.75),
  }))
  return [...single, ...multi].map((c, k) => {
    const reduction = REDUCTIONS[k % REDUCTIONS.length]!
    return { ...c, name: `${c.name} (weighted, masked, ${reduction})`, reduction, ...rows(c.logits.length, 1000 + k) }
  })
}

/** Every single-label variant, on batches of moderate and extreme magnitude, seeded by its place in the table. */
function singleLabelCases(): ConformanceCase[] {
  const out: ConformanceCase[] = []
  singleLabelVariants(COUNTS, { batchInputs: true }).forEach(({ name, spec, heads }, k) => {
    out.push({ name: `${name} (|u| ≤ 3)`, spec, ...batch(100 + k, 24, 6, 3, heads) })
    // Every sample classified with a logit gap of about 100: non-target probabilities near 1e-44,
    // below float32's smallest normal number, where backends may flush them to zero.
    const confident = batch(300 + k, 24, 6, 3, heads)
    // Each head's target (column y of every block of 6).
    confident.logits = confident.logits.map((row, i) => row.map((v, j) => Math.fround(v + (j % 6 === confident.labels[i] ? 100 : 0))))
    out.push({
      name: `${name} (gap ~ 100)`,
      spec,
      ...confident,
      float32Exceptions: {
        loss: 'the batch is fit (loss below 1e-20): float32 computes CE as lse(z) − z_y and rounds it to 0 or to one unit in the last place of |z|',
        autodiff:
          'autodiff of log-softmax forms p_y − 1, which float32 rounds to 0 once 1 − p_y < 6e-8; the closed form keeps −Σ_{j≠y} p_j',
      },
      float64Exceptions: {
        loss: 'the batch is fit: where a rule scales the gap down (vs) the loss is about 1e-13 at logits of 100, below their float64 resolution (1.4e-14), so the order of rounding in log-softmax ((z − max) − log Σ against z − (max + log Σ)) moves it by 1e-4 relative',
        autodiff:
          'autodiff of log-softmax forms p_y − 1, which float64 rounds to 0 once 1 − p_y < 1.1e-16 (a gap above 37); the closed form keeps −Σ_{j≠y} p_j',
      },
    })
    out.push({
      name: `${name} (|u| ~ 1e4)`,
      spec,
      ...batch(200 + k, 16, 6, 1e4, heads),
      float32Exceptions: {
        gradient:
          'float32 holds logits of 1e4 to about 1e-3, so the softmax of u + δ, and the gradient, differ from float64 by about 1e-3 relative',
      },
    })
  })
  return out
}

/**
 * Multi-label training statistics: positives per label in 5000 samples, with a label on every
 * sample and a label on none (both clamped to an informative prior by the rules).
 */
const LABEL_COUNTS = [5000, 1500, 600, 200, 60, 0]
const NUM_SAMPLES = 5000

/** Per-label rates of the multi-label batches: label 0 has no negatives in a batch, label 5 no positives. */
const LABEL_RATES = [1, 0.6, 0.35, 0.2, 0.1, 0]

/** The seeded multi-label batch of a case, logits drawn at `scale` with a `margin` toward the labels. */
function labelBatch(seed: number, n: number, scale: number, margin: number): MultiLabelBatch {
  return multiLabelBatch(mulberry32(seed), n, LABEL_RATES, scale, margin)
}

/** Every multi-label variant, on batches of moderate and extreme magnitude, seeded by its place in the table. */
function multiLabelCases(): ConformanceCase[] {
  const out: ConformanceCase[] = []
  multiLabelVariants(LABEL_COUNTS, NUM_SAMPLES).forEach(({ name, spec }, k) => {
    out.push({ name: `${name} (|u| ≤ 3)`, spec, ...labelBatch(500 + k, 24, 3, 0.75) })
    // Every entry classified with a margin of about 100: its BCE and gradient are near e^-100,
    // below float32's normal range.
    out.push({ name: `${name} (gap ~ 100)`, spec, ...labelBatch(600 + k, 24, 3, 100) })
    out.push({ name: `${name} (|u| ~ 1e4)`, spec, ...labelBatch(700 + k, 16, 1e4, 0) })
  })
  return out
}
