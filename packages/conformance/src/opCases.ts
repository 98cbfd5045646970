import type { TensorOps } from '@logit-perturb/core/backend'
import { referenceOps } from '@logit-perturb/core'

/** One op case: the ops it exercises and the tensor it computes, written once for any backend. */
export interface OpCase<T> {
  /** The case's name, for reports. */
  name: string
  /** The `TensorOps` methods the case exercises. */
  covers: string[]
  /** The tensor the case computes. */
  value: T
}

/**
 * Every op of `TensorOps` on small inputs, including the corners the symbolic mapping has to get
 * right: broadcasting, int32 operands, half-way rounding, large softmax inputs, empty and negative
 * axes, both transposes, gathers on both axes, segment sums of rank 1 and 2, float masks that are
 * neither 0 nor 1.
 */
export function opCases<T>(ops: TensorOps<T>): OpCase<T>[] {
  const m = ops.constant([1, -2, 3, 4.5, 5, -6], [2, 3])
  const v = ops.constant([10, 20, 30], [3])
  const col = ops.constant([2, -3], [2, 1])
  const ids = ops.constant([2, 0, 2, 1], [4], 'int32')
  const rows = ops.constant([1, 2, 3, 4, 5, 6, 7, 8], [4, 2])
  const big = ops.constant([1e4, -1e4, 1e4 - 1, 0.1, 0.2, 0.3], [2, 3])
  const ints = ops.constant([3, -4, 5], [3], 'int32')
  const halves = ops.constant([0.5, 1.5, 2.5, -0.5, -1.5, 2.4, -2.6, 3.5], [8])
  const positive = ops.constant([0.25, 1, 4, 9e-6], [4])
  const c = (name: string, covers: string[], value: T): OpCase<T> => ({ name, covers, value })
  return [
    c('constant float', ['constant'], ops.constant([0.1, -7, 1e-30], [3])),
    c('constant int32', ['constant'], ids),
    c('reshape with -1', ['reshape'], ops.reshape(m, [-1, 2])),
    c('reshape to scalar', ['reshape'], ops.reshape(ops.constant([4], [1]), [])),
    c('transpose a matrix', ['transpose'], ops.transpose(m, [1, 0])),
    c(
      'transpose class axis last',
      ['transpose'],
      ops.transpose(ops.reshape(ops.constant([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12], [12]), [2, 3, 2]), [0, 2, 1]),
    ),
    c('add broadcast', ['add'], ops.add(m, v)),
    c('sub column', ['sub'], ops.sub(m, col)),
    c('mul scalar', ['mul'], ops.mul(m, ops.constant([0.5], []))),
    c('div broadcast', ['div'], ops.div(m, col)),
    c('div int32 is true division', ['div'], ops.div(ints, ops.constant([2], [], 'int32'))),
    c('int32 + float', ['add'], ops.add(ints, ops.constant([0.25], []))),
    c('int32 * int32', ['mul'], ops.mul(ints, ints)),
    c('maximum', ['maximum'], ops.maximum(m, col)),
    c('minimum', ['minimum'], ops.minimum(m, ops.constant([0], []))),
    c('neg', ['neg'], ops.neg(m)),
    c('abs', ['abs'], ops.abs(m)),
    c('abs int32', ['abs'], ops.abs(ints)),
    c('exp', ['exp'], ops.exp(ops.constant([0, 1, -2, 10], [4]))),
    c('log', ['log'], ops.log(positive)),
    c('sqrt', ['sqrt'], ops.sqrt(positive)),
    c('sign', ['sign'], ops.sign(ops.constant([-3, 0, 2e-20, 5], [4]))),
    c('floor', ['floor'], ops.floor(halves)),
    c('round half to even', ['round'], ops.round(halves)),
    c('logSoftmax at 1e4', ['logSoftmax'], ops.logSoftmax(big)),
    c('softmax at 1e4', ['softmax'], ops.softmax(big)),
    c('softmax of a vector', ['softmax'], ops.softmax(v)),
    c('softplus', ['softplus'], ops.softplus(ops.constant([-30, -1, 0, 1, 30, 1e4], [6]))),
    // onnxruntime's Sigmoid is accurate to ~1e-7 absolute: inputs where that is within 1e-6 relative.
    c('sigmoid at 1e4', ['sigmoid'], ops.sigmoid(ops.constant([-1e4, -30, -2, 0, 1, 3, 30, 1e4], [8]))),
    c('sum axis 0', ['sum'], ops.sum(m, [0])),
    c('sum axis -1 kept', ['sum'], ops.sum(m, [-1], true)),
    c('sum all', ['sum'], ops.sum(m, [0, 1])),
    c('sum no axes', ['sum'], ops.sum(m, [])),
    c('sum int32', ['sum'], ops.sum(ints, [0])),
    c('mean axis 1', ['mean'], ops.mean(m, [1])),
    c('mean all kept', ['mean'], ops.mean(m, [0, 1], true)),
    c('mean int32', ['mean'], ops.mean(ints, [0])),
    c('max axis 0 kept', ['max'], ops.max(m, [0], true)),
    c('max axis 1', ['max'], ops.max(m, [1])),
    c('matmul', ['matmul'], ops.matmul(m, ops.constant([1, 0, 2, 1, -1, 3], [3, 2]))),
    c('matmul transposeA', ['matmul'], ops.matmul(m, m, true)),
    c('matmul transposeB', ['matmul'], ops.matmul(m, m, false, true)),
    c('matmul both', ['matmul'], ops.matmul(ops.constant([1, 2, 3, 4, 5, 6], [3, 2]), m, true, true)),
    c('oneHot', ['oneHot'], ops.oneHot(ids, 4)),
    c('gather rows', ['gather'], ops.gather(rows, ids, 0)),
    c('gather columns', ['gather'], ops.gather(m, ops.constant([2, 0], [2], 'int32'), 1)),
    c('gather int32', ['gather'], ops.gather(ints, ops.constant([1, 1], [2], 'int32'), 0)),
    c('segmentSum rows', ['segmentSum'], ops.segmentSum(rows, ids, 4)),
    c('segmentSum vector', ['segmentSum'], ops.segmentSum(ops.constant([1, 2, 3, 4], [4]), ids, 3)),
    // The count as a tensor, as the search's class slots give it: a symbolic backend sizes at run time.
    c('segmentSum counted by a tensor', ['segmentSum'], ops.segmentSum(rows, ids, ops.constant([3], [], 'int32'))),
    c('segmentSum counted by a float tensor', ['segmentSum'], ops.segmentSum(rows, ids, ops.sum(ops.constant([1, 1, 2], [3]), [0]))),
    c('cumsum of a vector', ['cumsum'], ops.cumsum(ops.constant([1, 0, 1, 1, 0], [5]), 0)),
    c('cumsum of rows', ['cumsum'], ops.cumsum(m, 1)),
    c('cumsum of columns', ['cumsum'], ops.cumsum(m, -2)),
    c('cast to int32', ['cast'], ops.gather(v, ops.cast(ops.constant([2, 0, 1], [3]), 'int32'), 0)),
    c('cast to float', ['cast'], ops.div(ops.cast(ints, 'float32'), ops.constant([2], []))),
    c('greater', ['greater'], ops.greater(m, v)),
    c('greater int32', ['greater'], ops.greater(ints, ops.constant([0], [], 'int32'))),
    c('equal', ['equal'], ops.equal(ops.constant([1, 2, 2], [3]), ops.constant([2], []))),
    c('where on a comparison', ['where'], ops.where(ops.greater(m, ops.constant([0], [])), m, ops.constant([-1], []))),
    c('where on any float mask', ['where'], ops.where(ops.constant([0.5, 0, -2], [3]), v, ops.constant([7], []))),
    c('where on a oneHot', ['where'], ops.where(ops.oneHot(ids, 3), ops.constant([1], []), ops.constant([0], []))),
    c('stopGradient', ['stopGradient'], ops.stopGradient(m)),
  ]
}

/**
 * Every method of `TensorOps` the op cases must cover: all the reference implements but its name,
 * its optional value checks and `shape`, which every case checks, and `randomNormal`, whose draws
 * are each backend's own (no case compares them; test/properties/gaussianCloudedLogit.test.ts checks
 * their bounds, spread and seeds on the reference and tfjs).
 */
export const OP_METHODS: readonly string[] = Object.keys(referenceOps).filter(
  (k) => !['name', 'checks', 'shape', 'randomNormal'].includes(k),
)
