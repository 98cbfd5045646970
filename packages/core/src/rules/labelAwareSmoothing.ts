import { check } from '../errors.js'
import { checkClassCounts, checkNumber, checkOneOf } from '../validate.js'
import { POSITIVE, type SpecBase, type SpecInput, defineRule } from './definition.js'
import { labelAwareSmoothingTerm } from './labelAwareSmoothingTerm.js'
import type { Rule } from './types.js'

/** A smoothing amount, in `[0, 1]`. */
const SMOOTHING = { min: 0, max: 1 }

/** The shapes of MiSLAS's map from class counts to smoothing. */
export const LABEL_AWARE_SMOOTHING_SHAPES = ['concave', 'linear', 'convex', 'exp'] as const

/** A shape of {@link labelAwareSmoothingValues}. */
export type LabelAwareSmoothingShape = (typeof LABEL_AWARE_SMOOTHING_SHAPES)[number]

/**
 * Label-aware smoothing (MiSLAS, Zhong et al., CVPR 2021): cross-entropy against targets smoothed
 * by `ε_{y_i}`, more for the head classes than for the tail.
 */
export interface LabelAwareSmoothingSpec extends SpecBase {
  /** The rule's name, `'label-aware-smoothing'`. */
  rule: 'label-aware-smoothing'
  /** Training-set class counts `n_c ≥ 0`, `[C]`, not all equal (the map divides by `max n − min n`). */
  classCounts: number[]
  /** `ε` of the most frequent class, in `[0, 1]`; default 0.4 (MiSLAS's CIFAR-100-LT, imbalance 100). */
  smoothHead: number
  /** `ε` of the rarest class, in `[0, 1]`; default 0.1. */
  smoothTail: number
  /** How `ε` goes from tail to head: `'concave'` (default), `'linear'`, `'convex'` or `'exp'`. */
  shape: LabelAwareSmoothingShape
  /** The power of the `'exp'` shape, `> 0`; required with it, refused with the others. */
  power?: number
}

/** A label-aware smoothing spec as written: every field but the counts may be left out. */
export type LabelAwareSmoothingInput = SpecInput<LabelAwareSmoothingSpec, 'smoothHead' | 'smoothTail' | 'shape'>

/**
 * MiSLAS's smoothing of each class (`[C]`), as its `LabelAwareSmoothing` computes it, with
 * `x_c = (n_c − min n)/(max n − min n)`, `h` the head's value and `t` the tail's:
 *
 *     concave   ε_c = t + (h − t)·sin(π·x_c/2)
 *     linear    ε_c = t + (h − t)·x_c
 *     convex    ε_c = h + (h − t)·sin(3π/2 + π·x_c/2)
 *     exp       ε_c = t + (h − t)·x_c^power
 *
 * Every shape gives `t` at the rarest class and `h` at the most frequent, and each `ε_c` lies
 * between them. Counts that are all equal (`0/0` in the code) are refused (`CLASS_COUNTS_VALUE`,
 * naming `classCounts`); `power` (`> 0`) is needed by `'exp'` only. Every argument is checked
 * (`INVALID_PARAMETER` naming it).
 */
export function labelAwareSmoothingValues(
  classCounts: readonly number[],
  smoothHead: number,
  smoothTail: number,
  shape: LabelAwareSmoothingShape = 'concave',
  power?: number,
): number[] {
  checkClassCounts(classCounts, undefined)
  const high = Math.max(...classCounts)
  const low = Math.min(...classCounts)
  check(
    high > low,
    'CLASS_COUNTS_VALUE',
    'every class count is the same: label-aware smoothing reads (n_c − min n)/(max n − min n), which is 0/0',
    'classCounts',
  )
  const h = checkNumber(smoothHead, SMOOTHING, 'smoothHead')
  const t = checkNumber(smoothTail, SMOOTHING, 'smoothTail')
  const form = checkOneOf(shape, LABEL_AWARE_SMOOTHING_SHAPES, 'concave', 'shape')
  const p = form === 'exp' ? checkNumber(power, POSITIVE, 'power') : 1
  // The released code's order of operations (the angle as (n − min)·π / (2·(max − min))).
  const of: Record<LabelAwareSmoothingShape, (n: number) => number> = {
    concave: (n) => t + (h - t) * Math.sin(((n - low) * Math.PI) / (2 * (high - low))),
    linear: (n) => t + ((h - t) * (n - low)) / (high - low),
    convex: (n) => h + (h - t) * Math.sin(1.5 * Math.PI + ((n - low) * Math.PI) / (2 * (high - low))),
    exp: (n) => t + (h - t) * ((n - low) / (high - low)) ** p,
  }
  return classCounts.map(of[form])
}

