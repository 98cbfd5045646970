/**
 * Central differences `(f(x + h e_k) − f(x − h e_k)) / 2h`: the gradient of a scalar function,
 * entry by entry, to check a closed-form or automatic gradient against. Their error is `O(h²)` from
 * the function's curvature plus about `ε|f|/h` from rounding, so the step is the caller's to choose
 * for its function's scale.
 */

/** `x` as a flat copy with `d` added to entry `k`. */
function moved(x: ArrayLike<number>, k: number, d: number): Float64Array {
  const out = Float64Array.from(x)
  out[k]! += d
  return out
}

/** Rows of `c` entries of a flat array. */
function rowsOf(flat: Float64Array, c: number): number[][] {
  return Array.from({ length: flat.length / c }, (_, i) => Array.from(flat.subarray(i * c, (i + 1) * c)))
}

/**
 * Central differences of `f` at `x`, flat in `x`'s order. `x` is a flat array, and `f` is given
 * flat arrays, or `x` is rows `[N][C]`, and `f` is given rows.
 */
export function centralDifference(f: (x: number[][]) => number, x: readonly (readonly number[])[], h: number): Float64Array
export function centralDifference(f: (x: Float64Array) => number, x: ArrayLike<number>, h: number): Float64Array
export function centralDifference(f: (x: never) => number, x: ArrayLike<number> | readonly (readonly number[])[], h: number): Float64Array {
  const { flat, at } = flatten(f, x)
  return Float64Array.from(flat, (_, k) => (at(moved(flat, k, h)) - at(moved(flat, k, -h))) / (2 * h))
}

/** {@link centralDifference} of a function computed asynchronously (a value read back from a backend). */
export async function centralDifferenceAsync(
  f: (x: Float64Array) => Promise<number>,
  x: ArrayLike<number>,
  h: number,
): Promise<Float64Array> {
  const out = new Float64Array(x.length)
  for (let k = 0; k < x.length; k++) out[k] = ((await f(moved(x, k, h))) - (await f(moved(x, k, -h)))) / (2 * h)
  return out
}

/** `x` flat, and `f` as a function of flat arrays. */
function flatten(
  f: (x: never) => number,
  x: ArrayLike<number> | readonly (readonly number[])[],
): { flat: Float64Array; at: (x: Float64Array) => number } {
  if (!isRows(x)) return { flat: Float64Array.from(x), at: f as (x: Float64Array) => number }
  const c = x[0]?.length ?? 0
  return { flat: Float64Array.from(x.flat()), at: (moved) => (f as (x: number[][]) => number)(rowsOf(moved, c)) }
}

function isRows(x: ArrayLike<number> | readonly (readonly number[])[]): x is readonly (readonly number[])[] {
  return Array.isArray(x[0])
}
