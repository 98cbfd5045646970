import type { LogitPerturbErrorCode } from '@logit-perturb/core'
import { LogitPerturbError } from '@logit-perturb/core'
import { caughtAs } from './thrown.js'

/** What a call did: returned a value, or refused with a typed error. */
export type Outcome<R> = { ok: true; value: R } | { ok: false; code: LogitPerturbErrorCode; message: string }

/** The outcome of a refusal. */
function refused(what: string, e: unknown): Outcome<never> {
  const error = caughtAs(LogitPerturbError, e, what)
  return { ok: false, code: error.code, message: error.message }
}

/**
 * Runs `fn` (named `what` in failures): its value, or its typed refusal, as an outcome. Any other
 * throw fails the test, with the thrown error as the cause.
 */
export function outcome<R>(what: string, fn: () => R): Outcome<R> {
  try {
    return { ok: true, value: fn() }
  } catch (e) {
    return refused(what, e)
  }
}

/** {@link outcome} of an async call. */
export async function outcomeAsync<R>(what: string, fn: () => Promise<R>): Promise<Outcome<R>> {
  try {
    return { ok: true, value: await fn() }
  } catch (e) {
    return refused(what, e)
  }
}
