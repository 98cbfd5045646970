import type { Constants } from '../constants.js'
import type { TensorOps } from '../ops.js'
import type { SoftTargetForm } from '../targets.js'

/**
 * What a loss call may need beyond logits and labels.
 */
export interface LossContext<T = never> {
  /** The current epoch (0-based); switches deferred re-weighting (LDAM-DRW) on. Default 0. */
  epoch?: number
  /**
   * Whether this call is a training step. Stateful rules (the `confidence` split's running
   * averages) update their state only on training calls. Default `true`.
   */
  training?: boolean
  /** ISDA's classifier weights and class feature covariances, when the spec does not carry them. */
  isda?: IsdaInputs
  /**
   * GCL's Gaussian cloud (docs/rules/gaussian-clouded-logit.md): `ε` with the logits' shape
   * (`[N, C]`; dense: their layout), every entry in `[−1, 1]`. Read by training calls only; a
   * training call without it draws it with the backend's generator (`TensorOps.randomNormal`,
   * seeded by `seed`). A rule declares it in `batchInputs`; the loss checks its shape and values.
   */
  noise?: T
  /**
   * The seed of what a training call draws where a rule draws random values and the call does not
   * pass them (GCL's `noise`): the same seed gives the same draw on a backend, so that a step can be
   * replayed. A trainer passes a new one each step (the step's index, say). Absent: the backend's
   * own generator (the reference: a seed from `Math.random`; tfjs: its global generator). An
   * integer in `[0, 2^32)`.
   */
  seed?: number
  /**
   * Weights `s_i ≥ 0` of the samples (`[N]`, float; dense inputs: per image or per position): the reduced loss weights sample `i`'s loss by
   * `s_i` (docs/spec.md#8-reductions-sample-weights-and-masks). They do not enter the rule's batch
   * statistics. Absent: 1.
   */
  sampleWeight?: T
  /**
   * Which rows count (`[N]`, float 0 or 1; dense inputs: `[N]` per image or `[N, d1, …, dk]` per
   * position): a row with 0 (padding, say) has loss 0, gradient 0, and takes no part in any batch
   * statistic of the rule (LPL's class sums, the confidence split, the presets). The mean divides
   * by the number of counted rows. Absent: every row counts. The loss's `ignoreIndex` leaves rows
   * out the same way.
   */
  mask?: T
  /**
   * The sum over every worker of a statistic this worker took over its shard of the batch
   * (docs/spec.md#9-data-parallel-training): an all-reduce, for data-parallel training. Every
   * per-class batch statistic of a rule (LPL's class sums and counts, the confidence split, the
   * presets' class means) and the reduction's normalizer go through it, so that workers that each
   * see a shard compute the `δ` and loss of the whole batch. Absent: the identity (one worker).
   */
  batchSum?(x: T): T
  /**
   * The maximum over every worker of a statistic this worker took over its shard (an all-reduce with
   * `max`), for data-parallel training beside `batchSum`: the shift of a log-sum-exp over the whole
   * batch (a rule's batch term, LADE's `S_c`) is the maximum over every worker's rows first
   * (docs/spec.md#9-data-parallel-training). A rule that needs it refuses a context with `batchSum`
   * and without it. Absent: the identity (one worker).
   */
  batchMax?(x: T): T
}

/** The fields of {@link LossContext} that carry a rule's per-batch tensor inputs (see {@link BatchInputDeclaration}). */
export type BatchInputField = 'noise'

/**
 * A tensor with the logits' shape that a rule reads from its call's context beside the logits and
 * labels, one per batch (GCL's `noise`). The loss checks it (shape, and values as `valid` says) and
 * hands the rule its rows; an exporter makes it an input of the model, named `name` (an ONNX graph
 * input, float32 with the logits' shape; a PyTorch `forward` argument, `Optional[Tensor] = None`,
 * drawn with `draw` when left out on a training call). Adapters read this declaration, never the rule.
 */
