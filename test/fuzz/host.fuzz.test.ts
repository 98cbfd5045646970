/**
 * Fuzzing of the core's host functions (plain arrays in, plain values out): class-count statistics,
 * margins and weights, LPL's bounds and steps, evaluation, post-hoc adjustment, learned-bound
 * updates, state files, shapes and the seeded generator. Each call, on valid and invalid arguments
 * alike, returns finite values or throws a `LogitPerturbError`, and leaves its arguments unchanged.
 */
import fc from 'fast-check'
import * as core from '@logit-perturb/core'
import * as coreBackend from '@logit-perturb/core/backend'
import { outcome } from '@logit-perturb/conformance'
import { describe, expect, it } from 'vitest'
import { Tally, firstNonFinite, fuzzRuns, snapshot } from './oracle.js'
import { WRONG_TYPES, countsInput, integerInput, labelsInput, numberInput, rowsInput, valuesInput } from './inputs.js'

/** Class counts of a drawn size: C = 1, 2, up to 12, or 1000. */
const classes = fc.oneof(fc.constantFrom(1, 2, 1000), fc.integer({ min: 1, max: 12 }))
const samples = fc.oneof(fc.constantFrom(0, 1), fc.integer({ min: 1, max: 40 }))

/** A function under test: how to draw its arguments, and how to call it. */
interface Target {
  name: string
  args: fc.Arbitrary<unknown[]>
  // biome-ignore lint/suspicious/noExplicitAny: each entry calls a function with its own argument types
  call: (args: any[]) => unknown
}

const perClass = (c: number) =>
  fc.array(fc.oneof(fc.constant(null), fc.double({ min: 0, max: 1, noNaN: true })), { minLength: c, maxLength: c })
const binaryRows = (n: number, c: number) =>
  fc.array(fc.array(fc.constantFrom(0, 1), { minLength: c, maxLength: c }), { minLength: n, maxLength: n })

