import { codeAndMessage, mulberry32, refusalAsync } from '@logit-perturb/conformance'
import type { onnx as proto } from 'onnx-proto'
import { describe, expect, it } from 'vitest'
import { createSession, exportLossModel, runLossModel, runModel } from '../src/index.js'
import { readModel } from '../src/readModel.js'
import { onnx } from '../src/serialize.js'
import { classifierModel } from './support/classifier.js'

const CLASSIFIER = classifierModel([
  {
    kernel: [
      [1, -1, 0.5],
      [0.3, 0.2, -0.4],
    ],
    bias: [0.1, 0, -0.1],
  },
])
const LOSS = exportLossModel({ rule: 'lpl', split: 'prior', classCounts: [50, 10, 2] }).bytes
const LOGITS = [
  [1, 0, -1],
  [0.5, 2, 0],
]
const LABELS = [0, 2]
const FEEDS = { input: { data: Float32Array.from([1, 2, -1, 0.5]), dims: [2, 2] } }

/** The four ways in: decoding for an edit, opening a session, running a model, running a loss model. */
const ENTRY_POINTS: [string, (bytes: Uint8Array) => unknown][] = [
  ['readModel', (bytes) => readModel(bytes)],
  ['createSession', async (bytes) => (await createSession(bytes)).release()],
  ['runModel', (bytes) => runModel(bytes, FEEDS)],
  ['runLossModel', (bytes) => runLossModel(bytes, LOGITS, LABELS)],
]

/**
 * The typed error `fn` throws or rejects with, as `CODE: message`; anything else fails the test,
 * and so does a message of more than one line or carrying the runtime's source paths.
 */
async function refusal(fn: () => unknown): Promise<string> {
  const e = await refusalAsync(fn)
  expect(e.message).not.toMatch(/\n|\.(cc|h):\d+|onnxruntime::/)
  return codeAndMessage(e)
}

/** `bytes` decoded, edited by `edit` (given the model and its graph) and re-encoded. */
function edited(bytes: Uint8Array, edit: (model: proto.ModelProto, graph: proto.GraphProto) => void): Uint8Array {
  const model = onnx.ModelProto.decode(bytes)
  edit(model, model.graph as proto.GraphProto)
  return onnx.ModelProto.encode(model).finish()
}

/** The loss model edited by `edit`. */
function editedLoss(edit: (model: proto.ModelProto, graph: proto.GraphProto) => void): Uint8Array {
  return edited(LOSS, edit)
}

/**
 * Lengths at which a cut leaves a complete model: the loss model ends with its metadata entries,
 * and a cut between two entries drops the rest whole. Every other cut loses part of a field.
 */
const WHOLE_CUTS = new Set(
  Array.from(
    { length: onnx.ModelProto.decode(LOSS).metadataProps.length },
    (_, k) =>
      editedLoss((m) => {
        m.metadataProps = m.metadataProps.slice(0, k)
      }).length,
  ),
)

