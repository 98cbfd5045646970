import * as tf from '@tensorflow/tfjs-core'
import type {
  ClassAxis,
  Explanation,
  Loss,
  LossContext,
  LossEvaluation,
  LossOptions,
  RuleInput,
  RuleState,
  RuleStateJSON,
} from '@logit-perturb/core'
import { LogitPerturbError, createLoss, loadRuleState, saveRuleState } from '@logit-perturb/core'
import { closedFormGradient } from '@logit-perturb/core/backend'
import { createTfjsOps } from './ops.js'
import { isRecordingGradients } from './training.js'

/**
 * Options of {@link createTfjsLoss}: the core's (`checks`, `reduction`, `search`, `ignoreIndex`,
 * `classAxis`), with the class axis of dense logits last by default, as tfjs-layers lays them out.
 */
export interface TfjsLossOptions extends LossOptions {
  /**
   * Where dense logits keep their classes: `-1` (default here), `[N, d1, …, dk, C]`, the
   * channels-last layout of tfjs-layers' `conv2d` outputs (`[N, H, W, C]`); `1`,
   * `[N, C, d1, …, dk]` (channels-first, as PyTorch and ONNX). Class ids are `[N, d1, …, dk]`
   * either way; `[N, C]` logits are the same either way.
   */
  classAxis?: ClassAxis
}

/**
 * A rule's loss on TensorFlow.js tensors, for custom training loops: call it inside
 * `optimizer.minimize(() => loss(model.predict(x), labels))` or `tf.variableGrads`. Every call runs
 * in its own `tf.tidy`, so only the returned tensors outlive it; the rule's state (LPL's
 * `confidence` split, the `learned` split's `θ`) is kept across calls and owned by the loss until
 * `dispose()`. Its members are the core `Loss`'s, on tfjs tensors, with the call context's defaults
 * and the state's ownership added.
 */
export interface TfjsLoss<Out extends tf.Tensor = tf.Scalar>
  extends Pick<
    Loss<tf.Tensor>,
    | 'spec'
    | 'task'
    | 'numClasses'
    | 'reduction'
    | 'checks'
    | 'perSample'
    | 'hasClosedFormGradient'
    | 'searchPath'
    | 'perturb'
    | 'gradient'
    | 'explain'
    | 'getState'
    | 'rule'
  > {
  /**
   * The loss of logits `[N, C]` and int32 labels `[N]` (multi-label rules: float 0/1 labels
   * `[N, C]`; soft targets: probability rows `[N, C]`, for rules whose `rule.softTargets` is set): a
   * scalar, or the per-sample losses `[N]` with `reduction: 'none'`. Dense logits
   * `[N, d1, …, dk, C]` (`classAxis` −1) take ids `[N, d1, …, dk]` and give `[N, d1, …, dk]` with
   * `'none'`. The context may carry `sampleWeight` and `mask` (`[N]` or `[N, d1, …, dk]`).
   */
  (logits: tf.Tensor, labels: tf.Tensor, ctx?: LossContext<tf.Tensor>): Out
  /** Where dense logits keep their classes (`TfjsLossOptions.classAxis`): −1 (default) or 1. */
  readonly classAxis: ClassAxis
  /** The class id of unlabelled positions (`TfjsLossOptions.ignoreIndex`), or undefined: none. */
  readonly ignoreIndex: number | undefined
  /**
   * Defaults for calls that pass no context: the epoch (for LDAM-DRW) and whether calls are
   * training steps (for stateful rules). A call's own `{ training }` wins; then `trainingCalls`,
   * then `training`; left undefined, a call is a training step when tfjs is recording gradients
   * (see `isRecordingGradients`). During `model.fit`, `perturbationCallback` sets the epoch and
   * `trainingCalls = 1` at each batch's begin: tfjs-layers computes the loss once per training
   * batch, and on an epoch's last batch runs validation before that batch ends.
   */
  readonly context: {
    /** The epoch (0-based) of calls without one; default 0. */
    epoch: number
    /** Whether calls without a `training` flag are training steps; undefined: while tfjs records gradients. */
    training?: boolean
    /**
     * How many of the next calls are training steps: each call counts it down, and once it is 0
     * calls are not training steps (until it is set again or deleted). Undefined: not used.
     */
    trainingCalls?: number
  }
  /**
   * Replaces the state with `state`, whose tensors the loss then owns (it keeps them past any tidy
   * and frees them when replaced or disposed); the previous state's tensors are freed. `undefined`
   * resets it. Throws `INVALID_STATE`, leaving the state as it was, when the names or shapes do not
   * fit the rule. For example `loss.setState({ theta: tf.tensor1d(theta) })` for learned bounds.
   */
  setState(state: RuleState<tf.Tensor> | undefined): void
  /** The state as JSON, or null when the rule has none yet. */
  saveState(): Promise<RuleStateJSON | null>
  /** Restores a state saved by {@link TfjsLoss.saveState}; throws `INVALID_STATE` if it does not fit. */
  loadState(json: unknown): void
  /**
   * Frees the state tensors (resetting the state) and the loss's constants (shifts, margins,
   * bounds: made on the first call and kept for the next ones). The loss stays usable.
   */
  dispose(): void
}

