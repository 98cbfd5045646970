import { checkNumber, checkNumberList } from '../../validate.js'
import { type CountedRows, classCounts } from '../classSums.js'
import { classSlots, perSlot, rowsOfSlots, slotSums } from '../classSlots.js'
import type { TensorOps } from '../../ops.js'
import { crossEntropyPerSample, softmaxResidual } from '../crossEntropy.js'
import { l2Normalize } from '../norm.js'

/**
 * Inputs of one learned-bounds step (docs/spec.md#6-learned-bounds) with a linear last layer `u = W h + b`.
 * A user passes the penultimate features of the training batch and of a small class-balanced meta
 * batch, and the last layer's weights (read from the model: for a tfjs `Dense` layer, its kernel
 * transposed and its bias).
 */
export interface LearnedBoundsInputs<T> {
  /** Penultimate features of the training batch, `[B, D]`. */
  trainFeatures: T
  /** Training labels, `[B]` int32. */
  trainLabels: T
  /** Penultimate features of the meta batch, `[M, D]`. */
  metaFeatures: T
  /** Meta labels, `[M]` int32. */
  metaLabels: T
  /** The last layer's weights `W`, `[C, D]`. */
  weights: T
  /** The last layer's bias `b`, `[C]`; absent for a layer without one. */
  bias?: T
  /** The signed bounds `θ`, `[C]`: `δ_c = θ_c·d_c`. */
  theta: T
  /** Learning rate `η` of the virtual SGD step. */
  eta: number
  /** The class count `C`. */
  numClasses: number
}

/** What one learned-bounds step computes. */
export interface LearnedBoundsStep<T> {
  /** `∂L_meta/∂θ`, `[C]`. */
  hypergradient: T
  /** The meta loss after the virtual step, a scalar. */
  metaLoss: T
  /** The direction of each training sample's class, `d_{y_i}` at `δ = 0`, `[B, C]`. */
  directions: T
}

/**
 * The directions of learned bounds, `d_c = g_c/‖g_c‖` with `g_c = mean_{i: y_i = c}(p(u_i) − e_c)`,
 * the class-mean gradient of CE at `δ = 0`, at each sample: row `i` is `d_{y_i}` (`[N, C]`; a zero
 * row for a masked row whose class has no counted row). The class sums are kept for the classes
 * present only (`classSlots`, `[P, C]`), never as `[C, C]`. They and the counts are taken over the
 * counted rows (`rows.rowMask`) and summed across workers (`rows.batchSum`), so that workers on
 * shards of a batch get the directions of the whole.
 */
export function classDirections<T>(
  ops: TensorOps<T>,
  logits: T,
  labels: T,
  labelMatrix: T,
  c: number,
  rows: Pick<CountedRows<T>, 'rowMask' | 'batchSum'> = { rowMask: undefined },
): T {
  const counted: CountedRows<T> = { labels, numClasses: c, rowMask: rows.rowMask, batchSum: rows.batchSum }
  const slots = classSlots(ops, classCounts(ops, labelMatrix, counted), labels, c, rows.batchSum !== undefined)
  const counts = ops.reshape(ops.maximum(perSlot(ops, slots.counts, slots), ops.constant([1], [])), [-1, 1])
  const classMean = ops.div(slotSums(ops, softmaxResidual(ops, logits, labelMatrix), counted, slots), counts)
  return rowsOfSlots(ops, l2Normalize(ops, classMean, 1).unit, slots)
}

/**
 * LPL's learned bounds, the last-layer closed form (docs/spec.md#6-learned-bounds; one-step look-ahead as in
 * Learning-to-Reweight and Meta-Weight-Net). With `δ_c = θ_c·d_c`, a virtual SGD step of the last
 * layer on the perturbed training loss, `W' = W − (η/B)·Σ_i (p(u_i + δ_{y_i}) − e_{y_i}) h_iᵀ`, and the
 * meta loss `L_meta = (1/M)·Σ_j CE(W' h_j + b', y_j)`:
 *
 *     ∂L_meta/∂θ_c = −(η/(B·M)) Σ_{i: y_i = c} Σ_j (h_jᵀ h_i + 1_bias) (p_j − e_{y_j})ᵀ J_i d_c
 *
 * with `J_i = diag(p_i) − p_i p_iᵀ` the softmax Jacobian at the perturbed logits of training sample
 * `i` and `p_j` the meta sample's softmax after the virtual step. Computed as
 * `A = Σ_j (p_j − e_{y_j}) h_jᵀ`, then `v_i = A h_i (+ Σ_j (p_j − e_{y_j}))` and
 * `(J_i d_c)·v_i`: `O((B + M)·C·D)`, no `[B, M]` matrix. `d_c` is held fixed (it is taken at `δ = 0`).
 */
