/**
 * Label-aware smoothing (docs/rules/label-aware-smoothing.md) and balanced BCE
 * (docs/rules/balanced-bce.md) as properties over random batches: each loss is its formula written
 * out here on the host (MiSLAS's per-class smoothing from the counts, LiVT's shifted BCE summed over
 * the classes); equal smoothing is plain label smoothing and zero smoothing cross-entropy; equal
 * counts make balanced BCE the BCE of `u + log(1/(C − 1))`; each closed-form gradient is the float64
 * central difference of its loss; balanced BCE stays finite at logits of 1e4 on every backend;
 * masked classes add nothing; bad specs are refused naming the field.
 */
import { type RuleInput, createLoss, labelAwareSmoothingValues, referenceOps } from '@logit-perturb/core'
import { type BatchCase, batchArbitrary, centralDifference, relativeError } from '@logit-perturb/conformance'
import { workspaceBackends } from '@logit-perturb/conformance/backends'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { close, lse, rows, softplus } from '../support/host.js'
import { RUNS, expectClose, lossOf, tensors } from './helpers.js'

/** Batches of two classes or more, the smallest either rule takes. */
const batches = batchArbitrary({ minC: 2 })
/** Small batches for central differences. */
const small = batchArbitrary({ maxN: 6, maxC: 5, minC: 2, scales: [1, 3] })

const SHAPES = ['concave', 'linear', 'convex', 'exp'] as const
type Shape = (typeof SHAPES)[number]

/** Counts whose largest exceeds their smallest (one more sample in the first class when all are equal). */
const unequal = (counts: number[]): number[] =>
  Math.max(...counts) > Math.min(...counts) ? counts : counts.map((n, k) => (k === 0 ? n + 1 : n))
/** Counts above 0. */
const positive = (counts: number[]): number[] => counts.map((n) => Math.max(n, 1))

/** MiSLAS's smoothing of each class, written from the paper's description: `x` in [0, 1] mapped by the shape. */
function hostSmoothing(counts: number[], h: number, t: number, shape: Shape, power = 1): number[] {
  const [lo, hi] = [Math.min(...counts), Math.max(...counts)]
  return counts.map((n) => {
    const x = (n - lo) / (hi - lo)
    if (shape === 'concave') return t + (h - t) * Math.sin((Math.PI / 2) * x)
    if (shape === 'linear') return t + (h - t) * x
    // sin(3π/2 + πx/2) = −cos(πx/2).
    if (shape === 'convex') return h - (h - t) * Math.cos((Math.PI / 2) * x)
    return t + (h - t) * x ** power
  })
}

/** `mean_i (1 − ε_{y_i})·(−log p_{i,y_i}) + ε_{y_i}·mean over the kept classes of (−log p_ic)`, a `−∞` logit masking its class. */
function hostLas(logits: number[][], labels: number[], eps: number[]): number {
  const terms = logits.map((u, i) => {
    const y = labels[i]!
    const kept = u.filter((v) => v !== Number.NEGATIVE_INFINITY)
    const z = lse(kept)
    const uniform = kept.reduce((a, v) => a + (z - v), 0) / kept.length
    return (1 - eps[y]!) * (z - u[y]!) + eps[y]! * uniform
  })
  return terms.reduce((a, v) => a + v, 0) / terms.length
}

/** `mean_i Σ_c BCE(u_ic + log π_c − log(1 − π_c), t_ic)`, `t_i = (1 − s)·e_{y_i} + s/C`. */
function hostBalancedBce(logits: number[][], labels: number[], counts: number[], s: number): number {
  const total = counts.reduce((a, v) => a + v, 0)
  const c = counts.length
  const terms = logits.map((u, i) =>
    u.reduce((sum, v, j) => {
      const pi = counts[j]! / total
      const x = v + Math.log(pi) - Math.log(1 - pi)
      const t = (1 - s) * (j === labels[i] ? 1 : 0) + s / c
      return sum + softplus(x) - t * x
    }, 0),
  )
  return terms.reduce((a, v) => a + v, 0) / terms.length
}

