import * as tf from '@tensorflow/tfjs-core'
import { LogitPerturbError } from '@logit-perturb/core'
import { checkLabelValues, checkLevel, parseChecks } from '@logit-perturb/core/backend'
import { tfjsOps } from './ops.js'
import type { TfjsLoss } from './loss.js'

/** What `layersLoss` hands the core for one batch, read from tfjs-layers' `yTrue`. */
export interface LayersTargets {
  /**
   * Class ids (int32, the output's shape without its class axis: `[N]`, `[N, d1, …, dk]`), or
   * targets with the output's shape (float32: soft targets, or a multi-label 0/1 matrix).
   */
  readonly labels: tf.Tensor
  /** The number of positions that count (ids other than `ignoreIndex`), a scalar; undefined: every position. */
  readonly counted?: tf.Tensor
  /**
   * Where one-hot rows were made ids without reading their values (`checks` at `'shapes'`): true
   * at the positions whose row is one-hot, `[N, d1, …, dk]` bool. Undefined: nothing unverified.
   */
  readonly oneHot?: tf.Tensor
}

/**
 * Reads the targets tfjs-layers passes with the model's output `yPred` (logits `[N, C]`, or dense
 * `[N, d1, …, dk, C]`, classes where the loss's `classAxis` says):
 * - class ids: the output's shape without its class axis (`[N]`, `[N, H, W]`) or with it of size 1
 *   (`[N, 1]`, `[N, H, W, 1]`), ids in `[0, C)` or `ignoreIndex`;
 * - targets with the output's shape (`C > 1`): soft targets for rules whose `rule.softTargets` is
 *   set (one-hot rows included, which score as their ids); for the other rules, one-hot rows become
 *   ids, and a row that is not one-hot is handed to the core as a soft target, which refuses it
 *   with `SOFT_TARGETS` naming the rule (never its argmax). Where values are not read (`checks`
 *   `'shapes'`: WebGL and WebGPU by default), the rows' one-hotness is returned as `oneHot`;
 * - multi-label rules: the 0/1 matrix, as it is;
 * - rules with `E` heads (`loss.rule.heads`, outputs `[N, E·C]`): class ids `[N]` or `[N, 1]`,
 *   one-hot rows `[N, C]` over the `C` classes, or, as tfjs-layers' `fit` wants targets of the
 *   output's shape, those rows repeated for each head (`tf.tile(oneHot, [1, E])`), read from the
 *   first head's block; one-hot rows become ids.
 * Throws `LOGITS_SHAPE` (`yPred`) or `LABELS_SHAPE` (`yTrue`) naming the shapes.
 */
export function layersTargets(yTrue: tf.Tensor, yPred: tf.Tensor, loss: TfjsLoss<tf.Tensor>): LayersTargets {
  const shape = yPred.shape
  if (shape.length < 2) {
    throw new LogitPerturbError(
      'LOGITS_SHAPE',
      `the model's output must be logits [N, C] or dense [N, d1, …, dk, C], got [${shape.join(', ')}]`,
      'yPred',
    )
  }
  if (loss.task === 'multi') return { labels: yTrue }
  const heads = loss.rule.heads
  if (heads > 1 && shape.length === 2) {
    // A rule with E heads (docs/spec.md#313-multi-head-rules): outputs [N, E·C]; targets are class
    // ids [N] or [N, 1], one-hot rows [N, C] over the C = width/E classes, or (what tfjs-layers
    // takes, targets of the output's shape) those rows side by side for each head, read from the first.
    const [n, width] = shape as [number, number]
    const c = width / heads
    if (sameShape(yTrue.shape, [n]) || sameShape(yTrue.shape, [n, 1])) return classIds(yTrue, [n], c, loss)
    if (sameShape(yTrue.shape, [n, c])) return classTargets(yTrue, 1, loss)
    if (sameShape(yTrue.shape, shape)) return classTargets(tf.slice(yTrue, [0, 0], [n, c]), 1, loss)
  }
  const axis = loss.classAxis === 1 ? 1 : shape.length - 1
  const c = shape[axis]!
  const positions = shape.filter((_, k) => k !== axis)
  const unitClass = shape.map((d, k) => (k === axis ? 1 : d))
  // With one class, targets of the output's shape are ids too (as labelsFromTargets reads them).
  if (sameShape(yTrue.shape, positions) || sameShape(yTrue.shape, unitClass)) return classIds(yTrue, positions, c, loss)
  if (sameShape(yTrue.shape, shape)) return classTargets(yTrue, axis, loss)
  throw new LogitPerturbError(
    'LABELS_SHAPE',
    `targets of the output [${shape.join(', ')}] must be class ids [${positions.join(', ')}] or [${unitClass.join(', ')}], or one-hot or soft targets [${shape.join(', ')}]; got [${yTrue.shape.join(', ')}]`,
    'yTrue',
  )
}

/** Whether the loss's `checks` read values on the active backend. */
function readsValues(loss: TfjsLoss<tf.Tensor>): boolean {
  return checkLevel(parseChecks(loss.checks), tfjsOps) !== 'shapes'
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, k) => d === b[k])
}

/** Class ids `[N, d1, …, dk]` as int32, and the count of positions that are not ignored. */
function classIds(yTrue: tf.Tensor, positions: readonly number[], c: number, loss: TfjsLoss<tf.Tensor>): LayersTargets {
  const { ignoreIndex } = loss
  // Float ids are checked before the cast to int32, which would turn 1.5 into 1 unseen; the core
  // checks int32 ids itself.
  if (yTrue.dtype !== 'int32' && readsValues(loss)) {
    checkLabelValues(
      Array.from(yTrue.dataSync(), (y) => (y === ignoreIndex ? 0 : y)),
      c,
      'yTrue',
    )
  }
  const labels = tf.cast(tf.reshape(yTrue, [...positions]), 'int32')
  if (ignoreIndex === undefined) return { labels }
  return { labels, counted: tf.sum(tf.cast(tf.notEqual(labels, tf.scalar(ignoreIndex, 'int32')), 'float32')) }
}

/** Targets with the output's shape: soft targets, or one-hot rows made ids (see {@link layersTargets}). */
function classTargets(yTrue: tf.Tensor, axis: number, loss: TfjsLoss<tf.Tensor>): LayersTargets {
  const targets = tf.cast(yTrue, 'float32')
  if (loss.rule.softTargets !== undefined) return { labels: targets }
  // A row is one-hot when each entry x has x·(1 − x) = 0 (x is 0 or 1) and the row sums to 1.
  const oneHot = tf.logicalAnd(tf.equal(tf.sum(tf.abs(tf.mul(targets, tf.sub(1, targets))), axis), 0), tf.equal(tf.sum(targets, axis), 1))
  const ids = tf.cast(tf.argMax(targets, axis), 'int32')
  if (!readsValues(loss)) return { labels: ids, oneHot }
  // The core refuses rows that are not one-hot for this rule, with its own error.
  return tf.all(oneHot).dataSync()[0] ? { labels: ids } : { labels: targets }
}
