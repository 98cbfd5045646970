import { LogitPerturbError, check } from './errors.js'
import { SpecReader } from './specReader.js'
import type {
  DbNegativeTolerantSpec, IsdaSpec, LdamSpec, LogitAdjustedBceSpec, LplBaseSpec, LplMultiLabelSpec, LplSpec,
  OfficialBalancedSpec, OfficialLongtailSpec, RuleSpec, VsSpec,
} from './specTypes.js'
import { MULTI_LABEL_RULE_NAMES, RULE_NAMES } from './specTypes.js'
import { checkIsdaInputs } from './rules/isda.js'
import { MAX_CLASSES, checkLabelCounts } from './validate.js'

/**
 * Every real hyper-parameter is at most 1e6 and every step count at most 1000: far past any useful
 * value, and small enough that no product of them with logits of 1e4 overflows float64 (α = 1e308
 * would turn a loss into NaN) and that no search runs for hours.
 */
export const MAX_PARAMETER = 1e6
export const MAX_STEPS = 1000
const POSITIVE = { above: 0, max: MAX_PARAMETER }
const NON_NEGATIVE = { min: 0, max: MAX_PARAMETER }
const STEP_COUNT = { min: 1, max: MAX_STEPS, integer: true }
const CLASS_COUNT = { min: 1, max: MAX_CLASSES, integer: true }

/**
 * Validates a JSON value as a rule spec and returns it with every default filled in and
 * `version: 1`. Throws a `LogitPerturbError` naming the bad field: `UNKNOWN_RULE` for a rule name
 * the library does not know, `INVALID_SPEC` for a missing or unexpected field, `INVALID_PARAMETER`
 * for a value out of range, `CLASS_COUNTS_LENGTH` / `CLASS_COUNTS_VALUE` for bad class counts (for
 * the multi-label rules with priors, also a count above `numSamples`, or no label with both
 * positive and negative training samples). The input is never modified.
 */
export function parseSpec(value: unknown): RuleSpec {
  return parseAt(SpecReader.of(value, ''), false) as RuleSpec
}

function parseAt(r: SpecReader, asBase: boolean): RuleSpec {
  const rule = r.raw('rule')
  check(rule !== undefined, 'INVALID_SPEC', `is required (one of ${RULE_NAMES.join(', ')})`, r.fieldPath('rule'))
  if (typeof rule !== 'string' || !(RULE_NAMES as readonly string[]).includes(rule)) {
    throw new LogitPerturbError('UNKNOWN_RULE',
      `unknown rule ${JSON.stringify(rule)}; known rules: ${RULE_NAMES.join(', ')}`, r.fieldPath('rule'))
  }
  const version = r.raw('version')
  check(version === undefined || version === 1, 'INVALID_SPEC', `only version 1 exists, got ${String(version)}`, r.fieldPath('version'))
  const declared = r.optionalNumber('numClasses', CLASS_COUNT)
  const spec = parseRule(r, rule as RuleSpec['rule'], declared, asBase)
  r.finish()
  return spec
}

function parseRule(r: SpecReader, rule: RuleSpec['rule'], numClasses: number | undefined, asBase: boolean): RuleSpec {
  const head = { version: 1 as const, ...(numClasses === undefined ? {} : { numClasses }) }
  check(!(asBase && (MULTI_LABEL_RULE_NAMES as readonly string[]).includes(rule)), 'INVALID_SPEC',
    'a multi-label rule cannot be the base of LPL (a single-label rule); lpl-multilabel is the multi-label LPL', r.fieldPath('rule'))
  switch (rule) {
    case 'ce':
      return { rule, ...head }
    case 'logit-adjustment':
      return { rule, ...head, classCounts: r.classCounts('classCounts', numClasses), tau: r.number('tau', NON_NEGATIVE, 1) }
    case 'balanced-softmax':
      return { rule, ...head, classCounts: r.classCounts('classCounts', numClasses) }
    case 'ldam':
      return parseLdam(r, head, numClasses)
    case 'vs':
      return parseVs(r, head, numClasses)
    case 'isda':
      return parseIsda(r, head, numClasses)
    case 'lpl':
      check(!asBase, 'INVALID_SPEC', 'LPL cannot be the base of LPL', r.fieldPath('rule'))
      return parseLpl(r, head, numClasses)
    case 'official-longtail':
      check(!asBase, 'INVALID_SPEC', 'the released-code presets cannot be a base', r.fieldPath('rule'))
      return parseOfficialLongtail(r, head, numClasses)
    case 'official-balanced':
      check(!asBase, 'INVALID_SPEC', 'the released-code presets cannot be a base', r.fieldPath('rule'))
      return {
        rule, ...head,
        // With K ≤ 4, R = round(1.1K) ≤ K iterations never store entry K, the first one a class uses
        // (the released code fails there with an index error).
        steps: r.number('steps', { min: 5, max: MAX_STEPS, integer: true }, 10),
        alpha: r.number('alpha', NON_NEGATIVE, 0.01),
      } satisfies OfficialBalancedSpec
    case 'bce':
      return { rule, ...head }
    case 'logit-adjusted-bce':
      return { rule, ...head, ...parseLabelCounts(r, numClasses), tau: r.number('tau', NON_NEGATIVE, 1) } satisfies LogitAdjustedBceSpec
    case 'db-negative-tolerant':
      return {
        rule, ...head, ...parseLabelCounts(r, numClasses),
        kappa: r.number('kappa', NON_NEGATIVE, 0.05),
        // 1/λ weighs the negatives: λ below 1e-6 would make that weight overflow float32.
        lambda: r.number('lambda', { min: 1e-6, max: MAX_PARAMETER }, 5),
      } satisfies DbNegativeTolerantSpec
    case 'lpl-multilabel':
      return parseLplMultiLabel(r, head, numClasses)
  }
}

