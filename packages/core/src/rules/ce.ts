import { type SpecBase, defineRule } from './definition.js'
import type { Rule } from './types.js'

/** Plain cross-entropy, `CE(u, y)`. */
export interface CeSpec extends SpecBase {
  /** The rule's name, `'ce'`. */
  rule: 'ce'
}

/**
 * Plain cross-entropy, `L = mean_i CE(u_i, y_i)` with `CE(u, y) = logsumexp(u) − u_y`; the zero
 * perturbation `δ = 0`. Shapes: logits `[N, C]`, labels `[N]`.
 */
export function ceRule(numClasses?: number): Rule {
  return {
    numClasses,
    gradientThrough: false,
    // δ = 0 reads no label: a soft target's loss is Σ_c t_c·CE(u, c).
    softTargets: 'linear',
    perturb: (_ops, { logits }) => ({ batch: { logits } }),
  }
}

/** Cross-entropy in the registry: no parameters. */
export const ceDefinition = defineRule<CeSpec>({
  name: 'ce',
  task: 'single',
  docsPage: 'rules/ce.md',
  defaults: {},
  parse: (_r, { header }) => ({ rule: 'ce', ...header }),
  create: (spec) => ceRule(spec.numClasses),
})
