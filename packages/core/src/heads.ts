import { check } from './errors.js'
import type { TensorOps } from './ops.js'

/**
 * Multi-head logits (docs/spec.md#313-multi-head-rules): a rule with `E` heads (`Rule.heads`, the
 * experts of BalPoE and SADE) takes logits `[N, E·C]`, head-major: columns `e·C … e·C + C − 1` are
 * head `e`'s logits of the `C` classes. Its prediction is the arg-max of the mean of the heads'
 * logits, `ū_i = (1/E)·Σ_e u_{i,e}` ({@link meanOfHeads}, {@link meanOfHeadRows}).
 */

/**
 * The mean of the heads' logits, `ū = (1/E)·Σ_e u_e` (`[N, C]`), of logits `[N, E·C]` laid out
 * head-major: what a multi-head rule predicts with (`argmax_c ū_ic`). `heads = 1`: the logits.
 */
export function meanOfHeads<T>(ops: TensorOps<T>, logits: T, heads: number): T {
  if (heads === 1) return logits
  const width = ops.shape(logits)[1]!
  const c = width / heads
  check(Number.isInteger(c) && c > 0, 'LOGITS_SHAPE', `logits of ${width} columns are not ${heads} heads of the same class count`, 'logits')
  return ops.mean(ops.reshape(logits, [-1, heads, c]), [1])
}

/**
 * Host rows of multi-head logits (`[N][E·C]`, head-major) as the mean of their heads (`[N][C]`):
 * `ū_ic = (1/E)·Σ_e u_{i,e·C+c}`. `heads = 1`: the rows themselves. Throws `LOGITS_SHAPE` when a
 * row's width is not a multiple of `heads`.
 */
export function meanOfHeadRows(logits: readonly (readonly number[])[], heads: number): number[][] {
  check(Number.isInteger(heads) && heads >= 1, 'INVALID_PARAMETER', `must be an integer ≥ 1, got ${heads}`, 'heads')
  return logits.map((row, i) => {
    const c = row.length / heads
    check(
      Number.isInteger(c) && c > 0,
      'LOGITS_SHAPE',
      `row ${i} has ${row.length} logits, not ${heads} heads of the same class count`,
      'logits',
    )
    return Array.from({ length: c }, (_, j) => {
      let sum = 0
      for (let e = 0; e < heads; e++) sum += row[e * c + j]!
      return sum / heads
    })
  })
}

/**
 * An `[N, C]` matrix repeated for each of `E` heads, as rows `[N·E, C]` (row `i·E + e` is row `i`):
 * the label matrix of the heads' rows {@link headRows}.
 */
export function repeatForHeads<T>(ops: TensorOps<T>, matrix: T, heads: number): T {
  if (heads === 1) return matrix
  const c = ops.shape(matrix)[1]!
  const ones = ops.constant(new Array<number>(heads).fill(1), [1, heads, 1])
  return ops.reshape(ops.mul(ops.reshape(matrix, [-1, 1, c]), ones), [-1, c])
}

/**
 * Multi-head logits `[N, E·C]` as one row per sample and head, `[N·E, C]` (row `i·E + e` is head `e`
 * of sample `i`): the same data, row-major.
 */
export function headRows<T>(ops: TensorOps<T>, logits: T, numClasses: number): T {
  return ops.reshape(logits, [-1, numClasses])
}
