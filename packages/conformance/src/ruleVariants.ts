import type { MultiLabelRuleSpec, RuleInput, RuleName, SingleLabelRuleSpec } from '@logit-perturb/core'
import { MULTI_LABEL_RULE_NAMES, RULE_NAMES, ruleFacts } from '@logit-perturb/core'

/** One spec of the table of every rule, with the name suites report it by. */
export interface RuleVariant {
  /** The variant's name, e.g. `'lpl-prior'` or `'ldam-drw'`. */
  name: string
  /** The spec, written for the training statistics the table was asked for. */
  spec: RuleInput
  /** The gradient flows through a search of the logits: the rule has no closed-form gradient. */
  through?: boolean
  /**
   * The rule's heads `E` (`Rule.heads`) when above 1: its batches' logits are `[N, E·C]`, head-major
   * (`singleLabelBatch`'s `heads`). Absent: 1, logits `[N, C]`.
   */
  heads?: number
}

/**
 * A rule's variants for training statistics: `main`, the rule with its main options; `more`,
 * its defaults and the combinations some suites need besides. Suites that seed a batch by a
 * variant's position take every rule's main variants first, so adding a further variant leaves the
 * batches of the others as they were.
 */
interface Variants {
  main: RuleVariant[]
  more?: RuleVariant[]
  /**
   * The rule declares batch inputs (GCL's `noise`) that its training calls draw when the call does
   * not pass them: only suites that pass them take its variants (see {@link VariantOptions}).
   */
  draws?: true
}

/** Multi-label training statistics: positives per label among `numSamples` samples. */
type LabelCounts = { classCounts: readonly number[]; numSamples: number }

// Directions and bounds of the fixed split, repeated over the classes: both directions, and bounds
// that are and are not multiples of the default α.
const FIXED_DIRECTIONS = [-1, 1, -1, 1, 1, 1]
const FIXED_BOUNDS = [0.3, 0.9, 0.45, 1.2, 0.6, 1.5]

const v = (name: string, spec: RuleInput, through?: boolean): RuleVariant => ({ name, spec, ...(through ? { through } : {}) })

/** The counts with the last one 0, where another is positive (a prior of 0 kept as it is, as LADE keeps it). */
const withZeroCount = (classCounts: readonly number[]): number[] =>
  classCounts.map((n, c) => (c === classCounts.length - 1 && classCounts.slice(0, -1).some((m) => m > 0) ? 0 : n))

/**
 * Every registered single-label rule's variants for class counts. Keyed by rule name, as the
 * multi-label table: a rule added to the registry does not compile until it has its variants, and
 * every suite iterating the tables then covers it.
 */
