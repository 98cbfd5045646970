import { describe, expect, it } from 'vitest'
import { createLoss, dbBias, describeClasses, labelLogOdds, labelPriors, parseSpec, referenceOps } from '../src/index.js'
import type { RuleInput } from '../src/index.js'
import { centralDifference, expectRefusal, multiLabelVariants } from '@logit-perturb/conformance'

const read = (t: { data: Float64Array }) => Array.from(t.data)
const softplus = (x: number) => Math.max(x, 0) + Math.log1p(Math.exp(-Math.abs(x)))
const sigmoid = (x: number) => (x >= 0 ? 1 / (1 + Math.exp(-x)) : Math.exp(x) / (1 + Math.exp(x)))

/** A small multi-label batch: 5 samples, 4 labels; label 3 has no positives in it, label 0 no negatives. */
const U = [
  [2.0, -1.0, 0.5, -0.3],
  [0.3, 1.2, -2.0, 0.8],
  [1.5, 0.1, 3.0, -1.2],
  [0.9, -0.7, -0.4, 0.2],
  [1.1, 2.2, 0.6, -2.5],
]
const Y = [
  [1, 0, 0, 0],
  [1, 1, 0, 0],
  [1, 0, 1, 0],
  [1, 0, 0, 0],
  [1, 1, 1, 0],
]
const COUNTS = [900, 120, 15, 0]
const NUM_SAMPLES = 1000

function tensors(u: number[][] = U, y: number[][] = Y) {
  return {
    logits: referenceOps.constant(u.flat(), [u.length, u[0]!.length]),
    labels: referenceOps.constant(y.flat(), [y.length, y[0]!.length]),
  }
}

/** Host BCE, mean over entries, of logits `z` (optionally with per-entry weights). */
function hostBce(z: number[][], y: number[][] = Y): number {
  const entries = z.flatMap((row, i) => row.map((v, j) => softplus(v) - y[i]![j]! * v))
  return entries.reduce((a, b) => a + b, 0) / entries.length
}

function lossAt(spec: RuleInput, u: number[][] = U, y: number[][] = Y): number {
  const t = tensors(u, y)
  return createLoss(referenceOps, spec)(t.logits, t.labels).data[0]!
}

const la = { rule: 'logit-adjusted-bce', classCounts: COUNTS, numSamples: NUM_SAMPLES } satisfies RuleInput
const db = { rule: 'db-negative-tolerant', classCounts: COUNTS, numSamples: NUM_SAMPLES } satisfies RuleInput
const lpl = { rule: 'lpl-multilabel', classCounts: COUNTS } satisfies RuleInput
/** Every multi-label rule of the shared table, for this batch's counts. */
const ALL = multiLabelVariants(COUNTS, NUM_SAMPLES).map((variant) => variant.spec)

describe('sigmoid on the reference backend', () => {
  it('is 1/(1 + e^−x), stable at magnitude 1e4', () => {
    const x = referenceOps.constant([-1e4, -745, -30, -1, 0, 1, 30, 1e4], [8])
    const s = read(referenceOps.sigmoid(x))
    expect(s[0]).toBe(0)
    expect(s[1]).toBeGreaterThan(0) // e^−745 is the smallest subnormal, not 0
    expect(s[2]).toBeCloseTo(Math.exp(-30), 25)
    expect(s[3]).toBeCloseTo(1 / (1 + Math.E), 15)
    expect(s.slice(4)).toEqual([0.5, 1 / (1 + Math.exp(-1)), 1 / (1 + Math.exp(-30)), 1])
    expect(s.every(Number.isFinite)).toBe(true)
  })
})

describe('label priors', () => {
  it('are n_c / numSamples, with 0 and numSamples clamped to the nearest informative label', () => {
    expect(labelPriors([300, 40, 5], 1000)).toEqual([0.3, 0.04, 0.005])
    // m⁺ = 20 (smallest positive count), m⁻ = 500 (smallest positive number of negatives).
    expect(labelPriors([1000, 500, 20, 0], 1000)).toEqual([0.5, 0.5, 0.02, 0.02])
    const odds = labelLogOdds([300, 0], 1000)
    expect(odds[0]).toBeCloseTo(Math.log(0.3 / 0.7), 14)
    expect(odds[1]).toBe(odds[0])
    expect(dbBias([300, 40], 1000, 0.1)[1]).toBeCloseTo(-0.1 * Math.log(1 / 0.04 - 1), 14)
  })
})

