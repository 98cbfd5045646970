import type { RuleSpec } from '@logit-perturb/core'
import { centralDifferences } from '../differences.js'
import { referenceInputs } from '../referenceInputs.js'
import { auditLoss } from '../specSide.js'
import type { BatchComparison } from '../compare.js'
import type { Finding } from '../finding.js'
import type { AuditBatch, Implementation } from '../types.js'

/** The two workers' rows of the batch: two equal halves. */
function halves(n: number): [number, number][] {
  const half = Math.floor(n / 2)
  return [
    [0, half],
    [half, n],
  ]
}

/** The spec's mean loss gradient of rows `[start, end)` of a batch, with the statistics of those rows only. */
function specGradient(spec: RuleSpec, batch: AuditBatch, start: number, end: number): number[] {
  const loss = auditLoss(spec)
  const { u, labels, ctx, at } = referenceInputs(batch, start, end)
  if (loss.hasClosedFormGradient) return Array.from(loss.gradient(at(u), labels, ctx).data)
  return centralDifferences((x) => loss.evaluate(at(x), labels, ctx).loss.data[0]!, u, batch.probe.h)
}

/** `‖a − k·b‖ / ‖a‖` with the least-squares `k > 0` (1 when there is none). */
function residual(a: readonly number[], b: readonly number[]): number {
  const ab = a.reduce((s, x, k) => s + x * b[k]!, 0)
  const bb = b.reduce((s, x) => s + x * x, 0)
  const norm = Math.sqrt(a.reduce((s, x) => s + x * x, 0))
  // A gradient of zero, or one pointing the other way, matches no normalization.
  if (bb > 0 && (norm === 0 || ab <= 0)) return 1
  const k = bb > 0 ? ab / bb : 0
  return Math.sqrt(a.reduce((s, x, j) => s + (x - k * b[j]!) ** 2, 0)) / (norm > 0 ? norm : 1)
}

/**
 * The audit of a two-worker split (docs/spec.md#9-data-parallel-training): when the spec reads
 * batch statistics (its gradient on the whole batch is not that of the two halves on their own),
 * the implementation runs the batch in two workers of one process group; the workers' gradients
 * must be the spec's whole-batch gradient, up to one factor (the normalization each framework
 * chooses: a share of the whole batch's loss, or each worker's own mean). When they are instead
 * the gradients of each half with its own statistics, the implementation takes its statistics per
 * shard where the spec sums them across workers. Undefined when the spec reads no batch statistics.
 */
export async function twoWorkerSplit(
  spec: RuleSpec,
  batch: AuditBatch,
  implementation: Implementation,
): Promise<{ comparison: BatchComparison; finding?: Finding } | undefined> {
  if (implementation.runShards === undefined) return undefined
  const shards = halves(batch.logits.length)
  const whole = specGradient(spec, batch, 0, batch.logits.length)
  const perShard = shards.flatMap(([start, end]) => specGradient(spec, batch, start, end))
  if (residual(perShard, whole) <= 1e-9) return undefined
  const run = await implementation.runShards(batch, shards)
  const gathered = run.workers.flatMap((w) => w.gradient)
  const tolerance = run.dtype === 'float64' ? 1e-6 : 2e-4
  const error = gathered.every(Number.isFinite) && gathered.length === whole.length ? residual(gathered, whole) : Number.POSITIVE_INFINITY
  const comparison: BatchComparison = {
    batch: 'two workers',
    lossError: 0,
    gradientError: error,
    lossTolerance: tolerance,
    gradientTolerance: tolerance,
    notFinite: !Number.isFinite(error),
  }
  if (error <= tolerance) return { comparison }
  if (gathered.length === whole.length && residual(gathered, perShard) <= tolerance) {
    return {
      comparison,
      finding: {
        kind: 'per-shard-statistics',
        severity: 'fault',
        batch: 'two workers',
        message:
          "the implementation takes its batch statistics per worker where the spec sums them across workers: in two workers its gradients are each half's on its own (an all-reduce of the statistics is missing)",
      },
    }
  }
  return { comparison }
}
