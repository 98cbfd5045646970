/**
 * TensorFlow.js adapter: the core's rules over tfjs tensors ({@link tfjsOps}), a loss for custom
 * training loops ({@link createTfjsLoss}) and for `model.compile` ({@link layersLoss}), and the
 * `model.fit` callback that feeds the epoch to the loss for LDAM-DRW ({@link perturbationCallback}).
 *
 * @module @logit-perturb/tfjs
 */
export { createTfjsOps, tfjsOps } from './ops.js'
export { segmentSum, stopGradient } from './gradientOps.js'
export { createTfjsLoss } from './loss.js'
export { isRecordingGradients } from './training.js'
export type { TfjsLoss, TfjsLossOptions } from './loss.js'
export { labelsFromTargets, layersLoss, perturbationCallback } from './layers.js'
export type { PerturbationCallbackHooks } from './layers.js'
export { exactLearnedBoundsHypergradient } from './learnedBounds.js'
export type { ExactLearnedBoundsInputs } from './learnedBounds.js'
export { onTfjsBackend, tfjsBackend } from './harness.js'
