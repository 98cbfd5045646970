import { named, withGradient } from '../control.js'
import { check } from '../errors.js'
import { classCounts as batchClassCounts } from './classSums.js'
import { finiteLogProbabilities } from './crossEntropy.js'
import { NON_NEGATIVE, POSITIVE, type SpecBase, type SpecInput, defineRule } from './definition.js'
import { COUNT_FIELD, declareState, zeros } from './stateFields.js'
import type { Rule } from './types.js'

/** Seesaw loss (Wang et al. 2021): the negative logits of a sample moved by class-count and score ratios. */
export interface SeesawSpec extends SpecBase {
  /** The rule's name, `'seesaw'`. */
  rule: 'seesaw'
  /** Mitigation exponent `p ≥ 0`: `M_yj = (N_j/N_y)^p` where `N_j < N_y`; default 0.8. */
  p: number
  /** Compensation exponent `q ≥ 0`: `C_yj = (σ_j/σ_y)^q` where `σ_j > σ_y`; default 2. */
  q: number
  /** The floor `eps > 0` of `σ_y` in the compensation; default 0.01. */
  eps: number
  /**
   * Counts `N_c ≥ 0` the accumulated counts start from (`[C]`), e.g. the training set's; default 0:
   * they accumulate from the batches alone.
   */
  classCounts?: number[]
}

/** A seesaw spec as written: `p`, `q` and `eps` may be left out. */
export type SeesawInput = SpecInput<SeesawSpec, 'p' | 'q' | 'eps'>

/**
 * Seesaw loss (Wang, Zhang, Zang, Cao, Pang, Gong, Xiong, Loy and Lin, *Seesaw Loss for Long-Tailed
 * Instance Segmentation*, CVPR 2021), as class-level logit perturbation: for a sample of class `y`,
 * each other logit `j ≠ y` is moved by `log(M_yj·C_yj)`,
 *
 *     M_yj = (N_j / N_y)^p   where N_j < N_y, else 1      (mitigation: a rarer class's logit lowered)
 *     C_yj = (σ_j / σ_y)^q   where σ_j > σ_y, else 1      (compensation: a wrongly higher score raised)
 *
 * `N` are accumulated class counts kept as the rule's state (`counts`): each training call adds its
 * batch's label counts (summed across workers) before computing the loss, as the reference
 * implementation does; a non-training call reads them as they are. Counts are read as at least 1
 * (the reference's convention, the one exception to the smallest-positive-count rule). `σ =
 * softmax(u)` is a constant for the gradient and `σ_y` is held at `eps` or more. The perturbation
 * depends on the sample (through `σ`), not only on its class. Closed-form gradient.
 */
export function seesawRule(spec: Pick<SeesawSpec, 'p' | 'q' | 'eps' | 'classCounts' | 'numClasses'>): Rule {
  const c = spec.classCounts?.length ?? spec.numClasses
  const declared = declareState({
    fields: { counts: COUNT_FIELD },
    initial: (numClasses) => ({ counts: spec.classCounts ?? zeros(numClasses) }),
    movedBy: 'training',
  })
  return {
    numClasses: c,
    gradientThrough: false,
    // The compensation reads each sample's softmax scores.
    sampleDelta: 'scores',
    state: declared,
    perturb(ops, { logits, labels, labelMatrix, rowMask, numClasses, ctx, state, constants }) {
      // A fresh loss reads the counts it starts from: the declared fresh state.
      const start = state?.counts ?? constants.get('counts', [numClasses], () => declared.initial(numClasses).counts!)
      const training = ctx.training !== false
      const counts = training
        ? ops.add(start, batchClassCounts(ops, labelMatrix, { labels, numClasses, rowMask, batchSum: ctx.batchSum }))
        : start
      named(ops, counts, 'counts')
      const logCounts = ops.log(ops.maximum(counts, ops.constant([1], [])))
      // log M[y_i, j] = p·min(log N_j − log N_{y_i}, 0), each sample's row of the ratio matrix, made
      // from its class's count (`[N, C]`, never the `[C, C]` matrix).
      const logTargetCount = ops.gather(ops.reshape(logCounts, [numClasses, 1]), labels, 0)
      const logMitigation = ops.mul(
        ops.minimum(ops.sub(ops.reshape(logCounts, [1, numClasses]), logTargetCount), ops.constant([0], [])),
        ops.constant([spec.p], []),
      )
      // The shift is a constant for the gradient (σ enters through a stop-gradient): it is made in a
      // custom gradient of zeros, so a backend that records autodiff (tfjs) keeps none of its
      // `[N, C]` intermediates for the backward pass.
      const shiftOf = (scores: typeof logits) => {
        // A masked class's −∞ held finite: its product with a zero label is 0 (docs/spec.md#12-masked-classes).
        const logScores = finiteLogProbabilities(ops, ops.logSoftmax(scores))
        const logTarget = ops.sum(ops.mul(logScores, labelMatrix), [1], true)
        // log C_ij = q·max(log σ_ij − log max(σ_iy, eps), 0).
        const logCompensation = ops.mul(
          ops.maximum(ops.sub(logScores, ops.maximum(logTarget, ops.constant([Math.log(spec.eps)], []))), ops.constant([0], [])),
          ops.constant([spec.q], []),
        )
        // A row that does not count (masked out, an ignored pixel) has no class to be seesawed against.
        const offTarget = ops.sub(rowMask ?? ops.constant([1], []), labelMatrix)
        named(ops, logMitigation, 'log_mitigation')
        named(ops, logCompensation, 'log_compensation')
        return named(ops, ops.mul(ops.add(logMitigation, logCompensation), offTarget), 'shift')
      }
      const shift = withGradient(ops, ops.stopGradient(logits), (scores) => ({
        value: shiftOf(scores),
        gradient: (dy) => ops.mul(dy, ops.constant([0], [])),
      }))
      return {
        batch: { logits: ops.add(logits, shift) },
        ...(training ? { state: { counts } } : {}),
      }
    },
  }
}

const DEFAULTS = { p: 0.8, q: 2, eps: 0.01 } as const

/** The seesaw loss in the registry. */
export const seesawDefinition = defineRule<SeesawSpec>({
  name: 'seesaw',
  task: 'single',
  docsPage: 'rules/seesaw.md',
  defaults: DEFAULTS,
  stateFields: { counts: COUNT_FIELD },
  parse(r, { header, numClasses }) {
    const p = r.number('p', NON_NEGATIVE, DEFAULTS.p)
    const q = r.number('q', NON_NEGATIVE, DEFAULTS.q)
    const eps = r.number('eps', { ...POSITIVE, max: 1 }, DEFAULTS.eps)
    const classCounts = r.has('classCounts') ? r.classCounts('classCounts', numClasses) : undefined
    check(
      classCounts !== undefined || numClasses !== undefined,
      'INVALID_SPEC',
      'is required, or numClasses: the accumulated counts are state of a fixed class count',
      r.fieldPath('classCounts'),
    )
    return { rule: 'seesaw', ...header, p, q, eps, ...(classCounts === undefined ? {} : { classCounts }) }
  },
  create: (spec) => seesawRule(spec),
})
