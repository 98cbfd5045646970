import type { ConformanceCase, RuleInput } from '@logit-perturb/core'
import { mulberry32 } from '@logit-perturb/core'
import { type MultiLabelBatch, type SingleLabelBatch, multiLabelBatch, singleLabelBatch } from './batches.js'

const COUNTS = [4000, 1500, 600, 200, 60, 0]

/** The seeded single-label batch of a case (the last class absent from it). */
function batch(seed: number, n: number, c: number, scale: number): SingleLabelBatch {
  return singleLabelBatch(mulberry32(seed), n, c, scale)
}

/** Every rule, single- and multi-label, with its main options, on batches of moderate and extreme magnitude. */
export function conformanceCases(): ConformanceCase[] {
  return [...singleLabelCases(), ...multiLabelCases()]
}

/** Every single-label rule with its main options, on batches of moderate and extreme magnitude. */
function singleLabelCases(): ConformanceCase[] {
  const counts = COUNTS
  const specs: [string, RuleInput][] = [
    ['ce', { rule: 'ce' }],
    ['logit-adjustment', { rule: 'logit-adjustment', tau: 1.2, classCounts: counts }],
    ['balanced-softmax', { rule: 'balanced-softmax', classCounts: counts }],
    ['ldam-drw', { rule: 'ldam', classCounts: counts, scale: 5, drw: { beta: 0.999, fromEpoch: 0 } }],
    ['vs', { rule: 'vs', classCounts: counts, gamma: 0.3, tau: 1 }],
    ['isda', {
      rule: 'isda', lambda: 0.5,
      weights: counts.map((_, c) => [Math.cos(c), Math.sin(c), 0.5]),
      covariances: counts.map((_, c) => [[1, 0.1, 0], [0.1, 0.5 + 0.1 * c, 0], [0, 0, 0.2]]),
    }],
    ['lpl-prior', { rule: 'lpl', split: 'prior', classCounts: counts }],
    ['lpl-prior-unnormalized', { rule: 'lpl', split: 'prior', classCounts: counts, normalize: false, alpha: 0.3 }],
    ['lpl-confidence', { rule: 'lpl', split: 'confidence', momentum: 0 }],
    ['lpl-fixed', { rule: 'lpl', split: 'fixed', directions: [-1, 1, -1, 1, 1, 1], bounds: [0.3, 0.9, 0.45, 1.2, 0.6, 1.5] }],
    ['la+lpl', { rule: 'lpl', split: 'prior', classCounts: counts, base: { rule: 'logit-adjustment', tau: 1, classCounts: counts } }],
    ['lpl-through', { rule: 'lpl', split: 'prior', classCounts: counts, gradient: 'through', maxSteps: 6 }],
    ['official-longtail', { rule: 'official-longtail', classCounts: counts, split: 2, steps: 6 }],
    ['official-balanced', { rule: 'official-balanced', steps: 6, alpha: 0.05 }],
  ]
  const out: ConformanceCase[] = []
  specs.forEach(([name, spec], k) => {
    out.push({ name: `${name} (|u| ≤ 3)`, spec, ...batch(100 + k, 24, 6, 3) })
    // Every sample classified with a logit gap of about 100: non-target probabilities near 1e-44,
    // below float32's smallest normal number, where backends may flush them to zero.
    const confident = batch(300 + k, 24, 6, 3)
    confident.logits = confident.logits.map((row, i) => row.map((v, j) => Math.fround(v + (j === confident.labels[i] ? 100 : 0))))
    out.push({
      name: `${name} (gap ~ 100)`, spec, ...confident,
      float32Exceptions: {
        loss: 'the batch is fit (loss below 1e-20): float32 computes CE as lse(z) − z_y and rounds it to 0 or to one unit in the last place of |z|',
        autodiff: 'autodiff of log-softmax forms p_y − 1, which float32 rounds to 0 once 1 − p_y < 6e-8; the closed form keeps −Σ_{j≠y} p_j',
      },
    })
    out.push({
      name: `${name} (|u| ~ 1e4)`, spec, ...batch(200 + k, 16, 6, 1e4),
      float32Exceptions: {
        gradient: 'float32 holds logits of 1e4 to about 1e-3, so the softmax of u + δ, and the gradient, differ from float64 by about 1e-3 relative',
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

/** Every multi-label rule with its main options, on batches of moderate and extreme magnitude. */
function multiLabelCases(): ConformanceCase[] {
  const counts = { classCounts: LABEL_COUNTS, numSamples: NUM_SAMPLES }
  const specs: [string, RuleInput][] = [
    ['bce', { rule: 'bce' }],
    ['logit-adjusted-bce', { rule: 'logit-adjusted-bce', tau: 1.2, ...counts }],
    ['db-negative-tolerant', { rule: 'db-negative-tolerant', ...counts }],
    ['db-negative-tolerant (κ 0.3, λ 2)', { rule: 'db-negative-tolerant', kappa: 0.3, lambda: 2, ...counts }],
    ['lpl-multilabel', { rule: 'lpl-multilabel', classCounts: LABEL_COUNTS }],
    ['lpl-multilabel-unnormalized', { rule: 'lpl-multilabel', classCounts: LABEL_COUNTS, normalize: false, alpha: 0.3 }],
    ['lpl-multilabel-through', { rule: 'lpl-multilabel', classCounts: LABEL_COUNTS, normalize: false, alpha: 0.3, gradient: 'through', maxSteps: 6 }],
  ]
  const out: ConformanceCase[] = []
  specs.forEach(([name, spec], k) => {
    out.push({ name: `${name} (|u| ≤ 3)`, spec, ...labelBatch(500 + k, 24, 3, 0.75) })
    // Every entry classified with a margin of about 100: its BCE and gradient are near e^-100,
    // below float32's normal range.
    out.push({ name: `${name} (gap ~ 100)`, spec, ...labelBatch(600 + k, 24, 3, 100) })
    out.push({ name: `${name} (|u| ~ 1e4)`, spec, ...labelBatch(700 + k, 16, 1e4, 0) })
  })
  return out
}
