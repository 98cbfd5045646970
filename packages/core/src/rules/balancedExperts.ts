import { check } from '../errors.js'
import { type SpecBase, type SpecInput, defineRule } from './definition.js'
import { expertLogPriors } from './experts.js'
import { headsCrossEntropyTerm } from './lossTerms.js'
import type { Rule } from './types.js'
import { constantShift } from './constantShift.js'

/** BalPoE's balanced experts (Sanchez Aimar et al., CVPR 2023): each head `e` logit-adjusted by its own `τ_e`. */
export interface BalancedExpertsSpec extends SpecBase {
  /** The rule's name, `'balanced-experts'`. */
  rule: 'balanced-experts'
  /** Training-set class counts `n_c ≥ 0`, `[C]`: `π_c = n_c / Σ n` (a zero count gives `log(0 + 1e-9)`). */
  classCounts: number[]
  /**
   * `τ_e` of each head, `E = taus.length` heads (1 to 16), finite numbers in `[−100, 100]`; default
   * `[0, 1, 2]`, the released CIFAR and ImageNet-LT configs' `tau_list`.
   */
  taus: number[]
}

/** A balanced-experts spec as written: `taus` may be left out. */
export type BalancedExpertsInput = SpecInput<BalancedExpertsSpec, 'taus'>

/** The most heads a multi-head rule takes. */
export const MAX_HEADS = 16

/**
 * BalPoE's balanced product of experts (Sanchez Aimar, Jonnarth, Felsberg and Kuhlmann, *Balanced
 * product of calibrated experts for long-tailed recognition*, CVPR 2023; emasa/BalPoE-CalibratedLT
 * `model/loss.py` `BSExpertLoss`), docs/spec.md#313-multi-head-rules. Logits `[N, E·C]` of `E` heads,
 * head-major; head `e` is logit-adjusted with its own temperature:
 *
 *     z_e = u_e + τ_e·log(π + 1e-9),   L = (1/E)·Σ_e CE(z_e, y)
 *
 * the mean over heads of each head's cross-entropy. The shifts of every head are one `[1, E·C]`
 * constant. Predict with the mean of the heads' logits (`meanOfHeads`). Shapes: logits `[N, E·C]`,
 * labels `[N]` in `[0, C)`, `classCounts` of length `C`.
 */
export function balancedExpertsRule(classCounts: readonly number[], taus: readonly number[]): Rule {
  const logPrior = expertLogPriors(classCounts)
  const shift = taus.flatMap((tau) => logPrior.map((l) => tau * l))
  return {
    numClasses: classCounts.length,
    heads: taus.length,
    gradientThrough: false,
    term: headsCrossEntropyTerm(taus.length, 'mean'),
    perturb: constantShift(shift),
  }
}

const DEFAULTS = { taus: [0, 1, 2] } as const

/** BalPoE's balanced experts in the registry. */
export const balancedExpertsDefinition = defineRule<BalancedExpertsSpec>({
  name: 'balanced-experts',
  task: 'single',
  docsPage: 'rules/balanced-experts.md',
  notABase: 'a rule with several heads takes logits [N, E·C]; LPL perturbs the logits of one head',
  defaults: DEFAULTS,
  parse(r, { header, numClasses }) {
    const classCounts = r.classCounts('classCounts', numClasses)
    const taus = r.has('taus') ? r.numberArray('taus', { min: -100, max: 100 }) : [...DEFAULTS.taus]
    check(
      taus.length >= 1 && taus.length <= MAX_HEADS,
      'INVALID_PARAMETER',
      `has ${taus.length} entries: give one τ per head, 1 to ${MAX_HEADS} heads`,
      r.fieldPath('taus'),
    )
    return { rule: 'balanced-experts', ...header, classCounts, taus }
  },
  create: (spec) => balancedExpertsRule(spec.classCounts, spec.taus),
})
