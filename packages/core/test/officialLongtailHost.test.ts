import { describe, expect, it } from 'vitest'
import { createLoss, mulberry32, officialLongtailSteps, referenceOps } from '../src/index.js'
import { relativeError } from '../src/verify.js'
import {
  type OfficialLongtailHostInputs,
  type OfficialLongtailHostResult,
  officialLongtailHost as officialLongtailHostRows,
  officialLongtailHostVjp as officialLongtailHostRowsVjp,
} from '../src/rules/official/officialLongtailHost.js'

/** The host search with `sel` as the `[C, C]` matrix of every class's row (zero for absent classes). */
function officialLongtailHost(inp: OfficialLongtailHostInputs) {
  const c = inp.numClasses
  const forward = officialLongtailHostRows(inp)
  const sel = new Float64Array(c * c)
  const { classes, rows } = forward.sel
  for (let q = 0; q < classes.length; q++) sel.set(rows.subarray(q * c, (q + 1) * c), classes[q]! * c)
  return { sel, tape: forward.tape, forward }
}

/** The reverse pass from a `[C, C]` upstream gradient: the rows of the classes present are read. */
function officialLongtailHostVjp(run: { forward: OfficialLongtailHostResult }, upstream: ArrayLike<number>): Float64Array {
  const { classes } = run.forward.sel
  const c = run.forward.tape.numClasses
  const rows = new Float64Array(classes.length * c)
  for (let q = 0; q < classes.length; q++) for (let j = 0; j < c; j++) rows[q * c + j] = upstream[classes[q]! * c + j]!
  return officialLongtailHostRowsVjp(run.forward, rows)
}

interface Case {
  n: number
  c: number
  logits: number[]
  labels: number[]
  mask: number[] | undefined
  classCounts: number[]
  headClasses: number
  steps: number
  alpha: number
}

/** Host inputs for a case, with the step indices and signs the rule derives from its spec (default S, κ). */
function hostInputs(x: Case): OfficialLongtailHostInputs {
  return {
    logits: x.logits,
    labels: x.labels,
    numClasses: x.c,
    ...(x.mask === undefined ? {} : { rowMask: x.mask }),
    stepOf: officialLongtailSteps(x.classCounts, x.headClasses, 10, 0.6, x.steps).clamped,
    signedAlpha: x.classCounts.map((_, k) => (k < x.headClasses ? -x.alpha : x.alpha)),
    steps: x.steps,
  }
}

/** The rule's perturbed logits on the reference backend, from its tensor-op search (never the host one). */
function referenceLogits(x: Case): Float64Array {
  const spec = {
    rule: 'official-longtail' as const,
    classCounts: x.classCounts,
    headClasses: x.headClasses,
    steps: x.steps,
    alpha: x.alpha,
  }
  const loss = createLoss(referenceOps, spec, { search: 'ops' })
  const ctx = x.mask === undefined ? {} : { mask: referenceOps.constant(x.mask, [x.n]) }
  return loss.evaluate(referenceOps.constant(x.logits, [x.n, x.c]), referenceOps.constant(x.labels, [x.n], 'int32'), ctx).batch.logits.data
}

/** The rule's perturbation `z̃_i − z_i` and the host's `sel[y_i]`, `[N, C]` each. */
function perturbations(x: Case, sel: Float64Array): { rule: number[]; host: number[] } {
  const rule = referenceLogits(x)
  return {
    rule: x.logits.map((v, k) => rule[k]! - v),
    host: x.logits.map((_, k) => sel[x.labels[Math.floor(k / x.c)]! * x.c + (k % x.c)]!),
  }
}

/** `z_i + sel[y_i]`, `[N, C]`. */
function perturbed(x: Case, sel: Float64Array): number[] {
  return x.logits.map((v, k) => v + sel[x.labels[Math.floor(k / x.c)]! * x.c + (k % x.c)]!)
}

/** A random case: labels from a random subset of the classes (so some are absent), a random mask half the time. */
function randomCase(rand: () => number, over: Partial<Case> = {}, scale = 2): Case {
  const n = over.n ?? 1 + Math.floor(rand() * 12)
  const c = over.c ?? 1 + Math.floor(rand() * 6)
  const used = Array.from({ length: c }, (_, k) => k).filter(() => rand() < 0.8)
  if (used.length === 0) used.push(0)
  const classCounts = Array.from({ length: c }, () => (rand() < 0.15 ? 0 : 1 + Math.floor(rand() * 1000)))
  if (!classCounts.some((v) => v > 0)) classCounts[0] = 1
  return {
    n,
    c,
    logits: Array.from({ length: n * c }, () => (2 * rand() - 1) * scale),
    labels: Array.from({ length: n }, () => used[Math.floor(rand() * used.length)]!),
    mask: rand() < 0.5 ? Array.from({ length: n }, () => (rand() < 0.3 ? 0 : 1)) : undefined,
    classCounts,
    headClasses: Math.floor(rand() * (c + 1)),
    steps: 1 + Math.floor(rand() * 6),
    alpha: 0.05 + 0.45 * rand(),
    ...over,
  }
}

