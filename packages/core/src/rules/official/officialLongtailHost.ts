import type { HostClassRows } from '../hostRows.js'
/** Inputs of {@link officialLongtailHost}: row-major host arrays. */
export interface OfficialLongtailHostInputs {
  /** Logits `z` the search starts from, `[N, C]` row-major. */
  logits: ArrayLike<number>
  /** Class ids `[N]`, each in `[0, C)`. */
  labels: ArrayLike<number>
  /** The class count `C`. */
  numClasses: number
  /** 1 for the rows that count, 0 for masked-out ones (`[N]`); absent: every row counts. */
  rowMask?: ArrayLike<number>
  /** `k_c` per class (`[C]`), the clamped step indices of `officialLongtailSteps`, each in `[0, K − 1]`. */
  stepOf: ArrayLike<number>
  /** `s_c·α` per class (`[C]`): `−α` for the head classes, `+α` for the others. */
  signedAlpha: ArrayLike<number>
  /** `K ≥ 1`, the number of steps. */
  steps: number
}

/**
 * What {@link officialLongtailHostVjp} replays: the batch's class groups and, per step, the present classes'
 * softmax factors and rows of `G` (never an `[N, C]` array per step). `P` is the number of classes with counted
 * rows, `R` the number of counted rows, `S` the number of steps run.
 */
export interface OfficialLongtailTape {
  /** `C`. */
  numClasses: number
  /** `S = min(K, max_c k_c + 1)`: the steps after the last selected one would not change `sel`, and are not run. */
  steps: number
  /** `N`, the batch size including masked-out rows. */
  batchSize: number
  /** The classes with counted rows, ascending (`[P]`). */
  present: Int32Array
  /** Each class's index in `present`, −1 for an absent class (`[C]`). */
  slot: Int32Array
  /** The counted rows grouped by class, in the order of `present` (`[R]`). */
  order: Int32Array
  /** Group `q` is `order[groupStart[q] … groupStart[q + 1])` (`[P + 1]`). */
  groupStart: Int32Array
  /** `s_c·α` (`[C]`). */
  signedAlpha: Float64Array
  /** `k_c` (`[C]`). */
  stepOf: Int32Array
  /**
   * Whether `exp(z_ij + δ_{y_i j})` is taken as `exp(z_ij − max_j z_ij)·exp(δ_{y_i j})`: when
   * `S·max_c |s_c α| ≤ 200` (see `FACTORED_LIMIT`). Otherwise every step takes its exponentials directly.
   */
  factored: boolean
  /** Factored: `exp(z_i − max_j z_ij)`; otherwise `z_i` itself. One row per counted row, in `order` (`[R, C]`). */
  rows: Float64Array
  /** Factored: `exp(δ^k_c)`; otherwise `δ^k_c`; for each step `k` and present class `c` (`[S, P, C]`). */
  deltas: Float64Array
  /** `G^k[c, :] = M^k[c, :] − e_c` for each step `k` and present class `c` (`[S, P, C]`). */
  g: Float64Array
  /** Factored only: `1 / Σ_j exp(z_ij − max z_i)·exp(δ^k_{y_i j})` per step and counted row (`[S, R]`; else empty). */
  inverseSums: Float64Array
  /** `r^k_c = max(‖G^k[:, c]‖₂, 1e-15)` (`[S, C]`). */
  norms: Float64Array
  /** 1 where the floor set `r^k_c` (`[S, C]`). */
  floored: Uint8Array
}

/** What {@link officialLongtailHost} returns. */
export interface OfficialLongtailHostResult {
  /**
   * `sel` for the classes present (`classes` = the tape's `present`): row `q` (`[P, C]` row-major) is
   * `δ` of class `present[q]` after step `k_c + 1`; sample `i` is perturbed by its class's row, and a
   * class without a counted row has a zero row.
   */
  sel: HostClassRows
  /** What the reverse pass replays; {@link officialLongtailHostVjp} does not change it. */
  tape: OfficialLongtailTape
}

/** The floor of the column norms, as in `officialStep`. */
const NORM_FLOOR = 1e-15

/**
 * The largest `S·max_c |s_c α|` for which the exponentials are factored. No entry of a step `s_c α·G[c, :]/r_c`
 * exceeds `|s_c α|` (up to rounding): row `c` of `G = M − I` sums to 0 with only `G_cc` negative, so
 * `|G_cj| ≤ |G_cc| ≤ r_c`, and an absent class's row is `−e_c/r_c` with `r_c ≥ 1`. So `|δ| ≤ S·max|s α|`,
 * `exp(δ)` stays within `e^{±200}`, and the normalizer `Σ_j exp(z_ij − max z_i)·exp(δ_j)` is at least `e^{−200}`
 * (the arg-max term's first factor is 1): nothing overflows, and only terms of probability below `e^{−500}`
 * can underflow. Past the limit each step takes `exp(z_ij + δ_j − max_j (z_ij + δ_j))` itself.
 */
