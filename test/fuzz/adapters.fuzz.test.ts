/**
 * Fuzzing of the adapters' own entry points: tfjs's `labelsFromTargets` and `layersLoss` (targets
 * one-hot, integer, soft, out of range or of the wrong shape; model outputs of the wrong rank),
 * `exportLossModel`'s options (class count, opset, state mode, dense axes, ignore label, targets),
 * and the reference's `explain` and `describeClasses`. Each returns finite values or throws a `LogitPerturbError`, and tfjs
 * leaks no tensor.
 */
import * as tf from '@tensorflow/tfjs-core'
import fc from 'fast-check'
import { createLoss, describeClasses, referenceOps } from '@logit-perturb/core'
import type { RuleInput } from '@logit-perturb/core'
import { outcome } from '@logit-perturb/conformance'
import { onTfjsBackend } from '@logit-perturb/conformance/backends'
import { exportLossModel } from '@logit-perturb/onnx'
import { createTfjsLoss, labelsFromTargets, layersLoss } from '@logit-perturb/tfjs'
import { describe, expect, it } from 'vitest'
import { EDGE_NUMBERS, WRONG_TYPES, integerInput, labelsInput, valuesInput } from './inputs.js'
import { Tally, firstNonFinite, fuzzRuns } from './oracle.js'
import { yieldToEventLoop } from '../support/eventLoop.js'

/** Targets as tfjs models get them: one-hot rows, class ids `[N]` or `[N, 1]`, or broken variants. */
const targets = fc
  .record({
    n: fc.integer({ min: 0, max: 6 }),
    c: fc.integer({ min: 1, max: 5 }),
    form: fc.constantFrom('onehot', 'ids', 'column', 'soft', 'wide', 'rank3'),
  })
  .chain(({ n, c, form }) =>
    labelsInput(n, c).map((ids) => {
      switch (form) {
        case 'onehot':
          return { c, values: ids.flatMap((y) => Array.from({ length: c }, (_, j) => (j === y ? 1 : 0))), shape: [n, c] }
        case 'ids':
          return { c, values: ids, shape: [n] }
        case 'column':
          return { c, values: ids, shape: [n, 1] }
        case 'soft':
          return { c, values: ids.flatMap(() => Array.from({ length: c }, () => 1 / c)), shape: [n, c] }
        case 'wide':
          return { c, values: ids.flatMap((y) => Array.from({ length: c + 2 }, (_, j) => (j === y ? 1 : 0))), shape: [n, c + 2] }
        default:
          return { c, values: ids, shape: [n, 1, 1] }
      }
    }),
  )

const SPECS: RuleInput[] = [
  { rule: 'ce' },
  { rule: 'logit-adjustment', classCounts: [50, 20, 5, 2, 1] },
  { rule: 'lpl', split: 'confidence', numClasses: 5 },
  { rule: 'bce' },
]

/** One drawn call of `explain`: a spec, a batch of `n` rows of 5 classes, and a tolerance for `describeClasses`. */
interface ExplainBatch {
  spec: RuleInput
  tolerance: number | undefined
  n: number
  logits: number[]
  labels: number[]
}

