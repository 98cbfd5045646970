import { MULTI_LABEL_NOT_A_BASE, type SpecBase, defineRule } from './definition.js'
import type { Rule } from './types.js'

/**
 * Binary cross-entropy per label (multi-label, docs/spec.md#5-multi-label):
 * `mean_{i,c} softplus(u_ic) − Y_ic·u_ic`; the zero perturbation of the multi-label rules.
 */
export interface BceSpec extends SpecBase {
  /** The rule's name, `'bce'`. */
  rule: 'bce'
}

/**
 * Binary cross-entropy per label, the multi-label loss of docs/spec.md#5-multi-label and the zero
 * perturbation of the multi-label rules: `L = mean_{i,c} softplus(u_ic) − Y_ic·u_ic`.
 * Shapes: logits `[N, C]`, labels a 0/1 matrix `[N, C]`. Gradient `(σ(u) − Y)/(N·C)`.
 */
export function bceRule(numClasses?: number): Rule {
  return {
    numClasses,
    gradientThrough: false,
    perturb: (_ops, { logits }) => ({ batch: { logits } }),
  }
}

/** Binary cross-entropy in the registry: no parameters. */
export const bceDefinition = defineRule<BceSpec>({
  name: 'bce',
  task: 'multi',
  docsPage: 'rules/multilabel.md',
  notABase: MULTI_LABEL_NOT_A_BASE,
  defaults: {},
  parse: (_r, { header }) => ({ rule: 'bce', ...header }),
  create: (spec) => bceRule(spec.numClasses),
})
