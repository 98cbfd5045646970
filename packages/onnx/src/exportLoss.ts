import { type LossContext, type Reduction, type RuleInput, type RuleSpec, parseSpec, ruleFacts } from '@logit-perturb/core'
import { type TraceOps, check, checkOneOf, traceLoss } from '@logit-perturb/core/backend'
import { onnxDenseLayout } from './denseLayout.js'
import { GraphBuilder, MIN_OPSET, type OutputRequest } from './graph.js'
import { serializeModel } from './serialize.js'
import { createSymbolicOps } from './symbolicOps.js'
import type { SymbolicTensor } from './tensor.js'

/** Options of {@link exportLossModel}. */
export interface ExportLossOptions {
  /**
   * The class count `C`; required when neither the spec nor `context.isda` fixes it (`ce`,
   * `official-balanced`, `lpl` with the confidence split).
   */
  numClasses?: number
  /** The ONNX opset, 17 (default; what ONNX 1.12's checker knows) to 21. */
  opset?: number
  /** The graph's name; default `logit_perturb_<rule>`. */
  name?: string
  /**
   * Host-side context frozen into the graph: `epoch` (switches LDAM's deferred re-weighting on when
   * `epoch ≥ drw.fromEpoch`; default 0) and ISDA's classifier weights and covariances when the spec
   * does not carry them. Both are constants of the exported model.
   */
  context?: Pick<LossContext, 'epoch' | 'isda'>
  /**
   * How a stateful rule's state (`loss.rule.state`: seesaw's `counts`, LPL's `confidence` and
   * `seen`, the learned split's `theta`) goes through the model. `'io'`: each field is an input
   * `state_<field>` (float32 `[C]`; the rule's fresh value, e.g. zeros, for a fresh start) and, in
   * a training graph, the moved state an output `next_state_<field>`, so a training loop carries
   * it. `'batch'`: the model has no state, which only LPL's `confidence` split allows (its split is
   * then the batch's alone, as the first call of a fresh loss: the momentum-0 semantics); for the
   * others it would restart the state at every call, and `INVALID_PARAMETER` refuses it. Default:
   * `'batch'` for the confidence split and rules without state, `'io'` for the others.
   */
  state?: 'batch' | 'io'
  /**
   * Whether the graph computes training calls (default true: a stateful rule moves its state and
   * the graph outputs it) or evaluation calls (`false`: the state is read, not moved, as
   * `loss.evaluate(..., { training: false })`; no next-state outputs).
   */
  training?: boolean
  /**
   * How the `loss` output reduces the per-sample losses (docs/spec.md#8-reductions-sample-weights-and-masks):
   * `'mean'` (default) and `'sum'` give a scalar, `'none'` the per-sample losses `[N]`.
   */
  reduction?: Reduction
  /** Adds an input `sample_weight`, float32 `[N]` (finite, `≥ 0`; unchecked by the graph). Default false. */
  sampleWeight?: boolean
  /**
   * Adds an input `mask`, float32 `[N]` of 0 and 1 (unchecked by the graph): rows with 0 have loss
   * and gradient 0 and take no part in the rule's batch statistics. Default false.
   */
  mask?: boolean
  /**
   * Dense inputs (docs/spec.md#10-dense-inputs): the number `k` of trailing axes, 0 (default) to
   * 8. The logits are then float32 `[N, C, d1, …, dk]` (classes on axis 1, the sizes `d1` … dynamic
   * like `N`), the labels int64 `[N, d1, …, dk]`, `sample_weight` and `mask` per position
   * `[N, d1, …, dk]`; each position is a sample. `perturbed_logits` and `grad_logits` have the
   * logits' layout, the `'none'` loss the labels'.
   */
  spatialDims?: number
  /**
   * A class id that marks a position as unlabelled (255 in mmsegmentation, −100 in PyTorch), baked
   * into the graph: such a position adds nothing to the loss, to the rule's batch statistics or
   * state, or to the mean's normaliser, and its gradient is exactly 0. Class ids only. Default: none.
   */
  ignoreIndex?: number
  /**
   * What `labels` holds: `'ids'` (default), int64 class ids; `'probabilities'`, float32 soft targets
   * with the logits' shape (docs/spec.md#11-soft-targets), for the rules that define them (`ce`,
   * `logit-adjustment`, `vs`: linear in the targets; `ldam`: its top-two split). Other rules refuse
   * them with `SOFT_TARGETS`.
   */
  targets?: 'ids' | 'probabilities'
}

