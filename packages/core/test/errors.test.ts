import { describe, expect, it } from 'vitest'
import { LogitPerturbError, createLoss, parseSpec, referenceOps } from '../src/index.js'
import type { RuleInput } from '../src/index.js'
import { expectRefusal, singleLabelVariants } from '@logit-perturb/conformance'
import { SMALL, batch, headRows } from './support.js'

const la = { rule: 'logit-adjustment', classCounts: SMALL.counts } satisfies RuleInput

describe('typed errors, one per code, each naming the problem', () => {
  it('LOGITS_SHAPE: rank, class count, empty batch', () => {
    const loss = createLoss(referenceOps, la)
    const labels = referenceOps.constant([0], [1], 'int32')
    expectRefusal(() => loss(referenceOps.constant([1, 2, 3, 4], [4]), labels), 'LOGITS_SHAPE', /\[N, C\]/, /\[4\]/)
    expectRefusal(() => loss(referenceOps.constant([1, 2, 3], [1, 3]), labels), 'LOGITS_SHAPE', /3 classes/, /has 4/)
    expectRefusal(() => loss(referenceOps.constant([], [0, 4]), referenceOps.constant([], [0], 'int32')), 'LOGITS_SHAPE', /empty/)
  })
  it('LOGITS_NOT_FINITE, unless allowNonFinite', () => {
    const { logits, labels } = batch([[0, NaN, 0, 0]], [0])
    expectRefusal(() => createLoss(referenceOps, la)(logits, labels), 'LOGITS_NOT_FINITE', /NaN/, /logits/)
    const { logits: inf } = batch([[0, Infinity, 0, 0]], [0])
    expectRefusal(() => createLoss(referenceOps, la)(inf, labels), 'LOGITS_NOT_FINITE', /Infinity/)
    const propagated = createLoss(referenceOps, la, { checks: 'labels' })(logits, labels)
    expect(Number.isNaN(propagated.data[0])).toBe(true)
  })
  it('LABELS_SHAPE: wrong length or rank', () => {
    const loss = createLoss(referenceOps, la)
    const { logits } = batch(SMALL.logits, SMALL.labels)
    expectRefusal(() => loss(logits, referenceOps.constant([0, 1], [2], 'int32')), 'LABELS_SHAPE', /2 labels for 12 rows/)
    expectRefusal(() => loss(logits, referenceOps.constant(SMALL.labels, [12, 1], 'int32')), 'LABELS_SHAPE', /\[N\]/)
  })
  it('LABEL_VALUE: out of range, negative, fractional', () => {
    const loss = createLoss(referenceOps, la)
    for (const bad of [4, -1, 0.5, NaN]) {
      const { logits, labels } = batch(
        [
          [0, 0, 0, 0],
          [1, 1, 1, 1],
        ],
        [0, bad],
      )
      expectRefusal(() => loss(logits, labels), 'LABEL_VALUE', new RegExp(`label ${bad} at index 1`), /\[0, 4\)/)
    }
  })
  it('CLASS_COUNTS_LENGTH and CLASS_COUNTS_VALUE', () => {
    expectRefusal(
      () => parseSpec({ rule: 'ldam', numClasses: 3, classCounts: [5, 4] }),
      'CLASS_COUNTS_LENGTH',
      /classCounts/,
      /2 entries/,
      /3 classes/,
    )
    expectRefusal(() => parseSpec({ rule: 'ldam', classCounts: [] }), 'CLASS_COUNTS_LENGTH', /empty/)
    expectRefusal(() => parseSpec({ rule: 'ldam', classCounts: [5, -1] }), 'CLASS_COUNTS_VALUE', /classCounts\[1\]/, /-1/)
    expectRefusal(() => parseSpec({ rule: 'ldam', classCounts: [5, Infinity] }), 'CLASS_COUNTS_VALUE', /classCounts\[1\]/)
    expectRefusal(() => parseSpec({ rule: 'ldam', classCounts: [0, 0] }), 'CLASS_COUNTS_VALUE', /every class count is zero/)
    expectRefusal(
      () => parseSpec({ rule: 'lpl', split: 'prior', classCounts: [3, 2], base: { rule: 'logit-adjustment', classCounts: [1, 2, 3] } }),
      'CLASS_COUNTS_LENGTH',
      /base/,
    )
  })
  it('INVALID_PARAMETER: negative α or ε, non-integer steps, wrong types', () => {
    const prior = { rule: 'lpl', split: 'prior', classCounts: [3, 2] }
    expectRefusal(() => parseSpec({ ...prior, alpha: -0.1 }), 'INVALID_PARAMETER', /^alpha:/, /> 0/)
    expectRefusal(() => parseSpec({ ...prior, epsilon: -1 }), 'INVALID_PARAMETER', /^epsilon:/)
    expectRefusal(() => parseSpec({ ...prior, maxSteps: 2.5 }), 'INVALID_PARAMETER', /^maxSteps:/, /integer/)
    expectRefusal(() => parseSpec({ ...prior, gradient: 'both' }), 'INVALID_PARAMETER', /^gradient:/, /"stop", "through"/)
    expectRefusal(() => parseSpec({ rule: 'logit-adjustment', classCounts: [1], tau: '1' }), 'INVALID_PARAMETER', /^tau:/, /"1"/)
    expectRefusal(() => parseSpec({ rule: 'ldam', classCounts: [1], drw: { beta: 1 } }), 'INVALID_PARAMETER', /^drw\.beta:/)
    expectRefusal(
      () => parseSpec({ ...prior, base: { rule: 'logit-adjustment', classCounts: [3, 2], tau: -1 } }),
      'INVALID_PARAMETER',
      /^base\.tau:/,
    )
  })
  it('UNKNOWN_RULE names the rule and lists the known ones', () => {
    expectRefusal(() => parseSpec({ rule: 'focal-dice' }), 'UNKNOWN_RULE', /"focal-dice"/, /logit-adjustment/)
    expectRefusal(() => parseSpec({ rule: 'lpl', split: 'confidence', base: { rule: 'lpx' } }), 'UNKNOWN_RULE', /^base\.rule:/)
  })
  it('INVALID_SPEC: not an object, missing or misspelt fields, bad nesting', () => {
    expectRefusal(() => parseSpec([1]), 'INVALID_SPEC', /JSON object/)
    expectRefusal(() => parseSpec({}), 'INVALID_SPEC', /^rule:/, /required/)
    expectRefusal(() => parseSpec({ rule: 'logit-adjustment' }), 'INVALID_SPEC', /^classCounts:/, /required/)
    expectRefusal(() => parseSpec({ rule: 'logit-adjustment', classCounts: [1], taus: 1 }), 'INVALID_SPEC', /^taus:/, /not a field/)
    expectRefusal(
      () => parseSpec({ rule: 'lpl', split: 'prior', classCounts: [1], base: { rule: 'lpl', split: 'confidence' } }),
      'INVALID_SPEC',
      /^base\.rule:/,
    )
    expectRefusal(() => parseSpec({ rule: 'ce', version: 2 }), 'INVALID_SPEC', /^version:/)
  })
  it('SHAPE_MISMATCH from the reference backend', () => {
    expectRefusal(
      () => referenceOps.add(referenceOps.constant([1, 2], [2]), referenceOps.constant([1, 2, 3], [3])),
      'SHAPE_MISMATCH',
      /\[2\]/,
      /\[3\]/,
    )
    expectRefusal(() => referenceOps.constant([1, 2, 3], [2, 2]), 'SHAPE_MISMATCH', /3 values/)
  })
  it('MISSING_CONTEXT: ISDA without weights and covariances', () => {
    const { logits, labels } = batch(SMALL.logits, SMALL.labels)
    expectRefusal(() => createLoss(referenceOps, { rule: 'isda' })(logits, labels), 'MISSING_CONTEXT', /ctx\.isda/)
    const isda = { weights: [[1], [2]], covariances: [[[1]], [[1]]] }
    expectRefusal(() => createLoss(referenceOps, { rule: 'isda' })(logits, labels, { isda }), 'MISSING_CONTEXT', /2 rows/, /4 classes/)
  })
  it('closed-form gradient of a through-gradient rule is refused', () => {
    const { logits, labels } = batch(SMALL.logits, SMALL.labels)
    const loss = createLoss(referenceOps, { rule: 'official-longtail', classCounts: SMALL.counts, headClasses: 2 })
    expect(loss.hasClosedFormGradient).toBe(false)
    expectRefusal(() => loss.gradient(logits, labels), 'INVALID_SPEC', /automatic differentiation/)
  })
})

