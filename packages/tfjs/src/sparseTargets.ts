import { LogitPerturbError } from '@logit-perturb/core'

/** The functions `layersLoss` made: {@link acceptSparseTargets} relaxes only their outputs. */
const layersLosses = new WeakSet<object>()

/** Marks `fn` as a loss made by `layersLoss`. */
export function registerLayersLoss(fn: object): void {
  layersLosses.add(fn)
}

/**
 * The fields of a compiled tfjs-layers `LayersModel` this reads and writes, one entry per output:
 * the shape each target must have and the output's loss (private fields; a `Sequential` keeps them
 * on its inner `model`).
 */
interface CompiledOutputs {
  feedOutputShapes: (readonly (number | null)[] | null)[]
  feedLossFns: unknown[]
}

function compiledOutputs(model: unknown): CompiledOutputs | undefined {
  const m = model as Partial<CompiledOutputs> & { model?: unknown }
  if (Array.isArray(m.feedOutputShapes) && Array.isArray(m.feedLossFns)) return m as CompiledOutputs
  return m.model !== undefined && m.model !== model ? compiledOutputs(m.model) : undefined
}

/**
 * Lets `model.fit`, `model.evaluate` and `fit`'s validation data take class ids for the outputs
 * compiled with `layersLoss`: `[N]` or `[N, 1]` for logits `[N, C]`, `[N, H, W]` or `[N, H, W, 1]`
 * for a segmentation output `[N, H, W, C]`. tfjs-layers requires a target of its output's shape
 * (but for its own `sparseCategoricalCrossentropy`) and has no option by which a custom loss takes
 * class ids; this drops that check for those outputs, whose loss checks the targets' shapes itself
 * (`LABELS_SHAPE`). Call it after `model.compile`, which sets the check again. It writes
 * tfjs-layers' `feedOutputShapes`, a private field (tested with the tfjs-layers the package is
 * tested with); `model.fitDataset` checks no target shape and needs no call.
 *
 * Throws `INVALID_MODEL` naming `model` when the model is not compiled (or its tfjs-layers keeps no
 * such field) or no output of it has a `layersLoss`.
 */
export function acceptSparseTargets(model: object): void {
  const outputs = compiledOutputs(model)
  if (outputs === undefined) {
    throw new LogitPerturbError(
      'INVALID_MODEL',
      'is not a compiled tfjs-layers model: call acceptSparseTargets(model) after model.compile',
      'model',
    )
  }
  let relaxed = 0
  outputs.feedLossFns.forEach((fn, i) => {
    if (typeof fn !== 'function' || !layersLosses.has(fn)) return
    outputs.feedOutputShapes[i] = null
    relaxed++
  })
  if (relaxed === 0) {
    throw new LogitPerturbError('INVALID_MODEL', 'no output of the model is compiled with a layersLoss(loss)', 'model')
  }
}
