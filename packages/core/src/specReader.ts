import { LogitPerturbError, check } from './errors.js'
import { type NumberRule, checkClassCounts, checkNumber, checkOneOf, describeValue } from './validate.js'

export type { NumberRule }
export { checkNumber }

/**
 * Reads the fields of one JSON object of a spec, checking each, and remembers which fields were read
 * so that {@link SpecReader.finish} can refuse the ones no rule takes. Errors name the field by its
 * path from the spec's root (`"base.tau"`).
 */
export class SpecReader {
  private readonly used = new Set<string>()

  constructor(
    private readonly object: Record<string, unknown>,
    private readonly path: string,
    /** Paths of numeric fields read without their range: finite (and integer where the field is one). */
    private readonly unbounded: ReadonlySet<string> = new Set(),
  ) {}

  /** Wraps a JSON value that must be an object; `unbounded`: see {@link parseSpecUnbounded}. */
  static of(value: unknown, path: string, unbounded: ReadonlySet<string> = new Set()): SpecReader {
    check(
      typeof value === 'object' && value !== null && !Array.isArray(value),
      'INVALID_SPEC',
      `must be a JSON object, got ${describeValue(value)}`,
      path || 'spec',
    )
    return new SpecReader(value as Record<string, unknown>, path, unbounded)
  }

  fieldPath(name: string): string {
    return this.path ? `${this.path}.${name}` : name
  }

  has(name: string): boolean {
    return this.object[name] !== undefined
  }

  raw(name: string): unknown {
    this.used.add(name)
    return this.object[name]
  }

  number(name: string, rule: NumberRule, fallback?: number): number {
    const value = this.raw(name)
    const field = this.fieldPath(name)
    if (value === undefined) {
      check(fallback !== undefined, 'INVALID_SPEC', 'is required', field)
      return fallback
    }
    return checkNumber(value, this.unbounded.has(field) ? { integer: rule.integer ?? false } : rule, field)
  }

  optionalNumber(name: string, rule: NumberRule): number | undefined {
    if (this.has(name)) return this.number(name, rule)
    this.used.add(name)
    return undefined
  }

  numberArray(name: string, rule: NumberRule, length?: number): number[] {
    const value = this.raw(name)
    const field = this.fieldPath(name)
    check(value !== undefined, 'INVALID_SPEC', 'is required', field)
    check(Array.isArray(value), 'INVALID_PARAMETER', `must be an array of numbers, got ${describeValue(value)}`, field)
    if (length !== undefined) {
      check(value.length === length, 'INVALID_PARAMETER', `has ${value.length} entries but there are ${length} classes`, field)
    }
    return value.map((v, i) => checkNumber(v, rule, `${field}[${i}]`))
  }

  classCounts(name: string, numClasses: number | undefined): number[] {
    const value = this.raw(name)
    const field = this.fieldPath(name)
    check(value !== undefined, 'INVALID_SPEC', 'is required', field)
    checkClassCounts(value as number[], numClasses, field)
    return [...(value as number[])]
  }

  boolean(name: string, fallback: boolean): boolean {
    const value = this.raw(name)
    if (value === undefined) return fallback
    check(typeof value === 'boolean', 'INVALID_PARAMETER', `must be true or false, got ${describeValue(value)}`, this.fieldPath(name))
    return value
  }

  oneOf<const V extends string>(name: string, values: readonly V[], fallback?: V): V {
    const value = this.raw(name)
    const field = this.fieldPath(name)
    check(value !== undefined || fallback !== undefined, 'INVALID_SPEC', `is required (one of ${values.join(', ')})`, field)
    return checkOneOf(value, values, fallback!, field)
  }

  /** A nested object field, or undefined when absent. */
  child(name: string): SpecReader | undefined {
    const value = this.raw(name)
    return value === undefined ? undefined : SpecReader.of(value, this.fieldPath(name), this.unbounded)
  }

  /** Refuses every field that was not read: a misspelt field must not be silently ignored. */
  finish(): void {
    for (const key of Object.keys(this.object)) {
      if (!this.used.has(key) && this.object[key] !== undefined) {
        throw new LogitPerturbError('INVALID_SPEC', 'is not a field of this rule', this.fieldPath(key))
      }
    }
  }
}
