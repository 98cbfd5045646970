import { check } from './errors.js'
import { exportClassCount } from './exportClassCount.js'
import { type Loss, type LossEvaluation, closedFormGradient, createLoss } from './loss.js'
import type { TensorOps } from './ops.js'
import type { Reduction } from './reduction.js'
import type { BatchInputDeclaration, BatchInputField, LabelTask, LossContext, RuleState } from './rules/types.js'
import type { RuleInput, RuleSpec } from './specTypes.js'
import { type TraceDim, type TraceLayout, checkSpatialDims, traceRows, trailingDims } from './traceLayout.js'
import { checkOneOf } from './validate.js'

/**
 * One input of a traced loss, as a renderer declares it: an ONNX graph input, a PyTorch argument
 * or buffer. `dims` uses `'N'` for the batch dimension and `'d1'` … (or `'...'`) for the trailing
 * axes of dense inputs, known only at run time (see {@link TraceDim}).
 */
export interface TraceInput {
  /** The input's name in the rendered model: `logits`, `labels`, `sample_weight`, `mask`, `state_<field>`, a batch input's name (`noise`). */
  readonly name: string
  /** What it holds: `'batch'`, a rule's batch input with the logits' shape (see `BatchInputDeclaration`). */
  readonly role: 'logits' | 'labels' | 'sampleWeight' | 'mask' | 'state' | 'batch'
  /** `'float'`: float32 values (logits, soft targets, weights); `'classIds'`: integer class ids (the renderer picks its integer type). */
  readonly dtype: 'float' | 'classIds'
  /** Its shape: `[N, C, d1, …, dk]` for logits, `[N, d1, …, dk]` for class ids, weights and mask. */
  readonly dims: readonly TraceDim[]
}

/**
 * What a symbolic backend adds to {@link TensorOps} for a trace: declaring an input, and for dense
 * inputs, the way between their layout and the core's rows.
 */
export interface TraceOps<T> extends TensorOps<T> {
  /** The tensor that stands for `input` in the rendered model. */
  declare(input: TraceInput): T
  /** Dense inputs to rows and back (traces with `spatialDims`); a renderer of `[N, C]` rows only leaves it out. */
  readonly layout?: TraceLayout<T>
}

/** Options of {@link traceLoss}, each checked like a spec field (`INVALID_PARAMETER` naming it). */
export interface TraceOptions {
  /** The class count `C`, when the spec does not fix it (see `exportClassCount`). */
  numClasses?: number
  /** The extra inputs frozen into the model (ISDA's `isda`) and, for a model of one epoch, `epoch`. */
  context?: Pick<LossContext<unknown>, 'epoch' | 'isda'>
  /** Declares the input `sample_weight` (`[N]`). Default false. */
  sampleWeight?: boolean
  /** Declares the input `mask` (`[N]`). Default false. */
  mask?: boolean
  /**
   * Whether the rule's state is carried by the model (`state_<field>` inputs, next-state outputs),
   * for rules that keep state. Default true. False is refused for a rule whose state a model
   * without it would silently restart at every call (seesaw's counts, the learned split's `θ`).
   */
  carryState?: boolean
  /** Which branches the model has: training calls, evaluation calls, or both (default). */
  training?: boolean | 'both'
  /**
   * Dense inputs (docs/spec.md#10-dense-inputs): the number `k` of trailing axes of the logits
   * `[N, C, d1, …, dk]` (class axis 1, sizes known at run time), the labels `[N, d1, …, dk]` and the
   * weights and mask, per position; `'any'`: any number, for a renderer whose layout takes any rank.
   * Default 0: logits `[N, C]`. Outputs come back in the inputs' layout.
   */
  spatialDims?: number | 'any'
  /**
   * A class id that marks a position as unlabelled, baked into the model (`LossOptions.ignoreIndex`):
   * it adds nothing to the loss, the batch statistics, the state or the normaliser, and its gradient
   * is 0. Class ids only. Default: none.
   */
  ignoreIndex?: number
  /**
   * What `labels` holds: `'ids'` (default), class ids; `'probabilities'`, soft targets with the
   * logits' shape (docs/spec.md#11-soft-targets), for rules that declare `softTargets` (others:
   * `SOFT_TARGETS`). Multi-label rules take their 0/1 matrix either way.
   */
  targets?: 'ids' | 'probabilities'
}

