/**
 * Exported losses on dense inputs, with an ignore label, and on soft targets: the shared golden
 * fixtures (`dense/`, `soft/`) through `exportLossModel` and `runLossModel`; a dense batch with
 * ignored pixels against the flattened batch with those rows masked; an exactly zero gradient at
 * ignored pixels; the options' refusals; and the host checks of `runLossModel`.
 */
import { join } from 'node:path'
import { type RuleInput, createLoss, referenceOps as ref, ruleFacts } from '@logit-perturb/core'
import {
  type LoadedCase,
  codeAndField,
  expectedPerturbed,
  flatten,
  loadGoldenDir,
  mulberry32,
  refusal,
  refusalAsync,
  relativeError,
  specOfCase,
  trainingCase,
} from '@logit-perturb/conformance'
import { describe, expect, it } from 'vitest'
import { type ExportLossOptions, exportLossModel, runLossModel, runModel } from '../src/index.js'
import { checkModels } from './support/checker.js'

const fixtures = join(import.meta.dirname, '..', '..', '..', '..', 'shared', 'fixtures')
const N = 2
const C = 4
const H = 3
const W = 5
const IGNORE = 255
const rand = mulberry32(5)
/** Float32-representable logits `[N, C, H, W]`, so that the reference sees what the model sees. */
const logits = Array.from({ length: N * C * H * W }, () => Math.fround(6 * rand() - 3))
/** Class ids `[N, H, W]` with a few ignored pixels. */
const labels = Array.from({ length: N * H * W }, (_, k) => (k % 7 === 3 ? IGNORE : Math.floor(rand() * C)))
const inner = H * W

/** `[N, C, H, W]` values as rows `[N·H·W, C]`, the core's row order. */
function rows(values: ArrayLike<number>): number[][] {
  return Array.from({ length: N * inner }, (_, m) =>
    Array.from({ length: C }, (_, c) => values[(Math.floor(m / inner) * C + c) * inner + (m % inner)]!),
  )
}

function expectNear(actual: ArrayLike<number>, expected: ArrayLike<number>, what: string, rtol = 1e-4) {
  expect(relativeError(Float64Array.from(actual), Float64Array.from(expected)), what).toBeLessThan(rtol)
}

/** A golden case through an exported model: loss, perturbed logits and gradient, to float32's 1e-4. */
async function runCase({ data: c }: LoadedCase) {
  const spec = specOfCase(c)
  const { shape, values } = flatten(c.logits)
  const options: ExportLossOptions = {
    numClasses: c.numClasses,
    spatialDims: shape.length - 2,
    training: trainingCase(c),
    ...(c.ignoreIndex === undefined ? {} : { ignoreIndex: c.ignoreIndex }),
    ...(c.targets === undefined ? {} : { targets: 'probabilities' }),
  }
  const model = exportLossModel(spec, options)
  const targets = c.targets === undefined ? undefined : flatten(c.targets)
  const ids = c.labels === null ? undefined : flatten(c.labels)
  const state = model.inputs.some((i) => i.startsWith('state_')) ? ruleFacts(spec).state?.initial(c.numClasses) : undefined
  const out = await runLossModel(
    model.bytes,
    { data: Float32Array.from(values), dims: shape },
    targets === undefined ? ids!.values : { data: Float32Array.from(targets.values), dims: targets.shape },
    state === undefined ? {} : { state },
  )
  return { out, expectedPerturbed: expectedPerturbed(c), gradient: flatten(c.gradLogits).values, loss: c.loss }
}

describe('the dense and soft golden fixtures through exported models', () => {
  const cases = [...loadGoldenDir(join(fixtures, 'dense')), ...loadGoldenDir(join(fixtures, 'soft'))]

  it('has the 16 dense and 9 soft cases', () => {
    expect(cases.filter((c) => flatten(c.data.logits).shape.length === 4)).toHaveLength(16)
    expect(cases.filter((c) => c.data.targets !== undefined)).toHaveLength(9)
  })

  it.each(cases.map((c) => [c.id, c] as const))('%s', async (_id, loaded) => {
    const { out, expectedPerturbed, gradient, loss } = await runCase(loaded)
    expectNear([out.loss], [loss], 'loss')
    if (expectedPerturbed !== undefined) expectNear(out.perturbedLogits, expectedPerturbed, 'perturbed logits')
    expectNear(out.gradLogits!, gradient, 'gradient')
  })
})