export interface BatchInputDeclaration {
  /** The context field that carries it. */
  readonly field: BatchInputField
  /** Its name in an exported model (`noise`). */
  readonly name: string
  /** The closed range `[low, high]` its entries lie in (GCL's noise: `[−1, 1]`), which the loss and the exporters check. */
  readonly bounds: readonly [number, number]
  /** `'training'`: only training calls read it (an evaluation call, and an evaluation model, go without). */
  readonly readBy: 'training'
  /**
   * How a training call that leaves it out gets it: drawn on the backend, with `like`'s shape (the
   * logits, or their rows) and the call's `seed`. Uses `ops.randomNormal`; throws
   * `MISSING_CONTEXT` naming the field on a backend without it.
   */
  draw<T>(ops: TensorOps<T>, like: T, seed: number | undefined): T
}

/** Inputs of ISDA's perturbation: last-layer weights `W` (`[C][D]`) and covariances `Σ_c` (`[C][D][D]`). */
export interface IsdaInputs {
  /** Last-layer weights `W`, `[C][D]`: row `w_c` is class `c`'s weight vector. */
  weights: number[][]
  /** Feature covariance `Σ_c` of each class, `[C][D][D]` (e.g. running estimates over the training features). */
  covariances: number[][][]
}

/**
 * A rule's view of a batch after perturbation, `logits = logitScale ⊙ u + δ`. Single-label rules:
 * the loss is the (class-weighted) mean cross-entropy of `logits`, `δ = δ_y`. Multi-label rules:
 * the loss is `mean_{i,c} w_ic · BCE(z_ic, Y_ic)` over all `N·C` entries, `w` the `entryWeights`.
 */
export interface PerturbedBatch<T> {
  /** The perturbed logits `z`, `[N, C]` (a rule with `E` heads: `[N, E·C]`, head-major, as its logits). */
  logits: T
  /** Class weights `w_c` (`[C]`); the loss is then `Σ w_{y_i} ℓ_i / Σ w_{y_i}`. Absent: plain mean. */
  classWeights?: T
  /**
   * Multi-label rules: a factor `w_ic` on each entry's BCE, broadcastable to `[N, C]`; the mean stays
   * over all `N·C` entries. Absent: 1.
   */
  entryWeights?: T
  /** `∂z/∂u` as a factor broadcastable to `[N, C]` (a scale `s` or a per-class vector). Absent: 1. */
  logitScale?: T
  /**
   * The unperturbed logits that explanations measure the perturbation against, with their scale.
   * Absent: the raw logits `u`. LDAM gives `s·u` (scale `s`): its class-level perturbation is the
   * margin; `s` is a temperature shared by every class.
   */
  reference?: {
    /** The reference logits `r`, `[N, C]` (LDAM: `s·u`). */
    logits: T
    /** `∂r/∂u`, broadcastable to `[N, C]`; absent: 1. */
    logitScale?: T
  }
}

/**
 * A rule's mutable state, named `[C]` tensors held by the loss and replaced only after a call
 * succeeds. LPL's `confidence` split keeps `confidence` (the running mean true-class confidence of
 * each class) and `seen` (1 for classes seen so far); its `learned` split keeps `theta` (the signed
 * bounds, set by the trainer).
 */
export type RuleState<T> = Readonly<Record<string, T>>

/** What one entry of a state field may hold: a check of one value and its description for errors. */
export interface StateField {
  /** What valid values are, for errors (`numbers in [0, 1]`). */
  readonly what: string
  /** Whether `v` is a valid entry. */
  valid(v: number): boolean
}

/**
 * The state a rule keeps: named `[C]` tensors held by the loss, moved by training calls or set by a
 * trainer. Saving and loading (`saveRuleState`, `loadRuleState`), `Loss.setState` and the exporters
 * (an ONNX graph's state inputs and outputs, a PyTorch module's buffers) read it from here.
 */
