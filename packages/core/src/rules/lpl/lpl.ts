import { type SearchPath, searchEngine, searchesOnHost } from '../searchEngine.js'
import type { TensorOps } from '../../ops.js'
import { prefixedConstants } from '../../constants.js'
import { type CountedRows, classCounts, classSums } from '../classSums.js'
import { classSlots, rowsOfSlots, slotSums } from '../classSlots.js'
import { type LplClassBounds, lplSteps } from './lplBounds.js'
import { type LplSearchInputs, lplSearch, lplSearchVjp } from './lplSearch.js'
import { lplSearchHost, lplSearchHostWithVjp } from './lplSearchHost.js'
import { withGradient } from '../../control.js'
import { hostSearchRows } from '../hostRows.js'
import { check } from '../../errors.js'
import type { SpecReader } from '../../specReader.js'
import type { LplBaseInput, LplBaseSpec } from './lplBase.js'
import { MAX_PARAMETER, MAX_STEPS, NON_NEGATIVE, POSITIVE, type SpecBase, type SpecInput, defineRule } from '../definition.js'
import { priorSplitBounds } from './lplBounds.js'
import { lplLearnedRule } from './lplLearned.js'
import { FINITE_FIELD, FLAG_FIELD, PROBABILITY_FIELD, declareState } from '../stateFields.js'
import type { PerturbCall, Rule, RuleState } from '../types.js'

/** How an LPL rule chooses `P`, `N` and the bounds; built from the spec by `createRule`. */
export type LplSplitPlan =
  | { kind: 'static'; classBounds: LplClassBounds }
  | { kind: 'confidence'; momentum: number; threshold: 'mean' | number }

/** Where a rule's search loop runs: one host loop, or tensor ops. */
export type { SearchPath } from '../searchEngine.js'

/** The search fields of LPL's specs, single- and multi-label. */
export interface LplStepFields {
  /** Step size `α > 0`; default 0.15. */
  alpha: number
  /** Cap `K` on every class's step count; default 20. */
  maxSteps: number
  /** Steps of length `α` along the normalized gradient (the released code; default true), or `α·g`. */
  normalize: boolean
  /** `'stop'`: `δ` is a constant for the outer gradient (default); `'through'`: differentiate through the steps. */
  gradient: 'stop' | 'through'
}

/** The bound fields of LPL's `prior` and `confidence` splits and of multi-label LPL. */
export interface LplBoundFields {
  /** Base bound `ε ≥ 0`; default 0.3. */
  epsilon: number
  /** Bound growth `Δε ≥ 0`; default 1.2. */
  deltaEpsilon: number
}

/**
 * The search settings LPL shares between its single- and multi-label forms: the spec's fields of
 * the same names.
 */
export type LplSearchSettings = LplStepFields & LplBoundFields

/** Hyper-parameters of {@link lplRule}. */
export interface LplOptions extends LplSearchSettings {
  /** `'auto'` (default): the host loop where the backend allows it; `'ops'` or `'host'` force one. */
  search?: 'auto' | SearchPath
  split: LplSplitPlan
}

/**
 * LPL, class-level logit perturbation (Li, Su, Wu, Zhang, *Class-Level Logit Perturbation*, IEEE
 * TNNLS 2023): `L = Σ_i w_{y_i} CE(z_i + sg(δ_{y_i}), y_i) / Σ_i w_{y_i}`, where `z` are the base
 * rule's perturbed logits (plain logits for CE; `u + τ log π` for LA+LPL) and `δ` comes from
 * {@link lplSearch}: ascent for the classes in `P` (positive augmentation), descent for `N`.
 * With `gradient: 'through'` the `sg` is dropped and the gradient goes through the search, as the
 * hand-written reverse pass of docs/spec.md#44-gradient on backends with custom gradients (on the
 * host or in ops), as autodiff through the ops elsewhere.
 * Shapes: logits `[N, C]`, labels `[N]`; cost `O(K·(N·C + C²))`, memory `O(N·C + C²)`.
 */