describe('dense inputs with an ignore label', () => {
  const specs: Record<string, RuleInput> = {
    'lpl prior (batch statistics)': { rule: 'lpl', split: 'prior', classCounts: [400, 120, 30, 6] },
    'seesaw (state)': { rule: 'seesaw', numClasses: C },
    'logit-adjustment': { rule: 'logit-adjustment', classCounts: [400, 120, 30, 6] },
  }

  it.each(Object.entries(specs))('%s: equal the flattened batch with the ignored rows masked, state included', async (_name, spec) => {
    const dense = exportLossModel(spec, { spatialDims: 2, ignoreIndex: IGNORE })
    expect(dense.spatialDims).toBe(2)
    expect(dense.ignoreIndex).toBe(IGNORE)
    const flat = exportLossModel(spec, { mask: true })
    const fresh = ruleFacts(spec).state?.initial(C)
    const state = fresh === undefined ? {} : { state: fresh }
    const got = await runLossModel(dense.bytes, { data: Float32Array.from(logits), dims: [N, C, H, W] }, labels, state)
    const kept = labels.map((y) => (y === IGNORE ? 0 : 1))
    const want = await runLossModel(
      flat.bytes,
      rows(logits),
      labels.map((y) => (y === IGNORE ? 0 : y)),
      { mask: kept, ...state },
    )
    expect(Math.abs(got.loss - want.loss)).toBeLessThan(1e-6)
    expectNear(rows(got.perturbedLogits).flat(), want.perturbedLogits, 'perturbed logits', 1e-6)
    expectNear(rows(got.gradLogits!).flat(), want.gradLogits!, 'gradient', 1e-6)
    if (fresh !== undefined) expect(got.nextState).toEqual(want.nextState)
  })

  it('gives exactly zero gradient at ignored pixels, and the reference loss, per-pixel losses and gradient', async () => {
    const spec = specs['lpl prior (batch statistics)']!
    const model = exportLossModel(spec, { spatialDims: 2, ignoreIndex: IGNORE, reduction: 'none' })
    expect(model.inputs).toEqual(['logits', 'labels'])
    const out = await runModel(model.bytes, {
      logits: { data: Float32Array.from(logits), dims: [N, C, H, W] },
      labels: { data: BigInt64Array.from(labels, BigInt), dims: [N, H, W] },
    })
    expect(out.loss!.dims).toEqual([N, H, W])
    expect(out.grad_logits!.dims).toEqual([N, C, H, W])
    const u = ref.constant(logits, [N, C, H, W])
    const y = ref.constant(labels, [N, H, W], 'int32')
    const reference = createLoss(ref, spec, { ignoreIndex: IGNORE, reduction: 'none' })
    expectNear(out.loss!.data as Float32Array, reference(u, y).data, 'per-pixel losses')
    expectNear(out.grad_logits!.data as Float32Array, reference.gradient(u, y).data, 'gradient')
    const gradient = out.grad_logits!.data as Float32Array
    const ignored = labels.flatMap((label, m) => (label === IGNORE ? [m] : []))
    expect(ignored.length).toBeGreaterThan(0)
    for (const m of ignored) {
      for (let c = 0; c < C; c++) expect(gradient[(Math.floor(m / inner) * C + c) * inner + (m % inner)]).toBe(0)
      expect((out.loss!.data as Float32Array)[m]).toBe(0)
    }
  })

  it('take any height and width at run time, and pass the ONNX checker', async () => {
    const model = exportLossModel({ rule: 'ce', numClasses: C }, { spatialDims: 2, ignoreIndex: -100, sampleWeight: true })
    const small = Array.from({ length: 1 * C * 2 * 1 }, (_, k) => Math.fround(Math.sin(k)))
    const out = await runLossModel(model.bytes, { data: Float32Array.from(small), dims: [1, C, 2, 1] }, [-100, 3], {
      sampleWeight: [2],
    })
    const reference = createLoss(ref, { rule: 'ce', numClasses: C }, { ignoreIndex: -100 })
    const u = ref.constant(small, [1, C, 2, 1])
    const y = ref.constant([-100, 3], [1, 2, 1], 'int32')
    // A weight per image, repeated at its pixels, as the core takes one.
    expectNear([out.loss], reference(u, y, { sampleWeight: ref.constant([2], [1]) }).data, 'loss')
    const verdicts = await checkModels({
      dense: model.bytes,
      volume: exportLossModel({ rule: 'seesaw', numClasses: C }, { spatialDims: 3, ignoreIndex: IGNORE, mask: true }).bytes,
      'soft dense': exportLossModel({ rule: 'ldam', classCounts: [40, 12, 3, 1] }, { spatialDims: 2, targets: 'probabilities' }).bytes,
      none: exportLossModel({ rule: 'lpl', split: 'prior', classCounts: [40, 12, 3, 1] }, { spatialDims: 1, reduction: 'none' }).bytes,
    })
    expect(verdicts.filter((v) => !v.ok)).toEqual([])
  })
})

