import type { LabelTask, RuleSpec } from '@logit-perturb/core'
import type { PyBuffer } from './program.js'
import { logitChecks } from './logitChecks.js'
import { DEVICE, DTYPE, pyNumber } from './pythonOps.js'

/**
 * The ignore label the traced body of a single-label module compares the labels with: the module
 * maps its own `ignore_index` (PyTorch's −100 by default, any integer) to it first.
 */
export const TRACED_IGNORE_INDEX = -100

/** What {@link moduleSource} assembles. */
export interface ModuleParts {
  className: string
  spec: RuleSpec
  numClasses: number
  /** The rule's heads `E` (`Rule.heads`): logits `[N, E·C]`, head-major, rows only. Absent: 1. */
  heads?: number
  task: LabelTask
  /** Whether the body has an `if soft:` branch for probabilities (the rule's `softTargets`). */
  softTargets: boolean
  buffers: readonly PyBuffer[]
  /** The traced statements of `_evaluate`, indented for a method body. */
  body: readonly string[]
  /** The module's other methods (custom gradients' halves), indented for a class body. */
  methods: readonly string[]
  hasClosedFormGradient: boolean
  /** A stateful rule's state as a fresh loss has it (each key a `[C]` vector). */
  initialState: Readonly<Record<string, readonly number[]>> | undefined
  /** The epochs, above 0 and in increasing order, at which the loss starts computing otherwise (LDAM-DRW's class weights). */
  epochSwitches: readonly number[]
  /**
   * The rule's batch inputs (GCL's `noise`), arguments of `forward` with the logits' shape: their
   * bounds, and the statements (`draw`, unindented) that bind `drawn`, what a training call that
   * leaves one out uses instead.
   */
  batchInputs: readonly ModuleBatchInput[]
}

/** A batch input of the module (see {@link ModuleParts.batchInputs}). */
export interface ModuleBatchInput {
  readonly name: string
  readonly bounds: readonly [number, number]
  /** `'training'`: evaluation calls do not read it (and draw nothing). */
  readonly readBy: 'training'
  readonly draw: readonly string[]
  readonly drawn: string
}

/** The arguments of `forward`, `perturb` and `gradient`, typed for TorchScript, with the rule's batch inputs (`noise`) last. */
function inputsOf(batchInputs: readonly string[]): string {
  const base = 'logits: Tensor, target: Tensor, sample_weight: Optional[Tensor] = None, mask: Optional[Tensor] = None'
  return [base, ...batchInputs.map((name) => `${name}: Optional[Tensor] = None`)].join(', ')
}
/** What `_evaluate` returns: the perturbed logits, the loss, and the closed-form gradient when asked. */
const EVALUATED = 'Tuple[Tensor, Tensor, Optional[Tensor]]'

/** The arguments of `_evaluate` and `_evaluate_rows`, the optional inputs under the given names. */
function evaluateArgs(sampleWeight: string, mask: string, batchInputs: readonly string[]): string {
  const optional = [sampleWeight, mask, ...batchInputs].map((name) => `${name}: Optional[Tensor]`).join(', ')
  return `logits: Tensor, target: Tensor, ${optional}, with_gradient: bool`
}

/** The loss formula of a task, for the docstring. */
function formula(task: LabelTask): string[] {
  return task === 'single'
    ? [
        'Single-label: the cross-entropy of the perturbed logits z = a * u + delta_y (u the logits,',
        "delta_y the rule's class-level perturbation of the sample's class y, a its logit scale):",
        "    'mean'  sum_i s_i m_i w_{y_i} CE(z_i, y_i) / sum_i m_i w_{y_i}",
        "    'sum'   the same times sum_i m_i",
        "    'none'  the per-sample terms of 'sum', [N] (dense logits: [N, d1, ..., dk])",
        "with s the sample weights, m the mask and w the rule's class weights (1 for most rules).",
        'Dense logits [N, C, d1, ..., dk] count each position as a sample; a position whose id is',
        'ignore_index has m = 0: it adds nothing to the loss, the batch statistics or the state.',
      ]
    : [
        'Multi-label: the binary cross-entropy of the perturbed logits z = a * u + delta, per entry',
        'weighted by the rule, averaged over the labels of each sample, then over the batch:',
        "    'mean'  sum_i s_i m_i l_i / sum_i m_i,   l_i = mean_c w_ic BCE(z_ic, Y_ic)",
        "    'sum'   sum_i s_i m_i l_i",
        "    'none'  s_i m_i l_i, [N]",
      ]
}

