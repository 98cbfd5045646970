import { check } from './errors.js'
import { CLASS_COUNT, type ParseContext, type SpecHead } from './rules/definition.js'
import { ruleDefinition } from './rules/registry.js'
import { SpecReader } from './specReader.js'
import type { LplBaseSpec, RuleSpec } from './specTypes.js'
import { RULE_NAMES } from './specTypes.js'

export { MAX_PARAMETER, MAX_STEPS } from './rules/definition.js'

/**
 * Validates a JSON value as a rule spec and returns it with every default filled in and
 * `version: 1`. Throws a `LogitPerturbError` naming the bad field: `UNKNOWN_RULE` for a rule name
 * the library does not know, `INVALID_SPEC` for a missing or unexpected field, `INVALID_PARAMETER`
 * for a value out of range, `CLASS_COUNTS_LENGTH` / `CLASS_COUNTS_VALUE` for bad class counts (for
 * the multi-label rules with priors, also a count above `numSamples`, or no label with both
 * positive and negative training samples). The input is never modified. Each rule's fields are
 * read by its definition in the registry.
 */
export function parseSpec(value: unknown): RuleSpec {
  return parseAt(SpecReader.of(value, ''), false) as RuleSpec
}

/** Parses the spec `r` reads: as a whole spec, or as LPL's base (`asBase`), which some rules cannot be. */
function parseAt(r: SpecReader, asBase: boolean): RuleSpec {
  const rule = r.raw('rule')
  check(rule !== undefined, 'INVALID_SPEC', `is required (one of ${RULE_NAMES.join(', ')})`, r.fieldPath('rule'))
  const definition = ruleDefinition(rule, r.fieldPath('rule'))
  const version = r.raw('version')
  check(version === undefined || version === 1, 'INVALID_SPEC', `only version 1 exists, got ${String(version)}`, r.fieldPath('version'))
  const numClasses = r.optionalNumber('numClasses', CLASS_COUNT)
  check(!asBase || definition.notABase === undefined, 'INVALID_SPEC', definition.notABase ?? '', r.fieldPath('rule'))
  const head: SpecHead = { version: 1, ...(numClasses === undefined ? {} : { numClasses }) }
  const context: ParseContext = { head, numClasses, parseBase: (reader) => parseAt(reader, true) as LplBaseSpec }
  const spec = definition.parse(r, context) as RuleSpec
  r.finish()
  return spec
}
