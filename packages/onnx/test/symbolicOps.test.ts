import { LogitPerturbError, referenceOps } from '@logit-perturb/core'
import type { TensorOps } from '@logit-perturb/core/backend'
import { mulberry32, opCases, relativeError } from '@logit-perturb/conformance'
import { describe, expect, it } from 'vitest'
import { GraphBuilder, createSymbolicOps, evaluateSymbolic } from '../src/index.js'

/**
 * Cases whose reference result is tagged int32 while holding fractions (int/int division, a mean of
 * ints): ONNX has no fractional int32, so the symbolic backend types them float32, with the same values.
 */
const FRACTIONAL_INT32 = new Set(['div int32 is true division', 'mean int32'])

describe('symbolic TensorOps run by onnxruntime-web against the float64 reference', () => {
  // The op cases run on every backend at float32's tolerance, shapes included, in test/ops.test.ts;
  // here, all in one graph, the ONNX types and values within 1e-6 of the reference rounded to float32.
  it('computes every op case within 1e-6 of the float32-rounded reference, with the ONNX dtypes', async () => {
    const ops = createSymbolicOps()
    const expected = opCases(referenceOps)
    const actual = opCases(ops)
    const values = await evaluateSymbolic(actual.map((k) => k.value))
    const problems: string[] = []
    actual.forEach((k, i) => {
      const ref = expected[i]!
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
      want.forEach((w, k) => {
        expect(relativeError(got[k]!, w.data), `value ${k} at N = ${n}`).toBeLessThan(1e-5)
      })
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
    expect(results[0]!.map((r) => Array.from(r))).toEqual([
      [3, 5],
      [2.75, 1.5, -1.5],
      [2, 3.5],
    ])
    expect(results[1]).toEqual(results[0])
  })
})
