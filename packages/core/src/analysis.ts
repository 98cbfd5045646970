import { repeatForHeads } from './heads.js'
import type { TensorOps } from './ops.js'
import { bceEntries, sigmoidResidual } from './rules/binaryCrossEntropy.js'
import { crossEntropyPerSample, softmaxResidual } from './rules/crossEntropy.js'
import { type LossTerm, binaryCrossEntropyTerm, crossEntropyTerm } from './rules/lossTerms.js'
import type { PerturbedBatch } from './rules/types.js'

/**
 * The unified view of docs/spec.md#2-class-level-logit-perturbation, per class, as tensors: how a rule's perturbation changes
 * each class's loss and how strongly it re-weights its samples. All `[C]` except `sampleWeight`.
 * Single-label rules are measured against cross-entropy (`explainBatch`), multi-label rules
 * label by label against binary cross-entropy (`explainMultiLabelBatch`).
 */
export interface Explanation<T> {
  /**
   * The samples each class's values are averaged over: the samples of the class (single-label);
   * every sample, `N` for each label (multi-label: every sample has a term of every label).
   */
  classCounts: T
  /** `Δ_c = mean_{i: y_i = c} [ℓ(z_i, y_i) − CE(r_i, y_i)]`, `r` the reference logits (0 for absent classes). */
  lossVariation: T
  /** Class mean of the equivalent weight `‖a ⊙ (p(z_i) − e_y)‖ / ‖a_r ⊙ (p(r_i) − e_y)‖`. */
  equivalentWeight: T
  /** Class mean of the target-component summary `a_y (1 − p(z_i)_y) / (a_{r,y} (1 − p(r_i)_y))`. */
  targetWeight: T
  /** The equivalent weight of each sample, `[N]`. */
  sampleWeight: T
  /** Multi-label only: the positives of each label in the batch, `Σ_i Y_ic`. */
  labelPositives?: T
}

/** Keeps ratios of two vanishing quantities finite: they read as 1. */
const RATIO_FLOOR = 1e-12

/**
 * Explains a perturbed batch against its unperturbed reference: plain cross-entropy of the logits
 * `u` (or of `s·u` for a rule with a class-independent scale `s`, as LDAM). First order,
 * `ℓ(u+δ) − ℓ(u) ≈ δ·(p(u) − e_y)`, and the gradient after perturbation is `p(u+δ) − e_y`: a
 * class-level perturbation acts as a class-level re-weighting with the equivalent weights reported
 * here, the ratio of the gradient norms w.r.t. `u` with and without the perturbation (Li et al.,
 * TNNLS 2023, the unified view). Class weights of the rule are not included: they re-weight
 * openly, on top of the perturbation. A rule with `E` heads (perturbed logits `[N, E·C]`) is
 * measured against plain cross-entropy of the mean of its heads' logits (`reference`, the
 * prediction): `Δ_c` compares its combined loss with that of the mean, the weights compare the norm
 * of its gradient over every head, and the target summary sums the heads' target components.
 */
export function explainBatch<T>(
  ops: TensorOps<T>,
  logits: T,
  labels: T,
  batch: PerturbedBatch<T>,
  numClasses: number,
  term: LossTerm = crossEntropyTerm,
  labelMatrix?: T,
): Explanation<T> {
  const c = numClasses
  // The loss's label matrix has zero rows where rows do not count (masked out, ignored): they
  // then join no class.
  const y = labelMatrix ?? ops.oneHot(labels, c)
  const counts = ops.sum(y, [0])
  const classSum = (perSample: T): T =>
    labelMatrix === undefined
      ? ops.segmentSum(perSample, labels, c)
      : ops.reshape(ops.matmul(y, ops.reshape(perSample, [-1, 1]), true), [-1])
  const perClassMean = (perSample: T): T => ops.div(classSum(perSample), ops.maximum(counts, ops.constant([1], [])))
  const reference = batch.reference ?? { logits }
  const one = ops.constant([1], [])
  // The rule's loss term scores the perturbed logits (a focal factor scales the loss and its gradient).
  const rowLoss = term.value(ops, batch.logits, y, 0)
  const perturbedResidual = ops.mul(term.residual(ops, batch.logits, y, 0), batch.logitScale ?? one)
  const variation = ops.sub(ops.reshape(rowLoss, [-1]), crossEntropyPerSample(ops, reference.logits, y))
  const plainResidual = ops.mul(softmaxResidual(ops, reference.logits, y), reference.logitScale ?? one)
  const norm = (x: T): T => ops.sqrt(ops.sum(ops.mul(x, x), [1]))
  const floor = ops.constant([RATIO_FLOOR], [])
  const ratio = (a: T, b: T): T => ops.div(ops.add(a, floor), ops.add(b, floor))
  const sampleWeight = ratio(norm(perturbedResidual), norm(plainResidual))
  // A rule with E heads (perturbed logits [N, E·C]): the targets of every head.
  const heads = ops.shape(batch.logits)[1]! / c
  const yz = heads === 1 ? y : ops.reshape(repeatForHeads(ops, y, heads), [-1, heads * c])
  const target = (x: T, labels: T = y): T => ops.neg(ops.sum(ops.mul(x, labels), [1]))
  return {
    classCounts: counts,
    lossVariation: perClassMean(variation),
    equivalentWeight: perClassMean(sampleWeight),
    targetWeight: perClassMean(ratio(target(perturbedResidual, yz), target(plainResidual))),
    sampleWeight,
  }
}

