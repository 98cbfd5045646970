import type { TensorOps } from '../../ops.js'
import { type CountedRows, classCounts, classSums } from '../classSums.js'
import { l2Normalize } from '../norm.js'
import { identityClassMatrix } from '../classMatrices.js'

/**
 * The class-level step direction of the authors' released LPL code (docs/spec.md#4b-the-released-code), for
 * logits `U` (`[N, C]`):
 *
 *     P = softmax(U);  n_c = #{i : y_i = c}, with n_c := 100 where n_c = 0
 *     M = (onehot(y)ᵀ P) / n_c            (row c: mean softmax of the class-c samples)
 *     G = M − I;  G[c, :] := G[c, :] / ‖G[:, c]‖₂
 *
 * Row `c` is divided by the norm of column `c`, as the released code does; this is kept on purpose,
 * because it changes the numbers. The class means use a segment sum (`O(N·C)`), not the released
 * one-hot product (`O(N·C²)`). `counts` are `n_c` (`[C]`, summed across workers), which a search
 * takes once for all its steps. Returns `{ direction: D, diagonal: M[c, c], g: G, columnNorms: r }` (`[C, C]`, `[C]`, `[C, C]`, `[C]`),
 * with `D[c, :] = G[c, :]/r_c`.
 */
export function officialStep<T>(
  ops: TensorOps<T>,
  logits: T,
  labelMatrix: T,
  rows: CountedRows<T>,
  counts: T = classCounts(ops, labelMatrix, rows),
): {
  /** `G`, `[C, C]`: row `c` is the step direction of the class-`c` samples. */
  direction: T
  /** `M[c, c]`, `[C]`: the mean confidence of each class in its own samples (0 for absent classes). */
  diagonal: T
  /** `G = M − I`, `[C, C]`. */
  g: T
  /** `r_c = max(‖G[:, c]‖, 1e-15)`, `[C]`. */
  columnNorms: T
} {
  const c = rows.numClasses
  const safeCounts = ops.where(ops.equal(counts, ops.constant([0], [])), ops.constant([100], []), counts)
  const classMeans = ops.div(classSums(ops, ops.softmax(logits), rows), ops.reshape(safeCounts, [c, 1]))
  const identity = identityClassMatrix(ops, c)
  const g = ops.sub(classMeans, identity)
  // ‖G[:, c]‖ is 0 only if M[c, c] = 1 and no other class puts mass on c, which float32 reaches for
  // a confidently classified class (the released code would divide by zero). The floor keeps the
  // step finite, and 1e-15 rather than less keeps its square, in the gradient of the division, a
  // float32 normal number.
  const columnNorms = ops.reshape(ops.maximum(l2Normalize(ops, g, 0).norm, ops.constant([1e-15], [])), [c])
  return {
    direction: ops.div(g, ops.reshape(columnNorms, [c, 1])),
    diagonal: ops.sum(ops.mul(classMeans, identity), [1]),
    g,
    columnNorms,
  }
}
