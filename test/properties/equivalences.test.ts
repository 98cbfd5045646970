/**
 * docs/spec.md#3-existing-methods-as-class-level-perturbations, equivalences 1 to 4 and 6, as properties over random batches (N up to 256,
 * C up to 200, logits up to 1e4 in magnitude, long-tailed counts with zeros). The ones `lpl verify`
 * checks are the core's `equivalences`, run here on drawn batches with drawn options.
 */
import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { createLoss, drwWeights, isdaPerturbation, ldamMargins, referenceOps, vsTerms } from '@logit-perturb/core'
import { equivalences } from '@logit-perturb/core/verify'
import type { RuleInput } from '@logit-perturb/core'
import { batchArbitrary, centralDifference, mulberry32, uniform } from '@logit-perturb/conformance'
import { close, rows, smoothed, weightedCe } from '../support/host.js'
import { yieldToEventLoop } from '../support/eventLoop.js'
import { RUNS, lossOf, perturbedOf, tensors, violation } from './helpers.js'

const batches = batchArbitrary()

describe('1. LA with τ = 0 is CE; balanced softmax is LA with τ = 1', () => {
  it('LA(τ = 0) equals CE', async () => {
    await fc.assert(
      fc.asyncProperty(batches, async (b) => {
        await yieldToEventLoop()
        expect(await violation(equivalences.laTauZero, { rule: 'logit-adjustment', tau: 0, classCounts: b.counts }, b)).toBeLessThanOrEqual(
          1e-12,
        )
      }),
      RUNS,
    )
  })
  it('balanced softmax equals LA(τ = 1)', async () => {
    await fc.assert(
      fc.asyncProperty(batches, async (b) => {
        await yieldToEventLoop()
        expect(
          await violation(equivalences.balancedSoftmaxIsLa, { rule: 'balanced-softmax', classCounts: b.counts }, b),
        ).toBeLessThanOrEqual(1e-12)
      }),
      RUNS,
    )
  })
})

