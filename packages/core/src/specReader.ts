import { LogitPerturbError, check } from './errors.js'
import { checkClassCounts } from './validate.js'

/** Range and kind constraints of a numeric spec field. */
export interface NumberRule {
  min?: number
  /** The value must be strictly greater than this. */
  above?: number
  max?: number
  /** The value must be strictly less than this. */
  below?: number
  integer?: boolean
}

function describe(value: unknown): string {
  return typeof value === 'string' ? JSON.stringify(value) : Array.isArray(value) ? 'an array' : String(value)
}

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
  ) {}

  /** Wraps a JSON value that must be an object. */
  static of(value: unknown, path: string): SpecReader {
    check(
      typeof value === 'object' && value !== null && !Array.isArray(value),
      'INVALID_SPEC',
      `must be a JSON object, got ${describe(value)}`,
      path || 'spec',
    )
    return new SpecReader(value as Record<string, unknown>, path)
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
    return checkNumber(value, rule, field)
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
    check(Array.isArray(value), 'INVALID_PARAMETER', `must be an array of numbers, got ${describe(value)}`, field)
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
    check(typeof value === 'boolean', 'INVALID_PARAMETER', `must be true or false, got ${describe(value)}`, this.fieldPath(name))
    return value
  }

  oneOf<const V extends string>(name: string, values: readonly V[], fallback?: V): V {
    const value = this.raw(name)
    const field = this.fieldPath(name)
    if (value === undefined) {
      check(fallback !== undefined, 'INVALID_SPEC', `is required (one of ${values.join(', ')})`, field)
      return fallback
    }
    check(
      typeof value === 'string' && (values as readonly string[]).includes(value),
      'INVALID_PARAMETER',
      `must be one of ${values.map((v) => JSON.stringify(v)).join(', ')}, got ${describe(value)}`,
      field,
    )
    return value as V
  }

  /** A nested object field, or undefined when absent. */
  child(name: string): SpecReader | undefined {
    const value = this.raw(name)
    return value === undefined ? undefined : SpecReader.of(value, this.fieldPath(name))
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

/** Checks one number against a {@link NumberRule}; the error names `field`. */
export function checkNumber(value: unknown, rule: NumberRule, field: string): number {
  check(typeof value === 'number' && Number.isFinite(value), 'INVALID_PARAMETER',
    `must be a finite number, got ${describe(value)}`, field)
  if (rule.integer) check(Number.isInteger(value), 'INVALID_PARAMETER', `must be an integer, got ${value}`, field)
  if (rule.min !== undefined) check(value >= rule.min, 'INVALID_PARAMETER', `must be ≥ ${rule.min}, got ${value}`, field)
  if (rule.above !== undefined) check(value > rule.above, 'INVALID_PARAMETER', `must be > ${rule.above}, got ${value}`, field)
  if (rule.max !== undefined) check(value <= rule.max, 'INVALID_PARAMETER', `must be ≤ ${rule.max}, got ${value}`, field)
  if (rule.below !== undefined) check(value < rule.below, 'INVALID_PARAMETER', `must be < ${rule.below}, got ${value}`, field)
  return value
}
