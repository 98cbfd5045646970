import { check } from './errors.js'
import { type ClassWeighting, parseWeighting } from './rules/classWeighting.js'
import { CLASS_COUNT, type ParseContext, type SpecHeader } from './rules/definition.js'
import { createRule } from './rules/createRule.js'
import { ruleDefinition } from './rules/registry.js'
import { SpecReader } from './specReader.js'
import type { RuleSpec } from './specTypes.js'
import { RULE_NAMES } from './specTypes.js'

export { MAX_PARAMETER, MAX_STEPS } from './rules/definition.js'

/**
 * Validates a JSON value as a rule spec and returns it with every default filled in and
 * `version: 1`. Throws a `LogitPerturbError` naming the bad field: `UNKNOWN_RULE` for a rule name
 * the library does not know, `INVALID_SPEC` for a missing or unexpected field, `INVALID_PARAMETER`
 * for a value out of range, `CLASS_COUNTS_LENGTH` / `CLASS_COUNTS_VALUE` for bad class counts (for
 * the multi-label rules with priors, also a count above `numSamples`, or no label with both
 * positive and negative training samples). The input is never modified. Each rule's fields are
 * read by its definition in the registry. The result is frozen (spread it to derive another spec),
 * and a spec it returned is returned as it is, not checked again.
 */
export function parseSpec(value: unknown): RuleSpec {
  if (isParsedSpec(value)) return value
  const spec = deepFreeze(parseAt(SpecReader.of(value, ''), false))
  PARSED.add(spec)
  return spec
}

/**
 * {@link parseSpec} with the numeric fields at `fields` (paths from the spec's root, `"tau"`,
 * `"base.tau"`) read without their ranges: each must still be a finite number (an integer where the
 * field is one). For what explores a rule's formula outside the values a trainer may choose, as
 * `lpl audit` does when it fits a field to an implementation (a sign flipped: `τ = −1`); a value out
 * of range can make the rule's numbers meaningless (a negative count, a log of a negative number),
 * so such specs are never for training. Same errors as `parseSpec` otherwise.
 */
export function parseSpecUnbounded(value: unknown, fields: readonly string[]): RuleSpec {
  const spec = deepFreeze(parseAt(SpecReader.of(value, '', new Set(fields)), false))
  PARSED.add(spec)
  return spec
}

/**
 * The specs `parseSpec` returned. They are frozen, so one that is here is still valid: passing it
 * to `createLoss`, `createTfjsLoss` or `exportLossModel` does not check it again.
 */
const PARSED = new WeakSet<object>()

/** Whether `value` is a spec `parseSpec` returned (and so valid, with its defaults). */
export function isParsedSpec(value: unknown): value is RuleSpec {
  return typeof value === 'object' && value !== null && PARSED.has(value)
}

/** Freezes an object and every object and array inside it; returns it. */
function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value)
    for (const inner of Object.values(value)) deepFreeze(inner)
  }
  return value
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
  const labelSmoothing = r.optionalNumber('labelSmoothing', { min: 0, max: 1 })
  check(
    !asBase || labelSmoothing === undefined,
    'INVALID_SPEC',
    'a base rule takes no label smoothing: set labelSmoothing on the outer spec',
    r.fieldPath('labelSmoothing'),
  )
  const weightingReader = r.child('weighting')
  check(
    !asBase || weightingReader === undefined,
    'INVALID_SPEC',
    'a base rule takes no weighting: set weighting on the outer spec',
    r.fieldPath('weighting'),
  )
  check(
    definition.task === 'single' || weightingReader === undefined,
    'INVALID_SPEC',
    'class weighting is for single-label rules',
    r.fieldPath('weighting'),
  )
  const weighting = weightingReader === undefined ? undefined : parseWeighting(weightingReader, numClasses)
  const header: SpecHeader = {
    version: 1,
    ...(numClasses === undefined ? {} : { numClasses }),
    ...(labelSmoothing === undefined ? {} : { labelSmoothing }),
    ...(weighting === undefined ? {} : { weighting }),
  }
  const context: ParseContext = {
    header,
    numClasses,
    parseBase: (reader) => parseAt(reader, true),
    numClassesOf: (base) => createRule(base as RuleSpec).numClasses,
  }
  const spec = definition.parse(r, context) as RuleSpec
  r.finish()
  if (weighting !== undefined) checkWeightingOf(spec, weighting, r, definition.ownClassWeights?.(spec))
  return spec
}

/**
 * A weighting needs counts (its own or the rule's) of the rule's class count, and no second
 * weighting (`ownWeights`: why the rule's own, LDAM-DRW's, excludes it).
 */
function checkWeightingOf(spec: RuleSpec, weighting: ClassWeighting, r: SpecReader, ownWeights: string | undefined): void {
  const ruleCounts = 'classCounts' in spec && Array.isArray(spec.classCounts) ? spec.classCounts : undefined
  const counts = weighting.classCounts ?? ruleCounts
  check(counts !== undefined, 'INVALID_SPEC', 'is required: the rule has no classCounts of its own', r.fieldPath('weighting.classCounts'))
  const c = ruleCounts?.length ?? spec.numClasses
  check(
    c === undefined || counts.length === c,
    'CLASS_COUNTS_LENGTH',
    `has ${counts.length} counts for ${c} classes`,
    r.fieldPath('weighting.classCounts'),
  )
  check(ownWeights === undefined, 'INVALID_SPEC', ownWeights ?? '', r.fieldPath('weighting'))
}
