/**
 * Inputs the fuzzing suite found mishandled, each pinned with the typed error it now gets (before
 * the fix: a NaN or ±Infinity result, or a raw TypeError/RangeError).
 */
import * as core from '@logit-perturb/core'
import { describe, expect, it } from 'vitest'

/** The code and field of the `LogitPerturbError` `fn` throws. */
function refusal(fn: () => unknown): string {
  try {
    fn()
  } catch (e) {
    if (e instanceof core.LogitPerturbError) return `${e.code} ${e.field ?? ''}`.trim()
    throw e
  }
  throw new Error('nothing was thrown')
}

describe('host functions refuse what they used to turn into NaN, Infinity or a raw error', () => {
  it.each([
    ['smoothCounts of all-zero counts (was Infinity)', () => core.smoothCounts([0, 0, 0, 0]), 'CLASS_COUNTS_VALUE classCounts'],
    ['priorsFromCounts of all-zero counts (was NaN)', () => core.priorsFromCounts([0, 0]), 'CLASS_COUNTS_VALUE classCounts'],
    ['labelPriors with no label both on and off (was −Infinity log-odds)', () => core.labelPriors([1, 1], 1), 'CLASS_COUNTS_VALUE classCounts'],
    ['labelLogOdds with numSamples 0 (was NaN)', () => core.labelLogOdds([1], 0), 'INVALID_PARAMETER numSamples'],
    ['labelLogOdds with numSamples 1e308 (lost the negatives: −Infinity)', () => core.labelLogOdds([1, 1], 1e308), 'INVALID_PARAMETER numSamples'],
    ['dbBias with κ 1e308 (overflowed)', () => core.dbBias([1, 2], 10, 1e308), 'INVALID_PARAMETER kappa'],
    ['ldamMargins of all-zero counts (was NaN)', () => core.ldamMargins([0, 0, 0], 0.5), 'CLASS_COUNTS_VALUE classCounts'],
    ['drwWeights with β = 2 (was Infinity)', () => core.drwWeights([1024, 1024], 2), 'INVALID_PARAMETER beta'],
    ['vsTerms with τ = Infinity (was NaN)', () => core.vsTerms([1], 0, Infinity), 'INVALID_PARAMETER tau'],
    ['vsTerms with τ = 1e308 (overflowed)', () => core.vsTerms([1, 100], 0, 1e308), 'INVALID_PARAMETER tau'],
    ['priorSplitBounds with Δε = Infinity', () => core.priorSplitBounds([1], 0, Infinity), 'INVALID_PARAMETER deltaEpsilon'],
    ['priorSplitBounds with Δε = 1e308 (overflowed)', () => core.priorSplitBounds([2, 1, 1e6], 0, 1e308), 'INVALID_PARAMETER deltaEpsilon'],
    ['priorSplitBounds of null counts (was TypeError)', () => core.priorSplitBounds(null as never, 0, 0, 0), 'CLASS_COUNTS_VALUE classCounts'],
    ['lplSteps with α = 0 (was Infinity/NaN steps)', () => core.lplSteps(0, 0, 0), 'INVALID_PARAMETER alpha'],
    ['officialLongtailSteps of all-zero counts', () => core.officialLongtailSteps([0, 0, 0, 0], 0, 0, 0, 1), 'CLASS_COUNTS_VALUE classCounts'],
    ['officialLongtailSteps with κ = 1e308 (overflowed)', () => core.officialLongtailSteps([10, 1], 1, 1e6, 1e308, 1), 'INVALID_PARAMETER stepSize'],
    ['officialBalancedIterations(−Infinity)', () => core.officialBalancedIterations(-Infinity), 'INVALID_PARAMETER steps'],
    ['perClassAccuracy with a fractional class count (was RangeError)', () => core.perClassAccuracy([0], [0], 1e-12), 'INVALID_PARAMETER numClasses'],
    ['perClassAccuracy with 1e308 classes (was RangeError)', () => core.perClassAccuracy([0], [0], 1e308), 'INVALID_PARAMETER numClasses'],
    ['thirdsAccuracy of null counts (was TypeError)', () => core.thirdsAccuracy([0.5], null as never), 'CLASS_COUNTS_VALUE classCounts'],
    ['shotAccuracy of null counts (was TypeError)', () => core.shotAccuracy([0.5], null as never), 'CLASS_COUNTS_VALUE classCounts'],
    ['postHocPredict of null counts (was TypeError)', () => core.postHocPredict([], null as never, 0), 'CLASS_COUNTS_VALUE classCounts'],
    ['postHocPredict with rows of the wrong length', () => core.postHocPredict([[1, 2]], [5, 1, 1], 1), 'LOGITS_SHAPE logits'],
    ['chooseTau with −Infinity in the grid (was τ = −Infinity)', () => core.chooseTau([[0, 0]], [0], [5, 1], [-Infinity]), 'INVALID_PARAMETER grid[0]'],
    ['updateLearnedBounds with ε_max = NaN (was NaN)', () => core.updateLearnedBounds([1e4, 0], [0, 0], 0, NaN), 'INVALID_PARAMETER maxBound'],
    ['updateLearnedBounds with a hypergradient of the wrong length', () => core.updateLearnedBounds([0, 0], [0, 0, 0], 0.1, 1), 'SHAPE_MISMATCH hypergradient'],
    ['broadcastShapes with an infinite size (was Infinity)', () => core.broadcastShapes([Infinity], []), 'SHAPE_MISMATCH'],
  ])('%s', (_name, fn, expected) => {
    expect(refusal(fn)).toBe(expected)
  })
})