export function lplRule(base: Rule, options: LplOptions): Rule {
  const { split, alpha, epsilon, deltaEpsilon, maxSteps } = options
  // The loop is unrolled to a static count: the largest K_c that the split can produce.
  const unrolledSteps =
    split.kind === 'static'
      ? Math.max(0, ...split.classBounds.bounds.map((b) => lplSteps(b, alpha, maxSteps)))
      : lplSteps(epsilon + deltaEpsilon, alpha, maxSteps)
  /**
   * Where the search runs: as one host loop (`lplSearchHost`) when the backend reads tensors
   * synchronously and, for `gradient: 'through'`, takes a custom gradient (the host reverse pass);
   * else as tensor ops. `options.search` forces either.
   */
  const searchPath = <T>(ops: TensorOps<T>): SearchPath => searchEngine(ops, options.search ?? 'auto', options.gradient === 'through')
  return {
    numClasses: base.numClasses ?? (split.kind === 'static' ? split.classBounds.bounds.length : undefined),
    gradientThrough: options.gradient === 'through' || base.gradientThrough,
    searchPath,
    // No class seen yet: the first call's split is the batch's alone, as with no state.
    ...(split.kind === 'confidence'
      ? {
          state: declareState({
            fields: { confidence: PROBABILITY_FIELD, seen: FLAG_FIELD },
            movedBy: 'training',
            withoutState: 'the split of each batch alone, as the first call of a fresh loss (the momentum-0 semantics)',
          }),
        }
      : {}),
    perturb<T>(ops: TensorOps<T>, call: PerturbCall<T>) {
      const { labels, labelMatrix, numClasses: c, ctx, state, constants } = call
      // The base rule keeps no state of its own: it sees the call without LPL's.
      const { batch } = base.perturb(ops, { ...call, state: undefined, constants: prefixedConstants(constants, 'base') })
      const start = options.gradient === 'stop' ? ops.stopGradient(batch.logits) : batch.logits
      const plan =
        split.kind === 'static'
          ? {
              directions: constants.get('directions', [c, 1], () => split.classBounds.directions),
              bounds: constants.get('bounds', [c, 1], () => split.classBounds.bounds),
              state: undefined,
            }
          : confidenceSplit(
              ops,
              ops.stopGradient(start),
              labelMatrix,
              { labels, numClasses: c, rowMask: call.rowMask, batchSum: ctx.batchSum },
              options,
              split,
              state,
            )
      const search = { alpha, maxSteps, unrolledSteps, normalize: options.normalize }
      const rows: CountedRows<T> = { labels, numClasses: c, rowMask: call.rowMask, batchSum: ctx.batchSum }
      const through = options.gradient === 'through'
      // Statistics summed across workers at every step: the host loop, which runs each class's steps
      // on its own, cannot take part, so the search runs as ops.
      const perturbed = ops.add(
        batch.logits,
        searchesOnHost(searchPath(ops), ctx.batchSum)
          ? hostSearch(ops, start, rows, plan, search, through)
          : opSearchRows(ops, start, { ...rows, labelMatrix }, plan, search, through),
      )
      return {
        batch: { ...batch, logits: perturbed },
        ...(plan.state !== undefined && ctx.training !== false ? { state: plan.state } : {}),
      }
    },
  }
}

/** The search settings every path takes. */
interface StepSettings {
  alpha: number
  maxSteps: number
  unrolledSteps: number
  normalize: boolean
}

/**
 * `δ_{y_i}` (`[N, C]`) from {@link lplSearch}, inside a custom gradient: for `gradient: 'stop'` the
 * search is then never recorded for autodiff, and for `'through'` its gradient is the hand-written
 * reverse pass {@link lplSearchVjp} (where the backend has no custom gradients, autodiff goes
 * through the ops). The tensors the reverse pass needs are saved with the input.
 */
