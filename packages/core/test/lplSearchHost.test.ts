import { describe, expect, it } from 'vitest'
import { mulberry32 } from '../src/index.js'
import type { HostClassRows } from '../src/rules/hostRows.js'
import {
  type LplHostSearchInputs,
  lplSearchHost as lplSearchHostRows,
  lplSearchHostVjp as lplSearchHostRowsVjp,
  lplSearchHostWithVjp,
} from '../src/rules/lpl/lplSearchHost.js'

/** `δ` as the `[C, C]` matrix of every class's row (zero rows for the classes the search keeps none of). */
function dense(delta: HostClassRows, c: number): Float64Array {
  const out = new Float64Array(c * c)
  for (let q = 0; q < delta.classes.length; q++) out.set(delta.rows.subarray(q * c, (q + 1) * c), delta.classes[q]! * c)
  return out
}

/** The rows of a `[C, C]` upstream gradient for the classes the search keeps. */
function compact(upstream: ArrayLike<number>, classes: ArrayLike<number>, c: number): Float64Array {
  const out = new Float64Array(classes.length * c)
  for (let q = 0; q < classes.length; q++) for (let j = 0; j < c; j++) out[q * c + j] = upstream[classes[q]! * c + j]!
  return out
}

/** The search's `δ`, `[C, C]`: what the transcription below gives. */
function lplSearchHost(inp: LplHostSearchInputs): Float64Array {
  return dense(lplSearchHostRows(inp), inp.numClasses)
}

/** The reverse pass from a `[C, C]` upstream gradient (rows of classes without a row of `δ` are read as nothing). */
function lplSearchHostVjp(inp: LplHostSearchInputs, upstream: ArrayLike<number>): Float64Array {
  return lplSearchHostRowsVjp(inp, compact(upstream, lplSearchHostRows(inp).classes, inp.numClasses))
}

/**
 * LPL's search transcribed from its formulas, in float64, one class and one sample at a time: per
 * class `c` (samples `S_c`, masked rows left out), from `δ_c = 0`, for `k < K_c`:
 * `p_i = softmax(z_i + δ_c)`, `a_i = 1 − p_{i,c}` (as the non-target mass), `q_i` the softmax of the
 * non-target entries; `g = Σ_i (p_i − e_c)`, except that with `normalize` a sample with
 * `a_i < 1e-37` adds `1e-37·(q_i − e_c)`; then `δ_c += s_c·α·g/‖g‖` (no step when `g = 0`) or
 * `δ_c += s_c·α·g/|S_c|`.
 */
function oracle(inp: LplHostSearchInputs): Float64Array {
  const c = inp.numClasses
  const n = inp.labels.length
  const delta = new Float64Array(c * c)
  for (let cls = 0; cls < c; cls++) {
    const steps = Math.min(Math.floor(inp.bounds[cls]! / inp.alpha + 1e-6), inp.maxSteps, inp.unrolledSteps)
    const samples: number[] = []
    for (let i = 0; i < n; i++) if (inp.labels[i] === cls && (inp.rowMask === undefined || inp.rowMask[i] !== 0)) samples.push(i)
    if (samples.length === 0) continue
    const d = new Float64Array(c)
    for (let k = 0; k < steps; k++) {
      const g = new Float64Array(c)
      for (const i of samples) {
        const u = Array.from({ length: c }, (_, j) => inp.logits[i * c + j]! + d[j]!)
        const max = Math.max(...u)
        const e = u.map((v) => Math.exp(v - max))
        const sum = e.reduce((a, b) => a + b, 0)
        const p = e.map((v) => v / sum)
        let other = 0
        for (let j = 0; j < c; j++) if (j !== cls) other += p[j]!
        if (inp.normalize && other < 1e-37) {
          if (c === 1) continue
          const maxOther = Math.max(...u.filter((_, j) => j !== cls))
          const eq = u.map((v, j) => (j === cls ? 0 : Math.exp(v - maxOther)))
          const sumOther = eq.reduce((a, b) => a + b, 0)
          for (let j = 0; j < c; j++) g[j]! += j === cls ? -1e-37 : (1e-37 * eq[j]!) / sumOther
        } else {
          for (let j = 0; j < c; j++) g[j]! += j === cls ? -other : p[j]!
        }
      }
      const norm = Math.sqrt(g.reduce((a, v) => a + v * v, 0))
      const scale = inp.directions[cls]! * inp.alpha
      if (inp.normalize) {
        if (norm === 0) continue
        for (let j = 0; j < c; j++) d[j]! += (scale * g[j]!) / norm
      } else {
        for (let j = 0; j < c; j++) d[j]! += (scale * g[j]!) / samples.length
      }
    }
    delta.set(d, cls * c)
  }
  return delta
}

