/**
 * docs/spec.md#10-dense-inputs and #11-soft-targets, for every single-label rule of the registry:
 * a dense batch with ignored positions is its flattened batch with those rows masked out (loss,
 * per-position losses, gradient, next state), an ignored position has a gradient of exactly 0, a
 * one-hot soft target is its hard label, and the mixup identity holds for every rule whose
 * perturbation reads no label, on every backend.
 */
import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { type RefTensor, type RuleInput, createLoss, referenceOps } from '@logit-perturb/core'
import { type BatchCase, batchArbitrary, singleLabelVariants } from '@logit-perturb/conformance'
import { workspaceBackends } from '@logit-perturb/conformance/backends'
import { RUNS, expectClose } from './helpers.js'

const ops = referenceOps
const IGNORE = 255

/** A rows batch seen as `[N, C, d]` images (`d` positions each), with some positions ignored. */
interface DenseCase {
  b: BatchCase
  images: number
  /** The trailing sizes of one image, `d = Π dims`. */
  dims: number[]
  /** 1 where the position is ignored. */
  ignored: number[]
  /** One sample weight per image. */
  weights: number[]
}

const denseCases: fc.Arbitrary<DenseCase> = batchArbitrary({ maxN: 24, maxC: 6, minC: 2, scales: [1, 10] })
  .filter((b) => b.n >= 2)
  .chain((b) => {
    const divisors = Array.from({ length: b.n }, (_, k) => k + 1).filter((d) => b.n % d === 0)
    return fc.record({
      b: fc.constant(b),
      d: fc.constantFrom(...divisors),
      twoAxes: fc.boolean(),
      ignored: fc.array(fc.constantFrom(0, 0, 1), { minLength: b.n, maxLength: b.n }).filter((m) => m.includes(0)),
      weights: fc.array(
        fc.integer({ min: 1, max: 30 }).map((k) => k / 10),
        { minLength: b.n, maxLength: b.n },
      ),
    })
  })
  .map(({ b, d, twoAxes, ignored, weights }) => ({
    b,
    images: b.n / d,
    dims: twoAxes && d % 2 === 0 ? [2, d / 2] : [d],
    ignored,
    weights: weights.slice(0, b.n / d),
  }))

/** The rows' logits `[M, C]` laid out as `[N, C, d…]` (class axis 1) or `[N, d…, C]` (class axis −1). */
function denseLogits(x: DenseCase, classAxis: 1 | -1): RefTensor {
  const { b, images, dims } = x
  const d = b.n / images
  const out = new Array<number>(b.n * b.c)
  for (let img = 0; img < images; img++) {
    for (let p = 0; p < d; p++) {
      for (let c = 0; c < b.c; c++) {
        const at = classAxis === 1 ? (img * b.c + c) * d + p : (img * d + p) * b.c + c
        out[at] = b.logits[(img * d + p) * b.c + c]!
      }
    }
  }
  return ops.constant(out, classAxis === 1 ? [images, b.c, ...dims] : [images, ...dims, b.c])
}

/** `[N, C, d…]` back to rows `[M, C]`, to compare a dense gradient with the rows' one. */
function rowsOfChannelsFirst(values: ArrayLike<number>, x: DenseCase): number[] {
  const d = x.b.n / x.images
  const out = new Array<number>(x.b.n * x.b.c)
  for (let img = 0; img < x.images; img++) {
    for (let c = 0; c < x.b.c; c++) for (let p = 0; p < d; p++) out[(img * d + p) * x.b.c + c] = values[(img * x.b.c + c) * d + p]!
  }
  return out
}

/**
 * The single-label variants of the registry for a batch's counts, but the rules with several heads:
 * they define neither dense inputs nor soft targets (docs/spec.md#313-multi-head-rules; their
 * refusals are test/properties/experts.test.ts's).
 */
const variantsOf = (b: BatchCase) => singleLabelVariants(b.counts).filter((v) => v.heads === undefined)

