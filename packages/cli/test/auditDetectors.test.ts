import { type RuleInput, createLoss, parseSpec, referenceOps } from '@logit-perturb/core'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { audit } from '../src/audit/audit.js'
import { type ArraysLoss, functionImplementation } from '../src/audit/javascript.js'

/**
 * Each detector of `lpl audit` on generated specs: a fault planted in a small implementation is
 * named, and clean implementations written differently from the library's are called equivalent.
 * The implementations are plain-array functions (float64).
 */

/** log Σ exp, shifted by the row's maximum. */
const lse = (row: readonly number[]) => {
  const m = Math.max(...row)
  return m + Math.log(row.reduce((a, v) => a + Math.exp(v - m), 0))
}

/** Mean (or summed) cross-entropy of `u + shift` over the rows whose label is not −100, written out by hand. */
const shiftedCe =
  (shift: readonly number[], reduce: 'mean' | 'sum' = 'mean', scale = 1): ArraysLoss =>
  (u, y) => {
    let total = 0
    let counted = 0
    u.forEach((row, i) => {
      const label = (y as number[])[i]!
      if (label === -100) return
      const z = row.map((v, j) => v + shift[j]!)
      total += lse(z) - z[label]!
      counted++
    })
    return (scale * total) / (reduce === 'mean' ? counted : 1)
  }

const countsArbitrary = fc.array(fc.integer({ min: 1, max: 5000 }), { minLength: 3, maxLength: 7 })
const tauArbitrary = fc.double({ min: 0.2, max: 3, noNaN: true })
const logPrior = (counts: number[]) => {
  const total = counts.reduce((a, b) => a + b, 0)
  return counts.map((n) => Math.log(n / total))
}
const run = (spec: RuleInput, f: ArraysLoss) => {
  const parsed = parseSpec(spec)
  return audit(parsed, createLoss(referenceOps, parsed).numClasses ?? 5, functionImplementation('planted', f, 'arrays'))
}
const RUNS = { numRuns: 8 }

describe('lpl audit: clean implementations', () => {
  it('balanced softmax with log n_c is LA at τ = 1: equivalent, with the per-row shift as the reason', async () => {
    await fc.assert(
      fc.asyncProperty(countsArbitrary, async (counts) => {
        const report = await run({ rule: 'logit-adjustment', classCounts: counts, tau: 1 }, shiftedCe(counts.map(Math.log)))
        expect(report.verdict).toBe('equivalent')
        expect(report.findings.map((f) => f.kind)).toEqual(['per-row-shift'])
      }),
      RUNS,
    )
  })

  it('LA at any τ written as τ·log π: equivalent, every error within the float64 tolerance', async () => {
    await fc.assert(
      fc.asyncProperty(countsArbitrary, tauArbitrary, async (counts, tau) => {
        const report = await run({ rule: 'logit-adjustment', classCounts: counts, tau }, shiftedCe(logPrior(counts).map((l) => tau * l)))
        expect(report.verdict).toBe('equivalent')
        expect(report.largestLossError.value).toBeLessThan(1e-9)
      }),
      RUNS,
    )
  })
})