/** `max |a − b| / max(max |b|, floor)`. */
function relativeGap(a: ArrayLike<number>, b: ArrayLike<number>, floor = 1e-300): number {
  let gap = 0
  let size = 0
  for (let k = 0; k < b.length; k++) {
    gap = Math.max(gap, Math.abs(a[k]! - b[k]!))
    size = Math.max(size, Math.abs(b[k]!))
  }
  return gap / Math.max(size, floor)
}

interface CaseOptions {
  n: number
  c: number
  normalize: boolean
  scale?: number
  masked?: boolean
  absent?: boolean
  labels?: number[]
  alpha?: number
  maxSteps?: number
  unrolledSteps?: number
}

/** A random search problem: bounds give each class its own step count (some none), directions ±1. */
function randomCase(rand: () => number, o: CaseOptions): LplHostSearchInputs {
  const { n, c } = o
  // Classes 0 … c−2 only when `absent`, so that the last one has no samples.
  const reach = o.absent && c > 1 ? c - 1 : c
  const labels = o.labels ?? Array.from({ length: n }, () => Math.min(reach - 1, Math.floor(reach * rand() ** 2)))
  const scale = o.scale ?? 2
  const logits = Float64Array.from({ length: n * c }, () => scale * (2 * rand() - 1))
  const alpha = o.alpha ?? 0.1 + 0.4 * rand()
  return {
    logits,
    labels,
    numClasses: c,
    ...(o.masked ? { rowMask: Array.from({ length: n }, () => (rand() < 0.25 ? 0 : 1)) } : {}),
    directions: Array.from({ length: c }, () => (rand() < 0.5 ? -1 : 1)),
    // Step counts 0 … 6 (a bound below α gives none).
    bounds: Array.from({ length: c }, () => alpha * Math.floor(7 * rand())),
    alpha,
    maxSteps: o.maxSteps ?? 5,
    unrolledSteps: o.unrolledSteps ?? 6,
    normalize: o.normalize,
  }
}

