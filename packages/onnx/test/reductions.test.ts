/**
 * Exported losses take the core's reductions, sample weights and mask: the model's outputs equal
 * the float64 reference's loss, per-sample losses and closed-form gradient on the same inputs.
 */
import { createLoss, referenceOps } from '@logit-perturb/core'
import { headLogits, mulberry32, refusalAsync, relativeError, singleLabelVariants, uniformLogits } from '@logit-perturb/conformance'
import { describe, expect, it } from 'vitest'
import { exportLossModel, runLossModel, runModel } from '../src/index.js'

const COUNTS = [4000, 0, 900, 120, 15]
const C = COUNTS.length
const N = 12

const rand = mulberry32(7)
const logits = uniformLogits(rand, N, C, 3).map((row) => row.map((v) => Math.fround(v)))
const labels = [0, 2, 2, 3, 4, 0, 0, 3, 2, 4, 0, 2]
const mask = [1, 1, 0, 1, 1, 1, 0, 1, 1, 0, 1, 1]
const sampleWeight = [1, 0.5, 2, 1, 3, 1, 1, 0.25, 1, 1, 2, 1].map((v) => Math.fround(v))

const ref = referenceOps
const refInputs = {
  logits: ref.constant(logits.flat(), [N, C]),
  labels: ref.constant(labels, [N], 'int32'),
  ctx: { mask: ref.constant(mask, [N]), sampleWeight: ref.constant(sampleWeight, [N]) },
}

function expectNear(actual: ArrayLike<number>, expected: ArrayLike<number>, what: string) {
  expect(relativeError(Float64Array.from(actual), Float64Array.from(expected)), what).toBeLessThan(1e-4)
}

describe('exported losses with reductions, sample weights and a mask', () => {
  it.each(
    singleLabelVariants(COUNTS)
      .filter((v) => v.spec.rule !== 'isda')
      .map((v) => [v.name, v] as const),
  )('%s: mean and none outputs equal the reference', async (_name, { spec, heads = 1 }) => {
    // A rule with E heads takes logits [N, E·C].
    const wide = headLogits(logits.flat(), N, C, heads)
    const refLogits = ref.constant(wide, [N, heads * C])
    for (const reduction of ['mean', 'none'] as const) {
      const exported = exportLossModel(spec, { numClasses: C, reduction, sampleWeight: true, mask: true })
      // A rule whose state a stateless model would restart (seesaw's counts) takes it as inputs: here, fresh.
      const fresh = exported.inputs.includes('state_counts') ? createLoss(ref, spec).rule.state?.initial(C) : undefined
      expect(exported.inputs).toEqual(['logits', 'labels', 'sample_weight', 'mask', ...Object.keys(fresh ?? {}).map((f) => `state_${f}`)])
      const out = await runModel(exported.bytes, {
        logits: { data: Float32Array.from(wide), dims: [N, heads * C] },
        labels: { data: BigInt64Array.from(labels.map(BigInt)), dims: [N] },
        sample_weight: { data: Float32Array.from(sampleWeight), dims: [N] },
        mask: { data: Float32Array.from(mask), dims: [N] },
        ...Object.fromEntries(Object.entries(fresh ?? {}).map(([f, v]) => [`state_${f}`, { data: Float32Array.from(v), dims: [C] }])),
      })
      const expected = createLoss(ref, spec, { reduction })
      const evaluation = expected.evaluate(refLogits, refInputs.labels, refInputs.ctx)
      expect(out.loss!.dims).toEqual(reduction === 'none' ? [N] : [])
      expectNear(out.loss!.data as Float32Array, evaluation.loss.data, `${reduction}: loss`)
      if (exported.outputs.includes('grad_logits')) {
        expectNear(
          out.grad_logits!.data as Float32Array,
          createLoss(ref, spec, { reduction }).gradient(refLogits, refInputs.labels, refInputs.ctx).data,
          `${reduction}: gradient`,
        )
      }
    }
  })

  it('runLossModel feeds sample weights and the mask, and refuses them where the model has no such input', async () => {
    const spec = { rule: 'lpl', split: 'prior', classCounts: COUNTS } as const
    const withRows = exportLossModel(spec, { sampleWeight: true, mask: true })
    const result = await runLossModel(withRows.bytes, logits, labels, { sampleWeight, mask })
    expectNear([result.loss], createLoss(ref, spec)(refInputs.logits, refInputs.labels, refInputs.ctx).data, 'loss')
    expect((await refusalAsync(() => runLossModel(withRows.bytes, logits, labels, { mask }))).message).toMatch(
      /takes sample_weight: pass sampleWeight/,
    )
    expect(
      (await refusalAsync(() => runLossModel(withRows.bytes, logits, labels, { sampleWeight, mask: mask.map((m) => m * 2) }))).message,
    ).toMatch(/entry 2 at index 0/)
    const plain = exportLossModel(spec)
    expect((await refusalAsync(() => runLossModel(plain.bytes, logits, labels, { mask }))).message).toMatch(
      /no mask input: export it with mask: true/,
    )
  })
})
