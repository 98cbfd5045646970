import { describe, expect, it } from 'vitest'
import { LogitPerturbError, createLoss, describeClasses, loadRuleState, parseSpec, referenceOps, saveRuleState } from '../src/index.js'
import type { RuleInput } from '../src/index.js'
import { SMALL, batch } from './support.js'

const read = (t: { data: Float64Array }) => Array.from(t.data)

describe('LPL, learned split', () => {
  const spec = { rule: 'lpl', split: 'learned', numClasses: 4, maxBound: 1 } satisfies RuleInput

  it('is its base rule until θ is set, then moves each class by θ_c along d_c', () => {
    const b = batch(SMALL.logits, SMALL.labels)
    const loss = createLoss(referenceOps, spec)
    expect(read(loss(b.logits, b.labels))).toEqual(read(createLoss(referenceOps, { rule: 'ce' })(b.logits, b.labels)))
    loss.setState(loadRuleState(referenceOps, { version: 1, theta: [-0.8, 0.5, 2, 0] }))
    const e = loss.explain(b.logits, b.labels)
    const report = describeClasses({
      classCounts: e.classCounts.data,
      lossVariation: e.lossVariation.data,
      equivalentWeight: e.equivalentWeight.data,
      targetWeight: e.targetWeight.data,
    })
    expect(report.map((r) => r.direction)).toEqual(['negative', 'positive', 'positive', 'none'])
    // ‖δ_c‖ = |θ_c| clipped to maxBound: class 2 moves by 1, not 2.
    const z = read(loss.perturb(b.logits, b.labels))
    const i = SMALL.labels.indexOf(2)
    const shift = z.slice(i * 4, i * 4 + 4).map((v, j) => v - SMALL.logits[i]![j]!)
    expect(Math.hypot(...shift)).toBeCloseTo(1, 12)
  })

  it("keeps θ as state that round-trips through JSON, and refuses another rule's state", async () => {
    const loss = createLoss(referenceOps, spec)
    loss.setState(loadRuleState(referenceOps, { version: 1, theta: [0.1, -0.2, 0.3, 0] }, 4))
    const saved = JSON.parse(JSON.stringify(await saveRuleState(loss.getState()!, (t) => t.data)))
    expect(saved).toEqual({ version: 1, theta: [0.1, -0.2, 0.3, 0] })
    const confidence = loadRuleState(referenceOps, { version: 1, confidence: [0.5, 0.5, 0.5, 0.5], seen: [1, 1, 1, 1] })
    expect(() => loss.setState(confidence)).toThrow(/holds confidence, seen; this rule keeps theta/)
    expect(() => loadRuleState(referenceOps, { version: 1, theta: [NaN] })).toThrow(LogitPerturbError)
    expect(() => loadRuleState(referenceOps, { version: 1, omega: [1] })).toThrow(/not a state field/)
  })

  it('takes numClasses and maxBound only', () => {
    expect(parseSpec(spec)).toEqual({ rule: 'lpl', version: 1, numClasses: 4, split: 'learned', maxBound: 1, gradient: 'stop' })
    expect(() => parseSpec({ ...spec, alpha: 0.1 })).toThrow(/alpha: is not a field/)
    expect(() => parseSpec({ rule: 'lpl', split: 'learned' })).toThrow(/needs numClasses/)
  })
})
