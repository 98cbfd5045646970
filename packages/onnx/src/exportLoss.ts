import {
  type LossContext,
  type Reduction,
  type RuleInput,
  type RuleSpec,
  checkOneOf,
  closedFormGradient,
  createLoss,
  exportClassCount,
  parseSpec,
} from '@logit-perturb/core'
import { GraphBuilder, MIN_OPSET, type OutputRequest } from './graph.js'
import { serializeModel } from './serialize.js'
import { createSymbolicOps } from './symbolicOps.js'

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
   * LPL's `confidence` split keeps running class confidences across batches (`momentum > 0`).
   * `'batch'` (default): the model has no state; the split is computed from the batch alone, as the
   * first call of a fresh loss does (the momentum-0 semantics). `'io'`: the state is an input pair
   * `state_confidence`, `state_seen` (float32 `[C]`; zeros for a fresh start) and the updated state
   * an output pair `next_state_confidence`, `next_state_seen`, so a training loop can carry it.
   * Ignored by rules without state.
   */
  state?: 'batch' | 'io'
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
}

/** An exported loss: the model bytes and what they hold. */
export interface ExportedLossModel {
  /** `ModelProto` bytes. */
  bytes: Uint8Array
  /** The validated spec, defaults filled in (also stored in the model's metadata as `logit_perturb.spec`). */
  spec: RuleSpec
  /** The class count `C` of the graph (the width of `logits`). */
  numClasses: number
  /** The opset of the default ONNX domain the model imports. */
  opset: number
  /** Input names in order: `logits`, `labels`, then `sample_weight` and `mask` when asked for, and the state pair with `state: 'io'`. */
  inputs: string[]
  /** `'single'`: `labels` is int64 `[N]`; `'multi'`: `labels` is float32 `[N, C]` of 0 and 1. */
  task: 'single' | 'multi'
  /** How `loss` is reduced: a scalar for `'mean'` and `'sum'`, `[N]` for `'none'`. */
  reduction: Reduction
  /** Output names in order: `loss`, `perturbed_logits`, `grad_logits` when the rule has a closed-form gradient (and the state pair). */
  outputs: string[]
  /** Whether `grad_logits` is an output (`loss.hasClosedFormGradient`). */
  hasClosedFormGradient: boolean
}

/**
 * Exports the loss a spec describes as an ONNX model, built by running the core's own rule code
 * (`createLoss(...).evaluate`) on the symbolic backend: nothing is re-derived here. Batch-dependent
 * choices (the `confidence` split, `official-balanced`'s signs and step counts) are graph
 * operations evaluated on each batch; LPL's search is unrolled to its largest step count.
 *
 * Inputs: `logits` float32 `[N, C]` and `labels` int64 `[N]` (class ids in `[0, C)`; the graph
 * does not check them), with `N` dynamic; for multi-label rules `labels` is float32 `[N, C]` (0 or
 * 1 per entry, unchecked as well). Outputs:
 * - `loss`, float32 scalar: `Σ_i w_{y_i} CE(z_i, y_i) / Σ_i w_{y_i}` (multi-label:
 *   `mean_{i,c} w_ic BCE(z_ic, Y_ic)`), or as `options.reduction` says, with the optional inputs
 *   `sample_weight` and `mask` (`[N]`) taken into it as the core's losses take them;
 * - `perturbed_logits`, float32 `[N, C]`: `z = a ⊙ u + δ_y` (multi-label: `z_ic = a_ic u_ic + δ_ic`);
 * - `grad_logits`, float32 `[N, C]`: `∂L/∂u = (w_{y_i}/Σw)·a ⊙ (softmax(z_i) − e_{y_i})`
 *   (multi-label: `w_ic a_ic (σ(z_ic) − Y_ic)/(N·C)`), the core's closed form, for rules whose
 *   perturbation is a constant for the gradient. Rules that
 *   differentiate through their perturbation (`official-longtail`, `lpl` with `gradient: 'through'`)
 *   have no closed form, and ONNX has no automatic differentiation in its standard operators (and
 *   onnxruntime-web no training API), so the output is absent.
 *
 * Throws `INVALID_PARAMETER` when `numClasses` is missing or disagrees with the spec, and the
 * spec's own errors (`parseSpec`).
 */
export function exportLossModel(spec: RuleInput, options: ExportLossOptions = {}): ExportedLossModel {
  const parsed = parseSpec(spec)
  const graph = new GraphBuilder({ opset: options.opset ?? MIN_OPSET })
  const ops = createSymbolicOps(graph)
  const reduction = options.reduction ?? 'mean'
  const loss = createLoss(ops, parsed, { reduction })
  const numClasses = exportClassCount(loss, options.numClasses, options.context)
  const state = checkOneOf(options.state, ['batch', 'io'], 'batch', 'state')

  const c = numClasses
  const logits = ops.input('logits', 'float32', [-1, c])
  const labels = loss.task === 'multi' ? ops.input('labels', 'float32', [-1, c]) : ops.input('labels', 'int64', [-1])
  const stateful = state === 'io' && parsed.rule === 'lpl' && parsed.split === 'confidence'
  const inputs = ['logits', 'labels']
  const rowInputs: LossContext<typeof logits> = {}
  if (options.sampleWeight) {
    rowInputs.sampleWeight = ops.input('sample_weight', 'float32', [-1])
    inputs.push('sample_weight')
  }
  if (options.mask) {
    rowInputs.mask = ops.input('mask', 'float32', [-1])
    inputs.push('mask')
  }
  if (stateful) {
    loss.setState({ confidence: ops.input('state_confidence', 'float32', [c]), seen: ops.input('state_seen', 'float32', [c]) })
    inputs.push('state_confidence', 'state_seen')
  }
  const evaluation = loss.evaluate(logits, labels, { ...options.context, ...rowInputs, training: true })

  const batchDims = ['N', c] as const
  const outputs: OutputRequest[] = [
    { name: 'loss', source: evaluation.loss.name, elemType: 'float32', dims: reduction === 'none' ? ['N'] : [] },
    { name: 'perturbed_logits', source: evaluation.batch.logits.name, elemType: 'float32', dims: batchDims },
  ]
  if (loss.hasClosedFormGradient) {
    const grad = closedFormGradient(ops, evaluation)
    outputs.push({ name: 'grad_logits', source: grad.name, elemType: 'float32', dims: batchDims })
  }
  const next = stateful ? evaluation.nextState : undefined
  if (next !== undefined) {
    outputs.push(
      { name: 'next_state_confidence', source: next.confidence.name, elemType: 'float32', dims: [c] },
      { name: 'next_state_seen', source: next.seen.name, elemType: 'float32', dims: [c] },
    )
  }
  const model = graph.toModel({
    outputs,
    inputs,
    name: options.name ?? `logit_perturb_${parsed.rule.replace(/-/g, '_')}`,
    docString: `Loss of the logit-perturb rule ${parsed.rule}: inputs logits [N, ${c}] and labels ${loss.task === 'multi' ? `[N, ${c}] (0/1)` : '[N]'}; outputs ${outputs.map((o) => o.name).join(', ')}.`,
    metadata: { 'logit_perturb.spec': JSON.stringify(parsed), 'logit_perturb.num_classes': String(c) },
  })
  return {
    bytes: serializeModel(model),
    spec: parsed,
    numClasses: c,
    opset: graph.opset,
    inputs,
    task: loss.task,
    reduction,
    outputs: outputs.map((o) => o.name),
    hasClosedFormGradient: loss.hasClosedFormGradient,
  }
}
