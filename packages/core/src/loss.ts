import { type Explanation, explainBatch, explainMultiLabelBatch } from './analysis.js'
import { LogitPerturbError, check } from './errors.js'
import type { TensorOps, ValueChecks } from './ops.js'
import { type CheckLevel, type Checks, checkLevel, parseChecks } from './checkLevel.js'
import { type Reduction, batchTermShares, closedFormBatchGradient, reducedLoss, rowShares } from './reduction.js'
import { type LogitTargets, checkOneOf, describeValue } from './validate.js'
import { type BatchRows, type ClassAxis, batchRows } from './batchLayout.js'
import { countedRowMask, softTargetParts, withoutIgnored } from './targets.js'
import { createRule } from './rules/createRule.js'
import { weightingWeights } from './rules/classWeighting.js'
import { constantPool } from './constants.js'
import { EMPTY_BATCH } from './numerics.js'
import { meanOfHeads } from './heads.js'
import { type LossTerm, plainTerm } from './rules/lossTerms.js'
import type { BatchInputField, BatchTerm, LabelTask, LossContext, PerturbedBatch, Rule, RuleFacts, RuleState } from './rules/types.js'
import { parseSpec } from './spec.js'
import type { RuleInput, RuleSpec } from './specTypes.js'

/** Options of {@link createLoss}. */
export interface LossOptions {
  /**
   * What each call checks before the rule sees the batch (docs/reliability.md):
   * - `'auto'` (default): `'values'` on backends that read tensors synchronously (the reference,
   *   tfjs cpu and wasm), `'shapes'` elsewhere (WebGL, WebGPU, a symbolic graph), so that no check
   *   stalls a GPU;
   * - `'values'`: shapes, and the values of labels (class ids, or 0/1), sample weights (finite,
   *   `≥ 0`), mask (0/1) and logits (finite, or `−∞` at a class masked out of its row but not at
   *   its target, docs/spec.md#12-masked-classes), on any backend that offers value checks (on a
   *   GPU backend, a synchronous read per call);
   * - `'labels'`: as `'values'`, but NaN and ±Infinity in the logits flow into the result;
   * - `'shapes'`: shapes only, no read of any value.
   */
  checks?: Checks
  /** How the per-sample losses are reduced: `'mean'` (default), `'sum'` or `'none'` (`[N]`); see {@link Reduction}. */
  reduction?: Reduction
  /**
   * Where the search of LPL or `official-longtail` runs: `'auto'` (default) as one host loop on
   * backends that read tensors synchronously (tfjs cpu and wasm) — for a gradient through the search
   * only where the backend also takes custom gradients, for its host reverse pass — else as tensor
   * ops; `'ops'` or `'host'` force one. `loss.searchPath` tells which runs.
   */
  search?: 'auto' | 'host' | 'ops'
  /**
   * A class id that marks a position or sample as unlabelled (docs/spec.md#10-dense-inputs): 255 in
   * mmsegmentation, −100 in PyTorch's `F.cross_entropy`. Such a position adds nothing to the loss,
   * to any batch statistic, to the rule's state or to the mean's normaliser, and its gradient is 0.
   * Single-label rules with class ids only. Absent (default): every id must be a class.
   */
  ignoreIndex?: number
  /**
   * Where dense logits keep their classes: `1` (default), `[N, C, d1, …, dk]` as PyTorch and ONNX
   * lay them out, or `-1`, `[N, d1, …, dk, C]` as tfjs-layers' channels-last outputs. `[N, C]`
   * logits are the same either way.
   */
  classAxis?: ClassAxis
}

/** One part of an evaluation (see {@link LossEvaluation.parts}). */
export interface EvaluatedPart<T> {
  /** The perturbed batch of the part. */
  readonly batch: PerturbedBatch<T>
  /** The targets its loss term scores, `[M, C]`. */
  readonly labelMatrix: T
  /** Each row's share in the loss, `[M, 1]`. */
  readonly rowShares: T
  /**
   * The rule's term of the whole batch (`Perturbation.batchTerm`), when it has one, with each row's
   * share of its value (`[M, 1]`) and the factor of its gradient (a scalar), as `batchTermShares`
   * gives them for the call's reduction.
   */
  readonly batchTerm?: ReducedBatchTerm<T>
}

/** A rule's batch term as a reduction takes it (see {@link EvaluatedPart.batchTerm}, docs/spec.md#86-batch-terms). */
export interface ReducedBatchTerm<T> extends BatchTerm<T> {
  /** Each row's share of the term's value, `[M, 1]`: `s_i·m_i/M` for the mean, `s_i·m_i` for the sum and `'none'`. */
  readonly share: T
  /** The factor of the term's gradient, a scalar: the shares' sum over every worker (1 for the unweighted mean, 0 when no row counts). */
  readonly scale: T
}

