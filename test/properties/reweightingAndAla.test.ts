/**
 * Generalized re-weighting and adaptive logit adjustment as properties over random batches
 * (docs/rules/generalized-reweighting.md, docs/rules/adaptive-logit-adjustment.md, docs/spec.md
 * sections 3.11 and 3.12), against host implementations written here.
 *
 * GRW: the weights are `π_c^{−p} / mean_k π_k^{−p}` (mean 1), the loss their weighted mean of CE;
 * `p = 0` is CE, `p = 1` the inverse-frequency weighting; the rule is `ce` with the
 * `generalized-reweighting` weighting; its closed-form gradient is the central difference of the loss.
 *
 * ALA: the loss is `CE(s·u − h_i·a_{y_i}·s·e_{y_i}, y)` written out here; with every count equal
 * `a = 1`, and the loss does not change when the counts are scaled; the perturbation lowers the
 * target logit only, so every class's loss rises against `CE(s·u)` (`explain`); the closed-form
 * gradient is the central difference of the loss with `h` frozen, and not of the loss with `h`
 * recomputed; a zero count is refused, naming it.
 */
import {
  LogitPerturbError,
  alaMargins,
  createLoss,
  generalizedReweightWeights,
  parseSpec,
  referenceOps,
  ruleFacts,
} from '@logit-perturb/core'
import { type AnyBackend, checkEquivalences, equivalences, referenceBackend } from '@logit-perturb/core/verify'
import { batchArbitrary, centralDifference, relativeError } from '@logit-perturb/conformance'
import { workspaceBackends } from '@logit-perturb/conformance/backends'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { close, rows, smoothed, weightedCe } from '../support/host.js'
import { RUNS, lossOf, tensors } from './helpers.js'

const backends: AnyBackend[] = await workspaceBackends()

/** Runs `fn` in the backend's scope (tfjs: its backend active, its tensors freed after). */
const on = <R>(backend: AnyBackend, fn: () => Promise<R>): Promise<R> => (backend.scope ?? ((f) => f()))(fn)

/** `π_c^{−p} / mean_k π_k^{−p}` of the smoothed counts, on the host, as LIFT computes it. */
function hostGrwWeights(counts: readonly number[], p: number): number[] {
  const s = smoothed(counts)
  const total = s.reduce((a, v) => a + v, 0)
  const raw = s.map((n) => 1 / (n / total) ** p)
  const mean = raw.reduce((a, v) => a + v, 0) / raw.length
  return raw.map((w) => w / mean)
}

const exponents = fc.double({ min: 0, max: 3, noNaN: true })

