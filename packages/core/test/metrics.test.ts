import { describe, expect, it } from 'vitest'
import { LogitPerturbError, argmaxRows, balancedAccuracy, chooseTau, perClassAccuracy, shotAccuracy, thirdsAccuracy } from '../src/index.js'

describe('metrics: per-class, balanced and shot accuracy', () => {
  it('per-class and balanced accuracy; a class without samples is absent, not 0', () => {
    const perClass = perClassAccuracy([0, 0, 1, 2, 2, 0], [0, 0, 1, 1, 2, 2], 4)
    expect(perClass).toEqual([1, 0.5, 0.5, null])
    expect(balancedAccuracy(perClass)).toBeCloseTo(2 / 3, 12)
    expect(balancedAccuracy([null, null])).toBeNull()
    expect(() => perClassAccuracy([0], [0, 1], 2)).toThrow(LogitPerturbError)
  })
  it('head/medium/tail thirds by count, whatever the class order', () => {
    const perClass = [0.1, 0.9, 0.5, 0.3, 0.7, 0.2]
    const counts = [5, 500, 50, 20, 400, 10]
    // Ranked 1, 4, 2, 3, 5, 0: head {1, 4}, medium {2, 3}, tail {5, 0}.
    const g = thirdsAccuracy(perClass, counts)
    expect(g.head).toBeCloseTo(0.8, 12)
    expect(g.medium).toBeCloseTo(0.4, 12)
    expect(g.tail).toBeCloseTo(0.15, 12)
  })
  it('many/medium/few-shot groups, with empty groups left out', () => {
    const groups = shotAccuracy([0.9, 0.8, 0.4], [5000, 300, 101])
    expect(groups).toEqual({ many: (0.9 + 0.8 + 0.4) / 3 })
    expect('few' in groups).toBe(false)
    expect(shotAccuracy([0.9, 0.5, 0.1], [101, 20, 19])).toEqual({ many: 0.9, medium: 0.5, few: 0.1 })
  })
  it('chooses the post-hoc τ on held-out data by balanced accuracy', () => {
    // Class 1 is rare; its samples have a logit margin of 1 against class 0, which a τ of 0.5
    // (shift 0.5·log 9 ≈ 1.1) overcomes while the class-0 samples (margin 3) stay correct.
    const logits = [
      [1, 0],
      [1, 0],
      [3, 0],
      [3, 0],
    ]
    const labels = [1, 1, 0, 0]
    const result = chooseTau(logits, labels, [900, 100], [0, 0.5, 2])
    expect(result.tau).toBe(0.5)
    expect(result.balancedAccuracy).toBe(1)
    expect(result.scores.map((s) => s.balancedAccuracy)).toEqual([0.5, 1, 0.5])
    expect(argmaxRows(logits)).toEqual([0, 0, 0, 0])
  })
})

describe('average precision', () => {
  it('matches the step-wise definition, groups ties, and is absent without positives', async () => {
    const { averagePrecision, multiLabelAveragePrecision } = await import('../src/index.js')
    // Ranked 0.9 (+), 0.8 (−), 0.7 (+), 0.1 (−): AP = ½·1 + ½·⅔.
    expect(averagePrecision([0.9, 0.8, 0.7, 0.1], [1, 0, 1, 0])).toBeCloseTo(0.5 + 1 / 3, 12)
    expect(averagePrecision([0.5, 0.9, 0.1], [0, 1, 0])).toBe(1)
    // A tie of one positive and one negative at the top: one threshold, precision ½.
    expect(averagePrecision([0.9, 0.9, 0.1], [1, 0, 0])).toBeCloseTo(0.5, 12)
    expect(averagePrecision([0.9, 0.1], [0, 0])).toBeNull()
    const m = multiLabelAveragePrecision(
      [
        [0.9, 0.2],
        [0.1, 0.3],
      ],
      [
        [1, 0],
        [0, 0],
      ],
    )
    expect(m.perLabel).toEqual([1, null])
    expect(m.mean).toBe(1)
  })
})