describe('bce', () => {
  it('is the mean over samples and labels of softplus(u) − y·u, with gradient (σ(u) − Y)/(N·C)', () => {
    const t = tensors()
    const loss = createLoss(referenceOps, { rule: 'bce' })
    expect(loss.task).toBe('multi')
    expect(loss(t.logits, t.labels).data[0]).toBeCloseTo(hostBce(U), 14)
    expect(read(loss.perturb(t.logits, t.labels))).toEqual(U.flat())
    const grad = read(loss.gradient(t.logits, t.labels))
    U.flat().forEach((u, k) => {
      expect(grad[k]).toBeCloseTo((sigmoid(u) - Y.flat()[k]!) / 20, 15)
    })
  })
  it('stays exact for confident entries (no cancellation in softplus(z) − z)', () => {
    const loss = lossAt({ rule: 'bce' }, [[40, -40]], [[1, 0]])
    expect(loss).toBeCloseTo(Math.exp(-40), 28)
    expect(loss).toBeGreaterThan(0)
  })
})

describe('logit-adjusted-bce', () => {
  it('is BCE of u + τ·log(π/(1 − π)); τ = 0 is BCE', () => {
    const priors = [0.9, 0.12, 0.015, 0.015]
    const z = U.map((row) => row.map((u, j) => u + 1.5 * Math.log(priors[j]! / (1 - priors[j]!))))
    expect(lossAt({ ...la, tau: 1.5 })).toBeCloseTo(hostBce(z), 13)
    expect(lossAt({ ...la, tau: 0 })).toBe(lossAt({ rule: 'bce' }))
    expect(parseSpec(la)).toMatchObject({ tau: 1 })
  })
})

describe('db-negative-tolerant', () => {
  const nu = (kappa: number) => [0.9, 0.12, 0.015, 0.015].map((p) => -kappa * Math.log(1 / p - 1))
  const formula = (u: number[][], kappa = 0.05, lambda = 5) => {
    const v = nu(kappa)
    const entries = u.flatMap((row, i) => row.map((x, j) => (Y[i]![j] ? softplus(-(x - v[j]!)) : softplus(lambda * (x - v[j]!)) / lambda)))
    return entries.reduce((a, b) => a + b, 0) / entries.length
  }
  it('is y·softplus(−(u − ν)) + (1/λ)(1 − y)·softplus(λ(u − ν)), defaults κ = 0.05, λ = 5', () => {
    expect(parseSpec(db)).toMatchObject({ kappa: 0.05, lambda: 5 })
    expect(lossAt(db)).toBeCloseTo(formula(U), 14)
    expect(lossAt({ ...db, kappa: 0.4, lambda: 2 })).toBeCloseTo(formula(U, 0.4, 2), 14)
  })
  it('with λ = 1 is BCE of u − ν, and with κ = 0 too is BCE', () => {
    const v = nu(0.3)
    expect(lossAt({ ...db, kappa: 0.3, lambda: 1 })).toBeCloseTo(hostBce(U.map((row) => row.map((u, j) => u - v[j]!))), 14)
    expect(lossAt({ ...db, kappa: 0, lambda: 1 })).toBeCloseTo(lossAt({ rule: 'bce' }), 15)
  })
  it('perturbs to z = u − ν on positives and λ(u − ν) on negatives; its closed-form gradient is the derivative', () => {
    const t = tensors()
    const loss = createLoss(referenceOps, { ...db, kappa: 0.4, lambda: 3 })
    const v = nu(0.4)
    const z = read(loss.perturb(t.logits, t.labels))
    U.forEach((row, i) => {
      row.forEach((u, j) => {
        expect(z[i * 4 + j]).toBeCloseTo(Y[i]![j] ? u - v[j]! : 3 * (u - v[j]!), 13)
      })
    })
    const fd = centralDifference((u) => formula(u, 0.4, 3), U, 1e-6)
    read(loss.gradient(t.logits, t.labels)).forEach((g, k) => {
      expect(g).toBeCloseTo(fd[k]!, 9)
    })
  })
})

