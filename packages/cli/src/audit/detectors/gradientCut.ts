import type { AuditEvidence, Finding } from '../finding.js'

/** Batches whose logits are small enough for central differences to resolve the derivative. */
const PROBED_MAGNITUDE = 100

/**
 * A gradient cut where the spec differentiates, or the reverse: the losses agree on every batch, the
 * gradients do not, and exactly one side's gradient is the derivative of its own loss (checked along
 * the probe directions by central differences). A `detach` (or a custom backward that drops a term)
 * makes the implementation's gradient differ from its loss's derivative; the spec's closed-form
 * gradient differs from its loss's derivative exactly where the spec detaches.
 */
export function detectGradientCut(e: AuditEvidence): Finding | undefined {
  const lossesAgree = e.comparisons.every((c) => c.failed === undefined && c.lossError <= c.lossTolerance)
  const gradientsDiffer = e.comparisons.find((c) => c.gradientError > c.gradientTolerance)
  if (!lossesAgree || gradientsDiffer === undefined) return undefined
  const implTolerance = e.impl.dtype === 'float64' ? 1e-4 : 2e-2
  const firstCut = (side: 'spec' | 'impl') =>
    e.batches.findIndex((batch, b) => {
      if (Math.max(...batch.logits.flat().map(Math.abs)) > PROBED_MAGNITUDE) return false
      const r = side === 'spec' ? e.specResults[b]! : e.impl.results[b]!
      const norm = Math.sqrt(r.gradient.reduce((a, g) => a + g * g, 0))
      return batch.probe.directions.some((v, k) => {
        const along = v.reduce((a, x, j) => a + x * r.gradient[j]!, 0)
        return Math.abs(along - r.probes[k]!) > (side === 'spec' ? 1e-4 : implTolerance) * Math.max(norm, 1e-8)
      })
    })
  const specCut = firstCut('spec')
  const implCut = firstCut('impl')
  if (implCut >= 0 && specCut < 0) {
    const batch = e.batches[implCut]!.name
    return {
      kind: 'gradient-cut',
      severity: 'fault',
      batch,
      message: `the implementation's gradient is not the derivative of its loss (a detach, or a backward that drops a term) where the spec differentiates: the losses agree, the gradients differ (batch "${batch}")`,
    }
  }
  if (specCut >= 0 && implCut < 0) {
    const batch = e.batches[specCut]!.name
    return {
      kind: 'gradient-through',
      severity: 'fault',
      batch,
      message: `the implementation differentiates through what the spec detaches (its perturbation or batch statistics): the losses agree, the gradients differ (batch "${batch}")`,
    }
  }
  return undefined
}
