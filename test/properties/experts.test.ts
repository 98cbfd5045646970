/**
 * The multi-head rules' identities as properties over random batches (docs/spec.md#313-multi-head-rules,
 * docs/rules/balanced-experts.md, docs/rules/diverse-experts.md): one balanced expert with `τ` is
 * logit adjustment with `τ`; `E` identical heads with the same `τ` are that logit adjustment on one
 * head; SADE's loss is the sum of CE of head 0, logit adjustment with `τ = 1` of head 1 and its third
 * head written out here on the host; the closed-form gradient of both is the float64 central
 * difference of the loss (with class weights, label smoothing, sample weights and a mask). Logits of
 * the wrong width, dense logits, soft targets and masked classes are refused with typed errors, and
 * the prediction is the arg-max of the mean of the heads' logits.
 */
import { type RuleInput, argmaxRows, createLoss, meanOfHeadRows, meanOfHeads, referenceOps } from '@logit-perturb/core'
import { type BatchCase, batchArbitrary, centralDifference, expectRefusal, relativeError } from '@logit-perturb/conformance'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { close, lse, rows } from '../support/host.js'
import { RUNS } from './helpers.js'

const batches = batchArbitrary({ maxN: 24, maxC: 12, scales: [1, 10, 100] })

/** The priors `π + 1e-9`, written as counts: logit adjustment with them is the experts' shift up to a constant per row. */
function shiftedPriors(counts: readonly number[]): number[] {
  const total = counts.reduce((a, b) => a + b, 0)
  return counts.map((n) => n / total + 1e-9)
}

/** `E` heads' logits `[N, E·C]` from `E` draws of `[N, C]` logits (head-major). */
function sideBySide(heads: readonly (readonly number[])[], n: number, c: number): number[] {
  const out: number[] = []
  for (let i = 0; i < n; i++) for (const h of heads) out.push(...h.slice(i * c, (i + 1) * c))
  return out
}

/** A second and third draw of a batch's logits, so that the heads differ. */
function otherHeads(b: BatchCase, k: number): number[] {
  return b.logits.map((u, j) => u * (1 + 0.25 * k) + Math.sin(3 * j + k))
}

function lossValue(spec: RuleInput, logits: number[], b: BatchCase, width: number, ctx = {}): number {
  const u = referenceOps.constant(logits, [b.n, width])
  const y = referenceOps.constant(b.labels, [b.n], 'int32')
  return createLoss(referenceOps, spec)(u, y, ctx).data[0]!
}

/** `mean_i CE(z_i, y_i)` on the host. */
function hostCe(z: number[][], labels: readonly number[]): number {
  return z.reduce((a, row, i) => a + lse(row) - row[labels[i]!]!, 0) / z.length
}

describe('balanced-experts', () => {
  it('with one head and τ is logit adjustment with τ (its priors π + 1e-9)', () => {
    fc.assert(
      fc.property(batches, fc.double({ min: -2, max: 3, noNaN: true }), (b, tau) => {
        const experts = lossValue({ rule: 'balanced-experts', classCounts: b.counts, taus: [tau] }, b.logits, b, b.c)
        // LA takes priors as counts and τ ≥ 0; for τ < 0 the shifted CE is written out.
        const la =
          tau >= 0
            ? lossValue({ rule: 'logit-adjustment', classCounts: shiftedPriors(b.counts), tau }, b.logits, b, b.c)
            : hostCe(
                rows(b.logits, b.c).map((row) => row.map((u, j) => u + tau * Math.log(shiftedPriors(b.counts)[j]!))),
                b.labels,
              )
        expect(close(experts, la, 1e-9)).toBe(true)
      }),
      RUNS,
    )
  })

  it('with E identical heads and one τ is logit adjustment with τ on one head, its gradient split evenly', () => {
    fc.assert(
      fc.property(batches, fc.integer({ min: 2, max: 5 }), fc.double({ min: 0, max: 3, noNaN: true }), (b, heads, tau) => {
        const spec = { rule: 'balanced-experts', classCounts: b.counts, taus: new Array<number>(heads).fill(tau) } as const
        const tiled = sideBySide(new Array(heads).fill(b.logits), b.n, b.c)
        const la = { rule: 'logit-adjustment', classCounts: shiftedPriors(b.counts), tau } as const
        expect(close(lossValue(spec, tiled, b, heads * b.c), lossValue(la, b.logits, b, b.c), 1e-9)).toBe(true)
        const y = referenceOps.constant(b.labels, [b.n], 'int32')
        const grad = createLoss(referenceOps, spec).gradient(referenceOps.constant(tiled, [b.n, heads * b.c]), y).data
        const one = createLoss(referenceOps, la).gradient(referenceOps.constant(b.logits, [b.n, b.c]), y).data
        const expected = sideBySide(new Array(heads).fill(Array.from(one, (g) => g / heads)), b.n, b.c)
        expect(relativeError(grad, expected, 1e-15)).toBeLessThan(1e-9)
      }),
      RUNS,
    )
  })

  it('is the mean over heads of each head’s logit-adjusted CE, written out', () => {
    fc.assert(
      fc.property(batches, fc.array(fc.double({ min: -1, max: 3, noNaN: true }), { minLength: 1, maxLength: 4 }), (b, taus) => {
        const heads = [b.logits, ...taus.slice(1).map((_, k) => otherHeads(b, k + 1))]
        const total = b.counts.reduce((a, v) => a + v, 0)
        const expected =
          heads.reduce(
            (a, h, e) =>
              a +
              hostCe(
                rows(h, b.c).map((row) => row.map((u, j) => u + taus[e]! * Math.log(b.counts[j]! / total + 1e-9))),
                b.labels,
              ),
            0,
          ) / taus.length
        const got = lossValue({ rule: 'balanced-experts', classCounts: b.counts, taus }, sideBySide(heads, b.n, b.c), b, taus.length * b.c)
        expect(close(got, expected, 1e-9)).toBe(true)
      }),
      RUNS,
    )
  })
})