const TARGETS: Target[] = [
  { name: 'smoothCounts', args: classes.chain((c) => fc.tuple(countsInput(c))), call: ([n]) => core.smoothCounts(n) },
  { name: 'priorsFromCounts', args: classes.chain((c) => fc.tuple(countsInput(c))), call: ([n]) => core.priorsFromCounts(n) },
  { name: 'logPriorsFromCounts', args: classes.chain((c) => fc.tuple(countsInput(c))), call: ([n]) => core.logPriorsFromCounts(n) },
  {
    name: 'labelPriors',
    args: classes.chain((c) => fc.tuple(countsInput(c), integerInput(1, 200_000))),
    call: ([n, s]) => core.labelPriors(n, s),
  },
  {
    name: 'labelLogOdds',
    args: classes.chain((c) => fc.tuple(countsInput(c), integerInput(1, 200_000))),
    call: ([n, s]) => core.labelLogOdds(n, s),
  },
  {
    name: 'dbBias',
    args: classes.chain((c) => fc.tuple(countsInput(c), integerInput(1, 200_000), numberInput(0, 1))),
    call: ([n, s, k]) => core.dbBias(n, s, k),
  },
  {
    name: 'ldamMargins',
    args: classes.chain((c) => fc.tuple(countsInput(c), numberInput(0, 2))),
    call: ([n, m]) => core.ldamMargins(n, m),
  },
  {
    name: 'labelAwareSmoothingValues',
    args: classes.chain((c) =>
      fc.tuple(
        countsInput(c),
        numberInput(0, 1),
        numberInput(0, 1),
        fc.oneof(fc.constantFrom('concave', 'linear', 'convex', 'exp'), fc.constantFrom(...WRONG_TYPES)),
        fc.oneof(fc.constant(undefined), numberInput(0.1, 4)),
      ),
    ),
    call: ([n, h, t, shape, power]) => core.labelAwareSmoothingValues(n, h, t, shape, power),
  },
  {
    name: 'balancedBceShift',
    args: classes.chain((c) => fc.tuple(countsInput(c))),
    call: ([n]) => core.balancedBceShift(n),
  },
  {
    name: 'drwWeights',
    args: classes.chain((c) => fc.tuple(countsInput(c), numberInput(0, 0.9999))),
    call: ([n, b]) => core.drwWeights(n, b),
  },
  {
    name: 'generalizedReweightWeights',
    args: classes.chain((c) => fc.tuple(countsInput(c), numberInput(0, 3))),
    call: ([n, p]) => core.generalizedReweightWeights(n, p),
  },
  { name: 'alaMargins', args: classes.chain((c) => fc.tuple(countsInput(c))), call: ([n]) => core.alaMargins(n) },
  {
    name: 'vsTerms',
    args: classes.chain((c) => fc.tuple(countsInput(c), numberInput(0, 1), numberInput(0, 2))),
    call: ([n, g, t]) => core.vsTerms(n, g, t),
  },
  {
    name: 'priorSplitBounds',
    args: classes.chain((c) =>
      fc.tuple(countsInput(c), numberInput(0, 2), numberInput(0, 2), fc.oneof(fc.constant(undefined), integerInput(0, c))),
    ),
    call: ([n, e, d, h]) => core.priorSplitBounds(n, e, d, h),
  },
  {
    name: 'lplSteps',
    args: fc.tuple(numberInput(0, 3), numberInput(0, 1), integerInput(0, 50)),
    call: ([b, a, k]) => core.lplSteps(b, a, k),
  },
  {
    name: 'officialLongtailSteps',
    args: classes.chain((c) => fc.tuple(countsInput(c), integerInput(0, c), numberInput(0, 20), numberInput(0, 2), integerInput(1, 20))),
    call: ([n, split, s, kappa, k]) => core.officialLongtailSteps(n, split, s, kappa, k),
  },
  { name: 'officialBalancedIterations', args: fc.tuple(integerInput(0, 50)), call: ([k]) => core.officialBalancedIterations(k) },
  {
    name: 'perClassAccuracy',
    args: fc
      .tuple(classes, samples)
      .chain(([c, n]) => fc.tuple(labelsInput(n, c), labelsInput(n, c), fc.oneof(fc.constant(c), integerInput(0, c + 1)))),
    call: ([p, y, c]) => core.perClassAccuracy(p, y, c),
  },
  { name: 'balancedAccuracy', args: classes.chain((c) => fc.tuple(perClass(c))), call: ([a]) => core.balancedAccuracy(a) },
  {
    name: 'thirdsAccuracy',
    args: classes.chain((c) => fc.tuple(perClass(c), countsInput(c))),
    call: ([a, n]) => core.thirdsAccuracy(a, n),
  },
  { name: 'shotAccuracy', args: classes.chain((c) => fc.tuple(perClass(c), countsInput(c))), call: ([a, n]) => core.shotAccuracy(a, n) },
  {
    name: 'argmaxRows',
    args: fc.tuple(classes, samples).chain(([c, n]) => fc.tuple(rowsInput(n, c, 1e4))),
    call: ([u]) => core.argmaxRows(u),
  },
  {
    name: 'postHocPredict',
    args: fc.tuple(classes, samples).chain(([c, n]) => fc.tuple(rowsInput(n, c, 1e4), countsInput(c), numberInput(0, 2))),
    call: ([u, n, t]) => core.postHocPredict(u, n, t),
  },
  {
    name: 'chooseTau',
    args: fc
      .tuple(classes, fc.integer({ min: 1, max: 30 }))
      .chain(([c, n]) =>
        fc.tuple(
          rowsInput(n, c, 10),
          labelsInput(n, c),
          countsInput(c),
          fc.oneof(fc.constant(undefined), fc.array(numberInput(0, 3), { maxLength: 4 })),
        ),
      ),
    call: ([u, y, n, g]) => core.chooseTau(u, y, n, g),
  },
  {
    name: 'averagePrecision',
    args: samples.chain((n) =>
      fc.tuple(valuesInput(n, 1e4), fc.oneof(fc.array(fc.constantFrom(0, 1), { minLength: n, maxLength: n }), labelsInput(n, 3))),
    ),
    call: ([s, t]) => core.averagePrecision(s, t),
  },
  {
    name: 'multiLabelAveragePrecision',
    args: fc
      .tuple(
        classes.filter((c) => c < 50),
        samples,
      )
      .chain(([c, n]) => fc.tuple(rowsInput(n, c, 1e4), fc.oneof(binaryRows(n, c), rowsInput(n, c, 2)))),
    call: ([s, t]) => core.multiLabelAveragePrecision(s, t),
  },
  {
    name: 'updateLearnedBounds',
    args: classes.chain((c) =>
      fc.tuple(valuesInput(c, 2), fc.oneof(valuesInput(c, 10), valuesInput(c + 1, 10)), numberInput(0, 1), numberInput(0, 3)),
    ),
    call: ([t, h, r, m]) => core.updateLearnedBounds(t, h, r, m),
  },
  {
    name: 'broadcastShapes',
    args: fc.tuple(fc.array(integerInput(0, 4), { maxLength: 3 }), fc.array(integerInput(0, 4), { maxLength: 3 })),
    call: ([a, b]) => coreBackend.broadcastShapes(a, b),
  },
  {
    name: 'mulberry32',
    args: fc.tuple(fc.oneof(fc.integer(), fc.constantFrom(...EDGE_SEEDS()))),
    call: ([s]) => {
      const rand = core.mulberry32(s)
      return [rand(), rand(), rand()]
    },
  },
  {
    name: 'checkClassCounts',
    args: classes.chain((c) => fc.tuple(countsInput(c), fc.oneof(fc.constant(c), fc.constant(undefined), integerInput(0, c + 1)))),
    call: ([n, c]) => coreBackend.checkClassCounts(n, c),
  },
  {
    name: 'loadRuleState',
    args: classes.chain((c) => fc.tuple(stateInput(c), fc.oneof(fc.constant(c), fc.constant(undefined), integerInput(0, c + 1)))),
    call: ([json, c]) => core.loadRuleState(core.referenceOps, json, c),
  },
]

