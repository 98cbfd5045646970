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
