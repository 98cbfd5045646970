import { NON_NEGATIVE, type SpecBase, type SpecInput, defineRule } from './definition.js'
import { EXPERT_PRIOR_EPSILON, expertLogPriors, reversedPriors } from './experts.js'
import { headsCrossEntropyTerm } from './lossTerms.js'
import type { Rule } from './types.js'
import { constantShift } from './constantShift.js'

/** SADE's three diverse experts (Zhang et al., NeurIPS 2022): forward, uniform and backward heads. */
export interface DiverseExpertsSpec extends SpecBase {
  /** The rule's name, `'diverse-experts'`. */
  rule: 'diverse-experts'
  /** Training-set class counts `n_c ≥ 0`, `[C]`: `π_c = n_c / Σ n` (a zero count gives `log(0 + 1e-9)`). */
  classCounts: number[]
  /** `τ ≥ 0` of the backward head's inverse prior; default 2, the released `DiverseExpertLoss`'s. */
  tau: number
}

/** A diverse-experts spec as written: `tau` may be left out. */
export type DiverseExpertsInput = SpecInput<DiverseExpertsSpec, 'tau'>

/** SADE's number of heads. */
const HEADS = 3

/**
 * The per-class shifts of SADE's three heads, one `[3·C]` row, head-major: `0` (head 0, plain
 * cross-entropy), `log(π + 1e-9)` (head 1, balanced softmax), and
 * `log(π + 1e-9) − τ·log(π̃ + 1e-9)` (head 2), with `π̃` the reversed prior ({@link reversedPriors}).
 */
export function diverseExpertsShift(classCounts: readonly number[], tau: number): number[] {
  const logPrior = expertLogPriors(classCounts)
  const inverse = reversedPriors(classCounts)
  return [...logPrior.map(() => 0), ...logPrior, ...logPrior.map((l, c) => l - tau * Math.log(inverse[c]! + EXPERT_PRIOR_EPSILON))]
}

/**
 * SADE's diverse experts (Zhang, Hooi, Hong and Feng, *Self-supervised aggregation of diverse
 * experts for test-agnostic long-tailed recognition*, NeurIPS 2022; Vanint/SADE-AgnosticLT
 * `model/loss.py` `DiverseExpertLoss`), docs/spec.md#313-multi-head-rules. Logits `[N, 3·C]` of three
 * heads, head-major:
 *
 *     z_0 = u_0
 *     z_1 = u_1 + log(π + 1e-9)
 *     z_2 = u_2 + log(π + 1e-9) − τ·log(π̃ + 1e-9)
 *     L = Σ_e CE(z_e, y)
 *
 * the sum over the heads, with `π̃_c = sort_asc(π)[C − 1 − rank_c]` (ties ranked by class id). The
 * shifts are one `[1, 3·C]` constant. Predict with the mean of the heads' logits (`meanOfHeads`).
 * Shapes: logits `[N, 3·C]`, labels `[N]` in `[0, C)`, `classCounts` of length `C`.
 */
export function diverseExpertsRule(classCounts: readonly number[], tau: number): Rule {
  const shift = diverseExpertsShift(classCounts, tau)
  return {
    numClasses: classCounts.length,
    heads: HEADS,
    gradientThrough: false,
    term: headsCrossEntropyTerm(HEADS, 'sum'),
    perturb: constantShift(shift),
  }
}

const DEFAULTS = { tau: 2 } as const

/** SADE's diverse experts in the registry. */
export const diverseExpertsDefinition = defineRule<DiverseExpertsSpec>({
  name: 'diverse-experts',
  task: 'single',
  docsPage: 'rules/diverse-experts.md',
  notABase: 'a rule with several heads takes logits [N, E·C]; LPL perturbs the logits of one head',
  defaults: DEFAULTS,
  parse: (r, { header, numClasses }) => ({
    rule: 'diverse-experts',
    ...header,
    classCounts: r.classCounts('classCounts', numClasses),
    tau: r.number('tau', NON_NEGATIVE, DEFAULTS.tau),
  }),
  create: (spec) => diverseExpertsRule(spec.classCounts, spec.tau),
})
