import type { TensorOps } from '../ops.js'
import { STEP_ROUNDING } from './lplBounds.js'
import { softmaxResidual } from './crossEntropy.js'
import { type CountedRows, classSums } from './classSums.js'
import { l2Normalize } from './norm.js'

/** Inputs of {@link lplSearch}; per-class tensors are `[C, 1]`. */
export interface LplSearchInputs<T> {
  /** Logits the search starts from (`[N, C]`); pass them through `stopGradient` for `gradient: 'stop'`. */
  logits: T
  /** Labels `[N]` (int32). */
  labels: T
  /** The one-hot matrix of `labels`, `[N, C]` (all zeros in masked-out rows). */
  oneHotLabels: T
  /** `[N, 1]` float, 1 for the rows that count (see `classSums`); absent: every row. */
  rowMask?: T
  /** The class count `C`. */
  numClasses: number
  /** `s_c`: `+1` ascent (P), `−1` descent (N). */
  directions: T
  /** `ε_c ≥ 0`. */
  bounds: T
  /** Step length `α > 0`. */
  alpha: number
  /** `K`, the cap on every class's step count `K_c = min(⌊ε_c/α⌋, K)`. */
  maxSteps: number
  /** How many steps to unroll: at least the largest `K_c` (a static number, so graphs can unroll). */
  unrolledSteps: number
  /** Steps of length `α` along `g_c/‖g_c‖₂` (true) or `α·g_c` (false). */
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
 * Cost per step: two softmaxes over the batch and a segment sum, `O(N·C + C²)`; only the current
 * `δ` is kept, never the trajectory.
 *
 * With normalized steps only the direction of `g_c` matters, and it is computed so that float32
 * keeps it for confidently classified samples: each sample's residual `p_i − e_c` is written as
 * `(1 − p_{i,c})·(q_i − e_c)`, `q_i` the softmax of its non-target logits, with `1 − p_{i,c}` held
 * at 1e-37 or more so that no float32 backend flushes it to zero.
 */
export function lplSearch<T>(ops: TensorOps<T>, inp: LplSearchInputs<T>): T {
  const c = inp.numClasses
  const rows: CountedRows<T> = { labels: inp.labels, numClasses: c, rowMask: inp.rowMask }
  const counts = ops.reshape(ops.sum(inp.oneHotLabels, [0]), [c, 1])
  const denominator = ops.maximum(counts, ops.constant([1], []))
  const steps = ops.minimum(
    ops.floor(ops.add(ops.div(inp.bounds, ops.constant([inp.alpha], [])), ops.constant([STEP_ROUNDING], []))),
    ops.constant([inp.maxSteps], []),
  )
  const signedAlpha = ops.mul(inp.directions, ops.constant([inp.alpha], []))
  let delta = ops.constant(new Float64Array(c * c), [c, c])
  for (let k = 0; k < inp.unrolledSteps; k++) {
    const logits = ops.add(inp.logits, ops.gather(delta, inp.labels, 0))
    // Absent classes have g = 0 and take a zero step.
    const direction = inp.normalize
      ? l2Normalize(ops, classGradientDirection(ops, logits, inp.oneHotLabels, rows), 1).unit
      : ops.div(classSums(ops, softmaxResidual(ops, logits, inp.oneHotLabels), rows), denominator)
    const active = ops.greater(steps, ops.constant([k], []))
    delta = ops.add(delta, ops.mul(ops.mul(active, signedAlpha), direction))
  }
  return delta
}

/**
 * Smallest weight a sample keeps in {@link classGradientDirection}: a float32 normal number, so no
 * backend flushes it to zero.
 */
const MIN_SAMPLE_WEIGHT = 1e-37

/**
 * A positive multiple of each class's gradient `Σ_{i: y_i = c} (p_i − e_c)` (`[C, C]`), written as
 * `Σ_i a_i·d_i` with `a_i = 1 − p_{i,y_i}` and `d_i = q_i − e_{y_i}`, `q_i` the softmax of the
 * sample's non-target logits. `d_i` never underflows (its entries sum to zero, and the largest
 * non-target entry is at least `1/(C − 1)`); `a_i` does, in float32, once the sample is classified
 * with `p_y > 1 − 1e-38`, where backends disagree (wasm flushes subnormals to zero, cpu keeps them).
 * Holding `a_i ≥ 1e-37` gives every backend the same direction: exact wherever some sample of the
 * class has `a_i ≥ 1e-37`, and the mean of the `d_i` where none has.
 */
export function classGradientDirection<T>(ops: TensorOps<T>, logits: T, oneHotLabels: T, rows: CountedRows<T>): T {
  const one = ops.constant([1], [])
  const nonTarget = ops.sub(one, oneHotLabels)
  const weight = ops.maximum(ops.sum(ops.mul(ops.softmax(logits), nonTarget), [1], true), ops.constant([MIN_SAMPLE_WEIGHT], []))
  // The target logit moved far below the rest: its share of this softmax is exactly zero.
  const masked = ops.sub(logits, ops.mul(oneHotLabels, ops.constant([1e30], [])))
  const direction = ops.sub(ops.softmax(masked), oneHotLabels)
  return classSums(ops, ops.mul(weight, direction), rows)
}
