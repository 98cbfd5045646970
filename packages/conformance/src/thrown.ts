/** A class of errors, naming the one kind of throw a check accepts. */
export type ErrorClass<E extends Error> = abstract new (...args: never[]) => E

/**
 * `e` as an error of class `type`. Anything else fails the test with a message naming what `what`
 * threw, and keeps it as the failure's cause, so its stack is in the report.
 */
export function caughtAs<E extends Error>(type: ErrorClass<E>, e: unknown, what = 'the call'): E {
  if (e instanceof type) return e
  const thrown = e instanceof Error ? `${e.name}: ${e.message}` : String(e)
  throw new Error(`${what} threw ${thrown} instead of a ${type.name}`, { cause: e })
}

/** The failure of a call that was to throw and returned. */
function nothingThrown(type: ErrorClass<Error>): Error {
  return new Error(`expected a ${type.name}, nothing was thrown`)
}

/** The error of class `type` that `fn` throws; a test failure when it throws anything else or returns. */
export function thrownBy<E extends Error>(type: ErrorClass<E>, fn: () => unknown): E {
  try {
    fn()
  } catch (e) {
    return caughtAs(type, e)
  }
  throw nothingThrown(type)
}

/**
 * {@link thrownBy} for a call that may return a promise: the error of class `type` it throws or
 * rejects with.
 */
export async function rejectedBy<E extends Error>(type: ErrorClass<E>, fn: () => unknown): Promise<E> {
  try {
    await fn()
  } catch (e) {
    return caughtAs(type, e)
  }
  throw nothingThrown(type)
}
