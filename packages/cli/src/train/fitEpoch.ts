import type * as tf from '@tensorflow/tfjs-core'
import type * as tfl from '@tensorflow/tfjs-layers'
import type { PerturbationCallbackHooks } from '@logit-perturb/tfjs'

/** What one epoch of {@link fitEpoch} runs besides the step itself. */
export interface EpochHooks {
  /** The 0-based epoch: tfjs-layers' `initialEpoch`, and the epoch the loss's hooks see. */
  epoch: number
  batchSize: number
  /** The loss's `perturbationCallback` (epoch and training phase), when the trainer has one. */
  perturbation?: PerturbationCallbackHooks
  /** Before each batch, after the loss's hooks: a learning-rate schedule's step. */
  beforeBatch?: () => Promise<void> | void
  /** After each batch, with its loss: progress, a meta step. */
  afterBatch?: (batch: number, loss: number) => void
}

/**
 * One epoch of `model.fit` on examples already in their epoch's order (`shuffle: false`, so a seed
 * fixes the run), with the loss's perturbation hooks run before the trainer's own per-batch work
 * (composed, so neither replaces the other); returns the mean of the batches' losses.
 */
export async function fitEpoch(model: tfl.LayersModel, x: tf.Tensor, y: tf.Tensor, hooks: EpochHooks): Promise<number> {
  let sum = 0
  let count = 0
  const { perturbation } = hooks
  await model.fit(x, y, {
    epochs: hooks.epoch + 1,
    initialEpoch: hooks.epoch,
    batchSize: hooks.batchSize,
    shuffle: false,
    verbose: 0,
    callbacks: {
      ...perturbation,
      onBatchBegin: async (batch) => {
        await perturbation?.onBatchBegin?.(batch)
        await hooks.beforeBatch?.()
      },
      onBatchEnd: async (batch, logs) => {
        const value = logs?.loss ?? Number.NaN
        sum += value
        count++
        hooks.afterBatch?.(batch, value)
      },
    },
  })
  return sum / count
}
