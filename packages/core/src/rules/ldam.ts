import { checkNumber } from '../validate.js'
import { smoothCounts } from './counts.js'
import type { Rule } from './types.js'

/**
 * LDAM margins (Cao et al., *Learning imbalanced datasets with label-distribution-aware margin
 * loss*, NeurIPS 2019): `Δ_c = M · n_c^{−1/4} / max_j n_j^{−1/4}`, so the rarest class gets `M`.
 * A zero count is read as the smallest positive count, so an empty class gets the largest margin `M`.
 */
export function ldamMargins(classCounts: readonly number[], maxMargin: number): number[] {
  checkNumber(maxMargin, { min: 0 }, 'maxMargin')
  const raw = smoothCounts(classCounts).map((n) => n ** -0.25)
  const largest = Math.max(...raw)
  return raw.map((m) => (maxMargin * m) / largest)
}

/**
 * Deferred re-weighting (DRW) class weights with the effective number of samples (Cui et al.,
 * CVPR 2019): `w_c = (1 − β) / (1 − β^{n_c})`, rescaled so that `Σ_c w_c = C`. Zero counts are
 * smoothed as for the margins, so an empty class gets the weight of the rarest one.
 */
export function drwWeights(classCounts: readonly number[], beta: number): number[] {
  checkNumber(beta, { min: 0, below: 1 }, 'beta')
  const raw = smoothCounts(classCounts).map((n) => (1 - beta) / (1 - beta ** n))
  const total = raw.reduce((a, b) => a + b, 0)
  return raw.map((w) => (w * raw.length) / total)
}

/**
 * LDAM: `L = Σ_i w_{y_i} CE(s·(u_i − Δ_{y_i} e_{y_i}), y_i) / Σ_i w_{y_i}`: the class-level
 * perturbation `δ_c = −s·Δ_c e_c` after scaling the logits by `s`. With `drw`, the weights
 * {@link drwWeights} apply from epoch `drw.fromEpoch` on (read from the loss context), and `w = 1`
 * before. Shapes: logits `[N, C]`, labels `[N]`.
 */
export function ldamRule(
  classCounts: readonly number[],
  maxMargin: number,
  scale: number,
  drw: { beta: number; fromEpoch: number } | undefined,
): Rule {
  const c = classCounts.length
  const scaledMargins = ldamMargins(classCounts, maxMargin).map((m) => scale * m)
  const weights = drw === undefined ? undefined : drwWeights(classCounts, drw.beta)
  return {
    numClasses: c,
    gradientThrough: false,
    perturb(ops, logits, labels, _numClasses, ctx) {
      const s = ops.constant([scale], [])
      const active = weights !== undefined && drw !== undefined && (ctx.epoch ?? 0) >= drw.fromEpoch
      const scaled = ops.mul(logits, s)
      // −s·Δ_y on the true-class logit: the margin of each sample's class times its one-hot row,
      // O(N·C), with no [C, C] matrix.
      const marginOfSample = ops.reshape(ops.gather(ops.constant(scaledMargins, [c]), labels, 0), [-1, 1])
      return {
        batch: {
          logits: ops.sub(scaled, ops.mul(ops.oneHot(labels, c), marginOfSample)),
          logitScale: s,
          reference: { logits: scaled, logitScale: s },
          ...(active ? { classWeights: ops.constant(weights, [c]) } : {}),
        },
      }
    },
  }
}