/** `classCounts` (positives per label) with `numSamples`, the training-set size they are counted in. */
function parseLabelCounts(r: SpecReader, numClasses: number | undefined): { classCounts: number[]; numSamples: number } {
  const classCounts = r.classCounts('classCounts', numClasses)
  const numSamples = r.number('numSamples', POSITIVE)
  checkLabelCounts(classCounts, numSamples, r.fieldPath('classCounts'))
  return { classCounts, numSamples }
}

function parseLplMultiLabel(r: SpecReader, head: Head, numClasses: number | undefined): LplMultiLabelSpec {
  const classCounts = r.classCounts('classCounts', numClasses)
  const headClasses = r.optionalNumber('headClasses', { min: 0, max: classCounts.length, integer: true })
  return {
    rule: 'lpl-multilabel', ...head, classCounts,
    ...(headClasses === undefined ? {} : { headClasses }),
    alpha: r.number('alpha', POSITIVE, 0.15),
    epsilon: r.number('epsilon', NON_NEGATIVE, 0.3),
    deltaEpsilon: r.number('deltaEpsilon', NON_NEGATIVE, 1.2),
    maxSteps: r.number('maxSteps', { min: 0, max: MAX_STEPS, integer: true }, 20),
    normalize: r.boolean('normalize', true),
    gradient: r.oneOf('gradient', ['stop', 'through'] as const, 'stop'),
  }
}

type Head = { version: 1; numClasses?: number }

function parseLdam(r: SpecReader, head: Head, numClasses: number | undefined): LdamSpec {
  const classCounts = r.classCounts('classCounts', numClasses)
  const maxMargin = r.number('maxMargin', NON_NEGATIVE, 0.5)
  const scale = r.number('scale', POSITIVE, 30)
  const drwReader = r.child('drw')
  let drw: LdamSpec['drw']
  if (drwReader !== undefined) {
    drw = {
      beta: drwReader.number('beta', { min: 0, below: 1 }, 0.9999),
      fromEpoch: drwReader.number('fromEpoch', { min: 0, max: Number.MAX_SAFE_INTEGER, integer: true }, 0),
    }
    drwReader.finish()
  }
  return { rule: 'ldam', ...head, classCounts, maxMargin, scale, ...(drw ? { drw } : {}) }
}

function parseVs(r: SpecReader, head: Head, numClasses: number | undefined): VsSpec {
  if (r.has('multiplicative') || r.has('additive')) {
    // Explicit terms: classCounts, gamma and tau would be ignored, so they are refused as unknown.
    const multiplicative = r.numberArray('multiplicative', POSITIVE, numClasses)
    const additive = r.numberArray('additive', { min: -MAX_PARAMETER, max: MAX_PARAMETER }, multiplicative.length)
    return { rule: 'vs', ...head, multiplicative, additive }
  }
  return {
    rule: 'vs', ...head,
    classCounts: r.classCounts('classCounts', numClasses),
    gamma: r.number('gamma', NON_NEGATIVE, 0.2),
    tau: r.number('tau', NON_NEGATIVE, 1),
  }
}

function parseIsda(r: SpecReader, head: Head, numClasses: number | undefined): IsdaSpec {
  const lambda = r.number('lambda', NON_NEGATIVE, 0.5)
  const weights = r.raw('weights')
  const covariances = r.raw('covariances')
  if (weights === undefined && covariances === undefined) return { rule: 'isda', ...head, lambda }
  const inputs = { weights, covariances }
  checkIsdaInputs(inputs, 'INVALID_PARAMETER', r.fieldPath(''))
  if (numClasses !== undefined) {
    check(inputs.weights.length === numClasses, 'INVALID_PARAMETER',
      `has ${inputs.weights.length} rows but there are ${numClasses} classes`, r.fieldPath('weights'))
  }
  return {
    rule: 'isda', ...head, lambda,
    weights: structuredClone(weights as number[][]),
    covariances: structuredClone(covariances as number[][][]),
  }
}

