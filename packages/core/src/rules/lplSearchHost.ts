import { check } from '../errors.js'
import { STEP_ROUNDING } from './lplBounds.js'

/** Inputs of {@link lplSearchHost}: row-major host arrays. */
export interface LplHostSearchInputs {
  /** Logits the search starts from, `[N, C]` row-major. */
  logits: ArrayLike<number>
  /** Class ids `[N]`, each in `[0, C)`. */
  labels: ArrayLike<number>
  /** The class count `C`. */
  numClasses: number
  /** 1 for the rows that count, 0 for masked-out ones (`[N]`); absent: every row counts. */
  rowMask?: ArrayLike<number>
  /** `s_c` and `ε_c`, one per class. */
  directions: ArrayLike<number>
  /** `ε_c ≥ 0`, one per class: class `c` takes `K_c = min(⌊ε_c/α⌋, maxSteps, unrolledSteps)` steps. */
  bounds: ArrayLike<number>
  /** Step length `α > 0`. */
  alpha: number
  /** `K`, the cap on every `K_c`. */
  maxSteps: number
  /** A second cap on every `K_c`: the number of steps the op path unrolls ({@link LplSearchInputs.unrolledSteps}). */
  unrolledSteps: number
  /** Steps of length `α` along `g_c/‖g_c‖₂` (true) or `α·g_c` (false). */
  normalize: boolean
}

/** The forward search of {@link lplSearchHostWithVjp}, and its reverse pass. */
export interface LplHostSearch {
  /** `δ`, `[C, C]` row-major: row `c` is `δ_c` (zero for classes absent from the batch or without steps). */
  readonly delta: Float64Array
  /**
   * `∂L/∂z` (`[N, C]` row-major, zero rows for masked-out rows) from `upstream = ∂L/∂δ` (`[C, C]`
   * row-major): {@link lplSearchHostVjp} without reading and exponentiating the logits again.
   */
  vjp(upstream: ArrayLike<number>): Float64Array
}

/** See `lplSearch.ts`: the smallest weight a sample keeps in a normalized class direction. */
const MIN_SAMPLE_WEIGHT = 1e-37

/**
 * LPL's search (`lplSearch`) as one loop over host arrays, in float64: the same steps, the same
 * step counts `K_c = min(⌊ε_c/α⌋, K)`, the same underflow-safe class directions. Per class `c`
 * (samples `S_c`, masked rows left out), from `δ_c = 0`, `K_c` times:
 *
 *     p_i = softmax(z_i + δ_c),  a_i = max(1 − p_{i,c}, 1e-37),  q_i = softmax of the non-target entries
 *     g   = Σ_{i∈S_c} a_i·(q_i − e_c)                (= Σ (p_i − e_c) where no a_i is floored)
 *     δ_c ← δ_c + s_c·α·g/‖g‖₂   (normalize; no step when g = 0),   δ_c ← δ_c + s_c·α·g/|S_c|   (else)
 *
 * Logits `[N, C]`, returns `δ` (`[C, C]`, row `c` is `δ_c`; zero for absent classes). Time at most
 * `O(K·N·C)`: a class of one sample takes two passes over its row whatever its `K_c` (a power series
 * carries its steps), a class of two one pass per step, a larger one about `m + 2` row passes per
 * step; memory `O(N·C + K·C)`. Backends that can read their tensors synchronously use it instead of
 * a dozen tensor ops per step; the conformance suite checks it against the op path.
 */
export function lplSearchHost(inp: LplHostSearchInputs): Float64Array {
  return forward(readBatch(inp, true))
}

/**
 * {@link lplSearchHost} keeping what its reverse pass reuses: the logits read and exponentiated once
 * (`O(N·C)`), not the steps. `delta` is `δ` (`[C, C]`); `vjp(upstream)` is
 * {@link lplSearchHostVjp} for the same inputs, which replays each class's steps (`O(K·C)` at a
 * time) and runs them backwards; it can be called any number of times. The inputs are copied:
 * changing them afterwards changes neither.
 */