describe('lpl-multilabel', () => {
  it('normalized: ends at the closed form δ⁺ = −s·αK, δ⁻ = +s·αK per label (docs/spec.md#37-equivalences, property 7)', () => {
    const t = tensors()
    // Counts 900/120/15/0 (0 read as 15): median 67.5, head {0, 1} (N), tail {2, 3} (P).
    // Bounds: 0.3 + 1.2·900/900 = 1.5, 0.3 + 1.2·120/900 = 0.46, and 0.3 + 1.2·15/15 = 1.5 twice.
    const z = read(createLoss(referenceOps, { ...lpl, alpha: 0.1 }).perturb(t.logits, t.labels))
    const shift = [-1.5, -0.4, 1.5, 1.5] // s_c·α·K_c: K = 15, 4, 15, 15
    U.forEach((row, i) => {
      row.forEach((u, j) => {
        expect(z[i * 4 + j]).toBeCloseTo(u + shift[j]! * (Y[i]![j] ? -1 : 1), 12)
      })
    })
    expect(lossAt({ ...lpl, alpha: 0.1 })).toBeCloseTo(hostBce(U.map((row, i) => row.map((_, j) => z[i * 4 + j]!))), 14)
  })
  it('headClasses sets the split; maxSteps caps K', () => {
    const t = tensors()
    const z = read(createLoss(referenceOps, { ...lpl, alpha: 0.1, headClasses: 0, maxSteps: 2 }).perturb(t.logits, t.labels))
    U.forEach((row, i) => {
      row.forEach((u, j) => {
        expect(z[i * 4 + j]).toBeCloseTo(u + 0.2 * (Y[i]![j] ? -1 : 1), 12)
      })
    })
  })
  it('unnormalized: steps α·g with g⁺ = mean σ(z) − 1 over positives, g⁻ = mean σ(z) over negatives', () => {
    const t = tensors()
    const alpha = 0.5
    const z = read(createLoss(referenceOps, { ...lpl, alpha, epsilon: 0.5, deltaEpsilon: 0, normalize: false }).perturb(t.logits, t.labels))
    // One step (K = ⌊0.5/0.5⌋ = 1) from δ = 0; label 2 is in P (s = +1), label 0 in N (s = −1).
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length
    const col = (j: number, y: number) => U.map((r) => r[j]!).filter((_, i) => Y[i]![j] === y)
    const gPos = mean(col(2, 1).map((u) => sigmoid(u) - 1))
    const gNeg = mean(col(2, 0).map(sigmoid))
    U.forEach((row, i) => {
      expect(z[i * 4 + 2]).toBeCloseTo(row[2]! + alpha * (Y[i]![2] ? gPos : gNeg), 14)
    })
    const gPos0 = mean(col(0, 1).map((u) => sigmoid(u) - 1))
    U.forEach((row, i) => {
      expect(z[i * 4]).toBeCloseTo(row[0]! - alpha * gPos0, 14)
    })
  })
  it('with zero steps or zero bounds is BCE; through has no closed-form gradient', () => {
    expect(lossAt({ ...lpl, maxSteps: 0 })).toBe(lossAt({ rule: 'bce' }))
    expect(lossAt({ ...lpl, epsilon: 0, deltaEpsilon: 0 })).toBe(lossAt({ rule: 'bce' }))
    const t = tensors()
    const through = createLoss(referenceOps, { ...lpl, gradient: 'through' })
    expect(through.hasClosedFormGradient).toBe(false)
    expect(through.searchPath).toBe('ops')
    expectRefusal(() => through.gradient(t.logits, t.labels), 'INVALID_SPEC', /automatic differentiation/)
  })
  it("stop: the closed-form gradient is BCE's at the perturbed logits", () => {
    const t = tensors()
    const loss = createLoss(referenceOps, lpl)
    const z = read(loss.perturb(t.logits, t.labels))
    read(loss.gradient(t.logits, t.labels)).forEach((g, k) => {
      expect(g).toBeCloseTo((sigmoid(z[k]!) - Y.flat()[k]!) / 20, 15)
    })
  })
})

