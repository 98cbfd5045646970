import { checkFiniteResult, checkNumber } from '../../validate.js'
import { smoothCounts } from '../counts.js'

/** Per-class direction (`+1`: P, loss raised; `−1`: N, loss lowered) and bound `ε_c` of LPL. */
export interface LplClassBounds {
  /** `s_c` per class, `[C]`: `+1` for the tail `P`, `−1` for the head `N`. */
  directions: number[]
  /** `ε_c ≥ 0` per class, `[C]`. */
  bounds: number[]
}

/** The median of a list of numbers (mean of the two middle values for an even length). */
function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = sorted.length >> 1
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2
}

/**
 * LPL's `prior` split and bounds (Li et al., TNNLS 2023, for long-tailed data). Classes are ranked by
 * count, largest first (ties by class id; ids are never assumed sorted); the first `h` form the head
 * `N`, the rest the tail `P`. Bounds grow toward both ends of the ranking:
 * head `ε_c = ε + Δε · n_c / n_max`, tail `ε_c = ε + Δε · n_min / n_c`.
 * Default `h`: the number of classes whose count is above the median count.
 * Zero counts are smoothed to the smallest positive count: an empty class is tail with the largest bound.
 */
export function priorSplitBounds(
  classCounts: readonly number[],
  epsilon: number,
  deltaEpsilon: number,
  headClasses?: number,
): LplClassBounds {
  checkNumber(epsilon, { min: 0 }, 'epsilon')
  checkNumber(deltaEpsilon, { min: 0 }, 'deltaEpsilon')
  const counts = smoothCounts(classCounts)
  if (headClasses !== undefined) checkNumber(headClasses, { min: 0, max: counts.length, integer: true }, 'headClasses')
  const nMax = Math.max(...counts)
  const nMin = Math.min(...counts)
  const h = headClasses ?? counts.filter((n) => n > median(counts)).length
  const ranking = counts.map((n, c) => ({ n, c })).sort((a, b) => b.n - a.n || a.c - b.c)
  const directions = new Array<number>(counts.length)
  const bounds = new Array<number>(counts.length)
  ranking.forEach(({ n, c }, rank) => {
    const head = rank < h
    directions[c] = head ? -1 : 1
    bounds[c] = head ? epsilon + (deltaEpsilon * n) / nMax : epsilon + (deltaEpsilon * nMin) / n
  })
  checkFiniteResult(bounds, 'deltaEpsilon', 'the bounds ε + Δε·ratio')
  return { directions, bounds }
}

/**
 * The number of steps of a class, `K_c = min(⌊ε_c / α⌋, K)`. A bound that is a multiple of `α` up to
 * floating-point rounding (0.3 / 0.1 = 2.9999999999999996) gets that many steps: the quotient is
 * floored after adding 1e-6.
 */
export function lplSteps(bound: number, alpha: number, maxSteps: number): number {
  checkNumber(bound, { min: 0 }, 'bound')
  checkNumber(alpha, { above: 0 }, 'alpha')
  checkNumber(maxSteps, { min: 0, integer: true }, 'maxSteps')
  return Math.min(Math.floor(bound / alpha + STEP_ROUNDING), maxSteps)
}

/** Slack added to `ε_c / α` before flooring; see {@link lplSteps}. */
export const STEP_ROUNDING = 1e-6