function parseLpl(r: SpecReader, head: Head, declared: number | undefined): LplSpec {
  const split = r.oneOf('split', ['prior', 'confidence', 'fixed', 'learned'] as const)
  const baseReader = r.child('base')
  const base = baseReader === undefined ? undefined : (parseAt(baseReader, true) as LplBaseSpec)
  let numClasses = declared
  if (split === 'learned') {
    // δ_c = θ_c·d_c with θ learned: no steps, step size or bounds of its own to set.
    const fromBase = base?.numClasses ?? (base && 'classCounts' in base ? base.classCounts?.length : undefined)
    numClasses ??= fromBase
    check(numClasses !== undefined, 'INVALID_SPEC', 'the learned split needs numClasses (or a base rule with class counts)', r.fieldPath('numClasses'))
    check(fromBase === undefined || fromBase === numClasses, 'CLASS_COUNTS_LENGTH',
      `the base rule has ${fromBase} classes but numClasses is ${numClasses}`, r.fieldPath('base'))
    return {
      rule: 'lpl', ...head, numClasses, split,
      maxBound: r.number('maxBound', POSITIVE, 1.5),
      gradient: r.oneOf('gradient', ['stop', 'through'] as const, 'stop'),
      ...(base === undefined ? {} : { base }),
    }
  }
  // The fixed split gives its bounds per class: ε and Δε would be ignored, so they are refused.
  const bounded = split !== 'fixed'
  const common = {
    alpha: r.number('alpha', POSITIVE, 0.15),
    ...(bounded ? {
      epsilon: r.number('epsilon', NON_NEGATIVE, 0.3),
      deltaEpsilon: r.number('deltaEpsilon', NON_NEGATIVE, 1.2),
    } : {}),
    maxSteps: r.number('maxSteps', { min: 0, max: MAX_STEPS, integer: true }, 20),
    normalize: r.boolean('normalize', true),
    gradient: r.oneOf('gradient', ['stop', 'through'] as const, 'stop'),
  }
  const out: LplSpec = { rule: 'lpl', ...head, split, ...common }
  if (split === 'prior') {
    out.classCounts = r.classCounts('classCounts', numClasses)
    numClasses = out.classCounts.length
    const h = r.optionalNumber('headClasses', { min: 0, max: numClasses, integer: true })
    if (h !== undefined) out.headClasses = h
  } else if (split === 'confidence') {
    out.momentum = r.number('momentum', { min: 0, below: 1 }, 0.9)
    const threshold = r.raw('threshold')
    if (threshold === undefined || threshold === 'mean') out.threshold = 'mean'
    else {
      check(typeof threshold === 'number' && threshold >= 0 && threshold <= 1, 'INVALID_PARAMETER',
        `must be "mean" or a number in [0, 1], got ${String(threshold)}`, r.fieldPath('threshold'))
      out.threshold = threshold
    }
  } else {
    out.directions = r.numberArray('directions', { min: -MAX_PARAMETER, max: MAX_PARAMETER }, numClasses)
    numClasses = out.directions.length
    out.directions.forEach((d, c) => check(d === 1 || d === -1, 'INVALID_PARAMETER', `must be +1 or -1, got ${d}`, `${r.fieldPath('directions')}[${c}]`))
    out.bounds = r.numberArray('bounds', NON_NEGATIVE, numClasses)
  }
  if (base !== undefined) {
    const baseClasses = base.numClasses ?? ('classCounts' in base ? base.classCounts?.length : undefined)
    check(baseClasses === undefined || numClasses === undefined || baseClasses === numClasses, 'CLASS_COUNTS_LENGTH',
      `the base rule has ${baseClasses} classes but the LPL split has ${numClasses}`, r.fieldPath('base'))
    out.base = base
  }
  return out
}

function parseOfficialLongtail(r: SpecReader, head: Head, numClasses: number | undefined): OfficialLongtailSpec {
  const classCounts = r.classCounts('classCounts', numClasses)
  return {
    rule: 'official-longtail', ...head, classCounts,
    split: r.number('split', { min: 0, max: classCounts.length, integer: true }),
    stepSize: r.number('stepSize', NON_NEGATIVE, 10),
    headFactor: r.number('headFactor', NON_NEGATIVE, 0.6),
    steps: r.number('steps', STEP_COUNT, 10),
    alpha: r.number('alpha', NON_NEGATIVE, 0.15),
  }
}