function opSearchRows<T>(
  ops: TensorOps<T>,
  start: T,
  batch: CountedRows<T> & { labelMatrix: T },
  plan: { directions: T; bounds: T },
  search: StepSettings,
  through: boolean,
): T {
  const c = batch.numClasses
  // The slots are made again from the saved labels in the reverse pass: the same numbering, and
  // nothing more to save.
  const inputsOf = (logits: T, [labels, labelMatrix, directions, bounds, rowMask]: readonly (T | undefined)[]): LplSearchInputs<T> => ({
    logits,
    labels: labels!,
    labelMatrix: labelMatrix!,
    numClasses: c,
    ...(rowMask === undefined ? {} : { rowMask }),
    ...(batch.batchSum === undefined ? {} : { batchSum: batch.batchSum }),
    slots: classSlots(ops, classCounts(ops, labelMatrix!, { ...batch, rowMask }), labels!, c, batch.batchSum !== undefined),
    directions: directions!,
    bounds: bounds!,
    ...search,
  })
  const given = [batch.labels, batch.labelMatrix, plan.directions, plan.bounds, ...(batch.rowMask === undefined ? [] : [batch.rowMask])]
  return withGradient(ops, start, (x, save) => {
    if (through) save([x, ...given])
    const inputs = inputsOf(x, given)
    return {
      value: rowsOfSlots(ops, lplSearch(ops, inputs), inputs.slots),
      gradient: (dy, saved) => {
        if (!through) return ops.mul(dy, ops.constant([0], []))
        const again = inputsOf(saved[0]!, saved.slice(1))
        // ∂L/∂δ by slot: rows of absent classes took no δ (`rowsOfSlots`), so they send nothing back.
        const upstream = slotSums(ops, ops.mul(dy, again.slots.rowPresent), { rowMask: undefined, batchSum: batch.batchSum }, again.slots)
        return lplSearchVjp(ops, again, upstream)
      },
    }
  })
}

/**
 * `δ_{y_i}` (`[N, C]`) from {@link lplSearchHost}: the starting logits, labels, directions and bounds
 * are read once and the rows gathered on the host, so the backend receives one `[N, C]` constant.
 * With `through`, its gradient is the host reverse pass (`lplSearchHostWithVjp`).
 */
function hostSearch<T>(
  ops: TensorOps<T>,
  start: T,
  rows: CountedRows<T>,
  plan: { directions: T; bounds: T },
  search: StepSettings,
  through: boolean,
): T {
  const read = ops.readSync!
  const labels = read(rows.labels)
  const inputs = {
    labels,
    numClasses: rows.numClasses,
    directions: read(plan.directions),
    bounds: read(plan.bounds),
    ...search,
    ...(rows.rowMask === undefined ? {} : { rowMask: read(rows.rowMask) }),
  }
  return hostSearchRows(ops, start, labels, rows.numClasses, (logits) =>
    through ? lplSearchHostWithVjp({ ...inputs, logits }) : { delta: lplSearchHost({ ...inputs, logits }) },
  )
}

/**
 * LPL's `confidence` split (for balanced data). `q̄_c` is the mean softmax probability of the true
 * class over the class's samples, blended into a running average with momentum `m` for classes seen
 * before; threshold `τ` is the mean of `q̄` over the classes seen so far (or fixed);
 * `P = {c : q̄_c < τ}`, and `ε_c = ε + Δε·|τ − q̄_c|`.
 */
function confidenceSplit<T>(
  ops: TensorOps<T>,
  logits: T,
  labelMatrix: T,
  rows: CountedRows<T>,
  options: LplOptions,
  split: Extract<LplSplitPlan, { kind: 'confidence' }>,
  state: RuleState<T> | undefined,
): { directions: T; bounds: T; state: RuleState<T> } {
  const c = rows.numClasses
  const trueClassProb = ops.sum(ops.mul(ops.softmax(logits), labelMatrix), [1])
  const counts = classCounts(ops, labelMatrix, rows)
  const present = ops.greater(counts, ops.constant([0], []))
  const batchMean = ops.div(classSums(ops, trueClassProb, rows), ops.maximum(counts, ops.constant([1], [])))
  let confidence = ops.mul(batchMean, present)
  let seen = present
  if (state !== undefined && split.momentum > 0) {
    // The loss admits only a state with this rule's fields (`Loss.setState`).
    const previous = state as { confidence: T; seen: T }
    const m = ops.constant([split.momentum], [])
    const blended = ops.add(ops.mul(m, previous.confidence), ops.mul(ops.constant([1 - split.momentum], []), batchMean))
    confidence = ops.where(present, ops.where(previous.seen, blended, batchMean), previous.confidence)
    seen = ops.maximum(previous.seen, present)
  }
  const threshold =
    split.threshold === 'mean'
      ? ops.div(ops.sum(ops.mul(confidence, seen), [0]), ops.maximum(ops.sum(seen, [0]), ops.constant([1], [])))
      : ops.constant([split.threshold], [])
  const one = ops.constant([1], [])
  const directions = ops.where(ops.greater(threshold, confidence), one, ops.neg(one))
  const bounds = ops.add(
    ops.constant([options.epsilon], []),
    ops.mul(ops.constant([options.deltaEpsilon], []), ops.abs(ops.sub(threshold, confidence))),
  )
  return {
    directions: ops.reshape(directions, [c, 1]),
    bounds: ops.reshape(bounds, [c, 1]),
    state: { confidence, seen },
  }
}

