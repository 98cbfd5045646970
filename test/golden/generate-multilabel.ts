/**
 * Writes `test/golden/fixtures/golden-multilabel.json`: golden cases of the multi-label rules
 * (`bce`, `logit-adjusted-bce`, `db-negative-tolerant`, `lpl-multilabel`) computed with the float64
 * reference backend, in the format of `../shared/fixtures` with a multi-label case kind per rule
 * (fields: `test/golden/fixtures/README.md`). Deterministic: the same file on every run.
 *
 *     pnpm exec tsx --conditions=@logit-perturb/source test/golden/generate-multilabel.ts
 *
 * The golden suite reads the folder like any other: `GOLDEN_DIR=test/golden/fixtures pnpm test:golden`.
 */
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { createLoss, dbBias, labelPriors, lplSteps, mulberry32, parseSpec, priorSplitBounds, referenceOps } from '@logit-perturb/core'
import type { RuleInput } from '@logit-perturb/core'
import { type MultiLabelBatch, centralDifference, longTailProfile, multiLabelBatch } from '@logit-perturb/conformance'

const SEED = 11
const out = join(import.meta.dirname, 'fixtures', 'golden-multilabel.json')
const rand = mulberry32(SEED)

/** A batch of `n` samples and `c` labels: float32-representable logits, label `j` on with probability `rates[j]`. */
function batch(n: number, rates: readonly number[], scale: number): MultiLabelBatch {
  return multiLabelBatch(rand, n, rates, scale, 0.5)
}

/** Long-tailed label rates `0.9·ratio^(−j/(c−1))`, the last label never on (no positives in the batch). */
function rates(c: number, ratio: number): number[] {
  return longTailProfile(c, 0.9, ratio).map((rate, j) => (j === c - 1 ? 0 : rate))
}

const rows = (flat: ArrayLike<number>, c: number): number[][] =>
  Array.from({ length: flat.length / c }, (_, i) => Array.from({ length: c }, (_, j) => flat[i * c + j]!))

/** One case: the spec's fields next to the inputs and the reference outputs. */
function goldenCase(kind: string, spec: Record<string, unknown>, b: MultiLabelBatch, extra: Record<string, unknown> = {}) {
  const c = b.logits[0]!.length
  // The fixture's fields, checked by the parser at run time.
  const loss = createLoss(referenceOps, { rule: kind, ...spec } as RuleInput)
  const u = referenceOps.constant(b.logits.flat(), [b.logits.length, c])
  const y = referenceOps.constant(b.labels.flat(), [b.labels.length, c])
  const evaluation = loss.evaluate(u, y)
  // Rules whose gradient flows through the search: central differences of the float64 loss.
  const lossAt = (v: Float64Array) => loss(referenceOps.constant(v, [b.logits.length, c]), y).data[0]!
  const grad = loss.hasClosedFormGradient
    ? Array.from(loss.gradient(u, y).data)
    : Array.from(centralDifference(lossAt, b.logits.flat(), 1e-5))
  const { rule: _rule, version: _version, ...params } = parseSpec({ rule: kind, ...spec }) as unknown as Record<string, unknown>
  return {
    kind,
    numClasses: c,
    ...params,
    ...extra,
    logits: b.logits,
    labels: b.labels,
    loss: evaluation.loss.data[0]!,
    gradLogits: rows(grad, c),
    ...(loss.hasClosedFormGradient ? {} : { gradLogitsBy: 'central difference, step 1e-5' }),
    perturbedLogits: rows(evaluation.batch.logits.data, c),
  }
}

function priorCase(kind: 'logit-adjusted-bce' | 'db-negative-tolerant', spec: Record<string, unknown>, b: MultiLabelBatch) {
  const counts = spec.classCounts as number[]
  const numSamples = spec.numSamples as number
  const extra: Record<string, unknown> = { priors: labelPriors(counts, numSamples) }
  if (kind === 'db-negative-tolerant')
    extra.bias = dbBias(counts, numSamples, (parseSpec({ rule: kind, ...spec }) as { kappa: number }).kappa)
  return goldenCase(kind, spec, b, extra)
}

function lplCase(spec: Record<string, unknown>, b: MultiLabelBatch) {
  const parsed = parseSpec({ rule: 'lpl-multilabel', ...spec }) as unknown as {
    classCounts: number[]
    headClasses?: number
    alpha: number
    epsilon: number
    deltaEpsilon: number
    maxSteps: number
  }
  const split = priorSplitBounds(parsed.classCounts, parsed.epsilon, parsed.deltaEpsilon, parsed.headClasses)
  return goldenCase('lpl-multilabel', spec, b, {
    headClasses: parsed.headClasses ?? null,
    directions: split.directions,
    classSteps: split.bounds.map((bound) => lplSteps(bound, parsed.alpha, parsed.maxSteps)),
  })
}

// Training statistics: positives per label among numSamples, long-tailed, with a zero count and a
// label on every training sample (both read through the documented clamping).
const COUNTS_8 = [10000, 4100, 1700, 700, 290, 120, 50, 0]
const COUNTS_20 = longTailProfile(20, 6000, 100).map((n, j) => (j === 7 ? 0 : Math.round(n)))

const cases = [
  goldenCase('bce', {}, batch(32, rates(8, 50), 3)),
  goldenCase('bce', {}, batch(12, rates(20, 100), 8)),
  priorCase('logit-adjusted-bce', { classCounts: COUNTS_8, numSamples: 10000, tau: 1 }, batch(32, rates(8, 50), 3)),
  priorCase('logit-adjusted-bce', { classCounts: COUNTS_20, numSamples: 20000, tau: 0.5 }, batch(24, rates(20, 100), 4)),
  priorCase('db-negative-tolerant', { classCounts: COUNTS_8, numSamples: 10000, kappa: 0.05, lambda: 5 }, batch(32, rates(8, 50), 3)),
  priorCase('db-negative-tolerant', { classCounts: COUNTS_20, numSamples: 20000, kappa: 0.3, lambda: 2 }, batch(24, rates(20, 100), 4)),
  lplCase({ classCounts: COUNTS_8 }, batch(32, rates(8, 50), 3)),
  lplCase({ classCounts: COUNTS_20, alpha: 0.1, headClasses: 6, normalize: false, maxSteps: 8 }, batch(24, rates(20, 100), 4)),
  lplCase({ classCounts: COUNTS_8, alpha: 0.3, normalize: false, gradient: 'through', maxSteps: 5 }, batch(16, rates(8, 50), 2)),
]

writeFileSync(
  out,
  `${JSON.stringify({
    source: 'logit-perturb float64 reference backend (test/golden/generate-multilabel.ts), multi-label rules',
    seed: SEED,
    cases,
  })}\n`,
)
console.log(`wrote ${cases.length} cases to ${out}`)
