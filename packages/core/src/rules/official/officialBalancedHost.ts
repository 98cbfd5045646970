import { roundHalfEven } from '../../rounding.js'
import { checkNumber } from '../../validate.js'
import type { HostClassRows } from '../hostRows.js'

/** `R = round(1.1·K)`, the iteration count of the released balanced-data code. */
export function officialBalancedIterations(steps: number): number {
  checkNumber(steps, { min: 1, integer: true }, 'steps')
  return roundHalfEven(1.1 * steps)
}

/** Inputs of {@link officialBalancedHost}: row-major host arrays. */
export interface OfficialBalancedHostInputs {
  /** Logits `z` the search starts from, `[N, C]` row-major. */
  logits: ArrayLike<number>
  /** Class ids `[N]`, each in `[0, C)`. */
  labels: ArrayLike<number>
  /** The class count `C`. */
  numClasses: number
  /** 1 for the rows that count, 0 for masked-out ones (`[N]`); absent: every row counts. */
  rowMask?: ArrayLike<number>
  /** `K ≥ 5`. */
  steps: number
  /** Step size `α`. */
  alpha: number
}

/** The floor of the column norms, as in `officialStep`. */
const NORM_FLOOR = 1e-15
/** The floor of `max(sub)` and `−min(sub)` in the entry ratios, as in `officialBalancedRule`. */
const TINY = 1e-30

/**
 * The released balanced-data search (`officialBalancedRule`, docs/spec.md#4b3-official-balanced)
 * over host arrays in float64, for backends that read their tensors synchronously (tfjs cpu and
 * wasm): the same `R = round(1.1K)` iterations, each from the current `δ` (`[P, C]`, the classes
 * present):
 *
 *     M_c = mean_{counted i: y_i = c} softmax(z_i + δ_c);  G_c = M_c − e_c;  r_b = max(‖G[:, b]‖, 1e-15)
 *     m_c = M_c[c] (0 for absent classes);  t = mean over all C of m;  sub_c = t − m_c
 *     a_c = α·sign(sub_c)·G_c / r_c,  added twice: δ ← δ + a (stored), δ ← δ + a
 *
 * with an absent class's row of `G`, `−e_b`, entering the column norms as `+1` on `r_b²`. The first
 * iteration's `sub` fixes each class's entry `K + max(0, round(sub_c/min(sub)·0.1K − 1))` (or by
 * `max(sub)` where `sub_c ≥ 0`), and class `c` takes the stored `δ` of that iteration. Returns the
 * rows of the classes present (`[P, C]`). Time `O(R·(N·C + P·C))`, memory `O(N·C + P·C)`: one pass
 * over the counted rows per iteration, never an `[N, C]` tensor per step.
 */
export function officialBalancedHost(inp: OfficialBalancedHostInputs): HostClassRows {
  const c = inp.numClasses
  const n = inp.labels.length
  const k = inp.steps
  // Typed copies, read in the inner loops (and the inputs are never touched).
  const z = Float64Array.from(inp.logits)
  const rowSlot = new Int32Array(n).fill(-1)
  // The classes present, in class order, and each one's counted rows.
  const count = new Int32Array(c)
  for (let i = 0; i < n; i++) if (inp.rowMask === undefined || inp.rowMask[i] !== 0) count[inp.labels[i]!]!++
  const classes: number[] = []
  const slot = new Int32Array(c).fill(-1)
  for (let cls = 0; cls < c; cls++) if (count[cls]! > 0) slot[cls] = classes.push(cls) - 1
  for (let i = 0; i < n; i++) if (inp.rowMask === undefined || inp.rowMask[i] !== 0) rowSlot[i] = slot[inp.labels[i]!]!
  const p = classes.length
  const delta = new Float64Array(p * c)
  const means = new Float64Array(p * c)
  const row = new Float64Array(c)
  const norms = new Float64Array(c)
  const sub = new Float64Array(c)
  const step = new Float64Array(p * c)

  /** One iteration at `delta`: `sub` (`[C]`) and the step `a` (`[P, C]`). */
  const iterate = () => {
    means.fill(0)
    for (let i = 0; i < n; i++) {
      const q = rowSlot[i]!
      if (q < 0) continue
      const zi = i * c
      const dq = q * c
      let max = -Infinity
      for (let j = 0; j < c; j++) {
        const u = z[zi + j]! + delta[dq + j]!
        row[j] = u
        if (u > max) max = u
      }
      let sum = 0
      for (let j = 0; j < c; j++) {
        const e = Math.exp(row[j]! - max)
        row[j] = e
        sum += e
      }
      const inverse = 1 / sum
      for (let j = 0; j < c; j++) means[dq + j]! += row[j]! * inverse
    }
    for (let j = 0; j < c; j++) norms[j] = slot[j]! < 0 ? 1 : 0
    for (let q = 0; q < p; q++) {
      const cls = classes[q]!
      for (let j = 0; j < c; j++) {
        means[q * c + j]! /= count[cls]!
        const g = means[q * c + j]! - (j === cls ? 1 : 0)
        norms[j]! += g * g
      }
    }
    for (let j = 0; j < c; j++) norms[j] = Math.max(Math.sqrt(norms[j]!), NORM_FLOOR)
    let mean = 0
    for (let q = 0; q < p; q++) mean += means[q * c + classes[q]!]!
    mean /= c
    for (let cls = 0; cls < c; cls++) sub[cls] = mean - (slot[cls]! < 0 ? 0 : means[slot[cls]! * c + cls]!)
    for (let q = 0; q < p; q++) {
      const cls = classes[q]!
      const scale = (inp.alpha * Math.sign(sub[cls]!)) / norms[cls]!
      for (let j = 0; j < c; j++) step[q * c + j] = scale * (means[q * c + j]! - (j === cls ? 1 : 0))
    }
  }

  iterate()
  // Each class's entry, from the first iteration's sub.
  let low = -Infinity
  let high = -Infinity
  for (let cls = 0; cls < c; cls++) {
    low = Math.max(low, -sub[cls]!)
    high = Math.max(high, sub[cls]!)
  }
  const entry = classes.map((cls) => {
    const s = sub[cls]!
    const ratio = s < 0 ? s / -Math.max(low, TINY) : s / Math.max(high, TINY)
    return k + Math.max(roundHalfEven(ratio * 0.1 * k - 1), 0)
  })
  const selected = new Float64Array(p * c)
  // The first iteration's stored δ is its first addition; entries are at least K ≥ 1, never 0.
  for (let x = 0; x < p * c; x++) delta[x] = 2 * step[x]!
  const iterations = officialBalancedIterations(k)
  for (let r = 1; r < iterations; r++) {
    iterate()
    for (let q = 0; q < p; q++) {
      const at = q * c
      const take = entry[q] === r
      for (let j = at; j < at + c; j++) {
        const next = delta[j]! + step[j]!
        if (take) selected[j] = next
        delta[j] = next + step[j]!
      }
    }
  }
  return { classes, rows: selected }
}
