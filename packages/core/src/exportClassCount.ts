import { check } from './errors.js'
import type { LossContext } from './rules/types.js'

/**
 * The class count `C` of an exported loss (an ONNX graph, a PyTorch module): the one the caller
 * gives, else the one the spec fixes (`fixed`, the loss's `numClasses`), else the row count of
 * ISDA's weights in `context`. Throws `INVALID_PARAMETER` naming `numClasses` when none is known,
 * when it is not a positive integer, or when the caller's disagrees with the spec's.
 */
export function exportClassCount(
  rule: string,
  fixed: number | undefined,
  given: number | undefined,
  context?: Pick<LossContext, 'isda'>,
): number {
  // ISDA's weights may come with the context instead of the spec: their row count is then C.
  const known = fixed ?? context?.isda?.weights.length
  const numClasses = given ?? known
  check(numClasses !== undefined, 'INVALID_PARAMETER', `the ${rule} spec does not fix the class count: pass numClasses`, 'numClasses')
  check(Number.isInteger(numClasses) && numClasses > 0, 'INVALID_PARAMETER', `must be a positive integer, got ${numClasses}`, 'numClasses')
  check(
    known === undefined || known === numClasses,
    'INVALID_PARAMETER',
    `is ${numClasses} but the spec (or context.isda) has ${known} classes`,
    'numClasses',
  )
  return numClasses
}
