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
