import { STEP_ROUNDING } from './lplBounds.js'

/** Inputs of {@link lplSearchHost}: row-major host arrays. */
export interface LplHostSearchInputs {
  /** Logits the search starts from, `[N, C]` row-major. */
  logits: ArrayLike<number>
  labels: ArrayLike<number>
  numClasses: number
  /** `s_c` and `ε_c`, one per class. */
  directions: ArrayLike<number>
  bounds: ArrayLike<number>
  alpha: number
  maxSteps: number
  unrolledSteps: number
  normalize: boolean
}

/** See `lplSearch.ts`: the smallest weight a sample keeps in a normalized class direction. */
const MIN_SAMPLE_WEIGHT = 1e-37

/**
 * LPL's search (`lplSearch`) as one loop over host arrays, in float64: the same steps, the same
 * step counts `K_c = min(⌊ε_c/α⌋, K)`, the same underflow-safe class directions, in
 * `O(K·(N·C + C²))` time and `O(N·C + C²)` memory, without dispatching a dozen tensor ops per step.
 * Backends that can read their tensors synchronously use it for `gradient: 'stop'`, where `δ` is a
 * constant anyway; the conformance suite checks it against the op path. Returns `δ`, `[C, C]`.
 */
export function lplSearchHost(inp: LplHostSearchInputs): Float64Array {
  const c = inp.numClasses
  const n = inp.labels.length
  const labels = Int32Array.from(inp.labels)
  const steps = Float64Array.from({ length: c }, (_, k) =>
    Math.min(Math.floor(inp.bounds[k]! / inp.alpha + STEP_ROUNDING), inp.maxSteps))
  // Samples grouped by class: a class's gradient is a sum over its own samples.
  const order = Int32Array.from({ length: n }, (_, i) => i).sort((a, b) => labels[a]! - labels[b]!)
  const present: number[] = []
  const groupStart: number[] = []
  for (let k = 0; k < n; k++) {
    if (k === 0 || labels[order[k]!] !== labels[order[k - 1]!]) {
      present.push(labels[order[k]!]!)
      groupStart.push(k)
    }
  }
  groupStart.push(n)
  // exp(z_ij + δ_yj) factors as exp(z_ij − max_j z_ij)·exp(δ_yj − max_j δ_yj) (up to a constant of
  // the row): the first factor is computed once, the second once per step for each class present,
  // so a step costs two passes of N·C multiply-adds and (classes present)·C exponentials. Both
  // factors are at most 1, and |δ| ≤ α·K keeps their product far from underflow where it matters.
  const base = new Float64Array(n * c)
  for (let i = 0; i < n; i++) {
    let max = -Infinity
    for (let j = 0; j < c; j++) max = Math.max(max, inp.logits[i * c + j]!)
    for (let j = 0; j < c; j++) base[i * c + j] = Math.exp(inp.logits[i * c + j]! - max)
  }
  const delta = new Float64Array(c * c)
  const shift = new Float64Array(c)
  const grad = new Float64Array(c)
  for (let k = 0; k < inp.unrolledSteps; k++) {
    // Every class's step depends on δ before the step: collect the new rows, then apply them.
    const updates: [number, Float64Array][] = []
    for (let p = 0; p < present.length; p++) {
      const cls = present[p]!
      if (!(steps[cls]! > k)) continue
      const row = cls * c
      let maxShift = -Infinity
      for (let j = 0; j < c; j++) maxShift = Math.max(maxShift, delta[row + j]!)
      for (let j = 0; j < c; j++) shift[j] = Math.exp(delta[row + j]! - maxShift)
      grad.fill(0)
      let targetSum = 0
      const count = groupStart[p + 1]! - groupStart[p]!
      for (let m = groupStart[p]!; m < groupStart[p + 1]!; m++) {
        const at = order[m]! * c
        let sum = 0
        for (let j = 0; j < c; j++) sum += base[at + j]! * shift[j]!
        const target = base[at + cls]! * shift[cls]!
        // 1 − p_y from the non-target mass, so that it keeps its digits when p_y is near 1.
        let other = sum - target
        if (other < 1e-3 * sum) {
          other = 0
          for (let j = 0; j < c; j++) if (j !== cls) other += base[at + j]! * shift[j]!
        }
        other /= sum
        if (!inp.normalize || other >= MIN_SAMPLE_WEIGHT) {
          // a_i·(q_i − e_y) with a_i = 1 − p_y is exactly p_i − e_y (the unnormalized step's term).
          const inverse = 1 / sum
          for (let j = 0; j < c; j++) grad[j]! += base[at + j]! * inverse // shift applied below
          targetSum += other
        } else if (c > 1) {
          addFlooredDirection(grad, shift, inp.logits, delta, at, row, cls, c)
          targetSum += MIN_SAMPLE_WEIGHT
        }
      }
      for (let j = 0; j < c; j++) grad[j]! *= shift[j]!
      // The target entry: −Σ_i (1 − p_{i,y}), not p_y − 1.
      grad[cls] = -targetSum
      if (!inp.normalize) for (let j = 0; j < c; j++) grad[j]! /= count
      updates.push([cls, stepOf(grad, inp.directions[cls]! * inp.alpha, inp.normalize)])
    }
    for (const [cls, step] of updates) for (let j = 0; j < c; j++) delta[cls * c + j]! += step[j]!
  }
  return delta
}

/** `s·g/‖g‖` (normalized, via `g/max|g|` as in `l2Normalize`) or `s·g`; zero for `g = 0`. */
function stepOf(g: Float64Array, signedAlpha: number, normalize: boolean): Float64Array {
  const out = new Float64Array(g.length)
  let scale = signedAlpha
  if (normalize) {
    let largest = 0
    for (let j = 0; j < g.length; j++) largest = Math.max(largest, Math.abs(g[j]!))
    if (largest === 0) return out
    const inverse = 1 / largest
    let sq = 0
    for (let j = 0; j < g.length; j++) {
      const v = g[j]! * inverse
      sq += v * v
    }
    scale = signedAlpha / (largest * Math.sqrt(Math.max(sq, 1)))
  }
  for (let j = 0; j < g.length; j++) out[j] = scale * g[j]!
  return out
}

/**
 * A sample whose `1 − p_y` is below {@link MIN_SAMPLE_WEIGHT} adds `MIN_SAMPLE_WEIGHT·q_i` to the
 * (not yet shifted) gradient, `q_i` the softmax of its non-target logits, recomputed with their own
 * shift: their sum can underflow even in float64. The caller adds the target entry.
 */
function addFlooredDirection(
  grad: Float64Array, shift: Float64Array, logits: ArrayLike<number>, delta: Float64Array,
  at: number, row: number, cls: number, c: number,
): void {
  let maxOther = -Infinity
  for (let j = 0; j < c; j++) if (j !== cls) maxOther = Math.max(maxOther, logits[at + j]! + delta[row + j]!)
  let sum = 0
  for (let j = 0; j < c; j++) if (j !== cls) sum += Math.exp(logits[at + j]! + delta[row + j]! - maxOther)
  // grad is multiplied by shift afterwards: divide it out here.
  for (let j = 0; j < c; j++) {
    if (j !== cls) grad[j]! += (MIN_SAMPLE_WEIGHT * Math.exp(logits[at + j]! + delta[row + j]! - maxOther)) / sum / shift[j]!
  }
}