/** The fields of every LPL spec. */
interface LplSpecCommon extends SpecBase {
  /** The rule's name, `'lpl'`. */
  rule: 'lpl'
  /** `'stop'`: `δ` is a constant for the outer gradient (default); `'through'`: differentiate through the steps. */
  gradient: 'stop' | 'through'
  /** A rule applied first; LPL then searches on its perturbed logits (e.g. LA+LPL). */
  base?: LplBaseSpec
}

/**
 * LPL with the `prior` split (long-tailed data): the `headClasses` most frequent classes form `N`
 * (loss lowered, negative augmentation), the rest `P` (loss raised, positive augmentation).
 */
export interface LplPriorSpec extends LplSpecCommon, LplStepFields, LplBoundFields {
  /** How classes are split into `P` and `N`: by training frequency. */
  split: 'prior'
  /** Training-set class counts. */
  classCounts: number[]
  /** Size of the head `N`; default: the classes whose count is above the median count. */
  headClasses?: number
}

/**
 * LPL with the `confidence` split (balanced data): classes whose running mean true-class
 * confidence is below the threshold form `P`.
 */
export interface LplConfidenceSpec extends LplSpecCommon, LplStepFields, LplBoundFields {
  /** How classes are split into `P` and `N`: by the running mean true-class confidence. */
  split: 'confidence'
  /** Running-average momentum in `[0, 1)`; 0 uses the batch alone. Default 0.9. */
  momentum: number
  /** `'mean'` (mean class confidence, default) or a fixed number in `[0, 1]`. */
  threshold: 'mean' | number
}

/** LPL with the `fixed` split: `directions` (`+1` for P, `−1` for N) and `bounds` given per class. */
export interface LplFixedSpec extends LplSpecCommon, LplStepFields {
  /** How classes are split into `P` and `N`: as given. */
  split: 'fixed'
  /** `+1` (P) or `−1` (N) per class. */
  directions: number[]
  /** The bound `ε_c ≥ 0` per class. */
  bounds: number[]
}

/**
 * LPL with the `learned` split: `δ_c = θ_c·d_c` with the signed bounds `θ` learned from a meta batch
 * and held as the loss's state (docs/spec.md#6-learned-bounds); no search of its own.
 */
export interface LplLearnedSpec extends LplSpecCommon {
  /** How classes are split into `P` and `N`: by the sign of the learned `θ`. */
  split: 'learned'
  /** The class count (from the spec or its base). */
  numClasses: number
  /** `θ` is clipped to `[−maxBound, maxBound]`; default 1.5. */
  maxBound: number
}

/** LPL (Li et al., TNNLS 2023): a class-level perturbation learned by a bounded gradient search, one spec per split. */
export type LplSpec = LplPriorSpec | LplConfidenceSpec | LplFixedSpec | LplLearnedSpec

/** An LPL spec of split `S` as written: the `Defaulted` fields optional, the base as written. */
type LplInputOf<S extends LplSpecCommon, Defaulted extends Exclude<keyof S, 'base'>> = SpecInput<Omit<S, 'base'>, Defaulted> & {
  /** A rule applied first; LPL then searches on its perturbed logits (e.g. LA+LPL). */
  base?: LplBaseInput
}
type StepDefaults = 'alpha' | 'maxSteps' | 'normalize' | 'gradient'

