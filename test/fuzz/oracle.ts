/**
 * The contract every public function is fuzzed against: a call either returns finite values (numbers
 * anywhere in the result are finite; `null` only where the function documents it) or throws a
 * `LogitPerturbError`; it never throws anything else, and it leaves its arguments as they were.
 */
import type { Outcome } from '@logit-perturb/conformance'
import { afterAll } from 'vitest'

/**
 * The path of the first number in `value` (arrays, typed arrays, plain objects, nested) that is
 * NaN or infinite, or `undefined` when all are finite. `null` is allowed (documented "undefined
 * here" values such as the accuracy of a class with no test sample).
 */
export function firstNonFinite(value: unknown, path = '$'): string | undefined {
  if (typeof value === 'number') return Number.isFinite(value) ? undefined : `${path} = ${value}`
  if (value === null || typeof value !== 'object') return undefined
  if (ArrayBuffer.isView(value)) {
    const array = value as unknown as ArrayLike<number>
    for (let i = 0; i < array.length; i++) if (!Number.isFinite(array[i]!)) return `${path}[${i}] = ${array[i]}`
    return undefined
  }
  for (const [key, item] of Object.entries(value)) {
    const found = firstNonFinite(item, Array.isArray(value) ? `${path}[${key}]` : `${path}.${key}`)
    if (found !== undefined) return found
  }
  return undefined
}

/**
 * Like {@link firstNonFinite} for a loss's results, whose perturbed logits keep a masked class at
 * `−∞` (docs/spec.md#12-masked-classes): `perturbed` may be `−∞` exactly where `logits` (the same
 * layout) are, and every other number must be finite.
 */
export function firstNonFiniteResult(result: { perturbed: ArrayLike<number> }, logits: ArrayLike<number>): string | undefined {
  const { perturbed, ...rest } = result
  for (let i = 0; i < perturbed.length; i++) {
    const masked = logits[i] === Number.NEGATIVE_INFINITY
    if (masked ? perturbed[i] !== Number.NEGATIVE_INFINITY : !Number.isFinite(perturbed[i]!)) return `$.perturbed[${i}] = ${perturbed[i]}`
  }
  return firstNonFinite(rest)
}

/** A deep copy of plain data (arrays, typed arrays, objects, numbers including NaN), to compare arguments before and after a call. */
export function snapshot<V>(value: V): V {
  return structuredClone(value)
}

/**
 * Counts of generated cases per suite and outcome (`ok` or an error code), with the first message
 * seen for each code. Printed after the run when `FUZZ_REPORT` is set, so the long fuzz run's
 * figures can be quoted.
 */
export class Tally {
  readonly counts = new Map<string, number>()
  readonly examples = new Map<string, string>()

  constructor(readonly suite: string) {
    if (process.env.FUZZ_REPORT) afterAll(() => this.print())
  }

  record(o: Outcome<unknown>): void {
    const key = o.ok ? 'ok' : o.code
    this.counts.set(key, (this.counts.get(key) ?? 0) + 1)
    if (!o.ok && !this.examples.has(o.code)) this.examples.set(o.code, o.message)
  }

  print(): void {
    const total = [...this.counts.values()].reduce((a, b) => a + b, 0)
    const lines = [...this.counts.entries()]
      .sort((a, b) => b[1] - a[1])
      .map(([k, v]) => `  ${k.padEnd(20)} ${v}${this.examples.has(k) ? `   e.g. ${this.examples.get(k)}` : ''}`)
    console.log(`fuzz ${this.suite}: ${total} cases\n${lines.join('\n')}`)
  }
}

/** Runs per property: `FUZZ_RUNS` (the long run), or `base` in the test suite. */
export function fuzzRuns(base: number): number {
  return process.env.FUZZ_RUNS ? Number(process.env.FUZZ_RUNS) : base
}
