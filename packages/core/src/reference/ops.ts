import { check } from '../errors.js'
import type { TensorOps } from '../ops.js'
import {
  checkBinaryLabelValues,
  checkEntryValues,
  checkProbabilityValues,
  checkFiniteValues,
  checkLogitValues,
  checkLabelValues,
  checkMaskValues,
  checkSampleWeightValues,
} from '../validate.js'
import { broadcastShapes } from '../shapes.js'
import { roundHalfEven } from '../rounding.js'
import { mulberry32, normalSamples } from '../random.js'
import { binary, unary } from './elementwise.js'
import { logSumExp, mapRows, reduce } from './reduce.js'
import { type RefTensor, refTensor, sizeOf, stridesOf } from './tensor.js'

function rank2(x: RefTensor, what: string): [number, number] {
  check(x.shape.length === 2, 'SHAPE_MISMATCH', `${what} must be rank 2, got [${x.shape.join(', ')}]`)
  return [x.shape[0]!, x.shape[1]!]
}

function indexAt(indices: RefTensor, i: number, size: number): number {
  const k = indices.data[i]!
  check(Number.isInteger(k) && k >= 0 && k < size, 'SHAPE_MISMATCH', `index ${k} out of range [0, ${size})`)
  return k
}

/** A segment count given as a scalar tensor: a positive integer. */
function countOf(count: RefTensor): number {
  const k = count.data[0]
  check(count.data.length === 1 && Number.isInteger(k) && k! > 0, 'INVALID_PARAMETER', `numSegments must be a positive integer, got ${k}`)
  return k!
}

/**
 * The reference backend: {@link TensorOps} over float64 arrays, computed eagerly and exactly as
 * written. It is the ground truth of every test; speed is a non-goal. It has no automatic
 * differentiation, so `stopGradient` is the identity.
 */
