import { GRW_EXPONENT, WEIGHTING_DEFAULTS, generalizedReweightWeights } from './classWeighting.js'
import { type SpecBase, type SpecInput, defineRule } from './definition.js'
import type { Rule } from './types.js'

/**
 * Generalized re-weighting (GRW; Zhang et al., CVPR 2021, in the form of LIFT's
 * `GeneralizedReweightLoss`): cross-entropy with class weights `w_c = π_c^{−p} / mean_k π_k^{−p}`.
 */
export interface GeneralizedReweightingSpec extends SpecBase {
  /** The rule's name, `'generalized-reweighting'`. */
  rule: 'generalized-reweighting'
  /** Training-set class counts `n_c ≥ 0`, `[C]`: `π_c = n_c / Σ n`. A zero count is read as the smallest positive one. */
  classCounts: number[]
  /** The exponent `p ≥ 0` of `π_c^{−p}`; default 1 (LIFT's `exp_scale`), inverse frequency. `p = 0` is CE. */
  exponent: number
}

/** A generalized re-weighting spec as written: `exponent` may be left out. */
export type GeneralizedReweightingInput = SpecInput<GeneralizedReweightingSpec, 'exponent'>

/**
 * Generalized re-weighting (Zhang, Li, Yan, He, Sun, *Distribution Alignment: A Unified Framework
 * for Long-tail Visual Recognition*, CVPR 2021; the loss class of shijxcs/LIFT `utils/losses.py`,
 * `GeneralizedReweightLoss`, docs/spec.md#311-generalized-re-weighting):
 *
 *     L = Σ_i w_{y_i} CE(u_i, y_i) / Σ_i w_{y_i},   w_c = π_c^{−p} / mean_k π_k^{−p}  (Σ_c w_c = C)
 *
 * PyTorch's weighted mean of `F.cross_entropy(u, y, weight=w)`. The perturbation is zero: only each
 * class's share of the loss changes. It is `{ rule: 'ce', weighting: { kind: 'generalized-reweighting',
 * exponent: p } }` (the weights are {@link generalizedReweightWeights}). Shapes: logits `[N, C]`,
 * labels `[N]`, `classCounts` of length `C`.
 */
export function generalizedReweightingRule(classCounts: readonly number[], exponent: number): Rule {
  const c = classCounts.length
  const weights = generalizedReweightWeights(classCounts, exponent)
  return {
    numClasses: c,
    gradientThrough: false,
    // δ = 0 reads no label: a soft target is scored as CE scores it, with the same class weights.
    softTargets: 'linear',
    perturb: (_ops, { logits, constants }) => ({
      batch: { logits, classWeights: constants.get('grwWeights', [c], () => weights) },
    }),
  }
}

const DEFAULTS = { exponent: WEIGHTING_DEFAULTS['weighting.exponent'] } as const

/** Generalized re-weighting in the registry. */
export const generalizedReweightingDefinition = defineRule<GeneralizedReweightingSpec>({
  name: 'generalized-reweighting',
  task: 'single',
  docsPage: 'rules/generalized-reweighting.md',
  defaults: DEFAULTS,
  notABase:
    'generalized-reweighting is cross-entropy with class weights: give LPL weighting { kind: "generalized-reweighting" } on the outer spec',
  parse: (r, { header, numClasses }) => ({
    rule: 'generalized-reweighting',
    ...header,
    classCounts: r.classCounts('classCounts', numClasses),
    exponent: r.number('exponent', GRW_EXPONENT, DEFAULTS.exponent),
  }),
  ownClassWeights: () => 'generalized-reweighting has its class weights already: drop weighting, or use it on rule "ce"',
  create: (spec) => generalizedReweightingRule(spec.classCounts, spec.exponent),
})