describe('lplSearchHost', () => {
  it('matches a transcription of the formulas on random cases', () => {
    const rand = mulberry32(7)
    const shapes: CaseOptions[] = []
    for (const normalize of [true, false]) {
      for (const [n, c] of [
        [1, 2],
        [6, 2],
        [5, 3],
        [12, 4],
        [24, 5],
        [40, 7],
        [64, 3],
        [30, 12],
      ] as const) {
        shapes.push({ n, c, normalize })
        shapes.push({ n, c, normalize, masked: true, absent: true })
        shapes.push({ n, c, normalize, maxSteps: 2, unrolledSteps: 3, scale: 6 })
      }
    }
    for (const shape of shapes) {
      for (let r = 0; r < 3; r++) {
        const inp = randomCase(rand, shape)
        expect(relativeGap(lplSearchHost(inp), oracle(inp))).toBeLessThan(1e-12)
      }
    }
  })

  it('matches the transcription with one class, two classes, one label for the whole batch and no steps', () => {
    const rand = mulberry32(11)
    for (const normalize of [true, false]) {
      // C = 1: no non-target logits, so δ = 0.
      const single = randomCase(rand, { n: 5, c: 1, normalize })
      expect(Array.from(lplSearchHost({ ...single, bounds: [1] }))).toEqual([0])
      for (const c of [2, 4]) {
        const inp = randomCase(rand, { n: 9, c, normalize, labels: Array(9).fill(1) })
        const steps = { ...inp, bounds: Array(c).fill(inp.alpha * 4) }
        expect(relativeGap(lplSearchHost(steps), oracle(steps))).toBeLessThan(1e-12)
        expect(Array.from(lplSearchHost(steps)).some((v) => v !== 0)).toBe(true)
        // Bounds below α (and K = 0): no class moves.
        expect(Array.from(lplSearchHost({ ...inp, bounds: Array(c).fill(inp.alpha * 0.9) })).every((v) => v === 0)).toBe(true)
        expect(Array.from(lplSearchHost({ ...steps, maxSteps: 0 })).every((v) => v === 0)).toBe(true)
      }
    }
  })

  it('matches the transcription where samples are floored (logits of magnitude 1e4)', () => {
    const rand = mulberry32(13)
    for (const normalize of [true, false]) {
      for (const [n, c] of [
        [8, 3],
        [20, 6],
      ] as const) {
        const inp = randomCase(rand, { n, c, normalize, scale: 1e4, masked: true })
        expect(relativeGap(lplSearchHost(inp), oracle(inp))).toBeLessThan(1e-12)
        // Targets 1e4 above the rest: every 1 − p_y underflows.
        const logits = Float64Array.from(inp.logits, (v, k) => (k % c === Number(inp.labels[Math.floor(k / c)]) ? 1e4 : v / 1e4))
        const floored = { ...inp, logits, bounds: Array(c).fill(inp.alpha * 3) }
        const delta = lplSearchHost(floored)
        expect(relativeGap(delta, oracle(floored))).toBeLessThan(1e-12)
        expect(delta.every(Number.isFinite)).toBe(true)
      }
    }
  })

  it('matches the transcription with long steps (exp beyond its series, σ rescaled)', () => {
    const rand = mulberry32(17)
    for (const normalize of [true, false]) {
      for (const alpha of [3, 40]) {
        const inp = randomCase(rand, { n: 14, c: 4, normalize, alpha, scale: 3 })
        const long = { ...inp, bounds: Array(4).fill(alpha * 5), maxSteps: 5 }
        expect(relativeGap(lplSearchHost(long), oracle(long))).toBeLessThan(1e-12)
      }
    }
  })

  it('matches the transcription with many classes of one sample (small steps per entry)', () => {
    const rand = mulberry32(41)
    for (const normalize of [true, false]) {
      for (const c of [300, 1000]) {
        const inp = randomCase(rand, { n: 24, c, normalize, masked: true, labels: Array.from({ length: 24 }, (_, i) => (i * 37) % c) })
        expect(relativeGap(lplSearchHost(inp), oracle(inp))).toBeLessThan(1e-12)
        // Targets 1e4 above the rest (floored when normalized), and 8 above (T shrinks as the target rises).
        for (const lift of [1e4, 8]) {
          const logits = Float64Array.from(inp.logits, (v, k) => (k % c === Number(inp.labels[Math.floor(k / c)]) ? v + lift : v))
          const lifted = { ...inp, logits, directions: Array(c).fill(1), bounds: Array(c).fill(10), alpha: 2, maxSteps: 5 }
          expect(relativeGap(lplSearchHost(lifted), oracle(lifted))).toBeLessThan(1e-12)
        }
      }
    }
    // Plain steps whose size grows as the target's share falls: 20 of them, from p_y near 1.
    const c = 300
    const logits = Float64Array.from({ length: c }, (_, j) => 2 * rand() - 1 + (j === 7 ? 9 : 0))
    const growing = {
      logits,
      labels: [7],
      numClasses: c,
      directions: Array(c).fill(1),
      bounds: Array(c).fill(40),
      alpha: 2,
      maxSteps: 20,
      unrolledSteps: 20,
    }
    for (const normalize of [true, false]) {
      const inp = { ...growing, normalize }
      expect(relativeGap(lplSearchHost(inp), oracle(inp))).toBeLessThan(1e-12)
    }
  })

  it('reads plain arrays and typed arrays alike', () => {
    const inp = randomCase(mulberry32(19), { n: 16, c: 5, normalize: true, masked: true })
    const plain = { ...inp, logits: Array.from(inp.logits), labels: Array.from(inp.labels), directions: Array.from(inp.directions) }
    const typed = { ...inp, logits: Float32Array.from(inp.logits), labels: Int32Array.from(inp.labels) }
    expect(Array.from(lplSearchHost(plain))).toEqual(Array.from(lplSearchHost(inp)))
    expect(relativeGap(lplSearchHost(typed), oracle({ ...inp, logits: Array.from(typed.logits) }))).toBeLessThan(1e-12)
  })
})