describe('every entry point refuses bytes that are not a model with INVALID_MODEL naming the problem', () => {
  it('the well-formed models load and run (the cases below break them)', async () => {
    expect(readModel(LOSS).graph.output.map((o) => o.name)).toEqual(['loss', 'perturbed_logits', 'grad_logits'])
    expect(Object.keys(await runModel(CLASSIFIER, FEEDS))).toEqual(['logits'])
    expect((await runLossModel(LOSS, LOGITS, LABELS)).loss).toBeGreaterThan(0)
    expect(WHOLE_CUTS.size).toBe(4)
  })

  it('an empty array, and something other than bytes', async () => {
    for (const [name, use] of ENTRY_POINTS) {
      expect(await refusal(() => use(new Uint8Array(0))), name).toMatch(/^INVALID_MODEL: model: the model is empty \(0 bytes\)$/)
      expect(await refusal(() => use('model.onnx' as unknown as Uint8Array)), name).toMatch(/^INVALID_MODEL: model: .*must be .*Uint8Array/)
    }
    expect(await refusal(() => runModel(LOSS.buffer as unknown as Uint8Array, FEEDS))).toMatch(
      /^INVALID_MODEL: model: must be ONNX model bytes/,
    )
  })

  it('truncated bytes, at a sample of lengths through the header, the graph and the metadata', async () => {
    const lengths = [
      ...Array.from({ length: 24 }, (_, n) => n),
      ...Array.from({ length: 24 }, (_, k) => Math.floor(((k + 1) * LOSS.length) / 25)),
      LOSS.length - 1,
    ].filter((n) => !WHOLE_CUTS.has(n))
    for (const [name, use] of ENTRY_POINTS) {
      for (const n of lengths) {
        expect(await refusal(() => use(LOSS.subarray(0, n))), `${name}, ${n} of ${LOSS.length} bytes`).toMatch(
          /^INVALID_MODEL: model: (the model is empty|the \d+ bytes are not an ONNX ModelProto \(truncated|the model has no graph \(truncated|the model imports no opset .*\(truncated)/,
        )
      }
    }
    const half = LOSS.subarray(0, LOSS.length >> 1)
    expect(await refusal(() => runLossModel(half, LOGITS, LABELS))).toMatch(
      new RegExp(`^INVALID_MODEL: model: the ${half.length} bytes are not an ONNX ModelProto \\(truncated or not an ONNX file\\?\\): `),
    )
    // Right after the graph, before the opset import: a graph without opset.
    const graphOnly = editedLoss((m) => {
      m.opsetImport = []
      m.metadataProps = []
    })
    expect(LOSS.subarray(0, graphOnly.length)).toEqual(graphOnly)
    expect(await refusal(() => createSession(graphOnly))).toMatch(
      /^INVALID_MODEL: model: the model imports no opset of the default ONNX domain \(truncated\?\)$/,
    )
  })

  it('random bytes (seeded)', async () => {
    const rand = mulberry32(11)
    for (let k = 0; k < 12; k++) {
      const bytes = Uint8Array.from({ length: 1 + Math.floor(rand() * 400) }, () => Math.floor(rand() * 256))
      for (const [name, use] of ENTRY_POINTS) {
        expect(await refusal(() => use(bytes)), `${name}, random model ${k}`).toMatch(
          /^INVALID_MODEL: model: the (\d+ bytes are not an ONNX ModelProto|model has no graph|model imports no opset)/,
        )
      }
    }
    expect(await refusal(() => runLossModel(new TextEncoder().encode('{"not": "onnx"}'), LOGITS, LABELS))).toMatch(
      /^INVALID_MODEL: model: the 15 bytes are not an ONNX ModelProto/,
    )
  })

  it('a model the runtime refuses: its reason on one line, without source paths', async () => {
    const unknownOp = edited(CLASSIFIER, (_, g) => {
      g.node[0]!.opType = 'NoSuchOp'
    })
    expect(await refusal(() => runModel(unknownOp, FEEDS))).toMatch(
      /^INVALID_MODEL: model: onnxruntime-web cannot load the model: No Op registered for NoSuchOp/,
    )
    const dangling = edited(CLASSIFIER, (_, g) => {
      g.output[0]!.name = 'scores'
    })
    expect(await refusal(() => createSession(dangling))).toMatch(
      /^INVALID_MODEL: model: onnxruntime-web cannot load the model: .*Graph output \(scores\) does not exist in the graph/,
    )
    const future = edited(CLASSIFIER, (m) => {
      m.irVersion = 99
    })
    expect(await refusal(() => runLossModel(future, LOGITS, LABELS))).toMatch(
      /^INVALID_MODEL: model: onnxruntime-web cannot load the model: Unsupported model IR version: 99/,
    )
  })
})

describe('valid models with the wrong inputs or outputs', () => {
  it('a classifier given to runLossModel', async () => {
    expect(await refusal(() => runLossModel(CLASSIFIER, LOGITS, LABELS))).toBe(
      'INVALID_MODEL: model: not a loss model from exportLossModel: no input "logits", no input "labels", no output "loss", ' +
        'no output "perturbed_logits" (the model has inputs "input", outputs "logits")',
    )
    const session = await createSession(CLASSIFIER)
    expect(await refusal(() => runLossModel(session, LOGITS, LABELS))).toMatch(
      /^INVALID_MODEL: model: not a loss model from exportLossModel/,
    )
    expect(Object.keys(await runModel(session, FEEDS))).toEqual(['logits']) // a session passed in stays open
    await session.release()
  })

  it('a loss model missing an output', async () => {
    for (const name of ['loss', 'perturbed_logits']) {
      const bytes = editedLoss((_, g) => {
        g.output = g.output.filter((o) => o.name !== name)
      })
      expect(await refusal(() => runLossModel(bytes, LOGITS, LABELS)), name).toMatch(
        new RegExp(
          `^INVALID_MODEL: model: not a loss model from exportLossModel: no output "${name}" \\(the model has inputs "logits", "labels", outputs `,
        ),
      )
    }
    // Without grad_logits it is a loss model of a rule with no closed-form gradient, and runs.
    const noGradient = await runLossModel(
      editedLoss((_, g) => {
        g.output = g.output.filter((o) => o.name !== 'grad_logits')
      }),
      LOGITS,
      LABELS,
    )
    expect(noGradient.gradLogits).toBeUndefined()
  })

  it('a loss model with outputs of the wrong size, or with inputs runLossModel does not feed', async () => {
    // `loss` computed as the perturbed logits: [N, C] where a scalar is expected.
    const wideLoss = editedLoss((_, g) => {
      const producer = g.node.find((node) => node.output!.includes('loss'))!
      producer.output = producer.output!.map((o) => (o === 'loss' ? 'loss_scalar' : o))
      g.node.push(onnx.NodeProto.create({ name: 'wide_loss', opType: 'Identity', input: ['perturbed_logits'], output: ['loss'] }))
      g.output.find((o) => o.name === 'loss')!.type = { tensorType: { elemType: onnx.TensorProto.DataType.FLOAT } }
    })
    expect(await refusal(() => runLossModel(wideLoss, LOGITS, LABELS))).toBe(
      'INVALID_MODEL: model: output loss has 6 values, not a scalar (1)',
    )
    const stateful = exportLossModel({ rule: 'lpl', split: 'confidence' }, { numClasses: 3, state: 'io' }).bytes
    expect(await refusal(() => runLossModel(stateful, LOGITS, LABELS))).toMatch(
      /^INVALID_MODEL: state\.confidence: the model takes state_confidence: pass state\.confidence/,
    )
    expect(await refusal(() => runLossModel(stateful, LOGITS, LABELS, { state: { confidence: [0, 0, 0], seen: [0, 0] } }))).toBe(
      'INVALID_STATE: state.seen: has 2 entries for 3 classes',
    )
    expect(await refusal(() => runLossModel(LOSS, LOGITS, LABELS, { state: { counts: [0, 0, 0] } }))).toMatch(
      /^INVALID_MODEL: state\.counts: the model has no state_counts input/,
    )
  })

  it('a model without outputs', async () => {
    const bytes = edited(CLASSIFIER, (_, g) => {
      g.output = []
    })
    expect(await refusal(() => runModel(bytes, FEEDS))).toBe('INVALID_MODEL: model: the model has no outputs')
    expect(await refusal(() => readModel(bytes))).toBe('INVALID_MODEL: model: the model graph has no outputs')
    expect(await refusal(() => runLossModel(bytes, LOGITS, LABELS))).toMatch(/^INVALID_MODEL: model: not a loss model .*outputs none\)$/)
  })
})
