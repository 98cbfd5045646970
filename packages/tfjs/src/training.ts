import * as tf from '@tensorflow/tfjs-core'

/**
 * Whether tfjs is recording operations for a gradient (inside `optimizer.minimize`,
 * `tf.variableGrads`, `model.fit`'s training batches): the fallback mark of a training step, used
 * only when neither the call's context, `loss.context.training` nor `perturbationCallback` says.
 * tfjs has no public API for it, so this reads the engine's `state.gradientDepth`, the one read of
 * tfjs-core internals in this package (`acceptSparseTargets` writes one field of tfjs-layers');
 * where a tfjs version does not have it, the answer is `undefined` and the call counts as a
 * training step (the core's default). `engine` is tfjs's (a parameter so
 * that the fallback can be tested against an engine without that state).
 */
export function isRecordingGradients(engine: object = tf.engine()): boolean | undefined {
  const depth: unknown = (engine as { state?: { gradientDepth?: unknown } }).state?.gradientDepth
  return typeof depth === 'number' ? depth > 0 : undefined
}
