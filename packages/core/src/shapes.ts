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

/** Whether two dimensions can be equal at run time. */
export function dimsAgree(a: number, b: number): boolean {
  return a === b || a < 0 || b < 0
}
