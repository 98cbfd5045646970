/**
 * Inputs the fuzzing suite found mishandled, each pinned with what it now gets (before the fix: a
 * NaN or ±Infinity result, a raw TypeError/RangeError, or a disposed input).
 */
import * as tf from '@tensorflow/tfjs-core'
import * as core from '@logit-perturb/core'
import * as coreBackend from '@logit-perturb/core/backend'
import { codeAndField, refusal, refusalAsync } from '@logit-perturb/conformance'
import { onTfjsBackend } from '@logit-perturb/conformance/backends'
import { exportLossModel, runLossModel } from '@logit-perturb/onnx'
import { createTfjsLoss } from '@logit-perturb/tfjs'
import { describe, expect, it } from 'vitest'

/** The code and field of the `LogitPerturbError` `fn` throws. */
const refused = (fn: () => unknown): string => codeAndField(refusal(fn))

describe('host functions refuse what they used to turn into NaN, Infinity or a raw error', () => {
  it.each([
    ['smoothCounts of all-zero counts (was Infinity)', () => core.smoothCounts([0, 0, 0, 0]), 'CLASS_COUNTS_VALUE classCounts'],
    ['priorsFromCounts of all-zero counts (was NaN)', () => core.priorsFromCounts([0, 0]), 'CLASS_COUNTS_VALUE classCounts'],
    [
      'labelPriors with no label both on and off (was −Infinity log-odds)',
      () => core.labelPriors([1, 1], 1),
      'CLASS_COUNTS_VALUE classCounts',
    ],
    ['labelLogOdds with numSamples 0 (was NaN)', () => core.labelLogOdds([1], 0), 'INVALID_PARAMETER numSamples'],
    [
      'labelLogOdds with numSamples 1e308 (lost the negatives: −Infinity)',
      () => core.labelLogOdds([1, 1], 1e308),
      'INVALID_PARAMETER numSamples',
    ],
    ['dbBias with κ 1e308 (overflowed)', () => core.dbBias([1, 2], 10, 1e308), 'INVALID_PARAMETER kappa'],
    ['ldamMargins of all-zero counts (was NaN)', () => core.ldamMargins([0, 0, 0], 0.5), 'CLASS_COUNTS_VALUE classCounts'],
    ['drwWeights with β = 2 (was Infinity)', () => core.drwWeights([1024, 1024], 2), 'INVALID_PARAMETER beta'],
    ['vsTerms with τ = Infinity (was NaN)', () => core.vsTerms([1], 0, Infinity), 'INVALID_PARAMETER tau'],
    ['vsTerms with τ = 1e308 (overflowed)', () => core.vsTerms([1, 100], 0, 1e308), 'INVALID_PARAMETER tau'],
    ['priorSplitBounds with Δε = Infinity', () => core.priorSplitBounds([1], 0, Infinity), 'INVALID_PARAMETER deltaEpsilon'],
    ['priorSplitBounds with Δε = 1e308 (overflowed)', () => core.priorSplitBounds([2, 1, 1e6], 0, 1e308), 'INVALID_PARAMETER deltaEpsilon'],
    [
      'priorSplitBounds of null counts (was TypeError)',
      () => core.priorSplitBounds(null as never, 0, 0, 0),
      'CLASS_COUNTS_VALUE classCounts',
    ],
    ['lplSteps with α = 0 (was Infinity/NaN steps)', () => core.lplSteps(0, 0, 0), 'INVALID_PARAMETER alpha'],
    [
      'officialLongtailSteps of all-zero counts',
      () => core.officialLongtailSteps([0, 0, 0, 0], 0, 0, 0, 1),
      'CLASS_COUNTS_VALUE classCounts',
    ],
    [
      'officialLongtailSteps with κ = 1e308 (overflowed)',
      () => core.officialLongtailSteps([10, 1], 1, 1e6, 1e308, 1),
      'INVALID_PARAMETER stepScale',
    ],
    ['officialBalancedIterations(−Infinity)', () => core.officialBalancedIterations(-Infinity), 'INVALID_PARAMETER steps'],
    [
      'perClassAccuracy with a fractional class count (was RangeError)',
      () => core.perClassAccuracy([0], [0], 1e-12),
      'INVALID_PARAMETER numClasses',
    ],
    ['perClassAccuracy with 1e308 classes (was RangeError)', () => core.perClassAccuracy([0], [0], 1e308), 'INVALID_PARAMETER numClasses'],
    ['thirdsAccuracy of null counts (was TypeError)', () => core.thirdsAccuracy([0.5], null as never), 'CLASS_COUNTS_VALUE classCounts'],
    ['shotAccuracy of null counts (was TypeError)', () => core.shotAccuracy([0.5], null as never), 'CLASS_COUNTS_VALUE classCounts'],
    ['postHocPredict of null counts (was TypeError)', () => core.postHocPredict([], null as never, 0), 'CLASS_COUNTS_VALUE classCounts'],
    ['postHocPredict with rows of the wrong length', () => core.postHocPredict([[1, 2]], [5, 1, 1], 1), 'LOGITS_SHAPE logits'],
    [
      'chooseTau with −Infinity in the grid (was τ = −Infinity)',
      () => core.chooseTau([[0, 0]], [0], [5, 1], [-Infinity]),
      'INVALID_PARAMETER grid[0]',
    ],
    [
      'updateLearnedBounds with ε_max = NaN (was NaN)',
      () => core.updateLearnedBounds([1e4, 0], [0, 0], 0, NaN),
      'INVALID_PARAMETER maxBound',
    ],
    [
      'updateLearnedBounds with a hypergradient of the wrong length',
      () => core.updateLearnedBounds([0, 0], [0, 0, 0], 0.1, 1),
      'SHAPE_MISMATCH hypergradient',
    ],
    ['broadcastShapes with an infinite size (was Infinity)', () => coreBackend.broadcastShapes([Infinity], []), 'SHAPE_MISMATCH'],
  ])('%s', (_name, fn, expected) => {
    expect(refused(fn)).toBe(expected)
  })
})

