import { NON_NEGATIVE, type SpecBase, type SpecInput, defineRule } from './definition.js'
import { vsRule, vsTerms } from './vs.js'

/** Class-dependent temperatures (Ye et al. 2020), `CE(Δ ⊙ u, y)` with `Δ_c = (n_c / n_max)^γ`. */
export interface CdtSpec extends SpecBase {
  /** The rule's name, `'cdt'`. */
  rule: 'cdt'
  /** Training-set class counts `n_c ≥ 0`, `[C]`. */
  classCounts: number[]
  /** `γ ≥ 0` of the temperatures `a_c = (n_max / n_c)^γ`; default 0.2, as VS's. */
  gamma: number
}

/** A CDT spec as written: `gamma` may be left out. */
export type CdtInput = SpecInput<CdtSpec, 'gamma'>

const DEFAULTS = { gamma: 0.2 } as const

/**
 * Class-dependent temperatures (Ye, Chen, Zhan and Chao, *Identifying and compensating for feature
 * deviation in imbalanced deep learning*, 2020): each logit is divided by the temperature
 * `a_c = (n_max/n_c)^γ`, `L = mean_i CE(u_i / a, y_i)`. It is vector scaling (`vs`) with
 * `Δ_c = 1/a_c = (n_c/n_max)^γ` and `τ = 0`: a named preset of it, with VS's terms.
 */
export const cdtDefinition = defineRule<CdtSpec>({
  name: 'cdt',
  task: 'single',
  docsPage: 'rules/vs.md',
  defaults: DEFAULTS,
  parse: (r, { header, numClasses }) => ({
    rule: 'cdt',
    ...header,
    classCounts: r.classCounts('classCounts', numClasses),
    gamma: r.number('gamma', NON_NEGATIVE, DEFAULTS.gamma),
  }),
  equivalences: () => ['cdtIsVs'],
  create(spec) {
    const terms = vsTerms(spec.classCounts, spec.gamma, 0)
    return vsRule(terms.multiplicative, terms.additive)
  },
})