describe('adapters: finite results or a typed error, no tensor leaked', () => {
  const labelTally = new Tally('labelsFromTargets')
  const layersTally = new Tally('layersLoss')
  it('tfjs labelsFromTargets and layersLoss', async () => {
    await onTfjsBackend('cpu', async () => {
      await fc.assert(
        fc.asyncProperty(
          targets,
          fc.constantFrom(...SPECS),
          fc.integer({ min: 1, max: 6 }),
          fc.constantFrom(2, 2, 2, 1, 3),
          async (t, spec, cPred, rank) => {
            await yieldToEventLoop()
            const yTrue = tf.tensor(t.values, t.shape)
            const predShape = rank === 2 ? [t.shape[0]!, cPred] : rank === 1 ? [t.shape[0]! * cPred] : [t.shape[0]!, cPred, 1]
            const yPred = tf.randomNormal(predShape, 0, 3, 'float32', 7)
            const before = tf.memory().numTensors
            const ids = outcome('labelsFromTargets', () => tf.tidy(() => Array.from(labelsFromTargets(yTrue, t.c).dataSync())))
            labelTally.record(ids)
            if (ids.ok)
              expect(
                ids.value.every((y) => Number.isInteger(y) && y >= 0 && y < t.c),
                `ids ${ids.value}`,
              ).toBe(true)
            const loss = createTfjsLoss(spec)
            const value = outcome('layersLoss', () => tf.tidy(() => layersLoss(loss)(yTrue, yPred).dataSync()[0]!))
            layersTally.record(value)
            if (value.ok) expect(Number.isFinite(value.value), `loss ${value.value}`).toBe(true)
            loss.dispose()
            expect(tf.memory().numTensors).toBe(before)
            tf.dispose([yTrue, yPred])
          },
        ),
        { numRuns: fuzzRuns(150) },
      )
    })
  })

  const exportTally = new Tally('exportLossModel options')
  it('ONNX exportLossModel with absurd options', () => {
    const options = fc.record(
      {
        numClasses: fc.oneof(fc.constant(undefined), integerInput(1, 8), fc.constantFrom(...WRONG_TYPES)),
        opset: fc.oneof(fc.constant(undefined), fc.integer({ min: 10, max: 25 }), fc.constantFrom(...EDGE_NUMBERS)),
        state: fc.constantFrom(undefined, 'batch', 'io', 'both', 1),
        training: fc.constantFrom(undefined, true, false, 'yes', 0),
        name: fc.constantFrom(undefined, 'loss', '', 5),
        mask: fc.constantFrom(undefined, true, false, 1),
        sampleWeight: fc.constantFrom(undefined, true, 'no'),
        reduction: fc.constantFrom(undefined, 'mean', 'none', 'avg'),
        context: fc.oneof(fc.constant(undefined), fc.constant(null), fc.record({ epoch: fc.constantFrom(...EDGE_NUMBERS) })),
        spatialDims: fc.oneof(fc.constant(undefined), fc.integer({ min: -1, max: 10 }), fc.constantFrom('any', ...EDGE_NUMBERS)),
        ignoreIndex: fc.oneof(fc.constant(undefined), fc.constantFrom(255, -100, 0, 2 ** 31, '255', ...EDGE_NUMBERS)),
        targets: fc.constantFrom(undefined, 'ids', 'probabilities', 'soft', 1),
      },
      { requiredKeys: [] },
    )
    fc.assert(
      fc.property(fc.constantFrom(...SPECS), options, (spec, opts) => {
        const result = outcome('exportLossModel', () => exportLossModel(spec, opts as never).bytes.length)
        exportTally.record(result)
        if (result.ok) expect(result.value).toBeGreaterThan(0)
      }),
      { numRuns: fuzzRuns(150) },
    )
  })

  const explainTally = new Tally('explain')
  it('reference explain and describeClasses', () => {
    const batch: fc.Arbitrary<ExplainBatch> = fc
      .record({
        n: fc.integer({ min: 1, max: 8 }),
        spec: fc.constantFrom(...SPECS.filter((s) => s.rule !== 'bce')),
        tolerance: fc.oneof(fc.constant(undefined), fc.constantFrom(...EDGE_NUMBERS)),
      })
      .chain(({ n, spec, tolerance }) =>
        fc
          .tuple(valuesInput(n * 5, 1e4), labelsInput(n, 5))
          .map(([logits, labels]): ExplainBatch => ({ spec, tolerance, n, logits, labels })),
      )
    fc.assert(
      fc.property(batch, (b) => {
        const result = outcome('explain', () => {
          const loss = createLoss(referenceOps, b.spec)
          const e = loss.explain(referenceOps.constant(b.logits, [b.n, 5]), referenceOps.constant(b.labels, [b.n]))
          const values = {
            classCounts: e.classCounts.data,
            lossVariation: e.lossVariation.data,
            equivalentWeight: e.equivalentWeight.data,
            targetWeight: e.targetWeight.data,
          }
          return { values, classes: describeClasses(values, b.tolerance) }
        })
        explainTally.record(result)
        if (result.ok) expect(firstNonFinite(result.value.values)).toBeUndefined()
      }),
      { numRuns: fuzzRuns(200) },
    )
  })
})