/** Everything one evaluation of a rule produces; adapters and exporters build on it. */
export interface LossEvaluation<T> {
  /**
   * The loss, reduced as the loss's `reduction` says: a scalar, or for `'none'` one loss per row
   * (`[N]`; dense calls: `[N, d1, …, dk]`, the labels' layout).
   */
  loss: T
  /**
   * The call's rows: dense logits are evaluated as `[M, C]`, one row per position, and `batch`,
   * `labelMatrix` and `rowShares` below are rows; `entriesBack` puts an `[M, C]` result in the
   * layout of the call's logits.
   */
  rows: BatchRows<T>
  /** `'ids'`: the labels were class ids; `'probabilities'`: soft targets. */
  targets: 'ids' | 'probabilities'
  /**
   * Every part of the call (one, but for the top-two split of soft targets, which has two): its
   * perturbed batch, the targets its loss term scores and its rows' shares. `batch`, `labelMatrix`
   * and `rowShares` are those of the first part.
   */
  parts: readonly EvaluatedPart<T>[]
  /** The perturbed logits `z` and the rule's weights and logit scale. */
  batch: PerturbedBatch<T>
  /** The labels as a one-hot `[N, C]` matrix (single-label; zero rows where masked out), or the 0/1 label matrix itself (multi-label). */
  labelMatrix: T
  /**
   * The share of each row in `loss`, `[N, 1]`: the mask, the sample weights, the rule's class
   * weights and the reduction's normalization in one factor (see `rowShares`).
   */
  rowShares: T
  /** The spec's label smoothing `ε` (0: none). */
  labelSmoothing: number
  /** The class count `C` of this call. */
  numClasses: number
  /** Whether the rule is single- or multi-label: how `loss` and its gradient reduce the batch. */
  task: LabelTask
  /** The loss term the batch is scored with (the rule's `term`: cross-entropy unless it modulates it). */
  term: LossTerm
  /**
   * The state the rule moved to on this call (a training call of a stateful rule), not yet the
   * loss's: `loss.commit(evaluation)` makes it so. Absent when the state does not change.
   */
  nextState?: RuleState<T>
}

/**
 * A loss built from a spec for one backend. Call it as `loss(logits, labels, ctx?)` to get the
 * loss (a scalar; `[N]` per-sample losses with `reduction: 'none'`); logits are `[N, C]` floats,
 * labels `[N]` int32 class ids (single-label rules), soft targets `[N, C]` (rules with
 * `rule.softTargets`) or a float `[N, C]` matrix of 0 and 1 (multi-label rules, `task: 'multi'`).
 * Dense logits `[N, C, d1, …, dk]` (or `[N, d1, …, dk, C]` with `classAxis: -1`) take labels
 * `[N, d1, …, dk]` (docs/spec.md#10-dense-inputs). A rule with `E` heads (`rule.heads`, BalPoE's
 * and SADE's experts) takes the heads' logits side by side, `[N, E·C]` (head-major), with labels
 * `[N]` over the `C` classes; its perturbed logits and gradient are `[N, E·C]` too
 * (docs/spec.md#313-multi-head-rules).
 */
