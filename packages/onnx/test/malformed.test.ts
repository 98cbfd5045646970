import { parseSpec, postHocAdjust, referenceOps } from '@logit-perturb/core'
import { mulberry32, refusalMessage } from '@logit-perturb/conformance'
import { describe, expect, it } from 'vitest'
import { appendPostHocAdjustment, exportLossModel } from '../src/index.js'
import { readModel } from '../src/readModel.js'
import { onnx } from '../src/serialize.js'
import { classifierModel } from './support/classifier.js'

const COUNTS = [50, 10, 2]
const WEIGHTS = [
  {
    kernel: [
      [1, -1, 0.5, 0],
      [0, 1, -0.5, 2],
    ],
    bias: [0, 0.1, 0, -0.2],
  },
  {
    kernel: [
      [1, 0, 0],
      [0, 1, 0],
      [0, 0, 1],
      [1, 1, -1],
    ],
    bias: [0, 0, 0],
  },
]
const GOOD = classifierModel(WEIGHTS)

/** The classifier with its `logits` output declared with other dimensions. */
function withLogitsDims(dims: ({ dimValue: number } | { dimParam: string })[]): Uint8Array {
  const model = onnx.ModelProto.decode(GOOD)
  model.graph!.output![0]!.type!.tensorType!.shape = { dim: dims }
  return onnx.ModelProto.encode(model).finish()
}

