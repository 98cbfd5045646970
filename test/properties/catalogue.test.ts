/**
 * The catalogue rules' identities as properties over random batches (docs/rules/focal.md): focal
 * loss is `−(1 − p_y)^γ log p_y` of the shifted logits, written out here on the host; `γ = 0` is
 * logit adjustment (CE when `τ = 0`); its closed-form gradient is the float64 central difference of
 * the loss. CDT is VS with `τ = 0`, and the scaled CE written out here.
 */
import { type RuleInput, createLoss, referenceOps } from '@logit-perturb/core'
import { equivalences } from '@logit-perturb/core/verify'
import { batchArbitrary, centralDifference, multiLabelBatchArbitrary, relativeError } from '@logit-perturb/conformance'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { clampedPriors, close, lse, meanBce, rows, smoothed, softplus, weightedCe } from '../support/host.js'
import { RUNS, lossOf, tensors, violation } from './helpers.js'

const batches = batchArbitrary()

/** `mean_i −(1 − p_{i,y_i})^γ log p_{i,y_i}` with `p_i = softmax(u_i + τ log π)`, on the host. */
function hostFocal(logits: number[][], labels: number[], gamma: number, tau: number, counts: number[]): number {
  const s = smoothed(counts)
  const total = s.reduce((a, v) => a + v, 0)
  const terms = logits.map((row, i) => {
    const z = row.map((u, j) => u + tau * Math.log(s[j]! / total))
    const logP = z[labels[i]!]! - lse(z)
    return -((-Math.expm1(logP)) ** gamma) * logP
  })
  return terms.reduce((a, v) => a + v, 0) / terms.length
}

describe('focal', () => {
  it('is −(1 − p_y)^γ log p_y of the shifted logits', () => {
    fc.assert(
      fc.property(batches, fc.double({ min: 0, max: 4, noNaN: true }), fc.double({ min: 0, max: 2, noNaN: true }), (b, gamma, tau) => {
        const spec = { rule: 'focal', gamma, tau, classCounts: b.counts } as const
        expect(close(lossOf(spec, b), hostFocal(rows(b.logits, b.c), b.labels, gamma, tau, b.counts), 1e-8)).toBe(true)
      }),
      RUNS,
    )
  })

  it("lowers every class's loss (Δ_c ≤ 0, negative augmentation), and explains its own gradient", () => {
    fc.assert(
      fc.property(batchArbitrary({ maxN: 24, maxC: 6, scales: [1, 3] }), fc.double({ min: 0.5, max: 3, noNaN: true }), (b, gamma) => {
        const loss = createLoss(referenceOps, { rule: 'focal', gamma })
        const { logits, labels } = tensors(b)
        const e = loss.explain(logits, labels)
        for (const delta of e.lossVariation.data) expect(delta).toBeLessThanOrEqual(1e-15)
        // The equivalent weight of a sample is its focal gradient's norm against plain CE's.
        const grad = loss.gradient(logits, labels).data
        const plain = createLoss(referenceOps, { rule: 'ce' }).gradient(logits, labels).data
        for (let i = 0; i < b.n; i++) {
          // The gradients of the mean carry 1/N; explain's residuals do not, and are floored at 1e-12.
          const norm = (g: Float64Array) => b.n * Math.hypot(...g.subarray(i * b.c, (i + 1) * b.c))
          const expected = (norm(grad) + 1e-12) / (norm(plain) + 1e-12)
          expect(close(e.sampleWeight.data[i]!, expected, 1e-6)).toBe(true)
        }
      }),
      RUNS,
    )
  })

  it('with γ = 0 is logit adjustment with the same τ', async () => {
    await fc.assert(
      fc.asyncProperty(batches, fc.double({ min: 0, max: 2, noNaN: true }), async (b, tau) => {
        const spec = { rule: 'focal', gamma: 0, tau, classCounts: b.counts } as const
        expect(await violation(equivalences.focalGammaZero, spec, b)).toBeLessThanOrEqual(1e-12)
      }),
      RUNS,
    )
  })

  it('has the closed-form gradient of its loss: a central difference, with label smoothing too', () => {
    fc.assert(
      fc.property(
        batchArbitrary({ maxN: 6, maxC: 5, scales: [1, 3] }),
        fc.double({ min: 0.5, max: 3, noNaN: true }),
        fc.constantFrom(0, 0.1),
        (b, gamma, labelSmoothing) => {
          const loss = createLoss(referenceOps, { rule: 'focal', gamma, tau: 1, classCounts: b.counts, labelSmoothing })
          const { logits, labels } = tensors(b)
          const at = (u: Float64Array) => loss(referenceOps.constant(u, [b.n, b.c]), labels).data[0]!
          const numeric = centralDifference(at, b.logits, 1e-6)
          expect(relativeError(loss.gradient(logits, labels).data, numeric, 1e-12)).toBeLessThan(1e-6)
        },
      ),
      RUNS,
    )
  })
})

