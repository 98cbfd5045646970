import type { TensorOps } from '../ops.js'

/**
 * Euclidean norms along one axis (kept as a size-1 dimension), and the unit vectors `x/‖x‖`.
 * Both are computed from `x/m` with `m = max|x|`, so squares neither underflow nor overflow in
 * float32 (a gradient of 1e-23 still gives a unit step), and a zero slice gives norm 0 and a zero
 * unit vector without a 0/0. `√max(Σ(x/m)², 1)` is exact when `m > 0`, since the largest entry of
 * `x/m` is 1, and keeps the square root away from 0, where its derivative is infinite.
 *
 * `m` enters through a stop-gradient: `x/‖x‖` does not change when `x` is scaled, so the gradient is
 * exact with `m` held constant, and automatic differentiation never forms `1/m²`, which overflows in
 * float32 for `m` below 1e-19.
 */
export function l2Normalize<T>(ops: TensorOps<T>, x: T, axis: number): { norm: T; unit: T } {
  const largest = ops.stopGradient(ops.max(ops.abs(x), [axis], true))
  const zero = ops.constant([0], [])
  const one = ops.constant([1], [])
  const scaled = ops.div(x, ops.where(ops.greater(largest, zero), largest, one))
  const scaledNorm = ops.sqrt(ops.maximum(ops.sum(ops.mul(scaled, scaled), [axis], true), one))
  return { norm: ops.mul(largest, scaledNorm), unit: ops.div(scaled, scaledNorm) }
}
