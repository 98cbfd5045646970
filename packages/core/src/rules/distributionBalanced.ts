import { binaryFocalTerm } from './lossTerms.js'
import { checkFiniteResult } from '../validate.js'
import { labelLogOdds, labelPriors } from './counts.js'
import {
  MAX_PARAMETER,
  MULTI_LABEL_NOT_A_BASE,
  NON_NEGATIVE,
  type SpecBase,
  type SpecInput,
  defineRule,
  parseLabelCounts,
} from './definition.js'
import type { Rule } from './types.js'

/** The distribution-balanced loss (Wu et al., ECCV 2020) as its released code computes it. */
export interface DistributionBalancedSpec extends SpecBase {
  /** The rule's name, `'distribution-balanced'`. */
  rule: 'distribution-balanced'
  /** Positives of each label in the training set, `n_c`. */
  classCounts: number[]
  /** Training-set size `N` (samples); no count may exceed it. */
  numSamples: number
  /** The published configuration the other fields default to: `'coco'` (default) or `'voc'`. */
  preset: 'coco' | 'voc'
  /** `α` of the smoothing map `σ(β·(r − μ)) + α`; default 0.1. */
  mapAlpha: number
  /** `β` of the smoothing map; default 10. */
  mapBeta: number
  /** `μ` of the smoothing map; default 0.2 (COCO), 0.3 (VOC). */
  mapGamma: number
  /** Negative tolerance `λ > 0`: the negatives' logit scale, `1/λ` their weight; default 2 (COCO), 5 (VOC). */
  negScale: number
  /** `κ ≥ 0` of the bias `κ·logit(π_c)/λ`; default 0.05. */
  initBias: number
  /** Focusing `γ ≥ 0` of the focal term; default 2. */
  focalGamma: number
  /** The factor on every entry's loss; default 2. */
  balanceParam: number
}

/** A distribution-balanced spec as written: every field but the counts may be left out. */
export type DistributionBalancedInput = SpecInput<
  DistributionBalancedSpec,
  'preset' | 'mapAlpha' | 'mapBeta' | 'mapGamma' | 'negScale' | 'initBias' | 'focalGamma' | 'balanceParam'
>

/** The two published configurations: COCO-MLT and VOC-MLT. */
export const DISTRIBUTION_BALANCED_PRESETS = {
  coco: { mapAlpha: 0.1, mapBeta: 10, mapGamma: 0.2, negScale: 2, initBias: 0.05, focalGamma: 2, balanceParam: 2 },
  voc: { mapAlpha: 0.1, mapBeta: 10, mapGamma: 0.3, negScale: 5, initBias: 0.05, focalGamma: 2, balanceParam: 2 },
} as const

/**
 * The distribution-balanced loss of Wu, Huang, Liu, Wang and Lin (*Distribution-Balanced Loss for
 * Multi-Label Classification in Long-Tailed Datasets*, ECCV 2020) as its released code computes it,
 * for labels `y` (`[N, C]`, 0/1), positives per label `n_c` and `N` training samples:
 *
 *     r_ic = (1/n_c) / Σ_k y_ik/n_k                    (re-balancing; ∞ for a row without positives)
 *     w_ic = σ(β·(r_ic − μ)) + α                       (its smoothing map)
 *     v    = u + κ·logit(π_c)/λ,   π_c = n_c / N        (the code's bias)
 *     z    = v on positives, λ·v on negatives;  w' = w on positives, w/λ on negatives
 *     ℓ    = balance · (1 − p_t)^γ · w' · BCE(z, y),   p_t = exp(−BCE)   (not held constant)
 *
 * averaged over all `N·C` entries. As a perturbation of BCE: the shift `κ·logit(π)/λ` (scaled by
 * `λ` on negatives), the logit scale `λ` on negatives, the entry weights `balance·w'` and the focal
 * factor. The re-balancing weights depend on the labels only: a constant for the gradient, which
 * has a closed form. `db-negative-tolerant` is the negative-tolerant term as the paper prints it,
 * with the bias subtracted: `u − κ·logit(π)`. Zero counts are clamped as in `labelPriors`.
 */