describe('cdt', () => {
  it('is VS with τ = 0', async () => {
    await fc.assert(
      fc.asyncProperty(batches, fc.double({ min: 0, max: 1, noNaN: true }), async (b, gamma) => {
        expect(await violation(equivalences.cdtIsVs, { rule: 'cdt', classCounts: b.counts, gamma }, b)).toBeLessThanOrEqual(1e-12)
      }),
      RUNS,
    )
  })

  it('is the CE of the logits divided by (n_max / n_c)^γ', () => {
    fc.assert(
      fc.property(batches, fc.double({ min: 0, max: 1, noNaN: true }), (b, gamma) => {
        const s = smoothed(b.counts)
        const largest = Math.max(...s)
        const z = rows(b.logits, b.c).map((row) => row.map((u, j) => u / (largest / s[j]!) ** gamma))
        const ce = z.reduce((a, row, i) => a + lse(row) - row[b.labels[i]!]!, 0) / b.n
        expect(close(lossOf({ rule: 'cdt', classCounts: b.counts, gamma }, b), ce, 1e-9)).toBe(true)
      }),
      RUNS,
    )
  })
})

describe('class weighting', () => {
  it('is the weighted mean Σ w_y ℓ / Σ w_y with w_c = (1 − β)/(1 − β^{n_c}) summing to C', () => {
    fc.assert(
      fc.property(batches, fc.double({ min: 0, max: 0.9999, noNaN: true }), (b, beta) => {
        const s = smoothed(b.counts)
        const raw = s.map((n) => (1 - beta) / (1 - beta ** n))
        const total = raw.reduce((a, v) => a + v, 0)
        const w = raw.map((v) => (v * b.c) / total)
        const z = rows(b.logits, b.c)
        const expected = weightedCe(z, b.labels, w)
        const spec = { rule: 'ce', numClasses: b.c, weighting: { kind: 'class-balanced', beta, classCounts: b.counts } } as const
        expect(close(lossOf(spec, b), expected, 1e-9)).toBe(true)
      }),
      RUNS,
    )
  })

  it('with β = 0 weighs every class alike: the unweighted loss', () => {
    fc.assert(
      fc.property(batches, (b) => {
        const plain = { rule: 'logit-adjustment', tau: 1, classCounts: b.counts } as const
        const weighted = { ...plain, weighting: { kind: 'class-balanced', beta: 0 } } as const
        expect(close(lossOf(weighted, b), lossOf(plain, b), 1e-12)).toBe(true)
      }),
      RUNS,
    )
  })

  it("gives LDAM-DRW's loss to LDAM, before and after its first epoch", () => {
    fc.assert(
      fc.property(batches, fc.double({ min: 0, max: 0.9999, noNaN: true }), fc.integer({ min: 0, max: 3 }), (b, beta, epoch) => {
        const ldam = { rule: 'ldam', classCounts: b.counts, scale: 2 } as const
        const drw = { ...ldam, drw: { beta, fromEpoch: 2 } }
        const weighted = { ...ldam, weighting: { kind: 'class-balanced', beta, fromEpoch: 2 } } as const
        expect(close(lossOf(weighted, b, { epoch }), lossOf(drw, b, { epoch }), 1e-12)).toBe(true)
      }),
      RUNS,
    )
  })

  it('inverse frequency: w_c ∝ 1/n_c, summing to C', () => {
    fc.assert(
      fc.property(batches, (b) => {
        const inverse = smoothed(b.counts).map((n) => 1 / n)
        const total = inverse.reduce((a, v) => a + v, 0)
        const w = inverse.map((v) => (v * b.c) / total)
        const expected = weightedCe(rows(b.logits, b.c), b.labels, w)
        const spec = { rule: 'ce', numClasses: b.c, weighting: { kind: 'inverse-frequency', classCounts: b.counts } } as const
        expect(close(lossOf(spec, b), expected, 1e-9)).toBe(true)
      }),
      RUNS,
    )
  })
})

