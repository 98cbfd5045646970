import type { Rule } from './types.js'

/**
 * Plain cross-entropy, `L = mean_i CE(u_i, y_i)` with `CE(u, y) = logsumexp(u) − u_y`; the zero
 * perturbation `δ = 0`. Shapes: logits `[N, C]`, labels `[N]`.
 */
export function ceRule(numClasses?: number): Rule {
  return {
    numClasses,
    gradientThrough: false,
    perturb: (_ops, logits) => ({ batch: { logits } }),
  }
}
