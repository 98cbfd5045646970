import type { AuditEvidence, Finding } from '../finding.js'

/** A call that raised: the first batch where the implementation's forward failed. */
export function detectRaises(e: AuditEvidence): Finding | undefined {
  const failed = e.comparisons.find((c) => c.failed !== undefined)
  if (failed === undefined) return undefined
  return {
    kind: 'raises',
    severity: 'fault',
    batch: failed.batch,
    message: `the implementation raises on batch "${failed.batch}": ${failed.failed}`,
  }
}

/** Values that are not finite where the spec's are (an unstable log-sum-exp, a log of 0, a 0/0). */
export function detectNotFinite(e: AuditEvidence): Finding | undefined {
  const bad = e.comparisons.find((c) => c.notFinite && c.failed === undefined)
  if (bad === undefined) return undefined
  return {
    kind: 'not-finite',
    severity: 'fault',
    batch: bad.batch,
    message: `the implementation's loss or gradient is not finite on batch "${bad.batch}", where the spec's are (an unstable log-sum-exp, a log of 0 or a division by 0)`,
  }
}
