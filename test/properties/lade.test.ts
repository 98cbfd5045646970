/**
 * LADE's identities as properties over random batches (docs/rules/lade.md, docs/spec.md#310-lade):
 * the loss is the prior cross-entropy plus `α·L_LADE`, both written out here on the host; `α = 0`
 * is logit adjustment with `τ = 1` up to the `1e-9` in the log; the closed-form gradient is the
 * float64 central difference of the loss, under every reduction, mask, sample weights and label
 * smoothing; a class absent from the batch gets a gradient through `S`; masked rows are dropped
 * rows; and on every backend the loss, the closed form and (tfjs) autodiff agree with the reference,
 * finite for logits of 1e4.
 */
import { type LossContext, type RefTensor, type Reduction, createLoss, referenceOps } from '@logit-perturb/core'
import { workspaceBackends } from '@logit-perturb/conformance/backends'
import { type BatchCase, batchArbitrary, centralDifference, relativeError } from '@logit-perturb/conformance'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { close, lse, rows } from '../support/host.js'
import { RUNS, tensors } from './helpers.js'

/** LADE's loss on the host, from the released code's formulas, over the rows `keep` says count. */
function hostLade(b: BatchCase, alpha: number, lambda: number, keep: (i: number) => boolean = () => true): number {
  const total = b.counts.reduce((a, v) => a + v, 0)
  const pi = b.counts.map((v) => v / total)
  const logPi = pi.map((p) => Math.log(p + 1e-9))
  const u = rows(b.logits, b.c).filter((_, i) => keep(i))
  const y = b.labels.filter((_, i) => keep(i))
  if (u.length === 0) return 0
  const ce = u.reduce((a, row, i) => {
    const z = row.map((v, j) => v + logPi[j]!)
    return a + lse(z) - z[y[i]!]!
  }, 0)
  let lade = 0
  for (let c = 0; c < b.c; c++) {
    const k = y.filter((v) => v === c).length
    const f = u.reduce((a, row, i) => a + (y[i] === c ? row[c]! : 0), 0) / (k + 1e-8)
    const s = lse(u.map((row) => row[c]! - logPi[c]! + Math.log(1 / b.c + 1e-9))) - Math.log(u.length)
    lade -= pi[c]! * (f - s - lambda * s * s)
  }
  return ce / u.length + alpha * lade
}

const params = fc.record({ alpha: fc.double({ min: 0, max: 1, noNaN: true }), lambda: fc.double({ min: 0, max: 1, noNaN: true }) })
// Two classes or more: with one, the loss is α·u·1e-8, all rounding, and its difference quotient noise.
const small = batchArbitrary({ maxN: 8, minC: 2, maxC: 5, scales: [1, 3] })

