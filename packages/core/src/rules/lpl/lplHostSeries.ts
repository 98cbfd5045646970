import type { Batch } from './lplHostTypes.js'
import { RESCALE_BOUND, type Trajectory, weighSamples } from './lplHostState.js'

/** Degree of the power series of a one-sample class's search ({@link searchOneSeries}). */
export const SERIES_DEGREE = 16

/** Moments kept per one-sample row: `Σ_j b_j^n`, `n = 1 … SERIES_DEGREE + 2`. */
export const MOMENTS = SERIES_DEGREE + 2

/** What {@link searchOneSeries} leaves out of each entry, relative to it: at most `(e·Σ_k |s_k|)^degree`. */
const SERIES_TOLERANCE = 3e-18

/**
 * `M_n = Σ_j b_j^n`, `n = 1 … MOMENTS`, of the row at `at` into `out[o …]`: one pass, and then a
 * one-sample class needs none per step ({@link searchOneSeries}).
 */
export function momentsOfRow(block: Float64Array, at: number, c: number, out: Float64Array, o: number): void {
  let m1 = 0
  let m2 = 0
  let m3 = 0
  let m4 = 0
  let m5 = 0
  let m6 = 0
  let m7 = 0
  let m8 = 0
  let m9 = 0
  let m10 = 0
  let m11 = 0
  let m12 = 0
  let m13 = 0
  let m14 = 0
  let m15 = 0
  let m16 = 0
  let m17 = 0
  let m18 = 0
  for (let j = at; j < at + c; j++) {
    const v = block[j]!
    const v2 = v * v
    const v3 = v2 * v
    const v4 = v2 * v2
    const v8 = v4 * v4
    const v12 = v8 * v4
    const v16 = v8 * v8
    m1 += v
    m2 += v2
    m3 += v3
    m4 += v4
    m5 += v4 * v
    m6 += v4 * v2
    m7 += v4 * v3
    m8 += v8
    m9 += v8 * v
    m10 += v8 * v2
    m11 += v8 * v3
    m12 += v12
    m13 += v12 * v
    m14 += v12 * v2
    m15 += v12 * v3
    m16 += v16
    m17 += v16 * v
    m18 += v16 * v2
  }
  out.set([m1, m2, m3, m4, m5, m6, m7, m8, m9, m10, m11, m12, m13, m14, m15, m16, m17, m18], o)
}

/**
 * {@link searchOne} without a pass per step. Each entry follows `y ← y·exp(s_k·y)` from `y = b_j`
 * with scalars `s_k = factor_k·w_k` common to all entries, so `y^k_j = φ_k(b_j)` for a power series
 * `φ_k` (`φ_0(b) = b`, `φ_{k+1} = φ_k·exp(s_k·φ_k)`): `O = Σ_j φ_k(b_j) = Σ_n φ_{k,n}·M_n` and
 * `Σ_j φ_k(b_j)² = Σ_n (φ_k²)_n·M_n` from the row's moments, and at the end
 * `δ_j = Σ_k s_k·φ_k(b_j)` in one pass. The series' coefficients are bounded by those of
 * `ψ(b) = b·exp(S·ψ(b))`, `S = Σ_k |s_k|` (`ψ_n ≤ (eS)^{n−1}`), and `b ≤ 1`: cut at degree `q`
 * (at most 16, chosen from the first step) they hold every entry to `(eS)^q ≤ 3e-18`. Returns the
 * number of steps taken, or −1 (nothing written) when `S` grows beyond that, for {@link searchOne}
 * to run instead.
 */
