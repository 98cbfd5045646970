/**
 * GCL's identities as properties (docs/rules/gaussian-clouded-logit.md, docs/spec.md#314-gaussian-clouded-logit):
 * its loss is the CE of `s·(u − |ε| ⊙ a − m·e_y)`, written out here on the host; with zero noise and
 * zero margin it is the CE of `s·u`; its closed-form gradient is the float64 central difference of
 * the loss at a fixed noise; the noise a training call draws lies in `[−1, 1]` with the spread of
 * `|N(0, 1/9)|`, the same seed gives the same draw (reference and tfjs), and a backend that cannot
 * draw asks for the noise.
 */
import { type LogitPerturbError, createLoss, gclCloudSizes, referenceOps } from '@logit-perturb/core'
import { workspaceBackends } from '@logit-perturb/conformance/backends'
import { batchArbitrary, centralDifference, relativeError } from '@logit-perturb/conformance'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { close, lse, rows } from '../support/host.js'
import { RUNS, tensors } from './helpers.js'

/** Counts > 0 and not all equal, from a case's long-tailed counts (C ≥ 2): an empty class counts one, and the first one more if all are equal. */
const gclCounts = (counts: readonly number[]) => {
  const out = counts.map((n) => Math.max(n, 1))
  if (out.every((n) => n === out[0])) out[0]! += 1
  return out
}

/** Noise `[N, C]` in `[−1, 1]`, flat. */
const noiseOf = (n: number, c: number, seed: number) =>
  fc.sample(fc.double({ min: -1, max: 1, noNaN: true }), { numRuns: n * c, seed }).map((v) => Math.max(-1, Math.min(1, v)))

/** `mean_i CE(s·(u_i − |ε_i| ⊙ a − m·e_{y_i}), y_i)` on the host, with `a` the cloud sizes computed here. */
function hostGcl(logits: number[][], labels: number[], noise: number[][], counts: number[], s: number, m: number, mul: number): number {
  const logs = counts.map(Math.log)
  const g = logs.map((l) => Math.max(...logs) - l)
  const a = g.map((v) => (mul * v) / Math.max(...g))
  const terms = logits.map((row, i) => {
    const z = row.map((u, j) => s * (u - Math.abs(noise[i]![j]!) * a[j]! - (j === labels[i] ? m : 0)))
    return lse(z) - z[labels[i]!]!
  })
  return terms.reduce((x, v) => x + v, 0) / terms.length
}

const params = fc.record({
  scale: fc.double({ min: 1, max: 30, noNaN: true }),
  margin: fc.double({ min: 0, max: 0.8, noNaN: true }),
  noiseMul: fc.double({ min: 0, max: 2, noNaN: true }),
  seed: fc.integer({ min: 0, max: 1e6 }),
})

