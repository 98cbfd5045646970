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
    Math.min(Math.floor(inp.bounds[k]! / inp.alpha + STEP_ROUNDING), inp.maxSteps, inp.unrolledSteps),
  )
  // Samples grouped by class: a class's gradient is a sum over its own samples.
  // Masked-out rows are left out of every class's group.
  const counted = Int32Array.from({ length: n }, (_, i) => i).filter((i) => inp.rowMask === undefined || inp.rowMask[i] !== 0)
  const order = counted.sort((a, b) => labels[a]! - labels[b]!)
  const present: number[] = []
  const groupStart: number[] = []
  for (let k = 0; k < order.length; k++) {
    if (k === 0 || labels[order[k]!] !== labels[order[k - 1]!]) {
      present.push(labels[order[k]!]!)
      groupStart.push(k)
    }
  }
  groupStart.push(order.length)
  // exp(z_ij + δ_yj) factors as exp(z_ij − max_j z_ij)·exp(δ_yj): the first factor is computed
  // once; the second, `shift`, starts at 1 and is multiplied by exp(step_j) after each step (the
  // entries of a step are small, so mostly without calling Math.exp). A step then costs two
  // passes of multiply-adds over the class's own samples.
  const base = new Float64Array(n * c)
  for (let i = 0; i < n; i++) {
    let max = -Infinity
    for (let j = 0; j < c; j++) max = Math.max(max, inp.logits[i * c + j]!)
    for (let j = 0; j < c; j++) base[i * c + j] = Math.exp(inp.logits[i * c + j]! - max)
  }
  const delta = new Float64Array(c * c)
  const shift = new Float64Array(c)
  const grad = new Float64Array(c)
  // δ_c moves only the logits of class-c samples, so each class runs its whole search on its own,
  // with its samples' rows hot in the cache.
  for (let p = 0; p < present.length; p++) {
    const cls = present[p]!
    const row = cls * c
    const first = groupStart[p]!
    const end = groupStart[p + 1]!
    shift.fill(1)
    for (let k = 0; k < steps[cls]!; k++) {
      grad.fill(0)
      let targetSum = 0
      for (let m = first; m < end; m++) {
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
      // g = shift ⊙ (accumulated p), target entry −Σ_i (1 − p_{i,y}) (not p_y − 1); then the step,
      // applied to δ and to the shift, in as few passes over the row as the normalization allows.
      grad[cls] = 0
      let largest = targetSum
      let sq = targetSum * targetSum
      for (let j = 0; j < c; j++) {
        const v = grad[j]! * shift[j]!
        grad[j] = v
        largest = Math.max(largest, v)
        sq += v * v
      }
      grad[cls] = -targetSum
      if (largest === 0) continue
      let scale = inp.directions[cls]! * inp.alpha
      if (inp.normalize) {
        // ‖g‖; recomputed from g/max|g|, as l2Normalize does, where squares could leave the range.
        if (largest < 1e-150 || largest > 1e150) {
          const inverse = 1 / largest
          sq = 0
          for (let j = 0; j < c; j++) {
            const v = grad[j]! * inverse
            sq += v * v
          }
          scale /= largest * Math.sqrt(Math.max(sq, 1))
        } else {
          scale /= Math.sqrt(sq)
        }
      } else {
        scale /= end - first
      }
      let top = 0
      for (let j = 0; j < c; j++) {
        const move = scale * grad[j]!
        delta[row + j]! += move
        const shifted = shift[j]! * expOfStep(move)
        shift[j] = shifted
        top = Math.max(top, shifted)
      }
      // A factor common to the row cancels in the softmax: keep the shift away from overflow.
      if (top > 1e100 || top < 1e-100) for (let j = 0; j < c; j++) shift[j]! /= top
    }
  }
  return delta
}

/**
 * `exp(x)`: a degree-5 Taylor polynomial for |x| < 0.01 (relative error below 1e-14), where most
 * entries of a normalized step in many dimensions fall, else `Math.exp`.
 */
function expOfStep(x: number): number {
  if (Math.abs(x) >= 0.01) return Math.exp(x)
  return 1 + x * (1 + x * (1 / 2 + x * (1 / 6 + x * (1 / 24 + x / 120))))
}

/**
 * A sample whose `1 − p_y` is below {@link MIN_SAMPLE_WEIGHT} adds `MIN_SAMPLE_WEIGHT·q_i` to the
 * (not yet shifted) gradient, `q_i` the softmax of its non-target logits, recomputed with their own
 * shift: their sum can underflow even in float64. The caller adds the target entry.
 */
function addFlooredDirection(
  grad: Float64Array,
  shift: Float64Array,
  logits: ArrayLike<number>,
  delta: Float64Array,
  at: number,
  row: number,
  cls: number,
  c: number,
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