/** One branch of a traced loss: a call's training flag, its epoch and its reduction. */
export interface TraceBranch<T> {
  /** A training call (stateful rules move their state). */
  readonly training: boolean
  /** The epoch, one of {@link LossTrace.epochs}: the branch holds from it to the next switch. */
  readonly epoch: number
  /** How the loss is reduced. */
  readonly reduction: Reduction
  /** The all-reduce of the batch statistics, for a renderer whose model runs on several workers. */
  readonly batchSum?: (x: T) => T
  /** The all-reduce maximum of a batch statistic (`LossContext.batchMax`), beside `batchSum`. */
  readonly batchMax?: (x: T) => T
}

/** What one branch computes. */
export interface TracedBranch<T> {
  /** The loss, reduced as the branch says. */
  readonly loss: T
  /** The perturbed logits `z`, in the logits input's layout (`[N, C]`; dense: `[N, C, d1, …, dk]`). */
  readonly perturbed: T
  /**
   * The closed-form gradient `∂loss/∂logits` in the logits input's layout, built on first call
   * (rules with `hasClosedFormGradient`).
   */
  gradient(): T
  /**
   * The state the call moved to, field by field (a training call of a rule whose state training
   * moves); absent when the call leaves the state as it came in.
   */
  readonly nextState: RuleState<T> | undefined
  /** The core's evaluation the branch was read from (of the rows `[M, C]` for dense inputs). */
  readonly evaluation: LossEvaluation<T>
}

/**
 * A loss traced on a symbolic backend: its inputs, declared once, and its branches, each evaluated
 * by the core's own rule code. The ONNX exporter and the PyTorch writer render a trace; neither asks
 * which rule it holds.
 */
export interface LossTrace<T> {
  /** The validated spec, defaults filled in. */
  readonly spec: RuleSpec
  /** The core loss the branches evaluate. */
  readonly loss: Loss<T>
  /** The class count `C`. */
  readonly numClasses: number
  /**
   * The rule's heads `E` (`Rule.heads`; 1 for most rules): the logits input and the perturbed logits
   * and gradient outputs are `[N, E·C]`, labels range over the `C` classes.
   */
  readonly heads: number
  /** The width of the logits input, `E·C`. */
  readonly logitWidth: number
  /** `'single'`: labels are class ids `[N]` (or soft targets); `'multi'`: a 0/1 matrix `[N, C]`. */
  readonly task: LabelTask
  /** What the single-label `labels` input holds: class ids, or soft targets with the logits' shape. */
  readonly targets: 'ids' | 'probabilities'
  /** The number of trailing axes of dense inputs (0: rows `[N, C]`), or `'any'`. */
  readonly spatialDims: number | 'any'
  /** The ignore label baked into the model, or undefined. */
  readonly ignoreIndex: number | undefined
  /** Whether the closed-form gradient exists. */
  readonly hasClosedFormGradient: boolean
  /** The declared inputs, in order. */
  readonly inputs: readonly TraceInput[]
  /**
   * The rule's batch inputs the model takes (GCL's `noise`), each an input with the logits' shape
   * named as declared; those read by training calls only are left out of a model without training
   * branches.
   */
  readonly batchInputs: readonly BatchInputDeclaration[]
  /** The carried state: its field names and its fresh value; absent when the rule keeps none or it is not carried. */
  readonly state:
    | {
        /** The names of its fields, each an input `state_<field>`. */
        readonly fields: readonly string[]
        /** Its fresh value for `C` classes, one list per field. */
        readonly initial: Readonly<Record<string, readonly number[]>>
        /** What moves it (see `RuleStateDeclaration.movedBy`): a training call, or only the trainer. */
        readonly movedBy: 'training' | 'trainer'
      }
    | undefined
  /** The training flags the model has branches for. */
  readonly trainingFlags: readonly boolean[]
  /** The first epoch of each epoch branch: `[0]` and the rule's switches (one `[epoch]` for a model of one epoch). */
  readonly epochs: readonly number[]
  /** Evaluates one branch on the declared inputs. */
  evaluate(branch: TraceBranch<T>): TracedBranch<T>
}

