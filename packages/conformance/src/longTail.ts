/**
 * The long tail every synthetic data set of the suites follows: sizes falling geometrically from the
 * head to the last class, and class ids drawn with the most frequent first.
 */

/**
 * `top · ratio^(−k/(c−1))` for `k = 0 … c−1`: the head at `top`, the last entry `ratio` times
 * smaller. Class counts, label rates and data set sizes are this profile, rounded as each needs.
 */
export function longTailProfile(c: number, top: number, ratio: number): number[] {
  return Array.from({ length: c }, (_, k) => top * ratio ** (-k / Math.max(1, c - 1)))
}

/** Class counts on the long tail, `max(1, ⌊top · ratio^(−k/(c−1))⌋)`: no class is left empty. */
export function longTailCounts(c: number, top: number, ratio: number): number[] {
  return longTailProfile(c, top, ratio).map((n) => Math.max(1, Math.floor(n)))
}

/**
 * A class id in `[0, c)` drawn as `⌊c·r²⌋` from a uniform `r`: class `k` with probability
 * `(√(k+1) − √k)/√c`, so the first classes are the frequent ones and a small batch often misses
 * the last.
 */
export function longTailLabel(rand: () => number, c: number): number {
  return Math.min(c - 1, Math.floor(c * rand() ** 2))
}
