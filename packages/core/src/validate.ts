import { LogitPerturbError, check } from './errors.js'

/**
 * Host-side checks on plain numbers, shared by every backend that can look at its data and by the
 * spec parser. Each throws a `LogitPerturbError` whose message names the problem.
 */

/** Every label must be an integer in `[0, numClasses)`. */
export function checkLabelValues(labels: ArrayLike<number>, numClasses: number, field = 'labels'): void {
  // These value checks run on every call over every element: the message is built only on failure.
  for (let i = 0; i < labels.length; i++) {
    const y = labels[i]!
    if (!(Number.isInteger(y) && y >= 0 && y < numClasses)) {
      throw new LogitPerturbError('LABEL_VALUE', `label ${y} at index ${i} is not an integer class id in [0, ${numClasses})`, field)
    }
  }
}

/** Every entry of a multi-label matrix `[N, numClasses]` (row-major) must be 0 or 1. */
export function checkBinaryLabelValues(labels: ArrayLike<number>, numClasses: number, field = 'labels'): void {
  for (let k = 0; k < labels.length; k++) {
    const y = labels[k]!
    if (y !== 0 && y !== 1) {
      throw new LogitPerturbError(
        'LABEL_VALUE',
        `entry ${y} at row ${Math.floor(k / numClasses)}, label ${k % numClasses} is not 0 or 1 (multi-label labels are a 0/1 matrix [N, ${numClasses}])`,
        field,
      )
    }
  }
}

/**
 * Soft targets `[N, numClasses]` (row-major): every entry a probability, finite and in `[0, 1]`.
 * Rows are not required to sum to 1: mixing and smoothing round, and the loss is linear in them.
 */
export function checkProbabilityValues(targets: ArrayLike<number>, numClasses: number, field = 'labels'): void {
  for (let k = 0; k < targets.length; k++) {
    const t = targets[k]!
    if (!(t >= 0 && t <= 1)) {
      throw new LogitPerturbError(
        'LABEL_VALUE',
        `entry ${t} at row ${Math.floor(k / numClasses)}, class ${k % numClasses} is not a probability in [0, 1] (soft targets are rows of class probabilities [N, ${numClasses}])`,
        field,
      )
    }
  }
}

/** Every value must be finite. */
export function checkFiniteValues(values: ArrayLike<number>, what: string): void {
  for (let i = 0; i < values.length; i++) {
    if (!Number.isFinite(values[i]!)) {
      throw new LogitPerturbError(
        'LOGITS_NOT_FINITE',
        `${values[i]} at flat index ${i} is not finite (pass checks: 'labels' to propagate such values)`,
        what,
      )
    }
  }
}

/**
 * What the targets of a row of logits are, for {@link checkLogitValues}: class ids `[M]`
 * (single-label), soft targets `[M, C]` (every entry with positive mass is a target), or a
 * multi-label 0/1 matrix `[M, C]` (every 1 is a target). `counted` (`[M]`, absent: every row) is 0
 * for the rows that do not count (masked out, ignored), whose targets are not read.
 */
export interface LogitTargets {
  /** Class ids, soft targets or a multi-label 0/1 matrix. */
  readonly kind: 'ids' | 'probabilities' | 'multi-label'
  /** The ids `[M]`, or the matrix `[M, C]` row-major. */
  readonly values: ArrayLike<number>
  /** `[M]`: 0 for a row that does not count; absent: every row counts. */
  readonly counted?: ArrayLike<number> | undefined
}

/**
 * Logits `[M, C]` (row-major) with masked classes (docs/spec.md#12-masked-classes): every entry is
 * finite or `−∞`, a class masked out of its row. Throws `LOGITS_NOT_FINITE`, naming the row and
 * class, for NaN or `+∞` anywhere, for `−∞` at a target of a row that counts (its loss would be
 * infinite: the label's entry, an entry with positive soft-target mass, a multi-label positive), and,
 * for single-label targets, for a row that is `−∞` in every class (its softmax is undefined; a
 * multi-label row may rule out every label). Rows that do not count may mask their target.
 */
