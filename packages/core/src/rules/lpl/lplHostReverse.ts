import { check } from '../../errors.js'
import type { Batch } from './lplHostTypes.js'
import { MIN_SAMPLE_WEIGHT, Trajectory } from './lplHostState.js'
import { dot, searchClass } from './lplHostSteps.js'

/**
 * `∂L/∂z` from `upstream = ∂L/∂δ`: per class, the steps replayed ({@link searchClass}) and run
 * backwards. The softmax's Jacobian ignores a constant added to `w`, so `w' = w − w_y` is used (0 at
 * the target): `p·w' = Σ_{j≠y} p_j·w'_j` keeps its digits when `p_y` is near 1. Per sample, with
 * `L_i = Σ_j b_ij·σ_j·(λ_j − λ_y)` (the previous step's pass leaves it), `g·λ = Σ_i w_i·L_i` and
 * `Σ_j b_ij·σ_j·w'_j = factor·(L_i − μ·(H_i + A·O_i))`, `μ = g·λ/‖g‖²`: every scalar a step needs is
 * known before its passes.
 */
export function reversePass(b: Batch, upstream: ArrayLike<number>): Float64Array {
  const c = b.c
  const p0 = b.classes.length
  check(
    upstream.length === p0 * c,
    'SHAPE_MISMATCH',
    `the upstream gradient has ${upstream.length} entries, not P·C = ${p0 * c} (a row per class that moves)`,
    'upstream',
  )
  const dz = new Float64Array(b.n * c)
  const path = new Trajectory(b)
  // The replay's moves of δ, which the reverse pass does not need.
  const moves = new Float64Array(c)
  const lambda = new Float64Array(c)
  const typed = ArrayBuffer.isView(upstream)
  // Per sample: L_i, t's factor, p·w' (or q·w'), the output row.
  const m0 = Math.max(b.maxGroup, 1)
  const projected = new Float64Array(m0)
  const scale = new Float64Array(m0)
  const centre = new Float64Array(m0)
  const rows = new Int32Array(m0)
  const { state, other, target, weight, mixed, row: work } = path
  for (let p = 0; p < b.classes.length; p++) {
    const cls = b.classes[p]!
    const taken = searchClass(b, p, moves, 0, path, true)
    if (taken === 0) continue
    if (typed) lambda.set((upstream as unknown as Float64Array).subarray(p * c, (p + 1) * c))
    else for (let j = 0; j < c; j++) lambda[j] = upstream[p * c + j]!
    const first = b.groupStart[p]!
    const m = b.groupStart[p + 1]! - first
    const blk = first * c
    for (let i = 0; i < m; i++) rows[i] = b.order[first + i]! * c
    // L_i at the last step taken.
    const last = (taken - 1) * c
    for (let j = 0; j < c; j++) work[j] = state[last + j]! * (lambda[j]! - lambda[cls]!)
    projectRows(b.block, blk, m, work, projected, c)
    for (let k = taken - 1; k >= 0; k--) {
      const at = k * m
      const factor = path.factor[k]!
      const targetSum = path.targetSum[k]!
      let mu = 0
      if (b.normalize) {
        let dotted = 0
        for (let i = 0; i < m; i++) dotted += weight[at + i]! * projected[i]!
        mu = dotted / path.norm[k]! / path.norm[k]!
      }
      const lambdaTarget = lambda[cls]!
      let targetGrad = 0
      for (let i = 0; i < m; i++) {
        const o = other[at + i]!
        const t = target[at + i]!
        const w = 1 / (o + t)
        const r = factor * (b.normalize ? projected[i]! - mu * (mixed[at + i]! + targetSum * o) : projected[i]!)
        if (b.normalize && o * w < MIN_SAMPLE_WEIGHT) {
          // t_i = 1e-37·q_i ⊙ (w' − q_i·w'), 0 at the target.
          scale[i] = MIN_SAMPLE_WEIGHT / o
          centre[i] = r / o
        } else {
          // t_i = p_i ⊙ (w' − p_i·w'); at the target −p_y·(p_i·w').
          scale[i] = w
          centre[i] = r * w
          const ty = -t * w * centre[i]!
          dz[rows[i]! + cls]! += ty
          targetGrad += ty
        }
      }
      const newTarget = lambdaTarget + targetGrad
      // w'_j = factor·(λ_j − offset − μ·g_j), g_j the class gradient off the target.
      const offset = lambdaTarget + mu * targetSum
      const s = k * c
      const previous = Math.max(k - 1, 0) * c
      if (m === 1) {
        projected[0] = backOne(
          state,
          s,
          previous,
          lambda,
          offset,
          newTarget,
          factor,
          mu * weight[at]!,
          scale[0]!,
          centre[0]!,
          dz,
          rows[0]!,
          c,
        )
      } else if (m === 2) {
        backTwo(
          b.block,
          blk,
          state,
          s,
          previous,
          lambda,
          offset,
          newTarget,
          factor,
          mu,
          weight[at]!,
          weight[at + 1]!,
          scale,
          centre,
          dz,
          rows,
          projected,
          c,
        )
      } else {
        backRows(
          b.block,
          blk,
          m,
          state,
          path.grad,
          s,
          previous,
          lambda,
          offset,
          newTarget,
          factor,
          mu,
          scale,
          centre,
          dz,
          rows,
          projected,
          work,
          c,
        )
      }
      lambda[cls] = newTarget
    }
  }
  return dz
}