export interface Loss<T> {
  (logits: T, labels: T, ctx?: LossContext<T>): T
  /** The validated spec, defaults filled in. */
  readonly spec: RuleSpec
  /** `'single'`: labels are class ids `[N]`; `'multi'`: labels are a 0/1 matrix `[N, C]`. */
  readonly task: LabelTask
  /** False for rules whose perturbation depends differentiably on the logits (no closed-form gradient). */
  readonly hasClosedFormGradient: boolean
  /** How calls reduce the per-sample losses (`LossOptions.reduction`). */
  readonly reduction: Reduction
  /** What calls check (`LossOptions.checks`, default `'auto'`). */
  readonly checks: Checks
  /** The class count `C` the spec fixes (from its counts, directions, weights or `numClasses`), or undefined: any `C`. */
  readonly numClasses: number | undefined
  /**
   * What the rule declares of itself (see {@link RuleFacts}): its state fields and their fresh
   * values, its epoch switches, the field that fixes its class count, its extra inputs, the class
   * counts it carries.
   */
  readonly rule: RuleFacts
  /**
   * Where the rule's search loop runs on this backend now (`'none'` for rules without one): read at
   * each access, with the same decision every call makes, so it follows a change of tfjs backend.
   */
  readonly searchPath: 'host' | 'ops' | 'none'
  /**
   * Loss, perturbed logits and weights in one pass, and the state the rule would move to; the
   * loss's own state is left as it is until {@link Loss.commit}. Calling the loss, `perturb` and
   * `gradient` evaluate and commit in one step.
   */
  evaluate(logits: T, labels: T, ctx?: LossContext<T>, reduction?: Reduction): LossEvaluation<T>
  /**
   * The per-sample losses `r_i` (`[N]`: the loss with `reduction: 'none'`, whatever the loss's own
   * reduction), whose mean is the mean loss; what a Keras-style trainer weights and averages itself.
   */
  perSample(logits: T, labels: T, ctx?: LossContext<T>): T
  /** Makes an evaluation's `nextState` the loss's state (nothing when it has none). */
  commit(evaluation: LossEvaluation<T>): void
  /**
   * The perturbed logits `z` (`[N, C]`), after scale: the loss is CE of these (multi-label: the mean
   * of `w ⊙ BCE(z, Y)`).
   */
  perturb(logits: T, labels: T, ctx?: LossContext<T>): T
  /**
   * The closed-form gradient of the loss w.r.t. the logits (`[N, C]`): `(w_{y_i}/Σw)·a ⊙ (p(z_i) − e_{y_i})`
   * for single-label rules, `w_ic·a_ic·(σ(z_ic) − Y_ic)/(N·C)` for multi-label ones, plus the
   * gradient of a rule's term of the whole batch (LADE's, docs/spec.md#86-batch-terms). Throws
   * `INVALID_SPEC` for rules with `hasClosedFormGradient` false.
   */
  gradient(logits: T, labels: T, ctx?: LossContext<T>): T
  /**
   * Per-class loss variation, equivalent weights and counts (docs/spec.md#2-class-level-logit-perturbation); for multi-label
   * rules per label, against binary cross-entropy (see `explainMultiLabelBatch`). A rule with `E`
   * heads is measured per class against plain cross-entropy of the mean of its heads' logits, its
   * prediction (docs/spec.md#313-multi-head-rules).
   */
  explain(logits: T, labels: T, ctx?: LossContext<T>): Explanation<T>
  /**
   * The rule's state (rules with `rule.state`: LPL's `confidence` and `learned` splits, seesaw),
   * or undefined before a training call moved it or a trainer set it (the rule then behaves as
   * with `rule.state.initial`).
   */
  getState(): RuleState<T> | undefined
  /**
   * Replaces the rule's state, e.g. with one restored by `loadRuleState(ops, json, loss)`;
   * `undefined` resets it. Throws `INVALID_STATE` when the state's fields are not the rule's or
   * its class count differs from the rule's.
   */
  setState(state: RuleState<T> | undefined): void
  /**
   * Frees the loss's batch-independent constants on backends with manual memory (tfjs); the loss
   * stays usable and makes them again on its next call. The state is the caller's to free.
   */
  dispose(): void
}

/**
 * How a loss reads labels, one per {@link LabelTask}: single-label (class ids, cross-entropy) and
 * multi-label (a 0/1 matrix, binary cross-entropy per entry).
 */
interface TaskLabels {
  /**
   * Checks logits and labels before a rule sees them; returns `[N, C]` (`N` may be `-1` in a graph).
   * `heads`: the rule's heads `E`, whose logits are `[N, E·C]` (single-label rules only).
   */
  checkInputs<T>(
    ops: TensorOps<T>,
    logits: T,
    labels: T,
    numClasses: number | undefined,
    level: CheckLevel,
    shard: boolean,
    heads: number,
  ): [number, number]
  /** The labels as an `[N, C]` matrix; single-label rows where `rowMask` is 0 are zero. */
  labelMatrix<T>(ops: TensorOps<T>, labels: T, numClasses: number, rowMask: T | undefined): T
  explain<T>(
    ops: TensorOps<T>,
    logits: T,
    labels: T,
    batch: PerturbedBatch<T>,
    numClasses: number,
    term: LossTerm,
    labelMatrix: T,
  ): Explanation<T>
}

const TASKS: Record<LabelTask, TaskLabels> = {
  single: {
    checkInputs: checkSingleLabelInputs,
    labelMatrix: (ops, labels, c, rowMask) => (rowMask === undefined ? ops.oneHot(labels, c) : ops.mul(ops.oneHot(labels, c), rowMask)),
    explain: (ops, logits, labels, batch, c, term, labelMatrix) => explainBatch(ops, logits, labels, batch, c, term, labelMatrix),
  },
  multi: {
    checkInputs: checkMultiLabelInputs,
    labelMatrix: (_ops, labels) => labels,
    explain: (ops, logits, labels, batch, _c, term) => explainMultiLabelBatch(ops, logits, labels, batch, term),
  },
}

/**
 * The closed-form gradient of an evaluation's loss w.r.t. the logits, without evaluating the rule
 * again (exporters build it next to the loss): `loss.gradient` of the same inputs, as rows `[M, C]`
 * (`evaluation.rows.entriesBack` gives the logits' layout). Valid only for rules with
 * `hasClosedFormGradient`.
 */
