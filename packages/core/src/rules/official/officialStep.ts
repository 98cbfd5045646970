import type { TensorOps } from '../../ops.js'
import type { CountedRows } from '../classSums.js'
import { type ClassSlots, perSlot, slotIdentity, slotSums } from '../classSlots.js'
import { l2Normalize } from '../norm.js'

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
 * one-hot product (`O(N·C²)`).
 *
 * Only the rows of the `P` classes present are kept (`slots`, `[P, C]`): an absent class's row of
 * `G` is `−e_c` (its mean is 0), so its share of the column norms is in closed form,
 * `‖G[:, b]‖² = Σ_{s} G[s, b]² + [b absent]`, and its step moves no sample. `counts` are `n_c`
 * (`[C]`, summed across workers), which a search takes once for all its steps.
 */
export function officialStep<T>(
  ops: TensorOps<T>,
  logits: T,
  rows: Pick<CountedRows<T>, 'rowMask' | 'batchSum'>,
  slots: ClassSlots<T>,
  numClasses: number,
): {
  /** `D`, `[P, C]`: row `s` is the step direction of the samples of slot `s`'s class. */
  direction: T
  /** `M[c, c]` of each slot's class, `[P]`. */
  diagonal: T
  /** The rows of `G = M − I` of the classes present, `[P, C]`. */
  g: T
  /** `r_b = max(‖G[:, b]‖, 1e-15)` over all `C` rows of `G`, `[C]`. */
  columnNorms: T
  /** `r_c` of each slot's class, `[P, 1]`: the divisor of its row. */
  rowNorms: T
  /** `max(n_c, 100·[n_c = 0])` of each slot's class, `[P, 1]`. */
  slotCounts: T
} {
  const counts = perSlot(ops, slots.counts, slots)
  const slotCounts = ops.reshape(ops.where(ops.equal(counts, ops.constant([0], [])), ops.constant([100], []), counts), [-1, 1])
  const classMeans = ops.div(slotSums(ops, ops.softmax(logits), rows, slots), slotCounts)
  const identity = slotIdentity(ops, slots, numClasses)
  // A slot without a present class (a spare slot, or the one slot of a batch with no counted row)
  // is no row of G.
  const g = ops.mul(ops.sub(classMeans, identity), slots.valid)
  // ‖G[:, c]‖ is 0 only if M[c, c] = 1 and no other class puts mass on c, which float32 reaches for
  // a confidently classified class (the released code would divide by zero). The floor keeps the
  // step finite, and 1e-15 rather than less keeps its square, in the gradient of the division, a
  // float32 normal number.
  const presentNorms = ops.reshape(l2Normalize(ops, g, 0).norm, [numClasses])
  // An absent column adds the 1 of its own row `−e_b`; a present one nothing (no square taken, so
  // a tiny norm does not underflow).
  const withAbsent = ops.where(slots.present, presentNorms, ops.sqrt(ops.add(ops.mul(presentNorms, presentNorms), ops.constant([1], []))))
  const columnNorms = ops.maximum(withAbsent, ops.constant([1e-15], []))
  const rowNorms = ops.reshape(perSlot(ops, columnNorms, slots), [-1, 1])
  return {
    direction: ops.div(g, rowNorms),
    diagonal: ops.sum(ops.mul(classMeans, identity), [1]),
    g,
    columnNorms,
    rowNorms,
    slotCounts,
  }
}