describe('explain, multi-label', () => {
  const report = (spec: RuleInput) => {
    const t = tensors()
    const e = createLoss(referenceOps, spec).explain(t.logits, t.labels)
    return {
      e,
      classes: describeClasses({
        classCounts: e.classCounts.data,
        lossVariation: e.lossVariation.data,
        equivalentWeight: e.equivalentWeight.data,
        targetWeight: e.targetWeight.data,
      }),
    }
  }
  it('BCE: no change, unit weights; counts are N per label, positives reported apart', () => {
    const { e, classes } = report({ rule: 'bce' })
    expect(read(e.classCounts)).toEqual([5, 5, 5, 5])
    expect(read(e.labelPositives!)).toEqual([5, 2, 2, 0])
    expect(classes.map((r) => r.direction)).toEqual(['none', 'none', 'none', 'none'])
    for (const r of classes) expect(r.equivalentWeight).toBeCloseTo(1, 12)
    expect(
      read(e.targetWeight)
        .slice(0, 3)
        .map((w) => Math.round(w * 1e12) / 1e12),
    ).toEqual([1, 1, 1])
    expect(read(e.targetWeight)[3]).toBe(0)
  })
  it('LPL: P labels are made harder (Δ > 0, weight > 1), N labels easier', () => {
    const { e, classes } = report(lpl)
    expect(classes.map((r) => r.direction)).toEqual(['negative', 'negative', 'positive', 'positive'])
    const w = read(e.equivalentWeight)
    expect(w[0]).toBeLessThan(1)
    expect(w[2]).toBeGreaterThan(1)
    // Δ_c is the mean over all samples of the label's entry-loss change against BCE.
    const t = tensors()
    const z = read(createLoss(referenceOps, lpl).perturb(t.logits, t.labels))
    const delta2 =
      U.reduce((s, row, i) => s + (softplus(z[i * 4 + 2]!) - Y[i]![2]! * z[i * 4 + 2]!) - (softplus(row[2]!) - Y[i]![2]! * row[2]!), 0) / 5
    expect(read(e.lossVariation)[2]).toBeCloseTo(delta2, 14)
  })
  it('db-negative-tolerant measures w·BCE(z) against BCE(u)', () => {
    const { e } = report({ ...db, kappa: 0, lambda: 1 })
    for (const v of read(e.lossVariation)) expect(Math.abs(v)).toBeLessThan(1e-15)
  })
})

