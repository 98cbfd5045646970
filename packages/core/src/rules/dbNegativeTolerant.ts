import { checkFiniteResult, checkNumber } from '../validate.js'
import { labelLogOdds } from './counts.js'
import {
  MAX_PARAMETER,
  MULTI_LABEL_NOT_A_BASE,
  NON_NEGATIVE,
  type SpecBase,
  type SpecInput,
  defineRule,
  parseLabelCounts,
} from './definition.js'
import type { Rule } from './types.js'

/**
 * The negative-tolerant regularization of the distribution-balanced loss (Wu et al., ECCV 2020):
 * `ℓ = y·softplus(−(u − ν)) + (1/λ)(1 − y)·softplus(λ(u − ν))`, `ν_c = −κ·log(1/π_c − 1)`.
 */
export interface DbNegativeTolerantSpec extends SpecBase {
  /** The rule's name, `'db-negative-tolerant'`. */
  rule: 'db-negative-tolerant'
  /** Positives of each label in the training set. */
  classCounts: number[]
  /** Training-set size (samples); no count may exceed it. */
  numSamples: number
  /** Scale `κ ≥ 0` of the class-specific bias `ν`; default 0.05. */
  kappa: number
  /** Negative tolerance `λ > 0` (the negatives' logit scale, and `1/λ` their weight); default 5. */
  lambda: number
}

/** A negative-tolerant spec as written: `kappa` and `lambda` may be left out. */
export type DbNegativeTolerantInput = SpecInput<DbNegativeTolerantSpec, 'kappa' | 'lambda'>

/**
 * The class-specific bias of the negative-tolerant regularization, `ν_c = −κ·log(1/π_c − 1)`
 * (`= κ` times the prior log-odds), `π_c = n_c / numSamples` clamped as in `labelPriors`.
 */
export function dbBias(classCounts: readonly number[], numSamples: number, kappa: number): number[] {
  checkNumber(kappa, { min: 0 }, 'kappa')
  return logOddsBias(classCounts, numSamples, kappa)
}

/**
 * `κ` times the prior log-odds, for a `κ` the spec already checked: a spec read by
 * `parseSpecUnbounded` may carry a negative one (the released code's sign, `lpl audit`).
 */
function logOddsBias(classCounts: readonly number[], numSamples: number, kappa: number): number[] {
  const bias = labelLogOdds(classCounts, numSamples).map((l) => kappa * l)
  checkFiniteResult(bias, 'kappa', 'the bias κ·log-odds')
  return bias
}

/**
 * The negative-tolerant regularization of the distribution-balanced loss (T. Wu, Q. Huang, Z. Liu,
 * Y. Wang, D. Lin, *Distribution-Balanced Loss for Multi-Label Classification in Long-Tailed
 * Datasets*, ECCV 2020):
 *
 *     ℓ_ic = y·softplus(−(u_ic − ν_c)) + (1/λ)·(1 − y)·softplus(λ·(u_ic − ν_c)),   y = Y_ic
 *
 * averaged over all `N·C` entries. A negative's loss flattens faster (scale `λ`, weight `1/λ`), so
 * the many easy negatives of a rare label stop suppressing it. `ν` is the class-specific bias with
 * the sign the paper prints: `u − ν` raises a rare label's starting logit (`logit π < 0`), away from
 * its prior; the released code adds `κ·logit(π)/λ` instead, toward the prior, which is the
 * `distribution-balanced` rule. As a perturbation of BCE: `z = a ⊙ (u − ν)` with logit scale `a = 1` on positives and `λ`
 * on negatives, entry weights `w = 1` and `1/λ`, and `ℓ = w·BCE(z, y)`. `λ = 1` is BCE of `u − ν`;
 * `κ = 0, λ = 1` is BCE.
 *
 * Gradient: `∂ℓ/∂u = w·a·(σ(z) − y)`, that is `−σ(ν − u)` for a positive and `σ(λ(u − ν))` for a
 * negative (divided by `N·C` in the mean). Shapes: logits and labels `[N, C]`, `classCounts`
 * (positives per label) of length `C`.
 */
export function dbNegativeTolerantRule(classCounts: readonly number[], numSamples: number, kappa: number, lambda: number): Rule {
  const c = classCounts.length
  const bias = logOddsBias(classCounts, numSamples, kappa)
  return {
    numClasses: c,
    gradientThrough: false,
    perturb(ops, { logits, labels, constants }) {
      const negatives = ops.sub(
        constants.get('one', [], () => [1]),
        labels,
      )
      const logitScale = ops.add(
        labels,
        ops.mul(
          negatives,
          constants.get('lambda', [], () => [lambda]),
        ),
      )
      const entryWeights = ops.add(
        labels,
        ops.mul(
          negatives,
          constants.get('inverseLambda', [], () => [1 / lambda]),
        ),
      )
      const shifted = ops.sub(
        logits,
        constants.get('bias', [1, c], () => bias),
      )
      return { batch: { logits: ops.mul(logitScale, shifted), logitScale, entryWeights } }
    },
  }
}

const DEFAULTS = { kappa: 0.05, lambda: 5 } as const

/** The negative-tolerant regularization in the registry. */
export const dbNegativeTolerantDefinition = defineRule<DbNegativeTolerantSpec>({
  name: 'db-negative-tolerant',
  task: 'multi',
  docsPage: 'rules/multilabel.md',
  notABase: MULTI_LABEL_NOT_A_BASE,
  defaults: DEFAULTS,
  parse: (r, { header, numClasses }) => ({
    rule: 'db-negative-tolerant',
    ...header,
    ...parseLabelCounts(r, numClasses),
    kappa: r.number('kappa', NON_NEGATIVE, DEFAULTS.kappa),
    // 1/λ weighs the negatives: λ below 1e-6 would make that weight overflow float32.
    lambda: r.number('lambda', { min: 1e-6, max: MAX_PARAMETER }, DEFAULTS.lambda),
  }),
  create: (spec) => dbNegativeTolerantRule(spec.classCounts, spec.numSamples, spec.kappa, spec.lambda),
})