export function closedFormGradient<T>(ops: TensorOps<T>, evaluation: LossEvaluation<T>): T {
  const { labelSmoothing, term } = evaluation
  const soft = evaluation.targets === 'probabilities'
  return evaluation.parts
    .map((part) => {
      const gradient = closedFormBatchGradient(ops, term, part.batch, part.labelMatrix, labelSmoothing, part.rowShares, soft)
      const extra = part.batchTerm
      return extra === undefined ? gradient : ops.add(gradient, ops.mul(extra.gradient, extra.scale))
    })
    .reduce((a, b) => ops.add(a, b))
}

/**
 * Builds the loss a spec describes, for one backend. Single-label rules:
 *
 *     L = Σ_i w_{y_i} · CE(a ⊙ u_i + δ_{y_i}, y_i) / Σ_i w_{y_i}
 *
 * where the rule gives the perturbation `δ`, the logit scale `a` and the class weights `w`.
 * Multi-label rules (labels `Y ∈ {0,1}^{N×C}`):
 *
 *     L = (1/(N·C)) Σ_{i,c} w_ic · BCE(a_ic·u_ic + δ_ic, Y_ic)
 *
 * where `δ_ic` depends on the label `c` and on `Y_ic` only (docs/spec.md#5-multi-label).
 * `spec` may be raw JSON: it is validated with `parseSpec`. Every call checks that the logits are
 * `[N, C]` and the labels `[N]` (multi-label: `[N, C]`), and, on backends that can look at values,
 * that labels are class ids (multi-label: 0 or 1) and logits finite, and throws a
 * `LogitPerturbError` otherwise (`LABELS_SHAPE`, `LABEL_VALUE`, …). A logit of `−∞` masks its class
 * out of its row (docs/spec.md#12-masked-classes): the loss is that of the row without the class,
 * and its gradient there is exactly 0. A call that throws leaves the rule's state as it was.
 */
