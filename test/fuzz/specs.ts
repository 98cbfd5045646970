/**
 * Rule specs for the fuzzing suite: a valid spec of every rule for `C` classes, with
 * hyper-parameters drawn in and at the edge of their ranges, and mutations of it (a field missing,
 * of the wrong type, absurd, or unknown; an unknown rule).
 */
import fc from 'fast-check'
import { EDGE_NUMBERS, WRONG_TYPES, validCounts } from './inputs.js'

/**
 * A hyper-parameter: in its range, and now and then an edge value (1 in 13: with four parameters
 * about three specs in four stay valid, so the result path is fuzzed as much as the refusals).
 */
const numberInput = (lo: number, hi: number) =>
  fc.oneof(
    { weight: 12, arbitrary: fc.double({ min: lo, max: hi, noNaN: true, noDefaultInfinity: true }) },
    { weight: 1, arbitrary: fc.constantFrom(...EDGE_NUMBERS) },
  )

/** Every rule with the options worth fuzzing separately. */
export const SINGLE_LABEL_KINDS = [
  'ce',
  'logit-adjustment',
  'balanced-softmax',
  'focal',
  'cb-focal',
  'ldam',
  'ldam-drw',
  'vs',
  'cdt',
  'seesaw',
  'lade',
  'generalized-reweighting',
  'adaptive-logit-adjustment',
  'isda',
  'lpl-prior',
  'lpl-confidence',
  'lpl-fixed',
  'la+lpl',
  'official-longtail',
  'official-balanced',
  'label-aware-smoothing',
  'balanced-bce',
  'balanced-experts',
  'diverse-experts',
  'gaussian-clouded-logit',
] as const

/**
 * The heads of the kinds whose rule has several (`Rule.heads`): their batches' logits are
 * `[N, E·C]`. Every other kind: 1.
 */
export const KIND_HEADS: Readonly<Record<string, number>> = { 'balanced-experts': 2, 'diverse-experts': 3 }

export const MULTI_LABEL_KINDS = ['bce', 'logit-adjusted-bce', 'db-negative-tolerant', 'distribution-balanced', 'lpl-multilabel'] as const

type Spec = Record<string, unknown>

