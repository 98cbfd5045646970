import { named } from './control.js'
import { FLOAT32_FLOOR } from './numerics.js'
import type { TensorOps } from './ops.js'
import type { LossTerm } from './rules/lossTerms.js'
import type { LabelTask, PerturbedBatch } from './rules/types.js'

/** The floor of a reduction's normalizer: a float32 normal number, so `0/0` never happens. */
const MIN_TOTAL = FLOAT32_FLOOR

/**
 * How a loss reduces its per-sample losses `r_i` (docs/spec.md#8-reductions-sample-weights-and-masks):
 * `'mean'` `Σ_i r_i / Σ_i m_i` (the default), `'sum'` `Σ_i r_i`, `'none'` the vector `r` (`[N]`).
 */
export type Reduction = 'mean' | 'sum' | 'none'

/** What {@link rowShares} needs besides the perturbed batch: the labels and the call's row weights. */
export interface RowWeights<T> {
  /** Single-label: one-hot `[N, C]`, zero rows where masked out; multi-label: the 0/1 labels `[N, C]`. */
  labelMatrix: T
  /** `m`, `[N, 1]` float: 1 for counted rows; absent: every row counts. */
  rowMask: T | undefined
  /** `s`, `[N]`: the caller's sample weights; absent: 1. */
  sampleWeight: T | undefined
  /**
   * Whether `labelMatrix` holds soft targets (or a part of them), whose rows need not sum to 1:
   * then a counted row is one the mask keeps, whatever its mass. Absent: one-hot rows.
   */
  soft?: boolean
  /**
   * The scored targets of every part of the call (the top-two split of soft targets, each part's
   * hard rows times their values), whose class weights make one normaliser `Σ_k Σ_j (S_k·w)_j`;
   * absent: `labelMatrix` alone.
   */
  parts?: readonly T[]
  /**
   * The sum across workers (`LossContext.batchSum`) of the normalizers `Σ_j v_j` and `Σ_j m_j`, so
   * that the workers' losses add up to the loss of the whole batch; absent: one worker.
   */
  batchSum?: ((x: T) => T) | undefined
}

/**
 * The share of row `i` in the reduced loss, `[N, 1]`, with `m` the mask, `s` the sample weights and
 * `v_i = w_{y_i}` the rule's class weight of the row (single-label rules that weight classes):
 *
 *     mean, no class weights:   s_i·m_i / Σ_j m_j
 *     mean, class weights:      s_i·v_i / Σ_j v_j          (v_j = 0 on masked-out rows)
 *     sum or none:              the same times Σ_j m_j     (so that mean(r) over counted rows is the mean loss)
 *
 * With `s = 1` and no mask, the mean is the rule's loss: `Σ w_{y_i} ℓ_i / Σ w_{y_i}`, or the plain mean.
 */
export function rowShares<T>(ops: TensorOps<T>, task: LabelTask, batch: PerturbedBatch<T>, inp: RowWeights<T>, reduction: Reduction): T {
  const counted = countedRows(ops, task, inp)
  const c = ops.shape(inp.labelMatrix)[1]!
  const weights = task === 'single' ? batch.classWeights : undefined
  const weighted = (m: T) => (weights === undefined ? m : ops.matmul(m, ops.reshape(weights, [c, 1])))
  const raw = weights === undefined ? counted : weighted(inp.labelMatrix)
  const sum = (x: T) => ops.sum(x, [0, 1], true)
  const total = (x: T) => (inp.batchSum === undefined ? x : inp.batchSum(x))
  const normalizer =
    weights === undefined || inp.parts === undefined ? sum(raw) : inp.parts.map((m) => sum(weighted(m))).reduce((a, b) => ops.add(a, b))
  // A batch whose rows are all masked out has loss 0 and gradient 0, not 0/0.
  let share = ops.div(raw, ops.maximum(total(normalizer), ops.constant([MIN_TOTAL], [])))
  if (reduction !== 'mean') share = ops.mul(share, total(sum(counted)))
  return inp.sampleWeight === undefined ? share : ops.mul(share, ops.reshape(inp.sampleWeight, [-1, 1]))
}

/**
 * How a rule's batch term (`BatchTerm`, docs/spec.md#86-batch-terms) enters the reduced loss, with
 * `m` the counted rows, `s` the sample weights (1 when absent) and `M = Σ_j m_j` (summed across
 * workers):
 *
 *     share_i = s_i·m_i / M     (mean)        share_i = s_i·m_i     (sum, none)
 *
 * the part of the term's value row `i` carries: the term is spread evenly over the counted rows, so
 * that the workers' losses add up to the whole batch's and the mean of the per-sample losses of
 * `'none'` is the mean loss, and a row's sample weight weights its part as it weights its loss (a
 * trainer that weights the per-sample losses itself gets the same). `scale` is the factor of the
 * term's gradient, `Σ_i share_i` over every worker: 1 for the unweighted mean (0 when no row counts),
 * `M` for the unweighted sum. The weights do not enter the term's statistics.
 */
