import { type LossContext, createLoss, referenceOps } from '@logit-perturb/core'
import type { RuleInput } from '@logit-perturb/core'
import {
  type SingleLabelBatch,
  codeAndMessage,
  multiLabelBatch,
  multiLabelVariants,
  mulberry32,
  refusalAsync,
  refusalMessage,
  relativeError,
  singleLabelVariants,
  uniformLogits,
} from '@logit-perturb/conformance'
import type { onnx as onnxTypes } from 'onnx-proto'
import { beforeAll, describe, expect, it } from 'vitest'
import {
  type ExportedLossModel,
  type ExportLossOptions,
  type LossModelResult,
  createSession,
  exportLossModel,
  runLossModel,
  runModel,
  serializeModel,
} from '../src/index.js'
import { onnx } from '../src/serialize.js'
import { checkModels } from './support/checker.js'

const C = 5
const COUNTS = [4000, 0, 900, 120, 15]
const WEIGHTS = Array.from({ length: C }, (_, i) => [Math.cos(i), Math.sin(i), 0.3 * i])
const COVARIANCES = Array.from({ length: C }, (_, i) => [
  [1, 0.1 * i, 0],
  [0.1 * i, 0.5, 0.05],
  [0, 0.05, 0.2 + 0.1 * i],
])

/** One exported loss: a spec, the export options, and whether its gradient flows through a search (no `grad_logits`). */
interface ExportCase {
  label: string
  spec: RuleInput
  options?: ExportLossOptions
  through?: boolean
  /** The rule's heads `E` when above 1: its logits are `[N, E·C]`. */
  heads?: number
}

/**
 * Every single-label rule of the shared table, and the variants that change the graph besides
 * (margins without re-weighting, the epoch, explicit terms, the context's weights, a fixed
 * threshold, a zero bound, another base).
 */
const CASES: ExportCase[] = [
  ...singleLabelVariants(COUNTS).map(({ name, spec, through, heads }) => ({ label: name, spec, through, heads })),
  { label: 'ldam', spec: { rule: 'ldam', classCounts: COUNTS, scale: 5 } },
  {
    label: 'ldam-drw, epoch past fromEpoch',
    spec: { rule: 'ldam', classCounts: COUNTS, scale: 5, drw: { beta: 0.999, fromEpoch: 3 } },
    options: { context: { epoch: 3 } },
  },
  { label: 'vs explicit terms', spec: { rule: 'vs', multiplicative: [1, 0.5, 2, 1.5, 0.8], additive: [0, 0.1, -0.2, 0.3, -0.4] } },
  {
    label: 'isda, weights in the context',
    spec: { rule: 'isda', lambda: 0.3 },
    options: { context: { isda: { weights: WEIGHTS, covariances: COVARIANCES } } },
  },
  { label: 'lpl confidence, fixed threshold', spec: { rule: 'lpl', split: 'confidence', threshold: 0.3, momentum: 0 } },
  {
    label: 'lpl fixed, a zero bound',
    spec: { rule: 'lpl', split: 'fixed', directions: [1, -1, 1, -1, 1], bounds: [0.45, 0.3, 0, 0.9, 0.6] },
  },
  { label: 'ldam+lpl', spec: { rule: 'lpl', split: 'prior', classCounts: COUNTS, base: { rule: 'ldam', classCounts: COUNTS, scale: 2 } } },
]

/** A random batch: float32-representable logits (so the reference sees what the model sees) and labels with absent classes. */
function batch(seed: number, n: number, scale: number, heads = 1): SingleLabelBatch {
  const rand = mulberry32(seed)
  // A rule with E heads: [N, E·C] (one head's draw, then the others'; heads = 1 draws as always).
  const logits = uniformLogits(rand, n, heads * C, scale)
  // Labels drawn from three of the five classes: the others are absent from the batch.
  const labels = Array.from({ length: n }, () => [0, 2, 4][Math.floor(3 * rand())]!)
  return { logits, labels }
}

/** The reference loss, perturbed logits and (where there is one) closed-form gradient. */
/**
 * The float64 reference on one batch: labels as class ids (`[N]`) or, multi-label, as 0/1 rows
 * (`[N][C]`); the gradient when the rule has a closed form.
 */
