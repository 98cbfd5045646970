import * as tf from '@tensorflow/tfjs-core'
import { type Checks, LogitPerturbError } from '@logit-perturb/core'
import { checkLabelValues, checkLevel, parseChecks } from '@logit-perturb/core/backend'
import { tfjsOps } from './ops.js'
import type { TfjsLoss } from './loss.js'

/**
 * Integer class ids (`[N]`, int32) from training targets: a one-hot matrix `[N, C]` (what
 * tfjs-layers passes for categorical targets) or integer labels `[N]` / `[N, 1]`. With `checks`
 * `'values'` or `'labels'` (and with `'auto'` on the cpu and wasm backends) the values are read back
 * and verified (one 1 per one-hot row; integer ids in `[0, C)`), so a bad target throws
 * `LABEL_VALUE` instead of training on a silently wrong class; `'shapes'` reads nothing.
 */
export function labelsFromTargets(targets: tf.Tensor, numClasses: number, checks: Checks = 'auto'): tf.Tensor1D {
  const [n, width] = targets.shape
  const readValues = checkLevel(parseChecks(checks), tfjsOps) !== 'shapes'
  if (targets.rank === 2 && width === numClasses && numClasses > 1) {
    if (readValues) checkOneHot(targets.dataSync(), n!, numClasses)
    return tf.cast(tf.argMax(targets, 1), 'int32') as tf.Tensor1D
  }
  if (targets.rank === 1 || (targets.rank === 2 && width === 1)) {
    if (readValues) checkLabelValues(targets.dataSync(), numClasses, 'yTrue')
    return tf.cast(tf.reshape(targets, [-1]), 'int32') as tf.Tensor1D
  }
  throw new LogitPerturbError(
    'LABELS_SHAPE',
    `targets must be one-hot [N, ${numClasses}] or integer labels [N] or [N, 1], got [${targets.shape.join(', ')}]`,
    'yTrue',
  )
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
 * A loss for `model.compile({ loss })` that keeps the tfjs-layers loss contract: `(yTrue, yPred)`
 * returns the per-sample losses `r_i` (`[N]`, `loss.perSample`), whose mean is the rule's loss
 * (docs/spec.md#8-reductions-sample-weights-and-masks). `fit` multiplies them by its sample weights
 * (`classWeight`, `sampleWeight`) and takes the mean, and `evaluate` and the metrics read them, as
 * with tfjs's own losses. `yPred` are the model's logits (a last layer without softmax or sigmoid)
 * and `yTrue` one-hot or integer targets (multi-label rules: the 0/1 target matrix `[N, C]`); they
 * are checked as the loss's `checks` option says. Add {@link perturbationCallback} to `fit` so
 * epoch-driven rules (LDAM-DRW) see the epoch and stateful ones the training phase.
 */
export function layersLoss(loss: TfjsLoss<tf.Tensor>): (yTrue: tf.Tensor, yPred: tf.Tensor) => tf.Tensor1D {
  return (yTrue, yPred) => {
    const c = yPred.shape[1]
    if (yPred.rank !== 2 || c === undefined) {
      throw new LogitPerturbError('LOGITS_SHAPE', `the model's output must be logits [N, C], got [${yPred.shape.join(', ')}]`, 'yPred')
    }
    if (loss.task === 'multi') return loss.perSample(yPred, yTrue) as tf.Tensor1D
    const labels = labelsFromTargets(yTrue, c, loss.checks)
    try {
      return loss.perSample(yPred, labels) as tf.Tensor1D
    } finally {
      labels.dispose()
    }
  }
}

/** The callback hooks `model.fit` accepts (tfjs-layers' `CustomCallbackArgs`, structurally). */
export interface PerturbationCallbackHooks {
  /** At the start of each epoch (0-based): sets the loss's `context.epoch`. */
  onEpochBegin: (epoch: number) => Promise<void>
  /** At the start of each training batch: the loss's next call is the batch's training step. */
  onBatchBegin: (batch: number) => Promise<void>
  /** At the end of `fit`: hands the training flag back to the loss's default. */
  onTrainEnd: () => Promise<void>
}

/**
 * Callbacks for `model.fit(x, y, { callbacks: perturbationCallback(loss) })`, through tfjs-layers'
 * public callback hooks: they feed the epoch to the loss (LDAM-DRW switches its weights on at
 * `drw.fromEpoch`) and mark the training phase: at each batch's begin, the loss's next call (the
 * batch's loss) is a training step and later ones are not, so that stateful rules (LPL's
 * `confidence` split) never update their state on the validation pass, which tfjs-layers runs
 * after the last batch's step and before that batch ends.
 */
export function perturbationCallback(loss: TfjsLoss<tf.Tensor>): PerturbationCallbackHooks {
  return {
    onEpochBegin: async (epoch) => {
      loss.context.epoch = epoch
    },
    onBatchBegin: async () => {
      loss.context.trainingCalls = 1
    },
    onTrainEnd: async () => {
      delete loss.context.trainingCalls
    },
  }
}