export function lplSearchHostWithVjp(inp: LplHostSearchInputs): LplHostSearch {
  const batch = readBatch(inp, true)
  return { delta: forward(batch), vjp: (upstream) => reversePass(batch, upstream) }
}

/**
 * The vector–Jacobian product of {@link lplSearchHost}: `∂L/∂z` (`[N, C]` row-major; zero rows for
 * masked-out rows and for the samples of classes without steps) from `upstream = ∂L/∂δ` (`[C, C]`
 * row-major), in float64. Each class on its own: its forward steps `δ^k` are recomputed and kept
 * (`O(K·C)`), then from `λ = upstream_c`, for `k = K_c − 1 … 0`, with `g`, `p_i`, `q_i` at `δ^k` and
 * `β = s_c·α`:
 *
 *     w   = β·(λ − ĝ (ĝ·λ))/‖g‖,  ĝ = g/‖g‖        (normalize; w = 0 for a skipped step, g = 0)
 *     w   = β·λ/|S_c|                              (else)
 *     t_i = p_i ⊙ (w − p_i·w)                      (sample with a_i = 1 − p_{i,c})
 *     t_i = 1e-37·q_i ⊙ (w − q_i·w), 0 at c        (floored sample, a_i held at 1e-37)
 *     ∂L/∂z_i += t_i,   λ += Σ_{i∈S_c} t_i
 *
 * Two to three times the forward's time; memory `O(N·C + K·C)`.
 */
export function lplSearchHostVjp(inp: LplHostSearchInputs, upstream: ArrayLike<number>): Float64Array {
  return reversePass(readBatch(inp, false), upstream)
}

/**
 * The batch as the search reads it: the counted rows grouped by class (only classes with samples and
 * steps), and per row `i` (label `y`, `m_i = max_{j≠y} z_ij`) the factors `b_ij = exp(z_ij − m_i)`,
 * 0 at `y`, and `e_i = exp(z_iy − m_i)`. With `σ_j = exp(δ_j)` (up to a common factor) the
 * non-target mass is `O_i = Σ_j b_ij·σ_j` and the target's `T_i = e_i·σ_y`: `1 − p_y = O/(O + T)`
 * keeps its digits however close `p_y` is to 1, and `q_i = b_i ⊙ σ/O_i` never underflows (its
 * largest entry is at least `1/C`), so a floored sample needs no second softmax.
 */
interface Batch {
  c: number
  n: number
  normalize: boolean
  /** The classes that move, ascending. */
  classes: Int32Array
  /** `K_c`, per entry of `classes`. */
  steps: Int32Array
  /** `s_c·α`, per entry of `classes`. */
  signedAlpha: Float64Array
  /** Grouped rows `groupStart[p] … groupStart[p + 1] − 1` belong to `classes[p]`. */
  groupStart: Int32Array
  /** The original row of each grouped row. */
  order: Int32Array
  /**
   * `b`, class by class from `f·C` (`f` the class's first grouped row): row by row, except for a
   * class of two, whose rows are interleaved (`b_ij` at `f·C + 2j + i`) for its one pass over `j`.
   */
  block: Float64Array
  /** `Σ_j b_ij`: `O_i` at `δ = 0`. */
  otherMass: Float64Array
  /** `Σ_j b_ij²`. */
  squareMass: Float64Array
  /** `e_i` (Infinity where `z_iy − m_i` is beyond the float64 range: then `1 − p_y = 0`). */
  targetFactor: Float64Array
  /** `Σ_j b_ij^n`, `n = 1 … MOMENTS`, from `i·MOMENTS`, for the rows of one-sample classes (empty when not asked for). */
  moments: Float64Array
  /** The largest `K_c` and the largest group. */
  maxSteps: number
  maxGroup: number
}

