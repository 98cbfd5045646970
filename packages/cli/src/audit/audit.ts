import type { RuleSpec } from '@logit-perturb/core'
import { auditBatches } from './batches.js'
import { AUDIT_TOLERANCE, type BatchComparison, agrees, compareBatch } from './compare.js'
import { detectConstantFactor } from './detectors/constantFactor.js'
import { detectNotFinite, detectRaises } from './detectors/failures.js'
import { detectGradientCut } from './detectors/gradientCut.js'
import { detectParameter } from './detectors/parameterFit.js'
import { twoWorkerSplit } from './detectors/perShard.js'
import { detectRowShift } from './detectors/rowShift.js'
import type { AuditEvidence, Finding } from './finding.js'
import { specResults } from './specSide.js'
import { IGNORE_INDEX, type Implementation } from './types.js'

/** The audit's answer (`lpl audit --json` prints it; docs/audit.md#the-report). */
export interface AuditReport {
  verdict: 'equivalent' | 'differs'
  rule: string
  implementation: string
  /** The precision the implementation computed in (its tolerances follow it). */
  dtype: 'float64' | 'float32'
  classes: number
  batches: string[]
  largestLossError: { value: number; batch: string }
  largestGradientError: { value: number; batch: string }
  /** Each batch's errors and tolerances. */
  comparisons: BatchComparison[]
  findings: Finding[]
}

/**
 * The detectors, in the order they are asked: the first fault found explains a difference, and
 * the row-shift detector also explains an equivalence.
 */
const DETECTORS: ((e: AuditEvidence) => Finding | undefined)[] = [
  detectRaises,
  detectNotFinite,
  detectRowShift,
  detectConstantFactor,
  detectGradientCut,
  detectParameter,
]

/**
 * Audits an implementation against a spec (docs/spec.md#13-auditing-an-implementation): both sides
 * on the audit batches, the verdict (`equivalent`: the same loss and gradient w.r.t. the logits on
 * every batch, within the tolerances of the implementation's precision), and the findings of the
 * detectors that name a fault.
 */
export async function audit(spec: RuleSpec, numClasses: number, implementation: Implementation, seed = 0): Promise<AuditReport> {
  const all = auditBatches(spec, numClasses, seed)
  const allReference = specResults(spec, all)
  const run = await implementation.run(all)
  const findings: Finding[] = []
  // An implementation that does not take ignored labels (it raises, or its loss is not finite) has
  // that batch left out, with a note; one that takes them must take them as the spec does.
  const kept = all.map(
    (batch, b) => !(batch.ignored === true && !(run.results[b]!.error === undefined && Number.isFinite(run.results[b]!.loss))),
  )
  const unsupported = kept.indexOf(false)
  if (unsupported >= 0) {
    const error = run.results[unsupported]!.error
    findings.push({
      kind: 'ignored-labels-unsupported',
      severity: 'info',
      batch: all[unsupported]!.name,
      message: `the implementation does not take labels ${IGNORE_INDEX} (rows that count for nothing, F.cross_entropy's ignore_index): ${error === undefined ? 'its loss is not finite' : `it raises ${error}`}; batch "${all[unsupported]!.name}" is left out`,
    })
  }
  const batches = all.filter((_, b) => kept[b])
  const reference = allReference.filter((_, b) => kept[b])
  const impl = { ...run, results: run.results.filter((_, b) => kept[b]) }
  const comparisons = batches.map((batch, b) => compareBatch(batch, reference[b]!, impl.results[b]!, impl.dtype))
  const evidence: AuditEvidence = { spec, batches, specResults: reference, impl, comparisons: [...comparisons] }
  // Where the spec reads batch statistics and the implementation runs in workers: the split batch.
  const split = await twoWorkerSplit(spec, batches[0]!, implementation)
  if (split !== undefined) {
    comparisons.push(split.comparison)
    if (split.finding !== undefined) findings.push(split.finding)
  }
  const verdict = comparisons.every(agrees) ? 'equivalent' : 'differs'
  // The detectors read the batches of one process: a fault of theirs explains only batches that
  // differ (workers that differ have the split's finding), the row shift's reason only an equivalence.
  const batchesDiffer = !evidence.comparisons.every(agrees)
  for (const detect of DETECTORS) {
    const found = detect(evidence)
    if (found === undefined) continue
    if (found.severity === 'fault' ? !batchesDiffer : verdict === 'differs') continue
    findings.push(found)
    if (found.severity === 'fault' && found.kind !== 'raises' && found.kind !== 'not-finite') break
  }
  if (verdict === 'differs' && !findings.some((f) => f.severity === 'fault')) {
    const worst = comparisons.find((c) => !agrees(c))!
    findings.push({
      kind: 'unexplained',
      severity: 'fault',
      batch: worst.batch,
      message: `the implementation differs on batch "${worst.batch}" (loss error ${worst.lossError.toExponential(2)}, gradient error ${worst.gradientError.toExponential(2)}); no detector names the fault`,
    })
  }
  const largest = (key: 'lossError' | 'gradientError') =>
    comparisons.reduce((best, c) => (c[key] > best.value ? { value: c[key], batch: c.batch } : best), { value: 0, batch: batches[0]!.name })
  return {
    verdict,
    rule: spec.rule,
    implementation: implementation.name,
    dtype: impl.dtype,
    classes: numClasses,
    batches: batches.map((b) => b.name),
    largestLossError: largest('lossError'),
    largestGradientError: largest('gradientError'),
    comparisons,
    // The faults first: they are why it differs.
    findings: [...findings.filter((f) => f.severity === 'fault'), ...findings.filter((f) => f.severity === 'info')],
  }
}

export { AUDIT_TOLERANCE }