/**
 * Explains a multi-label perturbed batch label by label against plain binary cross-entropy of the
 * raw logits `u`, entry by entry: the rule's entry loss is `ℓ_ic = w_ic·BCE(z_ic, Y_ic)` and its
 * gradient w.r.t. `u_ic` is `g_ic = w_ic·a_ic·(σ(z_ic) − Y_ic)`, against `BCE(u_ic, Y_ic)` and
 * `σ(u_ic) − Y_ic`. Per label `c`, over all `N` samples (each has a term of every label):
 * - `lossVariation`: `Δ_c = mean_i [ℓ_ic − BCE(u_ic, Y_ic)]`, positive when the rule makes the
 *   label's binary task harder (positive augmentation);
 * - `equivalentWeight`: `mean_i |g_ic| / |σ(u_ic) − Y_ic|`, the re-weighting the rule amounts to;
 * - `targetWeight`: the same ratio averaged over the label's positives only (0 when the batch has none);
 * - `classCounts`: `N` for every label, and `labelPositives`: `Σ_i Y_ic`.
 * `sampleWeight` is `‖g_i‖ / ‖σ(u_i) − Y_i‖` over each sample's row. Ratios of two vanishing
 * gradients read as 1.
 */
export function explainMultiLabelBatch<T>(
  ops: TensorOps<T>,
  logits: T,
  labels: T,
  batch: PerturbedBatch<T>,
  term: LossTerm = binaryCrossEntropyTerm,
): Explanation<T> {
  const one = ops.constant([1], [])
  const weigh = (x: T): T => (batch.entryWeights === undefined ? x : ops.mul(x, batch.entryWeights))
  // The rule's loss term scores each entry (a focal factor scales its loss and its gradient).
  const entries = term.value(ops, batch.logits, labels, 0)
  const residual = term.residual(ops, batch.logits, labels, 0)
  const variation = ops.sub(weigh(entries), bceEntries(ops, logits, labels))
  const perturbedResidual = ops.mul(weigh(residual), batch.logitScale ?? one)
  const plainResidual = sigmoidResidual(ops, logits, labels)
  const floor = ops.constant([RATIO_FLOOR], [])
  const ratio = (a: T, b: T): T => ops.div(ops.add(a, floor), ops.add(b, floor))
  const entryWeight = ratio(ops.abs(perturbedResidual), ops.abs(plainResidual))
  const norm = (x: T): T => ops.sqrt(ops.sum(ops.mul(x, x), [1]))
  const positives = ops.sum(labels, [0])
  return {
    classCounts: ops.sum(ops.add(ops.mul(labels, ops.constant([0], [])), one), [0]),
    lossVariation: ops.mean(variation, [0]),
    equivalentWeight: ops.mean(entryWeight, [0]),
    targetWeight: ops.div(ops.sum(ops.mul(entryWeight, labels), [0]), ops.maximum(positives, one)),
    sampleWeight: ratio(norm(perturbedResidual), norm(plainResidual)),
    labelPositives: positives,
  }
}

/** Whether a class's loss is raised (positive augmentation), lowered (negative), left alone, or absent. */
export type Direction = 'positive' | 'negative' | 'none' | 'absent'

/** One class of a host-side explanation report. */
export interface ClassReport {
  /** The class id `c`, `0 … C−1`. */
  classId: number
  /** The samples `Δ_c` is averaged over: the class's samples in the batch (multi-label: `N`). */
  count: number
  /** The loss variation `Δ_c` (see {@link Explanation.lossVariation}). */
  lossVariation: number
  /** The sign of `Δ_c` beyond the tolerance, or `'absent'` for a class without samples. */
  direction: Direction
  /** The class mean of the equivalent weight (see {@link Explanation.equivalentWeight}); 1: no re-weighting. */
  equivalentWeight: number
  /** The class mean of the target-component summary (see {@link Explanation.targetWeight}). */
  targetWeight: number
}

/** Host values of an {@link Explanation}: each `[C]` field read back as numbers. */
export interface ExplanationValues {
  /** {@link Explanation.classCounts}, `[C]`. */
  classCounts: ArrayLike<number>
  /** {@link Explanation.lossVariation}, `[C]`. */
  lossVariation: ArrayLike<number>
  /** {@link Explanation.equivalentWeight}, `[C]`. */
  equivalentWeight: ArrayLike<number>
  /** {@link Explanation.targetWeight}, `[C]`. */
  targetWeight: ArrayLike<number>
}

/**
 * Turns read-back explanation values into one report per class. `|Δ_c| ≤ tolerance` counts as no
 * change (`'none'`); classes without samples in the batch are `'absent'`.
 */
export function describeClasses(values: ExplanationValues, tolerance = 1e-12): ClassReport[] {
  return Array.from(values.classCounts, (count, classId) => {
    const lossVariation = values.lossVariation[classId]!
    const direction: Direction =
      count === 0 ? 'absent' : lossVariation > tolerance ? 'positive' : lossVariation < -tolerance ? 'negative' : 'none'
    return {
      classId,
      count,
      lossVariation,
      direction,
      equivalentWeight: values.equivalentWeight[classId]!,
      targetWeight: values.targetWeight[classId]!,
    }
  })
}