/**
 * Traces the loss a spec describes on a symbolic backend (docs/architecture.md): checks the
 * options, declares the inputs (logits, labels, the optional sample weights and mask, the carried
 * state) in their layout (rows `[N, C]`, or dense `[N, C, d1, …, dk]` with `spatialDims`), and
 * returns the branches' evaluator. Dense inputs are evaluated as the core's rows `[M, C]`, through
 * the renderer's `layout`, and the outputs go back to the inputs' layout. Throws `INVALID_PARAMETER`
 * naming the option, `SOFT_TARGETS` for probabilities a rule does not define, and the spec's own
 * errors.
 */
export function traceLoss<T>(ops: TraceOps<T>, spec: RuleInput, options: TraceOptions = {}): LossTrace<T> {
  const ignoreIndex = options.ignoreIndex
  // The core checks the ignore label as its own option (an integer, single-label rules only).
  const loss = createLoss(ops, spec, ignoreIndex === undefined ? {} : { ignoreIndex })
  check(
    options.context === undefined || (typeof options.context === 'object' && options.context !== null),
    'INVALID_PARAMETER',
    'must be an object (the epoch and the extra inputs)',
    'context',
  )
  const context = options.context ?? {}
  const numClasses = exportClassCount(loss, options.numClasses, context)
  const flag = (name: 'sampleWeight' | 'mask' | 'carryState', fallback: boolean): boolean => {
    const value = options[name]
    check(value === undefined || typeof value === 'boolean', 'INVALID_PARAMETER', `must be true or false, got ${String(value)}`, name)
    return value ?? fallback
  }
  const training = options.training ?? 'both'
  check(
    training === true || training === false || training === 'both',
    'INVALID_PARAMETER',
    `must be true, false or "both", got ${JSON.stringify(training) ?? String(training)}`,
    'training',
  )
  const epoch = context.epoch
  check(
    epoch === undefined || (Number.isInteger(epoch) && epoch >= 0),
    'INVALID_PARAMETER',
    `must be an integer ≥ 0, got ${String(epoch)}`,
    'context.epoch',
  )
  const spatialDims = checkSpatialDims(options.spatialDims)
  const heads = loss.rule.heads
  check(
    heads === 1 || spatialDims === 0 || spatialDims === 'any',
    'INVALID_PARAMETER',
    `rule ${loss.spec.rule} takes the logits of its ${heads} heads as rows [N, E·C]: dense inputs are not defined for it`,
    'spatialDims',
  )
  const targets = checkTargets(loss, options.targets, ignoreIndex)
  const declared = loss.rule.state
  const carry = declared !== undefined && flag('carryState', true)
  check(
    declared === undefined || carry || declared.withoutState !== undefined,
    'INVALID_PARAMETER',
    `${loss.spec.rule} keeps ${Object.keys(declared?.fields ?? {}).join(', ')} across calls; a model without state inputs would restart it at every call: carry the state`,
    'state',
  )

  const c = numClasses
  const inputs: TraceInput[] = []
  const declare = (input: TraceInput): T => {
    inputs.push(input)
    return ops.declare(input)
  }
  const trailing = trailingDims(spatialDims)
  // A rule with E heads takes their logits side by side, [N, E·C]; labels and state stay over C classes.
  const logitsIn = declare({ name: 'logits', role: 'logits', dtype: 'float', dims: ['N', heads * c, ...trailing] })
  const rows = traceRows(ops.layout, spatialDims, logitsIn)
  // Soft targets and multi-label matrices carry the class axis, as the logits do; class ids do not.
  const withClasses = loss.task === 'multi' || targets === 'probabilities'
  const labels = withClasses
    ? rows.entries(declare({ name: 'labels', role: 'labels', dtype: 'float', dims: ['N', c, ...trailing] }))
    : rows.positions(declare({ name: 'labels', role: 'labels', dtype: 'classIds', dims: ['N', ...trailing] }))
  const logits = rows.entries(logitsIn)
  const perRow: LossContext<T> = {}
  for (const [field, name] of [
    ['sampleWeight', 'sample_weight'],
    ['mask', 'mask'],
  ] as const) {
    if (flag(field, false)) perRow[field] = rows.positions(declare({ name, role: field, dtype: 'float', dims: ['N', ...trailing] }))
  }
  // The rule's batch inputs (GCL's noise), with the logits' layout; a model of evaluation calls only takes none that only training reads.
  const trainingFlags = training === 'both' ? [true, false] : [training]
  const batchInputs = (loss.rule.batchInputs ?? []).filter((input) => input.readBy !== 'training' || trainingFlags.includes(true))
  const batchIn: Partial<Record<BatchInputField, T>> = {}
  for (const input of batchInputs) {
    batchIn[input.field] = rows.entries(declare({ name: input.name, role: 'batch', dtype: 'float', dims: ['N', c, ...trailing] }))
  }
  const fields = carry ? Object.keys(declared.fields) : []
  const stateIn: Record<string, T> = {}
  for (const field of fields) stateIn[field] = declare({ name: `state_${field}`, role: 'state', dtype: 'float', dims: [c] })
  if (carry) loss.setState(stateIn)

  const switches = loss.rule.epochSwitches
  return {
    spec: loss.spec,
    loss,
    numClasses: c,
    heads,
    logitWidth: heads * c,
    task: loss.task,
    targets,
    spatialDims,
    ignoreIndex,
    hasClosedFormGradient: loss.hasClosedFormGradient,
    inputs,
    state: carry ? { fields, initial: declared.initial(c), movedBy: declared.movedBy } : undefined,
    batchInputs,
    trainingFlags,
    epochs: epoch === undefined ? [0, ...switches] : [epoch],
    evaluate(branch) {
      const ctx: LossContext<T> = {
        // The rule's extra inputs (`rule.extraInputs`, ISDA's `isda`), as the export's context gives them.
        ...Object.fromEntries(
          (loss.rule.extraInputs ?? []).filter((key) => key in context).map((key) => [key, context[key as keyof typeof context]]),
        ),
        ...perRow,
        ...batchIn,
        epoch: branch.epoch,
        training: branch.training,
        ...(branch.batchSum === undefined ? {} : { batchSum: branch.batchSum }),
        ...(branch.batchMax === undefined ? {} : { batchMax: branch.batchMax }),
      }
      const evaluation = loss.evaluate(logits, labels, ctx, branch.reduction)
      let gradient: T | undefined
      return {
        loss: branch.reduction === 'none' ? rows.positionsBack(evaluation.loss) : evaluation.loss,
        perturbed: rows.entriesBack(evaluation.batch.logits),
        evaluation,
        nextState: carry ? evaluation.nextState : undefined,
        gradient: () => {
          gradient ??= rows.entriesBack(closedFormGradient(ops, evaluation))
          return gradient
        },
      }
    },
  }
}

/**
 * The `targets` option: `'ids'` (default) or `'probabilities'`, which only single-label rules that
 * define soft targets take (`SOFT_TARGETS` otherwise, as the core's losses refuse them), and which
 * has no ignore label.
 */
function checkTargets(
  loss: Pick<Loss<unknown>, 'task' | 'rule' | 'spec'>,
  value: unknown,
  ignoreIndex: number | undefined,
): 'ids' | 'probabilities' {
  const targets = checkOneOf(value, ['ids', 'probabilities'], 'ids', 'targets')
  if (targets === 'ids') return targets
  check(loss.task === 'single', 'INVALID_PARAMETER', 'multi-label rules take a 0/1 label matrix, not probabilities', 'targets')
  check(
    loss.rule.softTargets !== undefined,
    'SOFT_TARGETS',
    `rule ${loss.spec.rule} does not define soft targets (probability rows): its method reads each sample's class; pass class ids`,
    'targets',
  )
  check(
    ignoreIndex === undefined,
    'INVALID_PARAMETER',
    'an ignore label marks class ids; leave positions of soft targets out with the mask',
    'ignoreIndex',
  )
  return targets
}