describe('gaussian-clouded-logit', () => {
  it('is the CE of s·(u − |ε| ⊙ a − m·e_y) at the noise the call passes', () => {
    fc.assert(
      fc.property(batchArbitrary({ maxN: 12, minC: 2, maxC: 8, scales: [1] }), params, (b, p) => {
        const counts = gclCounts(b.counts)
        const noise = noiseOf(b.n, b.c, p.seed)
        const { logits, labels } = tensors(b)
        const spec = {
          rule: 'gaussian-clouded-logit',
          classCounts: counts,
          scale: p.scale,
          margin: p.margin,
          noiseMul: p.noiseMul,
        } as const
        const got = createLoss(referenceOps, spec)(logits, labels, { noise: referenceOps.constant(noise, [b.n, b.c]) }).data[0]!
        const want = hostGcl(rows(b.logits, b.c), b.labels, rows(noise, b.c), counts, p.scale, p.margin, p.noiseMul)
        expect(close(got, want, 1e-9), `${got} vs ${want}`).toBe(true)
      }),
      RUNS,
    )
  })

  it('with zero noise and zero margin is the CE of s·u, as is an evaluation call with zero margin', () => {
    fc.assert(
      fc.property(batchArbitrary({ maxN: 12, minC: 2, maxC: 8, scales: [1, 3] }), params, (b, p) => {
        const spec = {
          rule: 'gaussian-clouded-logit',
          classCounts: gclCounts(b.counts),
          scale: p.scale,
          margin: 0,
          noiseMul: p.noiseMul,
        } as const
        const { logits, labels } = tensors(b)
        const loss = createLoss(referenceOps, spec)
        const scaled = rows(b.logits, b.c).map((row) => row.map((u) => p.scale * u))
        const ce = scaled.reduce((x, row, i) => x + lse(row) - row[b.labels[i]!]!, 0) / b.n
        const zero = referenceOps.constant(new Float64Array(b.n * b.c), [b.n, b.c])
        expect(close(loss(logits, labels, { noise: zero }).data[0]!, ce, 1e-9)).toBe(true)
        expect(close(loss.evaluate(logits, labels, { training: false }).loss.data[0]!, ce, 1e-9)).toBe(true)
      }),
      RUNS,
    )
  })

  it('has the closed-form gradient of its loss at a fixed noise: a central difference, with label smoothing too', () => {
    fc.assert(
      fc.property(batchArbitrary({ maxN: 6, minC: 2, maxC: 5, scales: [1] }), params, fc.constantFrom(0, 0.1), (b, p, labelSmoothing) => {
        const spec = {
          rule: 'gaussian-clouded-logit',
          classCounts: gclCounts(b.counts),
          // A larger s fits the batch: the difference then loses lse(z) − z_y to rounding.
          scale: Math.min(p.scale, 3),
          margin: p.margin,
          noiseMul: p.noiseMul,
          labelSmoothing,
        } as const
        const loss = createLoss(referenceOps, spec)
        const { logits, labels } = tensors(b)
        const noise = referenceOps.constant(noiseOf(b.n, b.c, p.seed), [b.n, b.c])
        const at = (u: Float64Array) => loss(referenceOps.constant(u, [b.n, b.c]), labels, { noise }).data[0]!
        const numeric = centralDifference(at, b.logits, 1e-6)
        expect(relativeError(loss.gradient(logits, labels, { noise }).data, numeric, 1e-12)).toBeLessThan(1e-5)
      }),
      RUNS,
    )
  })

  it('draws noise in [−1, 1] with the spread of |N(0, 1/9)| on a training call, the same draw for the same seed', async () => {
    const n = 400
    const counts = [1000, 100, 10, 1]
    const c = counts.length
    const scale = 2
    const sizes = gclCloudSizes(counts, 1)
    const spec = { rule: 'gaussian-clouded-logit', classCounts: counts, scale, noiseMul: 1 } as const
    const u = Array.from({ length: n * c }, (_, k) => Math.sin(k) * 0.9)
    const y = Array.from({ length: n }, (_, i) => i % c)
    const backends = (await workspaceBackends()).filter((k) => k.name !== 'onnx-wasm')
    expect(backends.map((k) => k.name)).toEqual(expect.arrayContaining(['reference', 'tfjs-cpu', 'tfjs-wasm']))
    const seeded = new Map<string, Float64Array>()
    for (const backend of backends) {
      await (backend.scope ?? ((fn) => fn()))(async () => {
        const o = backend.ops
        const loss = createLoss(o, spec)
        const logits = o.constant(u, [n, c])
        const labels = o.constant(y, [n], 'int32')
        // Seeded (the reference's draw, made on the host) and unseeded (the backend's randomNormal).
        const perturbed = async (seed?: number) => backend.read(loss.perturb(logits, labels, seed === undefined ? {} : { seed }))
        const checkDraw = (z: Float64Array, what: string) => {
          // |ε_ij| = (s·u_ij − z_ij) / (s·a_j) on the classes with a cloud (a_j > 0): margin 0.
          const magnitudes: number[] = []
          for (let k = 0; k < n * c; k++) {
            const a = sizes[k % c]!
            if (a > 0) magnitudes.push((scale * u[k]! - z[k]!) / (scale * a))
            else expect(Math.abs(z[k]! - scale * u[k]!), `${what}: the head class has no cloud`).toBeLessThan(1e-5)
          }
          const tol = backend.rtol * 10
          for (const e of magnitudes) expect(e, `${what}: |ε| in [0, 1]`).toBeGreaterThanOrEqual(-tol)
          for (const e of magnitudes) expect(e, `${what}: |ε| in [0, 1]`).toBeLessThanOrEqual(1 + tol)
          // E|ε| = (1/3)·√(2/π) ≈ 0.266 (the clamp moves it by under 1e-3); 1200 draws: standard error 0.006.
          const mean = magnitudes.reduce((a, v) => a + v, 0) / magnitudes.length
          expect(Math.abs(mean - Math.sqrt(2 / Math.PI) / 3), `${what}: mean |ε| ${mean}`).toBeLessThan(0.03)
        }
        const z = await perturbed(3)
        checkDraw(z, `${backend.name} seeded`)
        seeded.set(backend.name, z)
        expect(Array.from(await perturbed(3)), `${backend.name}: the same seed`).toEqual(Array.from(z))
        expect(Array.from(await perturbed(4)), `${backend.name}: another seed`).not.toEqual(Array.from(z))
        const unseeded = await perturbed()
        checkDraw(unseeded, `${backend.name} unseeded`)
        expect(Array.from(await perturbed()), `${backend.name}: two unseeded draws`).not.toEqual(Array.from(unseeded))
      })
    }
    // A seeded draw is the reference's on every JS backend (float32 there).
    for (const [name, z] of seeded) expect(relativeError(z, seeded.get('reference')!), name).toBeLessThan(1e-5)
  })

  it('refuses bad counts, noise and seeds with typed errors naming the field; a backend that cannot draw asks for the noise', async () => {
    const error = (f: () => unknown) => {
      try {
        f()
      } catch (e) {
        const err = e as LogitPerturbError
        return `${err.code} ${err.field}`
      }
      return 'no error'
    }
    const spec = { rule: 'gaussian-clouded-logit', classCounts: [100, 10, 1] } as const
    expect(error(() => createLoss(referenceOps, { ...spec, classCounts: [100, 0, 1] }))).toBe('CLASS_COUNTS_VALUE classCounts[1]')
    expect(error(() => createLoss(referenceOps, { ...spec, classCounts: [5, 5, 5] }))).toBe('CLASS_COUNTS_VALUE classCounts')
    expect(error(() => createLoss(referenceOps, { ...spec, noiseMul: -1 }))).toBe('INVALID_PARAMETER noiseMul')
    const loss = createLoss(referenceOps, spec)
    const u = referenceOps.constant([0.1, 0.2, 0.3, -0.1, 0, 0.5], [2, 3])
    const y = referenceOps.constant([0, 2], [2], 'int32')
    const before = Array.from(u.data)
    expect(error(() => loss(u, y, { noise: referenceOps.constant([0, 0, 1.5, 0, 0, 0], [2, 3]) }))).toBe('MISSING_CONTEXT noise')
    expect(error(() => loss(u, y, { noise: referenceOps.constant([0, 0, Number.NaN, 0, 0, 0], [2, 3]) }))).toBe('MISSING_CONTEXT noise')
    expect(error(() => loss(u, y, { noise: referenceOps.constant([0, 0, 0], [1, 3]) }))).toBe('SHAPE_MISMATCH noise')
    expect(error(() => loss(u, y, { seed: -1 }))).toBe('INVALID_PARAMETER seed')
    expect(error(() => loss(u, y, { seed: 0.5 }))).toBe('INVALID_PARAMETER seed')
    expect(Array.from(u.data)).toEqual(before)
    const onnx = (await workspaceBackends()).find((k) => k.name === 'onnx-wasm')!
    const o = onnx.ops
    const graphLoss = createLoss(o, spec)
    const gu = o.constant([0.1, 0.2, 0.3, -0.1, 0, 0.5], [2, 3])
    const gy = o.constant([0, 2], [2], 'int32')
    expect(error(() => graphLoss(gu, gy))).toBe('MISSING_CONTEXT noise')
    // An evaluation call reads no noise, on any backend.
    expect(error(() => graphLoss.evaluate(gu, gy, { training: false }))).toBe('no error')
  })
})