/** `Σ upstream ⊙ δ(z)`. */
function lossOf(inp: LplHostSearchInputs, upstream: Float64Array): number {
  const delta = lplSearchHost(inp)
  let sum = 0
  for (let k = 0; k < delta.length; k++) sum += upstream[k]! * delta[k]!
  return sum
}

/** `∂/∂z Σ upstream ⊙ δ(z)` by central differences, step `h`. */
function centralDifferences(inp: LplHostSearchInputs, upstream: Float64Array, h: number): Float64Array {
  const logits = Float64Array.from(inp.logits)
  const out = new Float64Array(logits.length)
  for (let k = 0; k < logits.length; k++) {
    const v = logits[k]!
    logits[k] = v + h
    const up = lossOf({ ...inp, logits }, upstream)
    logits[k] = v - h
    const down = lossOf({ ...inp, logits }, upstream)
    logits[k] = v
    out[k] = (up - down) / (2 * h)
  }
  return out
}

describe('lplSearchHostVjp', () => {
  it('matches central differences of lplSearchHost', () => {
    const rand = mulberry32(23)
    let cases = 0
    for (const normalize of [true, false]) {
      for (const [n, c] of [
        [1, 2],
        [4, 2],
        [7, 3],
        [12, 4],
        [9, 5],
        [12, 6],
      ] as const) {
        for (const options of [{}, { masked: true, absent: true }, { maxSteps: 3, scale: 3 }]) {
          const inp = randomCase(rand, { n, c, normalize, ...options })
          const upstream = Float64Array.from({ length: c * c }, () => 2 * rand() - 1)
          const vjp = lplSearchHostVjp(inp, upstream)
          const numeric = centralDifferences(inp, upstream, 1e-6)
          expect(relativeGap(vjp, numeric, 1e-3)).toBeLessThan(1e-6)
          if (inp.rowMask !== undefined) {
            for (let i = 0; i < n; i++)
              if (inp.rowMask[i] === 0) expect(Array.from(vjp.subarray(i * c, (i + 1) * c))).toEqual(Array(c).fill(0))
          }
          cases++
        }
      }
    }
    expect(cases).toBe(36)
  })

  it('matches central differences with long steps (exp beyond its series, σ rescaled)', () => {
    const rand = mulberry32(29)
    for (const normalize of [true, false]) {
      for (const alpha of [2, 40]) {
        const inp = randomCase(rand, { n: 10, c: 4, normalize, alpha })
        const long = { ...inp, bounds: Array(4).fill(alpha * 4), maxSteps: 4 }
        const upstream = Float64Array.from({ length: 16 }, () => 2 * rand() - 1)
        expect(relativeGap(lplSearchHostVjp(long, upstream), centralDifferences(long, upstream, 1e-6), 1e-3)).toBeLessThan(1e-6)
      }
    }
  })

  it('matches central differences with many classes (some of one sample), entry by entry', () => {
    const rand = mulberry32(43)
    for (const normalize of [true, false]) {
      // With 1000 classes a class of one sample moves its entries by little: its forward takes the power series.
      const c = 1000
      const inp = randomCase(rand, { n: 9, c, normalize, labels: [3, 3, 50, 77, 77, 77, 420, 760, 999] })
      const upstream = Float64Array.from({ length: c * c }, () => 2 * rand() - 1)
      const vjp = lplSearchHostVjp(inp, upstream)
      const logits = Float64Array.from(inp.logits)
      // The loss sums a million products, and its rounding (~1e-14) over 2h would swamp these small
      // entries at h = 1e-6: the five-point stencil, exact to O(h⁴), allows h = 1e-4.
      const h = 1e-4
      const at = (k: number, v: number) => {
        logits[k] = v
        return lossOf({ ...inp, logits }, upstream)
      }
      let worst = 0
      let size = 0
      for (let r = 0; r < 60; r++) {
        const k = Math.floor(rand() * logits.length)
        const v = logits[k]!
        const numeric = (at(k, v - 2 * h) - 8 * at(k, v - h) + 8 * at(k, v + h) - at(k, v + 2 * h)) / (12 * h)
        logits[k] = v
        worst = Math.max(worst, Math.abs(vjp[k]! - numeric))
        size = Math.max(size, Math.abs(numeric))
      }
      expect(worst / Math.max(size, 1e-3)).toBeLessThan(1e-6)
    }
  })

  it('is finite where samples are floored, and matches central differences there', () => {
    const rand = mulberry32(31)
    for (const [n, c] of [
      [6, 3],
      [12, 5],
    ] as const) {
      const inp = randomCase(rand, { n, c, normalize: true })
      // Targets 1e4 above the rest: a_i is held at 1e-37 and only q_i moves.
      const logits = Float64Array.from(inp.logits, (v, k) => (k % c === Number(inp.labels[Math.floor(k / c)]) ? 1e4 : v))
      const floored = { ...inp, logits, bounds: Array(c).fill(inp.alpha * 3) }
      const upstream = Float64Array.from({ length: c * c }, () => 2 * rand() - 1)
      const vjp = lplSearchHostVjp(floored, upstream)
      expect(vjp.every(Number.isFinite)).toBe(true)
      expect(vjp.some((v) => v !== 0)).toBe(true)
      expect(relativeGap(vjp, centralDifferences(floored, upstream, 1e-6), 1e-3)).toBeLessThan(1e-6)
      const spread = { ...floored, logits: Float64Array.from(inp.logits, (v) => 1e4 * v) }
      expect(lplSearchHostVjp(spread, upstream).every(Number.isFinite)).toBe(true)
    }
  })

  it('is what lplSearchHostWithVjp returns, after a forward that gives lplSearchHost', () => {
    const rand = mulberry32(37)
    for (const normalize of [true, false]) {
      const inp = randomCase(rand, { n: 30, c: 6, normalize, masked: true })
      const upstream = Float64Array.from({ length: 36 }, () => 2 * rand() - 1)
      const search = lplSearchHostWithVjp(inp)
      expect(Array.from(dense(search.delta, 6))).toEqual(Array.from(lplSearchHost(inp)))
      const expected = Array.from(lplSearchHostVjp(inp, upstream))
      const rows = compact(upstream, search.delta.classes, 6)
      expect(Array.from(search.vjp(rows))).toEqual(expected)
      // The inputs were copied: changing them afterwards changes nothing, and the pass can run again.
      ;(inp.logits as Float64Array).fill(0)
      expect(Array.from(search.vjp(Array.from(rows)))).toEqual(expected)
      expect(() => search.vjp(new Float64Array(35))).toThrow(/upstream/)
    }
  })
})