function EDGE_SEEDS(): number[] {
  return [0, -1, 2 ** 32, 2 ** 53, 0.5, NaN, Infinity, -Infinity]
}

/** Saved LPL states: valid ones, or with a value out of range, a wrong length, an unknown field, or of the wrong type. */
function stateInput(c: number): fc.Arbitrary<unknown> {
  const valid = fc.record({
    version: fc.constant(1 as const),
    confidence: fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { minLength: c, maxLength: c }),
    seen: fc.array(fc.constantFrom(0, 1), { minLength: c, maxLength: c }),
  })
  return fc.oneof(
    { weight: 2, arbitrary: valid },
    { weight: 1, arbitrary: fc.record({ version: fc.constant(1), theta: valuesInput(c, 2) }) },
    {
      weight: 2,
      arbitrary: fc
        .tuple(valid, fc.constantFrom('range', 'nan', 'length', 'unknown', 'version', 'type', 'empty'), fc.nat())
        .map(([s, defect, at]) => {
          switch (defect) {
            case 'range':
              return { ...s, confidence: s.confidence.map((q, j) => (j === at % c ? 1.5 : q)) }
            case 'nan':
              return { ...s, seen: s.seen.map((q, j) => (j === at % c ? NaN : q)) }
            case 'length':
              return { ...s, seen: [...s.seen, 0] }
            case 'unknown':
              return { ...s, momentum: [0.9] }
            case 'version':
              return { ...s, version: 2 }
            case 'empty':
              return { version: 1 }
            default:
              return WRONG_TYPES[at % WRONG_TYPES.length]
          }
        }),
    },
  )
}

describe('host functions: finite results or a typed error, arguments unchanged', () => {
  for (const target of TARGETS) {
    const tally = new Tally(`host ${target.name}`)
    it(target.name, () => {
      fc.assert(
        fc.property(target.args, (args) => {
          const before = snapshot(args.map((a) => (typeof a === 'function' ? undefined : a)))
          const result = outcome(target.name, () => target.call(args))
          tally.record(result)
          if (result.ok) {
            const bad = firstNonFinite(
              result.value instanceof Object && 'data' in (result.value as object)
                ? (result.value as { data: unknown }).data
                : result.value,
            )
            expect(bad, `${target.name} returned a non-finite value`).toBeUndefined()
          }
          expect(
            args.map((a) => (typeof a === 'function' ? undefined : a)),
            `${target.name} changed its arguments`,
          ).toEqual(before)
        }),
        { numRuns: fuzzRuns(200) },
      )
    })
  }
})