describe('10. dense inputs and ignored positions, for every single-label rule', () => {
  it('a dense batch is its flattened batch with the ignored rows masked out: loss, losses per position, gradient, state', () => {
    fc.assert(
      fc.property(
        denseCases.chain((x) => fc.record({ x: fc.constant(x), v: fc.constantFrom(...variantsOf(x.b)), axis: fc.constantFrom(1, -1) })),
        ({ x, v, axis }) => {
          const { b, images, dims, ignored } = x
          const classAxis = axis as 1 | -1
          const d = b.n / images
          const labels = b.labels.map((y, i) => (ignored[i] === 1 ? IGNORE : y))
          const denseLabels = ops.constant(labels, [images, ...dims], 'int32')
          const weights = ops.constant(x.weights, [images])
          const rowWeights = ops.constant(
            b.labels.map((_, i) => x.weights[Math.floor(i / d)]!),
            [b.n],
          )
          const dense = createLoss(ops, v.spec, { ignoreIndex: IGNORE, classAxis })
          const flat = createLoss(ops, v.spec)
          const rows = { logits: ops.constant(b.logits, [b.n, b.c]), labels: ops.constant(b.labels, [b.n], 'int32') }
          const mask = ops.constant(
            ignored.map((m) => 1 - m),
            [b.n],
          )
          const denseEval = dense.evaluate(denseLogits(x, classAxis), denseLabels, { sampleWeight: weights })
          const flatEval = flat.evaluate(rows.logits, rows.labels, { mask, sampleWeight: rowWeights })
          expectClose(denseEval.loss.data, flatEval.loss.data, `${v.name}: loss`)
          for (const field of Object.keys(flatEval.nextState ?? {})) {
            expectClose(denseEval.nextState![field]!.data, flatEval.nextState![field]!.data, `${v.name}: state.${field}`)
          }
          const perPosition = createLoss(ops, v.spec, { ignoreIndex: IGNORE, classAxis, reduction: 'none' })
          const losses = perPosition(denseLogits(x, classAxis), denseLabels)
          expect(losses.shape).toEqual([images, ...dims])
          const flatLosses = createLoss(ops, v.spec, { reduction: 'none' })(rows.logits, rows.labels, { mask })
          expectClose(losses.data, flatLosses.data, `${v.name}: losses per position`)
          if (dense.hasClosedFormGradient) {
            const gradient = dense.gradient(denseLogits(x, classAxis), denseLabels, { sampleWeight: weights })
            const flatGradient = flat.gradient(rows.logits, rows.labels, { mask, sampleWeight: rowWeights })
            const asRows = classAxis === 1 ? rowsOfChannelsFirst(gradient.data, x) : Array.from(gradient.data)
            expectClose(asRows, flatGradient.data, `${v.name}: gradient`)
            // An ignored position's gradient is exactly zero in every channel, not merely small.
            ignored.forEach((m, i) => {
              if (m === 1)
                for (let c = 0; c < b.c; c++) expect(Math.abs(asRows[i * b.c + c]!), `${v.name}: gradient at ignored row ${i}`).toBe(0)
            })
          }
        },
      ),
      RUNS,
    )
  })

  it('the logits at an ignored position change nothing: loss and state (rules whose gradient goes through their search too)', () => {
    fc.assert(
      fc.property(
        denseCases.chain((x) => fc.record({ x: fc.constant(x), v: fc.constantFrom(...variantsOf(x.b)) })),
        ({ x, v }) => {
          const { b, images, dims, ignored } = x
          const labels = ops.constant(
            b.labels.map((y, i) => (ignored[i] === 1 ? IGNORE : y)),
            [images, ...dims],
            'int32',
          )
          // The ignored rows' logits replaced by others of any size.
          const moved = { ...x, b: { ...b, logits: b.logits.map((u, k) => (ignored[Math.floor(k / b.c)] === 1 ? 50 - 7 * u : u)) } }
          const once = createLoss(ops, v.spec, { ignoreIndex: IGNORE }).evaluate(denseLogits(x, 1), labels)
          const again = createLoss(ops, v.spec, { ignoreIndex: IGNORE }).evaluate(denseLogits(moved, 1), labels)
          expectClose(again.loss.data, once.loss.data, `${v.name}: loss`)
          for (const field of Object.keys(once.nextState ?? {})) {
            expectClose(again.nextState![field]!.data, once.nextState![field]!.data, `${v.name}: state.${field}`)
          }
        },
      ),
      RUNS,
    )
  })
})

