import { TAU, checkFiniteResult, checkNumber } from '../validate.js'
import { logitAdjustmentShift, smoothCounts } from './counts.js'
import { MAX_PARAMETER, NON_NEGATIVE, POSITIVE, type SpecBase, type SpecInput, defineRule } from './definition.js'
import type { Rule } from './types.js'

/** Vector scaling (Kini et al., NeurIPS 2021), `CE(Δ ⊙ u + ι, y)`, with terms from class counts. */
export interface VsCountsSpec extends SpecBase {
  /** The rule's name, `'vs'`. */
  rule: 'vs'
  /** Training-set class counts `n_c ≥ 0`, `[C]`. */
  classCounts: number[]
  /** `Δ_c = (n_c / n_max)^γ`; default 0.2. */
  gamma: number
  /** `ι_c = τ log π_c`; default 1. */
  tau: number
}

/** Vector scaling with explicit terms, `CE(Δ ⊙ u + ι, y)`. */
export interface VsTermsSpec extends SpecBase {
  /** The rule's name, `'vs'`. */
  rule: 'vs'
  /** Explicit multiplicative terms `Δ_c > 0` (e.g. `1/T_c` for class temperatures). */
  multiplicative: number[]
  /** Explicit additive terms `ι_c`. */
  additive: number[]
}

/** Vector scaling (Kini et al., NeurIPS 2021): `CE(Δ ⊙ u + ι, y)`, from class counts or explicit terms. */
export type VsSpec = VsCountsSpec | VsTermsSpec

/** A VS spec as written: from class counts (`gamma`, `tau` optional) or from explicit terms. */
export type VsInput = SpecInput<VsCountsSpec, 'gamma' | 'tau'> | SpecInput<VsTermsSpec>

/**
 * Vector-scaling terms (Kini et al., *Label-imbalanced and group-sensitive classification under
 * overparameterization*, NeurIPS 2021) from class counts: multiplicative `Δ_c = (n_c / n_max)^γ`
 * and additive `ι_c = τ·log π_c`. Zero counts are smoothed to the smallest positive count.
 */
export function vsTerms(
  classCounts: readonly number[],
  gamma: number,
  tau: number,
): {
  /** `Δ_c = (n_c / n_max)^γ`, `[C]`: the scale of each logit. */
  multiplicative: number[]
  /** `ι_c = τ·log π_c`, `[C]`: the shift of each logit. */
  additive: number[]
} {
  checkNumber(gamma, { min: 0 }, 'gamma')
  checkNumber(tau, { min: 0 }, 'tau')
  const counts = smoothCounts(classCounts)
  const largest = Math.max(...counts)
  const additive = logitAdjustmentShift(classCounts, tau)
  checkFiniteResult(additive, 'tau', 'the shift τ·log π')
  // (n_c / n_max)^γ ≤ 1 never overflows; a huge γ only sends rare classes' scales to 0.
  return { multiplicative: counts.map((n) => (n / largest) ** gamma), additive }
}

/**
 * Vector-scaling loss: `L = mean_i CE(Δ ⊙ u_i + ι, y_i)`. It scales each class's logit by `Δ_c`
 * and shifts it by `ι_c`: class-dependent temperatures are the case `Δ_c = 1/T_c`, `ι = 0`, and
 * logit adjustment the case `Δ = 1`. Shapes: logits `[N, C]`, labels `[N]`, terms of length `C`.
 */
export function vsRule(multiplicative: readonly number[], additive: readonly number[]): Rule {
  const c = multiplicative.length
  return {
    numClasses: c,
    gradientThrough: false,
    // Per-class scale and shift, the same for every row: a soft target's loss is Σ_c t_c·ℓ(z, c).
    softTargets: 'linear',
    perturb(ops, { logits, constants }) {
      const scale = constants.get('multiplicative', [1, c], () => multiplicative)
      return {
        batch: {
          logits: ops.add(
            ops.mul(logits, scale),
            constants.get('additive', [1, c], () => additive),
          ),
          logitScale: scale,
        },
      }
    },
  }
}

const DEFAULTS = { gamma: 0.2, tau: 1 } as const

/** Vector scaling in the registry. */
export const vsDefinition = defineRule<VsSpec>({
  name: 'vs',
  task: 'single',
  docsPage: 'rules/vs.md',
  defaults: DEFAULTS,
  parse(r, { header, numClasses }) {
    if (r.has('multiplicative') || r.has('additive')) {
      // Explicit terms: classCounts, gamma and tau would be ignored, so they are refused as unknown.
      const multiplicative = r.numberArray('multiplicative', POSITIVE, numClasses)
      const additive = r.numberArray('additive', { min: -MAX_PARAMETER, max: MAX_PARAMETER }, multiplicative.length)
      return { rule: 'vs', ...header, multiplicative, additive }
    }
    return {
      rule: 'vs',
      ...header,
      classCounts: r.classCounts('classCounts', numClasses),
      gamma: r.number('gamma', NON_NEGATIVE, DEFAULTS.gamma),
      tau: r.number('tau', TAU, DEFAULTS.tau),
    }
  },
  create(spec) {
    const terms = 'classCounts' in spec ? vsTerms(spec.classCounts, spec.gamma, spec.tau) : spec
    const rule = vsRule(terms.multiplicative, terms.additive)
    return 'classCounts' in spec ? rule : { ...rule, numClassesFrom: 'multiplicative' }
  },
})
