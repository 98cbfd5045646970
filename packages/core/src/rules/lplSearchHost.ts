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
  for (let k = 0; k < inp.unrolledSteps; k++) {
    grad.fill(0)
    for (let i = 0; i < n; i++) {
      const y = inp.labels[i]!
      let max = -Infinity
      let maxOther = -Infinity
      for (let j = 0; j < c; j++) {
        row[j] = inp.logits[i * c + j]! + delta[y * c + j]!
        if (row[j]! > max) max = row[j]!
        if (j !== y && row[j]! > maxOther) maxOther = row[j]!
      }
      let sum = 0
      let sumOther = 0
      let sumOtherShifted = 0
      for (let j = 0; j < c; j++) {
        const e = Math.exp(row[j]! - max)
        sum += e
        if (j !== y) {
          sumOther += e
          sumOtherShifted += Math.exp(row[j]! - maxOther)
        }
      }
      const g = grad.subarray(y * c, (y + 1) * c)
      if (inp.normalize) {
        // a_i · (q_i − e_y), with q_i the softmax of the non-target logits.
        const weight = Math.max(sumOther / sum, MIN_SAMPLE_WEIGHT)
        if (sumOtherShifted > 0) {
          for (let j = 0; j < c; j++) if (j !== y) g[j]! += (weight * Math.exp(row[j]! - maxOther)) / sumOtherShifted
          g[y]! -= weight
        }
      } else {
        // (p_i − e_y) / n_y, the target entry as −Σ_{j≠y} p_j.
        for (let j = 0; j < c; j++) if (j !== y) g[j]! += Math.exp(row[j]! - max) / sum / counts[y]!
        g[y]! -= sumOther / sum / counts[y]!
      }
    }
    for (let cls = 0; cls < c; cls++) {
      if (!(steps[cls]! > k)) continue
      const g = grad.subarray(cls * c, (cls + 1) * c)
      let scale = 1
      if (inp.normalize) {
        let largest = 0
        for (let j = 0; j < c; j++) largest = Math.max(largest, Math.abs(g[j]!))
        if (largest === 0) continue
        let sq = 0
        for (let j = 0; j < c; j++) sq += (g[j]! / largest) ** 2
        scale = 1 / (largest * Math.sqrt(Math.max(sq, 1)))
      }
      const stepSize = inp.directions[cls]! * inp.alpha * scale
      for (let j = 0; j < c; j++) delta[cls * c + j]! += stepSize * g[j]!
    }
  }
  return delta
}