describe('generalized-reweighting', () => {
  const batches = batchArbitrary({ maxN: 64, maxC: 40 })

  it('has weights π^−p / mean π^−p, of mean 1, and is their weighted mean of CE', () => {
    fc.assert(
      fc.property(batches, exponents, (b, p) => {
        const w = generalizedReweightWeights(b.counts, p)
        const host = hostGrwWeights(b.counts, p)
        expect(relativeError(w, host, 1e-300)).toBeLessThan(1e-9)
        expect(close(w.reduce((a, v) => a + v, 0) / b.c, 1, 1e-12)).toBe(true)
        const spec = { rule: 'generalized-reweighting', classCounts: b.counts, exponent: p } as const
        expect(close(lossOf(spec, b), weightedCe(rows(b.logits, b.c), b.labels, host), 1e-9)).toBe(true)
      }),
      RUNS,
    )
  })

  it('with p = 0 is the cross-entropy, with p = 1 the inverse-frequency weighting', () => {
    fc.assert(
      fc.property(batches, (b) => {
        const grw = (exponent: number) => ({ rule: 'generalized-reweighting', classCounts: b.counts, exponent }) as const
        expect(close(lossOf(grw(0), b), lossOf({ rule: 'ce' }, b), 1e-12)).toBe(true)
        const inverse = { rule: 'ce', numClasses: b.c, weighting: { kind: 'inverse-frequency', classCounts: b.counts } } as const
        expect(close(lossOf(grw(1), b), lossOf(inverse, b), 1e-12)).toBe(true)
      }),
      RUNS,
    )
  })

  it("is cross-entropy with the generalized-reweighting weighting: loss and gradient, and the weighting's epoch switch", () => {
    fc.assert(
      fc.property(batches, exponents, fc.integer({ min: 0, max: 3 }), (b, p, epoch) => {
        const { logits, labels } = tensors(b)
        const rule = createLoss(referenceOps, { rule: 'generalized-reweighting', classCounts: b.counts, exponent: p })
        const weighting = { kind: 'generalized-reweighting', exponent: p, classCounts: b.counts } as const
        const ce = createLoss(referenceOps, { rule: 'ce', weighting })
        expect(close(rule(logits, labels).data[0]!, ce(logits, labels).data[0]!, 1e-12)).toBe(true)
        expect(relativeError(rule.gradient(logits, labels).data, ce.gradient(logits, labels).data, 1e-300)).toBeLessThan(1e-12)
        // From epoch 2 on only, on another rule: before, the rule's own loss.
        const la = { rule: 'logit-adjustment', classCounts: b.counts } as const
        const deferred = { ...la, weighting: { ...weighting, fromEpoch: 2 } } as const
        const expected = epoch >= 2 ? lossOf({ ...la, weighting }, b) : lossOf(la, b)
        expect(close(lossOf(deferred, b, { epoch }), expected, 1e-12)).toBe(true)
      }),
      RUNS,
    )
  })

  it('reads a zero count as the smallest positive one: the empty class gets the weight of the rarest', () => {
    fc.assert(
      fc.property(batches, exponents, (b, p) => {
        const w = generalizedReweightWeights(b.counts, p)
        const smallest = Math.min(...b.counts.filter((n) => n > 0))
        const rarest = w[b.counts.indexOf(smallest)]!
        b.counts.forEach((n, k) => {
          if (n === 0) expect(w[k]).toBe(rarest)
        })
        expect(w.every(Number.isFinite)).toBe(true)
      }),
      RUNS,
    )
  })

  it('holds each weight at 1e-37 or more, and stays finite for any exponent', () => {
    const w = generalizedReweightWeights([1e6, 1e3, 1], 1e6)
    expect(w).toEqual([1e-37, 1e-37, 3])
    const steep = generalizedReweightWeights([1e6, 1], 10)
    expect(steep[0]).toBe(1e-37)
    expect(close(steep[1]!, 2, 1e-15)).toBe(true)
  })

  it('has the closed-form gradient of its loss: a central difference, with label smoothing too', () => {
    fc.assert(
      fc.property(batchArbitrary({ maxN: 6, maxC: 5, scales: [1, 3] }), exponents, fc.constantFrom(0, 0.1), (b, p, labelSmoothing) => {
        const loss = createLoss(referenceOps, { rule: 'generalized-reweighting', classCounts: b.counts, exponent: p, labelSmoothing })
        const { logits, labels } = tensors(b)
        const at = (u: Float64Array) => loss(referenceOps.constant(u, [b.n, b.c]), labels).data[0]!
        const numeric = centralDifference(at, b.logits, 1e-6)
        expect(relativeError(loss.gradient(logits, labels).data, numeric, 1e-12)).toBeLessThan(1e-6)
      }),
      RUNS,
    )
  })

  it('takes no weighting of its own, and is no base of LPL', () => {
    const refusal = (spec: unknown) => {
      try {
        parseSpec(spec)
      } catch (e) {
        return e instanceof LogitPerturbError ? e.field : 'untyped'
      }
      return 'accepted'
    }
    expect(refusal({ rule: 'generalized-reweighting', classCounts: [5, 1], weighting: { kind: 'inverse-frequency' } })).toBe('weighting')
    expect(
      refusal({ rule: 'lpl', split: 'prior', classCounts: [5, 1], base: { rule: 'generalized-reweighting', classCounts: [5, 1] } }),
    ).toBe('base.rule')
    expect(refusal({ rule: 'generalized-reweighting', classCounts: [5, 1], exponent: -1 })).toBe('exponent')
    expect(refusal({ rule: 'ce', weighting: { kind: 'generalized-reweighting', exponent: 'x', classCounts: [5, 1] } })).toBe(
      'weighting.exponent',
    )
    expect(refusal({ rule: 'ce', weighting: { kind: 'inverse-frequency', exponent: 1, classCounts: [5, 1] } })).toBe('weighting.exponent')
  })
})

