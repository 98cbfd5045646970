import { describe, expect, it } from 'vitest'
import {
  createLoss,
  describeClasses,
  officialBalancedIterations,
  officialLongtailSteps,
  parseSpec,
  postHocAdjust,
  postHocPredict,
  priorSplitBounds,
  referenceOps,
  lplSteps,
  loadRuleState,
  saveRuleState,
} from '../src/index.js'
import type { RuleInput } from '../src/index.js'
import { singleLabelVariants } from '@logit-perturb/conformance'
import { SMALL, batch, headRows } from './support.js'

const read = (t: { data: Float64Array }) => Array.from(t.data)

describe('every rule', () => {
  it('stays finite with zero class counts and with logits of magnitude 1e4', () => {
    const huge = SMALL.logits.map((row, i) => row.map((v, j) => ((i + j) % 2 ? 1e4 * v : -1e4 * v)))
    for (const logits of [SMALL.logits, huge]) {
      for (const { spec, heads } of singleLabelVariants(SMALL.counts)) {
        const loss = createLoss(referenceOps, spec)
        const b = batch(headRows(logits, heads), SMALL.labels)
        const values = [...read(loss(b.logits, b.labels)), ...read(loss.perturb(b.logits, b.labels))]
        if (loss.hasClosedFormGradient) values.push(...read(loss.gradient(b.logits, b.labels)))
        const e = loss.explain(b.logits, b.labels)
        values.push(...read(e.lossVariation), ...read(e.equivalentWeight), ...read(e.targetWeight))
        expect(values.every(Number.isFinite), JSON.stringify(spec)).toBe(true)
      }
    }
  })
  it('round-trips its parsed spec through JSON to the same spec', () => {
    for (const { spec } of singleLabelVariants(SMALL.counts)) {
      const parsed = parseSpec(spec)
      expect(parsed.version).toBe(1)
      expect(parseSpec(JSON.parse(JSON.stringify(parsed)))).toEqual(parsed)
    }
  })
})

describe('logit adjustment', () => {
  it('post-hoc: subtracts τ log π and predicts the arg-max', () => {
    const counts = [900, 100]
    const adjusted = read(postHocAdjust(referenceOps, referenceOps.constant([1, 0, 3, 0], [2, 2]), counts, 1))
    expect(adjusted[0]).toBeCloseTo(1 - Math.log(0.9), 12)
    expect(adjusted[1]).toBeCloseTo(-Math.log(0.1), 12)
    // log(0.9/0.1) = 2.197: a margin of 1 flips to the rare class, a margin of 3 does not.
    expect(
      postHocPredict(
        [
          [1, 0],
          [3, 0],
        ],
        counts,
        1,
      ),
    ).toEqual([1, 0])
    expect(
      postHocPredict(
        [
          [1, 0],
          [3, 0],
        ],
        counts,
        0,
      ),
    ).toEqual([0, 0])
  })
})

describe('LDAM-DRW', () => {
  it('switches the weights on at drw.fromEpoch', () => {
    const spec = { rule: 'ldam', classCounts: SMALL.counts, scale: 2, drw: { beta: 0.999, fromEpoch: 5 } } satisfies RuleInput
    const plain = { rule: 'ldam', classCounts: SMALL.counts, scale: 2 } satisfies RuleInput
    const b = batch(SMALL.logits, SMALL.labels)
    const at = (s: RuleInput, epoch?: number) =>
      read(createLoss(referenceOps, s)(b.logits, b.labels, epoch === undefined ? {} : { epoch }))[0]
    expect(at(spec, 4)).toBe(at(plain))
    expect(at(spec)).toBe(at(plain))
    expect(at(spec, 5)).not.toBeCloseTo(at(plain)!, 6)
  })
})

