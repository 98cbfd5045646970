import * as tf from '@tensorflow/tfjs-core'
import * as tfl from '@tensorflow/tfjs-layers'
import {
  argmaxRows,
  balancedAccuracy,
  chooseTau,
  learnedBoundsStep,
  mulberry32,
  perClassAccuracy,
  postHocPredict,
  shuffleInPlace,
  updateLearnedBounds,
} from '@logit-perturb/core'
import { type TfjsLoss, createTfjsLoss, createTfjsOps, layersLoss, perturbationCallback } from '@logit-perturb/tfjs'
import type { ImageSet } from '../data/fashionMnist.js'
import type { Method } from './methods.js'
import { type MixSettings, mixEpoch, mixes } from './mixup.js'
import { fitEpoch } from './fitEpoch.js'
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
  /** Mixup / CutMix of the training batches (single-label task): the loss takes probability rows. */
  mix?: MixSettings
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
  /** The learned signed bounds θ at the end of training (learned-bounds methods). */
  theta?: number[]
  /** Labelled test pixels predicted right (segmentation). */
  pixelAccuracy?: number
  seconds: number
}

/** Pixels of the chosen images, scaled to [0, 1], as `n` rows of 784. */
function imagePixels(set: ImageSet, indices: readonly number[]): Float32Array {
  const out = new Float32Array(indices.length * set.pixels)
  indices.forEach((i, row) => {
    const src = set.images.subarray(i * set.pixels, (i + 1) * set.pixels)
    for (let p = 0; p < set.pixels; p++) out[row * set.pixels + p] = src[p]! / 255
  })
  return out
}

/** Pixels of the chosen images, scaled to [0, 1], as a `[n, 784]` tensor. */
function imagesTensor(set: ImageSet, indices: readonly number[]): tf.Tensor2D {
  return tf.tensor2d(imagePixels(set, indices), [indices.length, set.pixels])
}

/**
 * One epoch's training tensors in `order`: the images `[n, 784]` and one-hot targets `[n, C]`, or,
 * with mixup / CutMix, the mixed images and their probability rows (see `mixEpoch`). For a rule of
 * `heads > 1` the one-hot rows are repeated for each head, `[n, E·C]`: tfjs-layers wants targets of the
 * output's shape, and the loss reads the first head's (docs/spec.md#313-multi-head-rules).
 */
function epochData(set: ImageSet, order: readonly number[], numClasses: number, heads: number, options: RunOptions, mixRand: () => number) {
  const labels = labelsOf(set, order)
  if (!mixes(options.mix)) {
    return { xs: imagesTensor(set, order), ys: tf.tidy(() => tf.tile(tf.oneHot(tf.tensor1d(labels, 'int32'), numClasses), [1, heads])) }
  }
  const side = Math.round(Math.sqrt(set.pixels))
  const mixed = mixEpoch(imagePixels(set, order), labels, numClasses, side, options.batchSize, options.mix!, mixRand)
  return {
    xs: tf.tensor2d(mixed.x, [order.length, set.pixels]),
    ys: tf.tidy(() => tf.tile(tf.tensor2d(mixed.targets, [order.length, numClasses]), [1, heads])),
  }
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
  const loss = createTfjsLoss(method.spec(data.counts, options.epochs, data.train.length))
  // A rule with E heads (docs/spec.md#313-multi-head-rules) trains E·C outputs, head-major: one
  // linear classifier per head on the shared hidden layers.
  const heads = loss.rule.heads
  const model = buildMlp(numClasses * heads, options.seed, method.classifier)
  const steps = Math.ceil(data.train.length / options.batchSize) * options.epochs
  const schedule = cosineNesterov(options.learningRate, steps)
  model.compile({ optimizer: schedule.optimizer, loss: layersLoss(loss) })
  const rand = mulberry32(options.seed * 7919 + 17)
  // Its own stream, so that a run without mixing shuffles exactly as before.
  const mixRand = mulberry32(options.seed * 7919 + 29)
  const learner = method.learned ? boundsLearner(model, loss, data, method.learned, options.seed) : undefined
  const epochLosses: number[] = []
  const order = [...data.train]
  for (let epoch = 0; epoch < options.epochs; epoch++) {
    shuffleInPlace(order, rand)
    const { xs, ys } = epochData(data.trainSet, order, numClasses, heads, options, mixRand)
    const batches = Math.ceil(order.length / options.batchSize)
    epochLosses.push(
      await fitEpoch(model, xs, ys, {
        epoch,
        batchSize: options.batchSize,
        perturbation: perturbationCallback(loss),
        beforeBatch: schedule.onBatchBegin,
        afterBatch: (batch, value) => {
          if (learner) learner.step(xs, order, batch * options.batchSize, options.batchSize, schedule.rate())
          options.onBatch?.(epoch, batch, batches, value)
        },
      }),
    )
    tf.dispose([xs, ys])
  }

  const testX = imagesTensor(data.testSet, range(data.testSet.count))
  const testLabels = labelsOf(data.testSet, range(data.testSet.count))
  const testLogits = await logitsOf(model, testX)
  testX.dispose()
  // Multi-head rules predict with the mean of the heads' logits.
  let predictions = argmaxRows(testLogits, heads)
  let tau: number | undefined
  if (method.posthoc) {
    const valX = imagesTensor(data.trainSet, data.validation)
    const valLogits = await logitsOf(model, valX)
    valX.dispose()
    tau = chooseTau(valLogits, labelsOf(data.trainSet, data.validation), data.counts).tau
    predictions = postHocPredict(testLogits, data.counts, tau)
  }
  const theta = learner?.theta()
  model.dispose()
  schedule.dispose()
  loss.dispose()
  const perClass = perClassAccuracy(predictions, testLabels, numClasses)
  return {
    method: method.name,
    seed: options.seed,
    perClass,
    balancedAccuracy: balancedAccuracy(perClass) ?? 0,
    epochLosses,
    ...(tau === undefined ? {} : { tau }),
    ...(theta === undefined ? {} : { theta }),
    seconds: (performance.now() - started) / 1000,
  }
}