/**
 * Label-aware smoothing (Zhong, Cui, Liu and Jia, *Improving Calibration for Long-Tailed
 * Recognition*, CVPR 2021; dvlab-research/MiSLAS `methods.py` `LabelAwareSmoothing`):
 *
 *     L = mean_i (1 − ε_{y_i})·(−log p_{i,y_i}) + ε_{y_i}·mean_c(−log p_ic),   p_i = softmax(u_i)
 *
 * with `ε_c` from the counts ({@link labelAwareSmoothingValues}). No perturbation of the logits
 * (`δ = 0`): the rule is a loss term (`labelAwareSmoothingTerm`), a class-level change of the target
 * rather than of the logits; its gradient has a closed form. The spec's `labelSmoothing` `ε` is
 * applied on top of it (the target `(1 − ε)·t_LAS + ε/C`). Shapes: logits `[N, C]`, labels `[N]`.
 * docs/spec.md#39-label-aware-smoothing-and-balanced-bce.
 */
export function labelAwareSmoothingRule(spec: Omit<LabelAwareSmoothingSpec, 'rule' | 'version'>): Rule {
  const smoothing = labelAwareSmoothingValues(spec.classCounts, spec.smoothHead, spec.smoothTail, spec.shape, spec.power)
  return {
    numClasses: spec.classCounts.length,
    gradientThrough: false,
    term: labelAwareSmoothingTerm(smoothing),
    // The term reads the label through the label matrix only, linearly: LiVT's `MiSLAS_loss` takes
    // a mixed target as its two largest entries, each scored as a hard label and weighted by its value.
    softTargets: 'top-two',
    perturb: (_ops, { logits }) => ({ batch: { logits } }),
  }
}

const DEFAULTS = { smoothHead: 0.4, smoothTail: 0.1, shape: 'concave' } as const

/** Label-aware smoothing in the registry. */
export const labelAwareSmoothingDefinition = defineRule<LabelAwareSmoothingSpec>({
  name: 'label-aware-smoothing',
  task: 'single',
  docsPage: 'rules/label-aware-smoothing.md',
  notABase: 'label-aware smoothing is not one of the base rules of LPL',
  defaults: DEFAULTS,
  parse(r, { header, numClasses }) {
    const classCounts = r.classCounts('classCounts', numClasses)
    check(
      Math.max(...classCounts) > Math.min(...classCounts),
      'CLASS_COUNTS_VALUE',
      'every class count is the same: label-aware smoothing reads (n_c − min n)/(max n − min n), which is 0/0',
      r.fieldPath('classCounts'),
    )
    const smoothHead = r.number('smoothHead', SMOOTHING, DEFAULTS.smoothHead)
    const smoothTail = r.number('smoothTail', SMOOTHING, DEFAULTS.smoothTail)
    const shape = r.oneOf('shape', LABEL_AWARE_SMOOTHING_SHAPES, DEFAULTS.shape)
    check(shape === 'exp' || !r.has('power'), 'INVALID_SPEC', "is a parameter of shape 'exp' only", r.fieldPath('power'))
    const power = shape === 'exp' ? r.number('power', POSITIVE) : undefined
    return {
      rule: 'label-aware-smoothing',
      ...header,
      classCounts,
      smoothHead,
      smoothTail,
      shape,
      ...(power === undefined ? {} : { power }),
    }
  },
  create: (spec) => labelAwareSmoothingRule(spec),
})