export interface RuleStateDeclaration {
  /** Each field's name and what its entries may hold. */
  readonly fields: Readonly<Record<string, StateField>>
  /** The state a fresh loss behaves as having, for `C` classes, one list of `C` numbers per field. */
  initial(numClasses: number): Readonly<Record<string, readonly number[]>>
  /**
   * What moves it: `'training'`, each training call (`ctx.training` not false) returns the next
   * state; `'trainer'`, the loss only reads it and a trainer sets it (`Loss.setState`).
   */
  readonly movedBy: 'training' | 'trainer'
  /**
   * What a model without state inputs computes, when that is a loss of its own (LPL's `confidence`
   * split: the split of the batch alone, as the first call of a fresh loss). Absent: such a model
   * would restart the state silently at every call, and exporters refuse to build one for training.
   */
  readonly withoutState?: string
}

/** One call of a rule's `perturb`: the batch, its labels in both forms, and what else the call knows. */
export interface PerturbCall<T> {
  /** The logits `u`, `[N, C]`; for a rule with `E` heads (`Rule.heads`), `[N, E·C]`, head-major. */
  logits: T
  /**
   * Class ids `[N]` (int32; ignored positions as class 0, with a 0 in `rowMask`), or for a
   * multi-label rule the 0/1 matrix `[N, C]`. For soft targets, the targets `[N, C]`: only rules
   * that declare `softTargets` get them, and they read `labelMatrix`.
   */
  labels: T
  /**
   * The labels as a float `[N, C]` matrix: one-hot rows of the class ids (single-label; a
   * masked-out or ignored row is all zeros), the soft targets (rules with `softTargets: 'linear'`),
   * one part of their top-two split (`'top-two'`), or the 0/1 matrix itself (multi-label). Built
   * once per call by the loss, which reduces the batch with it.
   */
  labelMatrix: T
  /**
   * `[N, 1]` float: 1 for the rows that count, 0 for those `ctx.mask` leaves out; undefined when
   * every row counts. A masked-out row takes no part in any batch statistic: per-class sums go
   * through `classSums`, which applies it.
   */
  rowMask: T | undefined
  /** The class count `C` of this call. */
  numClasses: number
  /** The call's context (epoch, training flag, ISDA's inputs, sample weights and mask). */
  ctx: LossContext<T>
  /** The rule's current state (`undefined` before the first training call). */
  state: RuleState<T> | undefined
  /** The loss's batch-independent tensors, made once and reused by every call (see `Constants`). */
  constants: Constants<T>
}

/**
 * A term of the loss that belongs to the batch as a whole rather than to any sample
 * (docs/spec.md#86-batch-terms): LADE's regularizer, made of class statistics over every counted
 * row. The loss adds `value` to its mean, spread evenly over the counted rows (`s_i·m_i·value/M` per
 * row for `'mean'`, `s_i·m_i·value` for `'sum'` and `'none'`, `s` the sample weights, which weight a
 * row's part as they weight its loss), and `gradient`, scaled alike, to its closed-form gradient;
 * automatic differentiation goes through `value`'s ops.
 */
export interface BatchTerm<T> {
  /**
   * The term, a scalar: what it adds to the mean loss of the whole batch (every worker computes the
   * same value from statistics summed across workers).
   */
  value: T
  /**
   * `∂value/∂u`, `[N, C]`: the closed-form gradient of the term w.r.t. this worker's logits, 0 on
   * rows that do not count. The loss scales it by `Σ_i s_i·m_i` (divided by `M` for the mean).
   */
  gradient: T
}

/** The result of one perturbation: the batch, and the state to keep if the call succeeds. */
export interface Perturbation<T> {
  batch: PerturbedBatch<T>
  state?: RuleState<T>
  /** A term of the whole batch the loss adds to its reduced loss and gradient (see {@link BatchTerm}). */
  batchTerm?: BatchTerm<T>
}

/** What a rule's labels are: class ids `[N]` (`'single'`) or a 0/1 matrix `[N, C]` (`'multi'`). */
export type LabelTask = 'single' | 'multi'

/**
 * A rule bound to nothing but its spec. `perturb` receives the backend at each call, so one rule
 * object serves every backend.
 */