describe('LPL', () => {
  it('prior split: head by count (ids need not be sorted), bounds grow toward both ends', () => {
    const { directions, bounds } = priorSplitBounds([50, 5000, 500, 1000, 100], 0.3, 1.2)
    // Median 500: the head is the two classes above it, 5000 and 1000.
    expect(directions).toEqual([1, -1, 1, -1, 1])
    expect(bounds[1]).toBeCloseTo(0.3 + 1.2, 12)
    expect(bounds[3]).toBeCloseTo(0.3 + 1.2 * 0.2, 12)
    expect(bounds[0]).toBeCloseTo(0.3 + 1.2, 12)
    expect(bounds[4]).toBeCloseTo(0.3 + 1.2 * 0.5, 12)
    expect(priorSplitBounds([50, 5000, 500], 0, 1, 0).directions).toEqual([1, 1, 1])
  })
  it('K_c = min(⌊ε_c/α⌋, K), with bounds that are multiples of α taken exactly', () => {
    expect(lplSteps(0.3, 0.1, 20)).toBe(3)
    expect(lplSteps(0.29, 0.1, 20)).toBe(2)
    expect(lplSteps(1.5, 0.15, 4)).toBe(4)
    expect(lplSteps(0, 0.15, 4)).toBe(0)
  })
  it('confidence split: the running average updates on training calls only, and restores from JSON', async () => {
    const loss = createLoss(referenceOps, { rule: 'lpl', split: 'confidence', momentum: 0.5 })
    const b = batch(SMALL.logits, SMALL.labels)
    expect(loss.getState()).toBeUndefined()
    loss(b.logits, b.labels, { training: false })
    expect(loss.getState()).toBeUndefined()
    loss(b.logits, b.labels)
    const first = loss.getState()!
    expect(read(first.seen!)).toEqual([1, 1, 1, 1])
    const shifted = batch(
      SMALL.logits.map((r) => r.map((v, j) => (j === 0 ? v + 2 : v))),
      SMALL.labels,
    )
    const secondLoss = read(loss(shifted.logits, shifted.labels))
    const second = loss.getState()!
    // Class 0 became more confident; its average moved halfway toward the new batch mean.
    const batchOnly = createLoss(referenceOps, { rule: 'lpl', split: 'confidence', momentum: 0 })
    batchOnly(shifted.logits, shifted.labels)
    const fresh = read(batchOnly.getState()!.confidence!)
    expect(read(second.confidence!)[0]).toBeCloseTo(0.5 * read(first.confidence!)[0]! + 0.5 * fresh[0]!, 12)
    // Restoring the first state reproduces the second call.
    const restored = createLoss(referenceOps, { rule: 'lpl', split: 'confidence', momentum: 0.5 })
    const saved = JSON.parse(JSON.stringify(await saveRuleState(first, (t) => t.data)))
    restored.setState(loadRuleState(referenceOps, saved, 4))
    expect(read(restored(shifted.logits, shifted.labels))).toEqual(secondLoss)
  })
  it('LA+LPL searches on the adjusted logits', () => {
    const b = batch(SMALL.logits, SMALL.labels)
    const la = { rule: 'logit-adjustment', classCounts: SMALL.counts } satisfies RuleInput
    const zeroLpl = { rule: 'lpl', split: 'prior', classCounts: SMALL.counts, maxSteps: 0, base: la } satisfies RuleInput
    expect(read(createLoss(referenceOps, zeroLpl)(b.logits, b.labels))).toEqual(read(createLoss(referenceOps, la)(b.logits, b.labels)))
    const lpl = { ...zeroLpl, maxSteps: 20 }
    const report = describeClasses(readExplanation(createLoss(referenceOps, lpl).explain(b.logits, b.labels)))
    expect(report.map((r) => r.direction)).not.toEqual(report.map(() => 'none'))
  })
})

describe('released-code presets', () => {
  it('step counts follow get_step with round-half-to-even and clamping', () => {
    // n_c/n_0·S·κ − 1 = 0.5 exactly for c = 1 rounds to 0 (even), and the tail index for a class
    // ten times rarer than the last is past K − 1 and clamps.
    const steps = officialLongtailSteps([1000, 250, 100, 10], 2, 10, 0.6, 10)
    expect(steps.raw).toEqual([5, 0, 0, 9])
    expect(officialLongtailSteps([1000, 100, 1], 1, 10, 0.6, 5).clamped).toEqual([4, 0, 4])
    expect(officialBalancedIterations(10)).toBe(11)
    expect(officialBalancedIterations(5)).toBe(6) // round(5.5) = 6 (even)
    expect(officialBalancedIterations(15)).toBe(16) // round(16.5) = 16 (even)
  })
})

