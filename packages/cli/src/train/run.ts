import * as tf from '@tensorflow/tfjs-core'
import type * as tfl from '@tensorflow/tfjs-layers'
import {
  argmaxRows, balancedAccuracy, chooseTau, mulberry32, perClassAccuracy, postHocPredict, shuffleInPlace,
} from '@logit-perturb/core'
import { createTfjsLoss, layersLoss, perturbationCallback } from '@logit-perturb/tfjs'
import type { ImageSet } from '../data/fashionMnist.js'
import type { Method } from './methods.js'
import { buildMlp, cosineNesterov } from './model.js'

/** The data of one benchmark run, as index lists into the Fashion-MNIST training and test sets. */
export interface RunData {
  trainSet: ImageSet
  testSet: ImageSet
  train: number[]
  validation: number[]
  counts: number[]
}

/** Training hyper-parameters of the protocol. */
export interface RunOptions {
  seed: number
  epochs: number
  batchSize: number
  learningRate: number
  onBatch?: (epoch: number, batch: number, batches: number, loss: number) => void
}

/** What one training run measured. */
export interface RunResult {
  method: string
  seed: number
  perClass: (number | null)[]
  balancedAccuracy: number
  /** Mean training loss of each epoch. */
  epochLosses: number[]
  /** τ chosen on the validation split (post-hoc methods). */
  tau?: number
  seconds: number
}

/** Pixels of the chosen images, scaled to [0, 1], as a `[n, 784]` tensor. */
function imagesTensor(set: ImageSet, indices: readonly number[]): tf.Tensor2D {
  const out = new Float32Array(indices.length * set.pixels)
  indices.forEach((i, row) => {
    const src = set.images.subarray(i * set.pixels, (i + 1) * set.pixels)
    for (let p = 0; p < set.pixels; p++) out[row * set.pixels + p] = src[p]! / 255
  })
  return tf.tensor2d(out, [indices.length, set.pixels])
}

function labelsOf(set: ImageSet, indices: readonly number[]): number[] {
  return indices.map((i) => set.labels[i]!)
}

async function logitsOf(model: tfl.LayersModel, x: tf.Tensor): Promise<number[][]> {
  const out = model.predict(x, { batchSize: 1000 }) as tf.Tensor
  const rows = (await out.array()) as number[][]
  out.dispose()
  return rows
}

/**
 * Trains the protocol's network with one method and seed, with `model.fit` and the tfjs adapter's
 * loss (as a user would add a rule to an existing trainer), then measures per-class accuracy on
 * the balanced test set. The training order of each epoch comes from a seeded shuffle, so a seed
 * gives the same run.
 */
export async function trainOnce(method: Method, data: RunData, options: RunOptions): Promise<RunResult> {
  const started = performance.now()
  const numClasses = data.counts.length
  const model = buildMlp(numClasses, options.seed, method.head)
  const loss = createTfjsLoss(method.spec(data.counts, options.epochs))
  const steps = Math.ceil(data.train.length / options.batchSize) * options.epochs
  const schedule = cosineNesterov(options.learningRate, steps)
  model.compile({ optimizer: schedule.optimizer, loss: layersLoss(loss) })
  const rand = mulberry32(options.seed * 7919 + 17)
  const epochLosses: number[] = []
  const order = [...data.train]
  for (let epoch = 0; epoch < options.epochs; epoch++) {
    shuffleInPlace(order, rand)
    const xs = imagesTensor(data.trainSet, order)
    const ys = tf.tidy(() => tf.oneHot(tf.tensor1d(labelsOf(data.trainSet, order), 'int32'), numClasses))
    const batches = Math.ceil(order.length / options.batchSize)
    let sum = 0
    let count = 0
    await model.fit(xs, ys, {
      epochs: epoch + 1, initialEpoch: epoch, batchSize: options.batchSize, shuffle: false, verbose: 0,
      callbacks: {
        ...perturbationCallback(loss),
        onBatchBegin: schedule.onBatchBegin,
        onBatchEnd: async (batch, logs) => {
          const value = logs?.loss ?? NaN
          sum += value
          count++
          options.onBatch?.(epoch, batch, batches, value)
        },
      },
    })
    epochLosses.push(sum / count)
    tf.dispose([xs, ys])
  }

  const testX = imagesTensor(data.testSet, range(data.testSet.count))
  const testLabels = labelsOf(data.testSet, range(data.testSet.count))
  const testLogits = await logitsOf(model, testX)
  testX.dispose()
  let predictions = argmaxRows(testLogits)
  let tau: number | undefined
  if (method.posthoc) {
    const valX = imagesTensor(data.trainSet, data.validation)
    const valLogits = await logitsOf(model, valX)
    valX.dispose()
    tau = chooseTau(valLogits, labelsOf(data.trainSet, data.validation), data.counts).tau
    predictions = postHocPredict(testLogits, data.counts, tau)
  }
  model.dispose()
  schedule.optimizer.dispose()
  loss.dispose()
  const perClass = perClassAccuracy(predictions, testLabels, numClasses)
  return {
    method: method.name, seed: options.seed, perClass,
    balancedAccuracy: balancedAccuracy(perClass) ?? 0,
    epochLosses, ...(tau === undefined ? {} : { tau }),
    seconds: (performance.now() - started) / 1000,
  }
}

function range(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i)
}
