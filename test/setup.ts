/**
 * fast-check runs from a fixed seed, so a test run is reproducible and CI does not depend on luck;
 * set `FC_SEED` to explore other inputs (and `PROPERTY_RUNS` for more runs per property).
 */
import fc from 'fast-check'
import { beforeEach } from 'vitest'

fc.configureGlobal({ seed: Number(process.env.FC_SEED ?? 20261127) })

/**
 * Each test starts on a new turn of the event loop. A file of many synchronous tests (the
 * conformance suite: 1,104 of them, 100 s) otherwise runs in one turn, and the worker cannot read
 * vitest's replies to its progress reports until it ends: on two busy cores that passed vitest's
 * 60 s RPC timeout (`[vitest-worker]: Timeout calling "onTaskUpdate"`, vitest#8164).
 */
beforeEach(() => new Promise<void>((resolve) => setImmediate(resolve)))