/** An LPL spec as written, one shape per split, with the defaulted fields optional. */
export type LplInput =
  | LplInputOf<LplPriorSpec, StepDefaults | 'epsilon' | 'deltaEpsilon'>
  | LplInputOf<LplConfidenceSpec, StepDefaults | 'epsilon' | 'deltaEpsilon' | 'momentum' | 'threshold'>
  | LplInputOf<LplFixedSpec, StepDefaults>
  | LplInputOf<LplLearnedSpec, 'gradient' | 'maxBound' | 'numClasses'>

const DEFAULTS = {
  alpha: 0.15,
  epsilon: 0.3,
  deltaEpsilon: 1.2,
  maxSteps: 20,
  normalize: true,
  gradient: 'stop',
  momentum: 0.9,
  threshold: 'mean',
  maxBound: 1.5,
} as const

/**
 * LPL's search fields, read with their defaults in the order they are checked: `alpha`, the bounds
 * `epsilon` and `deltaEpsilon` (`withBounds`; the `fixed` split has its own per class), `maxSteps`,
 * `normalize`, `gradient`. Shared with multi-label LPL.
 */
export function parseLplSearch<B extends boolean>(
  r: SpecReader,
  withBounds: B,
): LplStepFields & (B extends true ? LplBoundFields : unknown) {
  const alpha = r.number('alpha', POSITIVE, DEFAULTS.alpha)
  const bounds = withBounds
    ? {
        epsilon: r.number('epsilon', NON_NEGATIVE, DEFAULTS.epsilon),
        deltaEpsilon: r.number('deltaEpsilon', NON_NEGATIVE, DEFAULTS.deltaEpsilon),
      }
    : {}
  return {
    alpha,
    ...bounds,
    maxSteps: r.number('maxSteps', { min: 0, max: MAX_STEPS, integer: true }, DEFAULTS.maxSteps),
    normalize: r.boolean('normalize', DEFAULTS.normalize),
    gradient: r.oneOf('gradient', ['stop', 'through'] as const, DEFAULTS.gradient),
  } as LplStepFields & (B extends true ? LplBoundFields : unknown)
}

/** LPL's defaults, shared with multi-label LPL. */
export const LPL_DEFAULTS = DEFAULTS