export function learnedBoundsStep<T>(ops: TensorOps<T>, inp: LearnedBoundsInputs<T>): LearnedBoundsStep<T> {
  const c = inp.numClasses
  const yTrain = ops.oneHot(inp.trainLabels, c)
  const yMeta = ops.oneHot(inp.metaLabels, c)
  const withBias = (x: T, b: T | undefined) => (b === undefined ? x : ops.add(x, ops.reshape(b, [1, c])))
  const logits = withBias(ops.matmul(inp.trainFeatures, inp.weights, false, true), inp.bias)
  const directions = classDirections(ops, logits, inp.trainLabels, yTrain, c)
  // Perturbed training logits and their softmax.
  const dOfSample = directions
  const thetaOfSample = ops.reshape(ops.gather(inp.theta, inp.trainLabels, 0), [-1, 1])
  const probs = ops.softmax(ops.add(logits, ops.mul(thetaOfSample, dOfSample)))
  // The virtual step of the last layer.
  const trainResidual = ops.sub(probs, yTrain)
  const stepScale = ops.div(ops.constant([inp.eta], []), ops.sum(ops.sum(yTrain, [1]), [0])) // η/B, B from the batch
  const weightsAfter = ops.sub(inp.weights, ops.mul(stepScale, ops.matmul(trainResidual, inp.trainFeatures, true)))
  const biasAfter = inp.bias === undefined ? undefined : ops.sub(inp.bias, ops.mul(stepScale, ops.sum(trainResidual, [0])))
  // The meta loss after the step, and its residual.
  const metaLogits = withBias(ops.matmul(inp.metaFeatures, weightsAfter, false, true), biasAfter)
  const metaLoss = ops.mean(crossEntropyPerSample(ops, metaLogits, yMeta), [0])
  const metaResidual = ops.sub(ops.softmax(metaLogits), yMeta)
  // v_i = A h_i (+ Σ_j q_j for the bias), A = Σ_j q_j h_jᵀ.
  const a = ops.matmul(metaResidual, inp.metaFeatures, true) // [C, D]
  let v = ops.matmul(inp.trainFeatures, a, false, true) // [B, C]
  if (inp.bias !== undefined) v = ops.add(v, ops.sum(metaResidual, [0], true))
  // (J_i d)·v_i = Σ_k p_k d_k v_k − (p·d)(p·v).
  const pd = ops.mul(probs, dOfSample)
  const jdv = ops.sub(ops.sum(ops.mul(pd, v), [1]), ops.mul(ops.sum(pd, [1]), ops.sum(ops.mul(probs, v), [1])))
  const metaCount = ops.sum(ops.sum(yMeta, [1]), [0])
  const scale = ops.neg(ops.div(stepScale, metaCount)) // −η/(B·M)
  return { hypergradient: ops.mul(scale, ops.segmentSum(jdv, inp.trainLabels, c)), metaLoss, directions }
}

/** `θ ← clip(θ − β·∂L_meta/∂θ, −ε_max, ε_max)`: one step of the learned bounds (host side). */
export function updateLearnedBounds(
  theta: readonly number[],
  hypergradient: ArrayLike<number>,
  metaRate: number,
  maxBound: number,
): number[] {
  checkNumberList(theta, {}, 'theta')
  checkNumberList(hypergradient, {}, 'hypergradient', theta.length)
  checkNumber(metaRate, { min: 0 }, 'metaRate')
  checkNumber(maxBound, { above: 0 }, 'maxBound')
  return theta.map((t, c) => Math.min(maxBound, Math.max(-maxBound, t - metaRate * hypergradient[c]!)))
}
