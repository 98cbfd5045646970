import { type Explanation, explainBatch } from './analysis.js'
import { LogitPerturbError, check } from './errors.js'
import type { TensorOps } from './ops.js'
import { analyticGradient, batchLoss } from './rules/crossEntropy.js'
import { createRule } from './rules/createRule.js'
import type { LossContext, PerturbedBatch, RuleState } from './rules/types.js'
import { parseSpec } from './spec.js'
import type { RuleSpec } from './specTypes.js'

/** Options of {@link createLoss}. */
export interface LossOptions {
  /**
   * Let NaN and ±Infinity in the logits flow into the result instead of throwing
   * `LOGITS_NOT_FINITE` (on backends that can check values at all). Default false.
   */
  allowNonFinite?: boolean
  /**
   * Where LPL's search runs: `'auto'` (default) as one host loop on backends that read tensors
   * synchronously (tfjs cpu and wasm) when `δ` is a constant for the gradient, else as tensor ops;
   * `'ops'` or `'host'` force one. `loss.searchPath` tells which runs.
   */
  search?: 'auto' | 'host' | 'ops'
}

/** Everything one evaluation of a rule produces; adapters and exporters build on it. */
export interface LossEvaluation<T> {
  /** The scalar loss. */
  loss: T
  /** The perturbed logits `z` and the rule's weights and logit scale. */
  batch: PerturbedBatch<T>
  /** The labels as a one-hot `[N, C]` matrix. */
  oneHotLabels: T
  /** The class count `C` of this call. */
  numClasses: number
}

/**
 * A loss built from a spec for one backend. Call it as `loss(logits, labels, ctx?)` to get the
 * scalar loss; logits are `[N, C]` floats, labels `[N]` int32 class ids.
 */
export interface Loss<T> {
  (logits: T, labels: T, ctx?: LossContext): T
  /** The validated spec, defaults filled in. */
  readonly spec: RuleSpec
  /** False for rules whose perturbation depends differentiably on the logits (no closed-form gradient). */
  readonly hasAnalyticGradient: boolean
  /** Where the rule's search loop runs on this backend (`'none'` for rules without one). */
  readonly searchPath: 'host' | 'ops' | 'none'
  /** Loss, perturbed logits and weights in one pass. */
  evaluate(logits: T, labels: T, ctx?: LossContext): LossEvaluation<T>
  /** The perturbed logits `z` (`[N, C]`), after scale: the loss is CE of these. */
  perturb(logits: T, labels: T, ctx?: LossContext): T
  /**
   * The closed-form gradient of the loss w.r.t. the logits, `(w_{y_i}/Σw)·a ⊙ (p(z_i) − e_{y_i})`
   * (`[N, C]`). Throws `INVALID_SPEC` for rules with `hasAnalyticGradient` false.
   */
  gradient(logits: T, labels: T, ctx?: LossContext): T
  /** Per-class loss variation, equivalent weights and counts (SPEC.md section 2). */
  explain(logits: T, labels: T, ctx?: LossContext): Explanation<T>
  /** The rule's state (only LPL's `confidence` split has one), or undefined. */
  getState(): RuleState<T> | undefined
  /**
   * Replaces the rule's state, e.g. with one restored by `loadRuleState`; `undefined` resets it.
   * Throws `INVALID_STATE` when the state's class count differs from the rule's.
   */
  setState(state: RuleState<T> | undefined): void
}

/**
 * Builds the loss a spec describes, for one backend:
 *
 *     L = Σ_i w_{y_i} · CE(a ⊙ u_i + δ_{y_i}, y_i) / Σ_i w_{y_i}
 *
 * where the rule gives the perturbation `δ`, the logit scale `a` and the class weights `w`.
 * `spec` may be raw JSON: it is validated with `parseSpec`. Every call checks that the logits are
 * `[N, C]` and the labels `[N]` (and, on backends that can look at values, that labels are class
 * ids and logits finite), and throws a `LogitPerturbError` otherwise. A call that throws leaves the
 * rule's state as it was.
 */
