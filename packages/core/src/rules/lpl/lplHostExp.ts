/**
 * A pass takes `exp(x)` as its degree-5 series (relative error below 2e-15) when a bound on its
 * largest move is at most this, else {@link fastExp}.
 */
export const SERIES_BOUND = 1e-2

/** `exp(x)` for `|x| ≤ SERIES_BOUND` (Estrin's scheme: short dependency chains). */
export function seriesExp(x: number): number {
  const x2 = x * x
  return 1 + x + x2 * (1 / 2 + x * (1 / 6)) + x2 * x2 * (1 / 24 + x * (1 / 120))
}

/** `2^(j/64)`, `j = 0 … 63`. */
const EXP_FRACTIONS = Float64Array.from({ length: 64 }, (_, j) => 2 ** (j / 64))

/** `2^(e − 1100)`: 0 below the subnormals, Infinity above the range. */
const EXP_POWERS = Float64Array.from({ length: 2201 }, (_, e) => 2 ** (e - 1100))

/** `ln 2/64` in two parts (fdlibm's `ln2_hi`, `ln2_lo` over 64): `k·HI` is exact for `|k| < 2^21`. */
const LN2_64_HI = 6.9314718036912382e-1 / 64

const LN2_64_LO = 1.9082149292705877e-10 / 64

/**
 * `exp(x)` within 2 ulp: `x = k·ln2/64 + r`, `|r| ≤ ln2/128`, `exp(x) = 2^(k/64)·(series in r)`.
 * Inlined into the loops that call it, it costs a fraction of `Math.exp`.
 */
export function fastExp(x: number): number {
  // Clamped to where the result is 0 or Infinity anyway (NaN passes).
  const v = Math.min(Math.max(x, -746), 710)
  const k = Math.floor(v * (64 / Math.LN2) + 0.5)
  const r = v - k * LN2_64_HI - k * LN2_64_LO
  const r2 = r * r
  return (1 + r + r2 * (1 / 2 + r * (1 / 6)) + r2 * r2 * (1 / 24 + r * (1 / 120))) * EXP_FRACTIONS[k & 63]! * EXP_POWERS[(k >> 6) + 1100]!
}
