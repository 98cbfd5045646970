import {
  type LabelTask,
  type LossContext,
  type LossEvaluation,
  type Reduction,
  type RuleInput,
  type RuleSpec,
  check,
  closedFormGradient,
  createLoss,
  exportClassCount,
  parseSpec,
} from '@logit-perturb/core'
import { moduleSource } from './moduleSource.js'
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
  /** The `.py` file: imports `torch` (1.13 or later) and `math` only. */
  source: string
  /** The Python class name of the loss module. */
  className: string
  /** The validated spec, defaults filled in (also in the file, as `SPEC`). */
  spec: RuleSpec
  /** The class count `C` (the width of `logits`). */
  numClasses: number
  /** `'single'`: labels are class ids `[N]`; `'multi'`: a 0/1 matrix `[N, C]`. */
  task: LabelTask
  /** Whether the module has a `gradient` method (the rule's closed-form gradient). */
  hasClosedFormGradient: boolean
  /** Whether the module keeps running state in buffers, updated by training calls (`module.training`). */
  stateful: boolean
}

const REDUCTIONS = ['mean', 'sum', 'none'] as const satisfies readonly Reduction[]

/**
 * Exports the loss a spec describes as one self-contained Python file holding a `torch.nn.Module`,
 * written by running the core's own rule code (`createLoss(...).evaluate`) on the PyTorch backend
 * ({@link createPythonOps}): nothing is re-derived here.
 *
 * The module, `Loss(reduction='mean', all_reduce=True, check_values=True)`:
 * - `forward(logits, labels, sample_weight=None, mask=None)`: the loss, reduced as `reduction`
 *   says (`'mean'`, `'sum'`, or `'none'` for the per-sample losses `[N]`; docs/spec.md#8-reductions-sample-weights-and-masks);
 *   `logits` `[N, C]` float32 or float64 (the module computes in their dtype), `labels` `[N]`
 *   integer class ids (multi-label rules: `[N, C]` of 0 and 1);
 * - `perturb(...)`: the perturbed logits `z`, `[N, C]`;
 * - `gradient(...)`: the closed-form `∂loss/∂logits`, for rules that have one;
 * - constants (margins, priors, directions, bounds) are buffers; LPL's search is a `for` loop;
 * - every batch statistic goes through `_batch_sum`, an all-reduce across the workers of
 *   `torch.distributed` when a process group is initialized and `all_reduce` is on
 *   (docs/spec.md#9-data-parallel-training): the workers' losses then add up to the loss of the
 *   whole batch, and its gradient flows back through the reduction;
 * - a stateful rule (LPL's `confidence` split, seesaw's counts) keeps its state in buffers
 *   (`state_<key>`, saved with the module) and updates it on calls while `module.training` is true;
 * - class weights from an epoch on (LDAM-DRW, a spec's `weighting` with `fromEpoch > 0`) read
 *   `module.epoch` (set it each epoch).
 *
 * Throws `INVALID_PARAMETER` when `numClasses` is missing or disagrees with the spec, and the spec's
 * own errors (`parseSpec`).
 */
