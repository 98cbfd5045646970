import { checkFiniteResult, checkNumber } from '../validate.js'
import { smoothCounts } from './counts.js'
import { addClassRows } from './crossEntropy.js'
import { NON_NEGATIVE, PRESET_NOT_A_BASE, STEP_COUNT, type SpecBase, type SpecInput, defineRule } from './definition.js'
import { officialStep, pythonRound } from './officialStep.js'
import type { Rule } from './types.js'

/** The authors' released long-tail code, reproduced to its numbers (docs/spec.md#4b-the-released-code). */
export interface OfficialLongtailSpec extends SpecBase {
  /** The rule's name, `'official-longtail'`. */
  rule: 'official-longtail'
  /** Counts in class order, head first, as `classes_freq` of the released code. */
  classCounts: number[]
  /** `h`, the number of head classes, the first `h` in class order (negative sign). */
  headClasses: number
  /** `S`, the scale of the step-count formula (the step index is about `S` times a count ratio); default 10. */
  stepScale: number
  /** `κ` of the step-count formula for head classes; default 0.6. */
  headFactor: number
  /** `K`, the number of steps run; default 10. */
  steps: number
  /** Step size `α`; default 0.15. */
  alpha: number
}

/** An official-longtail spec as written: all but `classCounts` and `headClasses` may be left out. */
export type OfficialLongtailInput = SpecInput<OfficialLongtailSpec, 'stepScale' | 'headFactor' | 'steps' | 'alpha'>

/** Step indices of the released long-tail code: raw (as Python computes them) and clamped to `[0, K−1]`. */
export interface OfficialLongtailSteps {
  /** `k_c` per class as the released code computes it (`getStepRaw` of the fixtures); may be −1 or exceed `K − 1`. */
  raw: number[]
  /** `k_c` clamped to `[0, K − 1]`, the 0-based step whose logits class `c`'s samples use (`classSteps`). */
  clamped: number[]
}

/**
 * The released long-tail code's step index per class (`get_step`, docs/spec.md#4b-the-released-code), with counts
 * in class order, head first:
 * `k_c = round((n_c / n_0) · S · κ − 1)` for `c < h`, `round((n_{C−1} / n_c) · S − 1)` otherwise,
 * with Python's round-half-to-even. Python would read −1 as the last step and fail past `K − 1`;
 * the clamped indices are the ones used. Zero counts are smoothed to the smallest positive count.
 */
export function officialLongtailSteps(
  classCounts: readonly number[],
  headClasses: number,
  stepScale: number,
  headFactor: number,
  steps: number,
): OfficialLongtailSteps {
  const n = smoothCounts(classCounts)
  checkNumber(headClasses, { min: 0, max: n.length, integer: true }, 'headClasses')
  checkNumber(stepScale, { min: 0 }, 'stepScale')
  checkNumber(headFactor, { min: 0 }, 'headFactor')
  checkNumber(steps, { min: 1, integer: true }, 'steps')
  const first = n[0]!
  const last = n[n.length - 1]!
  const raw = n.map((nc, c) =>
    c < headClasses ? pythonRound((nc / first) * stepScale * headFactor - 1) : pythonRound((last / nc) * stepScale - 1),
  )
  checkFiniteResult(raw, 'stepScale', 'the step indices round(ratio·S·κ − 1)')
  return { raw, clamped: raw.map((k) => Math.min(Math.max(k, 0), steps - 1)) }
}

/**
 * The released long-tail LPL (`official-longtail`): signs `−1` for the first `headClasses` classes and `+1`
 * for the rest; `K` steps of {@link officialStep}, `U ← U + α·s_{y_i}·G[y_i, :]`; sample `i` takes
 * the logits after step `k_{y_i} + 1` ({@link officialLongtailSteps}); the loss is the mean CE of
 * those logits, and the gradient flows through every step (no closed form; autodiff backends only).
 * Only the class-level perturbation `D` (`[C, C]`) and the selected one are kept, not `K` logit
 * matrices. Shapes: logits `[N, C]`, labels `[N]`.
 */
export function officialLongtailRule(
  classCounts: readonly number[],
  headClasses: number,
  stepScale: number,
  headFactor: number,
  steps: number,
  alpha: number,
): Rule {
  const c = classCounts.length
  const { clamped } = officialLongtailSteps(classCounts, headClasses, stepScale, headFactor, steps)
  const signedAlpha = classCounts.map((_, k) => (k < headClasses ? -alpha : alpha))
  return {
    numClasses: c,
    gradientThrough: true,
    perturb(ops, { logits, labels, labelMatrix: oneHotLabels, rowMask }) {
      const stepOf = ops.constant(clamped, [c, 1])
      const scale = ops.constant(signedAlpha, [c, 1])
      let delta = ops.constant(new Float64Array(c * c), [c, c])
      let selected = delta
      for (let k = 0; k < steps; k++) {
        const { direction } = officialStep(ops, addClassRows(ops, logits, labels, delta), oneHotLabels, { labels, numClasses: c, rowMask })
        delta = ops.add(delta, ops.mul(scale, direction))
        selected = ops.where(ops.equal(stepOf, ops.constant([k], [])), delta, selected)
      }
      return { batch: { logits: addClassRows(ops, logits, labels, selected) } }
    },
  }
}

const DEFAULTS = { stepScale: 10, headFactor: 0.6, steps: 10, alpha: 0.15 } as const

/** The released long-tail code's preset in the registry. */
export const officialLongtailDefinition = defineRule<OfficialLongtailSpec>({
  name: 'official-longtail',
  task: 'single',
  docsPage: 'rules/official-longtail.md',
  notABase: PRESET_NOT_A_BASE,
  defaults: DEFAULTS,
  parse(r, { header, numClasses }) {
    const classCounts = r.classCounts('classCounts', numClasses)
    return {
      rule: 'official-longtail',
      ...header,
      classCounts,
      headClasses: r.number('headClasses', { min: 0, max: classCounts.length, integer: true }),
      stepScale: r.number('stepScale', NON_NEGATIVE, DEFAULTS.stepScale),
      headFactor: r.number('headFactor', NON_NEGATIVE, DEFAULTS.headFactor),
      steps: r.number('steps', STEP_COUNT, DEFAULTS.steps),
      alpha: r.number('alpha', NON_NEGATIVE, DEFAULTS.alpha),
    }
  },
  create: (spec) => officialLongtailRule(spec.classCounts, spec.headClasses, spec.stepScale, spec.headFactor, spec.steps, spec.alpha),
})
