import { prefixedConstants } from '../../constants.js'
import { check } from '../../errors.js'
import type { TensorOps } from '../../ops.js'
import { classDirections } from './learnedBounds.js'
import { FINITE_FIELD, declareState } from '../stateFields.js'
import type { PerturbCall, Rule } from '../types.js'

/**
 * LPL with learned bounds (Li et al., TNNLS 2023; docs/spec.md#6-learned-bounds): `δ_c = θ_c·d_c`, where
 * `d_c = g_c/‖g_c‖` is the unit class-mean gradient `mean_{i: y_i = c}(p(z_i) − e_c)` at `δ = 0` and
 * `θ` (`[C]`, the rule's state `theta`) holds, per class, the direction (`sign θ_c`: positive
 * augmentation for `θ_c > 0`) and the bound (`|θ_c|`). `L = Σ_i w_{y_i} CE(z_i + sg(δ_{y_i}), y_i) /
 * Σ_i w_{y_i}` over the base rule's logits `z`. The loss never changes `θ`: a trainer steps it with
 * `learnedBoundsStep` and `updateLearnedBounds` and sets it with `setState({ theta })`, clipped to
 * `[−maxBound, maxBound]`; before that `θ = 0` and the loss is the base rule's.
 */
export function lplLearnedRule(base: Rule, numClasses: number, maxBound: number, gradient: 'stop' | 'through'): Rule {
  return {
    numClasses,
    gradientThrough: gradient === 'through' || base.gradientThrough,
    // θ = 0 (the fresh state) gives δ = 0: the base rule's loss, as before any θ is set.
    state: declareState({ fields: { theta: FINITE_FIELD }, movedBy: 'trainer' }),
    perturb<T>(ops: TensorOps<T>, call: PerturbCall<T>) {
      const { labels, labelMatrix: y, numClasses: c, state, rowMask } = call
      // The base rule keeps no state of its own: it sees the call without θ.
      const { batch } = base.perturb(ops, { ...call, state: undefined, constants: prefixedConstants(call.constants, 'base') })
      const theta = state?.theta
      if (theta === undefined) return { batch }
      check(ops.shape(theta).length === 1 && ops.shape(theta)[0] === c, 'INVALID_STATE', `must be [${c}]`, 'state.theta')
      const start = gradient === 'stop' ? ops.stopGradient(batch.logits) : batch.logits
      const clipped = ops.minimum(ops.maximum(theta, ops.constant([-maxBound], [])), ops.constant([maxBound], []))
      // δ_{y_i} = θ_{y_i}·d_{y_i}, each sample's row.
      const delta = ops.mul(
        ops.reshape(ops.gather(clipped, labels, 0), [-1, 1]),
        classDirections(ops, start, labels, y, c, { rowMask, batchSum: call.ctx.batchSum }),
      )
      return { batch: { ...batch, logits: ops.add(batch.logits, gradient === 'stop' ? ops.stopGradient(delta) : delta) } }
    },
  }
}
