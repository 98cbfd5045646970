import type { LogitPerturbErrorCode } from '@logit-perturb/core'
import { LogitPerturbError } from '@logit-perturb/core'
import { rejectedBy, thrownBy } from './thrown.js'

/** The `LogitPerturbError` `fn` throws; a test failure when it throws anything else or returns. */
export function refusal(fn: () => unknown): LogitPerturbError {
  return thrownBy(LogitPerturbError, fn)
}

/** The `LogitPerturbError` `fn` throws or rejects with; a test failure when it throws anything else or resolves. */
export function refusalAsync(fn: () => unknown): Promise<LogitPerturbError> {
  return rejectedBy(LogitPerturbError, fn)
}

/** A refusal as `CODE: message`, the form tests compare with a pattern. */
export function codeAndMessage(e: LogitPerturbError): string {
  return `${e.code}: ${e.message}`
}

/** The refusal `fn` throws as `CODE: message`; a test failure when it throws anything else or returns. */
export function refusalMessage(fn: () => unknown): string {
  return codeAndMessage(refusal(fn))
}

/** A refusal as `CODE field` (the code alone when no field applies), the form of tables of refusals. */
export function codeAndField(e: LogitPerturbError): string {
  return `${e.code} ${e.field ?? ''}`.trim()
}

/**
 * Checks that `fn` throws a `LogitPerturbError` with `code` whose message matches every mention;
 * throws an error naming the difference otherwise.
 */
export function expectRefusal(fn: () => unknown, code: LogitPerturbErrorCode, ...mentions: (string | RegExp)[]): void {
  const error = refusal(fn)
  if (error.code !== code) throw new Error(`expected ${code}, got ${codeAndMessage(error)}`, { cause: error })
  for (const m of mentions) {
    const found = typeof m === 'string' ? error.message.includes(m) : m.test(error.message)
    if (!found) throw new Error(`the ${code} message does not match ${String(m)}: ${error.message}`, { cause: error })
  }
}