describe('10. the autodiff gradient at ignored positions', () => {
  it('is exactly zero for every rule whose gradient goes through its search (tfjs autodiff)', async () => {
    const backend = (await workspaceBackends()).find((k) => k.name === 'tfjs-cpu' && k.grad !== undefined)
    expect(backend, 'a tfjs-cpu backend with autodiff').toBeDefined()
    const samples = fc.sample(denseCases, { numRuns: 8, seed: 26 })
    let checked = 0
    for (const x of samples) {
      for (const v of variantsOf(x.b).filter((k) => k.through)) {
        await (backend!.scope ?? ((fn) => fn()))(async () => {
          const o = backend!.ops
          const { b, images, dims, ignored } = x
          const labels = o.constant(
            b.labels.map((y, i) => (ignored[i] === 1 ? IGNORE : y)),
            [images, ...dims],
            'int32',
          )
          const loss = createLoss(o, v.spec, { ignoreIndex: IGNORE, classAxis: -1 })
          const logits = o.constant(denseLogits(x, -1).data, [images, ...dims, b.c])
          const gradient = await backend!.read(backend!.grad!((u) => loss(u, labels), logits))
          ignored.forEach((m, i) => {
            if (m === 1) for (let c = 0; c < b.c; c++) expect(Math.abs(gradient[i * b.c + c]!), `${v.name}: row ${i}`).toBe(0)
          })
          checked++
        })
      }
    }
    expect(checked).toBeGreaterThan(0)
  })
})

/** One-hot rows `[N, C]` of class ids. */
const oneHot = (labels: readonly number[], c: number): number[] =>
  labels.flatMap((y) => Array.from({ length: c }, (_, j) => (j === y ? 1 : 0)))

