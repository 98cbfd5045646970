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
  const steps = Array.from({ length: c }, (_, k) =>
    Math.min(Math.floor(inp.bounds[k]! / inp.alpha + STEP_ROUNDING), inp.maxSteps))
  const counts = new Float64Array(c)
  for (let i = 0; i < n; i++) counts[inp.labels[i]!]!++
  const delta = new Float64Array(c * c)
  const grad = new Float64Array(c * c)
  const row = new Float64Array(c)
  // exp(z_ij + δ_yj) factors as exp(z_ij − max_j z_ij)·exp(δ_yj − max_j δ_yj) (up to a constant of
  // the row): the first factor is computed once, the second once per step for each class present,
  // so a step costs N·C multiplications and (classes present)·C exponentials. Both factors are at
  // most 1, and |δ| ≤ α·K keeps their product far from underflow where it matters.
  const base = new Float64Array(n * c)
  for (let i = 0; i < n; i++) {
    let max = -Infinity
    for (let j = 0; j < c; j++) max = Math.max(max, inp.logits[i * c + j]!)
    for (let j = 0; j < c; j++) base[i * c + j] = Math.exp(inp.logits[i * c + j]! - max)
  }
  const present = [...new Set(Array.from(inp.labels))]
  const shift = new Float64Array(c * c)
  for (let k = 0; k < inp.unrolledSteps; k++) {
    grad.fill(0)
    for (const cls of present) {
      let max = -Infinity
      for (let j = 0; j < c; j++) max = Math.max(max, delta[cls * c + j]!)
      for (let j = 0; j < c; j++) shift[cls * c + j] = Math.exp(delta[cls * c + j]! - max)
    }
    for (let i = 0; i < n; i++) {
      const y = inp.labels[i]!
      const offset = y * c
      let sum = 0
      for (let j = 0; j < c; j++) {
        const e = base[i * c + j]! * shift[offset + j]!
        row[j] = e
        sum += e
      }
      let sumOther = sum - row[y]!
      // Summed without the target, so that 1 − p_y keeps its digits when p_y is near 1.
      if (sumOther < 1e-3 * sum) {
        sumOther = 0
        for (let j = 0; j < c; j++) if (j !== y) sumOther += row[j]!
      }
      const g = grad.subarray(offset, offset + c)
      const other = sumOther / sum // 1 − p_y, without cancellation
      if (!inp.normalize) {
        // (p_i − e_y) / n_y, the target entry as −Σ_{j≠y} p_j.
        const scale = 1 / (sum * counts[y]!)
        for (let j = 0; j < c; j++) if (j !== y) g[j]! += row[j]! * scale
        g[y]! -= other / counts[y]!
      } else if (other >= MIN_SAMPLE_WEIGHT) {
        // a_i·(q_i − e_y) with a_i = 1 − p_y is exactly p_i − e_y: add p_i, then set the target's
        // share to −(1 − p_y).
        const inverse = 1 / sum
        for (let j = 0; j < c; j++) g[j]! += row[j]! * inverse
        g[y]! -= row[y]! * inverse + other
      } else if (c > 1) {
        // a_i held at its floor: MIN_SAMPLE_WEIGHT·(q_i − e_y), q_i from the non-target logits
        // alone, recomputed with their own shift (Σ e_j can underflow even in float64).
        let maxOther = -Infinity
        for (let j = 0; j < c; j++) if (j !== y) maxOther = Math.max(maxOther, inp.logits[i * c + j]! + delta[offset + j]!)
        let sumShifted = 0
        for (let j = 0; j < c; j++) if (j !== y) sumShifted += Math.exp(inp.logits[i * c + j]! + delta[offset + j]! - maxOther)
        for (let j = 0; j < c; j++) {
          if (j !== y) g[j]! += (MIN_SAMPLE_WEIGHT * Math.exp(inp.logits[i * c + j]! + delta[offset + j]! - maxOther)) / sumShifted
        }
        g[y]! -= MIN_SAMPLE_WEIGHT
      }
    }
    // Absent classes have g = 0 and never move: only the classes present are updated.
    for (const cls of present) {
      if (!(steps[cls]! > k)) continue
      const g = grad.subarray(cls * c, (cls + 1) * c)
      let scale = 1
      if (inp.normalize) {
        let largest = 0
        for (let j = 0; j < c; j++) largest = Math.max(largest, Math.abs(g[j]!))
        if (largest === 0) continue
        let sq = 0
        const inverse = 1 / largest
        for (let j = 0; j < c; j++) {
          const v = g[j]! * inverse
          sq += v * v
        }
        scale = 1 / (largest * Math.sqrt(Math.max(sq, 1)))
      }
      const stepSize = inp.directions[cls]! * inp.alpha * scale
      for (let j = 0; j < c; j++) delta[cls * c + j]! += stepSize * g[j]!
    }
  }
  return delta
}
