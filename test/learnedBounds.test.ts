/**
 * Learned bounds (docs/spec.md#6-learned-bounds), the last-layer closed form: the hypergradient equals a central
 * finite difference of the meta loss after the virtual step, on random problems, and every backend
 * computes what the reference computes.
 */
import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { type RefTensor, learnedBoundsStep, mulberry32, referenceOps, updateLearnedBounds } from '@logit-perturb/core'
import { workspaceBackends } from '@logit-perturb/conformance/backends'
import { centralDifference, relativeError } from '@logit-perturb/conformance'

interface Problem {
  b: number
  m: number
  d: number
  c: number
  train: number[]
  trainLabels: number[]
  meta: number[]
  metaLabels: number[]
  w: number[]
  bias?: number[]
  theta: number[]
  eta: number
}

function problem(seed: number, withBias: boolean): Problem {
  const rand = mulberry32(seed)
  const [b, m, d, c] = [6 + Math.floor(10 * rand()), 4 + Math.floor(8 * rand()), 2 + Math.floor(5 * rand()), 2 + Math.floor(5 * rand())]
  const gauss = () => 2 * rand() - 1
  return {
    b,
    m,
    d,
    c,
    train: Array.from({ length: b * d }, gauss),
    trainLabels: Array.from({ length: b }, (_, i) => (i < c ? i : Math.floor(c * rand()))),
    meta: Array.from({ length: m * d }, gauss),
    metaLabels: Array.from({ length: m }, (_, i) => i % c),
    w: Array.from({ length: c * d }, gauss),
    ...(withBias ? { bias: Array.from({ length: c }, gauss) } : {}),
    theta: Array.from({ length: c }, () => 2 * gauss()),
    eta: 0.5 + rand(),
  }
}

function on<T>(ops: import('@logit-perturb/core/backend').TensorOps<T>, p: Problem, theta = p.theta) {
  return learnedBoundsStep(ops, {
    trainFeatures: ops.constant(p.train, [p.b, p.d]),
    trainLabels: ops.constant(p.trainLabels, [p.b], 'int32'),
    metaFeatures: ops.constant(p.meta, [p.m, p.d]),
    metaLabels: ops.constant(p.metaLabels, [p.m], 'int32'),
    weights: ops.constant(p.w, [p.c, p.d]),
    ...(p.bias ? { bias: ops.constant(p.bias, [p.c]) } : {}),
    theta: ops.constant(theta, [p.c]),
    eta: p.eta,
    numClasses: p.c,
  })
}

describe('learned bounds, last-layer closed form', () => {
  it('the hypergradient equals a central difference of the meta loss after the virtual step', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 31 - 1 }), fc.boolean(), (seed, withBias) => {
        const p = problem(seed, withBias)
        const closed = (on(referenceOps, p).hypergradient as RefTensor).data
        const metaLoss = (theta: Float64Array) => (on(referenceOps, p, Array.from(theta)).metaLoss as RefTensor).data[0]!
        centralDifference(metaLoss, p.theta, 1e-6).forEach((fd, k) => {
          expect(Math.abs(fd - closed[k]!)).toBeLessThanOrEqual(1e-6 * Math.max(1e-3, Math.abs(fd)) + 1e-9)
        })
      }),
      { numRuns: 40 },
    )
  })

  it('a descent step on θ lowers the meta loss, and θ stays within ±ε_max', () => {
    const p = problem(7, true)
    const first = on(referenceOps, p)
    const grad = (first.hypergradient as RefTensor).data
    const theta = updateLearnedBounds(p.theta, grad, 1e-2, 10)
    expect((on(referenceOps, p, theta).metaLoss as RefTensor).data[0]!).toBeLessThan((first.metaLoss as RefTensor).data[0]!)
    expect(updateLearnedBounds([0.5, -0.5], [-100, 100], 1, 0.8)).toEqual([0.8, -0.8])
  })

  it('every backend computes the reference hypergradient', async () => {
    const p = problem(11, true)
    const expected = (on(referenceOps, p).hypergradient as RefTensor).data
    for (const backend of await workspaceBackends()) {
      await (backend.scope ?? ((fn: () => Promise<void>) => fn()))(async () => {
        const got = await backend.read(on(backend.ops, p).hypergradient)
        expect(relativeError(got, expected), backend.name).toBeLessThanOrEqual(backend.rtol)
      })
    }
  })
})
