import { createLoss } from '../loss.js'
import type { RuleInput } from '../specTypes.js'
import type { Backend } from './backend.js'
import { batchOn } from './backend.js'

/** A single-label batch on the host: logits `[N][C]` and class ids `[N]`. */
export interface HostBatch {
  /** The logits, as rows `[N][C]`. */
  logits: readonly (readonly number[])[]
  /** The class ids `[N]`. */
  labels: readonly number[]
}

/** A spec's evaluation on a batch, read back to the host (flat `[N, C]` arrays). */
export interface HostEvaluation {
  /** The loss. */
  loss: number
  /** The perturbed logits `z`. */
  perturbed: Float64Array
  /** The logits the perturbation is measured against: the rule's reference logits, or the inputs `u`. */
  reference: Float64Array
  /** The class weights `w_c`, when the rule has them. */
  classWeights: Float64Array | undefined
  /**
   * Whether `z − reference` is the perturbation `δ`: false for a per-class scale of the logits with
   * no reference logits (VS's `Δ ⊙ u`), which no additive `δ` describes.
   */
  additive: boolean
}

/** Runs `fn` in the backend's scope (tfjs: its backend active, the tensors it makes freed after). */
function inScope<T, R>(backend: Backend<T>, fn: () => Promise<R>): Promise<R> {
  return (backend.scope ?? ((f) => f()))(fn)
}

/** Evaluates `spec` on a batch with a backend, without keeping any state. */
export function evaluateOn<T>(backend: Backend<T>, spec: RuleInput, batch: HostBatch): Promise<HostEvaluation> {
  return inScope(backend, async () => {
    const { logits, labels } = batchOn(backend, batch.logits, batch.labels)
    const { loss, batch: perturbed } = createLoss(backend.ops, spec).evaluate(logits, labels)
    return {
      loss: (await backend.read(loss))[0]!,
      perturbed: await backend.read(perturbed.logits),
      reference: await backend.read(perturbed.reference?.logits ?? logits),
      classWeights: perturbed.classWeights === undefined ? undefined : await backend.read(perturbed.classWeights),
      additive: perturbed.logitScale === undefined || perturbed.reference !== undefined,
    }
  })
}

/** The loss of `spec` on a batch, with a backend. */
export async function lossOn<T>(backend: Backend<T>, spec: RuleInput, batch: HostBatch): Promise<number> {
  return (await evaluateOn(backend, spec, batch)).loss
}

/** The loss variation `Δ_c` of each class and the samples it averages over, with a backend. */
export function variationOn<T>(
  backend: Backend<T>,
  spec: RuleInput,
  batch: HostBatch,
): Promise<{ lossVariation: Float64Array; classCounts: Float64Array }> {
  return inScope(backend, async () => {
    const { logits, labels } = batchOn(backend, batch.logits, batch.labels)
    const e = createLoss(backend.ops, spec).explain(logits, labels)
    return { lossVariation: await backend.read(e.lossVariation), classCounts: await backend.read(e.classCounts) }
  })
}