function reference(spec: RuleInput, logits: number[][], labels: number[] | number[][], ctx: LossContext = {}) {
  const loss = createLoss(referenceOps, spec)
  const u = referenceOps.constant(logits.flat(), [logits.length, logits[0]!.length])
  const y =
    typeof labels[0] === 'number'
      ? referenceOps.constant(labels as number[], [labels.length], 'int32')
      : referenceOps.constant((labels as number[][]).flat(), [labels.length, C])
  const evaluation = loss.evaluate(u, y, ctx)
  return {
    loss: evaluation.loss.data[0]!,
    perturbed: evaluation.batch.logits.data,
    grad: loss.hasClosedFormGradient ? loss.gradient(u, y, ctx).data : undefined,
  }
}

/** The outputs of a loss model off the reference by more than 1e-4 relative, a line each. */
function mismatches(where: string, got: LossModelResult, want: ReturnType<typeof reference>): string[] {
  const errors = {
    loss: relativeError([got.loss], [want.loss]),
    perturbed: relativeError(got.perturbedLogits, want.perturbed),
    grad: want.grad === undefined ? (got.gradLogits === undefined ? 0 : Infinity) : relativeError(got.gradLogits ?? [], want.grad),
  }
  return Object.entries(errors)
    .filter(([, e]) => !(e <= 1e-4))
    .map(([what, e]) => `${where} ${what}: ${e}`)
}

const exported = new Map<string, ExportedLossModel>()

beforeAll(() => {
  for (const k of CASES) exported.set(k.label, exportLossModel(k.spec, { numClasses: C, ...k.options }))
})

