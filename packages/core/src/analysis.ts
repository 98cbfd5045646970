import type { TensorOps } from './ops.js'
import { crossEntropyPerSample, softmaxResidual } from './rules/crossEntropy.js'
import type { PerturbedBatch } from './rules/types.js'

/**
 * The unified view of SPEC.md section 2, per class, as tensors: how a rule's perturbation changes
 * each class's loss and how strongly it re-weights its samples. All `[C]` except `sampleWeight`.
 */
export interface Explanation<T> {
  /** Samples of each class in the batch. */
  classCounts: T
  /** `Δ_c = mean_{i: y_i = c} [ℓ(z_i, y_i) − CE(r_i, y_i)]`, `r` the reference logits (0 for absent classes). */
  lossVariation: T
  /** Class mean of the equivalent weight `‖a ⊙ (p(z_i) − e_y)‖ / ‖a_r ⊙ (p(r_i) − e_y)‖`. */
  equivalentWeight: T
  /** Class mean of the target-component summary `a_y (1 − p(z_i)_y) / (a_{r,y} (1 − p(r_i)_y))`. */
  targetWeight: T
  /** The equivalent weight of each sample, `[N]`. */
  sampleWeight: T
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
 * openly, on top of the perturbation.
 */
export function explainBatch<T>(ops: TensorOps<T>, logits: T, labels: T, batch: PerturbedBatch<T>, numClasses: number): Explanation<T> {
  const c = numClasses
  const y = ops.oneHot(labels, c)
  const counts = ops.sum(y, [0])
  const perClassMean = (perSample: T): T =>
    ops.div(ops.segmentSum(perSample, labels, c), ops.maximum(counts, ops.constant([1], [])))
  const reference = batch.reference ?? { logits }
  const one = ops.constant([1], [])
  const variation = ops.sub(crossEntropyPerSample(ops, batch.logits, y), crossEntropyPerSample(ops, reference.logits, y))
  const perturbedResidual = ops.mul(softmaxResidual(ops, batch.logits, y), batch.logitScale ?? one)
  const plainResidual = ops.mul(softmaxResidual(ops, reference.logits, y), reference.logitScale ?? one)
  const norm = (x: T): T => ops.sqrt(ops.sum(ops.mul(x, x), [1]))
  const floor = ops.constant([RATIO_FLOOR], [])
  const ratio = (a: T, b: T): T => ops.div(ops.add(a, floor), ops.add(b, floor))
  const sampleWeight = ratio(norm(perturbedResidual), norm(plainResidual))
  const target = (x: T): T => ops.neg(ops.sum(ops.mul(x, y), [1]))
  return {
    classCounts: counts,
    lossVariation: perClassMean(variation),
    equivalentWeight: perClassMean(sampleWeight),
    targetWeight: perClassMean(ratio(target(perturbedResidual), target(plainResidual))),
    sampleWeight,
  }
}

/** Whether a class's loss is raised (positive augmentation), lowered (negative), left alone, or absent. */
export type Direction = 'positive' | 'negative' | 'none' | 'absent'

/** One class of a host-side explanation report. */
export interface ClassReport {
  classId: number
  count: number
  lossVariation: number
  direction: Direction
  equivalentWeight: number
  targetWeight: number
}

/** Host values of an {@link Explanation}: each `[C]` field read back as numbers. */
export interface ExplanationValues {
  classCounts: ArrayLike<number>
  lossVariation: ArrayLike<number>
  equivalentWeight: ArrayLike<number>
  targetWeight: ArrayLike<number>
}

/**
 * Turns read-back explanation values into one report per class. `|Δ_c| ≤ tolerance` counts as no
 * change (`'none'`); classes without samples in the batch are `'absent'`.
 */
export function describeClasses(values: ExplanationValues, tolerance = 1e-12): ClassReport[] {
  return Array.from(values.classCounts, (count, classId) => {
    const lossVariation = values.lossVariation[classId]!
    const direction: Direction = count === 0
      ? 'absent'
      : lossVariation > tolerance ? 'positive' : lossVariation < -tolerance ? 'negative' : 'none'
    return {
      classId, count, lossVariation, direction,
      equivalentWeight: values.equivalentWeight[classId]!,
      targetWeight: values.targetWeight[classId]!,
    }
  })
}