/** The refusal of a spec, as `code field`. */
function refusal(spec: unknown): string {
  try {
    createLoss(referenceOps, spec as RuleInput)
  } catch (e) {
    const err = e as { code?: string; field?: string }
    return `${err.code} ${err.field}`
  }
  return 'accepted'
}

/**
 * The reference gradient of a spec on a batch against the central difference of its loss, with step
 * `h`: its rounding error grows as `|L|·1e-16/h`, and balanced BCE's loss holds the softplus of the
 * shifted non-target logits (about `log(max n / min n)` each), so it takes a larger step.
 */
function gradientError(spec: RuleInput, b: BatchCase, h = 1e-6): number {
  const loss = createLoss(referenceOps, spec)
  const { logits, labels } = tensors(b)
  const at = (u: Float64Array) => loss(referenceOps.constant(u, [b.n, b.c]), labels).data[0]!
  return relativeError(loss.gradient(logits, labels).data, centralDifference(at, b.logits, h), 1e-12)
}

const smoothingParams = fc.record({
  smoothHead: fc.double({ min: 0, max: 1, noNaN: true }),
  smoothTail: fc.double({ min: 0, max: 1, noNaN: true }),
  shape: fc.constantFrom(...SHAPES),
  power: fc.double({ min: 0.1, max: 4, noNaN: true }),
})
type SmoothingParams = { smoothHead: number; smoothTail: number; shape: Shape; power: number }
const lasSpec = (counts: number[], p: SmoothingParams, extra: object = {}): RuleInput =>
  ({
    rule: 'label-aware-smoothing',
    classCounts: unequal(counts),
    smoothHead: p.smoothHead,
    smoothTail: p.smoothTail,
    shape: p.shape,
    ...(p.shape === 'exp' ? { power: p.power } : {}),
    ...extra,
  }) as RuleInput

