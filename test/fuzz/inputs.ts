/**
 * Generators of the inputs users get wrong: numbers at and past their bounds, counts with zeros,
 * huge ratios and wrong lengths, labels out of range, fractional or negative, logits of ±1e4,
 * ±Infinity and NaN, and values of the wrong type. Each mixes valid and invalid values, so a
 * property sees both the result path and the refusal path.
 */
import fc from 'fast-check'
import { longTailCounts } from '@logit-perturb/conformance'

/** Numbers that break unchecked code: zero, tiny, huge, negative, non-finite. */
export const EDGE_NUMBERS = [0, -0, 1e-300, 1e-12, 0.5, 1, 2, 10, 1e6, 1e308, -1, -1e-12, -1e6, NaN, Infinity, -Infinity]

/** Values of the wrong type where a number or an array is expected. */
export const WRONG_TYPES: unknown[] = [null, undefined, '1', true, {}, [], [[1]], () => 1]

/** A number: an ordinary one in `[lo, hi]`, or an edge value. */
export function numberInput(lo: number, hi: number): fc.Arbitrary<number> {
  return fc.oneof(
    { weight: 3, arbitrary: fc.double({ min: lo, max: hi, noNaN: true, noDefaultInfinity: true }) },
    { weight: 2, arbitrary: fc.constantFrom(...EDGE_NUMBERS) },
  )
}

/** An integer: an ordinary one in `[lo, hi]`, or an edge value (fractional, negative, non-finite). */
export function integerInput(lo: number, hi: number): fc.Arbitrary<number> {
  return fc.oneof(
    { weight: 3, arbitrary: fc.integer({ min: lo, max: hi }) },
    { weight: 1, arbitrary: fc.constantFrom(...EDGE_NUMBERS, 1.5) },
  )
}

/** Long-tailed class counts of length `c` (imbalance ratio up to 1e6), with some zeros. */
export function validCounts(c: number): fc.Arbitrary<number[]> {
  return fc
    .record({
      ratio: fc.constantFrom(1, 10, 100, 1e6),
      zeros: fc.array(fc.boolean(), { minLength: c, maxLength: c }),
      top: fc.integer({ min: 1, max: 100_000 }),
    })
    .map(({ ratio, zeros, top }) => longTailCounts(c, top, ratio).map((n, k) => (zeros[k] && k > 0 ? 0 : n)))
}

/**
 * Class counts for `c` classes: valid ones, or one defect: all zeros, a negative, NaN, ±Infinity
 * or fractional entry, the wrong length (empty, one short, one long), or not an array.
 */
export function countsInput(c: number): fc.Arbitrary<unknown> {
  return fc.oneof(
    { weight: 4, arbitrary: validCounts(c) },
    {
      weight: 3,
      arbitrary: fc
        .tuple(validCounts(c), fc.constantFrom('zeros', 'negative', 'nan', 'inf', 'fraction', 'empty', 'short', 'long', 'type'), fc.nat())
        .map(([counts, defect, at]) => {
          const k = at % counts.length
          switch (defect) {
            case 'zeros':
              return counts.map(() => 0)
            case 'negative':
              return counts.map((v, j) => (j === k ? -v : v))
            case 'nan':
              return counts.map((v, j) => (j === k ? NaN : v))
            case 'inf':
              return counts.map((v, j) => (j === k ? Infinity : v))
            case 'fraction':
              return counts.map((v, j) => (j === k ? v + 0.5 : v))
            case 'empty':
              return []
            case 'short':
              return counts.slice(1)
            case 'long':
              return [...counts, 1]
            default:
              return WRONG_TYPES[at % WRONG_TYPES.length]
          }
        }),
    },
  )
}

/** Class ids for `n` samples of `c` classes: valid, or with one out of range, negative, fractional or NaN. */
export function labelsInput(n: number, c: number): fc.Arbitrary<number[]> {
  const valid = fc.array(fc.integer({ min: 0, max: Math.max(0, c - 1) }), { minLength: n, maxLength: n })
  return fc.oneof(
    { weight: 4, arbitrary: valid },
    {
      weight: 1,
      arbitrary: fc
        .tuple(valid, fc.constantFrom(c, -1, 0.5, NaN, Infinity, 1e9), fc.nat())
        .map(([labels, bad, at]) => (labels.length === 0 ? labels : labels.map((y, i) => (i === at % labels.length ? bad : y)))),
    },
  )
}

/** Floats of magnitude up to `scale`, with ±1e4, ±Infinity or NaN mixed in now and then. */
export function valuesInput(length: number, scale = 10): fc.Arbitrary<number[]> {
  const plain = fc.array(fc.double({ min: -scale, max: scale, noNaN: true, noDefaultInfinity: true }), {
    minLength: length,
    maxLength: length,
  })
  return fc.oneof(
    { weight: 4, arbitrary: plain },
    {
      weight: 1,
      arbitrary: fc
        .tuple(plain, fc.constantFrom(1e4, -1e4, Infinity, -Infinity, NaN), fc.nat())
        .map(([values, bad, at]) => (values.length === 0 ? values : values.map((v, i) => (i === at % values.length ? bad : v)))),
    },
  )
}

/** Rows `[n][c]` of {@link valuesInput}. */
export function rowsInput(n: number, c: number, scale = 10): fc.Arbitrary<number[][]> {
  return valuesInput(n * c, scale).map((flat) => Array.from({ length: n }, (_, i) => flat.slice(i * c, (i + 1) * c)))
}