/** The batch of `inp`, with the moments of its one-sample rows when `withMoments` (only the forward uses them). */
function readBatch(inp: LplHostSearchInputs, withMoments: boolean): Batch {
  const c = inp.numClasses
  const n = inp.labels.length
  const labels = Int32Array.from(inp.labels)
  const mask = inp.rowMask
  // Counting sort of the counted rows by class.
  const counts = new Int32Array(c)
  for (let i = 0; i < n; i++) if (mask === undefined || mask[i] !== 0) counts[labels[i]!]!++
  const steps = new Int32Array(c)
  const moving: number[] = []
  for (let k = 0; k < c; k++) {
    steps[k] = Math.max(0, Math.min(Math.floor(inp.bounds[k]! / inp.alpha + STEP_ROUNDING), inp.maxSteps, inp.unrolledSteps)) || 0
    // With one class there are no non-target logits: g = 0, δ stays 0.
    if (c > 1 && steps[k]! > 0 && counts[k]! > 0) moving.push(k)
  }
  const classes = Int32Array.from(moving)
  const groupStart = new Int32Array(classes.length + 1)
  // Where the next row of each moving class goes; -1 for the others.
  const slot = new Int32Array(c).fill(-1)
  let maxGroup = 0
  let maxSteps = 0
  for (let p = 0; p < classes.length; p++) {
    const size = counts[classes[p]!]!
    slot[classes[p]!] = groupStart[p]!
    groupStart[p + 1] = groupStart[p]! + size
    maxGroup = Math.max(maxGroup, size)
    maxSteps = Math.max(maxSteps, steps[classes[p]!]!)
  }
  const rows = groupStart[classes.length]!
  const order = new Int32Array(rows)
  for (let i = 0; i < n; i++) {
    if (mask !== undefined && mask[i] === 0) continue
    const at = slot[labels[i]!]!
    if (at >= 0) {
      order[at] = i
      slot[labels[i]!] = at + 1
    }
  }
  const block = new Float64Array(rows * c)
  const otherMass = new Float64Array(rows)
  const squareMass = new Float64Array(rows)
  const targetFactor = new Float64Array(rows)
  const moments = new Float64Array(withMoments ? rows * MOMENTS : 0)
  const logits = inp.logits
  const typed = ArrayBuffer.isView(logits)
  const z = new Float64Array(c)
  const pair = new Float64Array(2)
  for (let p = 0; p < classes.length; p++) {
    const first = groupStart[p]!
    const m = groupStart[p + 1]! - first
    for (let i = 0; i < m; i++) {
      const row = order[first + i]!
      // Typed arrays are copied by the engine; any other array-like element by element.
      if (typed) z.set((logits as unknown as Float32Array).subarray(row * c, (row + 1) * c))
      else for (let j = 0; j < c; j++) z[j] = logits[row * c + j]!
      const y = classes[p]!
      const target = z[y]!
      z[y] = Number.NEGATIVE_INFINITY
      const max = m === 2 ? exponentiateRow(z, block, first * c + i, 2, c, pair) : exponentiateRow(z, block, (first + i) * c, 1, c, pair)
      otherMass[first + i] = pair[0]!
      squareMass[first + i] = pair[1]!
      targetFactor[first + i] = Math.exp(target - max)
      if (withMoments && m === 1) momentsOfRow(block, first * c, c, moments, first * MOMENTS)
    }
  }
  return {
    c,
    n,
    normalize: inp.normalize,
    classes,
    steps: Int32Array.from(classes, (k) => steps[k]!),
    signedAlpha: Float64Array.from(classes, (k) => inp.directions[k]! * inp.alpha),
    groupStart,
    order,
    block,
    otherMass,
    squareMass,
    targetFactor,
    moments,
    maxSteps,
    maxGroup,
  }
}

/**
 * `out[at + j·stride] = exp(z_j − max z)`; `pair` ← `[Σ, Σ²]` of those; returns `max z`. The target
 * entry comes in as −Infinity, so it leaves 0.
 */
