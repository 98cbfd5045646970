import { check } from './errors.js'
import type { LossContext, RuleFacts } from './rules/types.js'
import { MAX_CLASSES } from './validate.js'

/**
 * The class count `C` of an exported loss (an ONNX graph, a PyTorch module): the one the caller
 * gives, else the one the spec fixes (`loss.numClasses`), else the one the rule reads from the
 * extra inputs frozen into the export (`rule.numClassesOf`, ISDA's weights). Throws
 * `INVALID_PARAMETER` naming `numClasses` when none is known, when it is not an integer in
 * `[1, MAX_CLASSES]`, or when the caller's disagrees with the spec's. It is the count of classes,
 * never the logits' width: a rule with `E` heads (`rule.heads`) declares its logits `[N, E·C]`
 * (`traceLoss`), its labels over `[0, C)`.
 */
export function exportClassCount(
  loss: {
    readonly spec: { readonly rule: string }
    readonly rule: Pick<RuleFacts, 'numClasses' | 'numClassesFrom' | 'numClassesOf'> & Partial<Pick<RuleFacts, 'heads'>>
  },
  given: number | undefined,
  context?: LossContext<unknown>,
): number {
  const { numClasses: fixed, numClassesOf } = loss.rule
  const known = fixed ?? (context === undefined ? undefined : numClassesOf?.(context))
  const numClasses = given ?? known
  check(
    numClasses !== undefined,
    'INVALID_PARAMETER',
    `the ${loss.spec.rule} spec does not fix the class count: pass numClasses`,
    'numClasses',
  )
  check(
    Number.isInteger(numClasses) && numClasses > 0 && numClasses <= MAX_CLASSES,
    'INVALID_PARAMETER',
    `must be an integer in [1, ${MAX_CLASSES}], got ${numClasses}`,
    'numClasses',
  )
  const from = fixed === undefined ? 'the context' : `the spec (its ${loss.rule.numClassesFrom ?? 'numClasses'})`
  const heads = loss.rule.heads ?? 1
  const width = heads === 1 ? '' : ` (numClasses counts classes: the logits of its ${heads} heads are [N, ${heads}·C])`
  check(
    known === undefined || known === numClasses,
    'INVALID_PARAMETER',
    `is ${numClasses} but ${from} has ${known} classes${width}`,
    'numClasses',
  )
  return numClasses
}