describe('exportLossModel', () => {
  it('every exported rule passes the ONNX checker with full shape inference', async () => {
    const verdicts = await checkModels(Object.fromEntries([...exported].map(([label, m]) => [label, m.bytes])))
    expect(verdicts.filter((v) => !v.ok)).toEqual([])
    expect(verdicts.length).toBe(CASES.length)
  })

  it('the checker used above does reject a model whose declared shape contradicts inference', async () => {
    const bad = serializeModel({
      name: 'bad',
      opset: 17,
      nodes: [{ name: 'n', opType: 'Identity', inputs: ['c'], outputs: ['out'], attributes: [] }],
      initializers: [{ name: 'c', elemType: 'float32', dims: [3], data: [1, 2, 3] }],
      inputs: [],
      outputs: [{ name: 'out', elemType: 'float32', dims: [2] }],
    })
    const [verdict] = await checkModels({ bad })
    expect(verdict!.ok).toBe(false)
    expect(verdict!.message).toMatch(/shape/i)
  })

  it('declares logits float32 [N, C] and labels int64 [N] with N dynamic, opset 17, default domain only', () => {
    const model = onnx.ModelProto.decode(exported.get('lpl-prior')!.bytes)
    expect(model.opsetImport.map((o) => [o.domain, Number(o.version)])).toEqual([['', 17]])
    expect(model.graph!.node!.every((n) => !n.domain)).toBe(true)
    const io = (vs: onnxTypes.IValueInfoProto[] | null | undefined) =>
      vs!.map((v) => [v.name, v.type!.tensorType!.elemType, v.type!.tensorType!.shape!.dim!.map((d) => d.dimParam || Number(d.dimValue))])
    expect(io(model.graph!.input)).toEqual([
      ['logits', 1, ['N', C]],
      ['labels', 7, ['N']],
    ])
    expect(io(model.graph!.output)).toEqual([
      ['loss', 1, []],
      ['perturbed_logits', 1, ['N', C]],
      ['grad_logits', 1, ['N', C]],
    ])
    // The segment sums of the search are ScatterND additions, not one-hot products.
    const ops = new Set(model.graph!.node!.map((n) => n.opType))
    expect(ops.has('ScatterND')).toBe(true)
    expect(ops.has('MatMul')).toBe(false)
    expect(JSON.parse(model.metadataProps.find((p) => p.key === 'logit_perturb.spec')!.value!).rule).toBe('lpl')
  })

  it('has grad_logits exactly for the rules with a closed-form gradient', () => {
    for (const k of CASES) {
      const m = exported.get(k.label)!
      expect(m.hasClosedFormGradient, k.label).toBe(!k.through)
      // A rule whose state training calls move outputs the moved state after the loss's outputs.
      const next = m.inputs.filter((i) => i.startsWith('state_')).map((i) => `next_${i}`)
      expect(m.outputs, k.label).toEqual([
        ...(k.through ? ['loss', 'perturbed_logits'] : ['loss', 'perturbed_logits', 'grad_logits']),
        ...next,
      ])
    }
  })

  it('gives the reference loss, perturbed logits and gradient, at two batch sizes, to 1e-4', async () => {
    const problems: string[] = []
    for (const [index, k] of CASES.entries()) {
      const session = await createSession(exported.get(k.label)!.bytes)
      try {
        for (const [n, scale] of [
          [7, 2],
          [19, 6],
        ] as const) {
          const { logits, labels } = batch(100 * index + n, n, scale, k.heads)
          // A stateful model's first call, from the rule's fresh state.
          const fresh = exported.get(k.label)!.inputs.some((i) => i.startsWith('state_'))
            ? createLoss(referenceOps, k.spec).rule.state?.initial(C)
            : undefined
          const got = await runLossModel(session, logits, labels, fresh === undefined ? {} : { state: fresh })
          problems.push(...mismatches(`${k.label} N=${n}`, got, reference(k.spec, logits, labels, k.options?.context)))
        }
      } finally {
        await session.release()
      }
    }
    expect(problems).toEqual([])
  })

  it('computes batch-dependent choices in the graph: official-balanced follows the batch', async () => {
    // The same model on two batches whose class confidences are ordered oppositely must perturb
    // them differently, as the reference does; a split frozen at export time could not.
    const model = exported.get('official-balanced')!.bytes
    const spec = CASES.find((k) => k.label === 'official-balanced')!.spec
    const labels = [0, 1, 2, 3, 4, 0, 1, 2, 3, 4]
    const confident = (c: number) =>
      Array.from({ length: 10 }, (_, i) => Array.from({ length: C }, (_, j) => (j === labels[i] ? (labels[i] === c ? 4 : 0.5) : 0)))
    const targetShift: number[] = []
    for (const c of [0, 4]) {
      const got = await runLossModel(model, confident(c), labels)
      expect(relativeError(got.perturbedLogits, reference(spec, confident(c), labels).perturbed)).toBeLessThan(1e-4)
      targetShift.push(got.perturbedLogits[0]! - confident(c)[0]![0]!) // sample 0 is of class 0
    }
    // Class 0 is the confident class of the first batch (negative augmentation: its target logit
    // rises) and an unsure one in the second (positive: it falls).
    expect(targetShift[0]).toBeGreaterThan(0)
    expect(targetShift[1]).toBeLessThan(0)
  })

  it('carries the confidence split state through inputs and outputs with state "io"', async () => {
    const spec = { rule: 'lpl', split: 'confidence', momentum: 0.8 } satisfies RuleInput
    const m = exportLossModel(spec, { numClasses: C, state: 'io' })
    expect(m.inputs).toEqual(['logits', 'labels', 'state_confidence', 'state_seen'])
    expect(m.outputs.slice(-2)).toEqual(['next_state_confidence', 'next_state_seen'])
    expect((await checkModels({ state: m.bytes }))[0]!.ok).toBe(true)
    const loss = createLoss(referenceOps, spec)
    let state: { confidence: Float32Array; seen: Float32Array } = { confidence: new Float32Array(C), seen: new Float32Array(C) }
    for (const [step, n] of [4, 11, 6].entries()) {
      const { logits, labels } = batch(900 + step, n, 2)
      const out = await runModel(m.bytes, {
        logits: { data: Float32Array.from(logits.flat()), dims: [n, C] },
        labels: { data: BigInt64Array.from(labels, BigInt), dims: [n] },
        state_confidence: { data: state.confidence, dims: [C] },
        state_seen: { data: state.seen, dims: [C] },
      })
      const want = loss(referenceOps.constant(logits.flat(), [n, C]), referenceOps.constant(labels, [n], 'int32')).data[0]!
      expect(relativeError(out.loss!.data as Float32Array, [want]), `batch ${step}`).toBeLessThan(1e-4)
      const next = loss.getState()!
      expect(relativeError(out.next_state_confidence!.data as Float32Array, next.confidence!.data)).toBeLessThan(1e-4)
      expect(Array.from(out.next_state_seen!.data as Float32Array)).toEqual(Array.from(next.seen!.data))
      state = { confidence: out.next_state_confidence!.data as Float32Array, seen: out.next_state_seen!.data as Float32Array }
    }
  })

  it('exports at opset 18 with the same results', async () => {
    const spec = { rule: 'lpl', split: 'confidence' } satisfies RuleInput
    const m18 = exportLossModel(spec, { numClasses: C, opset: 18 })
    expect(Number(onnx.ModelProto.decode(m18.bytes).opsetImport[0]!.version)).toBe(18)
    const { logits, labels } = batch(5, 9, 3)
    const a = await runLossModel(m18.bytes, logits, labels)
    const b = await runLossModel(exportLossModel(spec, { numClasses: C }).bytes, logits, labels)
    expect(relativeError(a.perturbedLogits, b.perturbedLogits)).toBeLessThan(1e-6)
  })

  it('refuses a missing or contradicting class count, a bad opset, and bad labels at run time', async () => {
    expect(refusalMessage(() => exportLossModel({ rule: 'ce' }))).toMatch(/^INVALID_PARAMETER: numClasses: .*pass numClasses/)
    expect(refusalMessage(() => exportLossModel({ rule: 'logit-adjustment', classCounts: [1, 2] }, { numClasses: 3 }))).toMatch(
      /^INVALID_PARAMETER: numClasses: is 3 but the spec .*has 2/,
    )
    expect(exportLossModel({ rule: 'isda' }, { context: { isda: { weights: WEIGHTS, covariances: COVARIANCES } } }).numClasses).toBe(C)
    expect(refusalMessage(() => exportLossModel({ rule: 'ce' }, { numClasses: 2, opset: 13 }))).toMatch(/^INVALID_PARAMETER: opset/)
    expect(refusalMessage(() => exportLossModel({ rule: 'nope' } as never, { numClasses: 2 }))).toMatch(/^UNKNOWN_RULE/)
    const model = exported.get('ce')!.bytes
    await expect(runLossModel(model, [[0, 0, 0, 0, 0]], [5])).rejects.toThrow(/label 5 at index 0/)
    await expect(runLossModel(model, [[0, 0, 0, 0, 0]], [1, 2])).rejects.toThrow(/2 labels for 1 rows/)
  })
})

