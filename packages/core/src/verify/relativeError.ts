/**
 * The largest element-wise error of `actual` against `expected`, relative to the larger of the
 * element's own magnitude and a hundredth of the array's largest magnitude: entries that are tiny
 * next to the rest of the array (a gradient component of 1e-12 beside ones of 0.5) are compared at
 * the array's scale, where float rounding puts their error. Differences are measured against at
 * least `absoluteFloor`, so that two arrays of numbers too small to matter compare as equal.
 */
export function relativeError(actual: ArrayLike<number>, expected: ArrayLike<number>, absoluteFloor = Number.MIN_VALUE): number {
  if (actual.length !== expected.length) return Infinity
  let scale = 0
  for (let i = 0; i < expected.length; i++) scale = Math.max(scale, Math.abs(expected[i]!))
  let worst = 0
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i]!
    const e = expected[i]!
    if (!Number.isFinite(a) || !Number.isFinite(e)) {
      if (!Object.is(a, e)) return Infinity
      continue
    }
    const denominator = Math.max(Math.abs(e), scale * 1e-2, absoluteFloor)
    worst = Math.max(worst, Math.abs(a - e) / denominator)
  }
  return worst
}
