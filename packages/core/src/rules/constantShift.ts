import type { Rule } from './types.js'

/**
 * The perturbation of a rule that adds one constant vector to every row of the logits,
 * `z_i = u_i + δ` (`δ` of length `W`, the logits' width: `C`, or `E·C` for `E` heads side by side):
 * logit adjustment, balanced BCE's log-odds, the multi-label prior shift and the experts' per-head
 * shifts. `δ` is made once per loss as a `[1, W]` constant and broadcast over the rows.
 */
export function constantShift(shift: readonly number[]): Rule['perturb'] {
  return (ops, { logits, constants }) => ({
    batch: {
      logits: ops.add(
        logits,
        constants.get('shift', [1, shift.length], () => shift),
      ),
    },
  })
}