/** A valid spec of `kind` for `c` classes (multi-label: positives per label in `numSamples`). */
export function validSpec(kind: string, c: number): fc.Arbitrary<Spec> {
  const counts = validCounts(c)
  const lplCommon = { alpha: numberInput(0.01, 0.5), maxSteps: fc.integer({ min: 0, max: 12 }), normalize: fc.boolean() }
  const bounds = { epsilon: numberInput(0, 1), deltaEpsilon: numberInput(0, 2) }
  switch (kind) {
    case 'ce':
      return fc.constant({ rule: 'ce' })
    case 'logit-adjustment':
      return fc.record({ rule: fc.constant(kind), classCounts: counts, tau: numberInput(0, 3) })
    case 'balanced-softmax':
      return fc.record({ rule: fc.constant(kind), classCounts: counts })
    case 'focal':
      return fc.record({ rule: fc.constant(kind), classCounts: counts, gamma: numberInput(0, 5), tau: numberInput(0, 2) })
    case 'cb-focal':
      return fc.record({
        rule: fc.constant('focal'),
        classCounts: counts,
        gamma: numberInput(0, 5),
        weighting: fc.oneof(
          fc.record({ kind: fc.constant('class-balanced'), beta: numberInput(0, 0.9999), fromEpoch: fc.integer({ min: 0, max: 2 }) }),
          fc.record({ kind: fc.constant('inverse-frequency') }),
          fc.record({
            kind: fc.constant('generalized-reweighting'),
            exponent: numberInput(0, 3),
            fromEpoch: fc.integer({ min: 0, max: 2 }),
          }),
        ),
      })
    case 'ldam':
      return fc.record({ rule: fc.constant(kind), classCounts: counts, maxMargin: numberInput(0, 1), scale: numberInput(1, 30) })
    case 'gaussian-clouded-logit':
      // Counts > 0 (an empty class counts one sample); all equal (one class, ratio 1) is refused with CLASS_COUNTS_VALUE.
      return fc.record({
        rule: fc.constant(kind),
        classCounts: counts.map((n) => n.map((x) => Math.max(x, 1))),
        scale: numberInput(1, 30),
        margin: numberInput(0, 1),
        noiseMul: numberInput(0, 2),
      })
    case 'ldam-drw':
      return fc.record({
        rule: fc.constant('ldam'),
        classCounts: counts,
        drw: fc.record({ beta: numberInput(0, 0.9999), fromEpoch: fc.integer({ min: 0, max: 2 }) }),
      })
    case 'vs':
      return fc.record({ rule: fc.constant(kind), classCounts: counts, gamma: numberInput(0, 1), tau: numberInput(0, 2) })
    case 'seesaw':
      return fc.record({
        rule: fc.constant(kind),
        classCounts: counts,
        p: numberInput(0, 2),
        q: numberInput(0, 3),
        eps: numberInput(0.001, 0.5),
      })
    case 'cdt':
      return fc.record({ rule: fc.constant(kind), classCounts: counts, gamma: numberInput(0, 1) })
    case 'lade':
      return fc.record({ rule: fc.constant(kind), classCounts: counts, alpha: numberInput(0, 1), remineLambda: numberInput(0, 1) })
    case 'generalized-reweighting':
      return fc.record({ rule: fc.constant(kind), classCounts: counts, exponent: numberInput(0, 3) })
    case 'adaptive-logit-adjustment':
      // ALA needs every count > 0 (a zero count is refused): an empty class is counted as one sample.
      return fc.record({
        rule: fc.constant(kind),
        classCounts: counts.map((n) => n.map((v) => Math.max(v, 1))),
        scale: numberInput(1, 30),
        weighting: fc.option(
          fc.record({ kind: fc.constant('class-balanced'), beta: numberInput(0, 0.9999), fromEpoch: fc.integer({ min: 0, max: 2 }) }),
          {
            nil: undefined,
          },
        ),
      })
    case 'isda':
      return fc.record({
        rule: fc.constant(kind),
        lambda: numberInput(0, 1),
        weights: fc.array(fc.tuple(fc.double({ min: -2, max: 2, noNaN: true }), fc.double({ min: -2, max: 2, noNaN: true })), {
          minLength: c,
          maxLength: c,
        }),
        covariances: fc.array(
          fc
            .tuple(
              fc.double({ min: 0, max: 2, noNaN: true }),
              fc.double({ min: 0, max: 2, noNaN: true }),
              fc.double({ min: -1, max: 1, noNaN: true }),
            )
            .map(([a, b, r]) => [
              [a, r * Math.sqrt(a * b)],
              [r * Math.sqrt(a * b), b],
            ]),
          { minLength: c, maxLength: c },
        ),
      })
    case 'lpl-prior':
      return fc.record({ rule: fc.constant('lpl'), split: fc.constant('prior'), classCounts: counts, ...lplCommon, ...bounds })
    case 'lpl-confidence':
      return fc.record({
        rule: fc.constant('lpl'),
        split: fc.constant('confidence'),
        numClasses: fc.constant(c),
        momentum: numberInput(0, 0.99),
        ...lplCommon,
        ...bounds,
      })
    case 'lpl-fixed':
      return fc.record({
        rule: fc.constant('lpl'),
        split: fc.constant('fixed'),
        ...lplCommon,
        directions: fc.array(fc.constantFrom(-1, 1), { minLength: c, maxLength: c }),
        bounds: fc.array(fc.double({ min: 0, max: 2, noNaN: true }), { minLength: c, maxLength: c }),
      })
    case 'la+lpl':
      return counts.chain((n) =>
        fc.record({
          rule: fc.constant('lpl'),
          split: fc.constant('prior'),
          classCounts: fc.constant(n),
          ...lplCommon,
          base: fc.record({ rule: fc.constant('logit-adjustment'), classCounts: fc.constant(n), tau: numberInput(0, 2) }),
        }),
      )
    case 'official-longtail':
      return counts.chain((n) =>
        fc.record({
          rule: fc.constant(kind),
          classCounts: fc.constant(n),
          headClasses: fc.integer({ min: 0, max: c }),
          steps: fc.integer({ min: 1, max: 6 }),
          alpha: numberInput(0, 0.5),
        }),
      )
    case 'official-balanced':
      return fc.record({ rule: fc.constant(kind), steps: fc.integer({ min: 5, max: 8 }), alpha: numberInput(0, 0.1) })
    case 'label-aware-smoothing':
      return fc
        .tuple(counts, numberInput(0, 1), numberInput(0, 1), fc.constantFrom('concave', 'linear', 'convex', 'exp'), numberInput(0.1, 4))
        .map(([classCounts, smoothHead, smoothTail, shape, power]) => ({
          rule: kind,
          classCounts,
          smoothHead,
          smoothTail,
          shape,
          ...(shape === 'exp' ? { power } : {}),
        }))
    case 'balanced-bce':
      // Counts above 0 (a zero count or one class is refused: π = 0 or 1 has no log-odds).
      return fc.record({ rule: fc.constant(kind), classCounts: counts.map((n) => n.map((k) => Math.max(k, 1))) })
    case 'balanced-experts':
      return fc.record({
        rule: fc.constant(kind),
        classCounts: counts,
        taus: fc.array(numberInput(-2, 3), { minLength: KIND_HEADS[kind]!, maxLength: KIND_HEADS[kind]! }),
      })
    case 'diverse-experts':
      return fc.record({ rule: fc.constant(kind), classCounts: counts, tau: numberInput(0, 3) })
    case 'bce':
      return fc.constant({ rule: 'bce' })
    case 'logit-adjusted-bce':
      return labelCounts(c).map((l) => ({ rule: kind, ...l, tau: 1 }))
    case 'db-negative-tolerant':
      return fc
        .tuple(labelCounts(c), numberInput(0, 1), numberInput(0.1, 10))
        .map(([l, kappa, lambda]) => ({ rule: kind, ...l, kappa, lambda }))
    case 'distribution-balanced':
      return fc
        .tuple(labelCounts(c), fc.constantFrom('coco', 'voc'), numberInput(0, 1), numberInput(0.1, 10), numberInput(0, 4))
        .map(([l, preset, initBias, negScale, focalGamma]) => ({ rule: kind, ...l, preset, initBias, negScale, focalGamma }))
    case 'lpl-multilabel':
      return fc.record({ rule: fc.constant(kind), classCounts: counts, ...lplCommon, ...bounds })
    default:
      throw new Error(`no spec generator for ${kind}`)
  }
}