describe('lade', () => {
  it('is CE(u + log(π + 1e-9), y) + α·(−Σ_c π_c·(F_c − S_c − λ·S_c²)), with zero counts', () => {
    fc.assert(
      fc.property(batchArbitrary({ maxN: 40, maxC: 12, scales: [1, 10] }), params, (b, { alpha, lambda }) => {
        const spec = { rule: 'lade', classCounts: b.counts, alpha, remineLambda: lambda } as const
        const { logits, labels } = tensors(b)
        expect(close(createLoss(referenceOps, spec)(logits, labels).data[0]!, hostLade(b, alpha, lambda), 1e-9)).toBe(true)
      }),
      RUNS,
    )
  })

  it('with α = 0 is logit adjustment with τ = 1, up to the 1e-9 in the log', () => {
    fc.assert(
      fc.property(batchArbitrary({ maxN: 40, maxC: 12, zeroCounts: false }), fc.double({ min: 0, max: 1, noNaN: true }), (b, lambda) => {
        const { logits, labels } = tensors(b)
        const lade = createLoss(referenceOps, { rule: 'lade', classCounts: b.counts, alpha: 0, remineLambda: lambda })
        const la = createLoss(referenceOps, { rule: 'logit-adjustment', classCounts: b.counts, tau: 1 })
        const total = b.counts.reduce((a, v) => a + v, 0)
        // log(π + 1e-9) − log π ≤ 1e-9/π: the shifts, and so the losses and gradients, differ by at most that.
        const bound = 2e-9 / Math.min(...b.counts.map((v) => v / total)) + 1e-12
        expect(Math.abs(lade(logits, labels).data[0]! - la(logits, labels).data[0]!)).toBeLessThan(bound)
        const g = lade.gradient(logits, labels).data
        const h = la.gradient(logits, labels).data
        for (let k = 0; k < g.length; k++) expect(Math.abs(g[k]! - h[k]!)).toBeLessThan(bound)
      }),
      RUNS,
    )
  })

  it('has the closed-form gradient of its loss (central difference): every reduction, a mask, sample weights, smoothing', () => {
    fc.assert(
      fc.property(
        small,
        params,
        fc.constantFrom<Reduction>('mean', 'sum', 'none'),
        fc.constantFrom(0, 0.1),
        fc.integer({ min: 0, max: 2 ** 31 - 1 }),
        (b, { alpha, lambda }, reduction, labelSmoothing, seed) => {
          const loss = createLoss(
            referenceOps,
            { rule: 'lade', classCounts: b.counts, alpha, remineLambda: lambda, labelSmoothing },
            { reduction },
          )
          const { logits, labels } = tensors(b)
          const pick = (i: number, salt: number) => ((seed >>> (i % 24)) ^ (salt * (i + 1))) & 1
          const ctx: LossContext<RefTensor> = {
            mask: referenceOps.constant(
              Array.from({ length: b.n }, (_, i) => (i === 0 ? 1 : pick(i, 3))),
              [b.n],
            ),
            sampleWeight: referenceOps.constant(
              Array.from({ length: b.n }, (_, i) => 0.5 + pick(i, 5)),
              [b.n],
            ),
          }
          // `'none'` is differentiated as the sum of its per-sample vector, as its gradient is.
          const at = (u: Float64Array) =>
            loss(referenceOps.constant(u, [b.n, b.c]), labels, ctx).data.reduce((a: number, v: number) => a + v, 0)
          const numeric = centralDifference(at, b.logits, 1e-6)
          // A difference quotient (step 1e-6) of losses rounded at |z|·2⁻⁵³ is off by about 1e-10·|z|: entries
          // below 1e-3 (a batch whose other classes all have zero counts: 1e-10) are compared absolutely.
          expect(relativeError(loss.gradient(logits, labels, ctx).data, numeric, 1e-3)).toBeLessThan(1e-6)
        },
      ),
      RUNS,
    )
  })

  it('gives a class absent from the batch a gradient through S_c on every row', () => {
    fc.assert(
      fc.property(batchArbitrary({ maxN: 12, minC: 2, maxC: 6, zeroCounts: false, scales: [1, 3] }), params, (b, { lambda }) => {
        // Class C − 1 taken out of the batch.
        const labels = b.labels.map((y) => (y === b.c - 1 ? 0 : y))
        const u = referenceOps.constant(b.logits, [b.n, b.c])
        const y = referenceOps.constant(labels, [b.n], 'int32')
        const spec = { rule: 'lade', classCounts: b.counts, alpha: 0.5, remineLambda: lambda } as const
        const with_ = createLoss(referenceOps, spec).gradient(u, y).data
        const without = createLoss(referenceOps, { ...spec, alpha: 0 }).gradient(u, y).data
        for (let i = 0; i < b.n; i++) {
          const k = i * b.c + b.c - 1
          // α·π_c·(1 + 2λS_c)·q_ic with q_ic > 0 (1 + 2λS_c may vanish only on a measure-zero set).
          expect(with_[k]! - without[k]!, `row ${i}`).not.toBe(0)
        }
      }),
      RUNS,
    )
  })

  it('masked rows are dropped rows, values and gradients: k, F, S and N are over the counted rows', () => {
    fc.assert(
      fc.property(small, params, fc.integer({ min: 0, max: 255 }), (b, { alpha, lambda }, bits) => {
        const keep = (i: number) => i === 0 || ((bits >> (i % 8)) & 1) === 1
        const spec = { rule: 'lade', classCounts: b.counts, alpha, remineLambda: lambda } as const
        const { logits, labels } = tensors(b)
        const mask = referenceOps.constant(
          Array.from({ length: b.n }, (_, i) => (keep(i) ? 1 : 0)),
          [b.n],
        )
        const loss = createLoss(referenceOps, spec)
        expect(close(loss(logits, labels, { mask }).data[0]!, hostLade(b, alpha, lambda, keep), 1e-9)).toBe(true)
        const kept = [...Array(b.n).keys()].filter(keep)
        const sub = referenceOps.constant(
          kept.flatMap((i) => b.logits.slice(i * b.c, (i + 1) * b.c)),
          [kept.length, b.c],
        )
        const subLabels = referenceOps.constant(
          kept.map((i) => b.labels[i]!),
          [kept.length],
          'int32',
        )
        const whole = loss.gradient(logits, labels, { mask }).data
        const dropped = loss.gradient(sub, subLabels).data
        for (let i = 0; i < b.n; i++) {
          const row = whole.subarray(i * b.c, (i + 1) * b.c)
          const r = kept.indexOf(i)
          for (let j = 0; j < b.c; j++) {
            if (r < 0) expect(row[j]).toBe(0)
            else expect(Math.abs(row[j]! - dropped[r * b.c + j]!)).toBeLessThan(1e-12)
          }
        }
      }),
      RUNS,
    )
  })

  it("spreads the term over the counted rows: 'none' averages to the mean, 'sum' is M times it; sample weights weight each row's part", () => {
    fc.assert(
      fc.property(small, params, (b, { alpha, lambda }) => {
        const spec = { rule: 'lade', classCounts: b.counts, alpha, remineLambda: lambda } as const
        const { logits, labels } = tensors(b)
        const mean = createLoss(referenceOps, spec)(logits, labels).data[0]!
        const none = createLoss(referenceOps, spec, { reduction: 'none' })(logits, labels).data
        const sum = createLoss(referenceOps, spec, { reduction: 'sum' })(logits, labels).data[0]!
        expect(close(none.reduce((a, v) => a + v, 0) / b.n, mean, 1e-12)).toBe(true)
        expect(close(sum, b.n * mean, 1e-12)).toBe(true)
        // Each row carries α·L_LADE once in 'none', beside its own cross-entropy.
        const ce = createLoss(referenceOps, { ...spec, alpha: 0 }, { reduction: 'none' })(logits, labels).data
        const term = hostLade(b, alpha, lambda) - hostLade(b, 0, lambda)
        for (let i = 0; i < b.n; i++) expect(close(none[i]!, ce[i]! + term, 1e-9)).toBe(true)
        // Weights w_i: the mean is Σ w_i·(ℓ_i + T) / N, what a trainer weighting 'none' itself computes.
        const w = Array.from({ length: b.n }, (_, i) => 0.5 + (i % 3))
        const weighted = createLoss(referenceOps, spec)(logits, labels, { sampleWeight: referenceOps.constant(w, [b.n]) }).data[0]!
        expect(close(weighted, none.reduce((a, v, i) => a + w[i]! * v, 0) / b.n, 1e-12)).toBe(true)
      }),
      RUNS,
    )
  })

  it('an empty batch (every row masked out) has loss 0 and gradient 0', () => {
    fc.assert(
      fc.property(small, params, (b, { alpha, lambda }) => {
        const loss = createLoss(referenceOps, { rule: 'lade', classCounts: b.counts, alpha, remineLambda: lambda })
        const { logits, labels } = tensors(b)
        const mask = referenceOps.constant(new Array(b.n).fill(0), [b.n])
        expect(loss(logits, labels, { mask }).data[0]).toBe(0)
        for (const v of loss.gradient(logits, labels, { mask }).data) expect(v).toBe(0)
      }),
      RUNS,
    )
  })

  it('refuses batchSum without batchMax (MISSING_CONTEXT) and soft targets (SOFT_TARGETS)', () => {
    const b = fc.sample(small, { numRuns: 1, seed: 3 })[0]!
    const { logits, labels } = tensors(b)
    const loss = createLoss(referenceOps, { rule: 'lade', classCounts: b.counts })
    expect(() => loss(logits, labels, { batchSum: (x) => x })).toThrow(
      expect.objectContaining({ code: 'MISSING_CONTEXT', field: 'batchMax' }),
    )
    expect(loss(logits, labels, { batchSum: (x) => x, batchMax: (x) => x }).data[0]).toBeCloseTo(loss(logits, labels).data[0]!, 12)
    const soft = referenceOps.constant(new Array(b.n * b.c).fill(1 / b.c), [b.n, b.c])
    expect(() => loss(logits, soft)).toThrow(expect.objectContaining({ code: 'SOFT_TARGETS' }))
  })

  it('on every backend: the loss, the closed-form gradient and (tfjs) autodiff agree with the reference, finite at 1e4', async () => {
    const backends = await workspaceBackends()
    const samples = fc.sample(batchArbitrary({ maxN: 16, maxC: 8, scales: [1, 30, 1e4] }), { numRuns: 6, seed: 5 })
    let checked = 0
    for (const backend of backends) {
      for (const b of samples) {
        // float32-representable logits, so every backend sees the same batch.
        const u32 = Array.from(Float32Array.from(b.logits))
        const spec = { rule: 'lade', classCounts: b.counts, alpha: 0.3, remineLambda: 0.2 } as const
        const ref = createLoss(referenceOps, spec)
        const ru = referenceOps.constant(u32, [b.n, b.c])
        const ry = referenceOps.constant(b.labels, [b.n], 'int32')
        const wantLoss = ref(ru, ry).data[0]!
        const wantGrad = ref.gradient(ru, ry).data
        await (backend.scope ?? ((fn) => fn()))(async () => {
          const o = backend.ops
          const u = o.constant(u32, [b.n, b.c])
          const y = o.constant(b.labels, [b.n], 'int32')
          const loss = createLoss(o, spec)
          // float32 rounds a logit of 1e4 by 5e-4: the tolerance scales with the logits (docs/reliability.md).
          const tol = backend.rtol * 10 * Math.max(1, b.scale)
          const got = (await backend.read(loss(u, y)))[0]!
          expect(Number.isFinite(got)).toBe(true)
          expect(relativeError([got], [wantLoss], 1)).toBeLessThan(tol)
          const grad = await backend.read(loss.gradient(u, y))
          expect(Array.from(grad).every(Number.isFinite)).toBe(true)
          expect(relativeError(grad, wantGrad, 1e-3)).toBeLessThan(tol)
          if (backend.grad !== undefined) {
            const auto = await backend.read(backend.grad((t) => loss(t, y), u))
            expect(relativeError(auto, wantGrad, 1e-3), `${backend.name} autodiff`).toBeLessThan(tol)
          }
          checked++
        })
      }
    }
    expect(checked).toBe(backends.length * samples.length)
    expect(backends.map((k) => k.name)).toEqual(expect.arrayContaining(['reference', 'tfjs-cpu', 'tfjs-wasm', 'onnx-wasm']))
  })
})