/** Seesaw's loss on the host: `z_ij = u_ij + log(M·C)_{y_i j}` for `j ≠ y_i` with counts `N`, then CE. */
function hostSeesaw(logits: number[][], labels: number[], counts: number[], p: number, q: number, eps: number): number {
  const n = counts.map((v) => Math.max(v, 1))
  const ce = logits.map((u, i) => {
    const y = labels[i]!
    const lse0 = lse(u)
    const sigma = u.map((v) => Math.exp(v - lse0))
    const self = Math.max(sigma[y]!, eps)
    const z = u.map((v, j) => {
      if (j === y) return v
      const m = n[j]! < n[y]! ? (n[j]! / n[y]!) ** p : 1
      const c = sigma[j]! / self > 1 ? (sigma[j]! / self) ** q : 1
      return v + Math.log(m * c)
    })
    return lse(z) - z[y]!
  })
  return ce.reduce((a, v) => a + v, 0) / ce.length
}

describe('seesaw', () => {
  const params = fc.record({
    p: fc.double({ min: 0, max: 2, noNaN: true }),
    q: fc.double({ min: 0, max: 3, noNaN: true }),
    eps: fc.double({ min: 0.001, max: 0.5, noNaN: true }),
  })

  it('is the CE of u + log(M·C) off the target, with the counts plus the batch on a training call', () => {
    fc.assert(
      fc.property(batchArbitrary({ scales: [1, 10] }), params, (b, { p, q, eps }) => {
        const spec = { rule: 'seesaw', classCounts: b.counts, p, q, eps } as const
        const seen = b.counts.map((v, c) => v + b.labels.filter((y) => y === c).length)
        const z = rows(b.logits, b.c)
        expect(close(lossOf(spec, b, { training: false }), hostSeesaw(z, b.labels, b.counts, p, q, eps), 1e-9)).toBe(true)
        expect(close(lossOf(spec, b), hostSeesaw(z, b.labels, seen, p, q, eps), 1e-9)).toBe(true)
      }),
      RUNS,
    )
  })

  it('with p = q = 0 is the cross-entropy', () => {
    fc.assert(
      fc.property(batches, (b) => {
        const spec = { rule: 'seesaw', classCounts: b.counts, p: 0, q: 0 } as const
        expect(close(lossOf(spec, b), lossOf({ rule: 'ce' }, b), 1e-12)).toBe(true)
      }),
      RUNS,
    )
  })

  it('accumulates the batches it trains on: the next call reads the counts the last one added', () => {
    fc.assert(
      fc.property(batches, params, (b, { p, q, eps }) => {
        const loss = createLoss(referenceOps, { rule: 'seesaw', numClasses: b.c, p, q, eps })
        const { logits, labels } = tensors(b)
        const once = b.counts.map((_, c) => b.labels.filter((y) => y === c).length)
        loss(logits, labels)
        expect(Array.from(loss.getState()!.counts!.data)).toEqual(once)
        const next = loss.evaluate(logits, labels, { training: false }).loss.data[0]!
        expect(close(next, hostSeesaw(rows(b.logits, b.c), b.labels, once, p, q, eps), 1e-9)).toBe(true)
        loss(logits, labels)
        expect(Array.from(loss.getState()!.counts!.data)).toEqual(once.map((v) => 2 * v))
      }),
      RUNS,
    )
  })
})

/**
 * The distribution-balanced loss as the fixtures' README writes the released code's computation,
 * on the host: rebalanced weights through the smoothing map, the bias `κ·logit(π)/λ`, the negatives
 * scaled by `λ` and weighted `1/λ`, and the focal factor with `p_t = exp(−BCE)`.
 */
