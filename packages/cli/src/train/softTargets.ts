import { ruleFacts } from '@logit-perturb/core'
import { CliError } from '../errors.js'
import type { Method } from './methods.js'

/**
 * Whether a method's rule takes soft targets (probability rows, docs/spec.md#11-soft-targets): its
 * declared `softTargets` form, read from the rule's facts. The form depends on the rule, not on
 * the counts, so placeholder counts serve.
 */
export function takesSoftTargets(method: Method): boolean {
  return ruleFacts(placeholderSpec(method)).softTargets !== undefined
}

/** A method's spec on ten placeholder counts: enough to read what its rule declares. */
const placeholderSpec = (method: Method) => method.spec([10, 9, 8, 7, 6, 5, 4, 3, 2, 1], 1, 55)

/**
 * The methods that can train on mixup / CutMix targets. Methods named on the command line whose
 * rule has no soft-target form (LPL, seesaw, the released code: they read each sample's class)
 * are a usage error; with `--methods all` they are left out, and `skipped` names them.
 */
export function methodsForSoftTargets(methods: readonly Method[], named: boolean): { kept: Method[]; skipped: Method[] } {
  const kept = methods.filter((m) => takesSoftTargets(m))
  const skipped = methods.filter((m) => !kept.includes(m))
  if (named && skipped.length > 0) {
    const which = skipped.map((m) => `${m.name} (rule ${String(placeholderSpec(m).rule)})`).join(', ')
    throw new CliError(
      `--mixup and --cutmix train on probability rows, which ${which} cannot take: the rule reads each sample's class. ` +
        `Drop it from --methods, or train it without mixing.`,
      2,
    )
  }
  return { kept, skipped }
}
