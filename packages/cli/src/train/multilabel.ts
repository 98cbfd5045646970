import * as tf from '@tensorflow/tfjs-core'
import { mulberry32, multiLabelAveragePrecision, shuffleInPlace } from '@logit-perturb/core'
import { createTfjsLoss, layersLoss } from '@logit-perturb/tfjs'
import { CANVAS_SIDE, type CanvasSet } from '../data/canvases.js'
import { CliError } from '../errors.js'
import type { Method } from './methods.js'
import { fitEpoch } from './fitEpoch.js'
import { buildMlp, cosineNesterov } from './model.js'
import type { RunOptions, RunResult } from './run.js'

/** The multi-label methods of `lpl train --task multilabel`, in report order. */
export const MULTILABEL_METHODS: readonly Method[] = [
  { name: 'bce', summary: 'binary cross-entropy', classifier: 'dense', spec: (_counts) => ({ rule: 'bce', numClasses: _counts.length }) },
  {
    name: 'logit-adjusted-bce',
    summary: 'BCE of z + τ·log(π/(1−π)), τ = 1',
    classifier: 'dense',
    spec: (classCounts, _epochs, numSamples) => ({ rule: 'logit-adjusted-bce', classCounts, numSamples, tau: 1 }),
  },
  {
    name: 'db-negative-tolerant',
    summary: 'distribution-balanced negative-tolerant BCE (κ = 0.05, λ = 5)',
    classifier: 'dense',
    spec: (classCounts, _epochs, numSamples) => ({ rule: 'db-negative-tolerant', classCounts, numSamples }),
  },
  {
    name: 'distribution-balanced',
    summary: 'distribution-balanced loss as released, VOC preset (λ = 5, μ = 0.3, κ = 0.05, γ = 2)',
    classifier: 'dense',
    spec: (classCounts, _epochs, numSamples) => ({ rule: 'distribution-balanced', classCounts, numSamples, preset: 'voc' }),
  },
  {
    name: 'lpl-multilabel',
    summary: 'multi-label LPL (α = 0.05, ε = 0.1, Δε = 0.4, K = 20)',
    classifier: 'dense',
    spec: (classCounts) => ({ rule: 'lpl-multilabel', classCounts, alpha: 0.05, epsilon: 0.1, deltaEpsilon: 0.4, maxSteps: 20 }),
  },
]

/** The multi-label methods named in a comma-separated list (`all` for every one). */
export function selectMultiLabelMethods(list: string): Method[] {
  if (list === 'all') return [...MULTILABEL_METHODS]
  return list.split(',').map((name) => {
    const method = MULTILABEL_METHODS.find((m) => m.name === name.trim())
    if (!method) throw new CliError(`unknown multi-label method "${name}"; known: ${MULTILABEL_METHODS.map((m) => m.name).join(', ')}`, 2)
    return method
  })
}

function rows(set: CanvasSet, order: readonly number[]): { x: tf.Tensor2D; y: tf.Tensor2D } {
  const size = CANVAS_SIDE * CANVAS_SIDE
  const x = new Float32Array(order.length * size)
  const y = new Float32Array(order.length * set.numClasses)
  order.forEach((i, r) => {
    x.set(set.pixels.subarray(i * size, (i + 1) * size), r * size)
    y.set(set.labels.subarray(i * set.numClasses, (i + 1) * set.numClasses), r * set.numClasses)
  })
  return { x: tf.tensor2d(x, [order.length, size]), y: tf.tensor2d(y, [order.length, set.numClasses]) }
}

/**
 * Trains the multi-label network (an MLP 3136-256-128-C with a sigmoid read-out: the model outputs
 * logits, the rule applies the sigmoid) with one method and seed, then measures per-label average
 * precision and its mean on the test canvases. `perClass` holds AP, `balancedAccuracy` mAP.
 */
export async function trainMultiLabelOnce(
  method: Method,
  data: { train: CanvasSet; test: CanvasSet; counts: number[] },
  options: RunOptions,
): Promise<RunResult> {
  const started = performance.now()
  const c = data.train.numClasses
  const model = buildMlp(c, options.seed, 'dense', CANVAS_SIDE * CANVAS_SIDE)
  const loss = createTfjsLoss(method.spec(data.counts, options.epochs, data.train.count))
  const steps = Math.ceil(data.train.count / options.batchSize) * options.epochs
  const schedule = cosineNesterov(options.learningRate, steps)
  model.compile({ optimizer: schedule.optimizer, loss: layersLoss(loss) })
  const rand = mulberry32(options.seed * 7919 + 17)
  const order = Array.from({ length: data.train.count }, (_, i) => i)
  const epochLosses: number[] = []
  for (let epoch = 0; epoch < options.epochs; epoch++) {
    shuffleInPlace(order, rand)
    const { x, y } = rows(data.train, order)
    const batches = Math.ceil(order.length / options.batchSize)
    epochLosses.push(
      await fitEpoch(model, x, y, {
        epoch,
        batchSize: options.batchSize,
        beforeBatch: schedule.onBatchBegin,
        afterBatch: (batch, value) => options.onBatch?.(epoch, batch, batches, value),
      }),
    )
    tf.dispose([x, y])
  }
  const { x, y } = rows(
    data.test,
    Array.from({ length: data.test.count }, (_, i) => i),
  )
  const scores = model.predict(x, { batchSize: 1000 }) as tf.Tensor
  const ap = multiLabelAveragePrecision((await scores.array()) as number[][], (await y.array()) as number[][])
  tf.dispose([x, y, scores])
  model.dispose()
  schedule.dispose()
  loss.dispose()
  return {
    method: method.name,
    seed: options.seed,
    perClass: ap.perLabel,
    balancedAccuracy: ap.mean ?? 0,
    epochLosses,
    seconds: (performance.now() - started) / 1000,
  }
}
