import { type LabelTask, type LossContext, type Reduction, type RuleInput, type RuleSpec, parseSpec, ruleFacts } from '@logit-perturb/core'
import { type LossTrace, type TraceOps, check, traceLoss } from '@logit-perturb/core/backend'
import { pythonDenseLayout } from './denseLayout.js'
import { TRACED_IGNORE_INDEX, moduleSource } from './moduleSource.js'
import { PythonProgram } from './program.js'
import { DEVICE, DTYPE, createPythonOps } from './pythonOps.js'
import type { PyTensor } from './tensor.js'

/** Options of {@link exportTorchModule}. */
export interface ExportTorchOptions {
  /**
   * The class count `C`; required when neither the spec nor `context.isda` fixes it (`ce`,
   * `official-balanced`, `lpl` with the confidence split).
   */
  numClasses?: number
  /** The Python class name; default from the rule, e.g. `LplLoss`. */
  className?: string
  /** ISDA's classifier weights and covariances when the spec does not carry them: constants of the module. */
  context?: Pick<LossContext, 'isda'>
}

/** An exported PyTorch module: its source and what it holds. */
export interface ExportedTorchModule {
  /** The `.py` file: imports `torch` (1.13 or later) and the standard library only; `torch.jit.script` compiles its module. */
  source: string
  /** The Python class name of the loss module. */
  className: string
  /** The validated spec, defaults filled in (also in the file, as `SPEC`). */
  spec: RuleSpec
  /** The class count `C` (the width of `logits`, or of each head's block of them). */
  numClasses: number
  /** The rule's heads `E` (`Rule.heads`): `logits` are `[N, E·C]`, head-major, rows only; 1 for most rules. */
  heads: number
  /** `'single'`: the target holds class ids `[N, …]` (or probabilities); `'multi'`: a 0/1 matrix `[N, C, …]`. */
  task: LabelTask
  /** Whether `forward` also takes soft targets, float probabilities with the logits' shape (the rule's `softTargets`). */
  softTargets: boolean
  /** Whether the module has a `gradient` method (the rule's closed-form gradient). */
  hasClosedFormGradient: boolean
  /** Whether the module keeps running state in buffers, updated by training calls (`module.training`). */
  stateful: boolean
}

const REDUCTIONS = ['mean', 'sum', 'none'] as const satisfies readonly Reduction[]

/**
 * Exports the loss a spec describes as one self-contained Python file holding a `torch.nn.Module`,
 * a rendering of the core's trace of the loss (`traceLoss`: the rule's own code run on the PyTorch
 * backend, {@link createPythonOps}): nothing is re-derived here. Its branches (training and
 * evaluation calls, the epochs the rule switches at, the reductions) are `if` blocks.
 *
 * The module, `Loss(reduction='mean', all_reduce=True, check_values=True, ignore_index=-100)`:
 * - `forward(logits, target, sample_weight=None, mask=None)` (and the rule's batch inputs, GCL's
 *   `noise=None`, with the logits' shape: left out, a training call draws it with torch's generator,
 *   seeded by `torch.manual_seed`, and an evaluation call reads none): the loss, reduced as `reduction`
 *   says (`'mean'`, `'sum'`, or `'none'` for the per-sample losses `[N, d1, …]`; docs/spec.md#8-reductions-sample-weights-and-masks);
 *   `logits` `[N, C]` or dense `[N, C, d1, …, dk]` (any `k` at run time, every position a sample;
 *   docs/spec.md#10-dense-inputs), float32 or float64 (the module computes in their dtype);
 *   `target`, as `F.cross_entropy` takes it, integer class ids `[N, d1, …, dk]` where
 *   `ignore_index` marks positions that count for nothing, or, for rules that define soft targets
 *   (docs/spec.md#11-soft-targets), float probabilities with the logits' shape (multi-label rules:
 *   a 0/1 matrix with the logits' shape); `sample_weight` and `mask` per sample `[N]` or per
 *   position `[N, d1, …, dk]`;
 * - `perturb(...)`: the perturbed logits `z`, in the logits' layout;
 * - `gradient(...)`: the closed-form `∂loss/∂logits` in the logits' layout, for rules that have one;
 * - constants (margins, priors, directions, bounds) are buffers; LPL's search is a `for` loop;
 * - every batch statistic goes through `_batch_sum`, an all-reduce across the workers of
 *   `torch.distributed` when a process group is initialized and `all_reduce` is on
 *   (docs/spec.md#9-data-parallel-training): the workers' losses then add up to the loss of the
 *   whole batch, and its gradient flows back through the reduction;
 * - a stateful rule (LPL's `confidence` split, seesaw's counts) keeps its state in buffers
 *   (`state_<key>`, saved with the module) and updates it on calls while `module.training` is true;
 * - class weights from an epoch on (LDAM-DRW, a spec's `weighting` with `fromEpoch > 0`) read
 *   `module.epoch` (set it each epoch);
 * - the module is TorchScript: `torch.jit.script` compiles it (typed methods, `num_classes` and
 *   `all_reduce` constants of the class, no Python branch on tensor values outside the
 *   `check_values` checks), and the compiled module computes the eager one's numbers; the
 *   all-reduce stays a Python call (`torch.jit.ignore`), absent with `all_reduce=False`
 *   (docs/pytorch.md#torchscript).
 *
 * Throws `INVALID_PARAMETER` when `numClasses` is missing or disagrees with the spec, and the spec's
 * own errors (`parseSpec`).
 */
