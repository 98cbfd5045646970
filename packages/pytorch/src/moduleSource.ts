import type { LabelTask, RuleSpec } from '@logit-perturb/core'
import type { PyBuffer } from './program.js'
import { DEVICE, DTYPE, pyNumber } from './pythonOps.js'

/** What {@link moduleSource} assembles. */
export interface ModuleParts {
  className: string
  spec: RuleSpec
  numClasses: number
  task: LabelTask
  buffers: readonly PyBuffer[]
  /** The traced statements of `_evaluate`, indented for a method body. */
  body: readonly string[]
  hasClosedFormGradient: boolean
  /** A stateful rule's state as a fresh loss has it (each key a `[C]` vector). */
  initialState: Readonly<Record<string, readonly number[]>> | undefined
  /** The epochs, above 0 and in increasing order, at which the loss starts computing otherwise (LDAM-DRW's class weights). */
  epochSwitches: readonly number[]
}

/** The loss formula of a task, for the docstring. */
function formula(task: LabelTask): string[] {
  return task === 'single'
    ? [
        'Single-label: the cross-entropy of the perturbed logits z = a * u + delta_y (u the logits,',
        "delta_y the rule's class-level perturbation of the sample's class y, a its logit scale):",
        "    'mean'  sum_i s_i m_i w_{y_i} CE(z_i, y_i) / sum_i m_i w_{y_i}",
        "    'sum'   the same times sum_i m_i",
        "    'none'  the per-sample terms of 'sum', [N]",
        "with s the sample weights, m the mask and w the rule's class weights (1 for most rules).",
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
  const labelDoc = p.task === 'single' ? `[N] integer class ids in [0, ${c})` : `[N, ${c}] of 0 and 1`
  const init = [
    `        for name, value in (`,
    ...p.buffers.map((b) => `            ('${b.name}', ${b.init}),`),
    '        ):',
    '            self.register_buffer(name, value, persistent=False)',
  ]
  if (p.buffers.length === 0) init.length = 0
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
  const labelChecks =
    p.task === 'single'
      ? [
          '        if labels.dim() != 1 or labels.shape[0] != logits.shape[0] or labels.is_floating_point() or labels.dtype == torch.bool:',
          "            raise ValueError(f'labels must be integer class ids [N] with N = {logits.shape[0]}, got {labels.dtype} {list(labels.shape)}')",
          '        if self.check_values and labels.numel() > 0 and (int(labels.min()) < 0 or int(labels.max()) >= NUM_CLASSES):',
          "            raise ValueError(f'labels must lie in [0, {NUM_CLASSES}), got values from {int(labels.min())} to {int(labels.max())}')",
        ]
      : [
          '        if labels.shape != logits.shape:',
          "            raise ValueError(f'labels must be [N, {NUM_CLASSES}] like the logits, got {list(labels.shape)}')",
          '        if self.check_values and bool(((labels != 0) & (labels != 1)).any()):',
          "            raise ValueError('labels must hold only 0 and 1')",
        ]
  const gradientMethod = p.hasClosedFormGradient
    ? [
        '    def gradient(self, logits, labels, sample_weight=None, mask=None):',
        '        """The closed-form gradient of the loss with respect to the logits, [N, C]: the perturbation is',
        '        a constant for the gradient, so it is (share_i * a) * (softmax(z_i) - t_i) row by row',
        '        (multi-label: with the sigmoid); what autograd gives for the sum of the loss."""',
        '        return self._evaluate(logits, labels, sample_weight, mask, True)[2]',
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
    'world size.',
    '"""',
    'import json',
    'import math',
    '',
    'import torch',
    'import torch.distributed as dist',
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
    `class ${p.className}(torch.nn.Module):`,
    `    """The ${p.spec.rule} loss for logits [N, ${c}] and labels ${labelDoc}.`,
    '',
    "    reduction: 'mean' (default), 'sum' or 'none' (per-sample losses, [N]).",
    '    all_reduce: sum the batch statistics across torch.distributed workers when a process group',
    '        is initialized (default True); False: each worker uses its own shard alone.',
    '    check_values: check label values and finite logits on each call (default True).',
    '    """',
    '',
    "    def __init__(self, reduction='mean', all_reduce=True, check_values=True):",
    '        super().__init__()',
    "        if reduction not in ('mean', 'sum', 'none'):",
    "            raise ValueError(f\"reduction must be 'mean', 'sum' or 'none', got {reduction!r}\")",
    '        self.reduction = reduction',
    '        self.all_reduce = all_reduce',
    '        self.check_values = check_values',
    ...epoch,
    ...state,
    ...init,
    '',
    '    def forward(self, logits, labels, sample_weight=None, mask=None):',
    `        """The loss: a scalar, or [N] with reduction='none'."""`,
    '        return self._evaluate(logits, labels, sample_weight, mask, False)[1]',
    '',
    '    def perturb(self, logits, labels, sample_weight=None, mask=None):',
    '        """The perturbed logits z, [N, C]: the loss is the cross-entropy of these."""',
    '        return self._evaluate(logits, labels, sample_weight, mask, False)[0]',
    '',
    ...gradientMethod,
    '    def _batch_sum(self, x):',
    '        if self.all_reduce and dist.is_available() and dist.is_initialized():',
    '            return _BatchSum.apply(x)',
    '        return x',
    '',
    '    def _rows(self, x, what, n, dtype, device):',
    '        if x is None:',
    '            return torch.ones(n, dtype=dtype, device=device)',
    '        if x.dim() != 1 or x.shape[0] != n:',
    "            raise ValueError(f'{what} must be [N] with N = {n}, got {list(x.shape)}')",
    '        return x.to(device=device, dtype=dtype)',
    '',
    '    def _evaluate(self, logits, labels, sample_weight, mask, with_gradient):',
    '        if logits.dim() != 2 or logits.shape[1] != NUM_CLASSES or not logits.is_floating_point():',
    "            raise ValueError(f'logits must be floats [N, {NUM_CLASSES}], got {logits.dtype} {list(logits.shape)}')",
    ...labelChecks,
    '        if self.check_values and not bool(torch.isfinite(logits).all()):',
    "            raise ValueError('logits hold NaN or infinity')",
    `        ${DTYPE}, ${DEVICE}, n = logits.dtype, logits.device, logits.shape[0]`,
    p.task === 'single'
      ? '        labels = labels.to(device=device, dtype=torch.long)'
      : '        labels = labels.to(device=device, dtype=dtype)',
    "        sample_weight = self._rows(sample_weight, 'sample_weight', n, dtype, device)",
    "        mask = self._rows(mask, 'mask', n, dtype, device)",
    '        if self.check_values and not bool((torch.isfinite(sample_weight) & (sample_weight >= 0)).all()):',
    "            raise ValueError('sample_weight must be finite and >= 0')",
    '        if self.check_values and bool(((mask != 0) & (mask != 1)).any()):',
    "            raise ValueError('mask must hold only 0 and 1')",
    ...p.body,
    '        return perturbed, loss, grad',
    '',
  ].join('\n')
}

/** A state field's fresh value in float64: `torch.full` when every class starts alike (zeros, say), else its values. */
function stateTensor(values: readonly number[]): string {
  const first = values[0]
  return first !== undefined && values.every((v) => Object.is(v, first))
    ? `torch.full((${values.length},), ${pyNumber(first)}, dtype=torch.float64)`
    : `torch.tensor([${values.map(pyNumber).join(', ')}], dtype=torch.float64)`
}