describe('multi-label inputs and specs', () => {
  it('LABELS_SHAPE: labels that are not [N, C]', () => {
    const { logits } = tensors()
    const loss = createLoss(referenceOps, la)
    expectRefusal(
      () => loss(logits, referenceOps.constant([0, 1, 2, 0, 1], [5], 'int32')),
      'LABELS_SHAPE',
      /\[N, C\] = \[5, 4\]/,
      /got shape \[5\]/,
    )
    expectRefusal(() => loss(logits, referenceOps.constant(new Array(15).fill(0), [5, 3])), 'LABELS_SHAPE', /\[5, 3\]/)
    expectRefusal(() => loss(logits, referenceOps.constant(new Array(16).fill(0), [4, 4])), 'LABELS_SHAPE', /\[4, 4\]/)
    expectRefusal(() => loss(referenceOps.constant(new Array(15).fill(0), [5, 3]), tensors().labels), 'LOGITS_SHAPE', /3 classes/, /has 4/)
  })
  it('LABEL_VALUE: an entry other than 0 or 1, naming row and label', () => {
    const { logits } = tensors()
    for (const bad of [0.5, 2, -1, NaN]) {
      const y = Y.map((row, i) => row.map((v, j) => (i === 3 && j === 2 ? bad : v)))
      expectRefusal(
        () => createLoss(referenceOps, { rule: 'bce' })(logits, referenceOps.constant(y.flat(), [5, 4])),
        'LABEL_VALUE',
        new RegExp(`entry ${bad} at row 3, label 2`),
        /0 or 1/,
      )
    }
  })
  it('LOGITS_NOT_FINITE unless allowNonFinite', () => {
    const { labels } = tensors()
    const nan = referenceOps.constant(
      U.flat().map((v, k) => (k === 6 ? NaN : v)),
      [5, 4],
    )
    expectRefusal(() => createLoss(referenceOps, lpl)(nan, labels), 'LOGITS_NOT_FINITE', /NaN/)
    expect(Number.isNaN(createLoss(referenceOps, { rule: 'bce' }, { checks: 'labels' })(nan, labels).data[0])).toBe(true)
  })
  it('spec errors name the field', () => {
    expectRefusal(() => parseSpec({ rule: 'logit-adjusted-bce', classCounts: [5, 2] }), 'INVALID_SPEC', /^numSamples:/, /required/)
    expectRefusal(() => parseSpec({ ...la, numSamples: 0 }), 'INVALID_PARAMETER', /^numSamples:/, /> 0/)
    expectRefusal(
      () => parseSpec({ ...db, numSamples: 100 }),
      'CLASS_COUNTS_VALUE',
      /^classCounts\[0\]:/,
      /900 of label 0 exceeds numSamples 100/,
    )
    expectRefusal(
      () => parseSpec({ ...db, classCounts: [0, 10, 10], numSamples: 10 }),
      'CLASS_COUNTS_VALUE',
      /^classCounts:/,
      /no label has both/,
    )
    expectRefusal(() => parseSpec({ ...la, classCounts: [0, 0] }), 'CLASS_COUNTS_VALUE', /every class count is zero/)
    expectRefusal(() => parseSpec({ ...la, numClasses: 3 }), 'CLASS_COUNTS_LENGTH', /4 entries/, /3 classes/)
    expectRefusal(() => parseSpec({ ...la, tau: -1 }), 'INVALID_PARAMETER', /^tau:/)
    expectRefusal(() => parseSpec({ ...db, kappa: -0.1 }), 'INVALID_PARAMETER', /^kappa:/)
    expectRefusal(() => parseSpec({ ...db, lambda: 0 }), 'INVALID_PARAMETER', /^lambda:/, /≥ 0.000001/)
    expectRefusal(() => parseSpec({ ...lpl, alpha: 0 }), 'INVALID_PARAMETER', /^alpha:/)
    expectRefusal(() => parseSpec({ ...lpl, headClasses: 5 }), 'INVALID_PARAMETER', /^headClasses:/, /≤ 4/)
    expectRefusal(() => parseSpec({ ...lpl, gradient: 'both' }), 'INVALID_PARAMETER', /^gradient:/)
    expectRefusal(() => parseSpec({ ...lpl, split: 'prior' }), 'INVALID_SPEC', /^split:/, /not a field/)
    expectRefusal(() => parseSpec({ ...lpl, numSamples: 10 }), 'INVALID_SPEC', /^numSamples:/, /not a field/)
    expectRefusal(() => parseSpec({ rule: 'bce', classCounts: [1] }), 'INVALID_SPEC', /^classCounts:/)
    expectRefusal(
      () => parseSpec({ rule: 'lpl', split: 'prior', classCounts: [3, 1], base: { rule: 'bce' } }),
      'INVALID_SPEC',
      /^base\.rule:/,
      /multi-label/,
    )
  })
  it('every rule stays finite with zero counts, a label on every sample, and logits of magnitude 1e4', () => {
    const huge = U.map((row, i) => row.map((v, j) => ((i + j) % 2 ? 1e4 : -1e4) * v))
    const specs = [...ALL, { ...la, classCounts: [1000, 120, 15, 0] }, { ...db, classCounts: [1000, 120, 15, 0] }]
    for (const u of [U, huge]) {
      for (const spec of specs) {
        const t = tensors(u)
        const loss = createLoss(referenceOps, spec)
        const values = [...read(loss(t.logits, t.labels)), ...read(loss.perturb(t.logits, t.labels))]
        if (loss.hasClosedFormGradient) values.push(...read(loss.gradient(t.logits, t.labels)))
        const e = loss.explain(t.logits, t.labels)
        values.push(...read(e.lossVariation), ...read(e.equivalentWeight), ...read(e.targetWeight), ...read(e.sampleWeight))
        expect(values.every(Number.isFinite), JSON.stringify(spec)).toBe(true)
      }
    }
  })
  it('parsed specs round-trip through JSON; no call writes to its inputs', () => {
    for (const spec of ALL) {
      const parsed = parseSpec(spec)
      expect(parseSpec(JSON.parse(JSON.stringify(parsed)))).toEqual(parsed)
      const t = tensors()
      const before = [Float64Array.from(t.logits.data), Float64Array.from(t.labels.data)]
      const copy = structuredClone(spec)
      const loss = createLoss(referenceOps, spec)
      loss(t.logits, t.labels)
      loss.explain(t.logits, t.labels)
      if (loss.hasClosedFormGradient) loss.gradient(t.logits, t.labels)
      expect([t.logits.data, t.labels.data]).toEqual(before)
      expect(spec).toEqual(copy)
    }
  })
})