export const referenceOps: TensorOps<RefTensor> = {
  name: 'reference',

  constant(data, shape, dtype = 'float32') {
    const n = sizeOf(shape)
    check(data.length === n, 'SHAPE_MISMATCH', `${data.length} values do not fill shape [${shape.join(', ')}]`)
    return refTensor(Float64Array.from(data), shape, dtype)
  },
  shape: (x) => x.shape,
  reshape(x, shape) {
    const known = shape.filter((d) => d !== -1).reduce((a, b) => a * b, 1)
    const resolved = shape.map((d) => (d === -1 ? x.data.length / known : d))
    check(
      sizeOf(resolved) === x.data.length && Number.isInteger(sizeOf(resolved)),
      'SHAPE_MISMATCH',
      `cannot reshape [${x.shape.join(', ')}] to [${shape.join(', ')}]`,
    )
    return refTensor(x.data, resolved, x.dtype)
  },
  transpose(x, perm) {
    const rank = x.shape.length
    check(
      perm.length === rank && [...perm].sort((a, b) => a - b).every((a, i) => a === i),
      'SHAPE_MISMATCH',
      `transpose needs a permutation of the ${rank} axes, got [${perm.join(', ')}]`,
    )
    const shape = perm.map((a) => x.shape[a]!)
    const inStrides = stridesOf(x.shape)
    const outStrides = stridesOf(shape)
    const out = new Float64Array(x.data.length)
    for (let flat = 0; flat < out.length; flat++) {
      let src = 0
      for (let k = 0; k < rank; k++) src += (Math.floor(flat / outStrides[k]!) % shape[k]!) * inStrides[perm[k]!]!
      out[flat] = x.data[src]!
    }
    return refTensor(out, shape, x.dtype)
  },

  add: (a, b) => binary(a, b, (x, y) => x + y),
  sub: (a, b) => binary(a, b, (x, y) => x - y),
  mul: (a, b) => binary(a, b, (x, y) => x * y),
  div: (a, b) => binary(a, b, (x, y) => x / y),
  maximum: (a, b) => binary(a, b, Math.max),
  minimum: (a, b) => binary(a, b, Math.min),

  neg: (x) => unary(x, (v) => -v),
  abs: (x) => unary(x, Math.abs),
  exp: (x) => unary(x, Math.exp),
  log: (x) => unary(x, Math.log),
  sqrt: (x) => unary(x, Math.sqrt),
  sign: (x) => unary(x, (v) => (v > 0 ? 1 : v < 0 ? -1 : 0)),
  floor: (x) => unary(x, Math.floor),
  round: (x) => unary(x, roundHalfEven),

  logSoftmax: (x) =>
    mapRows(x, (row, out) => {
      const lse = logSumExp(row)
      for (let j = 0; j < row.length; j++) out[j] = row[j]! - lse
    }),
  softmax: (x) =>
    mapRows(x, (row, out) => {
      const lse = logSumExp(row)
      for (let j = 0; j < row.length; j++) out[j] = Math.exp(row[j]! - lse)
    }),
  softplus: (x) => unary(x, (v) => Math.max(v, 0) + Math.log1p(Math.exp(-Math.abs(v)))),
  sigmoid: (x) =>
    unary(x, (v) => {
      const e = Math.exp(-Math.abs(v))
      return v >= 0 ? 1 / (1 + e) : e / (1 + e)
    }),

  sum: (x, axes, keepDims = false) => reduce(x, axes, keepDims, 0, (a, v) => a + v),
  max: (x, axes, keepDims = false) => reduce(x, axes, keepDims, -Infinity, Math.max),
  mean(x, axes, keepDims = false) {
    const rank = x.shape.length
    const count = axes.reduce((n, a) => n * x.shape[a < 0 ? a + rank : a]!, 1)
    return unary(
      reduce(x, axes, keepDims, 0, (a, v) => a + v),
      (v) => v / count,
    )
  },

  matmul(a, b, transposeA = false, transposeB = false) {
    const [ar, ac] = rank2(a, 'matmul lhs')
    const [br, bc] = rank2(b, 'matmul rhs')
    const [m, k] = transposeA ? [ac, ar] : [ar, ac]
    const [k2, n] = transposeB ? [bc, br] : [br, bc]
    check(k === k2, 'SHAPE_MISMATCH', `matmul inner dimensions ${k} and ${k2} differ`)
    const out = new Float64Array(m * n)
    for (let i = 0; i < m; i++) {
      for (let p = 0; p < k; p++) {
        const av = transposeA ? a.data[p * ac + i]! : a.data[i * ac + p]!
        if (av === 0) continue
        for (let j = 0; j < n; j++) out[i * n + j]! += av * (transposeB ? b.data[j * bc + p]! : b.data[p * bc + j]!)
      }
    }
    return refTensor(out, [m, n])
  },

  oneHot(labels, depth) {
    const n = labels.data.length
    const out = new Float64Array(n * depth)
    for (let i = 0; i < n; i++) out[i * depth + indexAt(labels, i, depth)] = 1
    return refTensor(out, [n, depth])
  },
  gather(x, indices, axis) {
    const rank = x.shape.length
    const ax = axis < 0 ? axis + rank : axis
    const outer = sizeOf(x.shape.slice(0, ax))
    const inner = sizeOf(x.shape.slice(ax + 1))
    const size = x.shape[ax]!
    const k = indices.data.length
    const out = new Float64Array(outer * k * inner)
    for (let o = 0; o < outer; o++) {
      for (let i = 0; i < k; i++) {
        const src = (o * size + indexAt(indices, i, size)) * inner
        out.set(x.data.subarray(src, src + inner), (o * k + i) * inner)
      }
    }
    const shape = [...x.shape.slice(0, ax), ...indices.shape, ...x.shape.slice(ax + 1)]
    return refTensor(out, shape, x.dtype)
  },
  segmentSum(x, segmentIds, segments) {
    const numSegments = typeof segments === 'number' ? segments : countOf(segments)
    const inner = sizeOf(x.shape.slice(1))
    const out = new Float64Array(numSegments * inner)
    check(segmentIds.data.length === x.shape[0], 'SHAPE_MISMATCH', 'segmentSum needs one id per row')
    for (let i = 0; i < segmentIds.data.length; i++) {
      const s = indexAt(segmentIds, i, numSegments) * inner
      for (let j = 0; j < inner; j++) out[s + j]! += x.data[i * inner + j]!
    }
    return refTensor(out, [numSegments, ...x.shape.slice(1)])
  },
  cumsum(x, axis) {
    const rank = x.shape.length
    const ax = axis < 0 ? axis + rank : axis
    check(ax >= 0 && ax < rank, 'SHAPE_MISMATCH', `cumsum axis ${axis} out of range for rank ${rank}`)
    const strides = stridesOf(x.shape)
    const step = strides[ax]!
    const size = x.shape[ax]!
    const out = Float64Array.from(x.data)
    for (let start = 0; start < out.length; start++) {
      // Each line along `axis` starts where that axis's index is 0.
      if (Math.floor(start / step) % size !== 0) continue
      for (let k = 1; k < size; k++) out[start + k * step]! += out[start + (k - 1) * step]!
    }
    return refTensor(out, x.shape, x.dtype)
  },
  cast: (x, dtype) => refTensor(dtype === 'int32' ? x.data.map(Math.trunc) : Float64Array.from(x.data), x.shape, dtype),

  greater: (a, b) => {
    const r = binary(a, b, (x, y) => (x > y ? 1 : 0))
    return refTensor(r.data, r.shape)
  },
  equal: (a, b) => {
    const r = binary(a, b, (x, y) => (x === y ? 1 : 0))
    return refTensor(r.data, r.shape)
  },
  where(cond, a, b) {
    const shape = broadcastShapes(broadcastShapes(cond.shape, a.shape), b.shape)
    const ones = refTensor(new Float64Array(sizeOf(shape)).fill(1), shape)
    const [c, x, y] = [cond, a, b].map((t) => binary(ones, t, (_, v) => v)) as [RefTensor, RefTensor, RefTensor]
    const out = new Float64Array(c.data.length)
    for (let i = 0; i < out.length; i++) out[i] = c.data[i] !== 0 ? x.data[i]! : y.data[i]!
    return refTensor(out, shape, a.dtype === 'int32' && b.dtype === 'int32' ? 'int32' : 'float32')
  },

  stopGradient: (x) => x,
  // Seeded mulberry32 and Box–Muller; without a seed, one drawn from Math.random.
  randomNormal: (like, stddev, seed) =>
    refTensor(normalSamples(sizeOf(like.shape), stddev, mulberry32(seed ?? Math.floor(Math.random() * 2 ** 32))), like.shape),

  checks: {
    labels: (labels, numClasses) => checkLabelValues(labels.data, numClasses),
    binaryLabels: (labels, numClasses) => checkBinaryLabelValues(labels.data, numClasses),
    probabilities: (labels, numClasses) => checkProbabilityValues(labels.data, numClasses),
    finite: (x, what) => checkFiniteValues(x.data, what),
    logits: (x, numClasses, targets, kind, counted) =>
      checkLogitValues(x.data, numClasses, { kind, values: targets.data, counted: counted?.data }),
    sampleWeight: (x) => checkSampleWeightValues(x.data),
    entries: (x, field, bounds) => checkEntryValues(x.data, field, bounds),
    mask: (x) => checkMaskValues(x.data),
  },
}