export function createLoss<T>(ops: TensorOps<T>, spec: RuleSpec | unknown, options: LossOptions = {}): Loss<T> {
  const parsed = parseSpec(spec)
  const rule = createRule(parsed, { search: options.search ?? 'auto' })
  let state: RuleState<T> | undefined

  const evaluate = (logits: T, labels: T, ctx: LossContext = {}): LossEvaluation<T> => {
    const numClasses = checkInputs(ops, logits, labels, rule.numClasses, options)
    const { batch, state: next } = rule.perturb(ops, logits, labels, numClasses, ctx, state)
    const oneHotLabels = ops.oneHot(labels, numClasses)
    const loss = batchLoss(ops, batch, oneHotLabels)
    if (next !== undefined) state = next
    return { loss, batch, oneHotLabels, numClasses }
  }

  const loss = ((logits: T, labels: T, ctx?: LossContext) => evaluate(logits, labels, ctx).loss) as Loss<T>
  return Object.assign(loss, {
    spec: parsed,
    hasAnalyticGradient: !rule.gradientThrough,
    searchPath: rule.searchPath?.(ops) ?? 'none',
    evaluate,
    perturb: (logits: T, labels: T, ctx?: LossContext) => evaluate(logits, labels, ctx).batch.logits,
    gradient(logits: T, labels: T, ctx?: LossContext) {
      if (rule.gradientThrough) {
        throw new LogitPerturbError('INVALID_SPEC',
          `rule ${parsed.rule} differentiates through its perturbation: it has no closed-form gradient; use automatic differentiation`,
          'gradient')
      }
      const { batch, oneHotLabels } = evaluate(logits, labels, ctx)
      return analyticGradient(ops, batch, oneHotLabels)
    },
    explain(logits: T, labels: T, ctx?: LossContext) {
      const { batch, numClasses } = evaluate(logits, labels, { ...ctx, training: false })
      return explainBatch(ops, logits, labels, batch, numClasses)
    },
    getState: () => state,
    setState(next: RuleState<T> | undefined) {
      if (next !== undefined && rule.numClasses !== undefined) {
        for (const [field, t] of Object.entries(next)) {
          const shape = ops.shape(t as T)
          check(shape.length === 1 && shape[0] === rule.numClasses, 'INVALID_STATE',
            `must be [${rule.numClasses}], got [${shape.join(', ')}]`, `state.${field}`)
        }
      }
      state = next
    },
  })
}

/** Checks logits and labels before a rule sees them; returns the class count `C`. */
function checkInputs<T>(ops: TensorOps<T>, logits: T, labels: T, numClasses: number | undefined, options: LossOptions): number {
  const shape = ops.shape(logits)
  check(shape.length === 2, 'LOGITS_SHAPE', `logits must be [N, C], got shape [${shape.join(', ')}]`, 'logits')
  const [n, c] = shape as [number, number]
  check(c > 0, 'LOGITS_SHAPE', 'logits have no class dimension (C = 0)', 'logits')
  check(numClasses === undefined || c === numClasses, 'LOGITS_SHAPE',
    `logits have ${c} classes but the rule has ${numClasses}`, 'logits')
  const labelShape = ops.shape(labels)
  check(labelShape.length === 1, 'LABELS_SHAPE', `labels must be [N], got shape [${labelShape.join(', ')}]`, 'labels')
  check(n < 0 || labelShape[0]! < 0 || labelShape[0] === n, 'LABELS_SHAPE',
    `${labelShape[0]} labels for ${n} rows of logits`, 'labels')
  check(n !== 0, 'LOGITS_SHAPE', 'the batch is empty (N = 0): a mean over no samples is undefined', 'logits')
  ops.checks?.labels(labels, c)
  if (!options.allowNonFinite) ops.checks?.finite(logits, 'logits')
  return c
}
