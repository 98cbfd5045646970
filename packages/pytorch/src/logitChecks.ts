import type { LabelTask } from '@logit-perturb/core'

/**
 * The value check of a module's logits (`check_values`), after its labels, sample weights and mask
 * are read, as the core's losses make it (docs/spec.md#12-masked-classes): NaN and `+inf` are
 * refused; `-inf` masks a class out of its row and is refused only at a target of a row that counts
 * (the label's entry, an entry with soft-target mass, a multi-label positive; `mask` 1 and not the
 * ignore label) and, for single-label rules, in every class of a row. The statements read `logits`,
 * `labels` (after the target checks: ids with ignored positions at −100, or a float matrix), `soft`
 * (single-label) and `mask`, and are TorchScript. The common case, every logit finite, costs one
 * pass that reads the logits and allocates nothing (`aminmax`: NaN propagates to both ends); the
 * element-wise checks run only when an end is not finite.
 */
export function logitChecks(task: LabelTask, heads = 1): string[] {
  // The logits of several heads ([N, E·C]) take no masked class: every one is finite, as the core checks them.
  if (heads > 1)
    return [
      '        if self.check_values and logits.numel() > 0 and not bool(torch.isfinite(logits).all()):',
      "            raise ValueError('logits must be finite: the logits of several heads take no masked class (-inf)')",
    ]
  const targets =
    task === 'single'
      ? [
          '                if bool(masked.all(dim=1).any()):',
          "                    raise ValueError('a row of the logits is -inf in every class: a row must keep a class that is not masked')",
          '                if soft:',
          '                    at_target = (masked & (labels > 0)).any(dim=1)',
          '                else:',
          '                    hit = logits.gather(1, labels.clamp(min=0).unsqueeze(1)).squeeze(1)',
          '                    at_target = (hit == -math.inf) & (labels >= 0)',
        ]
      : ['                at_target = (masked & (labels != 0)).any(dim=1)']
  return [
    '        if self.check_values and logits.numel() > 0:',
    '            low, high = torch.aminmax(logits)',
    '            if not (bool(torch.isfinite(low)) and bool(torch.isfinite(high))):',
    '                # -inf masks a class out of its row (docs/spec.md#12-masked-classes); NaN and +inf are refused.',
    '                if bool((torch.isnan(logits) | (logits == math.inf)).any()):',
    "                    raise ValueError('logits hold NaN or +inf (-inf masks a class out of its row)')",
    '                masked = logits == -math.inf',
    ...targets,
    '                if bool((at_target & (mask != 0)).any()):',
    "                    raise ValueError('logits hold -inf at a target of a row that counts: a masked class cannot be a target')",
  ]
}
