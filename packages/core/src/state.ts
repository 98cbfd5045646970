import { check } from './errors.js'
import type { TensorOps } from './ops.js'
import type { RuleState } from './rules/types.js'

/**
 * A rule's state as JSON (LPL's `confidence` split): the running mean true-class confidence per
 * class, in `[0, 1]`, and whether each class has been seen (0 or 1).
 */
export interface RuleStateJSON {
  version: 1
  confidence: number[]
  seen: number[]
}

/**
 * Reads a rule's state back to the host as JSON. `read` is the backend's read-back (synchronous or
 * not), e.g. `(t) => t.data` on the reference backend or `(t) => t.data()` on TensorFlow.js.
 */
export async function saveRuleState<T>(
  state: RuleState<T>,
  read: (t: T) => ArrayLike<number> | Promise<ArrayLike<number>>,
): Promise<RuleStateJSON> {
  return { version: 1, confidence: Array.from(await read(state.confidence)), seen: Array.from(await read(state.seen)) }
}

/**
 * Rebuilds a rule's state on a backend from JSON, checking it first: `INVALID_STATE` names the
 * field when the value is not such an object, the two lists differ in length (or from
 * `numClasses`), a confidence is outside `[0, 1]`, or a `seen` flag is not 0 or 1.
 */
export function loadRuleState<T>(ops: TensorOps<T>, json: unknown, numClasses?: number): RuleState<T> {
  const value = json as Partial<RuleStateJSON> | null
  check(typeof value === 'object' && value !== null && value.version === 1, 'INVALID_STATE',
    'must be an object with version 1, confidence and seen', 'state')
  const { confidence, seen } = value
  check(Array.isArray(confidence) && confidence.every((q) => typeof q === 'number' && q >= 0 && q <= 1), 'INVALID_STATE',
    'must be an array of numbers in [0, 1]', 'state.confidence')
  check(Array.isArray(seen) && seen.length === confidence.length && seen.every((s) => s === 0 || s === 1), 'INVALID_STATE',
    `must be ${confidence.length} flags, each 0 or 1`, 'state.seen')
  check(numClasses === undefined || confidence.length === numClasses, 'INVALID_STATE',
    `has ${confidence.length} classes but the rule has ${numClasses}`, 'state.confidence')
  return { confidence: ops.constant(confidence, [confidence.length]), seen: ops.constant(seen, [seen.length]) }
}