describe('2. every rule equals CE on its explicitly perturbed logits', () => {
  const logPrior = (counts: number[]) => {
    const s = smoothed(counts)
    const total = s.reduce((a, v) => a + v, 0)
    return s.map((n) => Math.log(n / total))
  }
  it('LA: CE(u + τ log π, y)', () => {
    fc.assert(
      fc.property(batches, fc.double({ min: 0, max: 3, noNaN: true }), (b, tau) => {
        const lp = logPrior(b.counts)
        const z = rows(b.logits, b.c).map((r) => r.map((u, j) => u + tau * lp[j]!))
        expect(close(lossOf({ rule: 'logit-adjustment', tau, classCounts: b.counts }, b), weightedCe(z, b.labels))).toBe(true)
      }),
      RUNS,
    )
  })
  it('LDAM-DRW: weighted CE(s·(u − Δ_y e_y), y)', () => {
    fc.assert(
      fc.property(
        batches,
        fc.double({ min: 0, max: 1, noNaN: true }),
        fc.double({ min: 0.5, max: 30, noNaN: true }),
        fc.constantFrom(0.9, 0.999, 0.9999),
        (b, m, s, beta) => {
          const margins = smoothed(b.counts).map((n) => n ** -0.25)
          const top = Math.max(...margins)
          const z = rows(b.logits, b.c).map((r, i) => r.map((u, j) => s * (u - (j === b.labels[i] ? (m * margins[j]!) / top : 0))))
          const raw = smoothed(b.counts).map((n) => (1 - beta) / (1 - beta ** n))
          const weights = raw.map((w) => (w * b.c) / raw.reduce((a, v) => a + v, 0))
          const spec = { rule: 'ldam', classCounts: b.counts, maxMargin: m, scale: s, drw: { beta, fromEpoch: 3 } } satisfies RuleInput
          expect(close(lossOf(spec, b, { epoch: 3 }), weightedCe(z, b.labels, weights))).toBe(true)
          expect(close(lossOf(spec, b, { epoch: 2 }), weightedCe(z, b.labels))).toBe(true)
          expect(ldamMargins(b.counts, m).every((v, k) => close(v, (m * margins[k]!) / top))).toBe(true)
          expect(drwWeights(b.counts, beta).every((v, k) => close(v, weights[k]!))).toBe(true)
        },
      ),
      RUNS,
    )
  })
  it('VS: CE(Δ ⊙ u + ι, y)', () => {
    fc.assert(
      fc.property(batches, fc.double({ min: 0, max: 1, noNaN: true }), (b, gamma) => {
        const s = smoothed(b.counts)
        const top = Math.max(...s)
        const lp = logPrior(b.counts)
        const z = rows(b.logits, b.c).map((r) => r.map((u, j) => (s[j]! / top) ** gamma * u + lp[j]!))
        expect(close(lossOf({ rule: 'vs', classCounts: b.counts, gamma, tau: 1 }, b), weightedCe(z, b.labels))).toBe(true)
        const terms = vsTerms(b.counts, gamma, 1)
        const explicit = { rule: 'vs', multiplicative: terms.multiplicative, additive: terms.additive } satisfies RuleInput
        expect(close(lossOf(explicit, b), weightedCe(z, b.labels))).toBe(true)
      }),
      RUNS,
    )
  })
  it('ISDA: CE(u + δ_y, y) with δ_{c,j} = (λ/2)(w_j − w_c)ᵀ Σ_c (w_j − w_c)', () => {
    const small = batchArbitrary({ maxC: 12, maxN: 64 })
    fc.assert(
      fc.property(small, fc.integer({ min: 1, max: 4 }), fc.integer(), (b, d, seed) => {
        const rand = mulberry32(seed)
        const weights = Array.from({ length: b.c }, () => Array.from({ length: d }, () => 2 * rand() - 1))
        const covariances = weights.map(() => {
          const a = Array.from({ length: d }, () => Array.from({ length: d }, () => rand() - 0.5))
          return a.map((ri) => a.map((rj) => ri.reduce((s, v, k) => s + v * rj[k]!, 0))) // A·Aᵀ, PSD
        })
        const quad = (v: number[], m: number[][]) => v.reduce((s, vi, i) => s + vi * m[i]!.reduce((t, mij, j) => t + mij * v[j]!, 0), 0)
        const delta = weights.map((wc, c) =>
          weights.map(
            (wj) =>
              0.25 *
              quad(
                wj.map((v, k) => v - wc[k]!),
                covariances[c]!,
              ),
          ),
        )
        const z = rows(b.logits, b.c).map((r, i) => r.map((u, j) => u + delta[b.labels[i]!]![j]!))
        const spec = { rule: 'isda', lambda: 0.5, weights, covariances } satisfies RuleInput
        expect(close(lossOf(spec, b), weightedCe(z, b.labels))).toBe(true)
        expect(
          isdaPerturbation({ weights, covariances }, 0.5)
            .flat()
            .every((v) => v >= -1e-12),
        ).toBe(true)
      }),
      RUNS,
    )
  })
  it('LPL and the released-code presets: the loss is CE of the perturbed logits, and δ is the same for every sample of a class', async () => {
    const specs = (b: { counts: number[]; c: number }): RuleInput[] => [
      { rule: 'lpl', split: 'prior', classCounts: b.counts },
      { rule: 'lpl', split: 'confidence', momentum: 0 },
      { rule: 'lpl', split: 'prior', classCounts: b.counts, base: { rule: 'logit-adjustment', tau: 1, classCounts: b.counts } },
      { rule: 'official-longtail', classCounts: b.counts, headClasses: Math.floor(b.c / 3), steps: 5 },
      { rule: 'official-balanced', steps: 5, alpha: 0.05 },
    ]
    await fc.assert(
      fc.asyncProperty(batchArbitrary({ maxC: 40, maxN: 128 }), async (b) => {
        await yieldToEventLoop()
        for (const spec of specs(b)) {
          expect(await violation(equivalences.ceOfPerturbed, spec, b), JSON.stringify(spec)).toBeLessThanOrEqual(1e-9)
          expect(await violation(equivalences.classLevelDelta, spec, b), JSON.stringify(spec)).toBeLessThanOrEqual(
            1e-9 * Math.max(1, b.scale),
          )
        }
      }),
      { numRuns: Math.ceil(RUNS.numRuns / 2) },
    )
  })
})