/** An exported loss: the model bytes and what they hold. */
export interface ExportedLossModel {
  /** `ModelProto` bytes. */
  bytes: Uint8Array
  /** The validated spec, defaults filled in (also stored in the model's metadata as `logit_perturb.spec`). */
  spec: RuleSpec
  /** The class count `C` of the graph (the width of `logits`, or of each head's block of them). */
  numClasses: number
  /** The rule's heads `E` (`Rule.heads`): `logits`, `perturbed_logits` and `grad_logits` are `[N, E·C]`, head-major; 1 for most rules. */
  heads: number
  /** The opset of the default ONNX domain the model imports. */
  opset: number
  /**
   * Input names in order: `logits`, `labels`, then `sample_weight` and `mask` when asked for, the
   * rule's batch inputs (GCL's `noise`, float32 with the logits' shape, in a training graph), and
   * `state_<field>` with `state: 'io'`.
   */
  inputs: string[]
  /** `'single'`: `labels` is int64 `[N]` (or soft targets, see `targets`); `'multi'`: `labels` is float32 `[N, C]` of 0 and 1. */
  task: 'single' | 'multi'
  /** What a single-label model's `labels` holds: int64 class ids, or float32 probabilities with the logits' shape. */
  targets: 'ids' | 'probabilities'
  /** The number of trailing axes of dense inputs (0: logits `[N, C]`). */
  spatialDims: number
  /** The ignore label baked into the graph, or undefined (also in the metadata, `logit_perturb.ignore_index`). */
  ignoreIndex: number | undefined
  /** How `loss` is reduced: a scalar for `'mean'` and `'sum'`, `[N]` (dense: `[N, d1, …, dk]`) for `'none'`. */
  reduction: Reduction
  /** Whether the graph computes training calls (see {@link ExportLossOptions.training}). */
  training: boolean
  /** Output names in order: `loss`, `perturbed_logits`, `grad_logits` when the rule has a closed-form gradient, and `next_state_<field>` in a training graph with `state: 'io'`. */
  outputs: string[]
  /** Whether `grad_logits` is an output (`loss.hasClosedFormGradient`). */
  hasClosedFormGradient: boolean
}

/**
 * Exports the loss a spec describes as an ONNX model, a rendering of the core's trace of the loss
 * (`traceLoss`: the rule's own code run on the symbolic backend): nothing is re-derived here. The
 * graph has one branch of the trace: the training flag of `options.training`, the epoch of
 * `options.context.epoch`. Batch-dependent
 * choices (the `confidence` split, `official-balanced`'s signs and step counts) are graph
 * operations evaluated on each batch; LPL's search is unrolled to its largest step count.
 *
 * Inputs: `logits` float32 `[N, C]` and `labels` int64 `[N]` (class ids in `[0, C)`; the graph
 * does not check them), with `N` dynamic; a training graph of a rule that reads a batch input also
 * takes it, float32 with the logits' shape (GCL's `noise`, `ε ∈ [−1, 1]`: a graph draws nothing); for multi-label rules `labels` is float32 `[N, C]` (0 or
 * 1 per entry, unchecked as well), and with `targets: 'probabilities'` float32 soft targets
 * `[N, C]`. With `spatialDims: k` the inputs are dense: logits `[N, C, d1, …, dk]`, labels
 * `[N, d1, …, dk]` (soft targets: the logits' shape), every position a sample, and with
 * `ignoreIndex` the labels may hold that id at positions that count for nothing. Outputs:
 * - `loss`, float32 scalar: `Σ_i w_{y_i} CE(z_i, y_i) / Σ_i w_{y_i}` (multi-label:
 *   `mean_{i,c} w_ic BCE(z_ic, Y_ic)`), or as `options.reduction` says, with the optional inputs
 *   `sample_weight` and `mask` (`[N]`) taken into it as the core's losses take them;
 * - `perturbed_logits`, float32 `[N, C]` (dense: the logits' layout): `z = a ⊙ u + δ_y`
 *   (multi-label: `z_ic = a_ic u_ic + δ_ic`);
 * - `grad_logits`, float32 `[N, C]` (dense: the logits' layout): `∂L/∂u = (w_{y_i}/Σw)·a ⊙ (softmax(z_i) − e_{y_i})`
 *   (multi-label: `w_ic a_ic (σ(z_ic) − Y_ic)/(N·C)`), the core's closed form, for rules whose
 *   perturbation is a constant for the gradient. Rules that
 *   differentiate through their perturbation (`official-longtail`, `lpl` with `gradient: 'through'`)
 *   have no closed form, and ONNX has no automatic differentiation in its standard operators (and
 *   onnxruntime-web no training API), so the output is absent.
 *
 * Throws `INVALID_PARAMETER` naming the option when an option is out of range, `numClasses` is
 * missing or disagrees with the spec, or `state: 'batch'` would restart a rule's state;
 * `SOFT_TARGETS` for `targets: 'probabilities'` on a rule that does not define them; and the spec's
 * own errors (`parseSpec`).
 */
