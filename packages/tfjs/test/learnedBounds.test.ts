import * as tf from '@tensorflow/tfjs-core'
import * as tfl from '@tensorflow/tfjs-layers'
import { describe, expect, it } from 'vitest'
import { learnedBoundsStep, mulberry32, referenceOps } from '@logit-perturb/core'
import { centralDifference } from '@logit-perturb/conformance'
import { onTfjsBackend } from '@logit-perturb/conformance/backends'
import { exactLearnedBoundsHypergradient } from '../src/index.js'

function setup(seed: number, layers: number) {
  const rand = mulberry32(seed)
  const c = 3
  const model = tfl.sequential()
  if (layers === 2)
    model.add(
      tfl.layers.dense({ units: 5, activation: 'tanh', inputShape: [4], kernelInitializer: tfl.initializers.glorotUniform({ seed }) }),
    )
  model.add(
    tfl.layers.dense({
      units: c,
      ...(layers === 2 ? {} : { inputShape: [4] }),
      kernelInitializer: tfl.initializers.glorotUniform({ seed: seed + 1 }),
      biasInitializer: 'glorotUniform',
    }),
  )
  const trainLabels = [0, 0, 0, 0, 1, 1, 2, 0, 1, 2]
  const metaLabels = [0, 1, 2, 0, 1, 2]
  const values = (n: number) => Array.from({ length: n }, () => 2 * rand() - 1)
  return {
    model,
    c,
    trainLabels,
    metaLabels,
    trainX: tf.tensor2d(values(trainLabels.length * 4), [trainLabels.length, 4]),
    metaX: tf.tensor2d(values(metaLabels.length * 4), [metaLabels.length, 4]),
    theta: [0.4, -0.3, 0.8],
    eta: 0.5,
  }
}

describe('learned bounds, exact look-ahead over all weights (tfjs)', () => {
  it('equals a central difference of the meta loss after the virtual step, and leaves the weights unchanged', async () => {
    await onTfjsBackend('cpu', async () => {
      const s = setup(3, 2)
      const before = s.model.getWeights().map((w) => Array.from(w.dataSync()))
      const inputs = {
        model: s.model,
        trainX: s.trainX,
        trainLabels: s.trainLabels,
        metaX: s.metaX,
        metaLabels: s.metaLabels,
        eta: s.eta,
        numClasses: s.c,
      }
      const { hypergradient } = exactLearnedBoundsHypergradient({ ...inputs, theta: s.theta })
      // float32 losses: a step large enough that rounding stays below the tolerance.
      const metaLoss = (theta: Float64Array) => exactLearnedBoundsHypergradient({ ...inputs, theta: Array.from(theta) }).metaLoss
      centralDifference(metaLoss, s.theta, 1e-2).forEach((fd, k) => {
        expect(Math.abs(fd - hypergradient[k]!)).toBeLessThanOrEqual(2e-3 * Math.max(1, Math.abs(fd)) + 1e-4)
      })
      expect(hypergradient.some((g) => Math.abs(g) > 1e-4)).toBe(true)
      expect(s.model.getWeights().map((w) => Array.from(w.dataSync()))).toEqual(before)
    })
  })

  it("equals the core's last-layer closed form for a model that is one dense layer", async () => {
    await onTfjsBackend('cpu', async () => {
      const s = setup(5, 1)
      const exact = exactLearnedBoundsHypergradient({
        model: s.model,
        trainX: s.trainX,
        trainLabels: s.trainLabels,
        metaX: s.metaX,
        metaLabels: s.metaLabels,
        theta: s.theta,
        eta: s.eta,
        numClasses: s.c,
      }).hypergradient
      const [kernel, bias] = s.model.getWeights()
      const ops = referenceOps
      const closed = learnedBoundsStep(ops, {
        trainFeatures: ops.constant(s.trainX.dataSync(), s.trainX.shape),
        trainLabels: ops.constant(s.trainLabels, [s.trainLabels.length], 'int32'),
        metaFeatures: ops.constant(s.metaX.dataSync(), s.metaX.shape),
        metaLabels: ops.constant(s.metaLabels, [s.metaLabels.length], 'int32'),
        weights: ops.constant(tf.transpose(kernel!).dataSync(), [s.c, 4]),
        bias: ops.constant(bias!.dataSync(), [s.c]),
        theta: ops.constant(s.theta, [s.c]),
        eta: s.eta,
        numClasses: s.c,
      }).hypergradient.data
      exact.forEach((g, k) => {
        expect(g).toBeCloseTo(closed[k]!, 4)
      })
    })
  })
})
