import type { TensorOps } from '../ops.js'

/** What {@link classSums} needs of a call: the class ids and the rows that count. */
export interface CountedRows<T> {
  /** Class ids `[N]` (int32). */
  labels: T
  /** The class count `C`. */
  numClasses: number
  /** `[N, 1]` float: 1 for a row that counts, 0 for a masked-out one; undefined: every row counts. */
  rowMask: T | undefined
  /** The sum across workers of a statistic of this worker's rows (`LossContext.batchSum`); absent: one worker. */
  batchSum?: ((x: T) => T) | undefined
}

/**
 * The sum over the batch of each class's counted rows, `S_c = Σ_{i: y_i = c, m_i = 1} x_i`:
 * `[C]` for `x` `[N]`, `[C, D]` for `x` `[N, D]`. Every per-class batch statistic of a rule (LPL's
 * class gradients and confidences, the released code's class means) is taken here, so that a
 * masked-out row takes no part in any of them (docs/spec.md#8-reductions-sample-weights-and-masks).
 * Cost `O(N·D)`: a segment sum, never the `O(N·C·D)` product with the one-hot matrix.
 */
export function classSums<T>(ops: TensorOps<T>, x: T, rows: CountedRows<T>): T {
  const rank = ops.shape(x).length
  const counted = rows.rowMask === undefined ? x : ops.mul(x, rank === 1 ? ops.reshape(rows.rowMask, [-1]) : rows.rowMask)
  const sums = ops.segmentSum(counted, rows.labels, rows.numClasses)
  return rows.batchSum === undefined ? sums : rows.batchSum(sums)
}

/**
 * `n_c`, the number of counted rows of each class (`[C]`), from the label matrix (masked rows are
 * zero there), summed across workers like {@link classSums}.
 */
export function classCounts<T>(ops: TensorOps<T>, labelMatrix: T, rows: CountedRows<T>): T {
  const counts = ops.sum(labelMatrix, [0])
  return rows.batchSum === undefined ? counts : rows.batchSum(counts)
}
