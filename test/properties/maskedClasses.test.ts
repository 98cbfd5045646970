/**
 * docs/spec.md#12-masked-classes: a logit of −∞ masks its class out of its row (optax and torch's
 * `F.cross_entropy` take it so).
 * - For cross-entropy and logit adjustment (and balanced softmax, the focal loss, LDAM and VS), with
 *   and without label smoothing, masking non-target classes is dropping their columns: the losses per
 *   row, the mean, and the gradient on the kept columns, with a gradient of exactly 0 at the masked entries (a property on the reference; sampled
 *   on every backend, tfjs-cpu and tfjs-wasm also by autodiff, the ONNX graph by onnxruntime-web).
 * - Every registered single-label rule gives a finite loss, a finite gradient (closed form, and on
 *   tfjs autodiff, with the search on the host and as tensor ops) that is exactly 0 at the masked
 *   entries, and perturbed logits that keep them at −∞, on the reference, tfjs-cpu and tfjs-wasm; a
 *   row that does not count may mask its label.
 * - Multi-label rules read −∞ as probability 0: the entry adds nothing and has gradient 0.
 * - NaN, +∞, −∞ at a target of a counted row and a single-label row masked in every class are
 *   refused with `LOGITS_NOT_FINITE`, naming the row and class.
 */
import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { type RuleInput, createLoss, referenceOps } from '@logit-perturb/core'
import type { AnyBackend } from '@logit-perturb/core/verify'
import {
  type BatchCase,
  batchArbitrary,
  expectRefusal,
  multiLabelBatchArbitrary,
  multiLabelVariants,
  singleLabelVariants,
} from '@logit-perturb/conformance'
import { workspaceBackends } from '@logit-perturb/conformance/backends'
import { RUNS, expectClose } from './helpers.js'

const ops = referenceOps
const NEG_INF = Number.NEGATIVE_INFINITY

/** A batch with some non-target classes of its rows masked (at −∞); every row keeps its label. */
interface MaskedCase {
  b: BatchCase
  /** 1 where the entry `[i, j]` (flat) is masked. */
  masked: number[]
  /** The logits with the masked entries at −∞. */
  logits: number[]
  rule: (typeof DROPPABLE)[number]
  labelSmoothing: number
}

/**
 * The rules whose loss of a row reads that row and per-class constants only: masking classes of a
 * row is dropping them from it, with the constants of the classes kept.
 */
const DROPPABLE = ['ce', 'logit-adjustment', 'balanced-softmax', 'focal', 'ldam', 'vs'] as const

const maskedCases: fc.Arbitrary<MaskedCase> = batchArbitrary({ maxN: 16, maxC: 8, minC: 2, scales: [1, 10, 100], zeroCounts: false }).chain(
  (b) =>
    fc
      .record({
        draws: fc.array(fc.constantFrom(0, 0, 1), { minLength: b.n * b.c, maxLength: b.n * b.c }),
        rule: fc.constantFrom(...DROPPABLE),
        labelSmoothing: fc.constantFrom(0, 0.1),
      })
      .map(({ draws, rule, labelSmoothing }) => {
        const masked = draws.map((m, k) => (b.labels[Math.floor(k / b.c)] === k % b.c ? 0 : m))
        return { b, masked, logits: b.logits.map((u, k) => (masked[k] === 1 ? NEG_INF : u)), rule, labelSmoothing }
      }),
)

/**
 * The spec of a case for the classes `kept` (all of them: the masked batch's spec), with the
 * constants the full spec gives those classes: the counts themselves where a rule's constant of a
 * class differs from its prior by a factor common to all classes (a constant per row of `log π`),
 * LDAM's largest margin scaled so that each kept class keeps its margin, VS's terms as given.
 */
function specOf(x: MaskedCase, kept?: readonly number[]): RuleInput {
  const smoothing = x.labelSmoothing > 0 ? { labelSmoothing: x.labelSmoothing } : {}
  const classes = kept ?? x.b.counts.map((_, j) => j)
  const classCounts = classes.map((j) => x.b.counts[j]!)
  switch (x.rule) {
    case 'ce':
      return { rule: 'ce', ...smoothing }
    case 'logit-adjustment':
      return { rule: 'logit-adjustment', tau: 1.3, classCounts, ...smoothing }
    case 'balanced-softmax':
      return { rule: 'balanced-softmax', classCounts, ...smoothing }
    case 'focal':
      return { rule: 'focal', gamma: 2, tau: 0.7, classCounts, ...smoothing }
    case 'ldam': {
      // Δ_c = M·n_c^(−1/4) / max_j n_j^(−1/4): over the kept classes the largest is that of their rarest.
      const rarest = (counts: number[]) => Math.max(...counts.map((n) => n ** -0.25))
      return { rule: 'ldam', classCounts, scale: 5, maxMargin: (0.5 * rarest(classCounts)) / rarest(x.b.counts), ...smoothing }
    }
    case 'vs':
      return {
        rule: 'vs',
        multiplicative: classes.map((j) => 0.5 + (j % 3) / 2),
        additive: classes.map((j) => 0.1 * j - 0.2),
        ...smoothing,
      }
  }
}