describe('appendPostHocAdjustment refuses malformed models with a typed error naming the problem', () => {
  it('accepts the well-formed model (the cases below differ from it in one way each)', () => {
    expect(appendPostHocAdjustment(GOOD, { classCounts: COUNTS }).length).toBeGreaterThan(GOOD.length)
  })

  it('truncated bytes, at every length', () => {
    for (let n = 0; n < GOOD.length; n++) {
      expect(
        refusalMessage(() => appendPostHocAdjustment(GOOD.subarray(0, n), { classCounts: COUNTS })),
        `${n} bytes`,
      ).toMatch(/^INVALID_MODEL: model: /)
    }
    expect(refusalMessage(() => appendPostHocAdjustment(GOOD.subarray(0, GOOD.length >> 1), { classCounts: COUNTS }))).toMatch(/truncated/)
  })

  it('random bytes, and bytes of another kind of file', () => {
    const rand = mulberry32(3)
    for (let k = 0; k < 200; k++) {
      const bytes = Uint8Array.from({ length: 1 + Math.floor(rand() * 300) }, () => Math.floor(rand() * 256))
      expect(
        refusalMessage(() => appendPostHocAdjustment(bytes, { classCounts: COUNTS })),
        `random model ${k}`,
      ).toMatch(/^INVALID_MODEL: /)
    }
    expect(refusalMessage(() => appendPostHocAdjustment(new TextEncoder().encode('{"not": "onnx"}'), { classCounts: COUNTS }))).toMatch(
      /^INVALID_MODEL: /,
    )
    expect(refusalMessage(() => appendPostHocAdjustment(new Uint8Array(0), { classCounts: COUNTS }))).toMatch(/^INVALID_MODEL: .*empty/)
    expect(refusalMessage(() => readModel('model.onnx' as unknown as Uint8Array))).toMatch(/^INVALID_MODEL: .*Uint8Array/)
  })

  it('no such output', () => {
    expect(refusalMessage(() => appendPostHocAdjustment(GOOD, { classCounts: COUNTS, output: 'scores' }))).toMatch(
      /^INVALID_MODEL: output: the model has no output named "scores"; its outputs are "logits"/,
    )
  })

  it('logits of the wrong rank, or without a declared shape', () => {
    expect(
      refusalMessage(() =>
        appendPostHocAdjustment(withLogitsDims([{ dimParam: 'batch' }, { dimValue: 3 }, { dimValue: 1 }]), { classCounts: COUNTS }),
      ),
    ).toMatch(/^LOGITS_SHAPE: output: output logits must be \[N, C\] logits, but has rank 3 \(\[batch, 3, 1\]\)/)
    expect(refusalMessage(() => appendPostHocAdjustment(withLogitsDims([{ dimValue: 3 }]), { classCounts: COUNTS }))).toMatch(
      /^LOGITS_SHAPE: .*rank 1/,
    )
    const shapeless = onnx.ModelProto.decode(GOOD)
    shapeless.graph!.output![0]!.type!.tensorType!.shape = null
    expect(refusalMessage(() => appendPostHocAdjustment(onnx.ModelProto.encode(shapeless).finish(), { classCounts: COUNTS }))).toMatch(
      /^LOGITS_SHAPE: .*declares no shape/,
    )
  })

  it('a class count differing from the number of counts, in the model or in a spec', () => {
    expect(refusalMessage(() => appendPostHocAdjustment(GOOD, { classCounts: [5, 4, 3, 2] }))).toMatch(
      /^CLASS_COUNTS_LENGTH: classCounts: the model's output logits has 3 classes but there are 4 class counts/,
    )
    expect(refusalMessage(() => appendPostHocAdjustment(GOOD, { spec: { rule: 'balanced-softmax', classCounts: [5, 4] } }))).toMatch(
      /^CLASS_COUNTS_LENGTH: .*3 classes but there are 2/,
    )
    // A symbolic class dimension cannot be checked here, and is accepted.
    expect(
      appendPostHocAdjustment(withLogitsDims([{ dimParam: 'batch' }, { dimParam: 'classes' }]), { classCounts: COUNTS }).length,
    ).toBeGreaterThan(0)
  })

  it('outputs that are not logits computed by the model', () => {
    const ints = onnx.ModelProto.decode(GOOD)
    ints.graph!.output![0]!.type!.tensorType!.elemType = onnx.TensorProto.DataType.INT64
    expect(refusalMessage(() => appendPostHocAdjustment(onnx.ModelProto.encode(ints).finish(), { classCounts: COUNTS }))).toMatch(
      /^INVALID_MODEL: .*INT64, not float logits/,
    )
    const orphan = onnx.ModelProto.decode(GOOD)
    orphan.graph!.node = orphan.graph!.node!.slice(0, -1)
    expect(refusalMessage(() => appendPostHocAdjustment(onnx.ModelProto.encode(orphan).finish(), { classCounts: COUNTS }))).toMatch(
      /^INVALID_MODEL: .*no node of the model computes its output logits/,
    )
    const noOpset = onnx.ModelProto.decode(GOOD)
    noOpset.opsetImport = []
    expect(refusalMessage(() => appendPostHocAdjustment(onnx.ModelProto.encode(noOpset).finish(), { classCounts: COUNTS }))).toMatch(
      /^INVALID_MODEL: .*imports no opset/,
    )
    const old = onnx.ModelProto.decode(GOOD)
    old.opsetImport = [{ domain: '', version: 6 }]
    expect(refusalMessage(() => appendPostHocAdjustment(onnx.ModelProto.encode(old).finish(), { classCounts: COUNTS }))).toMatch(
      /^INVALID_MODEL: .*opset 6 is older than 7/,
    )
  })

  it('bad options: both or neither of spec and counts, a spec without counts, bad counts or τ, a taken name', () => {
    expect(refusalMessage(() => appendPostHocAdjustment(GOOD, {}))).toMatch(/^INVALID_PARAMETER: .*exactly one of spec and classCounts/)
    expect(refusalMessage(() => appendPostHocAdjustment(GOOD, { classCounts: COUNTS, spec: { rule: 'ce' } }))).toMatch(/^INVALID_PARAMETER/)
    expect(refusalMessage(() => appendPostHocAdjustment(GOOD, { spec: { rule: 'ce' } }))).toMatch(
      /^INVALID_SPEC: spec: a ce spec carries no classCounts/,
    )
    expect(refusalMessage(() => appendPostHocAdjustment(GOOD, { classCounts: [5, -1, 2] }))).toMatch(
      /^CLASS_COUNTS_VALUE: classCounts\[1\]/,
    )
    expect(refusalMessage(() => appendPostHocAdjustment(GOOD, { classCounts: [0, 0, 0] }))).toMatch(
      /^CLASS_COUNTS_VALUE: .*every class count is zero/,
    )
    expect(refusalMessage(() => appendPostHocAdjustment(GOOD, { classCounts: COUNTS, tau: NaN }))).toMatch(/^INVALID_PARAMETER: tau/)
    // τ follows the core's one rule (checkTau) here as in postHocAdjust and every spec: τ < 0 is refused alike.
    const negative = refusalMessage(() => appendPostHocAdjustment(GOOD, { classCounts: COUNTS, tau: -1 }))
    expect(negative).toMatch(/^INVALID_PARAMETER: tau: /)
    expect(negative).toBe(refusalMessage(() => postHocAdjust(referenceOps, referenceOps.constant([0, 0, 0], [1, 3]), COUNTS, -1)))
    expect(negative).toBe(refusalMessage(() => parseSpec({ rule: 'logit-adjustment', classCounts: COUNTS, tau: -1 })))
    expect(refusalMessage(() => appendPostHocAdjustment(GOOD, { classCounts: COUNTS, probabilities: 'relu0' }))).toMatch(
      /^INVALID_PARAMETER: probabilities: .*relu0/,
    )
  })

  it('a loss model from exportLossModel is edited like any other (its first output is the scalar loss: refused)', () => {
    const loss = exportLossModel({ rule: 'ce' }, { numClasses: 3 }).bytes
    expect(refusalMessage(() => appendPostHocAdjustment(loss, { classCounts: COUNTS }))).toMatch(/^LOGITS_SHAPE: .*rank 0/)
    expect(appendPostHocAdjustment(loss, { classCounts: COUNTS, output: 'perturbed_logits' }).length).toBeGreaterThan(loss.length)
  })
})
