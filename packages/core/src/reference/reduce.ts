import { check } from '../errors.js'
import { type RefTensor, refTensor, sizeOf, stridesOf } from './tensor.js'

/** Reduces `x` over `axes` with an associative `combine`, starting from `init`. */
export function reduce(
  x: RefTensor,
  axes: readonly number[],
  keepDims: boolean,
  init: number,
  combine: (acc: number, v: number) => number,
): RefTensor {
  const rank = x.shape.length
  const axisSet = new Set(axes.map((a) => (a < 0 ? a + rank : a)))
  for (const a of axisSet) check(a >= 0 && a < rank, 'SHAPE_MISMATCH', `axis ${a} out of range for rank ${rank}`)
  const keptShape = x.shape.map((d, i) => (axisSet.has(i) ? 1 : d))
  const outStrides = stridesOf(keptShape)
  const out = new Float64Array(sizeOf(keptShape)).fill(init)
  const inStrides = stridesOf(x.shape)
  for (let i = 0; i < x.data.length; i++) {
    let o = 0
    for (let d = 0; d < rank; d++) {
      if (!axisSet.has(d)) o += (Math.floor(i / inStrides[d]!) % x.shape[d]!) * outStrides[d]!
    }
    out[o] = combine(out[o]!, x.data[i]!)
  }
  const shape = keepDims ? keptShape : x.shape.filter((_, i) => !axisSet.has(i))
  return refTensor(out, shape, x.dtype)
}

/** Applies `f` to each row of the last axis, writing a row of the same length. */
export function mapRows(x: RefTensor, f: (row: Float64Array, out: Float64Array) => void): RefTensor {
  const width = x.shape[x.shape.length - 1] ?? 1
  const out = new Float64Array(x.data.length)
  for (let start = 0; start < x.data.length; start += width) {
    f(x.data.subarray(start, start + width), out.subarray(start, start + width))
  }
  return refTensor(out, x.shape, 'float32')
}

/** Stable `log Σ exp` of a row. */
export function logSumExp(row: ArrayLike<number>): number {
  let m = -Infinity
  for (let j = 0; j < row.length; j++) if (row[j]! > m) m = row[j]!
  if (!Number.isFinite(m)) return m
  let s = 0
  for (let j = 0; j < row.length; j++) s += Math.exp(row[j]! - m)
  return m + Math.log(s)
}