/** Positives per label and the training-set size, every count within it. */
function labelCounts(c: number): fc.Arbitrary<{ classCounts: number[]; numSamples: number }> {
  return fc.tuple(validCounts(c), fc.integer({ min: 0, max: 3 })).map(([counts, extra]) => {
    const numSamples = Math.max(...counts) + extra
    return { classCounts: counts, numSamples }
  })
}

/** One mutation of a spec: a field removed, set to a wrong or absurd value, or added; or the rule renamed. */
export function mutateSpec(spec: fc.Arbitrary<Spec>): fc.Arbitrary<Spec> {
  const junk = fc.constantFrom<unknown>(...WRONG_TYPES.filter((v) => typeof v !== 'function'), ...EDGE_NUMBERS, 1e6, -0.5)
  return fc.tuple(spec, fc.constantFrom('remove', 'junk', 'extra', 'rule'), fc.nat(), junk).map(([s, how, at, value]) => {
    const keys = Object.keys(s).filter((k) => k !== 'rule')
    const key = keys.length > 0 ? keys[at % keys.length]! : 'extra'
    const out: Spec = { ...s }
    if (how === 'remove') delete out[key]
    else if (how === 'junk') out[key] = value
    else if (how === 'extra') out.momentumTypo = value
    else out.rule = `${String(s.rule)}x`
    return out
  })
}
