/**
 * docs/spec.md#3-existing-methods-as-class-level-perturbations, equivalence 5: LPL with zero bounds or zero steps is CE; a class in P has
 * `Δ_c ≥ 0` and a class in N has `Δ_c ≤ 0`, for any α, any number of steps, with or without
 * normalized steps, for every split. Zero steps and the signs of the prior and fixed splits are the
 * core's `equivalences` (as `lpl verify` checks them), run here on drawn batches.
 */
import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { equivalences } from '@logit-perturb/core/verify'
import type { RuleInput } from '@logit-perturb/core'
import { batchArbitrary, mulberry32 } from '@logit-perturb/conformance'
import { close } from '../support/host.js'
import { yieldToEventLoop } from '../support/eventLoop.js'
import { RUNS, lossOf, perturbedOf, variationOf, violation } from './helpers.js'

const batches = batchArbitrary({ maxN: 256, maxC: 200 })
const alphas = fc.double({ min: 1e-3, max: 2, noNaN: true })
const steps = fc.integer({ min: 0, max: 12 })

describe('5. LPL', () => {
  it('with zero bounds or zero steps equals CE', async () => {
    await fc.assert(
      fc.asyncProperty(batches, alphas, async (b, alpha) => {
        await yieldToEventLoop()
        const zeroBounds = { rule: 'lpl', split: 'prior', classCounts: b.counts, alpha, epsilon: 0, deltaEpsilon: 0 } satisfies RuleInput
        expect(close(lossOf(zeroBounds, b), lossOf({ rule: 'ce' }, b), 1e-12)).toBe(true)
        const zeroSteps = { rule: 'lpl', split: 'prior', classCounts: b.counts, alpha, maxSteps: 0 } satisfies RuleInput
        const zeroConfidence = { rule: 'lpl', split: 'confidence', alpha, maxSteps: 0 } satisfies RuleInput
        for (const spec of [zeroSteps, zeroConfidence])
          expect(await violation(equivalences.lplZeroSteps, spec, b), spec.split).toBeLessThanOrEqual(1e-12)
      }),
      RUNS,
    )
  })

  /** How far `Δ_c` may cross zero against its class's direction: float rounding of losses at `scale`. */
  const signSlack = (scale: number) => 1e-9 * Math.max(1, scale)

  /** `Δ_c` must carry the sign of the class's direction, up to float rounding of the losses. */
  function expectSigns(delta: Float64Array, counts: Float64Array, directions: number[], scale: number) {
    const slack = signSlack(scale)
    directions.forEach((d, c) => {
      if (counts[c] === 0) return
      if (d > 0) expect(delta[c]!).toBeGreaterThanOrEqual(-slack)
      else expect(delta[c]!).toBeLessThanOrEqual(slack)
    })
  }

  it('prior split: head classes (N) have Δ_c ≤ 0, tail classes (P) Δ_c ≥ 0', async () => {
    await fc.assert(
      fc.asyncProperty(batches, alphas, steps, fc.boolean(), async (b, alpha, maxSteps, normalize) => {
        await yieldToEventLoop()
        const spec = {
          rule: 'lpl',
          split: 'prior',
          classCounts: b.counts,
          alpha,
          maxSteps,
          normalize,
          epsilon: 0.5,
          deltaEpsilon: 2,
        } satisfies RuleInput
        expect(await violation(equivalences.lplSigns, spec, b)).toBeLessThanOrEqual(signSlack(b.scale))
      }),
      RUNS,
    )
  })

  it('fixed split: every class moves the way its direction says', async () => {
    await fc.assert(
      fc.asyncProperty(batches, alphas, steps, fc.boolean(), fc.integer(), async (b, alpha, maxSteps, normalize, seed) => {
        await yieldToEventLoop()
        const rand = mulberry32(seed)
        const directions = Array.from({ length: b.c }, () => (rand() < 0.5 ? -1 : 1))
        const bounds = Array.from({ length: b.c }, () => 3 * rand())
        const spec = { rule: 'lpl', split: 'fixed', directions, bounds, alpha, maxSteps, normalize } satisfies RuleInput
        expect(await violation(equivalences.lplSigns, spec, b)).toBeLessThanOrEqual(signSlack(b.scale))
      }),
      RUNS,
    )
  })

  it('confidence split: classes below the mean confidence gain loss, the others lose it', () => {
    fc.assert(
      fc.property(batchArbitrary({ maxN: 128, maxC: 50, scales: [1, 10] }), alphas, steps, (b, alpha, maxSteps) => {
        const spec = { rule: 'lpl', split: 'confidence', momentum: 0, alpha, maxSteps } satisfies RuleInput
        const { delta, counts } = variationOf(spec, b)
        // The split itself, recomputed on the host from the batch.
        const conf = new Array<number>(b.c).fill(0)
        for (let i = 0; i < b.n; i++) {
          const row = b.logits.slice(i * b.c, (i + 1) * b.c)
          const m = Math.max(...row)
          const z = row.reduce((s, v) => s + Math.exp(v - m), 0)
          conf[b.labels[i]!]! += Math.exp(row[b.labels[i]!]! - m) / z / counts[b.labels[i]!]!
        }
        const present = conf.map((_, c) => counts[c]! > 0)
        const threshold = conf.reduce((s, v, c) => s + (present[c] ? v : 0), 0) / present.filter(Boolean).length
        // Classes within rounding of the threshold may fall on either side: leave them out.
        const directions = conf.map((q) => (q < threshold ? 1 : -1))
        const decided = Float64Array.from(counts, (n, c) => (Math.abs(conf[c]! - threshold) < 1e-9 ? 0 : n))
        expectSigns(delta, decided, directions, b.scale)
      }),
      RUNS,
    )
  })
})

describe('5b. LPL takes exactly K_c = min(⌊ε_c/α⌋, K) normalized steps', () => {
  it('with two classes every step is ±α(e_other − e_c)/√2, so δ_c = s_c·α·K_c·(e_other − e_c)/√2', () => {
    const twoClasses = batchArbitrary({ minC: 2, maxC: 2, maxN: 64, scales: [1, 10, 100] })
    fc.assert(
      fc.property(twoClasses, alphas, steps, fc.integer(), (b, alpha, maxSteps, seed) => {
        const rand = mulberry32(seed)
        const directions = [rand() < 0.5 ? -1 : 1, rand() < 0.5 ? -1 : 1]
        const bounds = [4 * rand(), 4 * rand()]
        const spec = { rule: 'lpl', split: 'fixed', directions, bounds, alpha, maxSteps } satisfies RuleInput
        const z = perturbedOf(spec, b)
        for (let i = 0; i < b.n; i++) {
          const c = b.labels[i]!
          const k = Math.min(Math.floor(bounds[c]! / alpha + 1e-6), maxSteps)
          const along = (directions[c]! * alpha * k) / Math.SQRT2
          const expected = [c === 0 ? -along : along, c === 0 ? along : -along]
          for (let j = 0; j < 2; j++) {
            expect(Math.abs(z[i * 2 + j]! - b.logits[i * 2 + j]! - expected[j]!)).toBeLessThanOrEqual(1e-9 * Math.max(1, b.scale))
          }
        }
      }),
      RUNS,
    )
  })
})