export interface Rule {
  /**
   * The labels `perturb` receives and the loss its batch is reduced with: `'single'` (absent):
   * int32 class ids `[N]`, cross-entropy; `'multi'`: a float 0/1 matrix `[N, C]`, binary
   * cross-entropy per entry. `createRule` sets it from the rule's definition in the registry.
   */
  readonly task?: LabelTask
  /** The class count fixed by the spec, if it fixes one. */
  readonly numClasses: number | undefined
  /**
   * The number `E` of heads whose logits the rule takes side by side (docs/spec.md#313-multi-head-rules):
   * logits `[N, E·C]`, head-major (columns `e·C … e·C + C − 1` are head `e`), labels over the `C`
   * classes. The loss checks the width `E·C`, exporters declare it, and the rule's loss term scores
   * `[N, E·C]` logits against the `[N, C]` label matrix; predictions are the arg-max of the mean of
   * the heads' logits (`meanOfHeads`). Dense inputs and soft targets are refused. Absent: 1.
   */
  readonly heads?: number
  /**
   * True when the perturbation depends differentiably on the logits (`gradient: 'through'`,
   * `official-longtail`): then there is no closed-form gradient and autodiff must go through it.
   */
  readonly gradientThrough: boolean
  /**
   * The field of the spec that fixes the class count, as a path (`classCounts`, `base.directions`,
   * `numClasses`), when `numClasses` is fixed: what an error about the class count names.
   */
  readonly numClassesFrom?: string
  /**
   * The class count a call's extra inputs fix, when the spec does not (ISDA's `ctx.isda.weights`
   * has one row per class); what an exporter reads from the inputs it freezes into its model.
   */
  readonly numClassesOf?: (ctx: LossContext<unknown>) => number | undefined
  /** The training-set class counts `n_c` the spec carries (its own or its base's), for post-hoc logit adjustment. */
  readonly classCounts?: readonly number[]
  /**
   * The `τ` of the rule's shift by `τ·log π` when the rule is exactly that shift (logit adjustment):
   * the default of a post-hoc adjustment made from the spec.
   */
  readonly priorTau?: number
  /**
   * The epochs, in increasing order, at which the rule starts computing otherwise (LDAM-DRW's
   * `drw.fromEpoch`): an exporter writes one branch per interval. Absent or empty: none.
   */
  readonly epochSwitches?: readonly number[]
  /**
   * The extra inputs a call may pass in its context beside logits and labels, by their
   * `LossContext` field (ISDA's `isda`): exporters freeze them into the model.
   */
  readonly extraInputs?: readonly (keyof LossContext<unknown>)[]
  /**
   * The per-batch tensors, with the logits' shape, a call may pass in its context (GCL's `noise`; see
   * {@link BatchInputDeclaration}): the loss checks them and gives `perturb` their rows; exporters
   * make them inputs of the model.
   */
  readonly batchInputs?: readonly BatchInputDeclaration[]
  /** The state the rule keeps across calls, for rules that keep state (see {@link RuleStateDeclaration}). */
  readonly state?: RuleStateDeclaration
  /** The rule's own equivalences of `lpl verify`, by key (its definition's `equivalences`; `createRule` fills it in). */
  readonly equivalences?: readonly string[]
  /**
   * The loss its perturbed batches are scored with (see {@link LossTerm}): the focal modulation of
   * `focal` and the distribution-balanced loss. Absent: the task's plain cross-entropy.
   */
  readonly term?: LossTerm
  /**
   * How the rule takes soft targets (probability rows, docs/spec.md#11-soft-targets): `'linear'`
   * when its perturbation reads no label, `'top-two'` for LDAM's split of a mixed target (see
   * `SoftTargetForm`). Absent: the method leaves them undefined, and the loss refuses them.
   */
  readonly softTargets?: SoftTargetForm
  /**
   * How `δ` depends on the sample beyond its class, for a rule whose perturbation is not class-level:
   * `'scores'`, through the softmax of the sample's logits (seesaw's compensation; a constant added to
   * a row still changes nothing), or `'logits'`, through the logits' own values (ALA's difficulty
   * factor `(1 − u_{i,y_i})/2`, which a row's constant moves). Absent: `δ` is the same for every
   * sample of a class. `lpl verify` checks that, and the row-shift invariance, only where they hold
   * (docs/spec.md#37-equivalences).
   */
  readonly sampleDelta?: 'scores' | 'logits'
  /** Where the rule's search runs on a backend (rules with a search loop: LPL). */
  readonly searchPath?: <T>(ops: TensorOps<T>) => 'host' | 'ops'
  /**
   * The perturbed batch of one call (see {@link PerturbCall}). Returns the batch and, for stateful
   * rules, the state to move to if the call succeeds; never changes its inputs.
   */
  perturb<T>(ops: TensorOps<T>, call: PerturbCall<T>): Perturbation<T>
}