/** ALA's quantity factors on the host: `ln 2 / ln(n_c / min n + 1)`. */
function hostFactors(counts: readonly number[]): number[] {
  const min = Math.min(...counts)
  return counts.map((n) => Math.log(2) / Math.log(n / min + 1))
}

/**
 * ALA's perturbed logits on the host: `s·u_i − h_i·a_{y_i}·s·e_{y_i}`, with `h_i = (1 − c_{i,y_i})/2`
 * read from `cosines` (the logits themselves, or other values at which `h` is frozen).
 */
function hostAlaLogits(u: number[][], labels: number[], counts: number[], s: number, cosines: number[][] = u): number[][] {
  const a = hostFactors(counts)
  return u.map((row, i) => {
    const y = labels[i]!
    const h = (1 - cosines[i]![y]!) / 2
    return row.map((v, j) => s * v - (j === y ? h * a[y]! * s : 0))
  })
}

/** The class-balanced weights `(1 − β)/(1 − β^n)`, rescaled to sum `C`, on the host. */
function hostClassBalanced(counts: readonly number[], beta: number): number[] {
  const raw = counts.map((n) => (1 - beta) / (1 - beta ** n))
  const total = raw.reduce((a, v) => a + v, 0)
  return raw.map((w) => (w * counts.length) / total)
}