export function checkLogitValues(values: ArrayLike<number>, numClasses: number, targets: LogitTargets, field = 'logits'): void {
  const { kind, values: labels, counted } = targets
  const rows = numClasses === 0 ? 0 : Math.floor(values.length / numClasses)
  for (let i = 0; i < rows; i++) {
    let kept = 0
    let maskedTarget = -1
    const counts = counted === undefined || counted[i] !== 0
    for (let j = 0; j < numClasses; j++) {
      const k = i * numClasses + j
      const v = values[k]!
      if (Number.isFinite(v)) {
        kept++
        continue
      }
      if (v !== Number.NEGATIVE_INFINITY) {
        throw new LogitPerturbError(
          'LOGITS_NOT_FINITE',
          `${v} at row ${i}, class ${j} is not finite (only −Infinity may stand for a class masked out of a row, docs/spec.md#12-masked-classes; pass checks: 'labels' to propagate such values)`,
          field,
        )
      }
      if (maskedTarget < 0 && counts && (kind === 'ids' ? labels[i] === j : labels[k]! > 0)) maskedTarget = j
    }
    if (kept === 0 && kind !== 'multi-label') {
      throw new LogitPerturbError(
        'LOGITS_NOT_FINITE',
        `row ${i} is -Infinity in every class: a row must keep at least one class that is not masked (docs/spec.md#12-masked-classes)`,
        field,
      )
    }
    if (maskedTarget >= 0) {
      const what = kind === 'ids' ? "the row's label" : kind === 'probabilities' ? 'a class with target mass' : 'a positive label'
      throw new LogitPerturbError(
        'LOGITS_NOT_FINITE',
        `-Infinity at row ${i}, class ${maskedTarget}, ${what}: a masked class cannot be a target of its row, whose loss would be infinite (docs/spec.md#12-masked-classes)`,
        field,
      )
    }
  }
}

/** Sample weights `[N]`: finite and `≥ 0`. */
export function checkSampleWeightValues(values: ArrayLike<number>, field = 'sampleWeight'): void {
  for (let i = 0; i < values.length; i++) {
    const w = values[i]!
    if (!(Number.isFinite(w) && w >= 0)) {
      throw new LogitPerturbError('SAMPLE_WEIGHT_VALUE', `weight ${w} at index ${i} is not a finite number ≥ 0`, field)
    }
  }
}

/**
 * The values of a rule's batch input (GCL's `noise`): `MISSING_CONTEXT` naming `field` and the first
 * entry outside `bounds` (`[low, high]`; NaN is outside every range).
 */
export function checkEntryValues(values: ArrayLike<number>, field: string, bounds: readonly [number, number]): void {
  const [low, high] = bounds
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!
    if (!(v >= low && v <= high)) {
      throw new LogitPerturbError('MISSING_CONTEXT', `entry ${v} at index ${i} is not a number in [${low}, ${high}]`, field)
    }
  }
}

/** A row mask `[N]`: every entry 0 (left out) or 1 (counted). */
export function checkMaskValues(values: ArrayLike<number>, field = 'mask'): void {
  for (let i = 0; i < values.length; i++) {
    const m = values[i]!
    if (m !== 0 && m !== 1) throw new LogitPerturbError('MASK_VALUE', `entry ${m} at index ${i} is not 0 or 1`, field)
  }
}

/**
 * Class counts: a list of `numClasses` finite, non-negative numbers, at least one of them positive.
 * Zero counts are allowed (real long-tailed subsets have empty classes); see `smoothCounts`.
 */
export function checkClassCounts(counts: readonly number[], numClasses: number | undefined, field = 'classCounts'): void {
  check(Array.isArray(counts), 'CLASS_COUNTS_VALUE', 'must be an array of numbers', field)
  if (numClasses !== undefined) {
    check(counts.length === numClasses, 'CLASS_COUNTS_LENGTH', `has ${counts.length} entries but there are ${numClasses} classes`, field)
  }
  check(counts.length > 0, 'CLASS_COUNTS_LENGTH', 'is empty', field)
  check(
    counts.length <= MAX_CLASSES,
    'CLASS_COUNTS_LENGTH',
    `has ${counts.length} entries, more than the 2^24 classes a float32 label can name`,
    field,
  )
  counts.forEach((n, c) => {
    check(
      typeof n === 'number' && Number.isFinite(n) && n >= 0 && n <= MAX_COUNT,
      'CLASS_COUNTS_VALUE',
      `count ${describeValue(n)} of class ${c} is not a finite non-negative number up to 2^53`,
      `${field}[${c}]`,
    )
  })
  check(
    counts.some((n) => n > 0),
    'CLASS_COUNTS_VALUE',
    'every class count is zero; at least one class needs samples',
    field,
  )
}

/**
 * Multi-label training statistics: `counts` (positives per label, see {@link checkClassCounts})
 * with every count at most `numSamples`, and at least one label that has both positive and negative
 * training samples (`0 < n_c < numSamples`), so that priors `n_c / numSamples` can be read.
 */
export function checkLabelCounts(counts: readonly number[], numSamples: number, field = 'classCounts'): void {
  counts.forEach((n, c) => {
    check(n <= numSamples, 'CLASS_COUNTS_VALUE', `count ${n} of label ${c} exceeds numSamples ${numSamples}`, `${field}[${c}]`)
  })
  check(
    counts.some((n) => n > 0 && n < numSamples),
    'CLASS_COUNTS_VALUE',
    `every label has count 0 or numSamples (${numSamples}): no label has both positive and negative training samples`,
    field,
  )
}

