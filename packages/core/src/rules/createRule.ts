import type { RuleSpec } from '../specTypes.js'
import type { CreateContext, RuleOptions } from './definition.js'
import { ruleDefinition } from './registry.js'
import type { Rule } from './types.js'

export type { RuleOptions } from './definition.js'

/**
 * Builds the rule a parsed spec names, single- or multi-label (`rule.task`), with the factory of
 * its definition in the registry. The spec must come from `parseSpec` (defaults filled in): it is
 * trusted, not checked again.
 */
export function createRule(spec: RuleSpec, options: RuleOptions = {}): Rule {
  const context: CreateContext = { options, createBase: (base) => createRule(base as RuleSpec, options) }
  const definition = ruleDefinition(spec.rule)
  const rule = definition.create(spec, context)
  const ownCounts = 'classCounts' in spec && Array.isArray(spec.classCounts) ? (spec.classCounts as readonly number[]) : undefined
  // The facts every rule shares are filled in here from the spec's common fields, so that a rule's
  // module states only what is its own: the labels it takes (from its definition), the counts it
  // carries, the field that fixes its class count.
  return {
    ...rule,
    task: definition.task,
    equivalences: definition.equivalences?.(spec) ?? [],
    ...((ownCounts ?? rule.classCounts) ? { classCounts: ownCounts ?? rule.classCounts } : {}),
    ...(rule.numClasses === undefined
      ? {}
      : {
          numClassesFrom:
            spec.numClasses !== undefined ? 'numClasses' : (rule.numClassesFrom ?? (ownCounts ? 'classCounts' : 'numClasses')),
        }),
  }
}
