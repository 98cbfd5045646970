import type { Batch } from './lplHostTypes.js'
import { fastExp, SERIES_BOUND, seriesExp } from './lplHostExp.js'
import { searchOneSeries } from './lplHostSeries.js'
import { largest, RESCALE_BOUND, type Trajectory, weighSamples } from './lplHostState.js'

/**
 * Runs class `classes[p]`'s steps, adds them to `delta` from `row` (its row of `δ`), and records
 * them in `path` (`record`: the reverse pass will read them; a one-sample class then takes its
 * steps one by one); returns the number of steps taken (fewer than `K_c` only if `g = 0`, after
 * which `δ` stays put).
 *
 * A step of a class of one or two samples is one pass over `j`: `g_j = σ_j·Σ_i w_i·b_ij`, the move
 * `x = factor·g` (`δ += x`, `σ ← σ·exp(x)`), and the next step's `O_i = Σ_j b_ij·σ_j` and Gram
 * matrix `G_ii' = Σ_j b_ij·b_i'j·σ_j²`, which gives the next `‖g‖² = Σ w_i·w_i'·G_ii' + A²`; a
 * one-sample class without `record` takes the power series of {@link searchOneSeries} instead.
 * Larger classes take several passes per step ({@link searchRows}).
 */
export function searchClass(b: Batch, p: number, delta: Float64Array, row: number, path: Trajectory, record: boolean): number {
  const m = b.groupStart[p + 1]! - b.groupStart[p]!
  if (m === 1 && !record && b.moments.length > 0) {
    const taken = searchOneSeries(b, p, delta, row, path)
    if (taken >= 0) return taken
  }
  return m === 1
    ? searchOne(b, p, delta, row, path)
    : m === 2
      ? searchTwo(b, p, delta, row, path)
      : searchRows(b, p, delta, row, path, record)
}

/**
 * {@link searchClass} for a one-sample class, on `y = b ⊙ σ` (0 at the target, whose `σ_y` is a
 * scalar): `g_j = w·y_j`, `O = Σ y`, `‖g‖² = w²·Σ y² + a²`, and a step is `y ← y ⊙ exp(factor·w·y)`.
 */
function searchOne(b: Batch, p: number, delta: Float64Array, row: number, path: Trajectory): number {
  const { c, normalize } = b
  const cls = b.classes[p]!
  const first = b.groupStart[p]!
  const steps = b.steps[p]!
  const signedAlpha = b.signedAlpha[p]!
  const { state, sums } = path
  state.set(b.block.subarray(first * c, (first + 1) * c))
  path.other[0] = b.otherMass[first]!
  let squares = b.squareMass[first]!
  let targetShift = 1
  const rescale = steps * Math.abs(signedAlpha) > RESCALE_BOUND
  for (let k = 0; k < steps; k++) {
    const a = weighSamples(b, first, 1, k, targetShift, path)
    const w = path.weight[k]!
    let factor = signedAlpha
    if (normalize) {
      const norm = Math.sqrt(w * w * squares + a * a)
      if (norm === 0) return k
      path.mixed[k] = w * squares
      path.norm[k] = norm
      factor /= norm
    }
    path.factor[k] = factor
    const scale = factor * w
    // max_j |x_j| = |scale|·max y ≤ |scale|·‖y‖.
    stepOne(state, k * c, delta, row, scale, c, Math.abs(scale) * Math.sqrt(squares) <= SERIES_BOUND, sums)
    path.other[k + 1] = sums[0]!
    squares = sums[1]!
    const targetMove = -factor * a
    delta[row + cls]! += targetMove
    targetShift *= Math.exp(targetMove)
    if (rescale) {
      // A factor common to y and σ_y cancels in the softmax: keep them away from overflow.
      const top = Math.max(targetShift, largest(state, (k + 1) * c, c))
      if (top > 1e50 || top < 1e-50) {
        for (let j = (k + 1) * c; j < (k + 2) * c; j++) state[j]! /= top
        targetShift /= top
        path.other[k + 1]! /= top
        squares /= top * top
      }
    }
  }
  return steps
}

/** A one-sample step: `x = scale·y`, `δ += x`, `y' = y·exp(x)` (the series when `series`), `sums` ← `[Σ y', Σ y'²]`. */
function stepOne(
  y: Float64Array,
  s: number,
  delta: Float64Array,
  row: number,
  scale: number,
  c: number,
  series: boolean,
  sums: Float64Array,
): void {
  let sum = 0
  let squares = 0
  const next = s + c
  for (let j = 0; j < c; j++) {
    const v = y[s + j]!
    const x = scale * v
    delta[row + j]! += x
    const u = v * (series ? seriesExp(x) : fastExp(x))
    y[next + j] = u
    sum += u
    squares += u * u
  }
  sums[0] = sum
  sums[1] = squares
}

