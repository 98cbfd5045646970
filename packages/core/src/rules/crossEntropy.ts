import type { TensorOps } from '../ops.js'
import type { PerturbedBatch } from './types.js'

/**
 * Per-sample cross-entropy `ℓ_i = logsumexp(z_i) − z_{i,y_i}`, `[N]`, from a one-hot label matrix
 * `Y` (`[N, C]`). The log-softmax is max-shifted, so logits of magnitude 1e4 stay finite.
 */
export function crossEntropyPerSample<T>(ops: TensorOps<T>, logits: T, oneHotLabels: T): T {
  return ops.neg(ops.sum(ops.mul(ops.logSoftmax(logits), oneHotLabels), [1]))
}

/**
 * The weight of each sample in the batch mean, `[N, 1]`: `w_{y_i} / Σ_j w_{y_j}` with class weights,
 * `1/N` without (PyTorch's `cross_entropy(weight=…)` reduction).
 */
export function sampleWeights<T>(ops: TensorOps<T>, oneHotLabels: T, classWeights: T | undefined): T {
  const c = ops.shape(oneHotLabels)[1]!
  const raw = classWeights === undefined
    ? ops.sum(oneHotLabels, [1], true) // every row of Y sums to 1
    : ops.matmul(oneHotLabels, ops.reshape(classWeights, [c, 1]))
  return ops.div(raw, ops.sum(raw, [0, 1], true))
}

/** The loss of a perturbed batch: `Σ_i w_{y_i} ℓ(z_i, y_i) / Σ_i w_{y_i}` (a plain mean without weights). */
export function batchLoss<T>(ops: TensorOps<T>, batch: PerturbedBatch<T>, oneHotLabels: T): T {
  const perSample = ops.reshape(crossEntropyPerSample(ops, batch.logits, oneHotLabels), [-1, 1])
  return ops.sum(ops.mul(perSample, sampleWeights(ops, oneHotLabels, batch.classWeights)), [0, 1])
}

/**
 * `softmax(z) − Y` (`[N, C]`), with the target entry computed as `−Σ_{j≠y} p_j` rather than
 * `p_y − 1`: for a confidently classified sample `p_y` rounds to 1 and `p_y − 1` to 0, while the
 * others are still exact, so the residual keeps its direction (its entries sum to 0, as they must).
 */
export function softmaxResidual<T>(ops: TensorOps<T>, logits: T, oneHotLabels: T): T {
  const others = ops.mul(ops.softmax(logits), ops.sub(ops.constant([1], []), oneHotLabels))
  return ops.sub(others, ops.mul(oneHotLabels, ops.sum(others, [1], true)))
}

/**
 * The closed-form gradient of {@link batchLoss} w.r.t. the unperturbed logits `u`, when the
 * perturbation is a constant for the gradient:
 * `∂L/∂u_i = (w_{y_i} / Σ_j w_{y_j}) · a ⊙ (softmax(z_i) − e_{y_i})`, with `a = ∂z/∂u` the logit scale.
 */
export function analyticGradient<T>(ops: TensorOps<T>, batch: PerturbedBatch<T>, oneHotLabels: T): T {
  const residual = softmaxResidual(ops, batch.logits, oneHotLabels)
  const weighted = ops.mul(residual, sampleWeights(ops, oneHotLabels, batch.classWeights))
  return batch.logitScale === undefined ? weighted : ops.mul(weighted, batch.logitScale)
}

/** `z_i = u_i + D_{y_i}`: adds row `y_i` of a class-level perturbation matrix `D` (`[C, C]`) to each sample. */
export function addClassRows<T>(ops: TensorOps<T>, logits: T, labels: T, perturbation: T): T {
  return ops.add(logits, ops.gather(perturbation, labels, 0))
}
