import * as tf from '@tensorflow/tfjs-core'

/**
 * Adam (β₁ = 0.9, β₂ = 0.999) whose learning rate follows a cosine decay over all steps,
 * `η_t = η₀·(1 + cos(π t / T))/2`, set by `step()` before each batch. `dispose()` frees its moments.
 *
 * The segmentation network has no normalization layers; in the few epochs a two-core machine
 * allows, Adam trains it where SGD with momentum (the MLP's optimizer) leaves most garment
 * classes unlearned.
 */
export function cosineAdam(
  initialRate: number,
  totalSteps: number,
): { optimizer: tf.AdamOptimizer; step: () => void; dispose: () => void } {
  const optimizer = tf.train.adam(initialRate, 0.9, 0.999)
  let t = 0
  return {
    optimizer,
    step: () => {
      // tfjs's Adam reads its learning rate, a plain number, at every update and has no setter.
      ;(optimizer as unknown as { learningRate: number }).learningRate =
        (initialRate * (1 + Math.cos((Math.PI * Math.min(t, totalSteps)) / totalSteps))) / 2
      t++
    },
    dispose: () => optimizer.dispose(),
  }
}