function exponentiateRow(z: Float64Array, out: Float64Array, at: number, stride: number, c: number, pair: Float64Array): number {
  let max = Number.NEGATIVE_INFINITY
  for (let j = 0; j < c; j++) max = Math.max(max, z[j]!)
  // Every non-target logit −Infinity: all b_j are 0 (not NaN).
  if (max === Number.NEGATIVE_INFINITY) max = 0
  let sum = 0
  let squares = 0
  for (let j = 0; j < c; j++) {
    const v = fastExp(z[j]! - max)
    out[at + j * stride] = v
    sum += v
    squares += v * v
  }
  pair[0] = sum
  pair[1] = squares
  return max
}

/**
 * One class's steps, sized for the largest class and reused by every class: the state rows
 * (`K + 1` rows of `C`: `σ^k = exp(δ^k)` up to a common factor, or for a one-sample class
 * `y^k = b ⊙ σ^k`), the class gradients `g^k` off the target (`K` rows, classes of three or more),
 * per step the step factor (`s·α/‖g‖` or `s·α/|S_c|`), `‖g‖` and `A = Σ_i a_i`, and per sample
 * `O_i`, `T_i`, its weight `w_i` in `g` (`g_j = σ_j·Σ_i w_i·b_ij` off the target: `w_i = 1/(O_i + T_i)`,
 * or `1e-37/O_i` when floored) and `H_i = Σ_j b_ij·σ_j·g_j`.
 */