/** A string as a Python literal: single-quoted when it needs no escapes. */
function pyString(s: string): string {
  return /['\\\n]/.test(s) ? JSON.stringify(s) : `'${s}'`
}

/** The Python source of an exported loss module. */
export function moduleSource(p: ModuleParts): string {
  const c = p.numClasses
  const heads = p.heads ?? 1
  const width = heads * c
  const logitDoc = heads === 1 ? `[N, ${c}]` : `[N, ${width}] (${heads} heads of ${c} classes side by side, head-major)`
  const logitShape =
    heads === 1
      ? [
          '        if logits.dim() < 2 or logits.shape[1] != self.num_classes or not logits.is_floating_point():',
          "            raise ValueError(f'logits must be floats [N, {self.num_classes}] or [N, {self.num_classes}, d1, ..., dk], got {logits.dtype} {list(logits.shape)}')",
        ]
      : [
          `        if logits.dim() != 2 or logits.shape[1] != ${width} or not logits.is_floating_point():`,
          `            raise ValueError(f'logits must be floats [N, ${width}], the ${heads} heads of {self.num_classes} classes side by side, got {logits.dtype} {list(logits.shape)}')`,
        ]
  const extra = p.batchInputs.map((b) => b.name)
  const INPUTS = inputsOf(extra)
  const passed = extra.map((name) => `${name}, `).join('')
  const labelDoc =
    p.task === 'single'
      ? `[N, d1, ..., dk] integer class ids in [0, ${c})${p.softTargets ? ", or probabilities with the logits' shape" : ''}`
      : `[N, ${c}, d1, ..., dk] of 0 and 1`
  const init = [
    `        for name, value in (`,
    ...p.buffers.map((b) => `            ('${b.name}', ${b.init}),`),
    '        ):',
    '            self.register_buffer(name, value, persistent=False)',
  ]
  if (p.buffers.length === 0) init.length = 0
  // torch.jit.script keeps every buffer persistent (pytorch#69250): these methods, which it copies to
  // the scripted module (torch.jit.ignore), keep the constants out of either module's state_dict().
  const constantsOutOfState =
    p.buffers.length === 0
      ? []
      : [
          '    @torch.jit.ignore',
          '    def _save_to_state_dict(self, destination, prefix, keep_vars):',
          "        # The constants are the spec's, not state: not saved, also by a module torch.jit.script compiled.",
          '        torch.nn.Module._save_to_state_dict(self, destination, prefix, keep_vars)',
          '        for name in self._constant_names():',
          '            destination.pop(prefix + name, None)',
          '',
          '    @torch.jit.ignore',
          '    def _load_from_state_dict(self, state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys, error_msgs):',
          '        # Nor read: a state_dict with or without them loads into the eager and the scripted module.',
          '        constants = [prefix + name for name in self._constant_names()]',
          '        state = {k: v for k, v in state_dict.items() if k not in constants}',
          '        torch.nn.Module._load_from_state_dict(',
          '            self, state, prefix, local_metadata, strict, missing_keys, unexpected_keys, error_msgs)',
          '        missing_keys[:] = [k for k in missing_keys if k not in constants]',
          '',
          '    @torch.jit.ignore',
          '    def _constant_names(self):',
          "        return [name for name, _ in self.named_buffers(recurse=False) if name.startswith('const_')]",
          '',
        ]
  const state =
    p.initialState === undefined
      ? []
      : [
          "        # The rule's state, saved with the module; training calls move it.",
          ...Object.entries(p.initialState).map(([key, values]) => `        self.register_buffer('state_${key}', ${stateTensor(values)})`),
        ]
  const epoch =
    p.epochSwitches.length === 0
      ? []
      : [
          `        # The loss changes at epoch ${p.epochSwitches.join(', ')} (class weights on): set module.epoch (0-based) each epoch.`,
          '        self.epoch = 0',
        ]
  const labelChecks = p.task === 'single' ? singleLabelChecks(p.softTargets, p.spec.rule) : multiLabelChecks()
  const gradientMethod = p.hasClosedFormGradient
    ? [
        '    @torch.jit.export',
        `    def gradient(self, ${INPUTS}) -> Tensor:`,
        '        """The closed-form gradient of the loss with respect to the logits, in their layout: the',
        '        perturbation is a constant for the gradient, so it is (share_i * a) * (softmax(z_i) - t_i)',
        '        row by row (multi-label: with the sigmoid); what autograd gives for the sum of the loss."""',
        `        grad = self._evaluate(logits, target, sample_weight, mask, ${passed}True)[2]`,
        '        assert grad is not None',
        '        return grad',
        '',
      ]
    : []
  const specJson = JSON.stringify(p.spec)
  return [
    '"""',
    `${p.spec.rule} loss of logit-perturb, exported as a PyTorch module (docs/rules/${p.spec.rule}.md).`,
    '',
    ...formula(p.task),
    '',
    "Written from the library's rule code by exportTorchModule (docs/pytorch.md); it needs torch 1.13",
    'or later and nothing else. Under torch.distributed, every batch statistic of the rule is summed',
    "over the workers (docs/distributed.md): the workers' losses add up to the loss of the whole",
    'batch, so with DistributedDataParallel, which averages gradients, multiply the loss by the',
    'world size. torch.jit.script compiles the module (docs/pytorch.md#torchscript).',

    '"""',
    'import json',
    'import math',
    'from typing import List, Optional, Tuple',
    '',
    'import torch',
    'import torch.distributed as dist',
    'from torch import Tensor',
    '',
    `SPEC = json.loads(${pyString(specJson)})`,
    `NUM_CLASSES = ${c}`,
    '',
    '',
    'class _BatchSum(torch.autograd.Function):',
    '    """The sum of a batch statistic over every worker; its gradient is the sum of the gradients."""',
    '',
    '    @staticmethod',
    '    def forward(ctx, x):',
    '        total = x.clone()',
    '        dist.all_reduce(total)',
    '        return total',
    '',
    '    @staticmethod',
    '    def backward(ctx, grad):',
    '        total = grad.clone()',
    '        dist.all_reduce(total)',
    '        return total',
    '',
    '',
    ...(p.methods.length === 0 ? [] : CUSTOM_GRADIENT),
    '# Python, also when a module compiled by torch.jit.script calls them (torch.jit.ignore):',
    '# torch.distributed and autograd.Function are not TorchScript. A compiled module with',
    '# all_reduce=False never calls them, and torch.jit.save writes it.',
    '@torch.jit.ignore',
    'def _distributed() -> bool:',
    '    return dist.is_available() and dist.is_initialized()',
    '',
    '',
    '@torch.jit.ignore',
    'def _all_reduce(x: Tensor) -> Tensor:',
    '    return _BatchSum.apply(x)',
    '',
    '',
    '@torch.jit.ignore',
    'def _all_reduce_max(x: Tensor) -> Tensor:',
    '    # The maximum over every worker: a shift held constant for the gradient.',
    '    total = x.detach().clone()',
    '    dist.all_reduce(total, op=dist.ReduceOp.MAX)',
    '    return total',
    '',
    '',
    `class ${p.className}(torch.nn.Module):`,
    `    """The ${p.spec.rule} loss for logits ${logitDoc} and labels ${labelDoc}.`,
    '',
    "    reduction: 'mean' (default), 'sum' or 'none' (per-sample losses, [N]; dense: [N, d1, ..., dk]).",
    '    all_reduce: sum the batch statistics across torch.distributed workers when a process group',
    '        is initialized (default True); False: each worker uses its own shard alone.',
    '    check_values: check label values and finite logits on each call (default True).',
    ...(p.task === 'single'
      ? ['    ignore_index: the class id of positions that count for nothing (default -100, as F.cross_entropy).']
      : []),
    '    """',
    '',
    '    # Constants of a scripted module (torch.jit.script); its other attributes may be set on it.',
    '    num_classes: torch.jit.Final[int]',
    '    all_reduce: torch.jit.Final[bool]',
    '',
    `    def __init__(self, reduction='mean', all_reduce=True, check_values=True${p.task === 'single' ? ', ignore_index=-100' : ''}):`,
    '        super().__init__()',
    "        if reduction not in ('mean', 'sum', 'none'):",
    "            raise ValueError(f\"reduction must be 'mean', 'sum' or 'none', got {reduction!r}\")",
    '        self.num_classes = NUM_CLASSES',
    '        self.reduction = reduction',
    '        self.all_reduce = all_reduce',
    '        self.check_values = check_values',
    ...(p.task === 'single' ? ['        self.ignore_index = ignore_index'] : []),
    ...epoch,
    ...state,
    ...init,
    '',
    `    def forward(self, ${INPUTS}) -> Tensor:`,
    `        """The loss: a scalar, or [N] (dense: [N, d1, ..., dk]) with reduction='none'."""`,
    `        return self._evaluate(logits, target, sample_weight, mask, ${passed}False)[1]`,
    '',
    '    @torch.jit.export',
    `    def perturb(self, ${INPUTS}) -> Tensor:`,
    '        """The perturbed logits z, in the layout of the logits: the loss is the cross-entropy of these."""',
    `        return self._evaluate(logits, target, sample_weight, mask, ${passed}False)[0]`,
    '',
    ...gradientMethod,
    ...constantsOutOfState,
    '    def _batch_sum(self, x: Tensor) -> Tensor:',
    '        if self.all_reduce and _distributed():',
    '            return _all_reduce(x)',
    '        return x',
    '',
    '    def _batch_max(self, x: Tensor) -> Tensor:',
    '        if self.all_reduce and _distributed():',
    '            return _all_reduce_max(x)',
    '        return x',
    '',
    '    def _positions(self, x: Optional[Tensor], what: str, positions: List[int], dtype: torch.dtype, device: torch.device) -> Tensor:',
    '        if x is None:',
    '            return torch.ones(positions, dtype=dtype, device=device)',
    '        if x.dim() == 1 and len(positions) > 1 and x.shape[0] == positions[0]:',
    '            # One value per sample of dense logits, repeated at each of its positions.',
    '            x = x.reshape(list(x.shape) + [1] * (len(positions) - 1)).expand(positions)',
    '        if x.shape != positions:',
    "            dense = f' or [N, d1, ..., dk] = {list(positions)}' if len(positions) > 1 else ''",
    "            raise ValueError(f'{what} must be [N] with N = {positions[0]}{dense}, got {list(x.shape)}')",
    '        return x.to(device=device, dtype=dtype)',
    '',
    `    def _evaluate(self, ${evaluateArgs('sample_weight', 'mask', extra)}) -> ${EVALUATED}:`,
    '        # Half-precision logits (a model under torch.autocast) are scored in float32, and autocast is',
    "        # off inside, as for torch's own cross-entropy: bfloat16's 8-bit mantissa would round the loss",
    '        # and the search. float32 and float64 logits are computed in their own precision.',
    '        if torch.jit.is_scripting():',
    "            # TorchScript cannot turn the caller's autocast off: call a scripted module outside autocast.",
    '            if logits.dtype == torch.float16 or logits.dtype == torch.bfloat16:',
    '                logits = logits.float()',
    `            return self._evaluate_rows(logits, target, sample_weight, mask, ${passed}with_gradient)`,
    "        if logits.device.type not in ('cpu', 'cuda'):",
    `            return self._evaluate_rows(logits, target, sample_weight, mask, ${passed}with_gradient)`,
    '        with torch.autocast(device_type=logits.device.type, enabled=False):',
    '            if logits.dtype in (torch.float16, torch.bfloat16):',
    '                logits = logits.float()',
    `            return self._evaluate_rows(logits, target, sample_weight, mask, ${passed}with_gradient)`,
    '',
    `    def _evaluate_rows(self, ${evaluateArgs(
      'sample_weight_or_none',
      'mask_or_none',
      extra.map((name) => `${name}_or_none`),
    )}) -> ${EVALUATED}:`,
    ...logitShape,
    `        ${DTYPE}, ${DEVICE} = logits.dtype, logits.device`,
    '        # Each position of dense logits [N, C, d1, ..., dk] is a sample: the shape without the class axis.',
    '        positions = logits.shape[:1] + logits.shape[2:]',
    ...labelChecks,
    "        sample_weight = self._positions(sample_weight_or_none, 'sample_weight', positions, dtype, device)",
    "        mask = self._positions(mask_or_none, 'mask', positions, dtype, device)",
    '        if self.check_values and sample_weight_or_none is not None and not bool((torch.isfinite(sample_weight) & (sample_weight >= 0)).all()):',
    "            raise ValueError('sample_weight must be finite and >= 0')",
    '        if self.check_values and mask_or_none is not None and bool(((mask != 0) & (mask != 1)).any()):',
    "            raise ValueError('mask must hold only 0 and 1')",
    ...p.batchInputs.flatMap(batchInputLines),
    ...logitChecks(p.task, heads),
    ...p.body,
    '        return perturbed, loss, grad',
    '',
    ...p.methods,
  ].join('\n')
}

/**
 * The autograd function of a custom gradient (`writeCustomGradient`): the value and the tensors
 * to save from the module's forward method, the gradient from its reverse method.
 */
const CUSTOM_GRADIENT = [
  'class _CustomGradient(torch.autograd.Function):',
  `    """forward(x), differentiated by the rule's own reverse pass: autograd keeps the tensors it`,
  '    saves, not every intermediate of the search."""',
  '',
  '    @staticmethod',
  '    def forward(ctx, x, forward, reverse, captured, reverse_captured, dtype, device):',
  '        value, saved = forward(x, captured, dtype, device)',
  '        ctx.reverse, ctx.captured, ctx.dtype, ctx.device = reverse, reverse_captured, dtype, device',
  '        ctx.save_for_backward(*saved)',
  '        return value',
  '',
  '    @staticmethod',
  '    def backward(ctx, dy):',
  '        grad = ctx.reverse(dy, list(ctx.saved_tensors), ctx.captured, ctx.dtype, ctx.device)',
  '        return grad, None, None, None, None, None, None',
  '',
  '',
]

/**
 * The checks of a single-label module's target, which then becomes `labels`: soft targets (float
 * probabilities with the logits' shape, `soft`) for a rule that defines them, else class ids with
 * the positions' shape, `ignore_index` mapped to {@link TRACED_IGNORE_INDEX}. A rule without soft
 * targets refuses probabilities with the core's words (`SOFT_TARGETS`).
 */
function singleLabelChecks(softTargets: boolean, rule: string): string[] {
  const soft = softTargets
    ? [
        '            if not target.is_floating_point():',
        `                raise ValueError(f"soft targets must be float probabilities with the logits' shape {list(logits.shape)}, got {target.dtype} {list(target.shape)}")`,
        '            if self.check_values and not bool(((target >= 0) & (target <= 1)).all()):',
        "                raise ValueError('soft targets must be probabilities in [0, 1]')",
        '            labels = target.to(device=device, dtype=dtype)',
      ]
    : [
        `            raise ValueError("rule ${rule} does not define soft targets (probability rows): its method reads each sample's class; pass class ids")`,
      ]
  return [
    "        # As F.cross_entropy: a target with the logits' shape holds probabilities, else class ids.",
    '        soft = target.dim() == logits.dim()',
    '        if soft:',
    '            if target.shape != logits.shape:',
    `                raise ValueError(f"soft targets must have the logits' shape {list(logits.shape)}, got {list(target.shape)}")`,
    ...soft,
    '        else:',
    '            if target.shape != positions or target.is_floating_point() or target.dtype == torch.bool:',
    "                shape = f'[N] with N = {positions[0]}' if len(positions) == 1 else f'[N, d1, ..., dk] = {list(positions)}'",
    "                raise ValueError(f'labels must be integer class ids {shape}, got {target.dtype} {list(target.shape)}')",
    '            ignored = target == self.ignore_index',
    '            if self.check_values:',
    '                # One pass that allocates one [N] copy; the ids outside the range are looked up only to name them.',
    '                if target.numel() > 0:',
    '                    low, high = torch.aminmax(target.masked_fill(ignored, 0))',
    '                    if int(low) < 0 or int(high) >= self.num_classes:',
    '                        kept = target[~ignored]',
    "                        raise ValueError(f'labels must lie in [0, {self.num_classes}), got values from {int(kept.min())} to {int(kept.max())}')",

    `            labels = target.to(device=device, dtype=torch.long).masked_fill(ignored.to(device), ${TRACED_IGNORE_INDEX})`,
  ]
}

/** The checks of a multi-label module's target, a 0/1 matrix with the logits' shape, which then becomes `labels`. */
function multiLabelChecks(): string[] {
  return [
    '        if target.shape != logits.shape:',
    `            raise ValueError(f"labels must be a 0/1 matrix with the logits' shape {list(logits.shape)}, got {list(target.shape)}")`,
    '        if self.check_values and bool(((target != 0) & (target != 1)).any()):',
    "            raise ValueError('labels must hold only 0 and 1')",
    '        labels = target.to(device=device, dtype=dtype)',
  ]
}

/** A state field's fresh value in float64: `torch.full` when every class starts alike (zeros, say), else its values. */
function stateTensor(values: readonly number[]): string {
  const first = values[0]
  return first !== undefined && values.every((v) => Object.is(v, first))
    ? `torch.full((${values.length},), ${pyNumber(first)}, dtype=torch.float64)`
    : `torch.tensor([${values.map(pyNumber).join(', ')}], dtype=torch.float64)`
}

/**
 * The statements that bind a batch input (GCL's `noise`) in `_evaluate_rows`: the argument, checked
 * to have the logits' shape and (with `check_values`) entries within its bounds; left out, on a
 * training call what the rule draws (torch's generator, seeded by `torch.manual_seed`), and on an
 * evaluation call zeros, which no evaluation branch reads.
 */
function batchInputLines(b: ModuleBatchInput): string[] {
  const [low, high] = b.bounds.map(pyNumber)
  const given = `${b.name}_or_none`
  return [
    `        if ${given} is not None:`,
    `            if ${given}.shape != logits.shape:`,
    `                raise ValueError(f"${b.name} must have the logits' shape {list(logits.shape)}, got {list(${given}.shape)}")`,
    `            ${b.name} = ${given}.to(device=device, dtype=dtype)`,
    `            if self.check_values and not bool(((${b.name} >= ${low}) & (${b.name} <= ${high})).all()):`,
    `                raise ValueError('${b.name} must hold numbers in [${low}, ${high}]')`,
    '        elif self.training:',
    ...b.draw.map((l) => `            ${l}`),
    `            ${b.name} = ${b.drawn}`,
    '        else:',
    `            ${b.name} = torch.zeros_like(logits)`,
  ]
}