describe('label-aware-smoothing', () => {
  it("is MiSLAS's loss: (1 − ε_y)·CE + ε_y·mean_c(−log p_c), ε from the counts by the shape", () => {
    fc.assert(
      fc.property(batches, smoothingParams, (b, p) => {
        const eps = hostSmoothing(unequal(b.counts), p.smoothHead, p.smoothTail, p.shape, p.power)
        const expected = hostLas(rows(b.logits, b.c), b.labels, eps)
        expect(close(lossOf(lasSpec(b.counts, p), b), expected, 1e-8)).toBe(true)
      }),
      RUNS,
    )
  })

  it('gives each class a smoothing between smoothTail and smoothHead: smoothTail at the rarest, smoothHead at the most frequent', () => {
    fc.assert(
      fc.property(batches, smoothingParams, (b, p) => {
        const counts = unequal(b.counts)
        const loss = createLoss(referenceOps, lasSpec(b.counts, p))
        // The term's smoothing, read back: the loss of a row of equal logits is log C, whatever ε; a
        // row with its label's logit raised by g has ℓ = (1 − ε)·(lse − g) + ε·(lse − g/C), linear in ε.
        const c = b.c
        const g = 1
        const logits = referenceOps.constant(
          Array.from({ length: c * c }, (_, k) => (Math.floor(k / c) === k % c ? g : 0)),
          [c, c],
        )
        const labels = referenceOps.constant(
          Array.from({ length: c }, (_, k) => k),
          [c],
          'int32',
        )
        const perRow = createLoss(referenceOps, lasSpec(b.counts, p), { reduction: 'none' })(logits, labels).data
        const z = Math.log(c - 1 + Math.E)
        const eps = Array.from(perRow, (l) => (l - (z - g)) / (g - g / c))
        const [lo, hi] = [Math.min(p.smoothHead, p.smoothTail), Math.max(p.smoothHead, p.smoothTail)]
        for (const e of eps) {
          expect(e).toBeGreaterThanOrEqual(lo - 1e-9)
          expect(e).toBeLessThanOrEqual(hi + 1e-9)
        }
        expect(eps[counts.indexOf(Math.min(...counts))]).toBeCloseTo(p.smoothTail, 9)
        expect(eps[counts.indexOf(Math.max(...counts))]).toBeCloseTo(p.smoothHead, 9)
        expect(loss.rule.term.name).toBe('label-aware smoothing')
      }),
      RUNS,
    )
  })

  it('with smoothHead = smoothTail = ε is cross-entropy with labelSmoothing ε (loss and gradient); with ε = 0, cross-entropy', () => {
    fc.assert(
      fc.property(batches, fc.double({ min: 0, max: 1, noNaN: true }), fc.constantFrom(...SHAPES), (b, epsilon, shape) => {
        const { logits, labels } = tensors(b)
        const p = { smoothHead: epsilon, smoothTail: epsilon, shape, power: 2 }
        const las = createLoss(referenceOps, lasSpec(b.counts, p))
        const ce = createLoss(referenceOps, { rule: 'ce', numClasses: b.c, labelSmoothing: epsilon })
        expectClose(las.perSample(logits, labels).data, ce.perSample(logits, labels).data, 'losses per row')
        expectClose(las.gradient(logits, labels).data, ce.gradient(logits, labels).data, 'gradient')
        const zero = createLoss(referenceOps, lasSpec(b.counts, { ...p, smoothHead: 0, smoothTail: 0 }))
        const plain = createLoss(referenceOps, { rule: 'ce', numClasses: b.c })
        expectClose(zero.perSample(logits, labels).data, plain.perSample(logits, labels).data, 'ε = 0: losses per row')
      }),
      RUNS,
    )
  })

  it('takes labelSmoothing ε on top: ε_c becomes 1 − (1 − ε)(1 − ε_c)', () => {
    fc.assert(
      fc.property(batches, smoothingParams, fc.double({ min: 0, max: 1, noNaN: true }), (b, p, epsilon) => {
        const eps = hostSmoothing(unequal(b.counts), p.smoothHead, p.smoothTail, p.shape, p.power).map((e) => 1 - (1 - epsilon) * (1 - e))
        const expected = hostLas(rows(b.logits, b.c), b.labels, eps)
        expect(close(lossOf(lasSpec(b.counts, p, { labelSmoothing: epsilon }), b), expected, 1e-8)).toBe(true)
      }),
      RUNS,
    )
  })

  it('has the closed-form gradient of its loss: a central difference, with labelSmoothing on top too', () => {
    fc.assert(
      fc.property(small, smoothingParams, fc.constantFrom(0, 0.1), (b, p, labelSmoothing) => {
        expect(gradientError(lasSpec(b.counts, p, { labelSmoothing }), b)).toBeLessThan(1e-6)
      }),
      RUNS,
    )
  })

  it('leaves out masked classes (−∞ logits): they add 0, their gradient is 0, the smoothing spreads over the kept classes', () => {
    fc.assert(
      fc.property(batchArbitrary({ maxN: 12, minC: 3, maxC: 8, scales: [1, 10] }), smoothingParams, fc.nat(), (b, p, seed) => {
        // Mask one class that is not the row's label in each row.
        const masked = b.logits.map((u, k) => {
          const [i, j] = [Math.floor(k / b.c), k % b.c]
          const drop = (b.labels[i]! + 1 + ((seed + i) % (b.c - 1))) % b.c
          return j === drop ? Number.NEGATIVE_INFINITY : u
        })
        const mb = { ...b, logits: masked }
        const spec = lasSpec(b.counts, p, { labelSmoothing: 0.1 })
        const eps = hostSmoothing(unequal(b.counts), p.smoothHead, p.smoothTail, p.shape, p.power).map((e) => 1 - 0.9 * (1 - e))
        expect(close(lossOf(spec, mb), hostLas(rows(masked, b.c), b.labels, eps), 1e-8)).toBe(true)
        const { logits, labels } = tensors(mb)
        const gradient = createLoss(referenceOps, spec).gradient(logits, labels).data
        masked.forEach((u, k) => {
          expect(Number.isFinite(gradient[k]!)).toBe(true)
          if (u === Number.NEGATIVE_INFINITY) expect(gradient[k]).toBe(0)
        })
      }),
      RUNS,
    )
  })

  it('refuses equal counts (naming classCounts), power without the exp shape, and exp without power (naming power)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 6 }), fc.integer({ min: 0, max: 1000 }), (c, n) => {
        expect(refusal({ rule: 'label-aware-smoothing', classCounts: Array(c).fill(n) })).toBe('CLASS_COUNTS_VALUE classCounts')
      }),
      RUNS,
    )
    expect(refusal({ rule: 'label-aware-smoothing', classCounts: [5, 1], shape: 'linear', power: 2 })).toBe('INVALID_SPEC power')
    expect(refusal({ rule: 'label-aware-smoothing', classCounts: [5, 1], shape: 'exp' })).toBe('INVALID_SPEC power')
    expect(refusal({ rule: 'label-aware-smoothing', classCounts: [5, 1], smoothHead: 1.5 })).toBe('INVALID_PARAMETER smoothHead')
    expect(refusal({ rule: 'label-aware-smoothing', classCounts: [5, 1], shape: 'cubic' })).toMatch(/ shape$/)
    expect(refusal({ rule: 'label-aware-smoothing', classCounts: [5, 1], shape: 'exp', power: 0 })).toBe('INVALID_PARAMETER power')
    // The host function checks its arguments as the spec does.
    const thrown = (fn: () => unknown) => {
      try {
        fn()
      } catch (e) {
        return `${(e as { code?: string }).code} ${(e as { field?: string }).field}`
      }
      return 'returned'
    }
    expect(thrown(() => labelAwareSmoothingValues([5, 1], 0.4, 0.1, 'cubic' as never))).toBe('INVALID_PARAMETER shape')
    expect(thrown(() => labelAwareSmoothingValues([5, 1], 0.4, 0.1, 'exp'))).toBe('INVALID_PARAMETER power')
    expect(thrown(() => labelAwareSmoothingValues([5, 1], Number.NaN, 0.1))).toBe('INVALID_PARAMETER smoothHead')
    expect(thrown(() => labelAwareSmoothingValues([3, 3], 0.4, 0.1))).toBe('CLASS_COUNTS_VALUE classCounts')
  })
})