describe('adaptive-logit-adjustment', () => {
  // Cosine logits in [−1, 1], and counts > 0.
  const cosines = batchArbitrary({ maxN: 64, maxC: 40, scales: [1], zeroCounts: false })
  const scales = fc.double({ min: 1, max: 30, noNaN: true })
  const spec = (counts: readonly number[], scale: number) => ({ rule: 'adaptive-logit-adjustment', classCounts: counts, scale }) as const

  it('is CE(s·u − h·a_y·s·e_y) written out on the host, with the class-balanced weights from their epoch on', () => {
    fc.assert(
      fc.property(cosines, scales, fc.integer({ min: 0, max: 3 }), (b, s, epoch) => {
        const z = hostAlaLogits(rows(b.logits, b.c), b.labels, b.counts, s)
        expect(relativeError(alaMargins(b.counts), hostFactors(b.counts), 1e-300)).toBeLessThan(1e-12)
        expect(close(lossOf(spec(b.counts, s), b), weightedCe(z, b.labels), 1e-9)).toBe(true)
        const weighted = { ...spec(b.counts, s), weighting: { kind: 'class-balanced', beta: 0.9999, fromEpoch: 2 } } as const
        const w = epoch >= 2 ? hostClassBalanced(b.counts, 0.9999) : undefined
        expect(close(lossOf(weighted, b, { epoch }), weightedCe(z, b.labels, w), 1e-9)).toBe(true)
      }),
      RUNS,
    )
  })

  it('with every count equal has a = 1, and the loss does not change when the counts are scaled', () => {
    fc.assert(
      fc.property(cosines, scales, fc.integer({ min: 1, max: 1e6 }), fc.double({ min: 0.5, max: 1e3, noNaN: true }), (b, s, k, factor) => {
        const equal = b.counts.map(() => k)
        expect(alaMargins(equal).every((a) => a === 1)).toBe(true)
        const z = rows(b.logits, b.c).map((row, i) => row.map((v, j) => s * v - (j === b.labels[i] ? ((1 - row[j]!) / 2) * s : 0)))
        expect(close(lossOf(spec(equal, s), b), weightedCe(z, b.labels), 1e-9)).toBe(true)
        const scaled = b.counts.map((n) => n * factor)
        expect(close(lossOf(spec(scaled, s), b), lossOf(spec(b.counts, s), b), 1e-9)).toBe(true)
      }),
      RUNS,
    )
  })

  it("lowers the target logit only, so every class's loss rises against CE(s·u): positive augmentation (explain)", () => {
    fc.assert(
      fc.property(cosines, scales, (b, s) => {
        const loss = createLoss(referenceOps, spec(b.counts, s))
        const { logits, labels } = tensors(b)
        const z = loss.perturb(logits, labels).data
        const a = hostFactors(b.counts)
        for (let i = 0; i < b.n; i++) {
          for (let j = 0; j < b.c; j++) {
            const delta = z[i * b.c + j]! - s * b.logits[i * b.c + j]!
            if (j !== b.labels[i]) expect(delta).toBe(0)
            else {
              expect(delta).toBeLessThanOrEqual(0)
              expect(close(delta, -s * a[j]! * ((1 - b.logits[i * b.c + j]!) / 2), 1e-9)).toBe(true)
            }
          }
        }
        const e = loss.explain(logits, labels)
        for (const delta of e.lossVariation.data) expect(delta).toBeGreaterThanOrEqual(0)
      }),
      RUNS,
    )
  })

  it('has the closed-form gradient s·(p − e_y): a central difference of the loss with h frozen', () => {
    fc.assert(
      fc.property(batchArbitrary({ maxN: 6, maxC: 5, scales: [1], zeroCounts: false }), scales, fc.boolean(), (b, s, reweight) => {
        const weighting = reweight ? { weighting: { kind: 'class-balanced', beta: 0.999 } as const } : {}
        const loss = createLoss(referenceOps, { ...spec(b.counts, s), ...weighting })
        const { logits, labels } = tensors(b)
        const frozen = rows(b.logits, b.c)
        const w = reweight ? hostClassBalanced(b.counts, 0.999) : undefined
        const hostLoss = (u: Float64Array) => weightedCe(hostAlaLogits(rows(u, b.c), b.labels, b.counts, s, frozen), b.labels, w)
        const numeric = centralDifference(hostLoss, b.logits, 1e-6)
        expect(relativeError(loss.gradient(logits, labels).data, numeric, 1e-12)).toBeLessThan(1e-6)
      }),
      RUNS,
    )
  })

  it('is not the central difference with h recomputed: the check can fail', () => {
    const b = { n: 2, c: 3, logits: [0.2, -0.4, 0.1, -0.3, 0.5, 0.0], labels: [0, 2], counts: [100, 10, 1] }
    const s = 10
    const loss = createLoss(referenceOps, spec(b.counts, s))
    const { logits, labels } = tensors({ ...b, scale: 1 })
    const recomputed = (u: Float64Array) => weightedCe(hostAlaLogits(rows(u, b.c), b.labels, b.counts, s), b.labels)
    const frozen = (u: Float64Array) => weightedCe(hostAlaLogits(rows(u, b.c), b.labels, b.counts, s, rows(b.logits, b.c)), b.labels)
    const closedForm = loss.gradient(logits, labels).data
    expect(relativeError(closedForm, centralDifference(frozen, b.logits, 1e-6), 1e-12)).toBeLessThan(1e-6)
    expect(relativeError(closedForm, centralDifference(recomputed, b.logits, 1e-6), 1e-12)).toBeGreaterThan(1e-2)
  })

  it("declares its δ per sample, through the logits' values: lpl verify leaves out the class-level and row-shift checks", async () => {
    expect(ruleFacts(spec([5, 1], 30)).sampleDelta).toBe('logits')
    expect(ruleFacts({ rule: 'generalized-reweighting', classCounts: [5, 1] }).sampleDelta).toBeUndefined()
    const b = {
      logits: [
        [0.2, -0.4, 0.1],
        [-0.3, 0.5, 0.0],
        [0.9, -0.1, 0.3],
      ],
      labels: [0, 2, 0],
    }
    const checks = await checkEquivalences(referenceBackend, parseSpec(spec([100, 10, 1], 10)), b)
    expect(checks.map((k) => k.property)).toEqual([equivalences.ceOfPerturbed.name])
    expect(checks.every((k) => k.error <= k.tolerance)).toBe(true)
    // And the two it leaves out would fail: δ differs between the samples of class 0, and a row shift moves the loss.
    expect(await equivalences.classLevelDelta.check(referenceBackend, parseSpec(spec([100, 10, 1], 10)), b)).toBeGreaterThan(1e-3)
    expect(await equivalences.rowShift.check(referenceBackend, parseSpec(spec([100, 10, 1], 10)), b)).toBeGreaterThan(1e-3)
    // Seesaw's compensation reads each sample's scores: δ per sample, a row shift still changes nothing.
    const seesaw = parseSpec({ rule: 'seesaw', classCounts: [100, 10, 1] })
    expect(ruleFacts(seesaw).sampleDelta).toBe('scores')
    const seesawChecks = await checkEquivalences(referenceBackend, seesaw, b)
    expect(seesawChecks.map((k) => k.property)).toEqual([equivalences.ceOfPerturbed.name, equivalences.rowShift.name])
    expect(seesawChecks.every((k) => k.error <= k.tolerance)).toBe(true)
  })

  it('refuses a zero count, naming it, and soft targets', () => {
    const refusal = (input: unknown) => {
      try {
        parseSpec(input)
      } catch (e) {
        return e instanceof LogitPerturbError ? `${e.code} ${e.field}` : 'untyped'
      }
      return 'accepted'
    }
    expect(refusal({ rule: 'adaptive-logit-adjustment', classCounts: [50, 0, 3] })).toBe('CLASS_COUNTS_VALUE classCounts[1]')
    expect(refusal({ rule: 'adaptive-logit-adjustment', classCounts: [50, 3], scale: 0 })).toBe('INVALID_PARAMETER scale')
    expect(() => alaMargins([4, 0])).toThrow(LogitPerturbError)
    const loss = createLoss(referenceOps, spec([50, 3], 30))
    const soft = referenceOps.constant([0.5, 0.5], [1, 2])
    expect(() => loss(referenceOps.constant([0.1, 0.2], [1, 2]), soft)).toThrow(/soft/i)
  })

  it('is finite for logits of magnitude 1e4 (not cosines), and the perturbation never mutates the inputs', () => {
    const u = [1e4, -1e4, 3, -2e3, 5e3, 1e4]
    const b = { n: 2, c: 3, logits: [...u], labels: [1, 2], counts: [9, 3, 1], scale: 1e4 }
    const value = lossOf(spec(b.counts, 30), b)
    expect(Number.isFinite(value)).toBe(true)
    expect(close(value, weightedCe(hostAlaLogits(rows(u, 3), b.labels, b.counts, 30), b.labels), 1e-9)).toBe(true)
    expect(b.logits).toEqual(u)
  })

  it('on every backend: the loss is the host loss and the target logit moves down only', async () => {
    expect(backends.map((x) => x.name)).toEqual(['reference', 'tfjs-cpu', 'tfjs-wasm', 'onnx-wasm'])
    for (const b of fc.sample(batchArbitrary({ maxN: 24, maxC: 12, scales: [1], zeroCounts: false }), { numRuns: 3, seed: 28 })) {
      const logits32 = b.logits.map(Math.fround)
      const s = 16
      const z = hostAlaLogits(rows(logits32, b.c), b.labels, b.counts, s)
      const expected = weightedCe(z, b.labels)
      for (const backend of backends) {
        await on(backend, async () => {
          const ops = backend.ops
          const loss = createLoss(ops, spec(b.counts, s))
          const u = ops.constant(logits32, [b.n, b.c])
          const y = ops.constant(b.labels, [b.n], 'int32')
          const value = (await backend.read(loss(u, y)))[0]!
          expect(close(value, expected, backend.rtol), `${backend.name}: ${value} vs ${expected}`).toBe(true)
          const perturbed = await backend.read(loss.perturb(u, y))
          const flat = z.flat()
          expect(relativeError(perturbed, flat, 1)).toBeLessThan(backend.rtol)
        })
      }
    }
  })
})
