import type { Rule } from './types.js'

/**
 * Binary cross-entropy per label, the multi-label loss of SPEC.md section 5 and the zero
 * perturbation of the multi-label rules: `L = mean_{i,c} softplus(u_ic) − Y_ic·u_ic`.
 * Shapes: logits `[N, C]`, labels a 0/1 matrix `[N, C]`. Gradient `(σ(u) − Y)/(N·C)`.
 */
export function bceRule(numClasses?: number): Rule {
  return {
    task: 'multi',
    numClasses,
    gradientThrough: false,
    perturb: (_ops, logits) => ({ batch: { logits } }),
  }
}