describe('soft targets', () => {
  const targets = Array.from({ length: N * inner }, () => {
    const row = Array.from({ length: C }, () => rand())
    const total = row.reduce((a, b) => a + b, 0)
    return row.map((v) => Math.fround(v / total))
  })

  it.each([
    ['logit-adjustment (linear)', { rule: 'logit-adjustment', classCounts: [400, 120, 30, 6] }],
    ['ldam (the top-two split)', { rule: 'ldam', classCounts: [400, 120, 30, 6], scale: 4 }],
  ] as [string, RuleInput][])('%s: rows and dense, as the reference', async (_name, spec) => {
    const model = exportLossModel(spec, { targets: 'probabilities' })
    expect(model.targets).toBe('probabilities')
    const out = await runLossModel(model.bytes, rows(logits), targets)
    const reference = createLoss(ref, spec)
    const u = ref.constant(rows(logits).flat(), [N * inner, C])
    const t = ref.constant(targets.flat(), [N * inner, C])
    expectNear([out.loss], reference(u, t).data, 'loss')
    expectNear(out.gradLogits!, reference.gradient(u, t).data, 'gradient')
    // The same targets as a dense [N, C, H, W] tensor.
    const denseTargets = Float32Array.from({ length: N * C * inner }, (_, k) => {
      const [i, c, p] = [Math.floor(k / (C * inner)), Math.floor(k / inner) % C, k % inner]
      return targets[i * inner + p]![c]!
    })
    const dense = exportLossModel(spec, { targets: 'probabilities', spatialDims: 2 })
    const got = await runLossModel(
      dense.bytes,
      { data: Float32Array.from(logits), dims: [N, C, H, W] },
      { data: denseTargets, dims: [N, C, H, W] },
    )
    expect(Math.abs(got.loss - out.loss)).toBeLessThan(1e-6)
    expectNear(rows(got.gradLogits!).flat(), out.gradLogits!, 'dense gradient', 1e-6)
  })

  it('are refused with SOFT_TARGETS by a rule that does not define them, and checked on the host', async () => {
    for (const spec of [
      { rule: 'seesaw', numClasses: C },
      { rule: 'lpl', split: 'prior', classCounts: [4, 3, 2, 1] },
    ] as RuleInput[]) {
      expect(codeAndField(refusal(() => exportLossModel(spec, { targets: 'probabilities' })))).toBe('SOFT_TARGETS targets')
    }
    const model = exportLossModel({ rule: 'ce', numClasses: C }, { targets: 'probabilities' })
    const bad = targets.map((row, i) => (i === 1 ? [1.5, 0, 0, 0] : row))
    expect(codeAndField(await refusalAsync(() => runLossModel(model.bytes, rows(logits), bad)))).toBe('LABEL_VALUE labels')
  })
})

describe('the options and the host checks', () => {
  it('refuses bad options like spec fields, naming them', () => {
    const ce = { rule: 'ce', numClasses: C } as const
    const cases: [ExportLossOptions, string][] = [
      [{ spatialDims: -1 }, 'INVALID_PARAMETER spatialDims'],
      [{ spatialDims: 1.5 }, 'INVALID_PARAMETER spatialDims'],
      [{ spatialDims: 9 }, 'INVALID_PARAMETER spatialDims'],
      [{ spatialDims: 'any' as never }, 'INVALID_PARAMETER spatialDims'],
      [{ ignoreIndex: 1.5 }, 'INVALID_PARAMETER ignoreIndex'],
      [{ ignoreIndex: '255' as never }, 'INVALID_PARAMETER ignoreIndex'],
      [{ targets: 'soft' as never }, 'INVALID_PARAMETER targets'],
      [{ targets: 'probabilities', ignoreIndex: 255 }, 'INVALID_PARAMETER ignoreIndex'],
    ]
    for (const [options, expected] of cases)
      expect(codeAndField(refusal(() => exportLossModel(ce, options))), JSON.stringify(options)).toBe(expected)
    const bce = { rule: 'bce', numClasses: C } as const
    expect(codeAndField(refusal(() => exportLossModel(bce, { ignoreIndex: 255 })))).toBe('INVALID_PARAMETER ignoreIndex')
    expect(codeAndField(refusal(() => exportLossModel(bce, { targets: 'probabilities' })))).toBe('INVALID_PARAMETER targets')
  })

  it('runLossModel passes the ignore label, and refuses other ids, counts and ranks with the core codes', async () => {
    const model = exportLossModel({ rule: 'ce', numClasses: C }, { spatialDims: 2, ignoreIndex: IGNORE, mask: true })
    const u = { data: Float32Array.from(logits), dims: [N, C, H, W] }
    const mask = labels.map(() => 1)
    const run = (y: ArrayLike<number>, more = {}) => runLossModel(model.bytes, u, y, { mask, ...more })
    expect(Number.isFinite((await run(labels)).loss)).toBe(true)
    const refused = async (fn: () => Promise<unknown>) => codeAndField(await refusalAsync(fn))
    expect(await refused(() => run(labels.map((y, k) => (k === 4 ? 7 : y))))).toBe('LABEL_VALUE labels')
    expect(await refused(() => run(labels.slice(1)))).toBe('LABELS_SHAPE labels')
    expect(await refused(() => runLossModel(model.bytes, rows(logits), labels, { mask }))).toBe('LOGITS_SHAPE logits')
    expect(await refused(() => run(labels, { mask: mask.slice(1) }))).toBe('SHAPE_MISMATCH mask')
    // One mask entry per image, repeated at its pixels, is the mask of every pixel.
    const perImage = await run(labels, { mask: [1, 0] })
    const perPixel = await run(labels, { mask: labels.map((_, k) => (k < inner ? 1 : 0)) })
    expect(perImage.loss).toBe(perPixel.loss)
  })
})