/** Range and kind constraints of a numeric spec field or function argument. */
export interface NumberRule {
  min?: number
  /** The value must be strictly greater than this. */
  above?: number
  max?: number
  /** The value must be strictly less than this. */
  below?: number
  integer?: boolean
}

/** A value as an error message shows it. */
export function describeValue(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value)
  if (Array.isArray(value)) return 'an array'
  // String() throws on objects without a prototype (Object.create(null)): describe them by kind.
  if (typeof value === 'object' && value !== null) return 'an object'
  return String(value)
}

/** Checks one number against a {@link NumberRule}; `INVALID_PARAMETER` names `field`. */
export function checkNumber(value: unknown, rule: NumberRule, field: string): number {
  check(
    typeof value === 'number' && Number.isFinite(value),
    'INVALID_PARAMETER',
    `must be a finite number, got ${describeValue(value)}`,
    field,
  )
  if (rule.integer) check(Number.isInteger(value), 'INVALID_PARAMETER', `must be an integer, got ${value}`, field)
  if (rule.min !== undefined) check(value >= rule.min, 'INVALID_PARAMETER', `must be ≥ ${rule.min}, got ${value}`, field)
  if (rule.above !== undefined) check(value > rule.above, 'INVALID_PARAMETER', `must be > ${rule.above}, got ${value}`, field)
  if (rule.max !== undefined) check(value <= rule.max, 'INVALID_PARAMETER', `must be ≤ ${rule.max}, got ${value}`, field)
  if (rule.below !== undefined) check(value < rule.below, 'INVALID_PARAMETER', `must be < ${rule.below}, got ${value}`, field)
  return value
}

/** Checks a list of numbers, each against `rule`, of `length` entries when given; errors name `field[i]`. */
export function checkNumberList(values: unknown, rule: NumberRule, field: string, length?: number): number[] {
  check(
    Array.isArray(values) || ArrayBuffer.isView(values),
    'INVALID_PARAMETER',
    `must be an array of numbers, got ${describeValue(values)}`,
    field,
  )
  const list = Array.from(values as ArrayLike<unknown>)
  if (length !== undefined) check(list.length === length, 'SHAPE_MISMATCH', `has ${list.length} entries, expected ${length}`, field)
  return list.map((v, i) => checkNumber(v, rule, `${field}[${i}]`))
}

/**
 * The largest class count: 2^53, beyond which counts are no longer exact integers in float64 and
 * `numSamples − n_c` loses the label's negatives.
 */
export const MAX_COUNT = Number.MAX_SAFE_INTEGER

/**
 * The largest class count a backend can index: 2^24, the last integer float32 holds exactly, since
 * labels travel as float32 on some backends.
 */
export const MAX_CLASSES = 2 ** 24

/**
 * Every real hyper-parameter is at most 1e6 and every step count at most 1000: far past any useful
 * value, and small enough that no product of them with logits of 1e4 overflows float64 (α = 1e308
 * would turn a loss into NaN) and that no search runs for hours.
 */
export const MAX_PARAMETER = 1e6
export const MAX_STEPS = 1000

/**
 * The one rule for a temperature `τ` of a prior shift (logit adjustment, VS, logit-adjusted BCE,
 * post-hoc adjustment in every backend): a finite number in `[0, 1e6]`. `τ < 0` would push the
 * logits toward the head classes, the opposite of every rule that takes it. Returns `τ`.
 */
export function checkTau(tau: unknown, field = 'tau'): number {
  return checkNumber(tau, TAU, field)
}

/** The range {@link checkTau} allows, for the spec parser. */
export const TAU: NumberRule = { min: 0, max: MAX_PARAMETER }

/**
 * Refuses a result that overflowed: hyper-parameters that are each finite can still multiply to
 * ±Infinity (`τ = 1e308` times a log-prior). `INVALID_PARAMETER` names the parameters involved.
 */
export function checkFiniteResult(values: ArrayLike<number>, field: string, what: string): void {
  for (let i = 0; i < values.length; i++) {
    check(Number.isFinite(values[i]!), 'INVALID_PARAMETER', `is so large that ${what} overflows (entry ${i} is ${values[i]})`, field)
  }
}

/**
 * A choice among named values: `value` itself when it is one of `values`, `fallback` when it is
 * undefined; anything else throws `INVALID_PARAMETER` naming `field` and the choices.
 */
export function checkOneOf<const V extends string>(value: unknown, values: readonly V[], fallback: V, field: string): V {
  if (value === undefined) return fallback
  check(
    typeof value === 'string' && (values as readonly string[]).includes(value),
    'INVALID_PARAMETER',
    `must be one of ${values.map((v) => JSON.stringify(v)).join(', ')}, got ${describeValue(value)}`,
    field,
  )
  return value as V
}