const SINGLE_LABEL: { readonly [R in SingleLabelRuleSpec['rule']]: (classCounts: readonly number[]) => Variants } = {
  ce: (classCounts) => ({
    main: [v('ce', { rule: 'ce' })],
    more: [v('cb-ce', { rule: 'ce', weighting: { kind: 'class-balanced', beta: 0.999, classCounts } })],
  }),
  'logit-adjustment': (classCounts) => ({
    main: [v('logit-adjustment', { rule: 'logit-adjustment', tau: 1.2, classCounts })],
    more: [
      v('logit-adjustment (defaults)', { rule: 'logit-adjustment', classCounts }),
      v('logit-adjustment, inverse-frequency weights', { rule: 'logit-adjustment', classCounts, weighting: { kind: 'inverse-frequency' } }),
    ],
  }),
  'balanced-softmax': (classCounts) => ({ main: [v('balanced-softmax', { rule: 'balanced-softmax', classCounts })] }),
  focal: (classCounts) => ({
    main: [
      v('focal', { rule: 'focal', gamma: 2 }),
      v('la-focal', { rule: 'focal', gamma: 1, tau: 1, classCounts }),
      v('cb-focal', { rule: 'focal', gamma: 2, classCounts, weighting: { kind: 'class-balanced', beta: 0.999 } }),
    ],
    more: [v('focal (γ = 0)', { rule: 'focal', gamma: 0 }), v('focal (γ = 0.5)', { rule: 'focal', gamma: 0.5 })],
  }),
  ldam: (classCounts) => ({
    main: [v('ldam-drw', { rule: 'ldam', classCounts, scale: 5, drw: { beta: 0.999, fromEpoch: 0 } })],
    more: [
      // The default margins and re-weighting; the default scale of 30 makes a small model's SGD diverge.
      v('ldam-drw (default margins and re-weighting)', { rule: 'ldam', classCounts, scale: 2, drw: {} }),
      // Re-weighting from the third epoch: a training run crosses the switch.
      v('ldam-drw from epoch 2', { rule: 'ldam', classCounts, scale: 2, drw: { beta: 0.999, fromEpoch: 2 } }),
    ],
  }),
  vs: (classCounts) => ({
    main: [v('vs', { rule: 'vs', classCounts, gamma: 0.3, tau: 1 })],
    more: [v('vs (defaults)', { rule: 'vs', classCounts })],
  }),
  // Counts accumulated from the training counts; the compensation needs a non-target score above the target's.
  seesaw: (classCounts) => ({
    main: [v('seesaw', { rule: 'seesaw', classCounts })],
    more: [v('seesaw (from zero counts)', { rule: 'seesaw', numClasses: classCounts.length, p: 1, q: 1.5, eps: 0.05 })],
  }),
  // LADE: the prior cross-entropy and a term of the whole batch; a zero count keeps its class out of the term.
  lade: (classCounts) => ({
    main: [v('lade', { rule: 'lade', classCounts, alpha: 0.5, remineLambda: 0.3 })],
    more: [
      v('lade (defaults)', { rule: 'lade', classCounts }),
      v('lade (a zero count)', { rule: 'lade', classCounts: withZeroCount(classCounts) }),
    ],
  }),
  'generalized-reweighting': (classCounts) => ({
    main: [v('generalized-reweighting', { rule: 'generalized-reweighting', classCounts, exponent: 1.2 })],
    more: [
      v('generalized-reweighting (defaults)', { rule: 'generalized-reweighting', classCounts }),
      v('ce, generalized-reweighting weights from epoch 2', {
        rule: 'ce',
        weighting: { kind: 'generalized-reweighting', exponent: 0.5, fromEpoch: 2, classCounts },
      }),
    ],
  }),
  // ALA needs every count > 0: an empty class is counted as one sample here. Its default scale of 30
  // is meant for cosine logits; a small model's SGD needs a smaller one.
  'adaptive-logit-adjustment': (classCounts) => {
    const positive = classCounts.map((n) => Math.max(n, 1))
    return {
      main: [
        v('adaptive-logit-adjustment', { rule: 'adaptive-logit-adjustment', classCounts: positive, scale: 5 }),
        v('adaptive-logit-adjustment, re-weighted', {
          rule: 'adaptive-logit-adjustment',
          classCounts: positive,
          scale: 5,
          weighting: { kind: 'class-balanced', beta: 0.999 },
        }),
      ],
      more: [
        // Re-weighting from the third epoch, as the released config's reweight_epoch: a training run crosses the switch.
        v('adaptive-logit-adjustment, re-weighted from epoch 2', {
          rule: 'adaptive-logit-adjustment',
          classCounts: positive,
          scale: 2,
          weighting: { kind: 'class-balanced', beta: 0.9999, fromEpoch: 2 },
        }),
      ],
    }
  },
  // Class-dependent temperatures: VS with τ = 0.
  cdt: (classCounts) => ({
    main: [v('cdt', { rule: 'cdt', classCounts, gamma: 0.3 })],
    more: [v('cdt (defaults)', { rule: 'cdt', classCounts })],
  }),
  isda: (classCounts) => ({
    main: [
      v('isda', {
        rule: 'isda',
        lambda: 0.5,
        weights: classCounts.map((_, c) => [Math.cos(c), Math.sin(c), 0.5]),
        covariances: classCounts.map((_, c) => [
          [1, 0.1, 0],
          [0.1, 0.5 + 0.1 * c, 0],
          [0, 0, 0.2],
        ]),
      }),
    ],
    more: [
      v('isda (defaults)', {
        rule: 'isda',
        weights: classCounts.map((_, c) => [c % 2 === 0 ? 1 : 0.5, c % 2 === 1 ? 1 : 0.5]),
        covariances: classCounts.map(() => [
          [1, 0.2],
          [0.2, 0.5],
        ]),
      }),
    ],
  }),
  lpl: (classCounts) => ({
    main: [
      v('lpl-prior', { rule: 'lpl', split: 'prior', classCounts }),
      v('lpl-prior-unnormalized', { rule: 'lpl', split: 'prior', classCounts, normalize: false, alpha: 0.3 }),
      v('lpl-confidence', { rule: 'lpl', split: 'confidence', momentum: 0 }),
      v('lpl-fixed', {
        rule: 'lpl',
        split: 'fixed',
        directions: classCounts.map((_, c) => FIXED_DIRECTIONS[c % FIXED_DIRECTIONS.length]!),
        bounds: classCounts.map((_, c) => FIXED_BOUNDS[c % FIXED_BOUNDS.length]!),
      }),
      v('la+lpl', { rule: 'lpl', split: 'prior', classCounts, base: { rule: 'logit-adjustment', tau: 1, classCounts } }),
      v('focal+lpl', { rule: 'lpl', split: 'prior', classCounts, base: { rule: 'focal', gamma: 2 } }),
      v('lpl-through', { rule: 'lpl', split: 'prior', classCounts, gradient: 'through', maxSteps: 6 }, true),
    ],
    more: [
      v('lpl-confidence (defaults)', { rule: 'lpl', split: 'confidence' }),
      v(
        'la+lpl through',
        { rule: 'lpl', split: 'prior', classCounts, gradient: 'through', base: { rule: 'logit-adjustment', classCounts } },
        true,
      ),
    ],
  }),
  'official-longtail': (classCounts) => ({
    main: [v('official-longtail', { rule: 'official-longtail', classCounts, headClasses: 2, steps: 6 }, true)],
    more: [v('official-longtail (defaults)', { rule: 'official-longtail', classCounts, headClasses: 2 }, true)],
  }),
  'official-balanced': () => ({
    main: [v('official-balanced', { rule: 'official-balanced', steps: 6, alpha: 0.05 })],
    more: [v('official-balanced (defaults)', { rule: 'official-balanced' })],
  }),
  // The map divides by max n − min n: counts that are all equal are made to differ. One class has no
  // such map (and no smoothing worth the name): no variant.
  'label-aware-smoothing': (classCounts) =>
    classCounts.length < 2
      ? { main: [] }
      : {
          main: [v('label-aware-smoothing', { rule: 'label-aware-smoothing', classCounts: unequal(classCounts) })],
          more: [
            v('label-aware-smoothing (exp, smoothed on top)', {
              rule: 'label-aware-smoothing',
              classCounts: unequal(classCounts),
              smoothHead: 0.3,
              smoothTail: 0,
              shape: 'exp',
              power: 2,
              labelSmoothing: 0.05,
            }),
          ],
        },
  // Every count positive and two classes at least (π in (0, 1)): empty classes read as one sample.
  'balanced-bce': (classCounts) =>
    classCounts.length < 2
      ? { main: [] }
      : {
          main: [v('balanced-bce', { rule: 'balanced-bce', classCounts: classCounts.map((n) => Math.max(n, 1)) })],
          more: [
            v('balanced-bce (smoothed)', {
              rule: 'balanced-bce',
              classCounts: classCounts.map((n) => Math.max(n, 1)),
              labelSmoothing: 0.1,
            }),
          ],
        },
  'balanced-experts': (classCounts) => ({
    main: [v('balanced-experts', { rule: 'balanced-experts', classCounts, taus: [-0.5, 1, 2.5] })],
    more: [
      v('balanced-experts (defaults)', { rule: 'balanced-experts', classCounts }),
      v('balanced-experts (one head)', { rule: 'balanced-experts', classCounts, taus: [1] }),
      v('balanced-experts, class-balanced weights', {
        rule: 'balanced-experts',
        classCounts,
        taus: [0, 1, 2, 3],
        weighting: { kind: 'class-balanced', beta: 0.999 },
      }),
    ],
  }),
  'diverse-experts': (classCounts) => ({
    main: [v('diverse-experts', { rule: 'diverse-experts', classCounts, tau: 1.5 })],
    more: [
      v('diverse-experts (defaults)', { rule: 'diverse-experts', classCounts }),
      v('diverse-experts, label smoothing', { rule: 'diverse-experts', classCounts, labelSmoothing: 0.1 }),
    ],
  }),
  // GCL's cloud sizes take log n_c: an empty class counts as one sample. Cases pass the noise (`batchInputs`).
  'gaussian-clouded-logit': (classCounts) => {
    const counts = classCounts.map((n) => Math.max(n, 1))
    return {
      draws: true,
      main: [v('gaussian-clouded-logit', { rule: 'gaussian-clouded-logit', classCounts: counts, scale: 4, margin: 0.2, noiseMul: 1 })],
      more: [v('gaussian-clouded-logit (defaults)', { rule: 'gaussian-clouded-logit', classCounts: counts })],
    }
  },
}