export function createLoss<T>(ops: TensorOps<T>, spec: RuleInput, options: LossOptions = {}): Loss<T> {
  const parsed = parseSpec(spec)
  const rule = createRule(parsed, { search: options.search ?? 'auto' })
  const task: LabelTask = rule.task ?? 'single'
  const labelsOf = TASKS[task]
  const defaultReduction = checkOneOf(options.reduction, REDUCTIONS, 'mean', 'reduction')
  const labelSmoothing = parsed.labelSmoothing ?? 0
  const weighting = parsed.weighting
  const weights =
    weighting === undefined ? undefined : weightingWeights(weighting, 'classCounts' in parsed ? parsed.classCounts : undefined)
  const checks = parseChecks(options.checks)
  const classAxis = checkClassAxis(options.classAxis)
  const ignoreIndex = checkIgnoreIndex(options.ignoreIndex, task)
  const facts = factsOf(parsed, rule)
  const heads = facts.heads
  let state: RuleState<T> | undefined
  const constants = constantPool(ops)

  const evaluate = (logits: T, labels: T, ctx: LossContext<T> = {}, reduction = defaultReduction): LossEvaluation<T> => {
    const level = checkLevel(checks, ops)
    // Soft targets carry the class axis, as a multi-label matrix does; class ids do not.
    const withClasses = task === 'multi' || ops.shape(labels).length === ops.shape(logits).length
    if (heads > 1) checkHeadInputs(ops, logits, withClasses, heads, parsed.rule)
    const rows = batchRows(ops, logits, labels, ctx, classAxis, withClasses)
    const targets: LossEvaluation<T>['targets'] = task === 'single' && withClasses ? 'probabilities' : 'ids'
    const soft = targets === 'probabilities'
    // Ignored ids become class 0 with a 0 in the row mask, before the value check of the ids.
    const ids = soft ? { labels: rows.labels, kept: undefined } : withoutIgnored(ops, rows.labels, ignoreIndex)
    // A worker's shard may be empty (it still joins every batchSum); a whole batch may not.
    const [n, numClasses] = (soft ? checkSoftTargetInputs : labelsOf.checkInputs)(
      ops,
      rows.logits,
      ids.labels,
      rule.numClasses,
      level,
      ctx.batchSum !== undefined,
      heads,
    )
    const { sampleWeight, mask } = rows
    checkRowVector(ops, sampleWeight, n, 'sampleWeight', level === 'shapes' ? undefined : ops.checks?.sampleWeight)
    checkRowVector(ops, mask, n, 'mask', level === 'shapes' ? undefined : ops.checks?.mask)
    const rowMask = countedRowMask(ops, mask, ids.kept)
    // The heads' logits take no masked class: each of them is finite.
    if (level === 'values' && heads > 1) ops.checks?.finite(rows.logits, 'logits')
    else if (level === 'values')
      checkLogits(ops, rows.logits, numClasses, ids.labels, soft ? 'probabilities' : task === 'multi' ? 'multi-label' : 'ids', rowMask)
    const parts = soft
      ? softTargetParts(ops, rowMask === undefined ? ids.labels : ops.mul(ids.labels, rowMask), rule.softTargets, parsed.rule)
      : [labelsOf.labelMatrix(ops, ids.labels, numClasses, rowMask)].map((m) => ({ ruleMatrix: m, scored: m }))
    // The rule's batch inputs (GCL's noise) as rows, checked like the logits.
    const call = { ...ctx, ...batchInputRows(ops, rule.batchInputs, ctx, logits, rows, level), sampleWeight, mask }
    const weightsOn = weighting !== undefined && weights !== undefined && (ctx.epoch ?? 0) >= weighting.fromEpoch
    let nextState: RuleState<T> | undefined
    const evaluated = parts.map((part, k): EvaluatedPart<T> => {
      const perturbation = rule.perturb(ops, {
        logits: rows.logits,
        labels: ids.labels,
        labelMatrix: part.ruleMatrix,
        rowMask,
        numClasses,
        ctx: call,
        state,
        constants,
      })
      // Only rules that read no label keep state, and they have one part.
      if (k === 0) nextState = perturbation.state
      let batch = perturbation.batch
      if (weightsOn) {
        check(
          weights.length === numClasses,
          'CLASS_COUNTS_LENGTH',
          `weighting.classCounts has ${weights.length} counts for logits of ${numClasses} classes`,
          'weighting.classCounts',
        )
        batch = { ...batch, classWeights: constants.get('weighting', [numClasses], () => weights) }
      }
      const rowWeights = {
        labelMatrix: part.ruleMatrix,
        rowMask,
        sampleWeight,
        batchSum: ctx.batchSum,
        soft,
        ...(parts.length > 1 ? { parts: parts.map((p) => p.scored) } : {}),
      }
      const shares = rowShares(ops, task, batch, rowWeights, reduction)
      const term = perturbation.batchTerm
      return {
        batch,
        labelMatrix: part.scored,
        rowShares: shares,
        ...(term === undefined ? {} : { batchTerm: { ...term, ...batchTermShares(ops, task, rowWeights, reduction) } }),
      }
    })
    const losses = evaluated.map((part) => {
      const scored = reducedLoss(ops, facts.term, part.batch, part.labelMatrix, labelSmoothing, part.rowShares, reduction)
      const extra = part.batchTerm
      if (extra === undefined) return scored
      // The batch term, spread over the counted rows (docs/spec.md#86-batch-terms).
      const spread = ops.mul(extra.share, extra.value)
      return ops.add(scored, reduction === 'none' ? ops.reshape(spread, [-1]) : ops.sum(spread, [0, 1]))
    })
    const loss = losses.reduce((a, b) => ops.add(a, b))
    const first = evaluated[0]!
    return {
      loss: reduction === 'none' ? rows.rowsBack(loss) : loss,
      rows,
      targets,
      parts: evaluated,
      batch: first.batch,
      labelMatrix: first.labelMatrix,
      rowShares: first.rowShares,
      labelSmoothing,
      numClasses,
      task,
      term: facts.term,
      ...(nextState === undefined ? {} : { nextState }),
    }
  }
  const commit = (evaluation: LossEvaluation<T>) => {
    if (evaluation.nextState !== undefined) state = evaluation.nextState
  }
  /** Evaluates and commits: what a call that uses the state does. */
  const step = (logits: T, labels: T, ctx?: LossContext<T>, reduction = defaultReduction): LossEvaluation<T> => {
    const evaluation = evaluate(logits, labels, ctx, reduction)
    commit(evaluation)
    return evaluation
  }

  const loss = ((logits: T, labels: T, ctx?: LossContext<T>) => step(logits, labels, ctx).loss) as Loss<T>
  // Decided once now so that a forced search the backend cannot run is refused at creation; read
  // again at each access, as each call decides it.
  rule.searchPath?.(ops)
  Object.defineProperty(loss, 'searchPath', { get: () => rule.searchPath?.(ops) ?? 'none', enumerable: true })
  return Object.assign(loss, {
    spec: parsed,
    task,
    numClasses: rule.numClasses,
    rule: facts,
    reduction: defaultReduction,
    checks,
    hasClosedFormGradient: !rule.gradientThrough,
    evaluate,
    commit,
    perSample: (logits: T, labels: T, ctx?: LossContext<T>) => step(logits, labels, ctx, 'none').loss,
    perturb(logits: T, labels: T, ctx?: LossContext<T>) {
      const evaluation = step(logits, labels, ctx)
      return evaluation.rows.entriesBack(evaluation.batch.logits)
    },
    gradient(logits: T, labels: T, ctx?: LossContext<T>) {
      if (rule.gradientThrough) {
        throw new LogitPerturbError(
          'INVALID_SPEC',
          `rule ${parsed.rule} differentiates through its perturbation: it has no closed-form gradient; use automatic differentiation`,
          'gradient',
        )
      }
      const evaluation = step(logits, labels, ctx)
      return evaluation.rows.entriesBack(closedFormGradient(ops, evaluation))
    },
    explain(logits: T, labels: T, ctx?: LossContext<T>) {
      const evaluation = evaluate(logits, labels, { ...ctx, training: false })
      check(
        evaluation.targets === 'ids',
        'SOFT_TARGETS',
        'explain takes class ids: it measures each class against its own samples',
        'labels',
      )
      const { numClasses, labelMatrix } = evaluation
      const { rows } = evaluation
      // Several heads: against plain cross-entropy of the mean of the heads' logits, the prediction.
      const batch = heads === 1 ? evaluation.batch : { ...evaluation.batch, reference: { logits: meanOfHeads(ops, rows.logits, heads) } }
      return labelsOf.explain(ops, rows.logits, rowLabels(ops, rows.labels, ignoreIndex), batch, numClasses, facts.term, labelMatrix)
    },
    getState: () => state,
    setState(next: RuleState<T> | undefined) {
      if (next !== undefined) {
        const keys = Object.keys(next).sort().join(', ')
        const own = Object.keys(rule.state?.fields ?? {})
        check(
          keys === [...own].sort().join(', '),
          'INVALID_STATE',
          `holds ${keys || 'nothing'}; this rule keeps ${own.length === 0 ? 'no state' : own.join(', ')}`,
          'state',
        )
      }
      if (next !== undefined && rule.numClasses !== undefined) {
        for (const [field, t] of Object.entries(next)) {
          const shape = ops.shape(t as T)
          check(
            shape.length === 1 && shape[0] === rule.numClasses,
            'INVALID_STATE',
            `must be [${rule.numClasses}], got [${shape.join(', ')}]`,
            `state.${field}`,
          )
        }
      }
      state = next
    },
    dispose: () => constants.dispose(),
  })
}

