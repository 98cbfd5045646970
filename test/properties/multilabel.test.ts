/**
 * docs/spec.md#5-multi-label, the multi-label rules, over random shapes, labels, logit magnitudes (up to 1e4)
 * and training counts (with zeros and labels on every sample):
 * - property 7: LPL with normalized steps ends at the closed-form per-label shift;
 * - zero perturbation (zero steps, zero bounds, τ = 0, κ = 0 with λ = 1) is BCE;
 * - every rule is BCE of its explicitly perturbed logits (for db-negative-tolerant: its formula,
 *   computed independently on the host).
 */
import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { type RefTensor, createLoss, lplSteps, priorSplitBounds, referenceOps } from '@logit-perturb/core'
import type { RuleInput } from '@logit-perturb/core'
import { type MultiLabelBatchCase, mulberry32, multiLabelBatchArbitrary } from '@logit-perturb/conformance'
import { clampedPriors, close, meanBce, softplus } from '../support/host.js'
import { RUNS } from './helpers.js'

const batches = multiLabelBatchArbitrary({ maxN: 128, maxC: 100 })
const alphas = fc.double({ min: 1e-3, max: 2, noNaN: true })
const bounds = fc.double({ min: 0, max: 3, noNaN: true })
const steps = fc.integer({ min: 0, max: 12 })

function tensors(b: MultiLabelBatchCase): { logits: RefTensor; labels: RefTensor } {
  return { logits: referenceOps.constant(b.logits, [b.n, b.c]), labels: referenceOps.constant(b.labels, [b.n, b.c]) }
}

function evaluate(spec: RuleInput, b: MultiLabelBatchCase): { loss: number; perturbed: Float64Array } {
  const { logits, labels } = tensors(b)
  const e = createLoss(referenceOps, spec).evaluate(logits, labels)
  return { loss: e.loss.data[0]!, perturbed: e.batch.logits.data }
}

const bceOf = (b: MultiLabelBatchCase) => evaluate({ rule: 'bce' }, b).loss

/** Every pair of values within `rtol` of the larger magnitude (and 1). */
function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, rtol: number) {
  expect(actual.length).toBe(expected.length)
  for (let k = 0; k < expected.length; k++) {
    if (!close(actual[k]!, expected[k]!, rtol)) expect(actual[k], `entry ${k}`).toBe(expected[k])
  }
}

describe('7. multi-label LPL with normalized steps', () => {
  it('ends at the closed form: P labels δ⁺ = −αK_c, δ⁻ = +αK_c; N labels the opposite', () => {
    const head = fc.option(fc.integer({ min: 0, max: 100 }), { nil: undefined })
    fc.assert(
      fc.property(
        batches,
        alphas,
        bounds,
        bounds,
        steps,
        head,
        fc.constantFrom('stop', 'through'),
        (b, alpha, epsilon, deltaEpsilon, maxSteps, h, gradient) => {
          const headClasses = h === undefined ? undefined : Math.min(h, b.c)
          const spec = {
            rule: 'lpl-multilabel',
            classCounts: b.counts,
            alpha,
            epsilon,
            deltaEpsilon,
            maxSteps,
            gradient,
            headClasses,
          } satisfies RuleInput
          const { loss, perturbed } = evaluate(spec, b)
          const split = priorSplitBounds(b.counts, epsilon, deltaEpsilon, headClasses)
          const shift = split.bounds.map((bound, c) => split.directions[c]! * alpha * lplSteps(bound, alpha, maxSteps))
          // Positives move by −s·αK (harder for P), negatives by +s·αK.
          const expected = b.logits.map((u, k) => u + shift[k % b.c]! * (b.labels[k] === 1 ? -1 : 1))
          expectClose(perturbed, expected, 1e-12)
          expect(close(loss, meanBce(expected, b.labels), 1e-12)).toBe(true)
        },
      ),
      RUNS,
    )
  })
})

