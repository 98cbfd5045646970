import { check } from './errors.js'

/**
 * NumPy broadcasting of two shapes. A dimension may be `-1`, a size known only at run time (the
 * batch dimension of a symbolic graph): a known size `k > 1` wins over `-1` (the runtime must then
 * supply `k` or 1), `1` gives way to anything, and two dynamic sizes stay dynamic. Shapes that
 * cannot fit at any size throw `SHAPE_MISMATCH`.
 */
export function broadcastShapes(a: readonly number[], b: readonly number[]): number[] {
  for (const [shape, name] of [
    [a, 'a'],
    [b, 'b'],
  ] as const) {
    check(
      Array.isArray(shape) && shape.every((d) => Number.isInteger(d) && d >= -1),
      'SHAPE_MISMATCH',
      `shape ${name} must be a list of integer sizes (−1 for a size known at run time), got [${String(shape)}]`,
    )
  }
  const rank = Math.max(a.length, b.length)
  const out = new Array<number>(rank)
  for (let i = 0; i < rank; i++) {
    const da = a[a.length - rank + i] ?? 1
    const db = b[b.length - rank + i] ?? 1
    check(
      da === db || da === 1 || db === 1 || da < 0 || db < 0,
      'SHAPE_MISMATCH',
      `shapes [${a.join(', ')}] and [${b.join(', ')}] cannot be broadcast together`,
    )
    out[i] = da === 1 ? db : db === 1 ? da : da < 0 ? db : da
  }
  return out
}

/**
 * Static shape arithmetic of the symbolic backends (ONNX, PyTorch). A dimension is a non-negative size or `-1`, a
 * size known only when the graph runs (the batch dimension `N` of an exported loss). Every rule
 * below keeps `-1` where the size cannot be known and refuses shapes that cannot fit at any size.
 */

/** Number of elements, or `-1` when a dimension is dynamic. */
export function staticSize(shape: readonly number[]): number {
  return shape.some((d) => d < 0) ? -1 : shape.reduce((a, b) => a * b, 1)
}

/** Axes made non-negative and checked against the rank. */
export function normalizeAxes(axes: readonly number[], rank: number): number[] {
  return axes.map((a) => {
    const ax = a < 0 ? a + rank : a
    check(Number.isInteger(ax) && ax >= 0 && ax < rank, 'SHAPE_MISMATCH', `axis ${a} out of range for rank ${rank}`)
    return ax
  })
}

/** The shape after reducing `axes` (non-negative), with or without the reduced dimensions kept as 1. */
export function reducedShape(shape: readonly number[], axes: readonly number[], keepDims: boolean): number[] {
  const set = new Set(axes)
  return keepDims ? shape.map((d, i) => (set.has(i) ? 1 : d)) : shape.filter((_, i) => !set.has(i))
}

/**
 * The static result of a reshape to `target` (one entry may be `-1`). With a fully known input the
 * `-1` is resolved and the sizes must agree; with a dynamic input it stays `-1`.
 */
export function reshapedShape(shape: readonly number[], target: readonly number[]): number[] {
  const free = target.filter((d) => d === -1).length
  check(
    free <= 1 && target.every((d) => Number.isInteger(d) && d >= -1),
    'SHAPE_MISMATCH',
    `cannot reshape to [${target.join(', ')}]: at most one -1 and no other negative size`,
  )
  const size = staticSize(shape)
  if (size < 0) return [...target]
  const known = target.filter((d) => d !== -1).reduce((a, b) => a * b, 1)
  const resolved = target.map((d) => (d === -1 ? size / known : d))
  check(
    resolved.every(Number.isInteger) && resolved.reduce((a, b) => a * b, 1) === size,
    'SHAPE_MISMATCH',
    `cannot reshape [${shape.join(', ')}] to [${target.join(', ')}]`,
  )
  return resolved
}

/** The shape after permuting the axes by `perm` (a permutation of `0 … rank−1`); `SHAPE_MISMATCH` otherwise. */
export function transposedShape(shape: readonly number[], perm: readonly number[]): number[] {
  check(
    perm.length === shape.length && [...perm].sort((a, b) => a - b).every((a, i) => a === i),
    'SHAPE_MISMATCH',
    `transpose needs a permutation of the ${shape.length} axes, got [${perm.join(', ')}]`,
  )
  return perm.map((a) => shape[a]!)
}

/** Whether two dimensions can be equal at run time. */
export function dimsAgree(a: number, b: number): boolean {
  return a === b || a < 0 || b < 0
}

/**
 * Checks the data of a symbolic backend's constant: a known shape (no `-1`), as many values as it
 * holds, and 32-bit integers for `int32`. Throws `SHAPE_MISMATCH` or `INVALID_PARAMETER`.
 */
export function checkConstant(data: ArrayLike<number>, shape: readonly number[], dtype: 'float32' | 'int32'): void {
  check(
    shape.every((d) => Number.isInteger(d) && d >= 0),
    'SHAPE_MISMATCH',
    `a constant needs a known shape, got [${shape.join(', ')}]`,
  )
  const n = shape.reduce((a, b) => a * b, 1)
  check(data.length === n, 'SHAPE_MISMATCH', `${data.length} values do not fill shape [${shape.join(', ')}]`)
  if (dtype !== 'int32') return
  for (let i = 0; i < n; i++) {
    check(
      Number.isInteger(data[i]!) && Math.abs(data[i]!) < 2 ** 31,
      'INVALID_PARAMETER',
      `int32 constant value ${data[i]} at index ${i} is not a 32-bit integer`,
    )
  }
}

/** The shape `[m, n]` of a 2-D matrix product of `a` and `b`, either transposed; `SHAPE_MISMATCH` if they do not fit. */
export function matmulShape(a: readonly number[], b: readonly number[], transposeA: boolean, transposeB: boolean): [number, number] {
  check(a.length === 2 && b.length === 2, 'SHAPE_MISMATCH', `matmul needs two rank-2 tensors, got [${a.join(', ')}] and [${b.join(', ')}]`)
  const [m, k] = transposeA ? [a[1]!, a[0]!] : [a[0]!, a[1]!]
  const [k2, n] = transposeB ? [b[1]!, b[0]!] : [b[0]!, b[1]!]
  check(dimsAgree(k, k2), 'SHAPE_MISMATCH', `matmul inner dimensions ${k} and ${k2} differ`)
  return [m, n]
}

/**
 * The shape `[numSegments, ...]` of a segment sum of rows `data` by `ids` (`[N]`), whose trailing
 * dimensions must be known; `INVALID_PARAMETER` or `SHAPE_MISMATCH` otherwise.
 */
export function segmentSumShape(data: readonly number[], ids: readonly number[], numSegments: number): number[] {
  check(
    Number.isInteger(numSegments) && (numSegments > 0 || numSegments === -1),
    'INVALID_PARAMETER',
    `numSegments must be a positive integer (or -1 for a count known at run time), got ${numSegments}`,
  )
  check(
    data.length >= 1 && ids.length === 1 && dimsAgree(ids[0]!, data[0]!),
    'SHAPE_MISMATCH',
    `segmentSum needs one id per row: ids [${ids.join(', ')}], rows [${data.join(', ')}]`,
  )
  const inner = data.slice(1)
  check(
    inner.every((d) => d >= 0),
    'SHAPE_MISMATCH',
    `segmentSum needs static trailing dimensions, got [${data.join(', ')}]`,
  )
  return [numSegments, ...inner]
}