/** LPL in the registry: every split, on top of a base rule. */
export const lplDefinition = defineRule<LplSpec>({
  name: 'lpl',
  task: 'single',
  docsPage: 'rules/lpl.md',
  notABase: 'LPL cannot be the base of LPL',
  stateFields: { confidence: PROBABILITY_FIELD, seen: FLAG_FIELD, theta: FINITE_FIELD },
  defaults: DEFAULTS,
  parse(r, { header, numClasses: declared, parseBase, numClassesOf }) {
    const split = r.oneOf('split', ['prior', 'confidence', 'fixed', 'learned'] as const)
    const baseReader = r.child('base')
    const base = baseReader === undefined ? undefined : (parseBase(baseReader) as LplBaseSpec)
    const withBase = base === undefined ? {} : { base }
    if (split === 'learned') {
      // δ_c = θ_c·d_c with θ learned: no steps, step size or bounds of its own to set.
      const fromBase = base === undefined ? undefined : numClassesOf(base)
      const numClasses = declared ?? fromBase
      check(
        numClasses !== undefined,
        'INVALID_SPEC',
        'the learned split needs numClasses (or a base rule with class counts)',
        r.fieldPath('numClasses'),
      )
      check(
        fromBase === undefined || fromBase === numClasses,
        'CLASS_COUNTS_LENGTH',
        `the base rule has ${fromBase} classes but numClasses is ${numClasses}`,
        r.fieldPath('base'),
      )
      return {
        rule: 'lpl',
        ...header,
        numClasses,
        split,
        maxBound: r.number('maxBound', POSITIVE, DEFAULTS.maxBound),
        gradient: r.oneOf('gradient', ['stop', 'through'] as const, DEFAULTS.gradient),
        ...withBase,
      }
    }
    const checkBase = (classes: number | undefined) => {
      const baseClasses = base === undefined ? undefined : numClassesOf(base)
      check(
        baseClasses === undefined || classes === undefined || baseClasses === classes,
        'CLASS_COUNTS_LENGTH',
        `the base rule has ${baseClasses} classes but the LPL split has ${classes}`,
        r.fieldPath('base'),
      )
    }
    if (split === 'fixed') {
      // The fixed split gives its bounds per class: ε and Δε would be ignored, so they are refused.
      const search = parseLplSearch(r, false)
      const directions = r.numberArray('directions', { min: -MAX_PARAMETER, max: MAX_PARAMETER }, declared)
      directions.forEach((d, c) => {
        check(d === 1 || d === -1, 'INVALID_PARAMETER', `must be +1 or -1, got ${d}`, `${r.fieldPath('directions')}[${c}]`)
      })
      const bounds = r.numberArray('bounds', NON_NEGATIVE, directions.length)
      checkBase(directions.length)
      return { rule: 'lpl', ...header, split, ...search, directions, bounds, ...withBase }
    }
    const common = { rule: 'lpl' as const, ...header, split, ...parseLplSearch(r, true) }
    if (split === 'prior') {
      const classCounts = r.classCounts('classCounts', declared)
      const headClasses = r.optionalNumber('headClasses', { min: 0, max: classCounts.length, integer: true })
      checkBase(classCounts.length)
      return { ...common, split, classCounts, ...(headClasses === undefined ? {} : { headClasses }), ...withBase }
    }
    const momentum = r.number('momentum', { min: 0, below: 1 }, DEFAULTS.momentum)
    const given = r.raw('threshold')
    const threshold = given === undefined ? DEFAULTS.threshold : given
    check(
      threshold === 'mean' || (typeof threshold === 'number' && threshold >= 0 && threshold <= 1),
      'INVALID_PARAMETER',
      `must be "mean" or a number in [0, 1], got ${String(threshold)}`,
      r.fieldPath('threshold'),
    )
    checkBase(declared)
    return { ...common, split, momentum, threshold, ...withBase }
  },
  // Zero steps is the base for every split with steps; the directions are known before the batch
  // for the prior and fixed splits, and on CE only (a base moves Δ_c too).
  equivalences: (spec) => [
    ...(spec.split === 'learned' ? [] : ['lplZeroSteps']),
    ...((spec.split === 'prior' || spec.split === 'fixed') && spec.base === undefined ? ['lplSigns'] : []),
  ],
  create(spec, { options, createBase }) {
    const base = createBase(spec.base ?? { rule: 'ce', numClasses: spec.numClasses })
    // What the base fixes, LPL fixes too, and its batches are scored with the base's loss term.
    const fromBase: Pick<Rule, 'numClassesFrom' | 'classCounts' | 'term'> = {
      ...(base.term === undefined ? {} : { term: base.term }),
      ...(spec.base !== undefined && base.numClassesFrom !== undefined ? { numClassesFrom: `base.${base.numClassesFrom}` } : {}),
      ...(spec.split === 'fixed' ? { numClassesFrom: 'directions' } : {}),
      ...(base.classCounts === undefined ? {} : { classCounts: base.classCounts }),
    }
    if (spec.split === 'learned') return { ...lplLearnedRule(base, spec.numClasses, spec.maxBound, spec.gradient), ...fromBase }
    const split: LplSplitPlan =
      spec.split === 'prior'
        ? { kind: 'static', classBounds: priorSplitBounds(spec.classCounts, spec.epsilon, spec.deltaEpsilon, spec.headClasses) }
        : spec.split === 'fixed'
          ? { kind: 'static', classBounds: { directions: spec.directions, bounds: spec.bounds } }
          : { kind: 'confidence', momentum: spec.momentum, threshold: spec.threshold }
    // The fixed split has no ε or Δε; they only size the unrolled loop of the confidence split.
    const bounds = spec.split === 'fixed' ? { epsilon: 0, deltaEpsilon: 0 } : { epsilon: spec.epsilon, deltaEpsilon: spec.deltaEpsilon }
    const rule = lplRule(base, {
      alpha: spec.alpha,
      maxSteps: spec.maxSteps,
      normalize: spec.normalize,
      gradient: spec.gradient,
      ...bounds,
      split,
      search: options.search ?? 'auto',
    })
    return { ...rule, ...fromBase }
  },
})
