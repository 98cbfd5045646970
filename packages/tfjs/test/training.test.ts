/**
 * The tfjs adapter as users meet it: a tf.sequential model compiled with a rule and trained with
 * fit, a custom loop with optimizer.minimize, on every tfjs backend of the suite; no tensor leaks.
 */
import * as tf from '@tensorflow/tfjs-core'
import * as tfl from '@tensorflow/tfjs-layers'
import { describe, expect, it } from 'vitest'
import { LogitPerturbError } from '@logit-perturb/core'
import { circleCenters, gaussianBlobs, singleLabelVariants } from '@logit-perturb/conformance'
import { createTfjsLoss, layersLoss, perturbationCallback } from '../src/index.js'
import { onTfjsBackend } from '@logit-perturb/conformance/backends'

const C = 4
const COUNTS = [300, 100, 30, 10]

/** A synthetic long-tailed set: 2-D Gaussian blobs on a circle, counts 300/100/30/10. */
function imbalancedSet(seed = 1): { x: number[][]; y: number[] } {
  const { points, labels } = gaussianBlobs(COUNTS, circleCenters(C, 2), 0.8, seed)
  return { x: points, y: labels }
}

/** A small MLP with `C` logits, or `E·C` for a rule with `E` heads. */
function smallModel(heads = 1): tfl.Sequential {
  const model = tfl.sequential()
  model.add(
    tfl.layers.dense({ units: 16, activation: 'relu', inputShape: [2], kernelInitializer: tfl.initializers.glorotUniform({ seed: 1 }) }),
  )
  model.add(tfl.layers.dense({ units: heads * C, kernelInitializer: tfl.initializers.glorotUniform({ seed: 2 }) }))
  return model
}

/** Every single-label rule of the shared table, for the training set's counts, with its heads (1 but for the multi-head rules). */
const RULES = singleLabelVariants(COUNTS).map(({ name, spec, heads }) => [name, spec, heads ?? 1] as const)

describe.each(['cpu', 'wasm'])('tfjs-%s', (backend) => {
  it.each(RULES)('fit with %s: the loss decreases and no tensor leaks', async (_name, spec, heads) => {
    await onTfjsBackend(backend, async () => {
      const { x, y } = imbalancedSet()
      const xs = tf.tensor2d(x)
      // tfjs-layers takes targets of the output's shape: for E heads, the one-hot rows of each head.
      const ys = tf.tile(tf.oneHot(tf.tensor1d(y, 'int32'), C), [1, heads])
      const model = smallModel(heads)
      const loss = createTfjsLoss(spec)
      model.compile({ optimizer: tf.train.sgd(0.1), loss: layersLoss(loss) })
      // Warm-up at the last epoch, so that the loss has made its constants (DRW's weights included).
      await model.fit(xs, ys, {
        initialEpoch: 3,
        epochs: 4,
        batchSize: 64,
        shuffle: false,
        verbose: 0,
        callbacks: perturbationCallback(loss),
      })
      const before = tf.memory().numTensors
      const history = await model.fit(xs, ys, {
        epochs: 4,
        batchSize: 64,
        shuffle: false,
        verbose: 0,
        callbacks: perturbationCallback(loss),
      })
      const losses = history.history.loss as number[]
      expect(losses.every(Number.isFinite)).toBe(true)
      expect(losses[losses.length - 1]!).toBeLessThan(losses[0]!)
      expect(loss.context.epoch).toBe(3)
      expect(tf.memory().numTensors).toBe(before)
      model.dispose()
      loss.dispose()
      xs.dispose()
      ys.dispose()
    })
  })

  it('a custom loop with LPL: optimizer.minimize lowers the loss; 1,000 calls and calls that throw leak nothing', async () => {
    await onTfjsBackend(backend, async () => {
      const { x, y } = imbalancedSet(2)
      const xs = tf.tensor2d(x)
      const labels = tf.tensor1d(y, 'int32')
      const model = smallModel()
      const loss = createTfjsLoss({ rule: 'lpl', split: 'confidence', momentum: 0.9 })
      const optimizer = tf.train.adam(0.05)
      const step = () => optimizer.minimize(() => loss(model.apply(xs) as tf.Tensor, labels), true) as tf.Scalar
      const first = (await step().data())[0]!
      const baseline = tf.memory().numTensors
      let last = first
      for (let i = 0; i < 100; i++) {
        const value = step()
        if (i === 99) last = (await value.data())[0]!
        value.dispose()
        // Long synchronous stretches starve the test runner's messages on a busy machine.
        if (i % 20 === 19) await new Promise((resolve) => setTimeout(resolve, 0))
      }
      expect(tf.memory().numTensors).toBe(baseline)
      expect(last).toBeLessThan(first)
      const logits = model.apply(xs) as tf.Tensor
      const counted = tf.memory().numTensors
      for (let i = 0; i < 1000; i++) {
        loss(logits, labels).dispose()
        if (i % 100 === 99) await new Promise((resolve) => setTimeout(resolve, 0))
      }
      expect(tf.memory().numTensors).toBe(counted)
      const state = loss.getState()!
      expect(Array.from(await state.seen!.data())).toEqual([1, 1, 1, 1])
      const badLabels = tf.tensor1d(
        y.map((v, i) => (i === 0 ? 9 : v)),
        'int32',
      )
      const beforeThrows = tf.memory().numTensors
      for (let i = 0; i < 20; i++) expect(() => loss(logits, badLabels)).toThrow(LogitPerturbError)
      expect(tf.memory().numTensors).toBe(beforeThrows)
      logits.dispose()
      expect(loss.getState()).toBe(state)
      badLabels.dispose()
      model.dispose()
      loss.dispose()
      optimizer.dispose()
      xs.dispose()
      labels.dispose()
    })
  })
})