describe('inputs are never mutated, and a failed call leaves state unchanged', () => {
  it('no rule writes to its logits, labels or spec', () => {
    for (const { spec, heads } of singleLabelVariants(SMALL.counts)) {
      const specCopy = structuredClone(spec)
      const { logits, labels } = batch(headRows(SMALL.logits, heads), SMALL.labels)
      const before = [Float64Array.from(logits.data), Float64Array.from(labels.data)]
      const loss = createLoss(referenceOps, spec)
      loss(logits, labels)
      loss.perturb(logits, labels)
      loss.explain(logits, labels)
      if (loss.hasClosedFormGradient) loss.gradient(logits, labels)
      expect(logits.data).toEqual(before[0])
      expect(labels.data).toEqual(before[1])
      expect(spec).toEqual(specCopy)
    }
  })
  it('the confidence split keeps its state when a call throws', () => {
    const loss = createLoss(referenceOps, { rule: 'lpl', split: 'confidence' })
    const { logits, labels } = batch(SMALL.logits, SMALL.labels)
    loss(logits, labels)
    const state = loss.getState()!
    const bad = batch(
      SMALL.logits,
      SMALL.labels.map((y, i) => (i === 3 ? 7 : y)),
    )
    expect(() => loss(bad.logits, bad.labels)).toThrow(LogitPerturbError)
    expect(loss.getState()).toBe(state)
  })
})

