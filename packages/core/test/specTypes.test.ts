/**
 * The spec input types catch mistakes at compile time: `tsc` (run by `pnpm typecheck`) fails on
 * this file if a misspelt field, a value of the wrong type, a field of another split or a missing
 * required field stops being an error (each `@ts-expect-error` then has no error to expect), or if
 * a valid spec stops compiling. At run time the same specs are checked by the parser.
 */
import { describe, expect, expectTypeOf, it } from 'vitest'
import { type LplSpec, RULE_NAMES, type RuleInput, type RuleSpec, createLoss, parseSpec, referenceOps, specs } from '../src/index.js'

const classCounts = [5000, 2997, 1796, 1077, 645, 387, 232, 139, 83, 50]

describe('spec input types', () => {
  it('accept the specs users write, with defaults left out and as const literals', () => {
    const specs: RuleInput[] = [
      { rule: 'lpl', split: 'prior', classCounts },
      { rule: 'lpl', split: 'confidence', momentum: 0.5 },
      { rule: 'lpl', split: 'fixed', directions: [1, -1], bounds: [0.3, 0.6] },
      { rule: 'lpl', split: 'learned', numClasses: 10 },
      { rule: 'lpl', split: 'prior', classCounts, base: { rule: 'logit-adjustment', classCounts } },
      { rule: 'ldam', classCounts, drw: {} },
      { rule: 'vs', multiplicative: [1, 2], additive: [0, 1] },
      { rule: 'logit-adjustment', classCounts: [90, 9, 1] as const },
      { rule: 'db-negative-tolerant', classCounts: [30, 3], numSamples: 100 },
    ]
    for (const spec of specs) expect(() => parseSpec(spec)).not.toThrow()
    // A parsed spec is itself a valid input.
    expectTypeOf<RuleSpec>().toMatchTypeOf<RuleInput>()
    expect(createLoss(referenceOps, parseSpec(specs[0])).spec.rule).toBe('lpl')
  })

  it('refuse misspelt fields, wrong types, fields of another split and missing required fields', () => {
    const refused: unknown[] = [
      // @ts-expect-error `tua` is not a field of logit adjustment
      { rule: 'logit-adjustment', classCounts, tua: 1 },
      // @ts-expect-error `tau` is a number
      { rule: 'logit-adjustment', classCounts, tau: 'x' },
      // @ts-expect-error `momentum` belongs to the confidence split
      { rule: 'lpl', split: 'prior', classCounts, momentum: 0.5 },
      // @ts-expect-error the prior split needs `classCounts`
      { rule: 'lpl', split: 'prior' },
      // @ts-expect-error the fixed split has per-class bounds, not `epsilon`
      { rule: 'lpl', split: 'fixed', directions: [1], bounds: [1], epsilon: 0.3 },
      // @ts-expect-error no such rule
      { rule: 'no-such-rule' },
    ] satisfies RuleInput[]
    for (const spec of refused) expect(() => parseSpec(spec)).toThrow()
  })

  it('narrow LPL by split', () => {
    const spec = parseSpec({ rule: 'lpl', split: 'prior', classCounts }) as LplSpec
    if (spec.split === 'prior') expectTypeOf(spec.classCounts).toEqualTypeOf<number[]>()
    if (spec.split === 'learned') expectTypeOf(spec.numClasses).toEqualTypeOf<number>()
    expect(spec.split).toBe('prior')
  })
})

describe('the typed builders', () => {
  it('build the plain JSON spec of each rule, which parses as the literal does', () => {
    const built = specs.lpl({ split: 'prior', classCounts, base: specs.logitAdjustment({ classCounts, tau: 1 }) })
    expect(built).toEqual({ rule: 'lpl', split: 'prior', classCounts, base: { rule: 'logit-adjustment', classCounts, tau: 1 } })
    expect(parseSpec(built)).toEqual(
      parseSpec({ rule: 'lpl', split: 'prior', classCounts, base: { rule: 'logit-adjustment', classCounts, tau: 1 } }),
    )
    expectTypeOf(built).toMatchTypeOf<RuleInput>()
    expect(specs.ce()).toEqual({ rule: 'ce' })
    expect(specs.officialLongtail).toBeTypeOf('function')
    expect(specs.lplMultilabel({ classCounts: [3, 1] }).rule).toBe('lpl-multilabel')
  })

  it('exist for every registered rule, under its name in camel case', () => {
    const camel = RULE_NAMES.map((name) => name.replace(/-([a-z])/g, (_, l: string) => l.toUpperCase())).sort()
    expect(Object.keys(specs).sort()).toEqual(camel)
  })

  it('refuse at compile time what the literal refuses', () => {
    // @ts-expect-error `tua` is not a field of logit adjustment
    expect(() => parseSpec(specs.logitAdjustment({ classCounts, tua: 1 }))).toThrow(/tua/)
    // @ts-expect-error `momentum` belongs to the confidence split
    expect(() => parseSpec(specs.lpl({ split: 'prior', classCounts, momentum: 0.5 }))).toThrow(/momentum/)
    // @ts-expect-error logit adjustment needs its class counts
    expect(() => parseSpec(specs.logitAdjustment())).toThrow(/classCounts/)
  })
})

describe('a spec is parsed once', () => {
  it('parseSpec returns a frozen spec, and returns it as it is when given it again', () => {
    const parsed = parseSpec({ rule: 'lpl', split: 'prior', classCounts, base: { rule: 'logit-adjustment', classCounts } })
    expect(Object.isFrozen(parsed)).toBe(true)
    expect(Object.isFrozen((parsed as LplSpec & { classCounts: number[] }).classCounts)).toBe(true)
    expect(() => {
      ;(parsed as { alpha: number }).alpha = -1
    }).toThrow(TypeError)
    expect(parseSpec(parsed)).toBe(parsed)
    expect(createLoss(referenceOps, parsed).spec).toBe(parsed)
    // A spec derived from a parsed one is a new object: checked again.
    expect(() => parseSpec({ ...parsed, alpha: -1 })).toThrow(/alpha/)
  })
})
