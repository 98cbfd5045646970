import { checkFiniteResult, checkNumber } from '../validate.js'
import { logPriorsFromCounts, smoothCounts } from './counts.js'
import type { Rule } from './types.js'

/**
 * Vector-scaling terms (Kini et al., *Label-imbalanced and group-sensitive classification under
 * overparameterization*, NeurIPS 2021) from class counts: multiplicative `Δ_c = (n_c / n_max)^γ`
 * and additive `ι_c = τ·log π_c`. Zero counts are smoothed to the smallest positive count.
 */
export function vsTerms(classCounts: readonly number[], gamma: number, tau: number): {
  /** `Δ_c = (n_c / n_max)^γ`, `[C]`: the scale of each logit. */
  multiplicative: number[]
  /** `ι_c = τ·log π_c`, `[C]`: the shift of each logit. */
  additive: number[]
} {
  checkNumber(gamma, { min: 0 }, 'gamma')
  checkNumber(tau, { min: 0 }, 'tau')
  const counts = smoothCounts(classCounts)
  const largest = Math.max(...counts)
  const additive = logPriorsFromCounts(classCounts).map((l) => tau * l)
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
    perturb(ops, logits) {
      const scale = ops.constant(multiplicative, [1, c])
      return {
        batch: {
          logits: ops.add(ops.mul(logits, scale), ops.constant(additive, [1, c])),
          logitScale: scale,
        },
      }
    },
  }
}
