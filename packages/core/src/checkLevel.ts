import type { TensorOps } from './ops.js'
import { checkOneOf } from './validate.js'

/** What a call checks, as `LossOptions.checks` names it. */
export type Checks = 'auto' | 'values' | 'labels' | 'shapes'

/** What one call checks on one backend: `'auto'` resolved. */
export type CheckLevel = 'values' | 'labels' | 'shapes'

const CHECKS: readonly Checks[] = ['auto', 'values', 'labels', 'shapes']

/** `LossOptions.checks` checked, `'auto'` when absent; throws `INVALID_PARAMETER` naming `checks`. */
export function parseChecks(checks: unknown): Checks {
  return checkOneOf(checks, CHECKS, 'auto', 'checks')
}

/**
 * What a call on `ops` checks now: `'auto'` is `'values'` unless the backend's value checks would
 * stall a device (`ValueChecks.stallsDevice`: tfjs on WebGL or WebGPU), then `'shapes'`. Resolved
 * per call, since a tfjs backend can change between calls.
 */
export function checkLevel<T>(checks: Checks, ops: TensorOps<T>): CheckLevel {
  if (checks !== 'auto') return checks
  return ops.checks?.stallsDevice === true ? 'shapes' : 'values'
}
