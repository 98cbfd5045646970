import type { TraceLayout } from '@logit-perturb/core/backend'
import type { PythonOps } from './pythonOps.js'
import type { PyTensor } from './tensor.js'

/**
 * The dense layout of the PyTorch module (the trace's `layout`), for any number of trailing axes,
 * read when the module runs, as `F.cross_entropy` takes them:
 *
 *     rows      = x.movedim(1, -1).reshape(-1, C)                               [N, C, d…] → [M, C]
 *     back      = rows.reshape(logits.movedim(1, -1).shape).movedim(-1, 1)      [M, C] → [N, C, d…]
 *     positions = x.reshape(-1);  back: r.reshape(logits.shape[:1] + logits.shape[2:])
 *
 * Logits `[N, C]` pass through the same lines unchanged (views, no copy).
 */
export function pythonDenseLayout(ops: PythonOps): TraceLayout<PyTensor> {
  const { program } = ops
  const bind = (stem: string, code: string, like: PyTensor, shape: readonly number[]): PyTensor =>
    program.bind(stem, code, (expr) => ({ program, expr, shape: [...shape], dtype: like.dtype }))
  return {
    entries: (x) => bind('rows', `${x.expr}.movedim(1, -1).reshape(-1, ${x.shape[1]})`, x, [-1, x.shape[1]!]),
    positions: (x) => bind('positions', `${x.expr}.reshape(-1)`, x, [-1]),
    entriesBack: (x, like) => bind('entries', `${x.expr}.reshape(${like.expr}.movedim(1, -1).shape).movedim(-1, 1)`, x, like.shape),
    positionsBack: (x, like) => bind('per_position', `${x.expr}.reshape(${like.expr}.shape[:1] + ${like.expr}.shape[2:])`, x, [-1]),
  }
}
