import { FLOAT32_FLOOR } from '../../numerics.js'
import type { TensorOps } from '../../ops.js'
import { repeat } from '../../control.js'
import { MULTI_LABEL_NOT_A_BASE, type SpecBase, type SpecInput, defineRule } from '../definition.js'
import { LPL_DEFAULTS, type LplBoundFields, type LplSearchSettings, type LplStepFields, parseLplSearch } from './lpl.js'
import { lplSteps, priorSplitBounds } from './lplBounds.js'
import type { Rule } from '../types.js'

/**
 * LPL for multi-label data (Li et al., TNNLS 2023; docs/spec.md#5-multi-label): per label `c`, `δ_c⁺` added
 * to the logits of its positives and `δ_c⁻` to those of its negatives, found by a bounded search on
 * the label's BCE, ascent for the rare labels (`P`), descent for the head (`N`).
 */
export interface LplMultiLabelSpec extends SpecBase, LplStepFields, LplBoundFields {
  /** The rule's name, `'lpl-multilabel'`. */
  rule: 'lpl-multilabel'
  /** Positives of each label in the training set: the split and bounds of docs/spec.md#4-lpl-learning-to-perturb-logits-single-label (`prior`). */
  classCounts: number[]
  /** Size of the head `N`; default: the labels whose count is above the median count. */
  headClasses?: number
}

/** A multi-label LPL spec as written: the search fields may be left out. */
export type LplMultiLabelInput = SpecInput<LplMultiLabelSpec, 'alpha' | 'epsilon' | 'deltaEpsilon' | 'maxSteps' | 'normalize' | 'gradient'>

/** Inputs of {@link lplMultiLabelSearch}; per-label lists have length `C`. */
export interface LplMultiLabelSearchInputs<T> {
  /** Logits the search starts from (`[N, C]`); pass them through `stopGradient` for `gradient: 'stop'`. */
  logits: T
  /** The 0/1 label matrix `[N, C]`. */
  labels: T
  /** The label count `C`. */
  numClasses: number
  /** `[N, 1]` float, 1 for the rows that count; absent: every row. A masked-out row is neither positive nor negative. */
  rowMask?: T
  /** The sum across workers of the label counts and gradient sums (`LossContext.batchSum`); absent: one worker. */
  batchSum?: (x: T) => T
  /** `s_c`: `+1` ascent (P), `−1` descent (N). */
  directions: readonly number[]
  /** `K_c`, the number of steps of each label. */
  steps: readonly number[]
  /** Step size `α > 0`. */
  alpha: number
  /** Steps `α·sign(g)` (true) or `α·g` (false). */
  normalize: boolean
}

/**
 * Smallest magnitude a sample's term keeps in the search's gradients: a float32 normal number, so
 * that `σ(−z)` of a positive scored at `z = 200` (0 in float32, or flushed to zero by wasm) still
 * gives the gradient its sign, which every such term has (docs/spec.md#5-multi-label).
 */
const MIN_TERM = FLOAT32_FLOOR

/**
 * LPL's bounded search for multi-label data (Li et al., *Class-Level Logit Perturbation*, TNNLS
 * 2023; docs/spec.md#5-multi-label), all labels at once, as tensor ops. With `δ⁺ = δ⁻ = 0` (`[1, C]`) and
 * `z = u + Y ⊙ δ⁺ + (1 − Y) ⊙ δ⁻`, repeat `K_c` times for label `c`:
 *
 *     g⁺_c = mean_{i: Y_ic = 1} σ(z_ic) − 1        (gradient of the label's mean positive BCE w.r.t. δ⁺_c)
 *     g⁻_c = mean_{i: Y_ic = 0} σ(z_ic)            (of its mean negative BCE w.r.t. δ⁻_c)
 *     δ⁺_c ← δ⁺_c + s_c·α·sign(g⁺_c),  δ⁻_c ← δ⁻_c + s_c·α·sign(g⁻_c)      (normalized)
 *     δ⁺_c ← δ⁺_c + s_c·α·g⁺_c,        δ⁻_c ← δ⁻_c + s_c·α·g⁻_c            (unnormalized)
 *
 * `s_c = +1` (ascent) for `P`, `−1` (descent) for `N`; a label without positives (negatives) in the
 * batch has `g⁺ = 0` (`g⁻ = 0`) and takes a zero step. `σ(z) − 1` is computed as `−σ(−z)`, and each
 * term is held at least 1e-37 in magnitude (see `MIN_TERM`), so the sign survives float32 for
 * saturated logits. Since `g⁺ < 0 < g⁻` always, normalized steps end at the closed form
 * `δ⁺ = −s·α·K`, `δ⁻ = +s·α·K` (docs/spec.md#37-equivalences, property 7); the loop is kept so that the property tests the
 * search rather than restating it. Returns `δ⁺` and `δ⁻`, each `[1, C]`. Cost `O(K·N·C)`.
 */