/**
 * Each row with its masked columns dropped, scored alone on the float64 reference: its loss, and
 * the gradient of the mean over the whole batch on its kept columns (the row's own gradient / N).
 */
function dropped(x: MaskedCase): { losses: number[]; gradient: number[] } {
  const { n, c } = x.b
  const losses: number[] = []
  const gradient = new Array<number>(n * c).fill(0)
  for (let i = 0; i < n; i++) {
    const kept = Array.from({ length: c }, (_, j) => j).filter((j) => x.masked[i * c + j] === 0)
    const u = ops.constant(
      kept.map((j) => x.b.logits[i * c + j]!),
      [1, kept.length],
    )
    const y = ops.constant([kept.indexOf(x.b.labels[i]!)], [1], 'int32')
    losses.push(createLoss(ops, specOf(x, kept))(u, y).data[0]!)
    const g = createLoss(ops, specOf(x, kept)).gradient(u, y).data
    kept.forEach((j, k) => {
      gradient[i * c + j] = g[k]! / n
    })
  }
  return { losses, gradient }
}

describe('12. masked classes: for CE, LA, balanced softmax, focal, LDAM and VS, masking is dropping the masked columns', () => {
  it('losses per row, mean loss and gradient on the kept columns; the gradient is exactly 0 at the masked entries (reference)', () => {
    fc.assert(
      fc.property(maskedCases, (x) => {
        const { n, c } = x.b
        const u = ops.constant(x.logits, [n, c])
        const y = ops.constant(x.b.labels, [n], 'int32')
        const want = dropped(x)
        expectClose(createLoss(ops, specOf(x), { reduction: 'none' })(u, y).data, want.losses, `${x.rule}: losses per row`)
        expectClose(createLoss(ops, specOf(x))(u, y).data, [want.losses.reduce((a, b) => a + b, 0) / n], `${x.rule}: mean loss`)
        const gradient = createLoss(ops, specOf(x)).gradient(u, y).data
        expectClose(gradient, want.gradient, `${x.rule}: gradient`)
        x.masked.forEach((m, k) => {
          if (m === 1)
            expect(Object.is(gradient[k], 0) || Object.is(gradient[k], -0), `gradient at masked entry ${k}: ${gradient[k]}`).toBe(true)
        })
      }),
      RUNS,
    )
  })

  it('on every backend: losses, closed-form and (tfjs) autodiff gradients as the dropped columns, exactly 0 at the masked entries', async () => {
    const backends = await workspaceBackends()
    const samples = fc.sample(maskedCases, { numRuns: 8, seed: 12 })
    let checked = 0
    for (const backend of backends) {
      for (const x of samples) {
        await (backend.scope ?? ((fn) => fn()))(async () => {
          const o = backend.ops
          const { n, c } = x.b
          const u = o.constant(x.logits, [n, c])
          const y = o.constant(x.b.labels, [n], 'int32')
          const want = dropped(x)
          const near = (got: ArrayLike<number>, expected: readonly number[], what: string) =>
            expected.forEach((e, k) => {
              const where = `${backend.name} ${x.rule} ε=${x.labelSmoothing} ${what}[${k}]: ${got[k]} vs ${e}`
              if (x.masked[k] === 1 && what.includes('gradient')) expect(Math.abs(got[k]!), where).toBe(0)
              else expect(Math.abs(got[k]! - e) / Math.max(1, Math.abs(e)), where).toBeLessThan(backend.rtol * 10)
            })
          near(await backend.read(createLoss(o, specOf(x), { reduction: 'none' })(u, y)), want.losses, 'loss')
          near(await backend.read(createLoss(o, specOf(x)).gradient(u, y)), want.gradient, 'closed-form gradient')
          if (backend.grad !== undefined) {
            const loss = createLoss(o, specOf(x))
            near(await backend.read(backend.grad((t) => loss(t, y), u)), want.gradient, 'autodiff gradient')
          }
          checked++
        })
      }
    }
    expect(checked).toBe(backends.length * samples.length)
    expect(backends.map((b) => b.name)).toEqual(expect.arrayContaining(['reference', 'tfjs-cpu', 'tfjs-wasm', 'onnx-wasm']))
  })
})

