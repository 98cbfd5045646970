import { FLOAT32_LOWEST } from '../numerics.js'
import type { TensorOps } from '../ops.js'

/**
 * Binary cross-entropy with logits per entry, `ℓ(z, y) = softplus(z) − y·z` (`[N, C]`), for labels
 * `Y ∈ {0, 1}^{N×C}`. Written as `y·softplus(−z) + (1 − y)·softplus(z)`, equal for `y ∈ {0, 1}`:
 * the form `softplus(z) − y·z` subtracts two numbers of size `|z|` and, in float32, loses a well
 * classified entry's loss (`softplus(20) − 20 = 2e-9`) to rounding. Finite at `|z| = 1e4`. An entry
 * at `z = −∞` (a label ruled out, docs/spec.md#12-masked-classes) with `y = 0` has loss 0: its
 * `softplus(−z) = ∞` is held at the largest float32 over `C` before the product, so that `0·∞`
 * adds 0, not NaN, its gradient is exactly 0, and a row's sum stays finite.
 */
export function bceEntries<T>(ops: TensorOps<T>, logits: T, labels: T): T {
  const negatives = ops.sub(ops.constant([1], []), labels)
  // Held at the largest float32 over C, not at the largest float32: a masked-out row may hold −∞ at
  // several positives, and their row sum must stay finite for its zero share to give 0, not 0·∞.
  const width = Math.max(ops.shape(logits).at(-1) ?? 1, 1)
  const missed = ops.minimum(ops.softplus(ops.neg(logits)), ops.constant([-(ops.lowest ?? FLOAT32_LOWEST) / width], []))
  return ops.add(ops.mul(labels, missed), ops.mul(negatives, ops.softplus(logits)))
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
