import type { TensorOps } from '../ops.js'
import { bceEntries, sigmoidResidual } from './binaryCrossEntropy.js'
import { keptClasses } from './crossEntropy.js'
import type { LossTerm } from './types.js'

/**
 * Binary cross-entropy of single-label data, one binary task per class (LiVT's `BCE_loss`, Xu et al.,
 * CVPR 2023; XuZhengzhuo/LiVT `util/loss.py`), per sample the sum over the classes:
 *
 *     ℓ_i = Σ_c BCE(z_ic, t_ic),   t_i = (1 − ε)·t⁰_i + ε·(Σ_c t⁰_ic)/C
 *
 * with `t⁰_i` the row's label matrix (one-hot `e_{y_i}`, or soft targets) and `ε` the spec's label
 * smoothing: on a one-hot row `1 − ε + ε/C` at the label and `ε/C` elsewhere, LiVT's `_one_hot`
 * targets. The mean of `ℓ_i` over the rows is LiVT's `C · mean over all N·C entries`. BCE is
 * `bceEntries` (stable at `|z| = 1e4`). Residual `σ(z_i) − t_i` per entry (`sigmoidResidual`),
 * linear in the targets, so the same form serves one-hot and soft rows. Masked classes (`z = −∞`,
 * docs/spec.md#12-masked-classes) are not tasks of their row: the smoothing spreads over the `K_i`
 * classes the row keeps (`C` read as `K_i`), so a masked class has target 0, loss 0 and residual 0,
 * as if its column were dropped. docs/spec.md#39-label-aware-smoothing-and-balanced-bce.
 */
export const balancedBceTerm: LossTerm = Object.freeze({
  name: 'binary cross-entropy per class (summed)',
  task: 'single',
  plain: false,
  value<T>(ops: TensorOps<T>, logits: T, labelMatrix: T, epsilon: number): T {
    return ops.sum(bceEntries(ops, logits, smoothedTargets(ops, logits, labelMatrix, epsilon)), [1], true)
  },
  residual<T>(ops: TensorOps<T>, logits: T, labelMatrix: T, epsilon: number): T {
    return sigmoidResidual(ops, logits, smoothedTargets(ops, logits, labelMatrix, epsilon))
  },
} satisfies LossTerm)

/**
 * `(1 − ε)·t + ε·(Σ_c t_c)·k/K` (`[N, C]`), `k` the classes the row keeps and `K` their number: the
 * single-label smoothed targets of section 8.3, read entry by entry as binary targets.
 */
function smoothedTargets<T>(ops: TensorOps<T>, logits: T, labelMatrix: T, epsilon: number): T {
  if (epsilon === 0) return labelMatrix
  const kept = keptClasses(ops, logits)
  const spread = ops.div(kept, ops.sum(kept, [1], true))
  const mass = ops.sum(labelMatrix, [1], true)
  return ops.add(ops.mul(labelMatrix, ops.constant([1 - epsilon], [])), ops.mul(ops.mul(spread, mass), ops.constant([epsilon], [])))
}