describe('exportLossModel, multi-label rules', () => {
  const LABEL_COUNTS = [4000, 0, 900, 120, 5000]
  /** Every multi-label rule of the shared table, and the through-gradient with normalized steps. */
  const ML_CASES: ExportCase[] = [
    ...multiLabelVariants(LABEL_COUNTS, 5000).map(({ name, spec, through }) => ({ label: name, spec, through })),
    {
      label: 'lpl-multilabel through, normalized',
      spec: { rule: 'lpl-multilabel', classCounts: LABEL_COUNTS, gradient: 'through' },
      through: true,
    },
  ]
  const models = new Map(ML_CASES.map((k) => [k.label, exportLossModel(k.spec, { numClasses: C })]))

  /** Rows of 0 and 1 with long-tailed label rates (label 1 has no positives), logits uniform at `scale`. */
  const labelBatch = (seed: number, n: number, scale: number) => multiLabelBatch(mulberry32(seed), n, [0.8, 0, 0.4, 0.2, 0.95], scale, 0)

  it('take labels as float32 [N, C], pass the ONNX checker, and have grad_logits unless through', async () => {
    const verdicts = await checkModels(Object.fromEntries([...models].map(([label, m]) => [label, m.bytes])))
    expect(verdicts.filter((v) => !v.ok)).toEqual([])
    for (const k of ML_CASES) {
      const m = models.get(k.label)!
      expect(m.task, k.label).toBe('multi')
      // A rule whose state training calls move outputs the moved state after the loss's outputs.
      const next = m.inputs.filter((i) => i.startsWith('state_')).map((i) => `next_${i}`)
      expect(m.outputs, k.label).toEqual([
        ...(k.through ? ['loss', 'perturbed_logits'] : ['loss', 'perturbed_logits', 'grad_logits']),
        ...next,
      ])
      const graph = onnx.ModelProto.decode(m.bytes).graph!
      const labels = graph.input!.find((v) => v.name === 'labels')!.type!.tensorType!
      expect([labels.elemType, labels.shape!.dim!.map((d) => d.dimParam || Number(d.dimValue))], k.label).toEqual([1, ['N', C]])
      // σ enters through the closed-form gradient, and LPL's search.
      expect(
        graph.node!.some((n) => n.opType === 'Sigmoid'),
        k.label,
      ).toBe(true)
    }
  })

  it('give the reference loss, perturbed logits and gradient, at two batch sizes, to 1e-4', async () => {
    const problems: string[] = []
    for (const [index, k] of ML_CASES.entries()) {
      const session = await createSession(models.get(k.label)!.bytes)
      try {
        for (const [n, scale] of [
          [6, 2],
          [17, 8],
        ] as const) {
          const { logits, labels } = labelBatch(50 * index + n, n, scale)
          const got = await runLossModel(session, logits, labels)
          problems.push(...mismatches(`${k.label} N=${n}`, got, reference(k.spec, logits, labels)))
        }
      } finally {
        await session.release()
      }
    }
    expect(problems).toEqual([])
  })

  it('runLossModel checks multi-label rows on the host', async () => {
    const model = models.get('bce')!.bytes
    const row = [0, 0, 0, 0, 0]
    await expect(
      runLossModel(
        model,
        [row, row],
        [
          [1, 0, 0, 0, 0],
          [0, 1, 0.5, 0, 0],
        ],
      ),
    ).rejects.toThrow(/entry 0.5 at row 1, label 2/)
    await expect(
      runLossModel(
        model,
        [row, row],
        [
          [1, 0, 0, 0, 0],
          [0, 1],
        ],
      ),
    ).rejects.toThrow(/label row 1 has 2 entries for 5 logits/)
  })
})

