import type { TensorOps } from '../ops.js'
import type { PerturbedBatch } from './types.js'

/**
 * Binary cross-entropy with logits per entry, `ℓ(z, y) = softplus(z) − y·z` (`[N, C]`), for labels
 * `Y ∈ {0, 1}^{N×C}`. Written as `y·softplus(−z) + (1 − y)·softplus(z)`, equal for `y ∈ {0, 1}`:
 * the form `softplus(z) − y·z` subtracts two numbers of size `|z|` and, in float32, loses a well
 * classified entry's loss (`softplus(20) − 20 = 2e-9`) to rounding. Finite at `|z| = 1e4`.
 */
export function bceEntries<T>(ops: TensorOps<T>, logits: T, labels: T): T {
  const negatives = ops.sub(ops.constant([1], []), labels)
  return ops.add(ops.mul(labels, ops.softplus(ops.neg(logits))), ops.mul(negatives, ops.softplus(logits)))
}

/**
 * `σ(z) − Y` (`[N, C]`), the derivative of {@link bceEntries} w.r.t. `z`, written as
 * `(1 − y)·σ(z) − y·σ(−z)`: for a confident positive `σ(z)` rounds to 1 and `σ(z) − 1` to 0 in
 * float32, while `σ(−z)` keeps its value.
 */
export function sigmoidResidual<T>(ops: TensorOps<T>, logits: T, labels: T): T {
  const negatives = ops.sub(ops.constant([1], []), labels)
  return ops.sub(ops.mul(negatives, ops.sigmoid(logits)), ops.mul(labels, ops.sigmoid(ops.neg(logits))))
}

/** `1/(N·C)` as a `[]` tensor, with `N` read from the labels `[N, C]` (known to a symbolic graph only at run time). */
function entryShare<T>(ops: TensorOps<T>, labels: T): T {
  const ones = ops.add(ops.mul(labels, ops.constant([0], [])), ops.constant([1], []))
  return ops.div(ops.constant([1], []), ops.sum(ones, [0, 1]))
}

/**
 * The loss of a multi-label perturbed batch: `L = (1/(N·C)) Σ_{i,c} w_ic · ℓ(z_ic, Y_ic)`, with `z`
 * the perturbed logits and `w` the rule's entry weights (1 when absent). The multi-label
 * counterpart of `batchLoss`. Shapes: logits and labels `[N, C]`; a scalar.
 */
export function multiLabelBatchLoss<T>(ops: TensorOps<T>, batch: PerturbedBatch<T>, labels: T): T {
  const entries = bceEntries(ops, batch.logits, labels)
  return ops.mean(batch.entryWeights === undefined ? entries : ops.mul(entries, batch.entryWeights), [0, 1])
}

/**
 * The closed-form gradient of {@link multiLabelBatchLoss} w.r.t. the unperturbed logits `u`, when
 * the perturbation is a constant for the gradient: `∂L/∂u_ic = w_ic · a_ic · (σ(z_ic) − Y_ic) / (N·C)`,
 * with `a = ∂z/∂u` the logit scale (`[N, C]`).
 */
export function multiLabelGradient<T>(ops: TensorOps<T>, batch: PerturbedBatch<T>, labels: T): T {
  let out = ops.mul(sigmoidResidual(ops, batch.logits, labels), entryShare(ops, labels))
  if (batch.entryWeights !== undefined) out = ops.mul(out, batch.entryWeights)
  return batch.logitScale === undefined ? out : ops.mul(out, batch.logitScale)
}