class Trajectory {
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
  /** {@link searchOneSeries}'s power series: `φ_k`, `exp(s·φ_k)`, a product, `Σ_k s_k·φ_k`. */
  readonly series = new Float64Array(SERIES_DEGREE + 1)
  readonly exponential = new Float64Array(SERIES_DEGREE + 1)
  readonly product = new Float64Array(SERIES_DEGREE + 1)
  readonly total = new Float64Array(SERIES_DEGREE + 1)

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

function forward(b: Batch): Float64Array {
  const delta = new Float64Array(b.c * b.c)
  const path = new Trajectory(b)
  for (let p = 0; p < b.classes.length; p++) searchClass(b, p, delta, b.classes[p]! * b.c, path, false)
  return delta
}

/**
 * A pass takes `exp(x)` as its degree-5 series (relative error below 2e-15) when a bound on its
 * largest move is at most this, else {@link fastExp}.
 */
const SERIES_BOUND = 1e-2

/**
 * `|δ_j|` grows by at most `|s·α|` per step (a normalized move has length `|s·α|`; a plain one,
 * `s·α·g/n_c`, has entries of at most `|s·α|` as `|g_j| ≤ n_c`), so `σ = exp(δ)` stays within
 * `e^{±K|sα|}`: only where `K|sα|` exceeds this bound is it watched and rescaled.
 */
const RESCALE_BOUND = 100

/** `exp(x)` for `|x| ≤ SERIES_BOUND` (Estrin's scheme: short dependency chains). */
function seriesExp(x: number): number {
  const x2 = x * x
  return 1 + x + x2 * (1 / 2 + x * (1 / 6)) + x2 * x2 * (1 / 24 + x * (1 / 120))
}

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
 * Larger classes take passes over two rows at a time ({@link searchRows}).
 */
function searchClass(b: Batch, p: number, delta: Float64Array, row: number, path: Trajectory, record: boolean): number {
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
 * The weights of step `k`'s samples from their `O_i` (`path.other`) and `T_i = e_i·σ_y`: `w_i` into
 * `path.weight`, `T_i` into `path.target`; returns `A = Σ_i a_i`.
 */
function weighSamples(b: Batch, first: number, m: number, k: number, targetShift: number, path: Trajectory): number {
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
    if (Math.abs(scale) * Math.sqrt(squares) <= SERIES_BOUND) stepOneSeries(state, k * c, delta, row, scale, c, sums)
    else stepOneExp(state, k * c, delta, row, scale, c, sums)
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

/** Degree of the power series of a one-sample class's search ({@link searchOneSeries}). */
const SERIES_DEGREE = 16
/** Moments kept per one-sample row: `Σ_j b_j^n`, `n = 1 … SERIES_DEGREE + 2`. */
const MOMENTS = SERIES_DEGREE + 2
/** What {@link searchOneSeries} leaves out of each entry, relative to it: at most `(e·Σ_k |s_k|)^degree`. */
const SERIES_TOLERANCE = 3e-18

/**
 * `M_n = Σ_j b_j^n`, `n = 1 … MOMENTS`, of the row at `at` into `out[o …]`: one pass, and then a
 * one-sample class needs none per step ({@link searchOneSeries}).
 */
function momentsOfRow(block: Float64Array, at: number, c: number, out: Float64Array, o: number): void {
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
function searchOneSeries(b: Batch, p: number, delta: Float64Array, row: number, path: Trajectory): number {
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
  const { series, exponential, product, total } = path
  series.fill(0)
  series[1] = 1
  total.fill(0)
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

/** `max_j v[s + j]`. */
function largest(v: Float64Array, s: number, c: number): number {
  let top = 0
  for (let j = s; j < s + c; j++) top = Math.max(top, v[j]!)
  return top
}

/** A one-sample step: `x = scale·y`, `δ += x`, `y' = y·exp(x)` (series), `sums` ← `[Σ y', Σ y'²]`. */
function stepOneSeries(y: Float64Array, s: number, delta: Float64Array, row: number, scale: number, c: number, sums: Float64Array): void {
  let sum = 0
  let squares = 0
  const next = s + c
  for (let j = 0; j < c; j++) {
    const v = y[s + j]!
    const x = scale * v
    delta[row + j]! += x
    const x2 = x * x
    const u = v * (1 + x + x2 * (1 / 2 + x * (1 / 6)) + x2 * x2 * (1 / 24 + x * (1 / 120)))
    y[next + j] = u
    sum += u
    squares += u * u
  }
  sums[0] = sum
  sums[1] = squares
}

/** {@link stepOneSeries} with moves of any size. */
function stepOneExp(y: Float64Array, s: number, delta: Float64Array, row: number, scale: number, c: number, sums: Float64Array): void {
  let sum = 0
  let squares = 0
  const next = s + c
  for (let j = 0; j < c; j++) {
    const v = y[s + j]!
    const x = scale * v
    delta[row + j]! += x
    const u = v * fastExp(x)
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
 * {@link searchClass} for a class of `m ≥ 3` samples, on `σ`, in passes over two rows at a time: `g`
 * (`⌈m/2⌉` passes, kept for the reverse pass), the move (one), the next `O_i` (`⌈m/2⌉`, with `H_i`
 * when `record`).
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
    scaledPair(grad, s, block, blk, weight[at]!, blk + c, weight[at + 1]!, c)
    let i = 2
    for (; m - i > 2; i += 2) addScaledPair(grad, s, block, blk + i * c, weight[at + i]!, blk + (i + 1) * c, weight[at + i + 1]!, c)
    if (m - i === 2)
      finishPair(grad, s, block, blk + i * c, weight[at + i]!, blk + (i + 1) * c, weight[at + i + 1]!, state, path.row, c, sums)
    else finishGradient(grad, s, block, blk + i * c, weight[at + i]!, state, path.row, c, sums)
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
    const withMixed = record && normalize
    for (let i = 0; i < m; i += 2) {
      const pair = i + 1 < m
      const second = blk + (pair ? i + 1 : i) * c
      if (withMixed) dotFour(block, blk + i * c, second, state, s + c, path.row, c, sums)
      else dotTwo(block, blk + i * c, second, state, s + c, c, sums)
      path.other[at + m + i] = sums[0]!
      if (pair) path.other[at + m + i + 1] = sums[1]!
      if (withMixed) {
        path.mixed[at + i] = sums[2]!
        if (pair) path.mixed[at + i + 1] = sums[3]!
      }
    }
  }
  return steps
}

/** `Σ_j a_{i+j}·b_{k+j}`, `j < c` (two running sums: half the chain of dependent additions). */
function dot(a: Float64Array, i: number, b: Float64Array, k: number, c: number): number {
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

/** `sums` ← `[a_{r0}·b_k, a_{r1}·b_k]` (rows of `c` entries from `r0`, `r1`, `k`). */
function dotTwo(a: Float64Array, r0: number, r1: number, b: Float64Array, k: number, c: number, sums: Float64Array): void {
  let first = 0
  let second = 0
  for (let j = 0; j < c; j++) {
    const v = b[k + j]!
    first += a[r0 + j]! * v
    second += a[r1 + j]! * v
  }
  sums[0] = first
  sums[1] = second
}

/** `sums` ← `[a_{r0}·b_k, a_{r1}·b_k, a_{r0}·d, a_{r1}·d]`. */
function dotFour(
  a: Float64Array,
  r0: number,
  r1: number,
  b: Float64Array,
  k: number,
  d: Float64Array,
  c: number,
  sums: Float64Array,
): void {
  let s0 = 0
  let s1 = 0
  let s2 = 0
  let s3 = 0
  for (let j = 0; j < c; j++) {
    const u0 = a[r0 + j]!
    const u1 = a[r1 + j]!
    const v = b[k + j]!
    const e = d[j]!
    s0 += u0 * v
    s1 += u1 * v
    s2 += u0 * e
    s3 += u1 * e
  }
  sums[0] = s0
  sums[1] = s1
  sums[2] = s2
  sums[3] = s3
}

/** `out_j = w0·b_{r0,j} + w1·b_{r1,j}`. */
function scaledPair(out: Float64Array, o: number, block: Float64Array, r0: number, w0: number, r1: number, w1: number, c: number): void {
  for (let j = 0; j < c; j++) out[o + j] = w0 * block[r0 + j]! + w1 * block[r1 + j]!
}

/** `out_j += w0·b_{r0,j} + w1·b_{r1,j}`. */
function addScaledPair(out: Float64Array, o: number, block: Float64Array, r0: number, w0: number, r1: number, w1: number, c: number): void {
  for (let j = 0; j < c; j++) out[o + j]! += w0 * block[r0 + j]! + w1 * block[r1 + j]!
}

/** {@link finishGradient} with two rows. */
function finishPair(
  g: Float64Array,
  s: number,
  block: Float64Array,
  r0: number,
  w0: number,
  r1: number,
  w1: number,
  shift: Float64Array,
  sg: Float64Array,
  c: number,
  sums: Float64Array,
): void {
  let squares = 0
  let top = 0
  for (let j = 0; j < c; j++) {
    const sj = shift[s + j]!
    const v = sj * (g[s + j]! + w0 * block[r0 + j]! + w1 * block[r1 + j]!)
    g[s + j] = v
    sg[j] = sj * v
    squares += v * v
    top = Math.max(top, v)
  }
  sums[0] = squares
  sums[1] = top
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

/** `2^(j/64)`, `j = 0 … 63`. */
const EXP_FRACTIONS = Float64Array.from({ length: 64 }, (_, j) => 2 ** (j / 64))
/** `2^(e − 1100)`: 0 below the subnormals, Infinity above the range. */
const EXP_POWERS = Float64Array.from({ length: 2201 }, (_, e) => 2 ** (e - 1100))
/** `ln 2/64` in two parts (fdlibm's `ln2_hi`, `ln2_lo` over 64): `k·HI` is exact for `|k| < 2^21`. */
const LN2_64_HI = 6.9314718036912382e-1 / 64
const LN2_64_LO = 1.9082149292705877e-10 / 64

/**
 * `exp(x)` within 2 ulp: `x = k·ln2/64 + r`, `|r| ≤ ln2/128`, `exp(x) = 2^(k/64)·(series in r)`.
 * Inlined into the loops that call it, it costs a fraction of `Math.exp`.
 */
function fastExp(x: number): number {
  // Clamped to where the result is 0 or Infinity anyway (NaN passes).
  const v = Math.min(Math.max(x, -746), 710)
  const k = Math.floor(v * (64 / Math.LN2) + 0.5)
  const r = v - k * LN2_64_HI - k * LN2_64_LO
  const r2 = r * r
  return (1 + r + r2 * (1 / 2 + r * (1 / 6)) + r2 * r2 * (1 / 24 + r * (1 / 120))) * EXP_FRACTIONS[k & 63]! * EXP_POWERS[(k >> 6) + 1100]!
}

/**
 * `∂L/∂z` from `upstream = ∂L/∂δ`: per class, the steps replayed ({@link searchClass}) and run
 * backwards. The softmax's Jacobian ignores a constant added to `w`, so `w' = w − w_y` is used (0 at
 * the target): `p·w' = Σ_{j≠y} p_j·w'_j` keeps its digits when `p_y` is near 1. Per sample, with
 * `L_i = Σ_j b_ij·σ_j·(λ_j − λ_y)` (the previous step's pass leaves it), `g·λ = Σ_i w_i·L_i` and
 * `Σ_j b_ij·σ_j·w'_j = factor·(L_i − μ·(H_i + A·O_i))`, `μ = g·λ/‖g‖²`: every scalar a step needs is
 * known before its passes.
 */
function reversePass(b: Batch, upstream: ArrayLike<number>): Float64Array {
  const c = b.c
  check(upstream.length === c * c, 'SHAPE_MISMATCH', `the upstream gradient has ${upstream.length} entries, not C² = ${c * c}`, 'upstream')
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
    if (typed) lambda.set((upstream as unknown as Float64Array).subarray(cls * c, (cls + 1) * c))
    else for (let j = 0; j < c; j++) lambda[j] = upstream[cls * c + j]!
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

/** One reverse step of a class of `m ≥ 3`, pass by pass over single rows (`g` from the forward's record). */
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
  for (let j = 0; j < c; j++) work[j] = shift[s + j]! * factor * (lambda[j]! - offset - mu * grad[s + j]!)
  for (let i = 0; i < m; i += 2) {
    // An odd last row is paired with itself at no weight.
    const i1 = i + 1 < m ? i + 1 : i
    const scale1 = i + 1 < m ? scale[i1]! : 0
    softmaxBackPair(
      dz,
      rows[i]!,
      rows[i1]!,
      lambda,
      block,
      blk + i * c,
      blk + i1 * c,
      work,
      shift,
      s,
      scale[i]!,
      centre[i]!,
      scale1,
      centre[i1]!,
      c,
    )
  }
  for (let j = 0; j < c; j++) work[j] = shift[previous + j]! * (lambda[j]! - newTarget)
  for (let i = 0; i < m; i += 2) {
    const i1 = i + 1 < m ? i + 1 : i
    dotTwo(block, blk + i * c, blk + i1 * c, work, 0, c, pairSums)
    out[i] = pairSums[0]!
    if (i1 > i) out[i1] = pairSums[1]!
  }
}

/** Two sums a pass of {@link backRows} returns. */
const pairSums = new Float64Array(2)

/**
 * `t_ij = scale_i·b_ij·(v_j − σ_j·centre_i)` for two rows (0 at the target, where `b_ij = 0`), added
 * into their rows of `dz` (`out0`, `out1`) and both into `λ`.
 */
function softmaxBackPair(
  dz: Float64Array,
  out0: number,
  out1: number,
  lambda: Float64Array,
  block: Float64Array,
  r0: number,
  r1: number,
  v: Float64Array,
  shift: Float64Array,
  s: number,
  scale0: number,
  centre0: number,
  scale1: number,
  centre1: number,
  c: number,
): void {
  for (let j = 0; j < c; j++) {
    const sj = shift[s + j]!
    const t0 = scale0 * block[r0 + j]! * (v[j]! - sj * centre0)
    const t1 = scale1 * block[r1 + j]! * (v[j]! - sj * centre1)
    dz[out0 + j]! += t0
    dz[out1 + j]! += t1
    lambda[j]! += t0 + t1
  }
}