describe('diverse-experts', () => {
  it('is CE of head 0, plus LA (τ = 1) of head 1, plus the backward head written out', () => {
    fc.assert(
      fc.property(batches, fc.double({ min: 0, max: 3, noNaN: true }), (b, tau) => {
        const [u1, u2] = [otherHeads(b, 1), otherHeads(b, 2)]
        const total = b.counts.reduce((a, v) => a + v, 0)
        const prior = b.counts.map((n) => n / total)
        // π in reversed order: the k-th smallest prior goes to the class of the k-th largest (ties by class id).
        const order = prior.map((_, c) => c).sort((x, y) => prior[x]! - prior[y]! || x - y)
        const reversed = new Array<number>(b.c)
        order.forEach((c, k) => {
          reversed[c] = prior[order[b.c - 1 - k]!]!
        })
        const backward = hostCe(
          rows(u2, b.c).map((row) => row.map((u, j) => u + Math.log(prior[j]! + 1e-9) - tau * Math.log(reversed[j]! + 1e-9))),
          b.labels,
        )
        const expected =
          lossValue({ rule: 'ce' }, b.logits, b, b.c) +
          lossValue({ rule: 'logit-adjustment', classCounts: shiftedPriors(b.counts), tau: 1 }, u1, b, b.c) +
          backward
        const got = lossValue({ rule: 'diverse-experts', classCounts: b.counts, tau }, sideBySide([b.logits, u1, u2], b.n, b.c), b, 3 * b.c)
        expect(close(got, expected, 1e-9)).toBe(true)
      }),
      RUNS,
    )
  })
})

