import type { RuleStateDeclaration, StateField } from './types.js'

/** A running probability in `[0, 1]` (LPL's `confidence`). */
export const PROBABILITY_FIELD: StateField = { what: 'numbers in [0, 1]', valid: (v) => v >= 0 && v <= 1 }
/** A 0/1 flag (LPL's `seen`). */
export const FLAG_FIELD: StateField = { what: 'flags, each 0 or 1', valid: (v) => v === 0 || v === 1 }
/** A finite signed number (the learned split's `theta`). */
export const FINITE_FIELD: StateField = { what: 'finite numbers', valid: (v) => Number.isFinite(v) }
/** An accumulated count, finite and `≥ 0` (seesaw's `counts`). */
export const COUNT_FIELD: StateField = { what: 'finite numbers ≥ 0', valid: (v) => Number.isFinite(v) && v >= 0 }

/** `C` zeros: the fresh value of a state field that starts empty. */
export const zeros = (numClasses: number): number[] => new Array<number>(numClasses).fill(0)

/**
 * Declares a rule's state (see {@link RuleStateDeclaration}); `initial` defaults to zeros in every
 * field.
 */
export function declareState(
  declaration: Omit<RuleStateDeclaration, 'initial'> & Partial<Pick<RuleStateDeclaration, 'initial'>>,
): RuleStateDeclaration {
  const names = Object.keys(declaration.fields)
  return Object.freeze({
    initial: (numClasses: number) => Object.fromEntries(names.map((name) => [name, zeros(numClasses)])),
    ...declaration,
  })
}
