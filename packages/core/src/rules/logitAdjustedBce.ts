import { labelLogOdds } from './counts.js'
import type { Rule } from './types.js'

/**
 * Logit-adjusted binary cross-entropy: each label's logit is shifted by its scaled prior log-odds,
 *
 *     L = mean_{i,c} BCE(u_ic + τ·log(π_c / (1 − π_c)), Y_ic),   π_c = n_c / numSamples,
 *
 * the per-label, two-class form of logit adjustment (Menon et al., *Long-tail learning via logit
 * adjustment*, ICLR 2021): a rare label's logit is lowered, so its positives must be scored higher.
 * `τ = 0` is BCE. Shapes: logits and labels `[N, C]`, `classCounts` (positives per label) of length
 * `C`. Counts of 0 or `numSamples` are clamped to the nearest informative label (see `labelPriors`).
 */
export function logitAdjustedBceRule(classCounts: readonly number[], numSamples: number, tau: number): Rule {
  const shift = labelLogOdds(classCounts, numSamples).map((l) => tau * l)
  return {
    task: 'multi',
    numClasses: classCounts.length,
    gradientThrough: false,
    perturb: (ops, logits) => ({
      batch: { logits: ops.add(logits, ops.constant(shift, [1, shift.length])) },
    }),
  }
}