/**
 * What a loss tells of its rule beyond its math (`Loss.rule`): the facts the rule declares in its
 * module, so that adapters, exporters and the command line never rebuild a rule or ask its name.
 */
export interface RuleFacts
  extends Pick<
    Rule,
    'numClassesFrom' | 'numClassesOf' | 'classCounts' | 'priorTau' | 'extraInputs' | 'batchInputs' | 'state' | 'softTargets' | 'sampleDelta'
  > {
  /** The rule's own equivalences of `lpl verify`, by their key in `equivalences` (empty: only those of every rule). */
  readonly equivalences: readonly string[]
  /** The loss term its batches are scored with (the task's plain one unless the rule declares another). */
  readonly term: LossTerm
  /** The labels the rule takes. */
  readonly task: LabelTask
  /** The class count the spec fixes, if it fixes one. */
  readonly numClasses: number | undefined
  /** The number `E` of heads of the logits (`[N, E·C]`; 1: plain `[N, C]` logits), see {@link Rule.heads}. */
  readonly heads: number
  /** True when autodiff must go through the perturbation (no closed-form gradient). */
  readonly gradientThrough: boolean
  /**
   * The epochs, in increasing order, at which the loss starts computing otherwise: the rule's own
   * (LDAM-DRW's) and the spec's `weighting.fromEpoch` when above 0. Empty: the epoch changes nothing.
   */
  readonly epochSwitches: readonly number[]
}

/**
 * The loss a rule's perturbed logits `z` are scored with (docs/spec.md#83-label-smoothing): its
 * value and its closed-form residual `∂value/∂z`, against labels smoothed by `ε`. The reduction
 * (`reducedLoss`), the closed-form gradient (`closedFormBatchGradient`) and `explain` ask the
 * term; a rule declares the term it uses (`Rule.term`, default the task's plain one), and a new
 * loss modulation is one more term here.
 */
export interface LossTerm {
  /** Its name, as the docs and `explain` give it: `cross-entropy`, `focal (γ = 2)`, … */
  readonly name: string
  /** The labels it scores: class ids (`'single'`) or a 0/1 matrix (`'multi'`). */
  readonly task: LabelTask
  /** Whether it is the plain cross-entropy of its task (CE, or BCE per entry), with no modulation. */
  readonly plain: boolean
  /**
   * Single-label: the per-sample losses `ℓ_i` (`[N, 1]`; a rule with `E` heads gives its term logits
   * `[N, E·C]` and the `[N, C]` label matrix); multi-label: the per-entry losses `ℓ_ic`
   * (`[N, C]`), before the rule's entry weights. `labelMatrix` is one-hot (single-label) or 0/1.
   */
  value<T>(ops: TensorOps<T>, logits: T, labelMatrix: T, epsilon: number): T
  /**
   * `∂value/∂z`, `[N, C]` (`[N, E·C]`, the logits' shape, for a rule with `E` heads): row `i` is `∂ℓ_i/∂z_i` (single-label), entry `(i, c)` is `∂ℓ_ic/∂z_ic`
   * (multi-label). `soft`: the label matrix holds soft targets rather than one-hot (or zero) rows.
   */
  residual<T>(ops: TensorOps<T>, logits: T, labelMatrix: T, epsilon: number, soft?: boolean): T
}