describe('balanced-bce', () => {
  it("is LiVT's Bal-BCE: per row the sum over classes of BCE(u + log π − log(1 − π), (1 − s)·e_y + s/C), mean over rows", () => {
    fc.assert(
      fc.property(batches, fc.constantFrom(0, 0.1, 0.5), (b, s) => {
        const counts = positive(b.counts)
        const expected = hostBalancedBce(rows(b.logits, b.c), b.labels, counts, s)
        const spec = { rule: 'balanced-bce', classCounts: counts, labelSmoothing: s } as const
        expect(close(lossOf(spec, b), expected, 1e-8)).toBe(true)
      }),
      RUNS,
    )
  })

  it('with equal counts is C times the mean BCE of u + log(1/(C − 1)) against the one-hot labels (the bce rule)', () => {
    fc.assert(
      fc.property(batches, fc.integer({ min: 1, max: 10_000 }), (b, n) => {
        const shifted = b.logits.map((u) => u + Math.log(1 / (b.c - 1)))
        const oneHot = b.labels.flatMap((y) => Array.from({ length: b.c }, (_, j) => (j === y ? 1 : 0)))
        const bce = createLoss(referenceOps, { rule: 'bce', numClasses: b.c })(
          referenceOps.constant(shifted, [b.n, b.c]),
          referenceOps.constant(oneHot, [b.n, b.c]),
        ).data[0]!
        const spec = { rule: 'balanced-bce', classCounts: Array(b.c).fill(n) } as const
        expect(close(lossOf(spec, b), b.c * bce, 1e-9)).toBe(true)
      }),
      RUNS,
    )
  })

  it('has the closed-form gradient of its loss: a central difference, with label smoothing too', () => {
    fc.assert(
      fc.property(small, fc.constantFrom(0, 0.1), (b, labelSmoothing) => {
        expect(gradientError({ rule: 'balanced-bce', classCounts: positive(b.counts), labelSmoothing }, b, 1e-4)).toBeLessThan(1e-6)
      }),
      RUNS,
    )
  })

  it('is finite for logits of magnitude 1e4 on every backend, loss and gradient, and agrees with the host formula', async () => {
    const backends = await workspaceBackends()
    const samples = fc.sample(batchArbitrary({ maxN: 16, maxC: 12, minC: 2, scales: [1e4] }), { numRuns: 6, seed: 28 })
    for (const backend of backends) {
      const run = backend.scope ?? ((fn) => fn())
      for (const b of samples) {
        await run(async () => {
          const o = backend.ops
          const counts = positive(b.counts)
          const loss = createLoss(o, { rule: 'balanced-bce', classCounts: counts, labelSmoothing: 0.1 })
          const logits = o.constant(b.logits, [b.n, b.c])
          const labels = o.constant(b.labels, [b.n], 'int32')
          const value = (await backend.read(loss(logits, labels)))[0]!
          const gradient = await backend.read(loss.gradient(logits, labels))
          expect(Number.isFinite(value), `${backend.name}: loss ${value}`).toBe(true)
          expect(Array.from(gradient).every(Number.isFinite), `${backend.name}: gradient`).toBe(true)
          const expected = hostBalancedBce(rows(b.logits, b.c), b.labels, counts, 0.1)
          expect(close(value, expected, backend.rtol * 10), `${backend.name}: ${value} against ${expected}`).toBe(true)
        })
      }
    }
  })

  it('refuses a zero count (naming it) and a single class (naming classCounts)', () => {
    fc.assert(
      fc.property(batches, fc.nat(), (b, at) => {
        const counts = positive(b.counts)
        const k = at % b.c
        counts[k] = 0
        expect(refusal({ rule: 'balanced-bce', classCounts: counts })).toBe(`CLASS_COUNTS_VALUE classCounts[${k}]`)
      }),
      RUNS,
    )
    expect(refusal({ rule: 'balanced-bce', classCounts: [7] })).toBe('CLASS_COUNTS_LENGTH classCounts')
  })
})