/**
 * Refuses a training step when tfjs has no gradients registered. tfjs-core alone registers none:
 * they come with `@tensorflow/tfjs-layers` or `@tensorflow/tfjs`, and without them the step fails
 * later, inside tfjs, with "gradient function not found for Sum".
 */
function checkGradientsRegistered(): void {
  if (isRecordingGradients() === true && tf.getGradient('Sum') === undefined) {
    throw new LogitPerturbError(
      'MISSING_PEER_DEPENDENCY',
      "tfjs has no gradients registered: import '@tensorflow/tfjs-layers' (npm install @tensorflow/tfjs-layers) or use @tensorflow/tfjs, which registers them",
    )
  }
}

/**
 * Builds the loss a spec describes on TensorFlow.js: the core's `createLoss` bound to the tfjs
 * `TensorOps`, with tidy scopes around each call and the rule's state kept alive between calls.
 * The rule code is the core's; nothing is re-derived here. Unlike the core, dense logits keep their
 * classes last unless `options.classAxis` is 1. Throws `INVALID_PARAMETER` naming `classAxis` or
 * `ignoreIndex` for a value the core refuses.
 */
export function createTfjsLoss(spec: RuleInput, options: TfjsLossOptions & { reduction: 'none' }): TfjsLoss<tf.Tensor1D>
export function createTfjsLoss(spec: RuleInput, options?: TfjsLossOptions): TfjsLoss
export function createTfjsLoss(spec: RuleInput, options: TfjsLossOptions = {}): TfjsLoss<tf.Tensor> {
  const ops = createTfjsOps()
  // Channels-last by default: tfjs-layers' convolutions output [N, H, W, C].
  const classAxis = options.classAxis ?? -1
  const core: Loss<tf.Tensor> = createLoss(ops, spec, { ...options, classAxis })
  const context: TfjsLoss['context'] = { epoch: 0 }
  const isTraining = (ctx: LossContext<tf.Tensor> | undefined): boolean => {
    if (ctx?.training !== undefined) return ctx.training
    if (context.trainingCalls !== undefined) {
      if (context.trainingCalls <= 0) return false
      context.trainingCalls -= 1
      return true
    }
    return context.training ?? isRecordingGradients() ?? true
  }
  const withDefaults = (ctx?: LossContext<tf.Tensor>): LossContext<tf.Tensor> => ({
    epoch: context.epoch,
    ...ctx,
    training: isTraining(ctx),
  })

  const replaceState = (next: RuleState<tf.Tensor> | undefined) => {
    const previous = core.getState()
    if (next === previous) return
    core.setState(next)
    if (next)
      Object.values(next).forEach((t) => {
        tf.keep(t)
      })
    if (previous)
      Object.values(previous).forEach((t) => {
        t.dispose()
      })
  }

  /**
   * One evaluation of the core loss in a tidy scope, and `pick`'s part of it handed out; the state
   * the rule moved to leaves the scope with it and is then committed (kept, the old one freed). A
   * call that throws commits nothing. An output that is one of the caller's `inputs` (a rule without
   * perturbation returns its logits as they are) is handed out as a clone, so that disposing the
   * output never disposes the caller's tensor.
   */
  const evaluated = <R extends tf.TensorContainer>(
    logits: tf.Tensor,
    labels: tf.Tensor,
    ctx: LossContext<tf.Tensor> | undefined,
    pick: (e: LossEvaluation<tf.Tensor>) => R,
    reduction = core.reduction,
  ): R => {
    const { out, next } = tf.tidy(() => {
      const evaluation = core.evaluate(logits, labels, withDefaults(ctx), reduction)
      const inputs = [logits, labels, ...(ctx?.sampleWeight ? [ctx.sampleWeight] : []), ...(ctx?.mask ? [ctx.mask] : [])]
      return { out: distinctFrom(inputs, pick(evaluation)), next: evaluation.nextState } as unknown as tf.TensorContainer
    }) as unknown as { out: R; next: RuleState<tf.Tensor> | undefined }
    if (next !== undefined) replaceState(next)
    return out
  }

  const loss = ((logits: tf.Tensor, labels: tf.Tensor, ctx?: LossContext<tf.Tensor>) => {
    checkGradientsRegistered()
    return evaluated(logits, labels, ctx, (e) => e.loss)
  }) as TfjsLoss<tf.Tensor>
  Object.defineProperty(loss, 'searchPath', { get: () => core.searchPath, enumerable: true })
  return Object.assign(loss, {
    spec: core.spec,
    task: core.task,
    numClasses: core.numClasses,
    rule: core.rule,
    classAxis,
    ignoreIndex: options.ignoreIndex,
    reduction: core.reduction,
    checks: core.checks,
    perSample: (logits: tf.Tensor, labels: tf.Tensor, ctx?: LossContext<tf.Tensor>) => {
      checkGradientsRegistered()
      return evaluated(logits, labels, ctx, (e) => e.loss, 'none')
    },
    hasClosedFormGradient: core.hasClosedFormGradient,
    context,
    // In the layout of the call's logits: dense calls are evaluated as rows [M, C].
    perturb: (logits: tf.Tensor, labels: tf.Tensor, ctx?: LossContext<tf.Tensor>) =>
      evaluated(logits, labels, ctx, (e) => e.rows.entriesBack(e.batch.logits)),
    gradient(logits: tf.Tensor, labels: tf.Tensor, ctx?: LossContext<tf.Tensor>) {
      // Refused before any work for rules without a closed form, with the core's error.
      if (!core.hasClosedFormGradient) return core.gradient(logits, labels, ctx)
      return evaluated(logits, labels, ctx, (e) => e.rows.entriesBack(closedFormGradient(ops, e)))
    },
    // A non-training call: the state stays as it is.
    explain: (logits: tf.Tensor, labels: tf.Tensor, ctx?: LossContext<tf.Tensor>) =>
      tf.tidy(() =>
        distinctFrom([logits, labels], core.explain(logits, labels, withDefaults(ctx)) as unknown as tf.TensorContainerObject),
      ) as unknown as Explanation<tf.Tensor>,
    getState: () => core.getState(),
    setState: (state: RuleState<tf.Tensor> | undefined) => replaceState(state),
    async saveState() {
      const state = core.getState()
      return state ? saveRuleState(state, (t) => t.data()) : null
    },
    loadState(json: unknown) {
      const state = tf.tidy(() => {
        return { ...loadRuleState(ops, json, core) }
      })
      try {
        replaceState(state)
      } catch (e) {
        Object.values(state).forEach((t) => {
          t.dispose()
        })
        throw e
      }
    },
    dispose: () => {
      replaceState(undefined)
      core.dispose()
    },
  })
}

/** `result` with every tensor that is one of `inputs` (at the top level or one field deep) replaced by a clone. */
function distinctFrom<R extends tf.TensorContainer>(inputs: readonly tf.Tensor[], result: R): R {
  const fresh = (x: unknown): unknown => (x instanceof tf.Tensor && inputs.includes(x) ? tf.clone(x) : x)
  if (result instanceof tf.Tensor) return fresh(result) as R
  if (result !== null && typeof result === 'object' && !Array.isArray(result)) {
    return Object.fromEntries(Object.entries(result).map(([k, v]) => [k, fresh(v)])) as R
  }
  return result
}