/** {@link searchClass} for a class of two samples, on `σ`, with the 2×2 Gram matrix. */
function searchTwo(b: Batch, p: number, delta: Float64Array, row: number, path: Trajectory): number {
  const { c, block, normalize } = b
  const cls = b.classes[p]!
  const first = b.groupStart[p]!
  const blk = first * c
  const steps = b.steps[p]!
  const { state, other, weight, sums } = path
  state.fill(1, 0, c)
  other[0] = b.otherMass[first]!
  other[1] = b.otherMass[first + 1]!
  let g00 = b.squareMass[first]!
  let g11 = b.squareMass[first + 1]!
  let g01 = 0
  for (let j = 0; j < c; j++) g01 += block[blk + 2 * j]! * block[blk + 2 * j + 1]!
  let targetShift = 1
  const rescale = steps * Math.abs(b.signedAlpha[p]!) > RESCALE_BOUND
  for (let k = 0; k < steps; k++) {
    const s = k * c
    const a = weighSamples(b, first, 2, k, targetShift, path)
    const w0 = weight[2 * k]!
    const w1 = weight[2 * k + 1]!
    const h0 = w0 * g00 + w1 * g01
    const h1 = w0 * g01 + w1 * g11
    const squares = w0 * h0 + w1 * h1
    let factor = b.signedAlpha[p]!
    if (normalize) {
      const norm = Math.sqrt(squares + a * a)
      if (norm === 0) return k
      path.mixed[2 * k] = h0
      path.mixed[2 * k + 1] = h1
      path.norm[k] = norm
      factor /= norm
    } else {
      factor /= 2
    }
    path.factor[k] = factor
    // max_j |x_j| = |factor|·max_j g_j ≤ |factor|·‖g‖.
    moveTwo(block, blk, state, s, delta, row, factor * w0, factor * w1, c, Math.abs(factor) * Math.sqrt(squares) <= SERIES_BOUND, sums)
    const targetMove = -factor * a
    delta[row + cls]! += targetMove
    targetShift *= Math.exp(targetMove)
    state[s + c + cls] = targetShift
    let scaleBack = 1
    if (rescale) {
      const top = largest(state, s + c, c)
      if (top > 1e50 || top < 1e-50) {
        for (let j = s + c; j < s + 2 * c; j++) state[j]! /= top
        targetShift /= top
        scaleBack = 1 / top
      }
    }
    other[2 * k + 2] = sums[0]! * scaleBack
    other[2 * k + 3] = sums[1]! * scaleBack
    g00 = sums[2]! * scaleBack * scaleBack
    g01 = sums[3]! * scaleBack * scaleBack
    g11 = sums[4]! * scaleBack * scaleBack
  }
  return steps
}

/**
 * A step of a class of two off the target (interleaved rows `b_0j, b_1j` from `blk`):
 * `x_j = σ_j·(c0·b_0j + c1·b_1j)`, `δ_j += x_j`, `σ'_j = σ_j·exp(x_j)` (the series when `series`);
 * `sums` ← `[O_0, O_1, G_00, G_01, G_11]` at `σ'`.
 */
function moveTwo(
  block: Float64Array,
  blk: number,
  shift: Float64Array,
  s: number,
  delta: Float64Array,
  row: number,
  c0: number,
  c1: number,
  c: number,
  series: boolean,
  sums: Float64Array,
): void {
  let o0 = 0
  let o1 = 0
  let g00 = 0
  let g01 = 0
  let g11 = 0
  const next = s + c
  for (let j = 0; j < c; j++) {
    const b0 = block[blk + 2 * j]!
    const b1 = block[blk + 2 * j + 1]!
    const sj = shift[s + j]!
    const x = (c0 * b0 + c1 * b1) * sj
    delta[row + j]! += x
    const v = sj * (series ? seriesExp(x) : fastExp(x))
    shift[next + j] = v
    const u0 = b0 * v
    const u1 = b1 * v
    o0 += u0
    o1 += u1
    g00 += u0 * u0
    g01 += u0 * u1
    g11 += u1 * u1
  }
  sums[0] = o0
  sums[1] = o1
  sums[2] = g00
  sums[3] = g01
  sums[4] = g11
}