/** A batch of every rule's test: masked non-target classes, and a last row masked out whose label is masked too. */
interface RuleCase {
  b: BatchCase
  logits: number[]
  masked: number[]
  /** The last row does not count (the call's mask) and its label's logit is −∞. */
  maskedRow: boolean
}

const ruleCases: fc.Arbitrary<RuleCase> = batchArbitrary({ maxN: 12, maxC: 7, minC: 3, scales: [1, 10] })
  .filter((b) => b.n >= 2)
  .chain((b) =>
    fc
      .record({ draws: fc.array(fc.constantFrom(0, 1, 1), { minLength: b.n * b.c, maxLength: b.n * b.c }), maskedRow: fc.boolean() })
      .map(({ draws, maskedRow }) => {
        const last = b.n - 1
        const masked = draws.map((m, k) => {
          const i = Math.floor(k / b.c)
          const j = k % b.c
          if (maskedRow && i === last) return j === b.labels[i] ? 1 : 0
          // Every row keeps its label and the class after it.
          return j === b.labels[i] || j === (b.labels[i]! + 1) % b.c ? 0 : m
        })
        return { b, masked, maskedRow, logits: b.logits.map((u, k) => (masked[k] === 1 ? NEG_INF : u)) }
      }),
  )

describe('12. masked classes, for every registered single-label rule', () => {
  it('a finite loss as the reference, gradients (closed form, tfjs autodiff with either search path) finite and exactly 0 at the masked entries, perturbed logits −∞ there', async () => {
    const backends: AnyBackend[] = (await workspaceBackends({ opSearch: true })).filter((k) => k.name !== 'onnx-wasm')
    expect(backends.map((k) => k.name)).toEqual(expect.arrayContaining(['reference', 'tfjs-cpu', 'tfjs-wasm']))
    const samples = fc.sample(ruleCases, { numRuns: 3, seed: 12 })
    const failures: string[] = []
    let checked = 0
    for (const x of samples) {
      const { n, c } = x.b
      const ctx = x.maskedRow ? { mask: Array.from({ length: n }, (_, i) => (i === n - 1 ? 0 : 1)) } : undefined
      // The rules with several heads take no masked class (docs/spec.md#313-multi-head-rules): they refuse −∞.
      for (const v of singleLabelVariants(x.b.counts).filter((k) => k.heads === undefined)) {
        const reference = createLoss(ops, v.spec)(
          ops.constant(x.logits, [n, c]),
          ops.constant(x.b.labels, [n], 'int32'),
          ctx && { mask: ops.constant(ctx.mask, [n]) },
        ).data[0]!
        for (const backend of backends) {
          await (backend.scope ?? ((fn) => fn()))(async () => {
            const o = backend.ops
            const u = o.constant(x.logits, [n, c])
            const y = o.constant(x.b.labels, [n], 'int32')
            const call = ctx && { mask: o.constant(ctx.mask, [n]) }
            const what = `${backend.name} ${v.name}`
            const loss = createLoss(o, v.spec)
            const evaluation = loss.evaluate(u, y, call)
            const value = (await backend.read(evaluation.loss))[0]!
            if (!(Math.abs(value - reference) <= backend.rtol * 10 * Math.max(1, Math.abs(reference))))
              failures.push(`${what}: loss ${value} vs the reference's ${reference}`)
            const perturbed = await backend.read(evaluation.rows.entriesBack(evaluation.batch.logits))
            x.masked.forEach((m, k) => {
              if ((m === 1) !== (perturbed[k] === NEG_INF)) failures.push(`${what}: perturbed[${k}] = ${perturbed[k]}`)
            })
            const gradients: [string, ArrayLike<number>][] = []
            if (loss.hasClosedFormGradient) gradients.push(['closed form', await backend.read(createLoss(o, v.spec).gradient(u, y, call))])
            if (backend.grad !== undefined) {
              const fresh = createLoss(o, v.spec)
              gradients.push(['autodiff', await backend.read(backend.grad((t) => fresh(t, y, call), u))])
            }
            for (const [kind, g] of gradients) {
              for (let k = 0; k < n * c; k++) {
                if (!Number.isFinite(g[k]!) || (x.masked[k] === 1 && g[k] !== 0)) failures.push(`${what}: ${kind} gradient[${k}] = ${g[k]}`)
              }
            }
            checked++
          })
        }
      }
    }
    expect(failures).toEqual([])
    expect(checked).toBeGreaterThan(samples.length * backends.length * 20)
  })
})

