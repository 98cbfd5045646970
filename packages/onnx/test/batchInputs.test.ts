import { createLoss, referenceOps } from '@logit-perturb/core'
import { codeAndMessage, refusalAsync, relativeError } from '@logit-perturb/conformance'
import { describe, expect, it } from 'vitest'
import { exportLossModel, runLossModel } from '../src/index.js'

/** GCL's training graph takes its noise as an input (a graph draws nothing); its evaluation graph reads none. */
describe("a rule's batch inputs in an ONNX graph (GCL's noise)", () => {
  const spec = { rule: 'gaussian-clouded-logit', classCounts: [400, 60, 9, 2], scale: 8, margin: 0.2, noiseMul: 1 } as const
  const logits = [
    [0.3, -0.2, 0.5, 0.1],
    [-0.6, 0.4, 0.2, -0.1],
    [0.9, 0.0, -0.3, 0.7],
  ]
  const labels = [2, 1, 3]
  const noise = [0.5, -0.9, 0.1, -1, 0.25, 0.75, -0.3, 0.6, 1, -0.45, 0.05, -0.8]
  const reference = (ctx: object) => {
    const loss = createLoss(referenceOps, spec)
    const u = referenceOps.constant(logits.flat(), [3, 4])
    const y = referenceOps.constant(labels, [3], 'int32')
    return { loss: loss(u, y, ctx).data[0]!, gradient: loss.gradient(u, y, ctx).data }
  }

  it('a training graph takes noise [N, C]: the reference loss, perturbed logits and gradient at that noise', async () => {
    const model = exportLossModel(spec)
    expect(model.inputs).toEqual(['logits', 'labels', 'noise'])
    const out = await runLossModel(model.bytes, logits, labels, { batchInputs: { noise } })
    const want = reference({ noise: referenceOps.constant(noise, [3, 4]) })
    expect(relativeError([out.loss], [want.loss])).toBeLessThan(1e-5)
    expect(relativeError(out.gradLogits!, want.gradient)).toBeLessThan(1e-5)
    // Another noise, another loss: the graph reads its input.
    const other = await runLossModel(model.bytes, logits, labels, { batchInputs: { noise: noise.map((v) => v / 2) } })
    expect(Math.abs(other.loss - out.loss)).toBeGreaterThan(1e-3)
  })

  it('refuses a training call without the noise, of the wrong size or out of [−1, 1]', async () => {
    const { bytes } = exportLossModel(spec)
    expect(codeAndMessage(await refusalAsync(() => runLossModel(bytes, logits, labels)))).toMatch(
      /^INVALID_MODEL: .*pass batchInputs\.noise/,
    )
    expect(
      codeAndMessage(await refusalAsync(() => runLossModel(bytes, logits, labels, { batchInputs: { noise: noise.slice(1) } }))),
    ).toMatch(/^SHAPE_MISMATCH/)
    const tooLarge = noise.map((v, k) => (k === 5 ? 1.5 : v))
    expect(codeAndMessage(await refusalAsync(() => runLossModel(bytes, logits, labels, { batchInputs: { noise: tooLarge } })))).toMatch(
      /^MISSING_CONTEXT: noise: entry 1.5 at index 5/,
    )
  })

  it('an evaluation graph has no noise input and is the reference evaluation call (no cloud)', async () => {
    const model = exportLossModel(spec, { training: false })
    expect(model.inputs).toEqual(['logits', 'labels'])
    const out = await runLossModel(model.bytes, logits, labels)
    expect(relativeError([out.loss], [reference({ training: false }).loss])).toBeLessThan(1e-5)
  })
})