describe('INVALID_STATE', () => {
  it('refuses saved states that do not fit, naming the field', async () => {
    const { loadRuleState, saveRuleState } = await import('../src/index.js')
    expectRefusal(
      () => loadRuleState(referenceOps, { version: 1, confidence: [0.5, 1.5], seen: [1, 1] }),
      'INVALID_STATE',
      /^state\.confidence:/,
      /\[0, 1\]/,
    )
    expectRefusal(() => loadRuleState(referenceOps, { version: 1, confidence: [0.5, 0.5], seen: [1] }), 'INVALID_STATE', /^state\.seen:/)
    expectRefusal(() => loadRuleState(referenceOps, { confidence: [0.5], seen: [1] }), 'INVALID_STATE', /version 1/)
    expectRefusal(() => loadRuleState(referenceOps, { version: 1, confidence: [0.5], seen: [1] }, 3), 'INVALID_STATE', /3/)
    const loss = createLoss(referenceOps, { rule: 'lpl', split: 'confidence', numClasses: 4 })
    const { logits, labels } = batch(SMALL.logits, SMALL.labels)
    loss(logits, labels)
    const saved = await saveRuleState(loss.getState()!, (t) => t.data)
    expect(JSON.parse(JSON.stringify(saved))).toEqual(saved)
    const state = loss.getState()
    expectRefusal(() => loss.setState(loadRuleState(referenceOps, { version: 1, confidence: [0.5], seen: [1] })), 'INVALID_STATE', /\[4\]/)
    expect(loss.getState()).toBe(state)
  })
})

describe('ISDA inputs are checked where they enter', () => {
  it('in the spec (INVALID_PARAMETER) and in the context (MISSING_CONTEXT), shapes and values', () => {
    const weights = [
      [1, 0],
      [0, 1],
    ]
    expectRefusal(
      () =>
        parseSpec({
          rule: 'isda',
          weights,
          covariances: [
            [
              [1, 0],
              [0, 1],
            ],
          ],
        }),
      'INVALID_PARAMETER',
      /^covariances:/,
      /2 arrays \[2\]\[2\]/,
    )
    expectRefusal(
      () =>
        parseSpec({
          rule: 'isda',
          weights: [
            [1, NaN],
            [0, 1],
          ],
          covariances: [],
        }),
      'INVALID_PARAMETER',
      /^weights:/,
      /finite/,
    )
    const { logits, labels } = batch(
      [
        [0, 1],
        [1, 0],
      ],
      [0, 1],
    )
    const bad = {
      weights,
      covariances: [
        [
          [1, 0],
          [0, Infinity],
        ],
        [
          [1, 0],
          [0, 1],
        ],
      ],
    }
    expectRefusal(() => createLoss(referenceOps, { rule: 'isda' })(logits, labels, { isda: bad }), 'MISSING_CONTEXT', /^isda\.covariances:/)
  })
  it('official-balanced refuses fewer than 5 steps, whose iterations store no entry a class uses', () => {
    expectRefusal(() => parseSpec({ rule: 'official-balanced', steps: 4 }), 'INVALID_PARAMETER', /^steps:/, /≥ 5/)
  })
  it('fields a variant ignores are refused, not silently dropped', () => {
    expectRefusal(() => parseSpec({ rule: 'vs', multiplicative: [1, 1], additive: [0, 0], gamma: 0.3 }), 'INVALID_SPEC', /^gamma:/)
    expectRefusal(() => parseSpec({ rule: 'lpl', split: 'fixed', directions: [1], bounds: [1], epsilon: 0.3 }), 'INVALID_SPEC', /^epsilon:/)
  })
})