describe('a rule with several heads (docs/spec.md#313-multi-head-rules)', () => {
  it('declares logits [N, E·C] and labels over C, and runLossModel refuses the width of one head, labels ≥ C and −∞', async () => {
    const model = exportLossModel({ rule: 'diverse-experts', classCounts: COUNTS })
    expect(model.heads).toBe(3)
    expect(model.numClasses).toBe(C)
    const io = onnx.ModelProto.decode(model.bytes).graph!.input!.map((v) =>
      v.type!.tensorType!.shape!.dim!.map((d) => d.dimParam || Number(d.dimValue)),
    )
    expect(io).toEqual([['N', 3 * C], ['N']])
    const { logits, labels } = batch(5, 4, 2, 3)
    const got = await runLossModel(model.bytes, logits, labels)
    expect(mismatches('diverse-experts', got, reference({ rule: 'diverse-experts', classCounts: COUNTS }, logits, labels))).toEqual([])
    const oneHead = logits.map((row) => row.slice(0, C))
    expect((await refusalAsync(() => runLossModel(model.bytes, oneHead, labels))).message).toMatch(/takes \[N, 15\]: 3 heads of 5 classes/)
    expect((await refusalAsync(() => runLossModel(model.bytes, logits, [0, 1, 5, 2]))).code).toBe('LABEL_VALUE')
    const masked = logits.map((row, i) => row.map((u, j) => (i === 0 && j === 7 ? Number.NEGATIVE_INFINITY : u)))
    expect((await refusalAsync(() => runLossModel(model.bytes, masked, labels))).code).toBe('LOGITS_NOT_FINITE')
  })
})

