import { headRows, repeatForHeads } from '../heads.js'
import type { TensorOps } from '../ops.js'
import { bceEntries, sigmoidResidual } from './binaryCrossEntropy.js'
import { crossEntropyPerSample, finiteLogProbabilities, keptClasses, softmaxResidual } from './crossEntropy.js'
import { binaryFocalGradientFactor, binaryFocalTerms, focalSlope, focalTerms } from './focalTerms.js'
import type { LabelTask, LossTerm } from './types.js'

export type { LossTerm } from './types.js'

/**
 * Cross-entropy against the smoothed targets `t'_i = (1 − ε)·t_i + ε·(Σ_c t_ic)/C`, `t_i` the row's
 * label matrix (one-hot `e_{y_i}`, soft targets, or a part of them):
 * `ℓ_i = (1 − ε)·Σ_c t_ic·(−log p_ic) + ε·(Σ_c t_ic)·mean_j(−log p_ij)`, residual `p_i·Σ_c t'_ic − t'_i`
 * (`p_i − t'_i` for one-hot rows, whose target entry is taken in its underflow-safe form).
 * Masked classes (`z = −∞`, docs/spec.md#12-masked-classes) are not classes of their row: they add
 * 0 to the loss, their residual is exactly 0, and the smoothing spreads over the `K_i` classes the
 * row keeps (`C` by `K_i`, the mean over them), as if their columns were dropped.
 */
export const crossEntropyTerm: LossTerm = Object.freeze({
  name: 'cross-entropy',
  task: 'single',
  plain: true,
  value<T>(ops: TensorOps<T>, logits: T, labelMatrix: T, epsilon: number): T {
    const hard = ops.reshape(crossEntropyPerSample(ops, logits, labelMatrix), [-1, 1])
    if (epsilon === 0) return hard
    // The smoothing mass of a row is ε times the row's own mass: 0 on a row that does not count.
    const mass = ops.sum(labelMatrix, [1], true)
    return ops.add(
      ops.mul(hard, ops.constant([1 - epsilon], [])),
      ops.mul(ops.mul(ops.neg(meanOverKept(ops, logits)), mass), ops.constant([epsilon], [])),
    )
  },
  residual<T>(ops: TensorOps<T>, logits: T, labelMatrix: T, epsilon: number, soft = false): T {
    // Hard rows: p − t = (1 − ε)·(p − e_y) + ε·(p − 1/C), the first term in its underflow-safe form.
    // Soft rows: Σ_c t_c·(p − e_c) = p·Σt − t, which has no such form (its entries are not 1).
    const mass = soft ? ops.sum(labelMatrix, [1], true) : undefined
    const hard = mass === undefined ? softmaxResidual(ops, logits, labelMatrix) : ops.sub(ops.mul(ops.softmax(logits), mass), labelMatrix)
    if (epsilon === 0) return hard
    // Toward the uniform target over the classes each row keeps: `1/K_i` on them, 0 on masked ones.
    const kept = keptClasses(ops, logits)
    const towardUniform = ops.sub(ops.softmax(logits), ops.div(kept, ops.sum(kept, [1], true)))
    const smoothing = ops.mul(mass === undefined ? towardUniform : ops.mul(towardUniform, mass), ops.constant([epsilon], []))
    return ops.add(ops.mul(hard, ops.constant([1 - epsilon], [])), smoothing)
  },
})

/**
 * `mean_j log p_ij` over the classes row `i` keeps (`[N, 1]`): `Σ_j k_ij·log p_ij / K_i`, with `k`
 * from {@link keptClasses} and a masked class's `log p = −∞` held finite first, so it adds 0
 * (docs/spec.md#12-masked-classes). Without masked classes, `mean_j log p_ij`.
 */
export function meanOverKept<T>(ops: TensorOps<T>, logits: T): T {
  const kept = keptClasses(ops, logits)
  const logProbabilities = finiteLogProbabilities(ops, ops.logSoftmax(logits))
  return ops.div(ops.sum(ops.mul(logProbabilities, kept), [1], true), ops.sum(kept, [1], true))
}

/**
 * The focal loss (Lin et al., ICCV 2017): the smoothed cross-entropy `H_i` times `(1 − q_i)^γ`, `q_i`
 * the probability of the true class, for `γ > 0`. Residual `(1 − q)^γ·(p − t) + k·(p − e_y)` with
 * `k = γ·q·H·(1 − q)^{γ−1}` (`focalSlope`).
 */
export function focalTerm(gamma: number): LossTerm {
  return Object.freeze({
    name: `focal (γ = ${gamma})`,
    task: 'single',
    plain: false,
    value<T>(ops: TensorOps<T>, logits: T, labelMatrix: T, epsilon: number): T {
      return ops.mul(focalTerms(ops, logits, labelMatrix, gamma).factor, crossEntropyTerm.value(ops, logits, labelMatrix, epsilon))
    },
    residual<T>(ops: TensorOps<T>, logits: T, labelMatrix: T, epsilon: number): T {
      const terms = focalTerms(ops, logits, labelMatrix, gamma)
      const smoothed = crossEntropyTerm.residual(ops, logits, labelMatrix, epsilon)
      const slope = focalSlope(ops, terms, crossEntropyTerm.value(ops, logits, labelMatrix, epsilon), gamma)
      return ops.add(ops.mul(smoothed, terms.factor), ops.mul(softmaxResidual(ops, logits, labelMatrix), slope))
    },
  } satisfies LossTerm)
}