/**
 * The value check of the logits (`checks: 'values'`), after the labels, sample weights and mask:
 * finite, or `−∞` at a class masked out of its row but not at a target of a row that counts
 * (`counted`, `[M, 1]`), and not in every class of a single-label row (docs/spec.md#12-masked-classes).
 * A backend without the masked check (`ValueChecks.logits`) refuses every infinity.
 */
function checkLogits<T>(
  ops: TensorOps<T>,
  logits: T,
  numClasses: number,
  targets: T,
  kind: LogitTargets['kind'],
  counted: T | undefined,
): void {
  const checks = ops.checks
  if (checks === undefined) return
  if (checks.logits === undefined) checks.finite(logits, 'logits')
  else checks.logits(logits, numClasses, targets, kind, counted)
}

/**
 * Checks that logits are `[N, C]`, with `C` the rule's class count when it fixes one, or for a rule
 * with `E > 1` heads `[N, E·C]` (head-major); returns `[N, C]`.
 */
function checkLogitShape<T>(ops: TensorOps<T>, logits: T, numClasses: number | undefined, heads = 1): [number, number] {
  const shape = ops.shape(logits)
  check(shape.length === 2, 'LOGITS_SHAPE', `logits must be [N, C], got shape [${shape.join(', ')}]`, 'logits')
  const [n, width] = shape as [number, number]
  check(width > 0, 'LOGITS_SHAPE', 'logits have no class dimension (C = 0)', 'logits')
  if (heads > 1) {
    const c = numClasses ?? width / heads
    check(
      Number.isInteger(c) && width === heads * c,
      'LOGITS_SHAPE',
      `logits have ${width} columns; the rule's ${heads} heads of ${numClasses ?? 'C'} classes take [N, ${numClasses === undefined ? `${heads}·C` : heads * numClasses}] (head-major)`,
      'logits',
    )
    return [n, c]
  }
  check(
    numClasses === undefined || width === numClasses,
    'LOGITS_SHAPE',
    `logits have ${width} classes but the rule has ${numClasses}`,
    'logits',
  )
  return [n, width]
}

/**
 * What a rule with `E > 1` heads refuses before its batch is read: dense logits (its logits are
 * `[N, E·C]`, one row per sample) and soft targets (the released methods score class ids).
 */
function checkHeadInputs<T>(ops: TensorOps<T>, logits: T, soft: boolean, heads: number, rule: string): void {
  const shape = ops.shape(logits)
  check(
    shape.length === 2,
    'LOGITS_SHAPE',
    `rule ${rule} takes the logits of its ${heads} heads as [N, E·C], one row per sample; got shape [${shape.join(', ')}] (dense inputs are not defined for it)`,
    'logits',
  )
  check(
    !soft,
    'SOFT_TARGETS',
    `rule ${rule} scores each of its ${heads} heads against class ids [N]; it does not define soft targets (probability rows)`,
    'labels',
  )
}

