import * as tf from '@tensorflow/tfjs-core'
import type { TensorOps, ValueChecks } from '@logit-perturb/core/backend'
import {
  checkBinaryLabelValues,
  checkEntryValues,
  checkProbabilityValues,
  checkFiniteValues,
  checkLogitValues,
  checkLabelValues,
  checkMaskValues,
  checkSampleWeightValues,
} from '@logit-perturb/core/backend'
import { floatMask, gatherRows, segmentSum, stopGradient } from './gradientOps.js'

/** The tfjs backends whose tensors live in host memory, where a synchronous read is cheap. */
const HOST_MEMORY_BACKENDS = new Set(['cpu', 'wasm'])

/**
 * `dataSync` while the active backend keeps tensors in host memory (cpu, wasm), else undefined:
 * rules then run their search loops as host code there, and as tensor ops on WebGL and WebGPU,
 * where a read would stall the GPU pipeline.
 */
function hostReader(): ((x: tf.Tensor) => ArrayLike<number>) | undefined {
  return HOST_MEMORY_BACKENDS.has(tf.getBackend()) ? (x) => x.dataSync() : undefined
}

/** The largest float16, the range of WebGL's half-float textures. */
const FLOAT16_MAX = 65504

/**
 * −65504 where the active backend stores floats as float16 (WebGL with half-float textures, as many
 * phones have, or `WEBGL_FORCE_F16_TEXTURES`), where a larger magnitude reads back as NaN; else
 * undefined (float32's range).
 */
function lowestStored(): number | undefined {
  if (tf.getBackend() !== 'webgl') return undefined
  const env = tf.env()
  const half = env.getBool('WEBGL_FORCE_F16_TEXTURES') || !env.getBool('WEBGL_RENDER_FLOAT32_ENABLED')
  return half ? -FLOAT16_MAX : undefined
}

/** Segment counts given as tensors, read once each (a search passes the same count at every step). */
const readCounts = new WeakMap<tf.Tensor, number>()
function countOf(numSegments: number | tf.Tensor): number {
  if (typeof numSegments === 'number') return numSegments
  let count = readCounts.get(numSegments)
  if (count === undefined) {
    count = numSegments.dataSync()[0]!
    readCounts.set(numSegments, count)
  }
  return count
}

const greater = floatMask(tf.greater)
const equal = floatMask(tf.equal)

/**
 * The core's `TensorOps` over TensorFlow.js tensors: a thin mapping, op for op, so every rule of the
 * core runs on whatever tfjs backend is active (cpu, wasm, WebGL, WebGPU) and is differentiable by
 * `tf.grad`, `tf.variableGrads` and `optimizer.minimize`. Floats are float32, labels int32.
 */
export function createTfjsOps(): TensorOps<tf.Tensor> {
  const ops: TensorOps<tf.Tensor> = {
    name: 'tfjs',
    constant: (data, shape, dtype = 'float32') =>
      tf.tensor(dtype === 'int32' ? Int32Array.from(data) : Float32Array.from(data), [...shape], dtype),
    shape: (x) => x.shape,
    reshape: (x, shape) => tf.reshape(x, [...shape]),
    transpose: (x, perm) => tf.transpose(x, [...perm]),

    add: (a, b) => tf.add(a, b),
    sub: (a, b) => tf.sub(a, b),
    mul: (a, b) => tf.mul(a, b),
    // True division also of int32 tensors, which tf.div floors.
    div: (a, b) => (a.dtype === 'int32' && b.dtype === 'int32' ? tf.div(tf.cast(a, 'float32'), tf.cast(b, 'float32')) : tf.div(a, b)),
    maximum: (a, b) => tf.maximum(a, b),
    minimum: (a, b) => tf.minimum(a, b),

    neg: (x) => tf.neg(x),
    abs: (x) => tf.abs(x),
    exp: (x) => tf.exp(x),
    log: (x) => tf.log(x),
    sqrt: (x) => tf.sqrt(x),
    // [x > 0] − [x < 0]: tfjs-wasm's Sign kernel returns 0 for |x| below about 1e-7.
    sign: (x) => tf.sub(greater(x, tf.scalar(0)), greater(tf.scalar(0), x)),
    floor: (x) => tf.floor(x),
    round: (x) => tf.round(x), // banker's rounding, as the interface asks

    logSoftmax: (x) => tf.logSoftmax(x),
    softmax: (x) => tf.softmax(x),
    softplus: (x) => tf.add(tf.relu(x), tf.log1p(tf.exp(tf.neg(tf.abs(x))))),
    sigmoid: (x) => tf.sigmoid(x),

    sum: (x, axes, keepDims = false) => tf.sum(x, [...axes], keepDims),
    mean: (x, axes, keepDims = false) => tf.mean(x, [...axes], keepDims),
    max: (x, axes, keepDims = false) => tf.max(x, [...axes], keepDims),
    matmul: (a, b, transposeA = false, transposeB = false) => tf.matMul(a, b, transposeA, transposeB),

    oneHot: (labels, depth) => oneHotFloat(labels, depth),
    gather: (x, indices, axis) => (axis === 0 ? gatherRows(x, tf.cast(indices, 'int32')) : tf.gather(x, tf.cast(indices, 'int32'), axis)),
    // A count that depends on the batch is read, once per count tensor: tfjs sizes its tensors on
    // the host.
    segmentSum: (x, ids, numSegments) => segmentSum(x, tf.cast(ids, 'int32'), countOf(numSegments)),
    // tfjs reads a negative axis wrong (cpu) or out of bounds (wasm): it is made positive here.
    cumsum: (x, axis) => tf.cumsum(x, axis < 0 ? axis + x.rank : axis),
    cast: (x, dtype) => tf.cast(x, dtype),

    greater,
    equal,
    // Any nonzero entry of the mask is true: ceil(|m|) is 0 or at least 1, which every backend casts
    // as it should (tfjs-wasm's cast to bool reads 0.5 as false), and Ceil, Abs and Cast all have
    // gradients, so autodiff passes through (NotEqual has none). Broadcasts all three.
    where: (cond, a, b) => tf.where(tf.cast(tf.ceil(tf.abs(broadcastMask(cond, a, b))), 'bool'), a, b),

    stopGradient,
    randomNormal: (like, stddev, seed) => tf.randomNormal(like.shape, 0, stddev, 'float32', seed),
    customGradient: (x, f) => {
      const run = tf.customGrad((input, save) => {
        const result = f(input as tf.Tensor, (tensors) => (save as tf.GradSaveFunc)([...tensors]))
        return { value: result.value, gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => result.gradient(dy, saved) }
      }) as (input: tf.Tensor) => tf.Tensor
      return run(x)
    },
    loop: scopedLoop,
    keep: (x) => void tf.keep(x),
    release: (x) => x.dispose(),

    checks: VALUE_CHECKS,
  }
  Object.defineProperty(ops, 'readSync', { get: hostReader, enumerable: true })
  Object.defineProperty(ops, 'lowest', { get: lowestStored, enumerable: true })
  return ops
}

