import type { TensorOps } from '../ops.js'

/**
 * The identity `[C, C]`, as `[j = k]` of two `[C]` index vectors: a graph backend (ONNX) then embeds
 * `2·C` numbers, not `C²` (4 MB at C = 1000, in every step of the released code's search).
 */
export function identityClassMatrix<T>(ops: TensorOps<T>, c: number): T {
  const ids = Float64Array.from({ length: c }, (_, k) => k)
  return ops.equal(ops.constant(ids, [c, 1]), ops.constant(ids, [1, c]))
}