function hostDistributionBalanced(
  b: { n: number; c: number; logits: number[]; labels: number[]; counts: number[]; numSamples: number },
  o: { mapAlpha: number; mapBeta: number; mapGamma: number; negScale: number; initBias: number; focalGamma: number; balanceParam: number },
): number {
  const priors = clampedPriors(b.counts, b.numSamples)
  const inverse = priors.map((p) => 1 / (p * b.numSamples))
  let total = 0
  for (let i = 0; i < b.n; i++) {
    let repeat = 0
    for (let c = 0; c < b.c; c++) repeat += b.labels[i * b.c + c]! * inverse[c]!
    for (let c = 0; c < b.c; c++) {
      const y = b.labels[i * b.c + c]!
      const r = repeat === 0 ? Infinity : inverse[c]! / repeat
      // r = ∞ with β = 0 reads as σ(0), where the released code's 0·∞ gives NaN.
      const w = 1 / (1 + Math.exp(o.mapBeta === 0 ? 0 : -o.mapBeta * (r - o.mapGamma))) + o.mapAlpha
      const v = b.logits[i * b.c + c]! + (o.initBias * Math.log(priors[c]! / (1 - priors[c]!))) / o.negScale
      const z = y === 1 ? v : o.negScale * v
      const weight = y === 1 ? w : w / o.negScale
      const bce = softplus(z) - y * z
      total += o.balanceParam * (-Math.expm1(-bce)) ** o.focalGamma * weight * bce
    }
  }
  return total / (b.n * b.c)
}

describe('distribution-balanced', () => {
  const multi = multiLabelBatchArbitrary({ maxN: 32, maxC: 12, scales: [1, 10] })
  const options = fc.record({
    mapAlpha: fc.double({ min: 0, max: 1, noNaN: true }),
    mapBeta: fc.double({ min: 0, max: 20, noNaN: true }),
    mapGamma: fc.double({ min: 0, max: 1, noNaN: true }),
    negScale: fc.double({ min: 0.5, max: 6, noNaN: true }),
    initBias: fc.double({ min: 0, max: 0.5, noNaN: true }),
    focalGamma: fc.double({ min: 0, max: 3, noNaN: true }),
    balanceParam: fc.double({ min: 0.5, max: 3, noNaN: true }),
  })
  const lossOfMulti = (spec: RuleInput, b: { n: number; c: number; logits: number[]; labels: number[] }) =>
    createLoss(referenceOps, spec)(referenceOps.constant(b.logits, [b.n, b.c]), referenceOps.constant(b.labels, [b.n, b.c])).data[0]!

  it("is the released code's loss: rebalanced weights, the code's bias, negative tolerance, the focal term", () => {
    fc.assert(
      fc.property(multi, options, (b, o) => {
        const spec = { rule: 'distribution-balanced', classCounts: b.counts, numSamples: b.numSamples, ...o } as const
        expect(close(lossOfMulti(spec, b), hostDistributionBalanced(b, o), 1e-9)).toBe(true)
      }),
      RUNS,
    )
  })

  it('with unit weights, λ = 1, κ = 0 and γ = 0 is balance·BCE', () => {
    fc.assert(
      fc.property(multi, fc.double({ min: 0.5, max: 3, noNaN: true }), (b, balanceParam) => {
        const spec = {
          rule: 'distribution-balanced',
          classCounts: b.counts,
          numSamples: b.numSamples,
          mapAlpha: 0.5,
          mapBeta: 0,
          negScale: 1,
          initBias: 0,
          focalGamma: 0,
          balanceParam,
        } as const
        expect(close(lossOfMulti(spec, b), balanceParam * meanBce(b.logits, b.labels), 1e-12)).toBe(true)
      }),
      RUNS,
    )
  })

  it('has the closed-form gradient of its loss: a central difference', () => {
    fc.assert(
      fc.property(multiLabelBatchArbitrary({ maxN: 5, maxC: 4, scales: [1, 3] }), options, (b, o) => {
        const loss = createLoss(referenceOps, { rule: 'distribution-balanced', classCounts: b.counts, numSamples: b.numSamples, ...o })
        const labels = referenceOps.constant(b.labels, [b.n, b.c])
        const at = (u: Float64Array) => loss(referenceOps.constant(u, [b.n, b.c]), labels).data[0]!
        const numeric = centralDifference(at, b.logits, 1e-6)
        expect(relativeError(loss.gradient(referenceOps.constant(b.logits, [b.n, b.c]), labels).data, numeric, 1e-12)).toBeLessThan(1e-6)
      }),
      RUNS,
    )
  })
})
