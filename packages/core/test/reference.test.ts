import { describe, expect, it } from 'vitest'
import { referenceOps as ops } from '../src/index.js'

const read = (t: { data: Float64Array }) => Array.from(t.data)

describe('reference backend', () => {
  it('broadcasts like NumPy', () => {
    const a = ops.constant([1, 2, 3, 4, 5, 6], [2, 3])
    expect(read(ops.add(a, ops.constant([10, 20, 30], [3])))).toEqual([11, 22, 33, 14, 25, 36])
    expect(read(ops.mul(a, ops.constant([2, 3], [2, 1])))).toEqual([2, 4, 6, 12, 15, 18])
    expect(read(ops.sub(a, ops.constant([1], [])))).toEqual([0, 1, 2, 3, 4, 5])
    expect(ops.shape(ops.add(ops.constant([1, 2], [2, 1]), ops.constant([1, 2, 3], [1, 3])))).toEqual([2, 3])
  })
  it('reduces over axes, with and without kept dimensions', () => {
    const a = ops.constant([1, 2, 3, 4, 5, 6], [2, 3])
    expect(read(ops.sum(a, [0]))).toEqual([5, 7, 9])
    expect(read(ops.sum(a, [1], true))).toEqual([6, 15])
    expect(ops.shape(ops.sum(a, [1], true))).toEqual([2, 1])
    expect(read(ops.max(a, [1]))).toEqual([3, 6])
    expect(read(ops.mean(a, [0, 1]))).toEqual([3.5])
  })
  it('softmax and log-softmax are stable at magnitude 1e4', () => {
    const x = ops.constant([1e4, -1e4, 1e4 - 1, 0, 0, 0], [2, 3])
    const p = read(ops.softmax(x))
    expect(p[0]).toBeCloseTo(1 / (1 + Math.exp(-1)), 10) // 1e4 carries ~2e-12 of rounding
    expect(p[1]).toBe(0)
    for (const v of p.slice(3)) expect(v).toBeCloseTo(1 / 3, 15)
    const lp = read(ops.logSoftmax(x))
    expect(lp.every(Number.isFinite)).toBe(true)
    expect(lp[1]).toBeCloseTo(-2e4 - Math.log1p(Math.exp(-1)), 6)
    expect(read(ops.softplus(ops.constant([-1e4, 0, 1e4], [3])))).toEqual([0, Math.log(2), 1e4])
  })
  it('gathers, one-hots and segment-sums by integer ids', () => {
    const m = ops.constant([1, 2, 3, 4, 5, 6], [3, 2])
    const ids = ops.constant([2, 0, 2], [3], 'int32')
    expect(read(ops.gather(m, ids, 0))).toEqual([5, 6, 1, 2, 5, 6])
    expect(read(ops.gather(m, ops.constant([1], [1], 'int32'), 1))).toEqual([2, 4, 6])
    expect(read(ops.oneHot(ids, 3))).toEqual([0, 0, 1, 1, 0, 0, 0, 0, 1])
    expect(read(ops.segmentSum(m, ids, 4))).toEqual([3, 4, 0, 0, 6, 8, 0, 0])
    expect(read(ops.segmentSum(ops.constant([1, 2, 3], [3]), ids, 3))).toEqual([2, 0, 4])
  })
  it('rounds half to even, and selects with float masks', () => {
    expect(read(ops.round(ops.constant([0.5, 1.5, 2.5, -0.5, -1.5, 2.4, -2.6], [7])))).toEqual([0, 2, 2, -0, -2, 2, -3])
    const mask = ops.greater(ops.constant([1, 5, 3], [3]), ops.constant([2], []))
    expect(read(mask)).toEqual([0, 1, 1])
    expect(read(ops.where(mask, ops.constant([NaN, 7, 8], [3]), ops.constant([9], [])))).toEqual([9, 7, 8])
    expect(read(ops.equal(ops.constant([1, 2], [2]), ops.constant([2], [])))).toEqual([0, 1])
  })
  it('multiplies matrices with either side transposed', () => {
    const a = ops.constant([1, 2, 3, 4], [2, 2])
    const b = ops.constant([5, 6, 7, 8], [2, 2])
    expect(read(ops.matmul(a, b))).toEqual([19, 22, 43, 50])
    expect(read(ops.matmul(a, b, true))).toEqual([26, 30, 38, 44])
    expect(read(ops.matmul(a, b, false, true))).toEqual([17, 23, 39, 53])
  })
  it('reshapes with one inferred dimension', () => {
    expect(ops.shape(ops.reshape(ops.constant([1, 2, 3, 4, 5, 6], [6]), [-1, 2]))).toEqual([3, 2])
  })
})
