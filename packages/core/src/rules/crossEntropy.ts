import { FLOAT32_LOWEST } from '../numerics.js'
import type { TensorOps } from '../ops.js'

/**
 * Per-sample cross-entropy `ℓ_i = logsumexp(z_i) − z_{i,y_i}`, `[N]`, from a one-hot label matrix
 * `Y` (`[N, C]`). The log-softmax is max-shifted, so logits of magnitude 1e4 stay finite. A masked
 * class (`z = −∞`, docs/spec.md#12-masked-classes) has `log p = −∞` and target 0: its log-probability
 * is held at the lowest float32 before the product, so that it adds `0`, not `0·(−∞) = NaN`, and its
 * gradient is exactly 0.
 */
export function crossEntropyPerSample<T>(ops: TensorOps<T>, logits: T, labelMatrix: T): T {
  return ops.neg(ops.sum(ops.mul(finiteLogProbabilities(ops, ops.logSoftmax(logits)), labelMatrix), [1]))
}

/**
 * `log p` (`[N, C]`) held at the lowest float32 or above: a masked class's `−∞` becomes a finite
 * number, whose product with a zero weight is 0 (docs/spec.md#12-masked-classes). Every finite
 * float32 is at or above it, so nothing else changes.
 */
export function finiteLogProbabilities<T>(ops: TensorOps<T>, logProbabilities: T): T {
  return ops.maximum(logProbabilities, ops.constant([ops.lowest ?? FLOAT32_LOWEST], []))
}

/**
 * The classes a row keeps (`[N, C]`, float 0/1): 0 where the logit is `−∞`, a class masked out of
 * that row (docs/spec.md#12-masked-classes), 1 elsewhere.
 */
export function keptClasses<T>(ops: TensorOps<T>, logits: T): T {
  return ops.sub(ops.constant([1], []), ops.equal(logits, ops.constant([Number.NEGATIVE_INFINITY], [])))
}

/**
 * `softmax(z) − Y` (`[N, C]`), with the target entry computed as `−Σ_{j≠y} p_j` rather than
 * `p_y − 1`: for a confidently classified sample `p_y` rounds to 1 and `p_y − 1` to 0, while the
 * others are still exact, so the residual keeps its direction (its entries sum to 0, as they must).
 * A masked class has `p = 0` and residual exactly 0.
 */
export function softmaxResidual<T>(ops: TensorOps<T>, logits: T, labelMatrix: T): T {
  const others = ops.mul(ops.softmax(logits), ops.sub(ops.constant([1], []), labelMatrix))
  return ops.sub(others, ops.mul(labelMatrix, ops.sum(others, [1], true)))
}

/** `z_i = u_i + D_{y_i}`: adds row `y_i` of a class-level perturbation matrix `D` (`[C, C]`) to each sample. */
export function addClassRows<T>(ops: TensorOps<T>, logits: T, labels: T, perturbation: T): T {
  return ops.add(logits, ops.gather(perturbation, labels, 0))
}
