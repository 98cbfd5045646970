import * as tf from '@tensorflow/tfjs-core'
import '@tensorflow/tfjs-backend-cpu'
import * as tfl from '@tensorflow/tfjs-layers'
import type { DenseWeights } from './classifier.js'

/**
 * Trains a dense classifier `D → hidden (ReLU) → C` with tfjs (cpu backend, plain cross-entropy,
 * Adam, seeded initializers, no shuffling, so the run is reproducible) and returns its weights.
 */
export async function trainDenseClassifier(
  points: number[][],
  labels: number[],
  numClasses: number,
  hidden: number,
  epochs: number,
): Promise<DenseWeights[]> {
  await tf.setBackend('cpu')
  await tf.ready()
  const model = tfl.sequential({
    layers: [
      tfl.layers.dense({
        inputShape: [points[0]!.length],
        units: hidden,
        activation: 'relu',
        kernelInitializer: tfl.initializers.glorotUniform({ seed: 1 }),
      }),
      tfl.layers.dense({ units: numClasses, kernelInitializer: tfl.initializers.glorotUniform({ seed: 2 }) }),
    ],
  })
  model.compile({ optimizer: tf.train.adam(0.03), loss: (y: tf.Tensor, logits: tf.Tensor) => tf.losses.softmaxCrossEntropy(y, logits) })
  const x = tf.tensor2d(points)
  const y = tf.oneHot(tf.tensor1d(labels, 'int32'), numClasses)
  try {
    await model.fit(x, y, { epochs, batchSize: 64, shuffle: false, verbose: 0 })
    return model.layers.map((layer) => {
      const [kernel, bias] = layer.getWeights()
      return { kernel: kernel!.arraySync() as number[][], bias: bias!.arraySync() as number[] }
    })
  } finally {
    tf.dispose([x, y])
    model.dispose()
  }
}