describe('soft targets', () => {
  const mixes = batchArbitrary({ maxN: 16, maxC: 6, minC: 2, scales: [1, 10] }).chain((b) =>
    fc.record({
      b: fc.constant(b),
      other: fc.array(fc.nat({ max: b.c - 1 }), { minLength: b.n, maxLength: b.n }),
      lambda: fc.integer({ min: 55, max: 95 }).map((k) => k / 100),
    }),
  )
  const specs = (b: BatchCase): RuleInput[] => [
    lasSpec(b.counts, { smoothHead: 0.4, smoothTail: 0.1, shape: 'concave', power: 1 }, { labelSmoothing: 0.05 }),
    { rule: 'balanced-bce', classCounts: positive(b.counts), labelSmoothing: 0.1 },
  ]

  it('a mixed target λ·e_a + (1 − λ)·e_b gives λ·ℓ_a + (1 − λ)·ℓ_b per row, and the same mix of gradients (LAS: the top-two split; balanced BCE: linear)', () => {
    fc.assert(
      fc.property(mixes, ({ b, other, lambda }) => {
        for (const spec of specs(b)) {
          const loss = createLoss(referenceOps, spec, { reduction: 'none' })
          const logits = referenceOps.constant(b.logits, [b.n, b.c])
          const mixed = referenceOps.constant(
            b.labels.flatMap((y, i) => Array.from({ length: b.c }, (_, j) => (j === y ? lambda : 0) + (j === other[i] ? 1 - lambda : 0))),
            [b.n, b.c],
          )
          const ya = referenceOps.constant(b.labels, [b.n], 'int32')
          const yb = referenceOps.constant(other, [b.n], 'int32')
          const [a, bb] = [loss(logits, ya).data, loss(logits, yb).data]
          const expected = Array.from(a, (la, i) => (other[i] === b.labels[i] ? la : lambda * la + (1 - lambda) * bb[i]!))
          expectClose(loss(logits, mixed).data, expected, `${spec.rule}: losses per row`)
          const [ga, gb] = [loss.gradient(logits, ya).data, loss.gradient(logits, yb).data]
          const mixedGradient = Array.from(ga, (g, k) => {
            const i = Math.floor(k / b.c)
            return other[i] === b.labels[i] ? g : lambda * g + (1 - lambda) * gb[k]!
          })
          expectClose(loss.gradient(logits, mixed).data, mixedGradient, `${spec.rule}: gradient`)
        }
      }),
      RUNS,
    )
  })
})