describe('3. a constant added to every logit of a row changes no softmax loss', () => {
  const rulesOf = (b: { counts: number[]; c: number }): RuleInput[] => [
    { rule: 'ce' },
    { rule: 'logit-adjustment', tau: 1.3, classCounts: b.counts },
    { rule: 'ldam', classCounts: b.counts, scale: 5 },
    { rule: 'lpl', split: 'prior', classCounts: b.counts },
    { rule: 'lpl', split: 'confidence', momentum: 0 },
    { rule: 'official-longtail', classCounts: b.counts, headClasses: Math.floor(b.c / 2), steps: 4 },
    { rule: 'official-balanced', steps: 5, alpha: 0.05 },
  ]
  it('row shifts leave every rule unchanged', async () => {
    await fc.assert(
      fc.asyncProperty(batchArbitrary({ maxC: 40, maxN: 128, scales: [1, 10, 100] }), fc.integer(), async (b, seed) => {
        await yieldToEventLoop()
        const rand = mulberry32(seed)
        const rowShifts = Array.from({ length: b.n }, () => uniform(rand, 50))
        for (const spec of rulesOf(b)) {
          expect(await violation(equivalences.rowShift, spec, b, { rowShifts }), JSON.stringify(spec)).toBeLessThanOrEqual(1e-9)
        }
      }),
      { numRuns: Math.ceil(RUNS.numRuns / 2) },
    )
  })
  it('LA is unchanged when the counts are multiplied by a constant', async () => {
    await fc.assert(
      fc.asyncProperty(batches, fc.double({ min: 1e-3, max: 1e3, noNaN: true }), async (b, factor) => {
        await yieldToEventLoop()
        const spec = { rule: 'logit-adjustment', tau: 1, classCounts: b.counts } satisfies RuleInput
        expect(await violation(equivalences.laCountScale, spec, b, { factor })).toBeLessThanOrEqual(1e-9)
      }),
      RUNS,
    )
  })
})

describe('4. LDAM with M = 0 and s = 1 is CE; its loss does not decrease with M', () => {
  it('LDAM(M = 0, s = 1) equals CE', async () => {
    await fc.assert(
      fc.asyncProperty(batches, async (b) => {
        await yieldToEventLoop()
        expect(
          await violation(equivalences.ldamPlainIsCe, { rule: 'ldam', classCounts: b.counts, maxMargin: 0, scale: 1 }, b),
        ).toBeLessThanOrEqual(1e-12)
      }),
      RUNS,
    )
  })
  it('LDAM is non-decreasing in M', async () => {
    await fc.assert(
      fc.asyncProperty(
        batches,
        fc.double({ min: 0, max: 2, noNaN: true }),
        fc.double({ min: 0, max: 2, noNaN: true }),
        fc.double({ min: 0.1, max: 30, noNaN: true }),
        async (b, m1, m2, s) => {
          await yieldToEventLoop()
          const [lo, hi] = m1 <= m2 ? [m1, m2] : [m2, m1]
          const spec = { rule: 'ldam', classCounts: b.counts, maxMargin: hi, scale: s } satisfies RuleInput
          // The loss at the smaller margin exceeds the loss at the larger by at most rounding.
          const atLo = lossOf({ ...spec, maxMargin: lo }, b)
          expect(await violation(equivalences.ldamMonotone, spec, b, { smallerMargin: lo })).toBeLessThanOrEqual(1e-12 * Math.max(1, atLo))
        },
      ),
      RUNS,
    )
  })
})

