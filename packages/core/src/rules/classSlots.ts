import type { TensorOps } from '../ops.js'
import { named } from '../control.js'
import type { CountedRows } from './classSums.js'

/**
 * The classes present in a batch, numbered in class order: slot `s` holds the `s`-th class with a
 * counted row. A search keeps one row per slot (`[P, C]`, `P ≤ min(N, C)`) where it would keep one
 * per class (`[C, C]`: 266 MB in float32 at C = 8142), so its memory is `O(N·C + P·C)`
 * (docs/performance.md#cost-model). Absent classes take no step in any search, so nothing is lost.
 *
 * The slots come from the class counts alone, `slot_c = Σ_{c' ≤ c} [n_{c'} > 0] − 1`: with counts
 * summed across workers, every worker numbers the slots alike, and slot sums can be summed across
 * workers as class sums are.
 */
export interface ClassSlots<T> {
  /**
   * `S`, the number of slots: `min(N, C)` where the batch's row count is static and no statistic is
   * summed across workers (an eager backend then reads nothing back: WebGL's training step stays
   * without a synchronous read), else `max(P, 1)` as a scalar int32 tensor (a symbolic backend sizes
   * by it at run time). Slots `P … S − 1` hold no class (`valid`).
   */
  count: number | T
  /** `[S, 1]` float: 1 for a slot that holds a present class, 0 for a spare one. */
  valid: T
  /** `[N]` int32: each row's slot; a row of an absent class (only a masked row can be one) takes slot 0. */
  rows: T
  /** `[N, 1]` float: 1 for a row whose class is present, else 0. */
  rowPresent: T
  /** `[C]` int32: each class's slot, 0 for absent classes. */
  ofClass: T
  /** `[P]` int32: each slot's class. */
  classes: T
  /** `[C]` float: 1 for the classes present, else 0. */
  present: T
  /** `[C]`: the class counts the slots were made from. */
  counts: T
}

/**
 * The slots of the classes with `counts > 0` (`[C]`, summed across workers where `summed`: the slots
 * then number the classes of the whole batch, which a worker's own rows do not bound).
 */
export function classSlots<T>(ops: TensorOps<T>, counts: T, labels: T, numClasses: number, summed = false): ClassSlots<T> {
  const zero = ops.constant([0], [])
  const present = ops.greater(counts, zero)
  const ofClass = named(ops, ops.cast(ops.maximum(ops.sub(ops.cumsum(present, 0), ops.constant([1], [])), zero), 'int32'), 'slot_of_class')
  // One slot even when no row counts (every row masked): every search step is then zero.
  const rows = ops.shape(labels)[0] ?? -1
  const count =
    !summed && rows >= 0
      ? Math.max(1, Math.min(rows, numClasses))
      : named(ops, ops.cast(ops.maximum(ops.sum(present, [0]), ops.constant([1], [])), 'int32'), 'slot_count')
  const classIds = ops.constant(
    Float64Array.from({ length: numClasses }, (_, k) => k),
    [numClasses],
  )
  return {
    count,
    rows: named(ops, ops.gather(ofClass, labels, 0), 'row_slot'),
    rowPresent: ops.reshape(ops.gather(present, labels, 0), [-1, 1]),
    ofClass,
    classes: named(ops, ops.cast(ops.segmentSum(ops.mul(classIds, present), ofClass, count), 'int32'), 'slot_class'),
    // A present class adds its 1 to its own slot; absent ones add 0 to slot 0.
    valid: ops.reshape(ops.segmentSum(present, ofClass, count), [-1, 1]),
    present,
    counts,
  }
}

/**
 * The sum of each slot's counted rows, `S_s = Σ_{i: slot(y_i) = s, m_i = 1} x_i` (`[P]` or `[P, D]`),
 * summed across workers where `batchSum` is given: `classSums` by slot. Cost `O(N·D)`.
 */
export function slotSums<T>(ops: TensorOps<T>, x: T, rows: Pick<CountedRows<T>, 'rowMask' | 'batchSum'>, slots: ClassSlots<T>): T {
  const rank = ops.shape(x).length
  const counted = rows.rowMask === undefined ? x : ops.mul(x, rank === 1 ? ops.reshape(rows.rowMask, [-1]) : rows.rowMask)
  const sums = ops.segmentSum(counted, slots.rows, slots.count)
  return rows.batchSum === undefined ? sums : rows.batchSum(sums)
}

/** A per-class tensor (`[C]` or `[C, D]`) at the slots: `[P]` or `[P, D]`. */
export function perSlot<T>(ops: TensorOps<T>, perClass: T, slots: ClassSlots<T>): T {
  return ops.gather(perClass, slots.classes, 0)
}

/** A per-slot tensor (`[P]` or `[P, D]`) at the classes, 0 for absent classes: `[C]` or `[C, D]`. */
export function slotsToClasses<T>(ops: TensorOps<T>, perSlotValues: T, slots: ClassSlots<T>): T {
  const gathered = ops.gather(perSlotValues, slots.ofClass, 0)
  const rank = ops.shape(gathered).length
  return ops.mul(gathered, rank === 1 ? slots.present : ops.reshape(slots.present, [-1, 1]))
}

/** Each slot's row of the identity, `e_{class(s)}`: `[P, C]`. */
export function slotIdentity<T>(ops: TensorOps<T>, slots: ClassSlots<T>, numClasses: number): T {
  return ops.oneHot(slots.classes, numClasses)
}

/** `[P, C]` zeros, the start of a search's per-slot perturbation. */
export function slotZeros<T>(ops: TensorOps<T>, slots: ClassSlots<T>, numClasses: number): T {
  return ops.mul(slotIdentity(ops, slots, numClasses), ops.constant([0], []))
}

/** Each row's perturbation `δ_{slot(y_i)}` (`[N, C]`), zero for a row of an absent class. */
export function rowsOfSlots<T>(ops: TensorOps<T>, perSlotRows: T, slots: ClassSlots<T>): T {
  return ops.mul(ops.gather(perSlotRows, slots.rows, 0), slots.rowPresent)
}
