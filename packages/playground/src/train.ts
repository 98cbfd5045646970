import * as tf from '@tensorflow/tfjs-core'
import type * as tfl from '@tensorflow/tfjs-layers'
import { perClassAccuracy } from '@logit-perturb/core'
import { type TfjsLoss, createTfjsLoss } from '@logit-perturb/tfjs'
import type { DataSet } from './data.js'
import { createModel } from './model.js'
import { type RuleName, ruleSpec } from './rules.js'

/** What a training run uses besides the data: the rule, its hyper-parameters and the optimizer's. */
export interface TrainOptions {
  rule: RuleName
  params?: Record<string, number>
  learningRate: number
  hidden: number
  /** Seed of the initial weights. */
  seed: number
}

/** The defaults of the page. */
export const DEFAULT_TRAIN: Omit<TrainOptions, 'rule'> = { learningRate: 0.02, hidden: 32, seed: 1 }

/**
 * One model trained on one data set with one rule, full-batch with Adam: every step sees the whole
 * long-tailed training set, so a run is a deterministic function of the options and the backend,
 * and a step is an epoch (what LDAM-DRW's `fromEpoch` counts).
 */
export class Trainer {
  /** Steps taken so far. */
  step = 0
  readonly loss: TfjsLoss
  private readonly model: tfl.Sequential
  private readonly optimizer: tf.Optimizer
  private readonly xs: tf.Tensor2D
  private readonly labels: tf.Tensor1D
  private readonly testXs: tf.Tensor2D

  constructor(
    readonly data: DataSet,
    readonly options: TrainOptions,
  ) {
    const { train, test, classCounts } = data
    // The default checks read no value back on WebGL, where a read would stall the pipeline.
    this.loss = createTfjsLoss(ruleSpec(options.rule, classCounts, options.params))
    this.model = createModel({ classes: classCounts.length, hidden: options.hidden, seed: options.seed })
    this.optimizer = tf.train.adam(options.learningRate)
    this.xs = tf.tensor2d(train.xy, [train.labels.length, 2])
    this.labels = tf.tensor1d(train.labels, 'int32')
    this.testXs = tf.tensor2d(test.xy, [test.labels.length, 2])
  }

  /**
   * One optimizer step on the whole training set. With `readLoss` it returns the loss before the
   * step; otherwise nothing is read back, so steps queue up without waiting for the GPU.
   */
  async trainStep(readLoss = false): Promise<number | undefined> {
    this.loss.context.epoch = this.step
    const weights = this.model.trainableWeights.map((w) => w.read() as tf.Variable)
    const cost = this.optimizer.minimize(
      () => this.loss(this.model.apply(this.xs, { training: true }) as tf.Tensor, this.labels),
      readLoss,
      weights,
    )
    this.step++
    if (!cost) return undefined
    const value = (await cost.data())[0]
    cost.dispose()
    return value
  }

  /** The predicted class of each point of a flat `[x0, y0, x1, y1, …]` array. */
  async predict(xy: Float32Array | tf.Tensor2D): Promise<Int32Array> {
    const predictions = tf.tidy(() => {
      const points = xy instanceof tf.Tensor ? xy : tf.tensor2d(xy, [xy.length / 2, 2])
      return tf.argMax(this.model.predict(points) as tf.Tensor, 1)
    })
    const values = (await predictions.data()) as Int32Array
    predictions.dispose()
    return values
  }

  /** Accuracy of each class on the balanced test set, the share of its points predicted as it. */
  async perClassAccuracy(): Promise<number[]> {
    const predictions = await this.predict(this.testXs)
    const classes = this.data.classCounts.length
    return perClassAccuracy(predictions, this.data.test.labels, classes).map((a) => a ?? 0)
  }

  /** Frees every tensor of the run: data, weights, optimizer slots and the rule's state. */
  dispose(): void {
    tf.dispose([this.xs, this.labels, this.testXs])
    this.model.dispose()
    this.optimizer.dispose()
    this.loss.dispose()
  }
}