describe('12. masked classes, multi-label rules: −∞ is probability 0', () => {
  const cases = multiLabelBatchArbitrary({ maxN: 12, maxC: 8, scales: [1, 10] }).chain((b) =>
    fc
      .array(fc.constantFrom(0, 1), { minLength: b.n * b.c, maxLength: b.n * b.c })
      .map((draws) => ({ b, masked: draws.map((m, k) => (b.labels[k] === 1 ? 0 : m)) })),
  )

  it('BCE and logit-adjusted BCE: a masked negative adds nothing (as a logit of −1e30), with or without smoothing', () => {
    fc.assert(
      fc.property(cases, fc.constantFrom(0, 0.2), ({ b, masked }, labelSmoothing) => {
        const y = ops.constant(b.labels, [b.n, b.c])
        for (const spec of [
          { rule: 'bce' },
          { rule: 'logit-adjusted-bce', classCounts: b.counts, numSamples: b.numSamples },
        ] as RuleInput[]) {
          const plain = createLoss(ops, spec, { reduction: 'none' })
          const at = (value: number) =>
            ops.constant(
              b.logits.map((u, k) => (masked[k] === 1 ? value : u)),
              [b.n, b.c],
            )
          // The smoothed target of a masked entry is 0: compare with the unsmoothed loss of a −1e30 logit there.
          const withMasked = createLoss(ops, { ...spec, labelSmoothing } as RuleInput, { reduction: 'none' })(at(NEG_INF), y).data
          if (labelSmoothing === 0) expectClose(withMasked, plain(at(-1e30), y).data, `${spec.rule}: losses per row`)
          expect(Array.from(withMasked).every(Number.isFinite), `${spec.rule}: finite`).toBe(true)
          const gradient = createLoss(ops, { ...spec, labelSmoothing } as RuleInput).gradient(at(NEG_INF), y).data
          masked.forEach((m, k) => {
            if (m === 1) expect(gradient[k], `${spec.rule}: gradient at masked entry ${k}`).toBe(0)
          })
        }
      }),
      RUNS,
    )
  })

  it('every multi-label rule: finite loss, gradients exactly 0 at the masked entries (reference, tfjs-cpu, tfjs-wasm)', async () => {
    const backends = (await workspaceBackends()).filter((k) => k.name !== 'onnx-wasm')
    const failures: string[] = []
    for (const { b, masked } of fc.sample(cases, { numRuns: 3, seed: 12 })) {
      const logits = b.logits.map((u, k) => (masked[k] === 1 ? NEG_INF : u))
      for (const v of multiLabelVariants(b.counts, b.numSamples)) {
        for (const backend of backends) {
          await (backend.scope ?? ((fn) => fn()))(async () => {
            const o = backend.ops
            const u = o.constant(logits, [b.n, b.c])
            const y = o.constant(b.labels, [b.n, b.c])
            const loss = createLoss(o, v.spec)
            const what = `${backend.name} ${v.name}`
            const value = (await backend.read(loss(u, y)))[0]!
            if (!Number.isFinite(value)) failures.push(`${what}: loss ${value}`)
            const gradients: [string, ArrayLike<number>][] = []
            if (loss.hasClosedFormGradient) gradients.push(['closed form', await backend.read(createLoss(o, v.spec).gradient(u, y))])
            if (backend.grad !== undefined)
              gradients.push(['autodiff', await backend.read(backend.grad((t) => createLoss(o, v.spec)(t, y), u))])
            for (const [kind, g] of gradients) {
              for (let k = 0; k < logits.length; k++) {
                if (!Number.isFinite(g[k]!) || (masked[k] === 1 && g[k] !== 0)) failures.push(`${what}: ${kind} gradient[${k}] = ${g[k]}`)
              }
            }
          })
        }
      }
    }
    expect(failures).toEqual([])
  })
})

