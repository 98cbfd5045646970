import type { TensorOps } from '../ops.js'
import { withGradient } from '../control.js'

/** Rows `δ_{y_i}` of a host `[C, C]` matrix, `[N, C]` row-major. */
export function gatherHostRows(delta: Float64Array, labels: ArrayLike<number>, c: number): Float64Array {
  const out = new Float64Array(labels.length * c)
  for (let i = 0; i < labels.length; i++) out.set(delta.subarray(labels[i]! * c, (labels[i]! + 1) * c), i * c)
  return out
}

/** `Σ_{i: y_i = c} x_i` of a host `[N, C]` matrix, `[C, C]` row-major. */
export function hostClassSums(x: ArrayLike<number>, labels: ArrayLike<number>, c: number): Float64Array {
  const out = new Float64Array(c * c)
  for (let i = 0; i < labels.length; i++) {
    const row = labels[i]! * c
    for (let j = 0; j < c; j++) out[row + j]! += x[i * c + j]!
  }
  return out
}

/** A search run on the host: its class-level perturbation `[C, C]` and, for a gradient through it, its reverse pass. */
export interface HostSearchResult {
  /** `δ`, `[C, C]` row-major. */
  delta: Float64Array
  /** `∂L/∂z` (`[N, C]`) from `∂L/∂δ` (`[C, C]`); absent: `δ` is a constant for the gradient. */
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
        vjp === undefined ? ops.mul(dy, ops.constant([0], [])) : ops.constant(vjp(hostClassSums(read(dy), labels, c)), [n, c]),
    }
  })
}
