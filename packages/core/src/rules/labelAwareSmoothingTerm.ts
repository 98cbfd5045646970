import type { TensorOps } from '../ops.js'
import { crossEntropyPerSample, keptClasses, softmaxResidual } from './crossEntropy.js'
import { meanOverKept } from './lossTerms.js'
import type { LossTerm } from './types.js'

/**
 * The label-aware smoothing term of MiSLAS (Zhong, Cui, Liu and Jia, *Improving Calibration for
 * Long-Tailed Recognition*, CVPR 2021; dvlab-research/MiSLAS `methods.py` `LabelAwareSmoothing`):
 * cross-entropy against targets smoothed by a per-class amount `ε_c` of the sample's class
 * (docs/spec.md#39-label-aware-smoothing-and-balanced-bce),
 *
 *     ℓ_i = (1 − ε_{y_i})·(−log p_{i,y_i}) + ε_{y_i}·mean_j(−log p_ij),     p_i = softmax(z_i)
 *
 * i.e. the target `(1 − ε_{y_i})·e_{y_i} + ε_{y_i}/C`. Written linearly in the row's label matrix
 * `t_i` (one-hot, or one part of a soft target's top-two split, `v·e_k`):
 * `ℓ_i = −Σ_c t_ic·(1 − ε_c)·log p_ic − a_i·mean_j log p_ij` with `a_i = Σ_c t_ic·ε_c`, which is
 * `v` times the loss of class `k` on a part `v·e_k`. The spec's label smoothing `ε` is applied on
 * top: `ε_c` becomes `1 − (1 − ε)(1 − ε_c)`, the target `(1 − ε)·t_LAS + ε/C`.
 * Residual `p_i·Σ_c w_ic − w_i + a_i·(p_i − 1/C)` with `w = t ⊙ (1 − ε)`; on one-hot rows
 * `(1 − a_i)·(p_i − e_{y_i}) + a_i·(p_i − 1/C)`, the first factor in its underflow-safe form.
 * Masked classes (`z = −∞`, docs/spec.md#12-masked-classes) are handled as by `crossEntropyTerm`:
 * they add 0, their residual is exactly 0, and the smoothing spreads over the `K_i` kept classes.
 * `smoothing` is `ε_c` per class (`[C]`, in `[0, 1]`).
 */
export function labelAwareSmoothingTerm(smoothing: readonly number[]): LossTerm {
  const c = smoothing.length
  // The per-class smoothing with the spec's ε on top, made once per ε (a host number of the call).
  const composed = (epsilon: number): number[] => smoothing.map((e) => (epsilon === 0 ? e : 1 - (1 - epsilon) * (1 - e)))
  const parts = <T>(ops: TensorOps<T>, labelMatrix: T, epsilon: number) => {
    const e = composed(epsilon)
    const perClass = ops.constant(e, [1, c])
    const keep = ops.constant(
      e.map((x) => 1 - x),
      [1, c],
    )
    return {
      // a_i = Σ_c t_ic·ε_c, `[N, 1]`: the row's smoothing mass.
      mass: ops.sum(ops.mul(labelMatrix, perClass), [1], true),
      // w = t ⊙ (1 − ε), `[N, C]`: what the row's classes keep of their target.
      kept: ops.mul(labelMatrix, keep),
    }
  }
  return Object.freeze({
    name: 'label-aware smoothing',
    task: 'single',
    plain: false,
    value<T>(ops: TensorOps<T>, logits: T, labelMatrix: T, epsilon: number): T {
      const { mass, kept } = parts(ops, labelMatrix, epsilon)
      const hard = ops.reshape(crossEntropyPerSample(ops, logits, kept), [-1, 1])
      return ops.sub(hard, ops.mul(mass, meanOverKept(ops, logits)))
    },
    residual<T>(ops: TensorOps<T>, logits: T, labelMatrix: T, epsilon: number, soft = false): T {
      const { mass, kept } = parts(ops, labelMatrix, epsilon)
      const p = ops.softmax(logits)
      const one = ops.constant([1], [])
      const first = soft
        ? ops.sub(ops.mul(p, ops.sum(kept, [1], true)), kept)
        : ops.mul(softmaxResidual(ops, logits, labelMatrix), ops.sub(one, mass))
      const keptClassMask = keptClasses(ops, logits)
      const towardUniform = ops.sub(p, ops.div(keptClassMask, ops.sum(keptClassMask, [1], true)))
      return ops.add(first, ops.mul(towardUniform, mass))
    },
  } satisfies LossTerm)
}