describe('lpl audit: planted faults, each named', () => {
  it('a sum where the spec averages: the constant factor N; a doubled scale: the factor 2', async () => {
    await fc.assert(
      fc.asyncProperty(countsArbitrary, tauArbitrary, fc.constantFrom('sum', 2, 0.5), async (counts, tau, fault) => {
        const shift = logPrior(counts).map((l) => tau * l)
        const f = fault === 'sum' ? shiftedCe(shift, 'sum') : shiftedCe(shift, 'mean', fault as number)
        const report = await run({ rule: 'logit-adjustment', classCounts: counts, tau }, f)
        expect(report.verdict).toBe('differs')
        expect(report.findings[0]).toMatchObject({ kind: 'constant-factor', factor: fault === 'sum' ? 'N' : String(fault) })
      }),
      RUNS,
    )
  })

  it('another τ: the fit reports the τ that matches', async () => {
    await fc.assert(
      fc.asyncProperty(countsArbitrary, tauArbitrary, tauArbitrary, async (counts, tau, used) => {
        fc.pre(Math.abs(used - tau) > 0.05 && Math.abs(used + tau) > 0.05)
        // Classes of equal counts make τ invisible: at least two different counts.
        fc.pre(new Set(counts).size > 1)
        const report = await run({ rule: 'logit-adjustment', classCounts: counts, tau }, shiftedCe(logPrior(counts).map((l) => used * l)))
        expect(report.verdict).toBe('differs')
        expect(report.findings[0]).toMatchObject({ kind: 'parameter', field: 'tau', specValue: tau })
        expect(report.findings[0]!.value).toBeCloseTo(used, 3)
      }),
      RUNS,
    )
  })

  it('a sign flipped: named, with the field', async () => {
    await fc.assert(
      fc.asyncProperty(countsArbitrary, tauArbitrary, async (counts, tau) => {
        fc.pre(new Set(counts).size > 1)
        const report = await run({ rule: 'logit-adjustment', classCounts: counts, tau }, shiftedCe(logPrior(counts).map((l) => -tau * l)))
        expect(report.verdict).toBe('differs')
        expect(report.findings[0]).toMatchObject({ kind: 'sign-flipped', field: 'tau', specValue: tau, value: -tau })
      }),
      RUNS,
    )
  })

  it('log Σ exp without its shift: not finite on the extreme batch, where the spec is', async () => {
    await fc.assert(
      fc.asyncProperty(countsArbitrary, async (counts) => {
        const shift = logPrior(counts)
        const naive: ArraysLoss = (u, y) =>
          u.reduce((total, row, i) => {
            const z = row.map((v, j) => v + shift[j]!)
            return total + Math.log(z.reduce((a, v) => a + Math.exp(v), 0)) - z[(y as number[])[i]!]!
          }, 0) / u.length
        const report = await run({ rule: 'logit-adjustment', classCounts: counts, tau: 1 }, naive)
        expect(report.verdict).toBe('differs')
        expect(report.findings[0]).toMatchObject({ kind: 'not-finite', batch: 'extreme logits' })
      }),
      RUNS,
    )
  })

  it('a gradient that drops the softmax term: a gradient cut where the spec differentiates', async () => {
    await fc.assert(
      fc.asyncProperty(countsArbitrary, async (counts) => {
        const loss = shiftedCe(logPrior(counts))
        // The gradient of a loss whose log-sum-exp was detached: −e_y / N.
        const cut: ArraysLoss = (u, y) => ({
          loss: loss(u, y, { training: true }) as number,
          gradient: u.map((row, i) => row.map((_, j) => (j === (y as number[])[i] ? -1 / u.length : 0))),
        })
        const report = await run({ rule: 'logit-adjustment', classCounts: counts, tau: 1 }, cut)
        expect(report.verdict).toBe('differs')
        expect(report.findings[0]).toMatchObject({ kind: 'gradient-cut' })
      }),
      RUNS,
    )
  })

  it("a gradient through LPL's search, where the spec detaches it: named the reverse", async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 0, max: 1000 }), async (seed) => {
        const directions = [-1, 1, -1, 1, 1].map((d, k) => (k === seed % 5 ? -d : d))
        const spec = { rule: 'lpl', split: 'fixed', directions, bounds: [0.3, 0.9, 0.45, 1.2, 0.6], alpha: 0.15, maxSteps: 4 } as const
        const through = createLoss(referenceOps, { ...spec, gradient: 'through' })
        // The loss as a number: its gradient is the derivative of the loss, search included.
        const f: ArraysLoss = (u, y) =>
          through(referenceOps.constant(u.flat(), [u.length, 5]), referenceOps.constant(y as number[], [u.length], 'int32')).data[0]!
        const report = await run(spec, f)
        expect(report.verdict).toBe('differs')
        expect(report.findings[0]).toMatchObject({ kind: 'gradient-through' })
      }),
      { numRuns: 3 },
    )
  })

  it("a term that depends on the rows' level: not invariant to a per-row shift, as the spec is", async () => {
    await fc.assert(
      fc.asyncProperty(countsArbitrary, fc.double({ min: 0.01, max: 1, noNaN: true }), async (counts, weight) => {
        const loss = shiftedCe(logPrior(counts))
        const f: ArraysLoss = (u, y, ctx) =>
          (loss(u, y, ctx) as number) + (weight * u.reduce((a, row) => a + row.reduce((s, v) => s + v, 0) / row.length, 0)) / u.length
        const report = await run({ rule: 'logit-adjustment', classCounts: counts, tau: 1 }, f)
        expect(report.verdict).toBe('differs')
        expect(report.findings[0]).toMatchObject({ kind: 'not-shift-invariant' })
      }),
      RUNS,
    )
  })

  it('a multi-label loss summed over the classes where the spec averages them: the factor C', async () => {
    const c = 4
    const bce = (z: number, y: number) => Math.max(z, 0) - z * y + Math.log1p(Math.exp(-Math.abs(z)))
    const summed: ArraysLoss = (u, y) =>
      u.reduce((total, row, i) => total + row.reduce((s, z, j) => s + bce(z, (y as number[][])[i]![j]!), 0), 0) / u.length
    const report = await audit(parseSpec({ rule: 'bce', numClasses: c }), c, functionImplementation('planted', summed, 'arrays'))
    expect(report.verdict).toBe('differs')
    expect(report.findings[0]).toMatchObject({ kind: 'constant-factor', factor: 'C' })
  })
})