/** `Σ upstream ⊙ sel(z)` and its central difference along every logit. */
function centralDifference(inp: OfficialLongtailHostInputs, upstream: number[], h: number): Float64Array {
  const f = (logits: number[]) => {
    const sel = officialLongtailHost({ ...inp, logits }).sel
    let sum = 0
    for (let k = 0; k < sel.length; k++) sum += sel[k]! * upstream[k]!
    return sum
  }
  const z = Array.from(inp.logits)
  return Float64Array.from(z, (_, k) => {
    const up = z.slice()
    const down = z.slice()
    up[k]! += h
    down[k]! -= h
    return (f(up) - f(down)) / (2 * h)
  })
}

const norm = (x: ArrayLike<number>) => Math.sqrt(Array.from(x).reduce((s, v) => s + v * v, 0))

describe('officialLongtailHost', () => {
  it('gives the perturbed logits of the rule on the reference backend', () => {
    const rand = mulberry32(11)
    const cases: Case[] = []
    for (let t = 0; t < 120; t++) cases.push(randomCase(rand))
    for (let t = 0; t < 10; t++) {
      const x = randomCase(rand)
      cases.push({ ...x, headClasses: 0 }, { ...x, headClasses: x.c }, { ...x, steps: 1 })
    }
    // Every row masked: no class is present, and sel is zero.
    const x = randomCase(rand, { n: 5, c: 4 })
    cases.push({ ...x, mask: [0, 0, 0, 0, 0] })
    for (const x of cases) {
      const { sel, tape } = officialLongtailHost(hostInputs(x))
      expect(tape.factored).toBe(true)
      expect(relativeError(perturbed(x, sel), referenceLogits(x)), JSON.stringify(x)).toBeLessThanOrEqual(1e-12)
      // The perturbation alone, which is small next to the logits.
      const { rule, host } = perturbations(x, sel)
      expect(relativeError(host, rule), JSON.stringify(x)).toBeLessThanOrEqual(1e-12)
    }
    // 7·α > 200: each step takes its exponentials directly. Only increasing steps (no head classes) here: with
    // steps this long a decreasing one drives column norms to rounding level, where both results are noise.
    for (let t = 0; t < 10; t++) {
      const x = randomCase(rand, { steps: 7, alpha: 30 + 5 * rand(), headClasses: 0 })
      const { sel, tape } = officialLongtailHost(hostInputs(x))
      expect(tape.factored).toBe(false)
      expect(relativeError(perturbed(x, sel), referenceLogits(x)), JSON.stringify(x)).toBeLessThanOrEqual(1e-12)
    }
  })

  it('has a VJP that matches central differences of the forward', () => {
    const rand = mulberry32(5)
    const run = (inp: OfficialLongtailHostInputs, mask: number[] | undefined, c: number) => {
      const upstream = Array.from({ length: c * c }, () => 2 * rand() - 1)
      const grad = officialLongtailHostVjp(officialLongtailHost(inp), upstream)
      const fd = centralDifference(inp, upstream, 2e-6)
      // Relative to the gradient's size, or to 1e-4 where sel does not move with z (one class
      // present: its direction G/r is then constant), where central differences give rounding noise.
      const error = norm(grad.map((v, k) => v - fd[k]!)) / Math.max(norm(fd), 1e-4)
      expect(error, JSON.stringify(inp)).toBeLessThanOrEqual(1e-6)
      // Masked-out rows do not enter sel: their rows are exactly 0.
      mask?.forEach((m, i) => {
        if (m === 0) expect(Array.from(grad.subarray(i * c, (i + 1) * c)).every((v) => v === 0)).toBe(true)
      })
    }
    for (let t = 0; t < 40; t++) {
      const x = randomCase(rand, { n: 4 + Math.floor(rand() * 9), c: 2 + Math.floor(rand() * 5) })
      // Step indices and signs drawn freely rather than from counts.
      const inp: OfficialLongtailHostInputs = {
        ...hostInputs(x),
        stepOf: Array.from({ length: x.c }, () => Math.floor(rand() * x.steps)),
        signedAlpha: Array.from({ length: x.c }, () => (rand() < 0.5 ? -1 : 1) * (0.05 + 0.45 * rand())),
      }
      run(inp, x.mask, x.c)
    }
    for (let t = 0; t < 6; t++) {
      const x = randomCase(rand, { n: 4 + Math.floor(rand() * 9), c: 3 + Math.floor(rand() * 4), steps: 10, alpha: 21, headClasses: 0 })
      const inp = hostInputs(x)
      expect(officialLongtailHost(inp).tape.factored).toBe(false)
      run(inp, x.mask, x.c)
    }
  })

  it('stays finite, and equal to the rule, with logits of magnitude 1e4', () => {
    const rand = mulberry32(3)
    for (let t = 0; t < 30; t++) {
      const x = randomCase(rand, {}, 1e4)
      const inp = hostInputs(x)
      const forward = officialLongtailHost(inp)
      expect(Array.from(forward.sel).every(Number.isFinite)).toBe(true)
      expect(relativeError(perturbed(x, forward.sel), referenceLogits(x)), JSON.stringify(x)).toBeLessThanOrEqual(1e-12)
      // The rule's perturbation is read back as (z + sel) − z, which keeps only ~1e-12 absolute at |z| = 1e4.
      const { rule, host } = perturbations(x, forward.sel)
      expect(relativeError(host, rule), JSON.stringify(x)).toBeLessThanOrEqual(1e-10)
      const upstream = Array.from({ length: x.c * x.c }, () => 2 * rand() - 1)
      expect(Array.from(officialLongtailHostVjp(forward, upstream)).every(Number.isFinite)).toBe(true)
    }
  })
})
