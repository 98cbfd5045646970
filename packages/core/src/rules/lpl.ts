import type { TensorOps } from '../ops.js'
import { addClassRows } from './crossEntropy.js'
import { type LplClassBounds, lplSteps } from './lplBounds.js'
import { lplSearch } from './lplSearch.js'
import { lplSearchHost } from './lplSearchHost.js'
import { check } from '../errors.js'
import type { LplMultiLabelSpec } from '../specTypes.js'
import type { LossContext, Rule, RuleState } from './types.js'

/** How an LPL rule chooses `P`, `N` and the bounds; built from the spec by `createRule`. */
export type LplSplitPlan =
  | { kind: 'static'; classBounds: LplClassBounds }
  | { kind: 'confidence'; momentum: number; threshold: 'mean' | number }

/** Where a rule's search loop runs: one host loop, or tensor ops. */
export type SearchPath = 'host' | 'ops'

/**
 * The search settings LPL shares between its single- and multi-label forms: the spec's fields of
 * the same names (their meanings and defaults are documented there).
 */
export type LplSearchSettings = Pick<LplMultiLabelSpec, 'alpha' | 'epsilon' | 'deltaEpsilon' | 'maxSteps' | 'normalize' | 'gradient'>

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
 * With `gradient: 'through'` the `sg` is dropped and autodiff goes through the search.
 * Shapes: logits `[N, C]`, labels `[N]`; cost `O(K·(N·C + C²))`, memory `O(N·C + C²)`.
 */
export function lplRule(base: Rule, options: LplOptions): Rule {
  const { split, alpha, epsilon, deltaEpsilon, maxSteps } = options
  // The loop is unrolled to a static count: the largest K_c that the split can produce.
  const unrolledSteps = split.kind === 'static'
    ? Math.max(0, ...split.classBounds.bounds.map((b) => lplSteps(b, alpha, maxSteps)))
    : lplSteps(epsilon + deltaEpsilon, alpha, maxSteps)
  /**
   * Where the search runs: as one host loop (`lplSearchHost`) when the backend reads tensors
   * synchronously and `δ` is a constant for the gradient, else as tensor ops. `options.search`
   * forces either.
   */
  const searchPath = <T>(ops: TensorOps<T>): SearchPath => {
    const hostPossible = options.gradient === 'stop' && ops.readSync !== undefined
    if (options.search === 'host') {
      check(hostPossible, 'INVALID_PARAMETER',
        `the host search needs gradient: 'stop' and a backend that reads tensors synchronously (${ops.name} ${ops.readSync ? 'does' : 'does not'})`, 'search')
    }
    return options.search === 'ops' || !hostPossible ? 'ops' : 'host'
  }
  return {
    numClasses: base.numClasses ?? (split.kind === 'static' ? split.classBounds.bounds.length : undefined),
    gradientThrough: options.gradient === 'through' || base.gradientThrough,
    searchPath,
    ...(split.kind === 'confidence' ? { stateKeys: ['confidence', 'seen'] } : {}),
    perturb<T>(ops: TensorOps<T>, logits: T, labels: T, c: number, ctx: LossContext, state: RuleState<T> | undefined) {
      const { batch } = base.perturb(ops, logits, labels, c, ctx, undefined)
      const oneHotLabels = ops.oneHot(labels, c)
      const start = options.gradient === 'stop' ? ops.stopGradient(batch.logits) : batch.logits
      const plan = split.kind === 'static'
        ? {
            directions: ops.constant(split.classBounds.directions, [c, 1]),
            bounds: ops.constant(split.classBounds.bounds, [c, 1]),
            state: undefined,
          }
        : confidenceSplit(ops, ops.stopGradient(start), oneHotLabels, labels, c, options, split, state)
      const search = { alpha, maxSteps, unrolledSteps, normalize: options.normalize }
      const perturbed = searchPath(ops) === 'host'
        ? addHostSearch(ops, batch.logits, start, labels, c, plan, search)
        : addClassRows(ops, batch.logits, labels, lplSearch(ops, {
            logits: start, labels, oneHotLabels, numClasses: c,
            directions: plan.directions, bounds: plan.bounds, ...search,
          }))
      return {
        batch: { ...batch, logits: perturbed },
        ...(plan.state !== undefined && ctx.training !== false ? { state: plan.state } : {}),
      }
    },
  }
}

/**
 * `z + δ_y` with `δ` from {@link lplSearchHost}: the starting logits, labels, directions and bounds
 * are read once, and the rows `δ_{y_i}` are gathered on the host, so the backend receives one
 * `[N, C]` constant instead of a `[C, C]` one and a gather.
 */
function addHostSearch<T>(
  ops: TensorOps<T>,
  logits: T,
  start: T,
  labels: T,
  c: number,
  plan: { directions: T; bounds: T },
  search: { alpha: number; maxSteps: number; unrolledSteps: number; normalize: boolean },
): T {
  const read = ops.readSync!
  const hostLabels = read(labels)
  const delta = lplSearchHost({
    logits: read(start), labels: hostLabels, numClasses: c, directions: read(plan.directions), bounds: read(plan.bounds), ...search,
  })
  const rows = new Float64Array(hostLabels.length * c)
  for (let i = 0; i < hostLabels.length; i++) rows.set(delta.subarray(hostLabels[i]! * c, (hostLabels[i]! + 1) * c), i * c)
  return ops.add(logits, ops.constant(rows, [hostLabels.length, c]))
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
  oneHotLabels: T,
  labels: T,
  c: number,
  options: LplOptions,
  split: Extract<LplSplitPlan, { kind: 'confidence' }>,
  state: RuleState<T> | undefined,
): { directions: T; bounds: T; state: RuleState<T> } {
  const trueClassProb = ops.sum(ops.mul(ops.softmax(logits), oneHotLabels), [1])
  const counts = ops.sum(oneHotLabels, [0])
  const present = ops.greater(counts, ops.constant([0], []))
  const batchMean = ops.div(ops.segmentSum(trueClassProb, labels, c), ops.maximum(counts, ops.constant([1], [])))
  let confidence = ops.mul(batchMean, present)
  let seen = present
  if (state !== undefined && split.momentum > 0) {
    const m = ops.constant([split.momentum], [])
    const blended = ops.add(ops.mul(m, state.confidence), ops.mul(ops.constant([1 - split.momentum], []), batchMean))
    confidence = ops.where(present, ops.where(state.seen, blended, batchMean), state.confidence)
    seen = ops.maximum(state.seen, present)
  }
  const threshold = split.threshold === 'mean'
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
