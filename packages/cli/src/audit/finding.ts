import type { RuleSpec } from '@logit-perturb/core'
import type { BatchComparison } from './compare.js'
import type { AuditBatch, BatchResult, ImplementationResults } from './types.js'

/** What a detector found (docs/audit.md#findings). */
export interface Finding {
  /** The detector's name. */
  kind:
    | 'raises'
    | 'not-finite'
    | 'constant-factor'
    | 'parameter'
    | 'sign-flipped'
    | 'gradient-cut'
    | 'gradient-through'
    | 'per-row-shift'
    | 'ignored-labels-unsupported'
    | 'not-shift-invariant'
    | 'per-shard-statistics'
    | 'unexplained'
  /** `fault`: why the implementation differs; `info`: why a difference in form is harmless. */
  severity: 'fault' | 'info'
  /** One sentence naming the fault. */
  message: string
  /** The batch that shows it. */
  batch?: string
  /** A fitted spec field, its value in the spec and the value that matches the implementation. */
  field?: string
  specValue?: number
  value?: number
  /** A constant factor: `N` (the batch size), `1/N`, `C`, `1/C`, or a number. */
  factor?: string
}

/** Everything a detector reads: the batches, both sides' results, and their comparison. */
export interface AuditEvidence {
  spec: RuleSpec
  batches: readonly AuditBatch[]
  specResults: readonly BatchResult[]
  impl: ImplementationResults
  comparisons: readonly BatchComparison[]
}
