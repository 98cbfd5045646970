import * as tf from '@tensorflow/tfjs-core'
import { type Checks, LogitPerturbError } from '@logit-perturb/core'
import { checkLabelValues, checkLevel, parseChecks } from '@logit-perturb/core/backend'
import { tfjsOps } from './ops.js'
import type { TfjsLoss } from './loss.js'
import { layersTargets } from './layersTargets.js'
import { registerLayersLoss } from './sparseTargets.js'

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
 * returns one loss per sample `R_n` (`[N]`), whose mean is the rule's loss
 * (docs/spec.md#8-reductions-sample-weights-and-masks). `fit` multiplies them by its sample weights
 * (`classWeight`) and takes the mean, and `evaluate` and the metrics read them, as with tfjs's own
 * losses. `yPred` are the model's logits (a last layer without softmax or sigmoid): `[N, C]`, or
 * dense `[N, d1, …, dk, C]` (`[N, H, W, C]` from a `conv2d`; `[N, C, d1, …, dk]` with the loss's
 * `classAxis: 1`). `yTrue` (see `layersTargets`): class ids of the output's shape without its class
 * axis or with it of size 1 (`[N]`, `[N, 1]`, `[N, H, W]`, `[N, H, W, 1]`, `ignoreIndex` allowed;
 * `fit` takes them after {@link acceptSparseTargets}), one-hot or soft targets of the output's shape
 * (soft rows for the rules whose `loss.rule.softTargets` is set; the other rules take one-hot rows
 * as ids and refuse other rows with `SOFT_TARGETS`), or a multi-label rule's 0/1 matrix. They are
 * checked as the loss's `checks` say.
 *
 * Dense outputs: with `r_p` the core's per-position losses (`reduction: 'none'`) and `M` the
 * positions of the batch that count (not `ignoreIndex`),
 *
 *     R_n = N · Σ_{p in image n} r_p / M
 *
 * so that `mean_n R_n` is the core's mean over the batch's labelled positions, and a `fit` weight
 * `s_n` weights image `n` as the core's per-image `sampleWeight` does (without ignored positions,
 * `R_n` is the mean over the image's positions). `R_n` depends on the batch through `M`, as a
 * class-weighted rule's does through `Σ w_y`.
 *
 * Where values are not read (`checks` `'shapes'`, the default on WebGL and WebGPU), a row that is
 * not one-hot cannot be refused without a synchronous read, so for the rules without soft targets
 * it is masked out (it takes no part in the step, its gradient is 0) and the loss of its sample is
 * NaN, which `fit`'s loss then shows; `checks: 'values'` refuses it with `SOFT_TARGETS` instead.
 * Add {@link perturbationCallback} to `fit` so epoch-driven rules (LDAM-DRW) see the epoch and
 * stateful ones the training phase.
 */
export function layersLoss(loss: TfjsLoss<tf.Tensor>): (yTrue: tf.Tensor, yPred: tf.Tensor) => tf.Tensor1D {
  const fn = (yTrue: tf.Tensor, yPred: tf.Tensor): tf.Tensor1D =>
    tf.tidy(() => {
      const targets = layersTargets(yTrue, yPred, loss)
      const { oneHot } = targets
      const ctx = oneHot === undefined ? undefined : { mask: tf.cast(oneHot, 'float32') }
      const perSample = perImage(loss.perSample(yPred, targets.labels, ctx), targets.counted)
      if (oneHot === undefined) return perSample
      const whole = oneHot.rank === 1 ? oneHot : tf.all(oneHot, axesAfterFirst(oneHot.rank))
      return tf.where(whole, perSample, tf.fill(perSample.shape, Number.NaN)) as tf.Tensor1D
    })
  registerLayersLoss(fn)
  return fn
}

/**
 * One loss per sample `[N]` from the core's per-position losses `r` (`[N, d1, …, dk]`, or `[N]`):
 * `N · Σ_{p in n} r_p / M` with `M` the `counted` positions, or the mean over each sample's
 * positions when every position counts.
 */
function perImage(r: tf.Tensor, counted: tf.Tensor | undefined): tf.Tensor1D {
  const axes = axesAfterFirst(r.rank)
  if (counted === undefined) return (axes.length === 0 ? r : tf.mean(r, axes)) as tf.Tensor1D
  // A batch of ignored positions only has the loss 0 (its r are 0), not 0/0.
  const scale = tf.div(tf.scalar(r.shape[0]!), tf.maximum(counted, 1))
  return tf.mul(axes.length === 0 ? r : tf.sum(r, axes), scale) as tf.Tensor1D
}

function axesAfterFirst(rank: number): number[] {
  return Array.from({ length: rank - 1 }, (_, k) => k + 1)
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
