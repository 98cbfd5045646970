import { broadcastShapes } from '../shapes.js'
import { type RefTensor, refTensor, sizeOf, stridesOf } from './tensor.js'

/** Strides of `shape` read as the trailing part of `outShape`, with 0 on broadcast dimensions. */
function broadcastStrides(shape: readonly number[], outShape: readonly number[]): number[] {
  const own = stridesOf(shape)
  const offset = outShape.length - shape.length
  return outShape.map((_, d) => (d < offset || shape[d - offset] === 1 ? 0 : own[d - offset]!))
}

/** Applies `f` element-wise with broadcasting. */
export function binary(a: RefTensor, b: RefTensor, f: (x: number, y: number) => number): RefTensor {
  const shape = broadcastShapes(a.shape, b.shape)
  const n = sizeOf(shape)
  const out = new Float64Array(n)
  const dtype = a.dtype === 'int32' && b.dtype === 'int32' ? 'int32' : 'float32'
  if (a.data.length === n && b.data.length === n) {
    for (let i = 0; i < n; i++) out[i] = f(a.data[i]!, b.data[i]!)
    return refTensor(out, shape, dtype)
  }
  const sa = broadcastStrides(a.shape, shape)
  const sb = broadcastStrides(b.shape, shape)
  const index = new Array<number>(shape.length).fill(0)
  let ia = 0
  let ib = 0
  for (let i = 0; i < n; i++) {
    out[i] = f(a.data[ia]!, b.data[ib]!)
    // Odometer increment over the output index, moving both input offsets along.
    for (let d = shape.length - 1; d >= 0; d--) {
      index[d]!++
      ia += sa[d]!
      ib += sb[d]!
      if (index[d]! < shape[d]!) break
      ia -= sa[d]! * shape[d]!
      ib -= sb[d]! * shape[d]!
      index[d] = 0
    }
  }
  return refTensor(out, shape, dtype)
}

/** Applies `f` to every element. */
export function unary(x: RefTensor, f: (v: number) => number): RefTensor {
  const out = new Float64Array(x.data.length)
  for (let i = 0; i < out.length; i++) out[i] = f(x.data[i]!)
  return refTensor(out, x.shape, x.dtype)
}
