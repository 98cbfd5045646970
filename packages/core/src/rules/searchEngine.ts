import { check } from '../errors.js'
import type { TensorOps } from '../ops.js'

/** Where a search loop runs: one host loop over read-back arrays, or tensor ops on the backend. */
export type SearchPath = 'host' | 'ops'

/**
 * Chooses where a rule's search (LPL's, the released long-tail code's) runs on a backend, the one
 * place this is decided. The host loop needs a backend that reads tensors synchronously (tfjs cpu
 * and wasm, the reference) and, when the gradient goes through the search (`reversePass`), one that
 * takes a custom gradient for the host reverse pass. `'auto'` takes the host loop where it can run,
 * `'ops'` forces the ops, and `'host'` is refused with `INVALID_PARAMETER` naming `search` where the
 * backend cannot run it.
 */
export function searchEngine<T>(ops: TensorOps<T>, requested: 'auto' | SearchPath, reversePass: boolean): SearchPath {
  const readsBack = ops.readSync !== undefined
  const reverses = !reversePass || ops.customGradient !== undefined
  check(
    requested !== 'host' || (readsBack && reverses),
    'INVALID_PARAMETER',
    `the host search needs a backend that reads tensors synchronously (${ops.name} ${readsBack ? 'does' : 'does not'})${
      reversePass
        ? `, and with a gradient through the search one that takes custom gradients (${ops.name} ${ops.customGradient ? 'does' : 'does not'})`
        : ''
    }`,
    'search',
  )
  return requested === 'ops' || !(readsBack && reverses) ? 'ops' : 'host'
}

/**
 * Whether a call runs its search on the host: the chosen engine is the host loop and no statistic
 * is summed across workers (each step's sums must go through `batchSum`, which only the ops take
 * part in).
 */
export function searchesOnHost(path: SearchPath, batchSum: unknown): boolean {
  return path === 'host' && batchSum === undefined
}
