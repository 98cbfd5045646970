import { type SpecBase, defineRule } from './definition.js'
import { logitAdjustmentRule } from './logitAdjustment.js'

/** Balanced softmax (Ren et al., NeurIPS 2020): `CE(u + log π, y)`. */
export interface BalancedSoftmaxSpec extends SpecBase {
  /** The rule's name, `'balanced-softmax'`. */
  rule: 'balanced-softmax'
  /** Training-set class counts `n_c ≥ 0` (or priors), `[C]`; `π_c = n_c / Σ n`. A zero count is read as the smallest positive one. */
  classCounts: number[]
}

/**
 * Balanced softmax in the registry: logit adjustment with `τ = 1` (Ren et al., *Balanced
 * meta-softmax for long-tailed visual recognition*, NeurIPS 2020).
 */
export const balancedSoftmaxDefinition = defineRule<BalancedSoftmaxSpec>({
  name: 'balanced-softmax',
  task: 'single',
  docsPage: 'rules/balanced-softmax.md',
  defaults: {},
  parse: (r, { header, numClasses }) => ({ rule: 'balanced-softmax', ...header, classCounts: r.classCounts('classCounts', numClasses) }),
  equivalences: () => ['balancedSoftmaxIsLa'],
  create: (spec) => logitAdjustmentRule(spec.classCounts, 1),
})
