/**
 * TensorFlow.js adapter: the core's rules over tfjs tensors ({@link tfjsOps}), a loss for custom
 * training loops ({@link createTfjsLoss}) and for `model.compile` ({@link layersLoss}), the
 * `model.fit` callback that feeds the epoch to the loss for LDAM-DRW ({@link perturbationCallback}),
 * and the switch by which `fit` takes class ids for such a loss ({@link acceptSparseTargets}).
 *
 * @module @logit-perturb/tfjs
 */
export { createTfjsOps, tfjsOps } from './ops.js'
export { segmentSum, stopGradient } from './gradientOps.js'
export { createTfjsLoss } from './loss.js'
export { isRecordingGradients } from './training.js'
export type { TfjsLoss, TfjsLossOptions } from './loss.js'
export { labelsFromTargets, layersLoss, perturbationCallback } from './layers.js'
export { layersTargets } from './layersTargets.js'
export type { LayersTargets } from './layersTargets.js'
export { acceptSparseTargets } from './sparseTargets.js'
export type { PerturbationCallbackHooks } from './layers.js'
export { exactLearnedBoundsHypergradient } from './learnedBounds.js'
export type { ExactLearnedBoundsInputs } from './learnedBounds.js'
export { onTfjsBackend, tfjsBackend } from './harness.js'