/** `L_i = Σ_j b_ij·u_j` for the class's rows in `block` (a one-sample class: `Σ_j u_j`, its `u` already carrying `y`). */
function projectRows(block: Float64Array, blk: number, m: number, u: Float64Array, out: Float64Array, c: number): void {
  if (m === 1) {
    let sum = 0
    for (let j = 0; j < c; j++) sum += u[j]!
    out[0] = sum
  } else if (m === 2) {
    let l0 = 0
    let l1 = 0
    for (let j = 0; j < c; j++) {
      l0 += block[blk + 2 * j]! * u[j]!
      l1 += block[blk + 2 * j + 1]! * u[j]!
    }
    out[0] = l0
    out[1] = l1
  } else {
    for (let i = 0; i < m; i++) out[i] = dot(block, blk + i * c, u, 0, c)
  }
}

/**
 * One reverse step of a one-sample class, on `y = b ⊙ σ`: `w'_j = factor·(λ_j − offset − μw·y_j)`,
 * `t_j = scale·y_j·(w'_j − centre)` into `dz` and `λ`; returns the next step's `L = Σ_j y^{k−1}_j·(λ_j − newTarget)`.
 */
function backOne(
  y: Float64Array,
  s: number,
  previous: number,
  lambda: Float64Array,
  offset: number,
  newTarget: number,
  factor: number,
  muW: number,
  scale: number,
  centre: number,
  dz: Float64Array,
  out: number,
  c: number,
): number {
  let projected = 0
  for (let j = 0; j < c; j++) {
    const v = y[s + j]!
    const l = lambda[j]!
    const t = scale * v * (factor * (l - offset - muW * v) - centre)
    dz[out + j]! += t
    lambda[j] = l + t
    projected += y[previous + j]! * (l + t - newTarget)
  }
  return projected
}

/**
 * One reverse step of a class of two (interleaved rows): `v_j = σ_j·w'_j`,
 * `w'_j = factor·(λ_j − offset − μ·g_j)`, `t_ij = scale_i·b_ij·(v_j − σ_j·centre_i)` into `dz` and
 * `λ`; the next step's `L_i` (at `σ^{k−1}`, with the updated `λ`) into `out`.
 */
function backTwo(
  block: Float64Array,
  blk: number,
  shift: Float64Array,
  s: number,
  previous: number,
  lambda: Float64Array,
  offset: number,
  newTarget: number,
  factor: number,
  mu: number,
  w0: number,
  w1: number,
  scale: Float64Array,
  centre: Float64Array,
  dz: Float64Array,
  rows: Int32Array,
  out: Float64Array,
  c: number,
): void {
  const scale0 = scale[0]!
  const scale1 = scale[1]!
  const centre0 = centre[0]!
  const centre1 = centre[1]!
  const row0 = rows[0]!
  const row1 = rows[1]!
  let l0 = 0
  let l1 = 0
  for (let j = 0; j < c; j++) {
    const b0 = block[blk + 2 * j]!
    const b1 = block[blk + 2 * j + 1]!
    const sj = shift[s + j]!
    const v = sj * factor * (lambda[j]! - offset - mu * sj * (w0 * b0 + w1 * b1))
    const t0 = scale0 * b0 * (v - sj * centre0)
    const t1 = scale1 * b1 * (v - sj * centre1)
    dz[row0 + j]! += t0
    dz[row1 + j]! += t1
    const l = lambda[j]! + t0 + t1
    lambda[j] = l
    const u = shift[previous + j]! * (l - newTarget)
    l0 += b0 * u
    l1 += b1 * u
  }
  out[0] = l0
  out[1] = l1
}

/** One reverse step of a class of `m ≥ 3`, pass by pass over its rows (`g` from the forward's record). */
function backRows(
  block: Float64Array,
  blk: number,
  m: number,
  shift: Float64Array,
  grad: Float64Array,
  s: number,
  previous: number,
  lambda: Float64Array,
  offset: number,
  newTarget: number,
  factor: number,
  mu: number,
  scale: Float64Array,
  centre: Float64Array,
  dz: Float64Array,
  rows: Int32Array,
  out: Float64Array,
  work: Float64Array,
  c: number,
): void {
  // v_j = σ_j·w'_j; then t_ij = scale_i·b_ij·(v_j − σ_j·centre_i) (0 at the target, where b_ij = 0).
  for (let j = 0; j < c; j++) work[j] = shift[s + j]! * factor * (lambda[j]! - offset - mu * grad[s + j]!)
  for (let i = 0; i < m; i++) {
    const r = blk + i * c
    const o = rows[i]!
    const scaleI = scale[i]!
    const centreI = centre[i]!
    for (let j = 0; j < c; j++) {
      const t = scaleI * block[r + j]! * (work[j]! - shift[s + j]! * centreI)
      dz[o + j]! += t
      lambda[j]! += t
    }
  }
  for (let j = 0; j < c; j++) work[j] = shift[previous + j]! * (lambda[j]! - newTarget)
  for (let i = 0; i < m; i++) out[i] = dot(block, blk + i * c, work, 0, c)
}