function range(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i)
}

/**
 * Learned bounds for `model.fit`: after each training batch, the hypergradient of the meta loss
 * (a class-balanced meta batch drawn from the validation split) after a virtual SGD step of the last
 * layer (`learnedBoundsStep`, the closed form of docs/spec.md#6-learned-bounds), one step on `θ`, and `θ` set as
 * the loss's state for the next batch.
 */
function boundsLearner(
  model: tfl.LayersModel,
  loss: TfjsLoss,
  data: RunData,
  settings: { metaRate: number; metaPerClass: number; maxBound: number },
  seed: number,
) {
  const c = data.counts.length
  const features = tfl.model({ inputs: model.inputs, outputs: model.layers[model.layers.length - 2]!.output as tfl.SymbolicTensor })
  const last = model.layers[model.layers.length - 1]!
  const ops = createTfjsOps()
  const byClass = data.counts.map(() => [] as number[])
  for (const i of data.validation) byClass[data.trainSet.labels[i]!]!.push(i)
  const rand = mulberry32(seed * 31 + 7)
  let theta = new Array<number>(c).fill(0)
  return {
    step(xs: tf.Tensor, order: readonly number[], start: number, size: number, eta: number): void {
      const meta = byClass.flatMap((indices) =>
        Array.from({ length: settings.metaPerClass }, () => indices[Math.floor(rand() * indices.length)]!),
      )
      const end = Math.min(start + size, order.length)
      const hypergradient = tf.tidy(() => {
        const [kernel, bias] = last.getWeights()
        const metaX = imagesTensor(data.trainSet, meta)
        const step = learnedBoundsStep(ops, {
          trainFeatures: features.predict(tf.slice(xs, [start, 0], [end - start, -1])) as tf.Tensor,
          trainLabels: tf.tensor1d(labelsOf(data.trainSet, order.slice(start, end)), 'int32'),
          metaFeatures: features.predict(metaX) as tf.Tensor,
          metaLabels: tf.tensor1d(labelsOf(data.trainSet, meta), 'int32'),
          weights: tf.transpose(kernel!),
          ...(bias ? { bias } : {}),
          theta: tf.tensor1d(theta),
          eta,
          numClasses: c,
        })
        return step.hypergradient.dataSync()
      })
      theta = updateLearnedBounds(theta, hypergradient, settings.metaRate, settings.maxBound)
      // The loss takes the tensor as its state: no round trip through JSON.
      loss.setState({ theta: tf.tensor1d(theta) })
    },
    theta: () => [...theta],
  }
}