describe.each([
  ['balanced-experts', (counts: number[]) => ({ rule: 'balanced-experts', classCounts: counts, taus: [-0.5, 1, 2.5] }) as const, 3],
  ['diverse-experts', (counts: number[]) => ({ rule: 'diverse-experts', classCounts: counts, tau: 1.5 }) as const, 3],
] as const)('%s', (_name, specOf, heads) => {
  const small = batchArbitrary({ maxN: 6, maxC: 5, scales: [1, 3] })

  it('has the closed-form gradient of its loss: a central difference, with class weights, smoothing, sample weights and a mask', () => {
    fc.assert(
      fc.property(
        small,
        fc.constantFrom(0, 0.1),
        fc.boolean(),
        fc.constantFrom('mean', 'sum') as fc.Arbitrary<'mean' | 'sum'>,
        (b, eps, weighted, reduction) => {
          const spec = {
            ...specOf(b.counts),
            labelSmoothing: eps,
            ...(weighted ? { weighting: { kind: 'class-balanced', beta: 0.99 } } : {}),
          } as RuleInput
          const loss = createLoss(referenceOps, spec, { reduction })
          const width = heads * b.c
          const logits = sideBySide([b.logits, otherHeads(b, 1), otherHeads(b, 2)], b.n, b.c)
          const y = referenceOps.constant(b.labels, [b.n], 'int32')
          const ctx = {
            sampleWeight: referenceOps.constant(
              b.labels.map((_, i) => 0.5 + (i % 3)),
              [b.n],
            ),
            mask: referenceOps.constant(
              b.labels.map((_, i) => (i % 4 === 1 ? 0 : 1)),
              [b.n],
            ),
          }
          const at = (u: Float64Array) => loss(referenceOps.constant(u, [b.n, width]), y, ctx).data[0]!
          const numeric = centralDifference(at, logits, 1e-5)
          const grad = loss.gradient(referenceOps.constant(logits, [b.n, width]), y, ctx).data
          expect(relativeError(grad, numeric, 1e-12)).toBeLessThan(1e-6)
        },
      ),
      RUNS,
    )
  })

  it('is finite at logits of magnitude 1e4, and leaves its inputs as they were', () => {
    fc.assert(
      fc.property(batchArbitrary({ maxN: 8, maxC: 6, scales: [1e4] }), (b) => {
        const logits = sideBySide([b.logits, otherHeads(b, 1), otherHeads(b, 2)], b.n, b.c)
        const u = referenceOps.constant(logits, [b.n, heads * b.c])
        const before = Array.from(u.data)
        const loss = createLoss(referenceOps, specOf(b.counts))
        const y = referenceOps.constant(b.labels, [b.n], 'int32')
        expect(Number.isFinite(loss(u, y).data[0]!)).toBe(true)
        expect(Array.from(loss.gradient(u, y).data).every(Number.isFinite)).toBe(true)
        expect(Array.from(u.data)).toEqual(before)
      }),
      RUNS,
    )
  })

  it('explains itself against CE of the mean of its heads: Δ_c is the class mean of ℓ_i − CE(ū_i)', () => {
    fc.assert(
      fc.property(batchArbitrary({ maxN: 12, maxC: 6, scales: [1, 3] }), (b) => {
        const logits = sideBySide([b.logits, otherHeads(b, 1), otherHeads(b, 2)], b.n, b.c)
        const loss = createLoss(referenceOps, specOf(b.counts), { reduction: 'none' })
        const u = referenceOps.constant(logits, [b.n, heads * b.c])
        const y = referenceOps.constant(b.labels, [b.n], 'int32')
        const perSample = loss(u, y).data
        const mean = meanOfHeadRows(rows(logits, heads * b.c), heads)
        const e = loss.explain(u, y)
        for (let c = 0; c < b.c; c++) {
          const mine = b.labels.flatMap((l, i) => (l === c ? [perSample[i]! - (lse(mean[i]!) - mean[i]![c]!)] : []))
          const expected = mine.length === 0 ? 0 : mine.reduce((a, v) => a + v, 0) / mine.length
          expect(close(e.lossVariation.data[c]!, expected, 1e-9)).toBe(true)
        }
      }),
      RUNS,
    )
  })

  it('refuses logits of another width (naming E·C), dense logits, soft targets and masked classes', () => {
    const counts = [50, 20, 5, 1]
    const loss = createLoss(referenceOps, specOf(counts))
    const y = referenceOps.constant([0, 3], [2], 'int32')
    expectRefusal(() => loss(referenceOps.constant(new Array(8).fill(0), [2, 4]), y), 'LOGITS_SHAPE', `[N, ${heads * 4}]`)
    expectRefusal(() => loss(referenceOps.constant(new Array(2 * heads * 4 * 2).fill(0), [2, heads * 4, 2]), y), 'LOGITS_SHAPE', 'dense')
    const soft = referenceOps.constant([1, 0, 0, 0, 0, 0.5, 0.5, 0].concat(new Array(2 * heads * 4 - 8).fill(0)), [2, heads * 4])
    expectRefusal(() => loss(referenceOps.constant(new Array(2 * heads * 4).fill(0), [2, heads * 4]), soft), 'SOFT_TARGETS')
    const masked = new Array(2 * heads * 4).fill(0)
    masked[1] = Number.NEGATIVE_INFINITY
    expectRefusal(() => loss(referenceOps.constant(masked, [2, heads * 4]), y), 'LOGITS_NOT_FINITE')
    expectRefusal(
      () => loss(referenceOps.constant(new Array(2 * heads * 4).fill(0), [2, heads * 4]), referenceOps.constant([0, 4], [2], 'int32')),
      'LABEL_VALUE',
    )
  })
})

describe('the prediction of several heads', () => {
  it('is the arg-max of the mean of the heads’ logits, on the host and as a tensor', () => {
    fc.assert(
      fc.property(batches, fc.integer({ min: 1, max: 4 }), (b, heads) => {
        const logits = sideBySide(
          Array.from({ length: heads }, (_, k) => (k === 0 ? b.logits : otherHeads(b, k))),
          b.n,
          b.c,
        )
        const hostRows = rows(logits, heads * b.c)
        const mean = meanOfHeadRows(hostRows, heads)
        const tensor = meanOfHeads(referenceOps, referenceOps.constant(logits, [b.n, heads * b.c]), heads)
        expect(relativeError(tensor.data, mean.flat(), 1e-15)).toBeLessThan(1e-12)
        for (let i = 0; i < b.n; i++) {
          for (let c = 0; c < b.c; c++) {
            let s = 0
            for (let e = 0; e < heads; e++) s += hostRows[i]![e * b.c + c]!
            expect(close(mean[i]![c]!, s / heads, 1e-12)).toBe(true)
          }
        }
        expect(argmaxRows(hostRows, heads)).toEqual(argmaxRows(mean))
      }),
      RUNS,
    )
  })
})
