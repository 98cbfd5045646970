/**
 * Lets the test worker's event loop turn once.
 *
 * An async fast-check property whose predicate only awaits settled promises runs as one chain of
 * microtasks: timers and the test runner's RPC messages wait until the whole property is done. Awaiting
 * this at the start of each case keeps a long property from starving the worker (vitest reports a
 * starved worker as "Timeout calling onTaskUpdate" and fails the run).
 */
export function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve))
}
