import { STEP_ROUNDING } from './lplBounds.js'
import type { Batch, LplHostSearchInputs } from './lplHostTypes.js'
import { fastExp } from './lplHostExp.js'
import { MOMENTS, momentsOfRow } from './lplHostSeries.js'

/** The batch of `inp`, with the moments of its one-sample rows when `withMoments` (only the forward uses them). */
export function readBatch(inp: LplHostSearchInputs, withMoments: boolean): Batch {
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
