import { check } from './errors.js'
import type { TensorOps } from './ops.js'
import type { AnyRuleDefinition } from './rules/definition.js'
import { RULE_DEFINITIONS } from './rules/registry.js'
import type { RuleState, RuleStateDeclaration, StateField } from './rules/types.js'

/**
 * A rule's state as JSON: `version: 1` and one list of `C` numbers per state tensor
 * (`confidence` and `seen` for LPL's `confidence` split, `theta` for its `learned` split, `counts`
 * for seesaw: each rule's `stateFields` in its definition).
 */
export interface RuleStateJSON {
  /** The format version, 1. */
  version: 1
  /** One list of `C` numbers per state tensor, by the tensor's name. */
  [name: string]: number[] | 1
}

/**
 * Every state field a registered rule may keep, from the rules' own definitions: what a state is
 * checked against when no loss says which rule it is for.
 */
const REGISTERED_FIELDS: Readonly<Record<string, StateField>> = Object.assign(
  {},
  ...RULE_DEFINITIONS.map((d: AnyRuleDefinition) => d.stateFields ?? {}),
)

/** The loss a state is loaded for: its class count and the fields its rule keeps (`Loss` is one). */
export interface StateOwner {
  /** The class count the loss fixes, if it does. */
  readonly numClasses: number | undefined
  /** The rule, with the state it keeps, if it keeps one. */
  readonly rule: {
    /** The state the rule declares (`RuleFacts.state`), absent for a rule without state. */
    readonly state?: RuleStateDeclaration | undefined
  }
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
 * Rebuilds a rule's state on a backend from JSON, checking it first. `of` is the loss it is for
 * (its fields and class count are then the ones checked) or a class count; without a loss, the
 * fields are checked against every registered rule's. `INVALID_STATE` names the field when the
 * value is not such an object, a field is unknown (or, with a loss, not its rule's, or missing),
 * the lists differ in length (or from the class count), or a value is out of its range (a
 * confidence outside `[0, 1]`, a `seen` flag other than 0 or 1, a non-finite `theta`, a negative
 * count).
 */
export function loadRuleState<T>(ops: TensorOps<T>, json: unknown, of?: number | StateOwner): RuleState<T> {
  const owner = typeof of === 'number' ? undefined : of
  const numClasses = typeof of === 'number' ? of : owner?.numClasses
  const value = json as Record<string, unknown> | null
  check(
    typeof value === 'object' && value !== null && value.version === 1,
    'INVALID_STATE',
    "must be an object with version 1 and the state's lists (e.g. confidence and seen)",
    'state',
  )
  const fields = Object.entries(value).filter(([name]) => name !== 'version')
  check(fields.length > 0, 'INVALID_STATE', 'holds no state field', 'state')
  const known = owner === undefined ? REGISTERED_FIELDS : (owner.rule.state?.fields ?? {})
  const knownNames = Object.keys(known)
  const whose = owner === undefined ? 'a state field of any rule' : 'a state field of this rule'
  const first = fields[0]?.[1]
  const length = numClasses ?? (Array.isArray(first) ? first.length : 0)
  const state: Record<string, T> = {}
  for (const [name, list] of fields) {
    const field = known[name]
    check(
      field !== undefined,
      'INVALID_STATE',
      `is not ${whose} (known: ${knownNames.length === 0 ? 'none, the rule keeps no state' : knownNames.join(', ')})`,
      `state.${name}`,
    )
    check(
      Array.isArray(list) && list.every((v) => typeof v === 'number' && field.valid(v)),
      'INVALID_STATE',
      `must be an array of ${field.what}`,
      `state.${name}`,
    )
    check(
      list.length === length,
      'INVALID_STATE',
      numClasses === undefined
        ? `has ${list.length} entries, other fields ${length}`
        : `has ${list.length} classes but the rule has ${numClasses}`,
      `state.${name}`,
    )
  }
  for (const name of owner === undefined ? [] : knownNames) {
    check(value[name] !== undefined, 'INVALID_STATE', `is missing: this rule keeps ${knownNames.join(', ')}`, `state.${name}`)
  }
  // Built after every check passed, so that a refused state leaves nothing behind on the backend.
  for (const [name, list] of fields) state[name] = ops.constant(list as number[], [(list as number[]).length])
  return state
}