/** Counts whose largest exceeds their smallest: `counts`, or with one more sample in the first class when all are equal. */
function unequal(counts: readonly number[]): readonly number[] {
  return Math.max(...counts) > Math.min(...counts) ? counts : counts.map((n, k) => (k === 0 ? n + 1 : n))
}

/** Every registered multi-label rule's variants for label counts (see {@link SINGLE_LABEL}). */
const MULTI_LABEL: { readonly [R in MultiLabelRuleSpec['rule']]: (counts: LabelCounts) => Variants } = {
  bce: () => ({ main: [v('bce', { rule: 'bce' })] }),
  'logit-adjusted-bce': (s) => ({
    main: [v('logit-adjusted-bce', { rule: 'logit-adjusted-bce', tau: 1.2, ...s })],
    more: [v('logit-adjusted-bce (defaults)', { rule: 'logit-adjusted-bce', ...s })],
  }),
  'db-negative-tolerant': (s) => ({
    main: [
      v('db-negative-tolerant', { rule: 'db-negative-tolerant', ...s }),
      v('db-negative-tolerant (κ 0.3, λ 2)', { rule: 'db-negative-tolerant', kappa: 0.3, lambda: 2, ...s }),
    ],
  }),
  'distribution-balanced': (s) => ({
    main: [
      v('distribution-balanced (coco)', { rule: 'distribution-balanced', ...s }),
      v('distribution-balanced (voc)', { rule: 'distribution-balanced', preset: 'voc', ...s }),
    ],
    more: [v('distribution-balanced (no focal term)', { rule: 'distribution-balanced', focalGamma: 0, ...s })],
  }),
  'lpl-multilabel': ({ classCounts }) => ({
    main: [
      v('lpl-multilabel', { rule: 'lpl-multilabel', classCounts }),
      v('lpl-multilabel-unnormalized', { rule: 'lpl-multilabel', classCounts, normalize: false, alpha: 0.3 }),
      v(
        'lpl-multilabel-through',
        { rule: 'lpl-multilabel', classCounts, normalize: false, alpha: 0.3, gradient: 'through', maxSteps: 6 },
        true,
      ),
    ],
  }),
}