describe('losses: cases the fuzzing suite found', () => {
  it('a spec object without a prototype is read like any other (describing it used to throw a TypeError)', () => {
    const spec = Object.assign(Object.create(null) as object, { rule: 'logit-adjustment', classCounts: [5, 1] })
    expect(core.parseSpec(spec).rule).toBe('logit-adjustment')
    expect(refused(() => core.parseSpec(Object.assign(Object.create(null) as object, { rule: 'ce', tau: 1 })))).toBe('INVALID_SPEC tau')
  })

  it('step sizes and step counts are bounded (α = 1e308 made the loss NaN, maxSteps = 1e9 would run for hours)', () => {
    expect(refused(() => core.parseSpec({ rule: 'official-balanced', alpha: 1e308 }))).toBe('INVALID_PARAMETER alpha')
    expect(refused(() => core.parseSpec({ rule: 'lpl', split: 'prior', classCounts: [5, 1], maxSteps: 1e9 }))).toBe(
      'INVALID_PARAMETER maxSteps',
    )
    expect(refused(() => core.parseSpec({ rule: 'vs', classCounts: [5, 1], multiplicative: [1, 1], additive: [1e308, -1e308] }))).toBe(
      'INVALID_PARAMETER additive[0]',
    )
    expect(core.parseSpec({ rule: 'ce', numClasses: 5000 }).numClasses).toBe(5000)
  })

  it('tfjs: a one-class batch has loss 0 (tf.oneHot refuses depth 1)', async () => {
    await onTfjsBackend('cpu', async () => {
      const loss = createTfjsLoss({ rule: 'ce' })
      const value = loss(tf.tensor2d([[3], [-2]]), tf.tensor1d([0, 0], 'int32'))
      expect(value.dataSync()[0]).toBeCloseTo(0, 12)
    })
  })

  it("tfjs: disposing what perturb returns leaves the caller's logits alive (ce used to return the same tensor)", async () => {
    await onTfjsBackend('cpu', async () => {
      const loss = createTfjsLoss({ rule: 'ce' })
      const logits = tf.tensor2d([
        [1, 2],
        [3, 4],
      ])
      const perturbed = loss.perturb(logits, tf.tensor1d([0, 1], 'int32'))
      perturbed.dispose()
      expect(logits.isDisposed).toBe(false)
      expect(Array.from(logits.dataSync())).toEqual([1, 2, 3, 4])
    })
  })

  it('ONNX: runLossModel refuses NaN logits, an empty batch and the wrong class count like the core (it used to return NaN or a raw error)', async () => {
    const model = exportLossModel({ rule: 'logit-adjustment', classCounts: [5, 1] }).bytes
    const code = async (run: () => Promise<unknown>) => (await refusalAsync(run)).code
    expect(await code(() => runLossModel(model, [[NaN, 0]], [0]))).toBe('LOGITS_NOT_FINITE')
    expect(await code(() => runLossModel(model, { data: new Float32Array(0), dims: [0, 2] }, []))).toBe('LOGITS_SHAPE')
    expect(await code(() => runLossModel(model, [[0, 1, 2]], [0]))).toBe('LOGITS_SHAPE')
  })
})

describe('parameters whose extremes overflow float32', () => {
  it('db-negative-tolerant refuses λ below 1e-6 (1/λ = 1e300 overflowed float32 to an infinite loss)', () => {
    expect(refused(() => core.parseSpec({ rule: 'db-negative-tolerant', classCounts: [1, 2], numSamples: 3, lambda: 1e-300 }))).toBe(
      'INVALID_PARAMETER lambda',
    )
  })
})
