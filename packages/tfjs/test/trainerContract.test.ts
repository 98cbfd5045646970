/**
 * The tfjs-layers loss contract: `layersLoss` returns per-sample losses, so that `fit`'s
 * `classWeight` weights samples exactly as a custom step that passes the same weights as
 * `sampleWeight`; the training phase comes from `perturbationCallback`.
 */
import * as tf from '@tensorflow/tfjs-core'
import * as tfl from '@tensorflow/tfjs-layers'
import { describe, expect, it } from 'vitest'
import type { RuleInput } from '@logit-perturb/core'
import { onTfjsBackend } from '@logit-perturb/conformance/backends'
import { createTfjsLoss, isRecordingGradients, layersLoss, perturbationCallback } from '../src/index.js'

const features = [
  [1, 0, 0],
  [0, 1, 0],
  [0, 0, 1],
  [1, 1, 0],
  [0, 1, 1],
  [1, 0, 1],
]
const labelIds = [0, 1, 2, 0, 1, 2]
const classWeight: Record<number, number> = { 0: 1, 1: 1, 2: 100 }

function oneLayer(): tfl.Sequential {
  return tfl.sequential({
    layers: [tfl.layers.dense({ units: 3, inputShape: [3], kernelInitializer: 'identity', biasInitializer: 'zeros' })],
  })
}

async function weightsOf(model: tfl.Sequential): Promise<number[]> {
  return (await Promise.all(model.getWeights().map((w) => w.data()))).flatMap((d) => Array.from(d))
}

const SPECS: [string, RuleInput][] = [
  ['ce', { rule: 'ce' }],
  ['ldam-drw (class weights of its own)', { rule: 'ldam', classCounts: [100, 10, 1], scale: 2, drw: { beta: 0.99, fromEpoch: 0 } }],
  ['lpl (batch statistics)', { rule: 'lpl', split: 'prior', classCounts: [100, 10, 1] }],
]

describe.each(['cpu', 'wasm'])('tfjs-%s: fit with classWeight', (backend) => {
  it.each(SPECS)('%s: one fit step equals a custom step with the same weights as sampleWeight', async (_name, spec) => {
    await onTfjsBackend(backend, async () => {
      const xs = tf.tensor2d(features)
      const labels = tf.tensor1d(labelIds, 'int32')
      const ys = tf.oneHot(labels, 3)

      const fitted = oneLayer()
      const fitLoss = createTfjsLoss(spec)
      fitted.compile({ optimizer: tf.train.sgd(0.1), loss: layersLoss(fitLoss) })
      await fitted.fit(xs, ys, {
        epochs: 1,
        batchSize: 6,
        shuffle: false,
        verbose: 0,
        classWeight,
        callbacks: perturbationCallback(fitLoss),
      })

      const custom = oneLayer()
      const customLoss = createTfjsLoss(spec)
      const sampleWeight = tf.tensor1d(labelIds.map((y) => classWeight[y]!))
      tf.train.sgd(0.1).minimize(() => customLoss(custom.apply(xs) as tf.Tensor, labels, { sampleWeight }))

      const unweighted = oneLayer()
      const plainLoss = createTfjsLoss(spec)
      unweighted.compile({ optimizer: tf.train.sgd(0.1), loss: layersLoss(plainLoss) })
      await unweighted.fit(xs, ys, { epochs: 1, batchSize: 6, shuffle: false, verbose: 0, callbacks: perturbationCallback(plainLoss) })

      const [a, b, none] = [await weightsOf(fitted), await weightsOf(custom), await weightsOf(unweighted)]
      b.forEach((v, k) => {
        expect(a[k]).toBeCloseTo(v, 5)
      })
      // The weights took effect: class 2's bias moved differently without them.
      expect(Math.abs(a[a.length - 1]! - none[none.length - 1]!)).toBeGreaterThan(1e-3)
      for (const t of [xs, labels, ys, sampleWeight]) t.dispose()
      for (const m of [fitted, custom, unweighted]) m.dispose()
      for (const l of [fitLoss, customLoss, plainLoss]) l.dispose()
    })
  })
})

describe('the training phase', () => {
  it("perturbationCallback marks the batch's loss call as the training step, and the validation pass after it as not", async () => {
    await onTfjsBackend('cpu', async () => {
      const loss = createTfjsLoss({ rule: 'lpl', split: 'confidence', momentum: 0.5 })
      const hooks = perturbationCallback(loss)
      const call = (rows: number[][]) =>
        tf.tidy(() => {
          loss(tf.tensor2d(rows), tf.tensor1d([0, 1], 'int32'))
        })
      await hooks.onBatchBegin(0)
      call([
        [2, 0],
        [0, 2],
      ]) // the training step: the running confidences start
      const afterStep = await loss.saveState()
      expect(afterStep).not.toBeNull()
      call([
        [-3, 3],
        [3, -3],
      ]) // validation, before the batch ends: the state stays
      expect(await loss.saveState()).toEqual(afterStep)
      await hooks.onBatchBegin(1)
      call([
        [-3, 3],
        [3, -3],
      ]) // the next batch's step moves it
      expect(await loss.saveState()).not.toEqual(afterStep)
      await hooks.onTrainEnd()
      expect(loss.context.trainingCalls).toBeUndefined()
      loss.dispose()
    })
  })

  it('without the callback, the fallback reads whether tfjs records gradients, and is false outside a gradient', async () => {
    await onTfjsBackend('cpu', async () => {
      expect(isRecordingGradients()).toBe(false)
      let inside: boolean | undefined
      tf.grad((x: tf.Tensor) => {
        inside = isRecordingGradients()
        return tf.sum(x)
      })(tf.tensor1d([1, 2])).dispose()
      expect(inside).toBe(true)
      // A tfjs whose engine state lacks the field: no answer, and the loss's default applies.
      expect(isRecordingGradients({})).toBeUndefined()
      expect(isRecordingGradients({ state: {} })).toBeUndefined()
    })
  })
})