/** All variants of some rules, in registry order: every rule's main variants, then the further ones. */
function inOrder(variants: Variants[]): RuleVariant[] {
  return [...variants.flatMap((x) => x.main), ...variants.flatMap((x) => x.more ?? [])]
}

/** Whether a registered name is a multi-label rule's. */
function isMultiLabel(name: RuleName): name is MultiLabelRuleSpec['rule'] {
  return (MULTI_LABEL_RULE_NAMES as readonly string[]).includes(name)
}

/** Options of {@link singleLabelVariants}. */
export interface VariantOptions {
  /**
   * Include the rules that declare batch inputs (GCL's `noise`), whose training calls draw random
   * values when the call does not pass them: only for suites that pass them on every call (the
   * conformance cases, `withBatchInputs`). Default false: a suite that compares two calls, or two
   * backends, on drawn noise would compare two draws.
   */
  batchInputs?: boolean
}

/** Every single-label rule, with its main options, its defaults and the combinations suites need, for `classCounts`. */
export function singleLabelVariants(classCounts: readonly number[], options: VariantOptions = {}): RuleVariant[] {
  const rules = RULE_NAMES.flatMap((name) => (isMultiLabel(name) ? [] : [SINGLE_LABEL[name](classCounts)]))
  return inOrder(options.batchInputs === true ? rules : rules.filter((r) => r.draws !== true)).map(withHeads)
}

/** A variant with its rule's heads, when it has several (its batches' logits are `[N, E·C]`). */
function withHeads(variant: RuleVariant): RuleVariant {
  const heads = ruleFacts(variant.spec).heads
  return heads === 1 ? variant : { ...variant, heads }
}

/** Every multi-label rule, with its main options and its defaults, for positives per label `classCounts` among `numSamples`. */
export function multiLabelVariants(classCounts: readonly number[], numSamples: number): RuleVariant[] {
  return inOrder(MULTI_LABEL_RULE_NAMES.map((name) => MULTI_LABEL[name]({ classCounts, numSamples })))
}