export function distributionBalancedRule(spec: Omit<DistributionBalancedSpec, 'rule' | 'version' | 'preset'>): Rule {
  const c = spec.classCounts.length
  const bias = labelLogOdds(spec.classCounts, spec.numSamples).map((l) => (spec.initBias * l) / spec.negScale)
  checkFiniteResult(bias, 'initBias', 'the bias κ·logit(π)/λ')
  // 1/n_c of the clamped counts: every label has a positive count.
  const inverseFrequency = labelPriors(spec.classCounts, spec.numSamples).map((p) => 1 / (p * spec.numSamples))
  return {
    numClasses: c,
    gradientThrough: false,
    ...(spec.focalGamma > 0 ? { term: binaryFocalTerm(spec.focalGamma) } : {}),
    perturb(ops, { logits, labels, constants }) {
      const one = constants.get('one', [], () => [1])
      const negatives = ops.sub(one, labels)
      const lambda = constants.get('negScale', [], () => [spec.negScale])
      const inverse = constants.get('inverseFrequency', [1, c], () => inverseFrequency)
      // r_ic = (1/n_c)/Σ_k y_ik/n_k; the floor keeps a row without positives finite, and the
      // `where` gives it r = ∞, whose map is 1 + α (σ(0) + α when β = 0, where the released code's
      // 0·∞ is NaN).
      const repeat = ops.sum(ops.mul(labels, inverse), [1], true)
      const ratio = ops.div(
        inverse,
        ops.maximum(
          repeat,
          constants.get('tiny', [], () => [1e-30]),
        ),
      )
      const alpha = constants.get('mapAlpha', [], () => [spec.mapAlpha])
      const mapped = ops.add(
        ops.sigmoid(
          ops.mul(
            ops.sub(
              ratio,
              constants.get('mapGamma', [], () => [spec.mapGamma]),
            ),
            constants.get('mapBeta', [], () => [spec.mapBeta]),
          ),
        ),
        alpha,
      )
      const weights =
        spec.mapBeta === 0
          ? mapped
          : ops.where(
              ops.equal(
                repeat,
                constants.get('zero', [], () => [0]),
              ),
              ops.add(one, alpha),
              mapped,
            )
      const logitScale = ops.add(labels, ops.mul(negatives, lambda))
      const sideWeight = ops.add(labels, ops.div(negatives, lambda))
      const entryWeights = ops.mul(
        ops.mul(weights, sideWeight),
        constants.get('balanceParam', [], () => [spec.balanceParam]),
      )
      const shifted = ops.add(
        logits,
        constants.get('bias', [1, c], () => bias),
      )
      return {
        batch: {
          logits: ops.mul(logitScale, shifted),
          logitScale,
          entryWeights,
        },
      }
    },
  }
}

const DEFAULTS = { preset: 'coco', ...DISTRIBUTION_BALANCED_PRESETS.coco } as const

/** The distribution-balanced loss in the registry. */
export const distributionBalancedDefinition = defineRule<DistributionBalancedSpec>({
  name: 'distribution-balanced',
  task: 'multi',
  docsPage: 'rules/multilabel.md',
  notABase: MULTI_LABEL_NOT_A_BASE,
  defaults: DEFAULTS,
  parse(r, { header, numClasses }) {
    const counts = parseLabelCounts(r, numClasses)
    const preset = r.oneOf('preset', ['coco', 'voc'], DEFAULTS.preset)
    const base = DISTRIBUTION_BALANCED_PRESETS[preset]
    return {
      rule: 'distribution-balanced',
      ...header,
      ...counts,
      preset,
      mapAlpha: r.number('mapAlpha', NON_NEGATIVE, base.mapAlpha),
      mapBeta: r.number('mapBeta', NON_NEGATIVE, base.mapBeta),
      mapGamma: r.number('mapGamma', { min: -MAX_PARAMETER, max: MAX_PARAMETER }, base.mapGamma),
      // 1/λ weighs the negatives: λ below 1e-6 would make that weight overflow float32.
      negScale: r.number('negScale', { min: 1e-6, max: MAX_PARAMETER }, base.negScale),
      initBias: r.number('initBias', NON_NEGATIVE, base.initBias),
      focalGamma: r.number('focalGamma', NON_NEGATIVE, base.focalGamma),
      balanceParam: r.number('balanceParam', NON_NEGATIVE, base.balanceParam),
    }
  },
  create: (spec) => distributionBalancedRule(spec),
})
