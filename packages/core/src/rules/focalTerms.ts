import { FLOAT32_FLOOR } from '../numerics.js'
import type { TensorOps } from '../ops.js'

/** Below this, `1 − p_y` is held: `log 0` would make the factor's gradient `0·∞`. A float32 normal number. */
const MIN_MISS = FLOAT32_FLOOR

/** The focal loss's per-sample terms (Lin et al., ICCV 2017), each `[N, 1]`. */
export interface FocalTerms<T> {
  /** `q = p_{i,y_i}`, the probability of the true class. */
  hit: T
  /** `1 − q`, as `Σ_{j≠y} p_j` (exact where `q` rounds to 1), held at 1e-37 or more. */
  miss: T
  /** The factor `(1 − q)^γ`. */
  factor: T
}

/**
 * The terms of the focal factor `(1 − p_y)^γ` of single-label logits `z` (`[N, C]`) with one-hot
 * labels (`[N, C]`), for `γ > 0`: `(1 − q)^γ = exp(γ·log(1 − q))`.
 *
 * `log(1 − q)` is taken as `log(1 − q)` where `q < ½` and as `log Σ_{j≠y} p_j` elsewhere: both are
 * exact in value, but their derivatives (what autodiff takes, tfjs's `tf.grad`) are not. The first
 * is `−q/(1 − q)·(e_y − p)`, a multiple of `q`, exactly 0 where `q` underflows; the second goes
 * through the softmax's backward pass, which forms `1 − Σ_{j≠y} p_j` from rounded probabilities
 * (6e-8 in float32), and times `γ·H` (2e4 for a loss of 1e4) that noise was 1e-3 of the gradient.
 * The second keeps its digits where `q` is near 1 (`1 − q` rounds to 0 there).
 */
export function focalTerms<T>(ops: TensorOps<T>, logits: T, labelMatrix: T, gamma: number): FocalTerms<T> {
  const probs = ops.softmax(logits)
  const others = ops.sum(ops.mul(probs, ops.sub(ops.constant([1], []), labelMatrix)), [1], true)
  const miss = ops.maximum(others, ops.constant([MIN_MISS], []))
  const hit = ops.sum(ops.mul(probs, labelMatrix), [1], true)
  const half = ops.constant([0.5], [])
  // Held at ½ or more, so that the branch not taken has a finite derivative too.
  const fromHit = ops.log(ops.maximum(ops.sub(ops.constant([1], []), hit), half))
  const logMiss = ops.where(ops.greater(half, hit), fromHit, ops.log(miss))
  return { hit, miss, factor: ops.exp(ops.mul(logMiss, ops.constant([gamma], []))) }
}

/**
 * The coefficient `k_i` (`[N, 1]`) of `p_i − e_{y_i}` in the gradient of the factor times a
 * per-sample loss `H_i` (`[N, 1]`): `∂(1 − q)^γ/∂z = γ·(1 − q)^{γ−1}·q·(p − e_y)`, so
 * `∂[(1 − q)^γ·H]/∂z = (1 − q)^γ·∂H/∂z + k·(p − e_y)` with `k = γ·q·H·(1 − q)^γ/(1 − q)`.
 */
export function focalSlope<T>(ops: TensorOps<T>, terms: FocalTerms<T>, loss: T, gamma: number): T {
  return ops.mul(ops.mul(ops.mul(terms.hit, loss), ops.div(terms.factor, terms.miss)), ops.constant([gamma], []))
}

/**
 * The terms of the focal factor `(1 − p_t)^γ` of binary cross-entropy entries (`[N, C]`), for
 * `γ > 0`: `p_t = exp(−b)` with `b` the entries' BCE against `targets`; for 0/1 targets (`epsilon`
 * 0) it is `σ(z)` on a positive and `σ(−z)` on a negative, and `1 − p_t` the other one, which keeps
 * its relative precision where `b` is below float32's resolution.
 */
export function binaryFocalTerms<T>(
  ops: TensorOps<T>,
  logits: T,
  labelMatrix: T,
  entries: T,
  epsilon: number,
  gamma: number,
): FocalTerms<T> {
  const one = ops.constant([1], [])
  let hit: T
  let miss: T
  if (epsilon === 0) {
    const negatives = ops.sub(one, labelMatrix)
    const up = ops.sigmoid(logits)
    const down = ops.sigmoid(ops.neg(logits))
    hit = ops.add(ops.mul(labelMatrix, up), ops.mul(negatives, down))
    miss = ops.add(ops.mul(labelMatrix, down), ops.mul(negatives, up))
  } else {
    hit = ops.exp(ops.neg(entries))
    miss = ops.sub(one, hit)
  }
  miss = ops.maximum(miss, ops.constant([MIN_MISS], []))
  return { hit, miss, factor: ops.exp(ops.mul(ops.log(miss), ops.constant([gamma], []))) }
}

/**
 * The factor of `σ(z) − t` in the gradient of a focal BCE entry, `(1 − p_t)^γ·(1 + γ·b·p_t/(1 − p_t))`
 * (`[N, C]`), from its {@link binaryFocalTerms} and its BCE `b`:
 * `∂[(1 − p_t)^γ·b]/∂z = (σ(z) − t)·(1 − p_t)^γ + b·γ·(1 − p_t)^{γ−1}·p_t·(σ(z) − t)`.
 */
export function binaryFocalGradientFactor<T>(ops: TensorOps<T>, terms: FocalTerms<T>, entries: T, gamma: number): T {
  const slope = ops.mul(ops.mul(ops.mul(entries, terms.hit), ops.div(terms.factor, terms.miss)), ops.constant([gamma], []))
  return ops.add(terms.factor, slope)
}