/**
 * Multi-label targets `(1 − ε)·Y + ε/2`, without the `ε/2` at an entry whose logit is `−∞` (a label
 * ruled out for that sample, docs/spec.md#12-masked-classes): smoothing leaves it out, as
 * single-label smoothing leaves out a masked class.
 */
function smoothedBinaryTargets<T>(ops: TensorOps<T>, logits: T, labels: T, epsilon: number): T {
  if (epsilon === 0) return labels
  const spread = ops.mul(keptClasses(ops, logits), ops.constant([epsilon / 2], []))
  return ops.add(ops.mul(labels, ops.constant([1 - epsilon], [])), spread)
}

/** Binary cross-entropy per entry against `t = (1 − ε)·Y + ε/2`; residual `σ(z) − t`. */
export const binaryCrossEntropyTerm: LossTerm = Object.freeze({
  name: 'binary cross-entropy',
  task: 'multi',
  plain: true,
  value<T>(ops: TensorOps<T>, logits: T, labelMatrix: T, epsilon: number): T {
    return bceEntries(ops, logits, smoothedBinaryTargets(ops, logits, labelMatrix, epsilon))
  },
  residual<T>(ops: TensorOps<T>, logits: T, labelMatrix: T, epsilon: number): T {
    return sigmoidResidual(ops, logits, smoothedBinaryTargets(ops, logits, labelMatrix, epsilon))
  },
})

/**
 * The focal binary cross-entropy: each entry's BCE `b` times `(1 − p_t)^γ`, for `γ > 0`; residual
 * `(σ(z) − t)·(1 − p_t)^γ·(1 + γ·b·p_t/(1 − p_t))` (`binaryFocalGradientFactor`).
 */
export function binaryFocalTerm(gamma: number): LossTerm {
  return Object.freeze({
    name: `binary focal (γ = ${gamma})`,
    task: 'multi',
    plain: false,
    value<T>(ops: TensorOps<T>, logits: T, labelMatrix: T, epsilon: number): T {
      const entries = binaryCrossEntropyTerm.value(ops, logits, labelMatrix, epsilon)
      return ops.mul(binaryFocalTerms(ops, logits, labelMatrix, entries, epsilon, gamma).factor, entries)
    },
    residual<T>(ops: TensorOps<T>, logits: T, labelMatrix: T, epsilon: number): T {
      const entries = binaryCrossEntropyTerm.value(ops, logits, labelMatrix, epsilon)
      const terms = binaryFocalTerms(ops, logits, labelMatrix, entries, epsilon, gamma)
      const residual = binaryCrossEntropyTerm.residual(ops, logits, labelMatrix, epsilon)
      return ops.mul(residual, binaryFocalGradientFactor(ops, terms, entries, gamma))
    },
  } satisfies LossTerm)
}

/**
 * The cross-entropy of each of `E` heads (docs/spec.md#313-multi-head-rules), for logits `[N, E·C]`
 * laid out head-major (head `e` is columns `e·C … e·C + C − 1`) and a label matrix `[N, C]`:
 * `ℓ_i = k·Σ_e CE_ε(z_{i,e}, t_i)` (`[N, 1]`), with `k = 1/E` (`'mean'`, BalPoE) or `1`
 * (`'sum'`, SADE), and `CE_ε` the smoothed {@link crossEntropyTerm} of one head. Residual
 * `[N, E·C]`: head `e`'s block is `k·(p(z_{i,e}) − t'_i)`. Each head is scored as a row of its own
 * (`[N·E, C]`), so label smoothing and masked classes act per head as on one head.
 */
export function headsCrossEntropyTerm(heads: number, combine: 'mean' | 'sum'): LossTerm {
  const factor = combine === 'mean' ? 1 / heads : 1
  const scaled = <T>(ops: TensorOps<T>, x: T): T => (factor === 1 ? x : ops.mul(x, ops.constant([factor], [])))
  return Object.freeze({
    name: `cross-entropy of ${heads} heads (${combine})`,
    task: 'single',
    plain: false,
    value<T>(ops: TensorOps<T>, logits: T, labelMatrix: T, epsilon: number): T {
      const c = ops.shape(labelMatrix)[1]!
      const rows = crossEntropyTerm.value(ops, headRows(ops, logits, c), repeatForHeads(ops, labelMatrix, heads), epsilon)
      return scaled(ops, ops.sum(ops.reshape(rows, [-1, heads]), [1], true))
    },
    residual<T>(ops: TensorOps<T>, logits: T, labelMatrix: T, epsilon: number, soft?: boolean): T {
      const c = ops.shape(labelMatrix)[1]!
      const rows = crossEntropyTerm.residual(ops, headRows(ops, logits, c), repeatForHeads(ops, labelMatrix, heads), epsilon, soft)
      return scaled(ops, ops.reshape(rows, [-1, heads * c]))
    },
  } satisfies LossTerm)
}

/** The plain term of a task: cross-entropy (single-label) or binary cross-entropy per entry (multi-label). */
export function plainTerm(task: LabelTask): LossTerm {
  return task === 'single' ? crossEntropyTerm : binaryCrossEntropyTerm
}
