import type { TensorOps } from '../ops.js'

/**
 * Per-sample cross-entropy `ℓ_i = logsumexp(z_i) − z_{i,y_i}`, `[N]`, from a one-hot label matrix
 * `Y` (`[N, C]`). The log-softmax is max-shifted, so logits of magnitude 1e4 stay finite.
 */
export function crossEntropyPerSample<T>(ops: TensorOps<T>, logits: T, labelMatrix: T): T {
  return ops.neg(ops.sum(ops.mul(ops.logSoftmax(logits), labelMatrix), [1]))
}

/**
 * `softmax(z) − Y` (`[N, C]`), with the target entry computed as `−Σ_{j≠y} p_j` rather than
 * `p_y − 1`: for a confidently classified sample `p_y` rounds to 1 and `p_y − 1` to 0, while the
 * others are still exact, so the residual keeps its direction (its entries sum to 0, as they must).
 */
export function softmaxResidual<T>(ops: TensorOps<T>, logits: T, labelMatrix: T): T {
  const others = ops.mul(ops.softmax(logits), ops.sub(ops.constant([1], []), labelMatrix))
  return ops.sub(others, ops.mul(labelMatrix, ops.sum(others, [1], true)))
}

/** `z_i = u_i + D_{y_i}`: adds row `y_i` of a class-level perturbation matrix `D` (`[C, C]`) to each sample. */
export function addClassRows<T>(ops: TensorOps<T>, logits: T, labels: T, perturbation: T): T {
  return ops.add(logits, ops.gather(perturbation, labels, 0))
}
