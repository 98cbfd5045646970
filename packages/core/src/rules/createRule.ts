import type { LplBaseSpec, RuleSpec } from '../specTypes.js'
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
  const context: CreateContext = { options, createBase: (base: LplBaseSpec) => createRule(base, options) }
  const definition = ruleDefinition(spec.rule)
  // The definition says which labels the rule takes; its factory need not say it again.
  return { ...definition.create(spec, context), task: definition.task }
}