/**
 * The mask of a `where` at the shape of its result: added to zeros, since `tf.where` would tile it
 * otherwise, and tfjs-wasm's `Tile` takes 10 ms for an `[N, 1]` mask over 512 × 1000.
 */
function broadcastMask(cond: tf.Tensor, a: tf.Tensor, b: tf.Tensor): tf.Tensor {
  const shape = tf.broadcast_util.assertAndGetBroadcastShape(tf.broadcast_util.assertAndGetBroadcastShape(cond.shape, a.shape), b.shape)
  return tf.util.arraysEqual(cond.shape, shape) ? cond : tf.add(cond, tf.zeros(shape))
}

/**
 * `count` iterations of `body`, each in its own `tidy`: an iteration's intermediates are freed when
 * it returns, and a state tensor that an iteration made is freed once the next one has replaced it.
 * The initial state belongs to the caller and is never freed here.
 */
function scopedLoop(
  count: number,
  state: readonly tf.Tensor[],
  body: (k: number, state: readonly tf.Tensor[], index: tf.Tensor) => readonly tf.Tensor[],
): readonly tf.Tensor[] {
  let current = state
  for (let k = 0; k < count; k++) {
    const previous = current
    current = tf.tidy(() => [...body(k, previous, tf.scalar(k))])
    if (k === 0) continue
    const kept = new Set(current)
    for (const t of previous) if (!kept.has(t) && !state.includes(t)) t.dispose()
  }
  return current
}

/**
 * Value checks by reading tensors back with `dataSync`: cheap on the cpu and wasm backends, a stall
 * of the pipeline on WebGL and WebGPU, where `stallsDevice` tells the loss (whose `checks: 'auto'`
 * then checks shapes only).
 */
const VALUE_CHECKS: ValueChecks<tf.Tensor> = {
  get stallsDevice() {
    return !HOST_MEMORY_BACKENDS.has(tf.getBackend())
  },
  labels: (labels, numClasses) => checkLabelValues(labels.dataSync(), numClasses),
  binaryLabels: (labels, numClasses) => checkBinaryLabelValues(labels.dataSync(), numClasses),
  probabilities: (labels, numClasses) => checkProbabilityValues(labels.dataSync(), numClasses),
  finite: (x, what) => checkFiniteValues(x.dataSync(), what),
  logits: (x, numClasses, targets, kind, counted) =>
    checkLogitValues(x.dataSync(), numClasses, { kind, values: targets.dataSync(), counted: counted?.dataSync() }),
  sampleWeight: (x) => checkSampleWeightValues(x.dataSync()),
  entries: (x, field, bounds) => checkEntryValues(x.dataSync(), field, bounds),
  mask: (x) => checkMaskValues(x.dataSync()),
}

/** The tfjs `TensorOps`, one object for every tfjs backend. */
export const tfjsOps: TensorOps<tf.Tensor> = createTfjsOps()

/**
 * One-hot rows `[N, depth]` as float32 of class ids `[N]`. tfjs's `oneHot` refuses `depth < 2`, and
 * a one-class problem is legal here (its loss is 0): below 2 the rows come from comparing each id
 * with `0 … depth − 1`.
 */
export function oneHotFloat(labels: tf.Tensor, depth: number): tf.Tensor2D {
  const ids = tf.cast(labels, 'int32') as tf.Tensor1D
  if (depth >= 2) return tf.cast(tf.oneHot(ids, depth), 'float32') as tf.Tensor2D
  return tf.cast(tf.equal(tf.expandDims(ids, 1), tf.range(0, depth, 1, 'int32')), 'float32') as tf.Tensor2D
}