describe('zero perturbation is BCE', () => {
  it('lpl-multilabel with zero steps or zero bounds, logit-adjusted-bce with τ = 0, db with κ = 0 and λ = 1', () => {
    fc.assert(
      fc.property(batches, alphas, fc.boolean(), (b, alpha, normalize) => {
        const bce = bceOf(b)
        expect(close(bce, meanBce(b.logits, b.labels), 1e-12)).toBe(true)
        const lpl = { rule: 'lpl-multilabel', classCounts: b.counts, alpha, normalize } satisfies RuleInput
        const priors = { classCounts: b.counts, numSamples: b.numSamples }
        for (const spec of <RuleInput[]>[
          { ...lpl, maxSteps: 0 },
          { ...lpl, epsilon: 0, deltaEpsilon: 0 },
          { rule: 'logit-adjusted-bce', ...priors, tau: 0 },
          { rule: 'db-negative-tolerant', ...priors, kappa: 0, lambda: 1 },
        ]) {
          const { loss, perturbed } = evaluate(spec, b)
          expect(close(loss, bce, 1e-12), JSON.stringify(spec)).toBe(true)
          expectClose(perturbed, b.logits, 1e-15)
        }
      }),
      RUNS,
    )
  })
})

describe('every multi-label rule is BCE of its explicitly perturbed logits', () => {
  const taus = fc.double({ min: 0, max: 3, noNaN: true })

  it('logit-adjusted-bce: BCE(u + τ·log(π/(1 − π))), π_c = n_c / numSamples clamped as documented', () => {
    fc.assert(
      fc.property(batches, taus, (b, tau) => {
        const pi = clampedPriors(b.counts, b.numSamples)
        const z = b.logits.map((u, k) => u + tau * Math.log(pi[k % b.c]! / (1 - pi[k % b.c]!)))
        const { loss, perturbed } = evaluate({ rule: 'logit-adjusted-bce', classCounts: b.counts, numSamples: b.numSamples, tau }, b)
        expectClose(perturbed, z, 1e-12)
        expect(close(loss, meanBce(z, b.labels), 1e-12)).toBe(true)
      }),
      RUNS,
    )
  })

  it('db-negative-tolerant: y·softplus(−(u − ν)) + (1/λ)(1 − y)·softplus(λ(u − ν)), ν = −κ·log(1/π − 1)', () => {
    const kappas = fc.double({ min: 0, max: 2, noNaN: true })
    const lambdas = fc.double({ min: 0.1, max: 10, noNaN: true })
    fc.assert(
      fc.property(batches, kappas, lambdas, (b, kappa, lambda) => {
        const nu = clampedPriors(b.counts, b.numSamples).map((p) => -kappa * Math.log(1 / p - 1))
        let total = 0
        b.logits.forEach((u, k) => {
          const x = u - nu[k % b.c]!
          total += b.labels[k] === 1 ? softplus(-x) : softplus(lambda * x) / lambda
        })
        const { loss, perturbed } = evaluate(
          { rule: 'db-negative-tolerant', classCounts: b.counts, numSamples: b.numSamples, kappa, lambda },
          b,
        )
        expect(close(loss, total / b.logits.length, 1e-12)).toBe(true)
        // Its perturbed logits are u − ν on positives and λ(u − ν) on negatives; weights 1 and 1/λ.
        const z = b.logits.map((u, k) => (b.labels[k] === 1 ? 1 : lambda) * (u - nu[k % b.c]!))
        expectClose(perturbed, z, 1e-12)
        expect(
          close(
            loss,
            meanBce(
              z,
              b.labels,
              b.labels.map((y) => (y === 1 ? 1 : 1 / lambda)),
            ),
            1e-12,
          ),
        ).toBe(true)
      }),
      RUNS,
    )
  })

  it('lpl-multilabel: BCE of its perturbed logits, one shift per label for its positives and one for its negatives', () => {
    fc.assert(
      fc.property(batches, alphas, bounds, steps, fc.boolean(), fc.integer(), (b, alpha, epsilon, maxSteps, normalize, seed) => {
        const deltaEpsilon = 3 * mulberry32(seed)()
        const spec = {
          rule: 'lpl-multilabel',
          classCounts: b.counts,
          alpha,
          epsilon,
          deltaEpsilon,
          maxSteps,
          normalize,
        } satisfies RuleInput
        const { loss, perturbed } = evaluate(spec, b)
        expect(close(loss, meanBce(perturbed, b.labels), 1e-12)).toBe(true)
        // Class-level: within a label, every positive gets the same shift, and every negative.
        const first = new Map<string, number>()
        perturbed.forEach((z, k) => {
          const key = `${k % b.c}:${b.labels[k]}`
          const shift = z - b.logits[k]!
          const seen = first.get(key)
          if (seen === undefined) first.set(key, shift)
          else expect(Math.abs(shift - seen)).toBeLessThanOrEqual(1e-9 * Math.max(1, b.scale))
        })
      }),
      RUNS,
    )
  })
})