describe('dense inputs, ignore labels and soft targets: typed errors naming the field', () => {
  const ops = referenceOps
  it('INVALID_PARAMETER: ignoreIndex and classAxis are checked like spec fields', () => {
    expectRefusal(() => createLoss(ops, la, { ignoreIndex: 2.5 }), 'INVALID_PARAMETER', /^ignoreIndex:/, /integer/)
    expectRefusal(() => createLoss(ops, la, { ignoreIndex: '255' as unknown as number }), 'INVALID_PARAMETER', /^ignoreIndex:/)
    expectRefusal(() => createLoss(ops, { rule: 'bce', numClasses: 3 }, { ignoreIndex: 255 }), 'INVALID_PARAMETER', /^ignoreIndex:/, /mask/)
    expectRefusal(() => createLoss(ops, la, { classAxis: 2 as unknown as 1 }), 'INVALID_PARAMETER', /^classAxis:/, /1 or -1/)
  })
  it('LABELS_SHAPE and SHAPE_MISMATCH name the dense layout', () => {
    const loss = createLoss(ops, la)
    const logits = ops.constant(new Array(2 * 4 * 3).fill(0), [2, 4, 3])
    expectRefusal(() => loss(logits, ops.constant([0, 1, 2, 3, 0, 1], [3, 2], 'int32')), 'LABELS_SHAPE', /\[2, 3\]/, /got \[3, 2\]/)
    const labels = ops.constant([0, 1, 2, 3, 0, 1], [2, 3], 'int32')
    expectRefusal(() => loss(logits, labels, { mask: ops.constant([1, 1, 1], [3]) }), 'SHAPE_MISMATCH', /^mask:/, /one per image/)
  })
  it('LABEL_VALUE: an id that is neither a class nor the ignore label', () => {
    const loss = createLoss(ops, la, { ignoreIndex: 255 })
    const { logits } = batch(SMALL.logits, SMALL.labels)
    const labels = ops.constant(
      SMALL.labels.map((y, i) => (i === 0 ? 255 : i === 1 ? 254 : y)),
      [SMALL.labels.length],
      'int32',
    )
    expectRefusal(() => loss(logits, labels), 'LABEL_VALUE', /254/)
  })
  it('LABEL_VALUE: soft targets outside [0, 1]', () => {
    const { logits } = batch(SMALL.logits, SMALL.labels)
    const targets = ops.constant(
      SMALL.labels.flatMap((y, i) => [0, 1, 2, 3].map((c) => (c === y ? (i === 3 ? 1.5 : 1) : 0))),
      [SMALL.labels.length, 4],
    )
    expectRefusal(() => createLoss(ops, la)(logits, targets), 'LABEL_VALUE', /1\.5/, /probability/)
  })
  it('SOFT_TARGETS: rules that do not define soft targets, and explain, name what refuses them', () => {
    const { logits } = batch(SMALL.logits, SMALL.labels)
    const targets = ops.constant(
      SMALL.labels.flatMap((y) => [0, 1, 2, 3].map((c) => (c === y ? 1 : 0))),
      [SMALL.labels.length, 4],
    )
    expectRefusal(() => createLoss(ops, { rule: 'lpl', split: 'confidence', numClasses: 4 })(logits, targets), 'SOFT_TARGETS', /rule lpl/)
    expectRefusal(() => createLoss(ops, { rule: 'focal', numClasses: 4 })(logits, targets), 'SOFT_TARGETS', /rule focal/)
    expectRefusal(() => createLoss(ops, la).explain(logits, targets), 'SOFT_TARGETS', /explain/)
  })
})