export function searchOneSeries(b: Batch, p: number, delta: Float64Array, row: number, path: Trajectory): number {
  const { c, normalize } = b
  const cls = b.classes[p]!
  const first = b.groupStart[p]!
  const steps = b.steps[p]!
  const signedAlpha = b.signedAlpha[p]!
  if (steps * Math.abs(signedAlpha) > RESCALE_BOUND) return -1
  const moments = b.moments
  const at = first * MOMENTS
  // The degree, once the first step gives |s_0|: the steps' Σ|s| is assumed below 2·K·|s_0|, and
  // checked as it grows.
  let q = SERIES_DEGREE
  let reachLimit = 0
  // The coefficients of φ_k, of exp(s·φ_k), of their product, and of Σ_k s_k·φ_k.
  const series = new Float64Array(SERIES_DEGREE + 1)
  const exponential = new Float64Array(SERIES_DEGREE + 1)
  const product = new Float64Array(SERIES_DEGREE + 1)
  const total = new Float64Array(SERIES_DEGREE + 1)
  series[1] = 1
  path.other[0] = moments[at]!
  let squares = moments[at + 1]!
  let targetShift = 1
  let targetMoves = 0
  let reach = 0
  let taken = steps
  for (let k = 0; k < steps; k++) {
    const a = weighSamples(b, first, 1, k, targetShift, path)
    const w = path.weight[k]!
    let factor = signedAlpha
    if (normalize) {
      const norm = Math.sqrt(w * w * squares + a * a)
      if (norm === 0) {
        taken = k
        break
      }
      factor /= norm
    }
    const s = factor * w
    if (k === 0) {
      const guess = Math.E * 2 * steps * Math.abs(s)
      if (!(guess ** SERIES_DEGREE <= SERIES_TOLERANCE)) return -1
      q = guess === 0 ? 2 : Math.min(SERIES_DEGREE, Math.max(2, Math.ceil(Math.log(SERIES_TOLERANCE) / Math.log(guess))))
      reachLimit = SERIES_TOLERANCE ** (1 / q) / Math.E
    }
    reach += Math.abs(s)
    if (reach > reachLimit) return -1
    for (let n = 1; n <= q; n++) total[n]! += s * series[n]!
    // exp(s·φ) = Σ e_n b^n: e_0 = 1, n·e_n = Σ_{i=1}^{n} i·s·φ_i·e_{n−i}.
    exponential[0] = 1
    for (let n = 1; n <= q; n++) {
      let sum = 0
      for (let i = 1; i <= n; i++) sum += i * series[i]! * exponential[n - i]!
      exponential[n] = (s * sum) / n
    }
    // φ ← φ·exp(s·φ), φ_0 = 0.
    for (let n = q; n >= 1; n--) {
      let sum = 0
      for (let i = 1; i <= n; i++) sum += series[i]! * exponential[n - i]!
      product[n] = sum
    }
    let other = 0
    for (let n = 1; n <= q; n++) {
      series[n] = product[n]!
      other += product[n]! * moments[at + n - 1]!
    }
    // Σ_j φ(b_j)² = Σ_n (φ²)_n·M_n, n = 2 … q + 2.
    squares = 0
    for (let n = 2; n <= q + 2; n++) {
      let sum = 0
      for (let i = Math.max(1, n - q); i <= Math.min(q, n - 1); i++) sum += series[i]! * series[n - i]!
      squares += sum * moments[at + n - 1]!
    }
    path.other[k + 1] = other
    const targetMove = -factor * a
    targetMoves += targetMove
    targetShift *= Math.exp(targetMove)
  }
  addSeries(total, b.block, first * c, delta, row, c)
  delta[row + cls]! += targetMoves
  return taken
}

/** `δ_j += Σ_{n=1}^{16} t_n·b_j^n` (`t` holds `SERIES_DEGREE + 1 = 17` coefficients, `t_0` unused). */
function addSeries(t: Float64Array, block: Float64Array, at: number, delta: Float64Array, row: number, c: number): void {
  const t1 = t[1]!
  const t2 = t[2]!
  const t3 = t[3]!
  const t4 = t[4]!
  const t5 = t[5]!
  const t6 = t[6]!
  const t7 = t[7]!
  const t8 = t[8]!
  const t9 = t[9]!
  const t10 = t[10]!
  const t11 = t[11]!
  const t12 = t[12]!
  const t13 = t[13]!
  const t14 = t[14]!
  const t15 = t[15]!
  const t16 = t[16]!
  for (let j = 0; j < c; j++) {
    const v = block[at + j]!
    const v2 = v * v
    const v4 = v2 * v2
    const v8 = v4 * v4
    // Estrin's scheme: short chains of dependent operations.
    const low = t1 + v * t2 + v2 * (t3 + v * t4) + v4 * (t5 + v * t6 + v2 * (t7 + v * t8))
    const high = t9 + v * t10 + v2 * (t11 + v * t12) + v4 * (t13 + v * t14 + v2 * (t15 + v * t16))
    delta[row + j]! += v * (low + v8 * high)
  }
}