describe('11. soft targets, for every single-label rule', () => {
  const batches = batchArbitrary({ maxN: 16, maxC: 6, minC: 2, scales: [1, 10] }).filter((b) => b.n >= 1)

  it('one-hot soft targets are the hard labels (loss, losses per row, gradient); rules that do not define soft targets refuse them', () => {
    fc.assert(
      fc.property(
        batches.chain((b) => fc.record({ b: fc.constant(b), v: fc.constantFrom(...variantsOf(b)) })),
        ({ b, v }) => {
          const logits = ops.constant(b.logits, [b.n, b.c])
          const labels = ops.constant(b.labels, [b.n], 'int32')
          const targets = ops.constant(oneHot(b.labels, b.c), [b.n, b.c])
          const soft = createLoss(ops, v.spec)
          if (soft.rule.softTargets === undefined) {
            expect(() => soft(logits, targets)).toThrow(expect.objectContaining({ code: 'SOFT_TARGETS' }))
            return
          }
          const hard = createLoss(ops, v.spec)
          expectClose(soft(logits, targets).data, hard(logits, labels).data, `${v.name}: loss`)
          expectClose(soft.perSample(logits, targets).data, hard.perSample(logits, labels).data, `${v.name}: losses per row`)
          if (soft.hasClosedFormGradient) {
            expectClose(soft.gradient(logits, targets).data, hard.gradient(logits, labels).data, `${v.name}: gradient`)
          }
        },
      ),
      RUNS,
    )
  })

  it('LDAM on a mixed target is λ·(its loss on a) + (1 − λ)·(its loss on b), per row', () => {
    fc.assert(
      fc.property(
        batches.chain((b) =>
          fc.record({
            b: fc.constant(b),
            other: fc.array(fc.nat({ max: b.c - 1 }), { minLength: b.n, maxLength: b.n }),
            lambda: fc.integer({ min: 55, max: 95 }).map((k) => k / 100),
          }),
        ),
        ({ b, other, lambda }) => {
          const spec = { rule: 'ldam', classCounts: b.counts.map((n) => n + 1), maxMargin: 0.5, scale: 30 } as const
          const logits = ops.constant(b.logits, [b.n, b.c])
          const mixed = b.labels.flatMap((y, i) =>
            Array.from({ length: b.c }, (_, j) => (j === y ? lambda : 0) + (j === other[i] ? 1 - lambda : 0)),
          )
          const loss = createLoss(ops, spec, { reduction: 'none' })
          const a = loss(logits, ops.constant(b.labels, [b.n], 'int32')).data
          const bb = loss(logits, ops.constant(other, [b.n], 'int32')).data
          const expected = Array.from(a, (la, i) => (other[i] === b.labels[i] ? la : lambda * la + (1 - lambda) * bb[i]!))
          expectClose(loss(logits, ops.constant(mixed, [b.n, b.c])).data, expected, 'ldam mixup')
        },
      ),
      RUNS,
    )
  })

  it('the mixup identity on every backend: the loss of λ·e_a + (1 − λ)·e_b is λ·ℓ_a + (1 − λ)·ℓ_b, for every rule that reads no label', async () => {
    const backends = await workspaceBackends()
    const samples = fc.sample(
      batches.chain((b) =>
        fc.record({
          b: fc.constant(b),
          other: fc.array(fc.nat({ max: b.c - 1 }), { minLength: b.n, maxLength: b.n }),
          // Mixing weights away from 0 and 1, where a wrong form would show.
          lambda: fc.array(
            fc.integer({ min: 1, max: 99 }).map((k) => k / 100),
            { minLength: b.n, maxLength: b.n },
          ),
          smoothing: fc.constantFrom(0, 0.1),
        }),
      ),
      { numRuns: 6, seed: 26 },
    )
    let checked = 0
    for (const backend of backends) {
      const run = backend.scope ?? ((fn) => fn())
      for (const { b, other, lambda, smoothing } of samples) {
        for (const v of variantsOf(b)) {
          const spec = { ...(v.spec as object), ...(smoothing > 0 ? { labelSmoothing: smoothing } : {}) } as RuleInput
          const probe = createLoss(ops, spec)
          // Class weights (the spec's or the rule's own, generalized re-weighting's) make a row's
          // weight depend on its target, so the loss is not linear in it.
          const weighted = probe.evaluate(ops.constant(b.logits, [b.n, b.c]), ops.constant(b.labels, [b.n], 'int32')).batch.classWeights
          if (probe.rule.softTargets !== 'linear' || probe.spec.weighting !== undefined || weighted !== undefined) continue
          await run(async () => {
            const o = backend.ops
            const loss = createLoss(o, spec, { reduction: 'none' })
            const logits = o.constant(b.logits, [b.n, b.c])
            const a = await backend.read(loss(logits, o.constant(b.labels, [b.n], 'int32')))
            const bb = await backend.read(loss(logits, o.constant(other, [b.n], 'int32')))
            const mixed = b.labels.flatMap((y, i) =>
              Array.from({ length: b.c }, (_, j) => (j === y ? lambda[i]! : 0) + (j === other[i] ? 1 - lambda[i]! : 0)),
            )
            const actual = await backend.read(loss(logits, o.constant(mixed, [b.n, b.c])))
            const mix = (x: ArrayLike<number>, y: ArrayLike<number>, width: number) =>
              Array.from(x, (xa, k) => lambda[Math.floor(k / width)]! * xa + (1 - lambda[Math.floor(k / width)]!) * y[k]!)
            const near = (got: ArrayLike<number>, want: number[], what: string) =>
              want.forEach((w, k) => {
                expect(Math.abs(got[k]! - w) / Math.max(1, Math.abs(w)), `${backend.name} ${v.name} ${what} ${k}`).toBeLessThan(
                  backend.rtol * 10,
                )
              })
            near(actual, mix(a, bb, 1), 'loss of row')
            // The gradient is linear in the target too (the soft residual p·Σt − t).
            const ga = await backend.read(loss.gradient(logits, o.constant(b.labels, [b.n], 'int32')))
            const gb = await backend.read(loss.gradient(logits, o.constant(other, [b.n], 'int32')))
            near(await backend.read(loss.gradient(logits, o.constant(mixed, [b.n, b.c]))), mix(ga, gb, b.c), 'gradient entry')
          })
          checked++
        }
      }
    }
    expect(checked).toBeGreaterThan(backends.length * samples.length)
  })
})