const FACTORED_LIMIT = 200

/**
 * The released long-tail search (`officialLongtailRule`, docs/spec.md#4b-the-released-code) over host arrays in
 * float64. From `δ^0 = 0` (`[C, C]`), step `k = 0 … K − 1` computes, over the counted rows,
 *
 *     U_i = z_i + δ^k_{y_i};  p_i = softmax(U_i);  n_c = #{counted i : y_i = c} (100 where 0)
 *     M = classSums(p)/n_c;  G = M − I;  r_c = max(‖G[:, c]‖₂, 1e-15)
 *     δ^{k+1}[c, :] = δ^k[c, :] + s_c α·G[c, :]/r_c
 *
 * and `sel[c] = δ^{k_c + 1}[c]`; the perturbed logits are `z_i + sel[y_i]`. Only the rows of classes present
 * in the batch are carried densely: an absent class's row of `G` is `−e_c`, which adds 1 to `r_c²`; its row
 * of `sel` is zero (only a masked-out row can have its class, and it takes no class statistic's step). The exponentials of `z` are taken once; a step costs two multiply-add passes per counted row
 * plus a few over the `P` present rows: `O(N·C + K·(N + P)·C)` time. Logits `[N, C]`, labels `[N]`, `sel`
 * `[C, C]` (rows of present classes only are nonzero); the tape holds `R·C + S·(2·P·C + R + 2·C)` numbers.
 */
export function officialLongtailHost(inp: OfficialLongtailHostInputs): OfficialLongtailHostResult {
  const c = inp.numClasses
  const n = inp.labels.length
  const stepOf = Int32Array.from(inp.stepOf)
  let steps = 0
  for (let k = 0; k < c; k++) steps = Math.max(steps, stepOf[k]! + 1)
  steps = Math.min(steps, inp.steps)
  const labels = Int32Array.from(inp.labels)
  // Masked-out rows take no part in the class means: they are left out of every group.
  const counted = Int32Array.from({ length: n }, (_, i) => i).filter((i) => inp.rowMask === undefined || inp.rowMask[i] !== 0)
  const order = counted.sort((a, b) => labels[a]! - labels[b]! || a - b)
  const presentList: number[] = []
  const starts: number[] = []
  for (let m = 0; m < order.length; m++) {
    if (m === 0 || labels[order[m]!] !== labels[order[m - 1]!]) {
      presentList.push(labels[order[m]!]!)
      starts.push(m)
    }
  }
  starts.push(order.length)
  const present = Int32Array.from(presentList)
  const p = present.length
  const slot = new Int32Array(c).fill(-1)
  for (let q = 0; q < p; q++) slot[present[q]!] = q
  const signedAlpha = Float64Array.from(inp.signedAlpha)
  let largestAlpha = 0
  for (let k = 0; k < c; k++) largestAlpha = Math.max(largestAlpha, Math.abs(signedAlpha[k]!))
  const factored = steps * largestAlpha <= FACTORED_LIMIT

  const r = order.length
  const rows = new Float64Array(r * c)
  for (let m = 0; m < r; m++) {
    const from = order[m]! * c
    const at = m * c
    if (factored) {
      let max = -Infinity
      for (let j = 0; j < c; j++) max = Math.max(max, inp.logits[from + j]!)
      for (let j = 0; j < c; j++) rows[at + j] = Math.exp(inp.logits[from + j]! - max)
    } else {
      for (let j = 0; j < c; j++) rows[at + j] = inp.logits[from + j]!
    }
  }
  const tape: OfficialLongtailTape = {
    numClasses: c,
    steps,
    batchSize: n,
    present,
    slot,
    order,
    groupStart: Int32Array.from(starts),
    signedAlpha,
    stepOf,
    factored,
    rows,
    deltas: new Float64Array(steps * p * c),
    g: new Float64Array(steps * p * c),
    inverseSums: new Float64Array(factored ? steps * r : 0),
    norms: new Float64Array(steps * c),
    floored: new Uint8Array(steps * c),
  }
  const { deltas, g, norms, floored } = tape
  if (factored) deltas.fill(1, 0, p * c)
  const delta = new Float64Array(p * c)
  const squares = new Float64Array(c)
  const scratch = new Float64Array(c)
  const sel = new Float64Array(p * c)
  for (let k = 0; k < steps; k++) {
    const table = k * p * c
    if (!factored) deltas.set(delta, table)
    // r_c² = Σ over present rows of G[a, c]², plus 1 from the absent row c itself.
    for (let j = 0; j < c; j++) squares[j] = slot[j]! < 0 ? 1 : 0
    for (let q = 0; q < p; q++) classRowOfG(tape, k, q, scratch, squares)
    // |G| ≤ 1, so the squares cannot overflow; any that underflow belong to norms far below the floor.
    for (let j = 0; j < c; j++) {
      const norm = Math.sqrt(squares[j]!)
      const low = norm < NORM_FLOOR
      norms[k * c + j] = low ? NORM_FLOOR : norm
      floored[k * c + j] = low ? 1 : 0
    }
    const next = factored && k + 1 < steps ? (k + 1) * p * c : -1
    for (let q = 0; q < p; q++) {
      const scale = signedAlpha[present[q]!]! / norms[k * c + present[q]!]!
      const at = q * c
      if (next >= 0) {
        for (let j = at; j < at + c; j++) {
          const move = scale * g[table + j]!
          delta[j]! += move
          deltas[next + j] = deltas[table + j]! * expOfStep(move)
        }
      } else {
        for (let j = at; j < at + c; j++) delta[j]! += scale * g[table + j]!
      }
    }
    // A class with no counted row keeps a zero row: only masked-out rows could take it, and they
    // take no perturbation from a class statistic the batch does not have (docs/spec.md#8-reductions-sample-weights-and-masks).
    for (let cls = 0; cls < c; cls++) {
      const q = slot[cls]!
      if (stepOf[cls] === k && q >= 0) sel.set(delta.subarray(q * c, (q + 1) * c), q * c)
    }
  }
  return { sel: { classes: present, rows: sel }, tape }
}

