import { check } from '../errors.js'
import { checkClassCounts } from '../validate.js'
import { balancedBceTerm } from './balancedBceTerm.js'
import { type SpecBase, defineRule } from './definition.js'
import type { Rule } from './types.js'
import { constantShift } from './constantShift.js'

/** Balanced binary cross-entropy (LiVT's Bal-BCE, Xu et al., CVPR 2023) of single-label data. */
export interface BalancedBceSpec extends SpecBase {
  /** The rule's name, `'balanced-bce'`. */
  rule: 'balanced-bce'
  /** Training-set class counts `n_c > 0`, `[C]`, `C ≥ 2`: `π_c = n_c / Σ n`. */
  classCounts: number[]
}

/**
 * The shift `log π_c − log(1 − π_c)` of each class (`[C]`), `π_c = n_c / Σ n`, computed as
 * `log n_c − log(Σ n − n_c)`, which is the same number without rounding `π` first. Every count must
 * be positive and there must be two classes at least (`CLASS_COUNTS_VALUE`, `CLASS_COUNTS_LENGTH`,
 * naming `classCounts`): `π_c = 0` or `π_c = 1` would make the shift infinite.
 */
export function balancedBceShift(classCounts: readonly number[], field = 'classCounts'): number[] {
  checkBalancedCounts(classCounts, field)
  const total = classCounts.reduce((a, b) => a + b, 0)
  return classCounts.map((n) => Math.log(n) - Math.log(total - n))
}

function checkBalancedCounts(classCounts: readonly number[], field: string): void {
  checkClassCounts(classCounts, undefined, field)
  check(
    classCounts.length >= 2,
    'CLASS_COUNTS_LENGTH',
    'has one class: balanced BCE needs two at least (π = 1 would give log(1 − π) = −∞)',
    field,
  )
  for (const [c, n] of classCounts.entries()) {
    check(n > 0, 'CLASS_COUNTS_VALUE', 'is 0: balanced BCE needs every count positive (π = 0 would give log π = −∞)', `${field}[${c}]`)
  }
}

/**
 * Balanced binary cross-entropy (Xu, Liu, Yang, Chai and Yuan, *Learning Imbalanced Data with Vision
 * Transformers*, CVPR 2023; XuZhengzhuo/LiVT `util/loss.py` `BCE_loss`, `type='Bal'`), for
 * class ids `y` (`[N]`) and logits `u` (`[N, C]`):
 *
 *     x_ic = u_ic + log π_c − log(1 − π_c)
 *     L    = mean_i Σ_c BCE(x_ic, t_ic),   t_i = (1 − ε)·e_{y_i} + ε/C
 *
 * with `ε` the spec's `labelSmoothing` (LiVT's `smoothing`); the mean over rows of the sum over
 * classes is LiVT's `C ·` mean over all `N·C` entries. The shift is the class-level perturbation
 * `δ_c = log(π_c/(1 − π_c))`, the same for every sample; the loss term is `balancedBceTerm`. Its
 * gradient has a closed form, `(σ(x_i) − t_i)/N` per row. Soft targets (LiVT trains it on mixup's)
 * are scored as they are: the loss is linear in them.
 * docs/spec.md#39-label-aware-smoothing-and-balanced-bce.
 */
export function balancedBceRule(classCounts: readonly number[]): Rule {
  const shift = balancedBceShift(classCounts)
  return {
    numClasses: classCounts.length,
    gradientThrough: false,
    term: balancedBceTerm,
    softTargets: 'linear',
    perturb: constantShift(shift),
  }
}

/** Balanced BCE in the registry. */
export const balancedBceDefinition = defineRule<BalancedBceSpec>({
  name: 'balanced-bce',
  task: 'single',
  docsPage: 'rules/balanced-bce.md',
  notABase: 'balanced BCE is not one of the base rules of LPL',
  defaults: {},
  parse(r, { header, numClasses }) {
    const classCounts = r.classCounts('classCounts', numClasses)
    checkBalancedCounts(classCounts, r.fieldPath('classCounts'))
    return { rule: 'balanced-bce', ...header, classCounts }
  },
  create: (spec) => balancedBceRule(spec.classCounts),
})
