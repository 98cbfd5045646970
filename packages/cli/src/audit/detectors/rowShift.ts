import type { AuditEvidence, Finding } from '../finding.js'

/**
 * Adding a constant to each row's logits (the `rows shifted` batch against the batch it repeats):
 * when the spec's loss does not change, an implementation whose loss does not change either is
 * reported with the reason that forms differing by a per-row constant are one loss (balanced
 * softmax's `log n_c` against logit adjustment's `log π_c`: they differ by `log N` in every
 * entry); one whose loss changes is a fault.
 */
export function detectRowShift(e: AuditEvidence): Finding | undefined {
  const b = e.batches.findIndex((batch) => batch.shiftOf !== undefined)
  if (b < 0) return undefined
  const base = e.batches[b]!.shiftOf!
  const c = e.comparisons[b]!
  const unchanged = (x: number, y: number, tolerance: number) => Math.abs(x - y) <= tolerance * Math.max(1, Math.abs(y))
  const specInvariant = unchanged(e.specResults[b]!.loss, e.specResults[base]!.loss, 1e-9 + 8 * 2 ** -52 * 100)
  if (!specInvariant) return undefined
  const implInvariant = unchanged(e.impl.results[b]!.loss, e.impl.results[base]!.loss, c.lossTolerance)
  if (implInvariant) {
    return {
      kind: 'per-row-shift',
      severity: 'info',
      batch: e.batches[b]!.name,
      message:
        "a constant added to each row's logits changes neither loss: forms that differ by a per-row constant (balanced softmax's log n_c against logit adjustment's log π_c, which differ by log N) are the same loss",
    }
  }
  return {
    kind: 'not-shift-invariant',
    severity: 'fault',
    batch: e.batches[b]!.name,
    message: "the implementation's loss changes when a constant is added to each row's logits; the spec's does not",
  }
}