/**
 * The vector-Jacobian product of {@link officialLongtailHost}: for an upstream `∂L/∂sel` (`[P, C]`, the rows of `sel`), returns
 * `∂L/∂z` (`[N, C]`) through all the steps, with zero rows for masked-out rows (they do not enter `sel`). With
 * `Λ = ∂L/∂δ^{k+1}` (rows of present classes, and the diagonal of absent ones), step `k = S − 1 … 0` runs
 *
 *     Λ[c] += ∂L/∂sel[c] for the classes with k_c = k;  W[a, :] = s_a α·Λ[a, :]
 *     t_b = Σ_j W_bj G_bj;  Ḡ_ab = W_ab/r_a − G_ab·t_b/r_b³   (second term 0 where r_b was floored)
 *     P̄_i = Ḡ[y_i]/n_{y_i};  ū_i = p_i ⊙ (P̄_i − p_i·P̄_i)
 *     ∂L/∂z_i += ū_i;  Λ[y_i] += ū_i
 *
 * leaving `Λ = ∂L/∂δ^k` (as `δ^{k+1} = δ^k + …`). An absent class has a zero row of `sel`: no `Λ`, `t_b = 0`.
 * A step costs two passes per counted row and two over the present rows: `O(K·(N + P)·C)` in all. For the
 * released loss `L = mean_i CE(z_i + sel[y_i], y_i)`, upstream row `c` is the sum of `∂L/∂(z_i + sel[y_i])`
 * over the rows of class `c`, and `∂L/∂z` is that direct term plus this product.
 */