/** Single-label inputs: logits `[N, C]` and class ids `[N]`; returns `[N, C]`. */
function checkSingleLabelInputs<T>(
  ops: TensorOps<T>,
  logits: T,
  labels: T,
  numClasses: number | undefined,
  level: CheckLevel,
  shard: boolean,
  heads = 1,
): [number, number] {
  const [n, c] = checkLogitShape(ops, logits, numClasses, heads)
  const labelShape = ops.shape(labels)
  check(labelShape.length === 1, 'LABELS_SHAPE', `labels must be [N], got shape [${labelShape.join(', ')}]`, 'labels')
  check(n < 0 || labelShape[0]! < 0 || labelShape[0] === n, 'LABELS_SHAPE', `${labelShape[0]} labels for ${n} rows of logits`, 'labels')
  check(n !== 0 || shard, 'LOGITS_SHAPE', EMPTY_BATCH, 'logits')
  if (level !== 'shapes') ops.checks?.labels(labels, c)
  return [n, c]
}

/**
 * Labels that are a matrix like the logits (`[N, C]`, checked as `matrixInputs` says); returns `[N, C]`.
 */
function checkMatrixInputs<T>(
  ops: TensorOps<T>,
  logits: T,
  labels: T,
  numClasses: number | undefined,
  level: CheckLevel,
  shard: boolean,
  kind: MatrixLabels,
): [number, number] {
  const [n, c] = checkLogitShape(ops, logits, numClasses)
  check(n !== 0 || shard, 'LOGITS_SHAPE', EMPTY_BATCH, 'logits')
  const shape = ops.shape(labels)
  check(
    shape.length === 2 && (shape[0] === n || shape[0]! < 0 || n < 0) && shape[1] === c,
    'LABELS_SHAPE',
    `${kind.what} [N, C] = [${n < 0 ? 'N' : n}, ${c}] like the logits, got shape [${shape.join(', ')}]`,
    'labels',
  )
  if (level !== 'shapes' && ops.checks !== undefined) kind.values(ops.checks, labels, c)
  return [n, c]
}

/** What a label matrix must be, for {@link checkMatrixInputs}: its description and its value check. */
interface MatrixLabels {
  readonly what: string
  values<T>(checks: ValueChecks<T>, labels: T, numClasses: number): void
}

/** Multi-label inputs: a 0/1 label matrix like the logits. */
const MULTI_LABEL_MATRIX: MatrixLabels = {
  what: 'multi-label labels must be a 0/1 matrix',
  values: (checks, labels, c) => checks.binaryLabels(labels, c),
}

/** Soft targets: probability rows like the logits. */
const SOFT_TARGET_MATRIX: MatrixLabels = {
  what: 'labels must be class ids [N] or soft targets',
  values: (checks, labels, c) => checks.probabilities(labels, c),
}

/** Multi-label inputs: logits `[N, C]` and a 0/1 label matrix of the same shape; returns `[N, C]`. */
function checkMultiLabelInputs<T>(
  ops: TensorOps<T>,
  logits: T,
  labels: T,
  numClasses: number | undefined,
  level: CheckLevel,
  shard: boolean,
): [number, number] {
  return checkMatrixInputs(ops, logits, labels, numClasses, level, shard, MULTI_LABEL_MATRIX)
}

/** A call's `sampleWeight` or `mask`: absent, or a vector `[N]` (values checked by `checkValues` when given). */
function checkRowVector<T>(
  ops: TensorOps<T>,
  x: T | undefined,
  n: number,
  field: 'sampleWeight' | 'mask',
  checkValues: ((x: T) => void) | undefined,
): void {
  if (x === undefined) return
  const shape = ops.shape(x)
  check(
    shape.length === 1 && (n < 0 || shape[0]! < 0 || shape[0] === n),
    'SHAPE_MISMATCH',
    `must be a vector [N] = [${n < 0 ? 'N' : n}] with one entry per row of the logits, got shape [${shape.join(', ')}]`,
    field,
  )
  checkValues?.(x)
}

const REDUCTIONS: readonly Reduction[] = ['mean', 'sum', 'none']

/**
 * What a spec's rule declares of itself (`Loss.rule`), without a backend: its state, its epoch
 * switches (the rule's own and the spec's `weighting.fromEpoch` above 0), the field that fixes its
 * class count, its extra inputs and the class counts it carries. `spec` may be raw JSON.
 */
export function ruleFacts(spec: RuleInput): RuleFacts {
  const parsed = parseSpec(spec)
  return factsOf(parsed, createRule(parsed))
}