export function exportLossModel(spec: RuleInput, options: ExportLossOptions = {}): ExportedLossModel {
  const parsed = parseSpec(spec)
  check(typeof options === 'object' && options !== null, 'INVALID_PARAMETER', 'must be an object of export options', 'options')
  check(
    options.name === undefined || (typeof options.name === 'string' && options.name.length > 0),
    'INVALID_PARAMETER',
    `must be a non-empty string, got ${JSON.stringify(options.name) ?? String(options.name)}`,
    'name',
  )
  const graph = new GraphBuilder({ opset: options.opset ?? MIN_OPSET })
  const symbolic = createSymbolicOps(graph)
  const reduction = checkOneOf(options.reduction, REDUCTIONS, 'mean', 'reduction')
  const training = options.training ?? true
  check(typeof training === 'boolean', 'INVALID_PARAMETER', `must be true or false, got ${String(training)}`, 'training')
  // A rule whose state means nothing without it carries it by default; one that has a stateless
  // meaning (LPL's confidence split: the batch's split alone) keeps the stateless model by default.
  const keeps = ruleFacts(parsed).state
  const state = checkOneOf(
    options.state,
    ['batch', 'io'],
    keeps !== undefined && keeps.withoutState === undefined ? 'io' : 'batch',
    'state',
  )
  check(
    (options.spatialDims as unknown) !== 'any',
    'INVALID_PARAMETER',
    'an ONNX graph has a static rank: give the number of trailing axes',
    'spatialDims',
  )
  const ops: TraceOps<SymbolicTensor> = {
    ...symbolic,
    // Every run-time size is a named symbolic dimension: N, and d1 … dk of dense inputs.
    declare: (input) => symbolic.input(input.name, input.dtype === 'classIds' ? 'int64' : 'float32', input.dims),
    layout: onnxDenseLayout(symbolic),
  }
  const trace = traceLoss(ops, parsed, {
    numClasses: options.numClasses,
    context: { ...options.context, epoch: options.context?.epoch ?? 0 },
    sampleWeight: options.sampleWeight,
    mask: options.mask,
    carryState: state === 'io',
    training,
    spatialDims: options.spatialDims,
    ignoreIndex: options.ignoreIndex,
    targets: options.targets,
  })
  const spatialDims = trace.spatialDims as number
  const c = trace.numClasses
  const [epoch] = trace.epochs as [number]
  const branch = trace.evaluate({ training, epoch, reduction })

  const trailing = Array.from({ length: spatialDims }, (_, k) => `d${k + 1}`)
  // A rule with E heads: their logits side by side, [N, E·C]; labels and state over the C classes.
  const batchDims = ['N', trace.logitWidth, ...trailing]
  const outputs: OutputRequest[] = [
    { name: 'loss', source: branch.loss.name, elemType: 'float32', dims: reduction === 'none' ? ['N', ...trailing] : [] },
    { name: 'perturbed_logits', source: branch.perturbed.name, elemType: 'float32', dims: batchDims },
  ]
  if (trace.hasClosedFormGradient)
    outputs.push({ name: 'grad_logits', source: branch.gradient().name, elemType: 'float32', dims: batchDims })
  // A training call gives the next state; an evaluation call reads the state and gives none.
  if (training && trace.state?.movedBy === 'training' && branch.nextState !== undefined) {
    for (const field of trace.state.fields) {
      outputs.push({ name: `next_state_${field}`, source: branch.nextState[field]!.name, elemType: 'float32', dims: [c] })
    }
  }
  const inputs = trace.inputs.map((i) => i.name)
  const model = graph.toModel({
    outputs,
    inputs,
    name: options.name ?? `logit_perturb_${parsed.rule.replace(/-/g, '_')}`,
    docString: `Loss of the logit-perturb rule ${parsed.rule} (${training ? 'training' : 'evaluation'} calls): inputs ${inputs.join(', ')}; outputs ${outputs.map((o) => o.name).join(', ')}.`,
    metadata: {
      'logit_perturb.spec': JSON.stringify(parsed),
      'logit_perturb.num_classes': String(c),
      ...(trace.heads === 1 ? {} : { 'logit_perturb.heads': String(trace.heads) }),
      'logit_perturb.training': String(training),
      'logit_perturb.targets': trace.task === 'multi' ? 'multi-label' : trace.targets,
      ...(trace.ignoreIndex === undefined ? {} : { 'logit_perturb.ignore_index': String(trace.ignoreIndex) }),
      // The rule's batch inputs (GCL's noise) and their bounds, which runLossModel checks.
      ...(trace.batchInputs.length === 0
        ? {}
        : { 'logit_perturb.batch_inputs': JSON.stringify(trace.batchInputs.map((b) => ({ name: b.name, bounds: b.bounds }))) }),
    },
  })
  return {
    bytes: serializeModel(model),
    spec: parsed,
    numClasses: c,
    heads: trace.heads,
    opset: graph.opset,
    inputs,
    task: trace.task,
    targets: trace.targets,
    spatialDims,
    ignoreIndex: trace.ignoreIndex,
    reduction,
    training,
    outputs: outputs.map((o) => o.name),
    hasClosedFormGradient: trace.hasClosedFormGradient,
  }
}

const REDUCTIONS = ['mean', 'sum', 'none'] as const satisfies readonly Reduction[]
