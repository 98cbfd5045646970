import { check } from './errors.js'
import type { TensorOps } from './ops.js'
import type { RuleState } from './rules/types.js'

/**
 * A rule's state as JSON: `version: 1` and one list of `C` numbers per state tensor
 * (`confidence` and `seen` for LPL's `confidence` split, `theta` for its `learned` split).
 */
export interface RuleStateJSON {
  /** The format version, 1. */
  version: 1
  /** One list of `C` numbers per state tensor, by the tensor's name. */
  [name: string]: number[] | 1
}

/** What each state field may hold: a check of one value and its description for errors. */
const STATE_FIELDS: Record<string, { valid: (v: unknown) => boolean; what: string }> = {
  confidence: { valid: (q) => typeof q === 'number' && q >= 0 && q <= 1, what: 'numbers in [0, 1]' },
  seen: { valid: (s) => s === 0 || s === 1, what: 'flags, each 0 or 1' },
  theta: { valid: (t) => typeof t === 'number' && Number.isFinite(t), what: 'finite numbers' },
}

/**
 * Reads a rule's state back to the host as JSON. `read` is the backend's read-back (synchronous or
 * not), e.g. `(t) => t.data` on the reference backend or `(t) => t.data()` on TensorFlow.js.
 */
export async function saveRuleState<T>(
  state: RuleState<T>,
  read: (t: T) => ArrayLike<number> | Promise<ArrayLike<number>>,
): Promise<RuleStateJSON> {
  const json: RuleStateJSON = { version: 1 }
  for (const [name, tensor] of Object.entries(state)) json[name] = Array.from(await read(tensor))
  return json
}

/**
 * Rebuilds a rule's state on a backend from JSON, checking it first: `INVALID_STATE` names the
 * field when the value is not such an object, a field is unknown, the lists differ in length (or
 * from `numClasses`), or a value is out of its range (a confidence outside `[0, 1]`, a `seen` flag
 * other than 0 or 1, a non-finite `theta`).
 */
export function loadRuleState<T>(ops: TensorOps<T>, json: unknown, numClasses?: number): RuleState<T> {
  const value = json as Record<string, unknown> | null
  check(
    typeof value === 'object' && value !== null && value.version === 1,
    'INVALID_STATE',
    "must be an object with version 1 and the state's lists (e.g. confidence and seen)",
    'state',
  )
  const fields = Object.entries(value).filter(([name]) => name !== 'version')
  check(fields.length > 0, 'INVALID_STATE', 'holds no state field', 'state')
  const length = numClasses ?? (Array.isArray(fields[0]![1]) ? (fields[0]![1] as unknown[]).length : 0)
  const state: Record<string, T> = {}
  for (const [name, list] of fields) {
    const field = STATE_FIELDS[name]
    check(field !== undefined, 'INVALID_STATE', `is not a state field (known: ${Object.keys(STATE_FIELDS).join(', ')})`, `state.${name}`)
    check(Array.isArray(list) && list.every(field.valid), 'INVALID_STATE', `must be an array of ${field.what}`, `state.${name}`)
    check(
      list.length === length,
      'INVALID_STATE',
      numClasses === undefined
        ? `has ${list.length} entries, other fields ${length}`
        : `has ${list.length} classes but the rule has ${numClasses}`,
      `state.${name}`,
    )
    state[name] = ops.constant(list as number[], [list.length])
  }
  return state
}
