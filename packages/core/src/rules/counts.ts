import { MAX_COUNT, checkClassCounts, checkLabelCounts, checkNumber } from '../validate.js'
/**
 * Host-side statistics of class counts, shared by every rule that reads a prior.
 *
 * Zero counts: a class with no training samples is read as if it had as many as the rarest class
 * that has any (`n_c := min_{n_j > 0} n_j`). This keeps every rule finite (no `log 0`, no division
 * by zero), treats the empty class as the rarest one, which is what every rule of this family
 * would want for it, and, unlike a fixed pseudo-count, does not change when every count is
 * multiplied by the same constant.
 */
export function smoothCounts(counts: readonly number[]): number[] {
  checkClassCounts(counts, undefined)
  const positive = counts.filter((n) => n > 0)
  const floor = Math.min(...positive)
  return counts.map((n) => (n > 0 ? n : floor))
}

/** Class priors `π_c = n_c / Σ n` of the smoothed counts. */
export function priorsFromCounts(counts: readonly number[]): number[] {
  const smoothed = smoothCounts(counts)
  const total = smoothed.reduce((a, b) => a + b, 0)
  return smoothed.map((n) => n / total)
}

/** `log π_c` of the smoothed counts. */
export function logPriorsFromCounts(counts: readonly number[]): number[] {
  return priorsFromCounts(counts).map(Math.log)
}

/**
 * The logit-adjustment shift `τ·log π_c` (`[C]`) of the smoothed counts (Menon et al., ICLR 2021):
 * what logit adjustment adds to the logits in training, post-hoc adjustment subtracts at prediction,
 * VS takes as its additive term and LA-focal adds before its focal factor.
 */
export function logitAdjustmentShift(counts: readonly number[], tau: number): number[] {
  return logPriorsFromCounts(counts).map((l) => tau * l)
}

/**
 * Multi-label priors `π_c = n_c / numSamples` from positives per label `n_c` and the training-set
 * size, each strictly inside `(0, 1)`.
 *
 * Zero counts, and counts equal to `numSamples` (a label on every sample), would give `π = 0` or
 * `π = 1` and an infinite log-odds. As `smoothCounts` does for single-label counts, such a label is
 * read as the nearest informative one: counts are clamped into `[m⁺, numSamples − m⁻]`, with `m⁺`
 * the smallest positive count and `m⁻` the smallest positive number of negatives
 * (`numSamples − n_j`) over the labels. A label without positives then has the prior of the rarest
 * label, a label on every sample that of the most frequent label that is not, and every other
 * label keeps its own count. `parseSpec` refuses counts that leave no label with both positives and
 * negatives (every count 0 or `numSamples`), where no prior can be read.
 */
export function labelPriors(counts: readonly number[], numSamples: number): number[] {
  return clampedLabelCounts(counts, numSamples).map((n) => n / numSamples)
}

/** `log(π_c / (1 − π_c))` of {@link labelPriors}, computed as `log n_c − log(numSamples − n_c)`. */
export function labelLogOdds(counts: readonly number[], numSamples: number): number[] {
  return clampedLabelCounts(counts, numSamples).map((n) => Math.log(n) - Math.log(numSamples - n))
}

function clampedLabelCounts(counts: readonly number[], numSamples: number): number[] {
  checkClassCounts(counts, undefined)
  checkNumber(numSamples, { above: 0, max: MAX_COUNT }, 'numSamples')
  checkLabelCounts(counts, numSamples)
  const positives = counts.filter((n) => n > 0)
  const negatives = counts.map((n) => numSamples - n).filter((m) => m > 0)
  const low = Math.min(...positives)
  const high = numSamples - Math.min(...negatives)
  return counts.map((n) => Math.min(Math.max(n, low), high))
}

/**
 * Deferred re-weighting (DRW) class weights with the effective number of samples (Cui et al.,
 * CVPR 2019): `w_c = (1 − β) / (1 − β^{n_c})`, rescaled so that `Σ_c w_c = C`. Zero counts are
 * smoothed as for the margins, so an empty class gets the weight of the rarest one.
 */
export function drwWeights(classCounts: readonly number[], beta: number): number[] {
  checkNumber(beta, { min: 0, below: 1 }, 'beta')
  const raw = smoothCounts(classCounts).map((n) => (1 - beta) / (1 - beta ** n))
  const total = raw.reduce((a, b) => a + b, 0)
  return raw.map((w) => (w * raw.length) / total)
}
