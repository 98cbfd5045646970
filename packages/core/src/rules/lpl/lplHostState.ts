import { FLOAT32_FLOOR } from '../../numerics.js'
import type { Batch } from './lplHostTypes.js'

/** See `lplSearch.ts`: the smallest weight a sample keeps in a normalized class direction. */
export const MIN_SAMPLE_WEIGHT = FLOAT32_FLOOR

/**
 * `|δ_j|` grows by at most `|s·α|` per step (a normalized move has length `|s·α|`; a plain one,
 * `s·α·g/n_c`, has entries of at most `|s·α|` as `|g_j| ≤ n_c`), so `σ = exp(δ)` stays within
 * `e^{±K|sα|}`: only where `K|sα|` exceeds this bound is it watched and rescaled.
 */
export const RESCALE_BOUND = 100

/**
 * One class's steps, sized for the largest class and reused by every class: the state rows
 * (`K + 1` rows of `C`: `σ^k = exp(δ^k)` up to a common factor, or for a one-sample class
 * `y^k = b ⊙ σ^k`), the class gradients `g^k` off the target (`K` rows, classes of three or more),
 * per step the step factor (`s·α/‖g‖` or `s·α/|S_c|`), `‖g‖` and `A = Σ_i a_i`, and per sample
 * `O_i`, `T_i`, its weight `w_i` in `g` (`g_j = σ_j·Σ_i w_i·b_ij` off the target: `w_i = 1/(O_i + T_i)`,
 * or `1e-37/O_i` when floored) and `H_i = Σ_j b_ij·σ_j·g_j`.
 */
export class Trajectory {
  readonly state: Float64Array
  readonly grad: Float64Array
  /** A row of scratch. */
  readonly row: Float64Array
  readonly factor: Float64Array
  readonly norm: Float64Array
  readonly targetSum: Float64Array
  readonly other: Float64Array
  readonly target: Float64Array
  readonly weight: Float64Array
  readonly mixed: Float64Array
  /** What a pass returns: sums, the Gram matrix of a class of two. */
  readonly sums = new Float64Array(5)

  constructor(b: Batch) {
    const k = b.maxSteps
    const m = b.maxGroup
    this.state = new Float64Array((k + 1) * b.c)
    this.grad = new Float64Array(m > 2 ? k * b.c : 0)
    this.row = new Float64Array(b.c)
    this.factor = new Float64Array(k)
    this.norm = new Float64Array(k)
    this.targetSum = new Float64Array(k)
    this.other = new Float64Array((k + 1) * m)
    this.target = new Float64Array(k * m)
    this.weight = new Float64Array(k * m)
    this.mixed = new Float64Array(k * m)
  }
}

/**
 * The weights of step `k`'s samples from their `O_i` (`path.other`) and `T_i = e_i·σ_y`: `w_i` into
 * `path.weight`, `T_i` into `path.target`; returns `A = Σ_i a_i`.
 */
export function weighSamples(b: Batch, first: number, m: number, k: number, targetShift: number, path: Trajectory): number {
  let targetSum = 0
  for (let i = 0; i < m; i++) {
    const o = path.other[k * m + i]!
    const t = b.targetFactor[first + i]! * targetShift
    path.target[k * m + i] = t
    const inverse = 1 / (o + t)
    // a_i = 1 − p_y = O/(O + T); below the floor the sample adds 1e-37·q_i = 1e-37·b_i ⊙ σ/O.
    if (b.normalize && o * inverse < MIN_SAMPLE_WEIGHT) {
      path.weight[k * m + i] = MIN_SAMPLE_WEIGHT / o
      targetSum += MIN_SAMPLE_WEIGHT
    } else {
      path.weight[k * m + i] = inverse
      targetSum += o * inverse
    }
  }
  path.targetSum[k] = targetSum
  return targetSum
}

/** `max_j v[s + j]`. */
export function largest(v: Float64Array, s: number, c: number): number {
  let top = 0
  for (let j = s; j < s + c; j++) top = Math.max(top, v[j]!)
  return top
}