export function officialLongtailHostVjp(forward: OfficialLongtailHostResult, upstream: ArrayLike<number>): Float64Array {
  const tape = forward.tape
  const { numClasses: c, steps, present, slot, order, groupStart, signedAlpha, stepOf, factored } = tape
  const { rows, deltas, g, inverseSums, norms, floored } = tape
  const p = present.length
  const r = order.length
  const grad = new Float64Array(tape.batchSize * c)
  const lambda = new Float64Array(p * c)
  const columnTerm = new Float64Array(c)
  const bar = new Float64Array(c)
  const scratch = new Float64Array(c)
  for (let k = steps - 1; k >= 0; k--) {
    const table = k * p * c
    for (let cls = 0; cls < c; cls++) {
      if (stepOf[cls] !== k) continue
      const q = slot[cls]!
      if (q >= 0) for (let j = 0; j < c; j++) lambda[q * c + j]! += upstream[q * c + j]!
    }
    // t_b/r_b³, with t_b = s_b α·Σ_j Λ_bj G_bj (W is not formed).
    for (let cls = 0; cls < c; cls++) {
      const q = slot[cls]!
      // An absent class's row of sel is zero, so its Λ (and t) is 0.
      let t = 0
      if (q >= 0) {
        for (let j = q * c; j < (q + 1) * c; j++) t += lambda[j]! * g[table + j]!
        t *= signedAlpha[cls]!
      }
      const rb = norms[k * c + cls]!
      columnTerm[cls] = floored[k * c + cls] ? 0 : t / (rb * rb * rb)
    }
    for (let q = 0; q < p; q++) {
      const cls = present[q]!
      const at = q * c
      const scale = signedAlpha[cls]! / norms[k * c + cls]!
      const inverseCount = 1 / (groupStart[q + 1]! - groupStart[q]!)
      // P̄ of the class; in the factored form times exp(δ_j), as p_ij·P̄_j = rows_ij·inv_i·(exp(δ_j)·P̄_j).
      for (let j = 0; j < c; j++) {
        const value = (scale * lambda[at + j]! - g[table + at + j]! * columnTerm[j]!) * inverseCount
        bar[j] = factored ? deltas[table + at + j]! * value : value
      }
      for (let m = groupStart[q]!; m < groupStart[q + 1]!; m++) {
        const from = m * c
        const to = order[m]! * c
        if (factored) {
          const inverse = inverseSums[k * r + m]!
          let dot = 0
          for (let j = 0; j < c; j++) dot += rows[from + j]! * bar[j]!
          dot *= inverse
          for (let j = 0; j < c; j++) {
            const u = rows[from + j]! * inverse * (bar[j]! - dot * deltas[table + at + j]!)
            grad[to + j]! += u
            lambda[at + j]! += u
          }
        } else {
          const inverse = directTerms(scratch, rows, from, deltas, table + at, c)
          let dot = 0
          for (let j = 0; j < c; j++) dot += scratch[j]! * bar[j]!
          dot *= inverse
          for (let j = 0; j < c; j++) {
            const u = scratch[j]! * inverse * (bar[j]! - dot)
            grad[to + j]! += u
            lambda[at + j]! += u
          }
        }
      }
    }
  }
  return grad
}

/**
 * Row `q` of `G^k = M^k − I` (the mean softmax of present class `q`'s counted rows, minus its unit vector) into
 * the tape, with each counted row's inverse normalizer in the factored form, and its squares added to `squares`.
 */
function classRowOfG(tape: OfficialLongtailTape, k: number, q: number, scratch: Float64Array, squares: Float64Array): void {
  const { numClasses: c, present, groupStart, rows, deltas, g, inverseSums, factored } = tape
  const r = tape.order.length
  const at = k * present.length * c + q * c
  const first = groupStart[q]!
  const end = groupStart[q + 1]!
  for (let m = first; m < end; m++) {
    const from = m * c
    if (factored) {
      let sum = 0
      for (let j = 0; j < c; j++) sum += rows[from + j]! * deltas[at + j]!
      const inverse = 1 / sum
      inverseSums[k * r + m] = inverse
      // exp(δ_j) is common to the group: applied once below. The first row is written, not added to zeros.
      if (m === first) for (let j = 0; j < c; j++) g[at + j] = rows[from + j]! * inverse
      else for (let j = 0; j < c; j++) g[at + j]! += rows[from + j]! * inverse
    } else {
      const inverse = directTerms(scratch, rows, from, deltas, at, c)
      if (m === first) for (let j = 0; j < c; j++) g[at + j] = scratch[j]! * inverse
      else for (let j = 0; j < c; j++) g[at + j]! += scratch[j]! * inverse
    }
  }
  const inverseCount = 1 / (end - first)
  const diagonal = present[q]!
  for (let j = 0; j < c; j++) {
    // The diagonal's 1 is taken off before squaring: a class the batch predicts confidently has G_cc near 0.
    const mean = (factored ? g[at + j]! * deltas[at + j]! : g[at + j]!) * inverseCount
    const value = j === diagonal ? mean - 1 : mean
    g[at + j] = value
    squares[j]! += value * value
  }
}

/** `exp(z_j + δ_j − max_j (z_j + δ_j))` into `out`; returns the inverse of their sum. */
function directTerms(out: Float64Array, z: Float64Array, from: number, delta: Float64Array, at: number, c: number): number {
  let max = -Infinity
  for (let j = 0; j < c; j++) max = Math.max(max, z[from + j]! + delta[at + j]!)
  let sum = 0
  for (let j = 0; j < c; j++) {
    const e = Math.exp(z[from + j]! + delta[at + j]! - max)
    out[j] = e
    sum += e
  }
  return 1 / sum
}

/**
 * `exp(x)`: for |x| < 0.01, where the off-diagonal entries of a step mostly fall, the [3/3] Padé approximant
 * `(120 + 60x + 12x² + x³)/(120 − 60x + 12x² − x³)` (relative error below `1e-5·|x|⁷`, 1e-19), which costs
 * less than a polynomial of the same accuracy; else `Math.exp`.
 */
function expOfStep(x: number): number {
  if (Math.abs(x) >= 0.01) return Math.exp(x)
  const square = x * x
  const even = 120 + 12 * square
  const odd = x * (60 + square)
  return (even + odd) / (even - odd)
}