describe('12. masked classes: what is refused (LOGITS_NOT_FINITE, on every backend with value checks)', () => {
  const la = { rule: 'logit-adjustment', classCounts: [50, 20, 5, 1] } as const
  const row = (...masked: number[]) => [0.5, -1, 2, 0.25].map((u, j) => (masked.includes(j) ? NEG_INF : u))

  it('NaN and +∞ anywhere, −∞ at the label, at soft-target mass or at a multi-label positive of a counted row, and a row masked in every class', async () => {
    for (const backend of (await workspaceBackends()).filter((k) => k.ops.checks !== undefined)) {
      await (backend.scope ?? ((fn) => fn()))(async () => {
        const o = backend.ops
        const loss = createLoss(o, la)
        const ids = o.constant([0, 2], [2], 'int32')
        const at = (rows: number[][]) => o.constant(rows.flat(), [rows.length, 4])
        expectRefusal(
          () => loss(at([row(1), [0.5, Number.NaN, 2, 0]]), ids),
          'LOGITS_NOT_FINITE',
          /^logits: NaN at row 1, class 1 is not finite/,
        )
        expectRefusal(
          () => loss(at([row(1), [Number.POSITIVE_INFINITY, 0, 2, 0]]), ids),
          'LOGITS_NOT_FINITE',
          /^logits: Infinity at row 1, class 0 is/,
        )
        expectRefusal(() => loss(at([row(1), row(2, 3)]), ids), 'LOGITS_NOT_FINITE', /-Infinity at row 1, class 2, the row's label/)
        expectRefusal(() => loss(at([row(0, 1, 2, 3), row(1)]), ids), 'LOGITS_NOT_FINITE', /row 0 is -Infinity in every class/)
        // Soft targets: −∞ is refused where the row has mass, taken where it has none.
        const soft = o.constant([0.7, 0.3, 0, 0, 0, 0, 1, 0], [2, 4])
        expectRefusal(() => loss(at([row(1), row(3)]), soft), 'LOGITS_NOT_FINITE', /-Infinity at row 0, class 1, a class with target mass/)
        expect(Number.isFinite((await backend.read(loss(at([row(2, 3), row(0, 1)]), soft)))[0]!)).toBe(true)
        // Multi-label: refused at a positive; a row may rule out every label it does not have.
        const bce = createLoss(o, { rule: 'bce' })
        const binary = o.constant([1, 0, 0, 0, 0, 0, 0, 0], [2, 4])
        expectRefusal(() => bce(at([row(0), row()]), binary), 'LOGITS_NOT_FINITE', /-Infinity at row 0, class 0, a positive label/)
        expect(Number.isFinite((await backend.read(bce(at([row(1, 2, 3), row(0, 1, 2, 3)]), binary)))[0]!)).toBe(true)
        // `checks: 'labels'` lets them through: a masked label's log-probability reads as the lowest float32.
        expect((await backend.read(createLoss(o, la, { checks: 'labels' })(at([row(1), row(2)]), ids)))[0]).toBeGreaterThan(1e38)
      })
    }
  })

  it('a row that does not count (masked out, or the ignore label) may mask its label; a masked-out row may not be −∞ in every class', async () => {
    for (const backend of (await workspaceBackends()).filter((k) => k.ops.checks !== undefined)) {
      await (backend.scope ?? ((fn) => fn()))(async () => {
        const o = backend.ops
        const logits = o.constant([...row(1), ...row(2, 3)], [2, 4])
        const masked = createLoss(o, la)(logits, o.constant([0, 2], [2], 'int32'), { mask: o.constant([1, 0], [2]) })
        const ignored = createLoss(o, la, { ignoreIndex: -100 })(logits, o.constant([0, -100], [2], 'int32'))
        const alone = createLoss(o, la)(o.constant(row(1), [1, 4]), o.constant([0], [1], 'int32'))
        const [a, b, c] = await Promise.all([masked, ignored, alone].map((t) => backend.read(t)))
        expect(Math.abs(a![0]! - c![0]!), backend.name).toBeLessThan(backend.rtol * 10)
        expect(Math.abs(b![0]! - c![0]!), backend.name).toBeLessThan(backend.rtol * 10)
        expectRefusal(
          () =>
            createLoss(o, la)(o.constant([...row(1), ...row(0, 1, 2, 3)], [2, 4]), o.constant([0, 2], [2], 'int32'), {
              mask: o.constant([1, 0], [2]),
            }),
          'LOGITS_NOT_FINITE',
          /row 1 is -Infinity in every class/,
        )
      })
    }
  })
})