/** The facts of a parsed spec's rule (see {@link ruleFacts}). */
function factsOf(spec: RuleSpec, rule: Rule): RuleFacts {
  const weighting = spec.weighting
  const switches = [...(rule.epochSwitches ?? []), ...(weighting && weighting.fromEpoch > 0 ? [weighting.fromEpoch] : [])]
  return Object.freeze({
    task: rule.task ?? 'single',
    term: rule.term ?? plainTerm(rule.task ?? 'single'),
    equivalences: rule.equivalences ?? [],
    numClasses: rule.numClasses,
    heads: rule.heads ?? 1,
    gradientThrough: rule.gradientThrough,
    epochSwitches: [...new Set(switches)].sort((a, b) => a - b),
    ...pick(rule, [
      'numClassesFrom',
      'numClassesOf',
      'classCounts',
      'priorTau',
      'extraInputs',
      'batchInputs',
      'state',
      'softTargets',
      'sampleDelta',
    ] as const),
  })
}

/**
 * The batch inputs a rule declares (GCL's `noise`) that the call passes, as rows `[M, C]`: each
 * must have the logits' shape (`SHAPE_MISMATCH`) and, unless the loss checks shapes only, entries
 * the declaration accepts (`MISSING_CONTEXT`), both naming the context field; the call's `seed`
 * must be an integer in `[0, 2^32)` (`INVALID_PARAMETER`). Inputs the call leaves out stay out: a
 * training call draws them (the declaration's `draw`).
 */
function batchInputRows<T>(
  ops: TensorOps<T>,
  declared: Rule['batchInputs'],
  ctx: LossContext<T>,
  logits: T,
  rows: BatchRows<T>,
  level: CheckLevel,
): Partial<Record<BatchInputField, T>> {
  const seed = ctx.seed
  check(
    seed === undefined || (Number.isInteger(seed) && seed >= 0 && seed < 2 ** 32),
    'INVALID_PARAMETER',
    `must be an integer in [0, 2^32), got ${describeValue(seed)}`,
    'seed',
  )
  const out: Partial<Record<BatchInputField, T>> = {}
  for (const input of declared ?? []) {
    const given = ctx[input.field]
    if (given === undefined) continue
    const shape = ops.shape(given)
    const want = ops.shape(logits)
    check(
      shape.length === want.length && shape.every((d, k) => d === want[k] || d < 0 || want[k]! < 0),
      'SHAPE_MISMATCH',
      `must have the logits' shape [${want.join(', ')}], got [${shape.join(', ')}]`,
      input.field,
    )
    if (level !== 'shapes') ops.checks?.entries?.(given, input.field, input.bounds)
    out[input.field] = rows.entries(given)
  }
  return out
}

/** The fields of `object` that are defined, as an object of their own. */
function pick<O extends object, K extends keyof O>(object: O, keys: readonly K[]): Partial<Pick<O, K>> {
  return Object.fromEntries(keys.filter((k) => object[k] !== undefined).map((k) => [k, object[k]])) as Partial<Pick<O, K>>
}

/** The class axis option: 1 (default) or −1. */
function checkClassAxis(value: unknown): ClassAxis {
  if (value === undefined) return 1
  check(value === 1 || value === -1, 'INVALID_PARAMETER', `must be 1 or -1, got ${describeValue(value)}`, 'classAxis')
  return value
}

/** The ignore label option: an integer (any: PyTorch's −100, mmsegmentation's 255), single-label rules only. */
function checkIgnoreIndex(value: unknown, task: LabelTask): number | undefined {
  if (value === undefined) return undefined
  check(
    typeof value === 'number' && Number.isInteger(value) && Math.abs(value) < 2 ** 31,
    'INVALID_PARAMETER',
    `must be a 32-bit integer class id, got ${describeValue(value)}`,
    'ignoreIndex',
  )
  check(
    task === 'single',
    'INVALID_PARAMETER',
    'multi-label rules take a 0/1 matrix, with no ignore label: leave rows out with the mask',
    'ignoreIndex',
  )
  return value
}

/** The ids of the rows, ignored ones as class 0 (explain's per-class sums skip them by the label matrix). */
function rowLabels<T>(ops: TensorOps<T>, labels: T, ignoreIndex: number | undefined): T {
  return withoutIgnored(ops, labels, ignoreIndex).labels
}

/** Soft targets: logits `[N, C]` and probability rows `[N, C]` like them; returns `[N, C]`. */
function checkSoftTargetInputs<T>(
  ops: TensorOps<T>,
  logits: T,
  targets: T,
  numClasses: number | undefined,
  level: CheckLevel,
  shard: boolean,
): [number, number] {
  return checkMatrixInputs(ops, logits, targets, numClasses, level, shard, SOFT_TARGET_MATRIX)
}
