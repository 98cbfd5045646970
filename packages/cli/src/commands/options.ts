import { CliError } from '../errors.js'

/** A numeric option, at least `min` and at most `max`; a usage error names the option otherwise. */
export function numberOption(raw: string, name: string, min: number, max = Infinity): number {
  const value = Number(raw)
  if (raw.trim() === '' || !Number.isFinite(value) || value < min || value > max) {
    throw new CliError(`--${name} must be a number ≥ ${min}${max < Infinity ? ` and ≤ ${max}` : ''}, got "${raw}"`, 2)
  }
  return value
}

/** An integer option, at least `min` and at most `max`. */
export function intOption(raw: string, name: string, min: number, max = Infinity): number {
  const value = numberOption(raw, name, min, max)
  if (!Number.isInteger(value)) throw new CliError(`--${name} must be an integer, got "${raw}"`, 2)
  return value
}

/** A comma-separated list of non-negative integers. */
export function listOption(raw: string, name: string): number[] {
  return raw.split(',').map((part) => intOption(part.trim(), name, 0))
}
