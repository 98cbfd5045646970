import type { TensorOps } from '../ops.js'
import { withGradient } from '../control.js'

/**
 * A host search's class-level perturbation for the classes it moved: row `q` of `rows` (`[P, C]`
 * row-major) is `δ_c` for `c = classes[q]`; every other class has a zero row. Never `[C, C]`
 * (530 MB in float64 at C = 8142).
 */
export interface HostClassRows {
  /** The classes with a row, ascending. */
  readonly classes: ArrayLike<number>
  /** Their rows of `δ`, `[P, C]` row-major. */
  readonly rows: Float64Array
}

/** Each class's index in `classes`, −1 for a class without a row (`[C]`). */
export function hostSlots(classes: ArrayLike<number>, c: number): Int32Array {
  const slot = new Int32Array(c).fill(-1)
  for (let q = 0; q < classes.length; q++) slot[classes[q]!] = q
  return slot
}

/** Rows `δ_{y_i}` (`[N, C]` row-major) of a host search's rows, zero for a class without a row. */
export function gatherHostRows(delta: HostClassRows, labels: ArrayLike<number>, c: number): Float64Array {
  const slot = hostSlots(delta.classes, c)
  const out = new Float64Array(labels.length * c)
  for (let i = 0; i < labels.length; i++) {
    const q = slot[labels[i]!]!
    if (q >= 0) out.set(delta.rows.subarray(q * c, (q + 1) * c), i * c)
  }
  return out
}

/** `Σ_{i: y_i = c} x_i` of a host `[N, C]` matrix for the classes of `classes`, `[P, C]` row-major. */
export function hostClassSums(x: ArrayLike<number>, labels: ArrayLike<number>, classes: ArrayLike<number>, c: number): Float64Array {
  const slot = hostSlots(classes, c)
  const out = new Float64Array(classes.length * c)
  for (let i = 0; i < labels.length; i++) {
    const q = slot[labels[i]!]!
    if (q < 0) continue
    for (let j = 0; j < c; j++) out[q * c + j]! += x[i * c + j]!
  }
  return out
}

/** A search run on the host: its class-level perturbation and, for a gradient through it, its reverse pass. */
export interface HostSearchResult {
  /** `δ` for the classes it moved. */
  delta: HostClassRows
  /** `∂L/∂z` (`[N, C]`) from `∂L/∂δ` (`[P, C]`, the rows of `delta`); absent: `δ` is a constant for the gradient. */
  vjp?: (upstream: Float64Array) => Float64Array
}

/**
 * `δ_{y_i}` (`[N, C]`) of a search that runs on the host from the logits `x`, as one custom gradient:
 * the backend receives one `[N, C]` constant, and its gradient is the search's reverse pass applied
 * to `Σ_{i: y_i = c} dy_i` (zero when the search has none). Needs `ops.readSync`.
 */
export function hostSearchRows<T>(
  ops: TensorOps<T>,
  x: T,
  labels: ArrayLike<number>,
  c: number,
  search: (logits: ArrayLike<number>) => HostSearchResult,
): T {
  const read = ops.readSync!
  const n = labels.length
  return withGradient(ops, x, (input) => {
    const { delta, vjp } = search(read(input))
    return {
      value: ops.constant(gatherHostRows(delta, labels, c), [n, c]),
      gradient: (dy) =>
        vjp === undefined
          ? ops.mul(dy, ops.constant([0], []))
          : ops.constant(vjp(hostClassSums(read(dy), labels, delta.classes, c)), [n, c]),
    }
  })
}