/**
 * {@link searchClass} for a class of `m ≥ 3` samples, on `σ`, one row per pass: `g` (`m` passes,
 * kept for the reverse pass), the move (one), the next `O_i` (`m`, and `m` more for `H_i` when
 * `record`).
 */
function searchRows(b: Batch, p: number, delta: Float64Array, row: number, path: Trajectory, record: boolean): number {
  const { c, block, normalize } = b
  const cls = b.classes[p]!
  const first = b.groupStart[p]!
  const m = b.groupStart[p + 1]! - first
  const blk = first * c
  const steps = b.steps[p]!
  const { state, grad, weight, sums } = path
  state.fill(1, 0, c)
  for (let i = 0; i < m; i++) path.other[i] = b.otherMass[first + i]!
  let targetShift = 1
  const rescale = steps * Math.abs(b.signedAlpha[p]!) > RESCALE_BOUND
  for (let k = 0; k < steps; k++) {
    const s = k * c
    const at = k * m
    const a = weighSamples(b, first, m, k, targetShift, path)
    // g_j = σ_j·Σ_i w_i·b_ij into grad row k, with Σ g² and max g; σ ⊙ g into path.row.
    grad.fill(0, s, s + c)
    for (let i = 0; i < m - 1; i++) {
      const w = weight[at + i]!
      for (let j = 0; j < c; j++) grad[s + j]! += w * block[blk + i * c + j]!
    }
    finishGradient(grad, s, block, blk + (m - 1) * c, weight[at + m - 1]!, state, path.row, c, sums)
    const squares = sums[0]!
    let factor = b.signedAlpha[p]!
    if (normalize) {
      const norm = Math.sqrt(squares + a * a)
      if (norm === 0) return k
      path.norm[k] = norm
      factor /= norm
    } else {
      factor /= m
    }
    path.factor[k] = factor
    moveRow(grad, s, state, delta, row, factor, c, Math.abs(factor) * sums[1]! <= SERIES_BOUND)
    const targetMove = -factor * a
    delta[row + cls]! += targetMove
    targetShift *= Math.exp(targetMove)
    state[s + c + cls] = targetShift
    if (rescale) {
      const top = largest(state, s + c, c)
      if (top > 1e50 || top < 1e-50) {
        for (let j = s + c; j < s + 2 * c; j++) state[j]! /= top
        targetShift /= top
      }
    }
    // The next O_i, and H_i = b_i·(σ ⊙ g) (in path.row) in the same passes when recording.
    for (let i = 0; i < m; i++) {
      path.other[at + m + i] = dot(block, blk + i * c, state, s + c, c)
      if (record && normalize) path.mixed[at + i] = dot(block, blk + i * c, path.row, 0, c)
    }
  }
  return steps
}

/** `Σ_j a_{i+j}·b_{k+j}`, `j < c` (two running sums: half the chain of dependent additions). */
export function dot(a: Float64Array, i: number, b: Float64Array, k: number, c: number): number {
  let even = 0
  let odd = 0
  let j = 0
  for (; j + 1 < c; j += 2) {
    even += a[i + j]! * b[k + j]!
    odd += a[i + j + 1]! * b[k + j + 1]!
  }
  if (j < c) even += a[i + j]! * b[k + j]!
  return even + odd
}

/** `g_j = σ_j·(g_j + w·b_j)`, `sg_j = σ_j·g_j`; `sums` ← `[Σ g², max g]`. */
function finishGradient(
  g: Float64Array,
  s: number,
  block: Float64Array,
  r: number,
  w: number,
  shift: Float64Array,
  sg: Float64Array,
  c: number,
  sums: Float64Array,
): void {
  let squares = 0
  let top = 0
  for (let j = 0; j < c; j++) {
    const sj = shift[s + j]!
    const v = sj * (g[s + j]! + w * block[r + j]!)
    g[s + j] = v
    sg[j] = sj * v
    squares += v * v
    top = Math.max(top, v)
  }
  sums[0] = squares
  sums[1] = top
}

/** `x = factor·g`, `δ += x`, `σ'_j = σ_j·exp(x_j)` (the series when `series`) into the next state row. */
function moveRow(
  g: Float64Array,
  s: number,
  shift: Float64Array,
  delta: Float64Array,
  row: number,
  factor: number,
  c: number,
  series: boolean,
): void {
  const next = s + c
  for (let j = 0; j < c; j++) {
    const x = factor * g[s + j]!
    delta[row + j]! += x
    shift[next + j] = shift[s + j]! * (series ? seriesExp(x) : fastExp(x))
  }
}