export function lplMultiLabelSearch<T>(
  ops: TensorOps<T>,
  inp: LplMultiLabelSearchInputs<T>,
): {
  /** `δ⁺`, `[1, C]`: added to the logits of each label's positives. */
  positive: T
  /** `δ⁻`, `[1, C]`: added to the logits of each label's negatives. */
  negative: T
} {
  const c = inp.numClasses
  const one = ops.constant([1], [])
  const floor = ops.constant([MIN_TERM], [])
  const positives = inp.rowMask === undefined ? inp.labels : ops.mul(inp.labels, inp.rowMask)
  const negatives = inp.rowMask === undefined ? ops.sub(one, inp.labels) : ops.mul(ops.sub(one, inp.labels), inp.rowMask)
  // Sums over the batch, across workers where a batchSum is given.
  const overBatch = (x: T) => (inp.batchSum === undefined ? ops.sum(x, [0], true) : inp.batchSum(ops.sum(x, [0], true)))
  const positiveCount = ops.maximum(overBatch(positives), one)
  const negativeCount = ops.maximum(overBatch(negatives), one)
  const zero = ops.constant(new Float64Array(c), [1, c])
  const steps = ops.constant(inp.steps, [1, c])
  const signedAlpha = ops.constant(
    inp.directions.map((d) => d * inp.alpha),
    [1, c],
  )
  const [positive, negative] = repeat(ops, Math.max(0, ...inp.steps), [zero, zero], (_, [positive, negative], k) => {
    const z = ops.add(inp.logits, ops.add(ops.mul(positives, positive!), ops.mul(negatives, negative!)))
    const positiveTerms = ops.neg(ops.maximum(ops.sigmoid(ops.neg(z)), floor))
    const negativeTerms = ops.maximum(ops.sigmoid(z), floor)
    const gPositive = ops.div(overBatch(ops.mul(positives, positiveTerms)), positiveCount)
    const gNegative = ops.div(overBatch(ops.mul(negatives, negativeTerms)), negativeCount)
    // Labels whose K_c is spent take no more steps.
    const rate = ops.mul(ops.greater(steps, k), signedAlpha)
    return [
      ops.add(positive!, ops.mul(rate, inp.normalize ? ops.sign(gPositive) : gPositive)),
      ops.add(negative!, ops.mul(rate, inp.normalize ? ops.sign(gNegative) : gNegative)),
    ]
  })
  return { positive: positive!, negative: negative! }
}

/** Hyper-parameters of {@link lplMultiLabelRule}. */
export interface LplMultiLabelOptions extends LplSearchSettings {
  /** Positives per label in the training set. */
  classCounts: readonly number[]
  headClasses?: number
}

/**
 * LPL for multi-label data: `L = mean_{i,c} BCE(u_ic + sg(δ_c^{±}), Y_ic)`, with `δ_c⁺` on the
 * label's positives and `δ_c⁻` on its negatives from {@link lplMultiLabelSearch}. Labels are split
 * by training frequency as the `prior` split of docs/spec.md#4-lpl-learning-to-perturb-logits-single-label (`priorSplitBounds`): the head
 * (counts above the median, or the `headClasses` most frequent) forms `N`, the rare labels `P`;
 * bounds `ε + Δε·n_c/n_max` (head) and `ε + Δε·n_min/n_c` (tail), `K_c = min(⌊ε_c/α + 1e-6⌋, K)`.
 * Zero counts are read as the smallest positive count: such a label is the rarest, in `P`.
 * `gradient: 'through'` drops the `sg`. Shapes: logits and labels `[N, C]`.
 */
export function lplMultiLabelRule(options: LplMultiLabelOptions): Rule {
  const { classCounts, alpha, maxSteps, normalize } = options
  const { directions, bounds } = priorSplitBounds(classCounts, options.epsilon, options.deltaEpsilon, options.headClasses)
  const steps = bounds.map((b) => lplSteps(b, alpha, maxSteps))
  return {
    numClasses: classCounts.length,
    gradientThrough: options.gradient === 'through',
    searchPath: () => 'ops',
    perturb(ops, { logits, labels, numClasses: c, rowMask, ctx }) {
      const start = options.gradient === 'stop' ? ops.stopGradient(logits) : logits
      const delta = lplMultiLabelSearch(ops, {
        logits: start,
        labels,
        numClasses: c,
        directions,
        steps,
        alpha,
        normalize,
        ...(rowMask === undefined ? {} : { rowMask }),
        ...(ctx.batchSum === undefined ? {} : { batchSum: ctx.batchSum }),
      })
      const negatives = ops.sub(ops.constant([1], []), labels)
      const shift = ops.add(ops.mul(labels, delta.positive), ops.mul(negatives, delta.negative))
      return { batch: { logits: ops.add(logits, shift) } }
    },
  }
}

const { alpha, epsilon, deltaEpsilon, maxSteps, normalize, gradient } = LPL_DEFAULTS
const DEFAULTS = { alpha, epsilon, deltaEpsilon, maxSteps, normalize, gradient } as const

/** Multi-label LPL in the registry. */
export const lplMultiLabelDefinition = defineRule<LplMultiLabelSpec>({
  name: 'lpl-multilabel',
  task: 'multi',
  docsPage: 'rules/multilabel.md',
  notABase: MULTI_LABEL_NOT_A_BASE,
  defaults: DEFAULTS,
  parse(r, { header, numClasses }) {
    const classCounts = r.classCounts('classCounts', numClasses)
    const headClasses = r.optionalNumber('headClasses', { min: 0, max: classCounts.length, integer: true })
    return {
      rule: 'lpl-multilabel',
      ...header,
      classCounts,
      ...(headClasses === undefined ? {} : { headClasses }),
      ...parseLplSearch(r, true),
    }
  },
  create: (spec) => lplMultiLabelRule(spec),
})
