import type { TraceLayout } from '@logit-perturb/core/backend'
import type { SymbolicOps } from './symbolicOps.js'
import type { SymbolicTensor } from './tensor.js'

/**
 * The dense layout of the ONNX graph (the trace's `layout`): the rank of the logits is static, their
 * trailing sizes are not, so the way to rows is `Transpose` then `Reshape` to `[-1, C]`, and the way
 * back reshapes to the logits' own sizes, read at run time:
 *
 *     rows      = Reshape(Transpose(x, [0, 2, …, k+1, 1]), [-1, C])          [N, C, d…] → [M, C]
 *     back      = Transpose(Reshape(rows, Gather(Shape(like), perm)), perm⁻¹)  [M, C] → [N, C, d…]
 *     positions = Reshape(x, [-1]);  back: Reshape(r, Gather(Shape(like), [0, 2, …, k+1]))
 */
export function onnxDenseLayout(ops: SymbolicOps): TraceLayout<SymbolicTensor> {
  const { graph } = ops
  /** Class axis last: `[0, 2, …, rank − 1, 1]`, the core's row order. */
  const classesLast = (rank: number) => [0, ...Array.from({ length: rank - 2 }, (_, k) => k + 2), 1]
  /** `x` reshaped to the sizes of `like`'s `axes`, read when the graph runs. */
  const reshapeToAxes = (x: SymbolicTensor, like: SymbolicTensor, axes: readonly number[]): SymbolicTensor => {
    const shape = graph.op('Shape', [like.name])
    const sizes = graph.op('Gather', [shape, graph.constant('int64', [axes.length], axes)], [{ name: 'axis', kind: 'int', value: 0 }])
    return { graph, name: graph.op('Reshape', [x.name, sizes]), shape: axes.map((a) => like.shape[a]!), dtype: x.dtype }
  }
  return {
    entries: (x) => ops.reshape(ops.transpose(x, classesLast(x.shape.length)), [-1, x.shape[1]!]),
    positions: (x) => ops.reshape(x, [-1]),
    entriesBack(x, like) {
      const perm = classesLast(like.shape.length)
      return ops.transpose(
        reshapeToAxes(x, like, perm),
        perm.map((_, k) => perm.indexOf(k)),
      )
    },
    positionsBack: (x, like) =>
      reshapeToAxes(
        x,
        like,
        like.shape.map((_, k) => k).filter((k) => k !== 1),
      ),
  }
}