describe('masked classes (docs/spec.md#12-masked-classes): -Infinity in a non-target logit', () => {
  /** A batch with two non-target classes of most rows at −∞ (every row keeps its label and one more class). */
  function maskedBatch(seed: number, n: number): SingleLabelBatch & { masked: Set<number> } {
    const { logits, labels } = batch(seed, n, 3)
    const rand = mulberry32(seed + 1)
    const masked = new Set<number>()
    logits.forEach((row, i) => {
      for (let j = 0; j < C; j++) if (j !== labels[i] && rand() < 0.4 && masked.size % 7 !== 6) masked.add(i * C + j)
      for (let j = 0; j < C; j++) if (masked.has(i * C + j)) row[j] = Number.NEGATIVE_INFINITY
    })
    return { logits, labels, masked }
  }

  it('every exported single-label rule gives the reference loss and gradient, the gradient exactly 0 and the perturbed logits -Infinity at the masked classes', async () => {
    const problems: string[] = []
    const cases: ExportCase[] = [
      // The rules with several heads take no masked class (docs/spec.md#313-multi-head-rules).
      ...CASES.filter((k) => k.heads === undefined),
      { label: 'la, smoothed', spec: { rule: 'logit-adjustment', classCounts: COUNTS, labelSmoothing: 0.1 } },
    ]
    for (const [index, k] of cases.entries()) {
      const model = exported.get(k.label) ?? exportLossModel(k.spec, { numClasses: C, ...k.options })
      const { logits, labels, masked } = maskedBatch(300 + index, 9)
      const fresh = model.inputs.some((i) => i.startsWith('state_')) ? createLoss(referenceOps, k.spec).rule.state?.initial(C) : undefined
      const got = await runLossModel(model.bytes, logits, labels, fresh === undefined ? {} : { state: fresh })
      const want = reference(k.spec, logits, labels, k.options?.context)
      if (!(relativeError([got.loss], [want.loss]) <= 1e-4)) problems.push(`${k.label} loss: ${got.loss} vs ${want.loss}`)
      got.perturbedLogits.forEach((z, i) => {
        if (masked.has(i) !== (z === Number.NEGATIVE_INFINITY)) problems.push(`${k.label} perturbed[${i}] = ${z}`)
      })
      got.gradLogits?.forEach((g, i) => {
        if (masked.has(i) ? g !== 0 : !(Math.abs(g - want.grad![i]!) <= 1e-4 * Math.max(1e-2, Math.abs(want.grad![i]!))))
          problems.push(`${k.label} grad[${i}] = ${g} vs ${want.grad![i]}`)
      })
    }
    expect(problems).toEqual([])
  })

  it('runLossModel refuses NaN, +Infinity, -Infinity at a counted target and a row masked in every class, and takes -Infinity at the label of a row that does not count', async () => {
    const model = exportLossModel({ rule: 'logit-adjustment', classCounts: COUNTS }, { mask: true, ignoreIndex: 255 }).bytes
    const row = (...masked: number[]) => Array.from({ length: C }, (_, j) => (masked.includes(j) ? Number.NEGATIVE_INFINITY : j / 4))
    const ones = { mask: [1, 1] }
    const refused = async (logits: number[][], labels: number[], rows = ones) =>
      refusalAsync(() => runLossModel(model, logits, labels, rows))
    for (const [bad, text] of [
      [Number.NaN, /NaN at row 1, class 2 is not finite/],
      [Number.POSITIVE_INFINITY, /Infinity at row 1, class 2 is not finite/],
    ] as const) {
      const e = await refused([row(1), row(1).map((v, j) => (j === 2 ? bad : v))], [0, 0])
      expect(codeAndMessage(e)).toMatch(text)
      expect(e.code).toBe('LOGITS_NOT_FINITE')
    }
    expect(codeAndMessage(await refused([row(1), row(3, 4)], [0, 3]))).toMatch(
      /^LOGITS_NOT_FINITE: logits: -Infinity at row 1, class 3, the row's label: a masked class cannot be a target/,
    )
    expect(codeAndMessage(await refused([row(0, 1, 2, 3, 4), row(1)], [0, 0]))).toMatch(
      /^LOGITS_NOT_FINITE: logits: row 0 is -Infinity in every class/,
    )
    // A row that does not count may mask its label: masked out, or ignored.
    for (const [labels, mask] of [
      [
        [0, 3],
        [1, 0],
      ],
      [
        [0, 255],
        [1, 1],
      ],
    ]) {
      const got = await runLossModel(model, [row(1), row(3, 4)], labels!, { mask: mask! })
      expect(Number.isFinite(got.loss)).toBe(true)
      expect(Array.from(got.gradLogits!).every(Number.isFinite)).toBe(true)
    }
  })
})