export function batchTermShares<T>(ops: TensorOps<T>, task: LabelTask, inp: RowWeights<T>, reduction: Reduction): { share: T; scale: T } {
  const counted = countedRows(ops, task, inp)
  const total = (x: T) => (inp.batchSum === undefined ? x : inp.batchSum(x))
  const sum = (x: T) => ops.sum(x, [0, 1], true)
  const weighted = inp.sampleWeight === undefined ? counted : ops.mul(counted, ops.reshape(inp.sampleWeight, [-1, 1]))
  const mass = total(sum(weighted))
  if (reduction !== 'mean') return { share: weighted, scale: ops.reshape(mass, []) }
  const normalizer = ops.maximum(inp.sampleWeight === undefined ? mass : total(sum(counted)), ops.constant([MIN_TOTAL], []))
  return { share: ops.div(weighted, normalizer), scale: ops.reshape(ops.div(mass, normalizer), []) }
}

/**
 * `m` as an `[N, 1]` float tensor, also without a mask: then built from the labels, since a
 * symbolic backend knows `N` only at run time. A single-label row of the one-hot matrix sums to
 * `m_i` (masked-out rows are zero); any other row (multi-label entries, soft targets) times 0,
 * plus 1, is 1.
 */
function countedRows<T>(ops: TensorOps<T>, task: LabelTask, inp: RowWeights<T>): T {
  if (task === 'single' && !inp.soft) return ops.sum(inp.labelMatrix, [1], true)
  if (inp.rowMask !== undefined) return inp.rowMask
  return ops.add(ops.mul(ops.sum(inp.labelMatrix, [1], true), ops.constant([0], [])), ops.constant([1], []))
}

/**
 * The per-sample losses before weighting, `ℓ_i` (`[N, 1]`), as the batch's loss term scores them
 * ({@link LossTerm}, with label smoothing `ε`): the term's per-sample value (single-label), or
 * `(1/C) Σ_c w_ic·ℓ_ic` over the term's per-entry values (multi-label). Their mean is the rule's loss.
 */
function perSampleLoss<T>(ops: TensorOps<T>, term: LossTerm, batch: PerturbedBatch<T>, labelMatrix: T, epsilon: number): T {
  const value = term.value(ops, batch.logits, labelMatrix, epsilon)
  if (term.task === 'single') return value
  return ops.mean(batch.entryWeights === undefined ? value : ops.mul(value, batch.entryWeights), [1], true)
}

/**
 * The reduced loss of a perturbed batch: `Σ_i share_i·ℓ_i` (a scalar) for `'mean'` and `'sum'`,
 * the vector `share_i·ℓ_i` (`[N]`) for `'none'` (docs/spec.md#8-reductions-sample-weights-and-masks),
 * with `ℓ` the loss term's per-sample losses, `share` from {@link rowShares} for the same reduction
 * and `ε` the label smoothing.
 */
export function reducedLoss<T>(
  ops: TensorOps<T>,
  term: LossTerm,
  batch: PerturbedBatch<T>,
  labelMatrix: T,
  epsilon: number,
  share: T,
  reduction: Reduction,
): T {
  const weighted = ops.mul(named(ops, perSampleLoss(ops, term, batch, labelMatrix, epsilon), 'per_sample'), named(ops, share, 'share'))
  return reduction === 'none' ? ops.reshape(weighted, [-1]) : ops.sum(weighted, [0, 1])
}

/**
 * The closed-form gradient of {@link reducedLoss} w.r.t. the unperturbed logits `u` (`[N, C]`),
 * when the perturbation is a constant for the gradient: `share_i · a ⊙ r_i` (single-label),
 * `share_i · w_ic·a_ic·r_ic / C` (multi-label), with `r` the loss term's residual `∂ℓ/∂z`
 * (`p − t` for cross-entropy against the smoothed targets `t`) and `a = ∂z/∂u` the logit scale;
 * `share` is the loss's own ({@link rowShares}). For `'none'`, row `i` is the gradient of `r_i`,
 * which depends on row `i` only.
 */
export function closedFormBatchGradient<T>(
  ops: TensorOps<T>,
  term: LossTerm,
  batch: PerturbedBatch<T>,
  labelMatrix: T,
  epsilon: number,
  share: T,
  soft = false,
): T {
  const residual = term.residual(ops, batch.logits, labelMatrix, epsilon, soft)
  let out: T
  if (term.task === 'single') {
    out = ops.mul(residual, share)
  } else {
    const c = ops.shape(labelMatrix)[1]!
    out = ops.mul(residual, ops.div(share, ops.constant([c], [])))
    if (batch.entryWeights !== undefined) out = ops.mul(out, batch.entryWeights)
  }
  return batch.logitScale === undefined ? out : ops.mul(out, batch.logitScale)
}
