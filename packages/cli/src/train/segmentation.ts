import * as tf from '@tensorflow/tfjs-core'
import type * as tfl from '@tensorflow/tfjs-layers'
import { mulberry32, shuffleInPlace } from '@logit-perturb/core'
import { acceptSparseTargets, createTfjsLoss, layersLoss, perturbationCallback } from '@logit-perturb/tfjs'
import { IGNORE, type SceneSet } from '../data/scenes.js'
import { addPixels, confusionMatrix, segmentationScores } from '../report/iou.js'
import type { Method } from './methods.js'
import { cosineAdam } from './cosineAdam.js'
import { fitEpoch } from './fitEpoch.js'
import type { RunOptions, RunResult } from './run.js'
import { buildSegmentationNet } from './segmentationNet.js'

/** Scenes as tensors: pixels `[B, S, S, 1]` and labels `[B, S, S]` (int32, {@link IGNORE} kept). */
function sceneTensors(set: SceneSet, indices: readonly number[]): { x: tf.Tensor4D; y: tf.Tensor3D } {
  const area = set.side * set.side
  const x = new Float32Array(indices.length * area)
  const y = new Int32Array(indices.length * area)
  indices.forEach((i, row) => {
    x.set(set.pixels.subarray(i * area, (i + 1) * area), row * area)
    y.set(set.labels.subarray(i * area, (i + 1) * area), row * area)
  })
  return { x: tf.tensor4d(x, [indices.length, set.side, set.side, 1]), y: tf.tensor3d(y, [indices.length, set.side, set.side], 'int32') }
}

/**
 * Trains the segmentation network with one method and seed, with `model.fit` and the tfjs
 * adapter's `layersLoss` (as a user adds a rule to a segmentation trainer): the loss takes the
 * logits `[B, S, S, C]` (channels last) and the label maps `[B, S, S]` with ignored pixels 255
 * (`createTfjsLoss(spec, { ignoreIndex: 255 })`; `acceptSparseTargets` lets `fit` take label maps
 * for an output of another shape), Adam with a cosine decay, weight decay 5e-4. Then scores the test
 * scenes: per-class IoU (in `perClass`), mean IoU (in `balancedAccuracy`) and pixel accuracy. Each
 * epoch's order comes from a seeded shuffle, so a seed gives the same run.
 */
export async function trainSegmentationOnce(
  method: Method,
  data: { train: SceneSet; test: SceneSet; counts: number[]; numSamples: number },
  options: RunOptions,
): Promise<RunResult> {
  const started = performance.now()
  const c = data.train.numClasses
  const model: tfl.LayersModel = buildSegmentationNet(c, options.seed, data.train.side)
  const loss = createTfjsLoss(method.spec(data.counts, options.epochs, data.numSamples), { ignoreIndex: IGNORE })
  const batches = Math.ceil(data.train.count / options.batchSize)
  const schedule = cosineAdam(options.learningRate, batches * options.epochs)
  model.compile({ optimizer: schedule.optimizer, loss: layersLoss(loss) })
  acceptSparseTargets(model)
  const hooks = perturbationCallback(loss)
  const rand = mulberry32(options.seed * 7919 + 17)
  const order = Array.from({ length: data.train.count }, (_, i) => i)
  const epochLosses: number[] = []
  for (let epoch = 0; epoch < options.epochs; epoch++) {
    shuffleInPlace(order, rand)
    const { x, y } = sceneTensors(data.train, order)
    epochLosses.push(
      await fitEpoch(model, x, y, {
        epoch,
        batchSize: options.batchSize,
        perturbation: hooks,
        beforeBatch: () => schedule.step(),
        afterBatch: (batch, value) => options.onBatch?.(epoch, batch, batches, value),
      }),
    )
    tf.dispose([x, y])
  }

  const matrix = confusionMatrix(c)
  for (let start = 0; start < data.test.count; start += 100) {
    const indices = Array.from({ length: Math.min(100, data.test.count - start) }, (_, i) => start + i)
    const { x, y } = sceneTensors(data.test, indices)
    const predicted = tf.tidy(() => tf.argMax(model.predict(x) as tf.Tensor, -1))
    addPixels(matrix, await predicted.data(), await y.data(), IGNORE)
    tf.dispose([x, y, predicted])
  }
  model.dispose()
  schedule.dispose()
  loss.dispose()
  const scores = segmentationScores(matrix)
  return {
    method: method.name,
    seed: options.seed,
    perClass: scores.perClassIoU,
    balancedAccuracy: scores.meanIoU,
    pixelAccuracy: scores.pixelAccuracy,
    epochLosses,
    seconds: (performance.now() - started) / 1000,
  }
}