export function exportTorchModule(spec: RuleInput, options: ExportTorchOptions = {}): ExportedTorchModule {
  const parsed = parseSpec(spec)
  const program = new PythonProgram()
  const ops = createPythonOps(program)
  const loss = createLoss(ops, parsed)
  const numClasses = exportClassCount(loss, options.numClasses, options.context)
  const className = options.className ?? defaultClassName(parsed.rule)
  check(/^[A-Za-z_][A-Za-z0-9_]*$/.test(className), 'INVALID_PARAMETER', `${JSON.stringify(className)} is not a Python name`, 'className')

  const c = numClasses
  const logits = ops.input('logits', 'float32', [-1, c])
  const labels = loss.task === 'multi' ? ops.input('labels', 'float32', [-1, c]) : ops.input('labels', 'int32', [-1])
  const rows = { sampleWeight: ops.input('sample_weight', 'float32', [-1]), mask: ops.input('mask', 'float32', [-1]) }
  // A stateful rule's state lives in buffers from the start, as a fresh loss's.
  const initialState = loss.rule.state?.initial(c)
  // The epoch class weights switch on at (LDAM-DRW's, or any rule's weighting): the module reads
  // `self.epoch`. From epoch 0 they are always on, and need no switch.
  const weightsFrom = parsed.rule === 'ldam' ? parsed.drw?.fromEpoch : parsed.weighting?.fromEpoch
  const drwFrom = weightsFrom === undefined || weightsFrom === 0 ? undefined : weightsFrom

  const body = (epoch: number, training: boolean) => {
    if (initialState !== undefined) {
      const buffer = (key: string) =>
        program.bindAtStart(`state_${key}`, `self.state_${key}.to(device=${DEVICE}, dtype=${DTYPE})`, (expr) => ({
          program,
          expr,
          shape: [c],
          dtype: 'float32',
        }))
      loss.setState(Object.fromEntries(Object.keys(initialState).map((key) => [key, buffer(key)])))
    }
    const context: LossContext<PyTensor> = {
      ...options.context,
      ...rows,
      epoch,
      training,
      batchSum: (x) =>
        program.bind('batch_sum', `self._batch_sum(${x.expr})`, (expr) => ({ ...x, expr, literal: undefined, mask: undefined })),
    }
    const evaluations = new Map<Reduction, LossEvaluation<PyTensor>>()
    const evaluate = (reduction: Reduction) => {
      const evaluation = loss.evaluate(logits, labels, context, reduction)
      evaluations.set(reduction, evaluation)
      return evaluation
    }
    const mean = evaluate('mean')
    program.line(`perturbed = ${mean.batch.logits.expr}`)
    const next = mean.nextState
    if (initialState !== undefined && next !== undefined) {
      program.block('with torch.no_grad():', () => {
        for (const [key, value] of Object.entries(next)) program.line(`self.state_${key}.copy_(${value.expr})`)
      })
    }
    const tail = (reduction: Reduction) => {
      const evaluation = evaluations.get(reduction) ?? evaluate(reduction)
      program.line(`loss = ${evaluation.loss.expr}`)
      program.line('grad = None')
      if (loss.hasClosedFormGradient) {
        program.block('if with_gradient:', () => program.line(`grad = ${closedFormGradient(ops, evaluation).expr}`))
      }
    }
    REDUCTIONS.forEach((reduction, k) => {
      const header =
        k === 0 ? `if self.reduction == '${reduction}':` : k < REDUCTIONS.length - 1 ? `elif self.reduction == '${reduction}':` : 'else:'
      program.block(header, () => tail(reduction))
    })
  }
  // A stateful rule moves its state on training calls only, and may compute otherwise then.
  const phase = (epoch: number) => {
    if (initialState === undefined) return body(epoch, true)
    program.block('if self.training:', () => body(epoch, true))
    program.block('else:', () => body(epoch, false))
  }
  if (drwFrom === undefined) phase(0)
  else {
    program.block(`if self.epoch >= ${drwFrom}:`, () => phase(drwFrom))
    program.block('else:', () => phase(0))
  }

  const source = moduleSource({
    className,
    spec: parsed,
    numClasses: c,
    task: loss.task,
    buffers: program.buffers,
    body: program.body('        '),
    hasClosedFormGradient: loss.hasClosedFormGradient,
    initialState,
    drwFrom,
  })
  return {
    source,
    className,
    spec: parsed,
    numClasses: c,
    task: loss.task,
    hasClosedFormGradient: loss.hasClosedFormGradient,
    stateful: initialState !== undefined,
  }
}

/** `official-longtail` → `OfficialLongtailLoss`. */
function defaultClassName(rule: string): string {
  return `${rule
    .split('-')
    .map((w) => w.charAt(0).toUpperCase() + w.slice(1))
    .join('')}Loss`
}