describe('6. first order: ℓ(u+δ) − ℓ(u) = δ·(p(u) − e_y) + O(‖δ‖²), and the gradient is p(u+δ) − e_y', () => {
  it('the reported loss variation of each class is within ‖δ‖²/4 of its first-order value', () => {
    fc.assert(
      fc.property(batchArbitrary({ maxC: 30, maxN: 64, scales: [1, 10] }), fc.double({ min: 1e-3, max: 0.5, noNaN: true }), (b, tau) => {
        const { logits, labels } = tensors(b)
        const explanation = createLoss(referenceOps, { rule: 'logit-adjustment', tau, classCounts: b.counts }).explain(logits, labels)
        const s = smoothed(b.counts)
        const total = s.reduce((a, v) => a + v, 0)
        const delta = s.map((n) => tau * Math.log(n / total))
        const normSq = delta.reduce((a, v) => a + v * v, 0)
        const u = rows(b.logits, b.c)
        for (let c = 0; c < b.c; c++) {
          const members = b.labels.flatMap((y, i) => (y === c ? [i] : []))
          if (members.length === 0) continue
          const firstOrder =
            members.reduce((acc, i) => {
              const m = Math.max(...u[i]!)
              const z = u[i]!.reduce((a, v) => a + Math.exp(v - m), 0)
              return acc + delta.reduce((a, d, j) => a + d * (Math.exp(u[i]![j]! - m) / z - (j === c ? 1 : 0)), 0)
            }, 0) / members.length
          expect(Math.abs(explanation.lossVariation.data[c]! - firstOrder)).toBeLessThanOrEqual(normSq / 4 + 1e-9)
        }
      }),
      RUNS,
    )
  })
  it('the closed-form gradient equals a central finite difference (with δ held fixed for searched rules)', () => {
    // Rules whose δ does not depend on the logits: the whole loss is differentiated.
    const fixedSpecs = (b: { counts: number[] }): RuleInput[] => [
      { rule: 'ce' },
      { rule: 'logit-adjustment', tau: 0.7, classCounts: b.counts },
      { rule: 'ldam', classCounts: b.counts, scale: 3, drw: { beta: 0.99, fromEpoch: 0 } },
      { rule: 'vs', classCounts: b.counts, gamma: 0.3, tau: 1 },
    ]
    // Searched rules with a stop-gradient: δ is found at u₀ and then held constant, so the gradient
    // is that of u ↦ CE(base(u) + δ(u₀)).
    const searchedSpecs = (b: { counts: number[] }): { spec: RuleInput; base: RuleInput }[] => [
      {
        spec: { rule: 'lpl', split: 'prior', classCounts: b.counts, base: { rule: 'vs', classCounts: b.counts } },
        base: { rule: 'vs', classCounts: b.counts },
      },
      { spec: { rule: 'official-balanced', steps: 5, alpha: 0.05 }, base: { rule: 'ce' } },
    ]
    const h = 1e-5
    const agree = (fd: Float64Array, closedForm: Float64Array) =>
      fd.forEach((v, k) => {
        expect(Math.abs(v - closedForm[k]!)).toBeLessThanOrEqual(1e-6 * Math.max(1, Math.abs(v)))
      })
    fc.assert(
      fc.property(batchArbitrary({ maxC: 8, maxN: 12, scales: [1, 3] }), (b) => {
        const { logits, labels } = tensors(b)
        for (const spec of fixedSpecs(b)) {
          const loss = createLoss(referenceOps, spec)
          agree(
            centralDifference((u) => lossOf(spec, { ...b, logits: Array.from(u) }), b.logits, h),
            loss.gradient(logits, labels).data,
          )
        }
        for (const { spec, base } of searchedSpecs(b)) {
          const delta = Array.from(perturbedOf(spec, b), (v, k) => v - perturbedOf(base, b)[k]!)
          const frozen = (u: Float64Array) =>
            weightedCe(
              rows(
                perturbedOf(base, { ...b, logits: Array.from(u) }).map((v, k) => v + delta[k]!),
                b.c,
              ),
              b.labels,
            )
          agree(centralDifference(frozen, b.logits, h), createLoss(referenceOps, spec).gradient(logits, labels).data)
        }
      }),
      { numRuns: Math.ceil(RUNS.numRuns / 2) },
    )
  })
})
