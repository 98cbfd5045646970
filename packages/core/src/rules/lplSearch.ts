import type { TensorOps } from '../ops.js'
import { STEP_ROUNDING } from './lplBounds.js'
import { softmaxResidual } from './crossEntropy.js'
import { l2Normalize } from './norm.js'

/** Inputs of {@link lplSearch}; per-class tensors are `[C, 1]`. */
export interface LplSearchInputs<T> {
  /** Logits the search starts from (`[N, C]`); pass them through `stopGradient` for `gradient: 'stop'`. */
  logits: T
  /** Labels `[N]` (int32) and their one-hot matrix `[N, C]`. */
  labels: T
  oneHotLabels: T
  numClasses: number
  /** `s_c`: `+1` ascent (P), `−1` descent (N). */
  directions: T
  /** `ε_c ≥ 0`. */
  bounds: T
  alpha: number
  maxSteps: number
  /** How many steps to unroll: at least the largest `K_c` (a static number, so graphs can unroll). */
  unrolledSteps: number
  normalize: boolean
}

/**
 * LPL's bounded search (Li et al., *Class-level logit perturbation*, TNNLS 2023, Algorithm 1), all
 * classes at once. With `δ_c = 0` and `K_c = min(⌊ε_c/α⌋, K)`, repeat:
 *
 *     g_c = mean_{i: y_i = c} (softmax(u_i + δ_c) − e_c)      (gradient of the class-mean CE w.r.t. δ_c)
 *     δ_c ← δ_c + s_c · α · g_c / ‖g_c‖₂                      (only while the class has steps left)
 *
 * Returns `δ` as a `[C, C]` matrix (row `c` is `δ_c`; zero for classes absent from the batch).
 * Cost per step: one softmax over the batch and a segment sum, `O(N·C + C²)`; only the current `δ`
 * is kept, never the trajectory.
 */
export function lplSearch<T>(ops: TensorOps<T>, inp: LplSearchInputs<T>): T {
  const c = inp.numClasses
  const counts = ops.reshape(ops.sum(inp.oneHotLabels, [0]), [c, 1])
  const denominator = ops.maximum(counts, ops.constant([1], []))
  const steps = ops.minimum(
    ops.floor(ops.add(ops.div(inp.bounds, ops.constant([inp.alpha], [])), ops.constant([STEP_ROUNDING], []))),
    ops.constant([inp.maxSteps], []),
  )
  const signedAlpha = ops.mul(inp.directions, ops.constant([inp.alpha], []))
  let delta = ops.constant(new Float64Array(c * c), [c, c])
  for (let k = 0; k < inp.unrolledSteps; k++) {
    const residual = softmaxResidual(ops, ops.add(inp.logits, ops.gather(delta, inp.labels, 0)), inp.oneHotLabels)
    const grad = ops.div(ops.segmentSum(residual, inp.labels, c), denominator)
    // Absent classes have g = 0 and take a zero step.
    const direction = inp.normalize ? l2Normalize(ops, grad, 1).unit : grad
    const active = ops.greater(steps, ops.constant([k], []))
    delta = ops.add(delta, ops.mul(ops.mul(active, signedAlpha), direction))
  }
  return delta
}
