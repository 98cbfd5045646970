import * as tf from '@tensorflow/tfjs-core'
import { LogitPerturbError, checkLabelValues } from '@logit-perturb/core'
import type { TfjsLoss } from './loss.js'

/**
 * Integer class ids (`[N]`, int32) from training targets: a one-hot matrix `[N, C]` (what
 * tfjs-layers passes for categorical targets) or integer labels `[N]` / `[N, 1]`. With `check`,
 * the values are read back and verified (one 1 per one-hot row; integer ids in `[0, C)`), so a bad
 * target throws `LABEL_VALUE` instead of training on a silently wrong class.
 */
export function labelsFromTargets(targets: tf.Tensor, numClasses: number, check = true): tf.Tensor1D {
  const [n, width] = targets.shape
  if (targets.rank === 2 && width === numClasses && numClasses > 1) {
    if (check) checkOneHot(targets.dataSync(), n!, numClasses)
    return tf.cast(tf.argMax(targets, 1), 'int32') as tf.Tensor1D
  }
  if (targets.rank === 1 || (targets.rank === 2 && width === 1)) {
    if (check) checkLabelValues(targets.dataSync(), numClasses, 'yTrue')
    return tf.cast(tf.reshape(targets, [-1]), 'int32') as tf.Tensor1D
  }
  throw new LogitPerturbError('LABELS_SHAPE',
    `targets must be one-hot [N, ${numClasses}] or integer labels [N] or [N, 1], got [${targets.shape.join(', ')}]`, 'yTrue')
}

function checkOneHot(values: ArrayLike<number>, n: number, c: number): void {
  for (let i = 0; i < n; i++) {
    let ones = 0
    for (let j = 0; j < c; j++) {
      const v = values[i * c + j]!
      if (v === 1) ones++
      else if (v !== 0) throw new LogitPerturbError('LABEL_VALUE', `one-hot row ${i} holds ${v}; entries must be 0 or 1`, 'yTrue')
    }
    if (ones !== 1) throw new LogitPerturbError('LABEL_VALUE', `one-hot row ${i} has ${ones} ones; exactly one is needed`, 'yTrue')
  }
}

/**
 * A loss for `model.compile({ loss })`: `(yTrue, yPred) => tf.Scalar`, where `yPred` are the
 * model's logits (a last layer without softmax or sigmoid) and `yTrue` one-hot or integer targets
 * (multi-label rules: the 0/1 target matrix `[N, C]` itself, checked by the loss). The
 * reduction is the rule's own (a plain mean, or PyTorch's weighted mean `Σ w_y ℓ / Σ w_y` for
 * class-weighted rules), not tfjs's `softmaxCrossEntropy` default. Add {@link perturbationCallback}
 * to `fit` so epoch-driven rules (LDAM-DRW) see the epoch.
 */
export function layersLoss(loss: TfjsLoss, options: { checkTargets?: boolean } = {}): (yTrue: tf.Tensor, yPred: tf.Tensor) => tf.Scalar {
  return (yTrue, yPred) => {
    const c = yPred.shape[1]
    if (yPred.rank !== 2 || c === undefined) {
      throw new LogitPerturbError('LOGITS_SHAPE', `the model's output must be logits [N, C], got [${yPred.shape.join(', ')}]`, 'yPred')
    }
    if (loss.task === 'multi') return loss(yPred, yTrue)
    const labels = labelsFromTargets(yTrue, c, options.checkTargets ?? true)
    try {
      return loss(yPred, labels)
    } finally {
      labels.dispose()
    }
  }
}

/** The callback hooks `model.fit` accepts (tfjs-layers' `CustomCallbackArgs`, structurally). */
export interface PerturbationCallbackHooks {
  /** Called by `model.fit` at the start of each epoch (0-based): sets the loss's `context.epoch`. */
  onEpochBegin: (epoch: number) => Promise<void>
}

/**
 * Callbacks for `model.fit(x, y, { callbacks: perturbationCallback(loss) })`: they feed the epoch
 * to the loss, so LDAM-DRW switches its weights on at `drw.fromEpoch`. (Whether a call is a
 * training step needs no callback: the loss sees whether tfjs is recording gradients.)
 */
export function perturbationCallback(loss: TfjsLoss): PerturbationCallbackHooks {
  return {
    onEpochBegin: async (epoch) => {
      loss.context.epoch = epoch
    },
  }
}
