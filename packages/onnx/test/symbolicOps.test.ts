import { LogitPerturbError, type TensorOps, referenceOps } from '@logit-perturb/core'
import { mulberry32, relativeError } from '@logit-perturb/conformance'
import { describe, expect, it } from 'vitest'
import { GraphBuilder, createSymbolicOps, evaluateSymbolic } from '../src/index.js'

/** One op case: the ops it exercises and the tensor it computes, written once for any backend. */
interface OpCase<T> {
  name: string
  covers: string[]
  value: T
}

/**
 * Every op of `TensorOps` on small inputs, including the corners the symbolic mapping has to get
 * right: broadcasting, int32 operands, half-way rounding, large softmax inputs, empty and negative
 * axes, both transposes, gathers on both axes, segment sums of rank 1 and 2, float masks that are
 * neither 0 nor 1.
 */
function opCases<T>(ops: TensorOps<T>): OpCase<T>[] {
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
 * Cases whose reference result is tagged int32 while holding fractions (int/int division, a mean of
 * ints): ONNX has no fractional int32, so the symbolic backend types them float32, with the same values.
 */
const FRACTIONAL_INT32 = new Set(['div int32 is true division', 'mean int32'])

/** Every method of the interface but the name, the optional checks and `shape` (checked on each case). */
const METHODS = Object.keys(referenceOps).filter((k) => !['name', 'checks', 'shape'].includes(k))

describe('symbolic TensorOps run by onnxruntime-web against the float64 reference', () => {
  it('computes every op as the reference does, with the same static shapes', async () => {
    const ops = createSymbolicOps()
    const expected = opCases(referenceOps)
    const actual = opCases(ops)
    expect(METHODS.filter((m) => !actual.some((k) => k.covers.includes(m)))).toEqual([])
    const values = await evaluateSymbolic(actual.map((k) => k.value))
    const problems: string[] = []
    actual.forEach((k, i) => {
      const ref = expected[i]!
      if (JSON.stringify(ops.shape(k.value)) !== JSON.stringify(referenceOps.shape(ref.value))) {
        problems.push(`${k.name}: shape [${ops.shape(k.value)}] vs [${referenceOps.shape(ref.value)}]`)
      }
      const dtype = FRACTIONAL_INT32.has(k.name) ? 'float32' : ref.value.dtype
      if (k.value.dtype !== dtype) problems.push(`${k.name}: dtype ${k.value.dtype} vs ${ref.value.dtype}`)
      const error = relativeError(values[i]!, Array.from(ref.value.data, Math.fround))
      if (!(error <= 1e-6)) problems.push(`${k.name}: relative error ${error} (${Array.from(values[i]!)} vs ${Array.from(ref.value.data)})`)
    })
    expect(problems).toEqual([])
  })

  it('keeps a dynamic batch dimension and gives the reference values at two batch sizes', async () => {
    const ops = createSymbolicOps()
    const x = ops.input('x', 'float32', [-1, 3])
    const y = ops.input('y', 'int64', [-1])
    const build = <T>(o: TensorOps<T>, logits: T, labels: T): T[] => [
      o.softmax(logits),
      o.sum(o.mul(o.logSoftmax(logits), o.oneHot(labels, 3)), [1]),
      o.segmentSum(logits, labels, 3),
      o.gather(o.constant([1, 2, 3, 4, 5, 6, 7, 8, 9], [3, 3]), labels, 0),
      o.reshape(o.max(logits, [1]), [-1, 1]),
      o.sum(o.where(o.greater(logits, o.constant([0], [])), logits, o.constant([0], [])), [0, 1]),
      o.matmul(logits, logits, true),
    ]
    const symbolic = build(ops, x, y)
    expect(symbolic.map((t) => ops.shape(t))).toEqual([[-1, 3], [-1], [3, 3], [-1, 3], [-1, 1], [], [3, 3]])
    const rand = mulberry32(7)
    for (const n of [2, 5]) {
      const logits = Float32Array.from({ length: n * 3 }, () => 4 * rand() - 2)
      const labels = Array.from({ length: n }, () => Math.floor(3 * rand()))
      const got = await evaluateSymbolic(symbolic, {
        x: { data: logits, dims: [n, 3] },
        y: { data: BigInt64Array.from(labels, BigInt), dims: [n] },
      })
      const want = build(referenceOps, referenceOps.constant(logits, [n, 3]), referenceOps.constant(labels, [n], 'int32'))
      want.forEach((w, k) => expect(relativeError(got[k]!, w.data), `value ${k} at N = ${n}`).toBeLessThan(1e-5))
    }
  })

  it('refuses tensors of another graph, released tensors and shapes that cannot fit', () => {
    const graph = new GraphBuilder()
    const ops = createSymbolicOps(graph)
    const other = createSymbolicOps()
    const a = ops.constant([1, 2], [2])
    expect(() => ops.add(a, other.constant([1, 2], [2]))).toThrow(/another graph/)
    const mark = graph.mark()
    const b = ops.exp(a)
    graph.release(mark)
    expect(() => ops.neg(b)).toThrow(/not a value of this graph/)
    expect(() => ops.add(a, ops.constant([1, 2, 3], [3]))).toThrow(LogitPerturbError)
    expect(() => ops.matmul(ops.constant([1, 2], [1, 2]), ops.constant([1, 2, 3], [3, 1]))).toThrow(/inner dimensions 2 and 3/)
    expect(() => ops.reshape(a, [3])).toThrow(/cannot reshape/)
    expect(() => ops.constant([1.5], [1], 'int32')).toThrow(/not a 32-bit integer/)
    expect(() => new GraphBuilder({ opset: 16 })).toThrow(/opset/)
  })

  it('writes reduce axes as attributes at opset 17 and as inputs from 18 on, with the same values', async () => {
    const results: Float64Array[][] = []
    for (const opset of [17, 18]) {
      const ops = createSymbolicOps(new GraphBuilder({ opset }))
      const m = ops.constant([1, -2, 3, 4.5, 5, -6], [2, 3])
      results.push(await evaluateSymbolic([ops.max(m, [1]), ops.mean(m, [0], true), ops.sum(m, [1])]))
      const model = ops.graph.toModel({ outputs: [{ name: 'out', source: ops.max(m, [0]).name, elemType: 'float32', dims: [3] }] })
      const reduceMax = model.nodes.find((n) => n.opType === 'ReduceMax')!
      expect(reduceMax.inputs.length).toBe(opset === 17 ? 1 : 2)
    }
    expect(results[0]!.map((r) => Array.from(r))).toEqual([[3, 5], [2.75, 1.5, -1.5], [2, 3.5]])
    expect(results[1]).toEqual(results[0])
  })
})