function readExplanation(e: {
  classCounts: { data: Float64Array }
  lossVariation: { data: Float64Array }
  equivalentWeight: { data: Float64Array }
  targetWeight: { data: Float64Array }
}) {
  return {
    classCounts: e.classCounts.data,
    lossVariation: e.lossVariation.data,
    equivalentWeight: e.equivalentWeight.data,
    targetWeight: e.targetWeight.data,
  }
}

describe('explain', () => {
  it('reports no change and unit weights for CE, and absent classes as absent', () => {
    const b = batch(
      SMALL.logits,
      SMALL.labels.map((y) => (y === 3 ? 0 : y)),
    )
    const report = describeClasses(readExplanation(createLoss(referenceOps, { rule: 'ce' }).explain(b.logits, b.labels)))
    expect(report.map((r) => r.direction)).toEqual(['none', 'none', 'none', 'absent'])
    for (const r of report.slice(0, 3)) {
      expect(r.equivalentWeight).toBeCloseTo(1, 12)
      expect(r.targetWeight).toBeCloseTo(1, 12)
    }
  })
  it('LA raises the loss of rare classes (positive) and lowers the frequent one (negative)', () => {
    const b = batch(SMALL.logits, SMALL.labels)
    const report = describeClasses(
      readExplanation(createLoss(referenceOps, { rule: 'logit-adjustment', classCounts: SMALL.counts }).explain(b.logits, b.labels)),
    )
    expect(report[0]!.direction).toBe('negative')
    expect(report[3]!.direction).toBe('positive')
    expect(report[3]!.equivalentWeight).toBeGreaterThan(1)
    expect(report[0]!.equivalentWeight).toBeLessThan(1)
  })
})

describe('loss.numClasses', () => {
  it('is the class count the spec fixes, from whichever field fixes it, and undefined when none does', () => {
    const counts = [50, 20, 5]
    const of = (spec: RuleInput) => createLoss(referenceOps, spec).numClasses
    expect(of({ rule: 'ce' })).toBeUndefined()
    expect(of({ rule: 'ce', numClasses: 4 })).toBe(4)
    expect(of({ rule: 'logit-adjustment', classCounts: counts })).toBe(3)
    expect(of({ rule: 'vs', multiplicative: [1, 2], additive: [0, 0] })).toBe(2)
    expect(of({ rule: 'lpl', split: 'fixed', directions: [1, -1, 1, -1], bounds: [1, 1, 1, 1] })).toBe(4)
    expect(of({ rule: 'lpl', split: 'confidence', base: { rule: 'logit-adjustment', classCounts: counts } })).toBe(3)
    expect(of({ rule: 'lpl', split: 'learned', numClasses: 5 })).toBe(5)
    expect(of({ rule: 'official-balanced' })).toBeUndefined()
    expect(of({ rule: 'bce', numClasses: 2 })).toBe(2)
  })
})

describe('the state step', () => {
  it('evaluate returns the next state without keeping it; commit keeps it; calling the loss does both', () => {
    const loss = createLoss(referenceOps, { rule: 'lpl', split: 'confidence', numClasses: 4, momentum: 0.5 })
    const b = batch(SMALL.logits, SMALL.labels)
    const first = loss.evaluate(b.logits, b.labels)
    expect(first.nextState).toBeDefined()
    expect(loss.getState()).toBeUndefined()
    loss.commit(first)
    expect(loss.getState()).toBe(first.nextState)
    // A call that is not a training step moves nothing.
    expect(loss.evaluate(b.logits, b.labels, { training: false }).nextState).toBeUndefined()
    const again = loss.evaluate(b.logits, b.labels)
    expect(loss.getState()).toBe(first.nextState)
    loss(b.logits, b.labels)
    expect(loss.getState()).not.toBe(first.nextState)
    expect(read(loss.getState()!.confidence!)).toEqual(read(again.nextState!.confidence!))
  })
})