export function exportTorchModule(spec: RuleInput, options: ExportTorchOptions = {}): ExportedTorchModule {
  const parsed = parseSpec(spec)
  check(typeof options === 'object' && options !== null, 'INVALID_PARAMETER', 'must be an object of export options', 'options')
  check(
    options.context === undefined || (typeof options.context === 'object' && options.context !== null),
    'INVALID_PARAMETER',
    "must be an object (ISDA's isda)",
    'context',
  )
  const program = new PythonProgram()
  const python = createPythonOps(program)
  const className = options.className ?? defaultClassName(parsed.rule)
  check(/^[A-Za-z_][A-Za-z0-9_]*$/.test(className), 'INVALID_PARAMETER', `${JSON.stringify(className)} is not a Python name`, 'className')
  // The state is read from the module's buffers (saved with it), the other inputs are arguments.
  const ops: TraceOps<PyTensor> = {
    ...python,
    // A batch input (GCL's noise) is read from the variable the module's prologue binds (see `moduleSource`).
    declare: (input) =>
      input.role === 'state'
        ? program.bindAtStart(input.name, `self.${input.name}.to(device=${DEVICE}, dtype=${DTYPE})`, (expr) => ({
            program,
            expr,
            shape: input.dims as number[],
            dtype: 'float32',
          }))
        : python.input(
            input.name,
            input.dtype === 'classIds' ? 'int32' : 'float32',
            // Sizes known at run time are -1; any number of trailing axes reads as none (the layout takes any rank).
            input.dims.filter((d) => d !== '...').map((d) => (typeof d === 'number' ? d : -1)),
          ),
    layout: pythonDenseLayout(python),
  }
  // The module's target is read as ids or as probabilities at run time; each is a trace of its own.
  const facts = ruleFacts(parsed)
  const traceOf = (targets: 'ids' | 'probabilities') =>
    traceLoss(ops, parsed, {
      numClasses: options.numClasses,
      ...(options.context === undefined ? {} : { context: options.context }),
      sampleWeight: true,
      mask: true,
      spatialDims: 'any',
      targets,
      // The module maps its `ignore_index` to this id before the traced body reads the labels.
      ...(targets === 'ids' && facts.task === 'single' ? { ignoreIndex: TRACED_IGNORE_INDEX } : {}),
    })
  const softTargets = facts.softTargets !== undefined
  const batchSum = (x: PyTensor): PyTensor =>
    program.bind('batch_sum', `self._batch_sum(${x.expr})`, (expr) => ({ ...x, expr, literal: undefined, mask: undefined }))
  const batchMax = (x: PyTensor): PyTensor =>
    program.bind('batch_max', `self._batch_max(${x.expr})`, (expr) => ({ ...x, expr, literal: undefined, mask: undefined }))

  // One branch: the mean's evaluation gives the perturbed logits and the state to keep; each
  // reduction's loss and closed-form gradient follow under `if self.reduction == ...`.
  const branch = (trace: LossTrace<PyTensor>, epoch: number, training: boolean) => {
    const mean = trace.evaluate({ training, epoch, reduction: 'mean', batchSum, batchMax })
    program.line(`perturbed = ${mean.perturbed.expr}`)
    if (mean.nextState !== undefined) {
      const next = mean.nextState
      program.block('with torch.no_grad():', () => {
        for (const field of trace.state?.fields ?? []) program.line(`self.state_${field}.copy_(${next[field]!.expr})`)
      })
    }
    REDUCTIONS.forEach((reduction, k) => {
      const header =
        k === 0 ? `if self.reduction == '${reduction}':` : k < REDUCTIONS.length - 1 ? `elif self.reduction == '${reduction}':` : 'else:'
      program.block(header, () => {
        const traced = reduction === 'mean' ? mean : trace.evaluate({ training, epoch, reduction, batchSum, batchMax })
        program.line(`loss = ${traced.loss.expr}`)
        program.line('grad: Optional[Tensor] = None')
        if (trace.hasClosedFormGradient) program.optionalBlock('if with_gradient:', () => program.line(`grad = ${traced.gradient().expr}`))
      })
    })
  }
  // A rule whose state training calls move, or that reads a batch input on training calls only (GCL's
  // noise), computes otherwise in training calls: `self.training`.
  const phase = (trace: LossTrace<PyTensor>, epoch: number) => {
    const trainingOnly = trace.batchInputs.some((input) => input.readBy === 'training')
    if (trace.state?.movedBy !== 'training' && !trainingOnly) return branch(trace, epoch, true)
    program.block('if self.training:', () => branch(trace, epoch, true))
    program.block('else:', () => branch(trace, epoch, false))
  }
  // The epoch branches, latest first: `if self.epoch >= e_k: ... elif ...: else:` (epoch 0).
  const render = (trace: LossTrace<PyTensor>) => {
    const epochs = [...trace.epochs].reverse()
    if (epochs.length === 1) return phase(trace, 0)
    epochs.forEach((epoch, k) => {
      const header = k === 0 ? `if self.epoch >= ${epoch}:` : k < epochs.length - 1 ? `elif self.epoch >= ${epoch}:` : 'else:'
      program.block(header, () => phase(trace, epoch))
    })
  }
  // Each target is traced inside its block: it reads its own `labels` (probabilities `[N, C, …]`, or ids `[N, …]`).
  const rendered = (targets: 'ids' | 'probabilities') => {
    const trace = traceOf(targets)
    render(trace)
    return trace
  }
  let trace: LossTrace<PyTensor>
  if (softTargets) {
    program.block('if soft:', () => rendered('probabilities'))
    trace = program.block('else:', () => rendered('ids'))
  } else trace = rendered('ids')

  // What a training call that leaves a batch input out draws instead, traced on the logits as given.
  const batchInputs = trace.batchInputs.map((input) => {
    const drawn = program.detached(() => input.draw(python, python.input('logits', 'float32', [-1, trace.numClasses]), undefined))
    return { name: input.name, bounds: input.bounds, readBy: input.readBy, draw: drawn.lines, drawn: drawn.result.expr }
  })
  const source = moduleSource({
    batchInputs,
    className,
    spec: trace.spec,
    numClasses: trace.numClasses,
    heads: trace.heads,
    task: trace.task,
    softTargets,
    buffers: program.buffers,
    body: program.body('        '),
    methods: program.methodSources('    '),
    hasClosedFormGradient: trace.hasClosedFormGradient,
    initialState: trace.state?.initial,
    epochSwitches: trace.epochs.slice(1),
  })
  return {
    source,
    className,
    spec: trace.spec,
    numClasses: trace.numClasses,
    heads: trace.heads,
    task: trace.task,
    softTargets,
    hasClosedFormGradient: trace.hasClosedFormGradient,
    stateful: trace.state !== undefined,
  }
}

/** `official-longtail` → `OfficialLongtailLoss`. */
function defaultClassName(rule: string): string {
  return `${rule
    .split('-')
    .map((w) => w.charAt(0).toUpperCase() + w.slice(1))
    .join('')}Loss`
}
