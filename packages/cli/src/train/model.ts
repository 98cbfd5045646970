import * as tf from '@tensorflow/tfjs-core'
import * as tfl from '@tensorflow/tfjs-layers'

/** Weight decay as a loss term `2.5e-4·Σw²`: its gradient is `5e-4·w`, PyTorch SGD's `weight_decay=5e-4`. */
const DECAY = 2.5e-4

/**
 * A dense layer with cosine logits: `u_ij = x̂_i · ŵ_j`, features and class weights L2-normalized,
 * so logits lie in [−1, 1]. LDAM's margins and scale `s = 30` are meant for this classifier layer (LDAM's
 * released code uses it); on an unnormalized layer `s = 30` makes training diverge.
 */
export class CosineDense extends tfl.layers.Layer {
  static className = 'CosineDense'
  private kernel: tfl.LayerVariable | undefined

  constructor(
    private readonly units: number,
    private readonly seed: number,
  ) {
    super({})
  }

  override build(inputShape: tfl.Shape | tfl.Shape[]): void {
    const shape = inputShape as tfl.Shape
    this.kernel = this.addWeight(
      'kernel',
      [shape[shape.length - 1]!, this.units],
      'float32',
      tfl.initializers.glorotUniform({ seed: this.seed }),
      tfl.regularizers.l2({ l2: DECAY }),
    )
    this.built = true
  }

  override computeOutputShape(inputShape: tfl.Shape | tfl.Shape[]): tfl.Shape {
    return [(inputShape as tfl.Shape)[0]!, this.units]
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.tidy(() => {
      const x = Array.isArray(inputs) ? inputs[0]! : inputs
      const w = this.kernel!.read()
      // √(Σx² + ε) rather than ‖x‖ + ε: the norm's gradient x/‖x‖ is 0/0 for a row of features
      // that ReLU switched off entirely, and one such row turns every weight NaN.
      const xn = tf.div(x, tf.sqrt(tf.add(tf.sum(tf.square(x), 1, true), 1e-12)))
      const wn = tf.div(w, tf.sqrt(tf.add(tf.sum(tf.square(w), 0, true), 1e-12)))
      return tf.matMul(xn, wn)
    })
  }
}

/** The two classifier layers the benchmark uses: a plain dense layer, or cosine logits (for LDAM). */
export type Classifier = 'dense' | 'cosine'

/**
 * The protocol's network (docs/spec.md#7-reporting-conventions): a multi-layer perceptron 784-256-128-10 with ReLU
 * (`inputSize` 3136 for the 56×56 multi-label canvases),
 * weight decay 5e-4 on every weight and bias, seeded initialization, outputting logits.
 */
export function buildMlp(numClasses: number, seed: number, classifier: Classifier = 'dense', inputSize = 784): tfl.Sequential {
  const regularizer = () => tfl.regularizers.l2({ l2: DECAY })
  const dense = (units: number, k: number, extra: { activation?: 'relu'; inputShape?: number[] }) =>
    tfl.layers.dense({
      units,
      ...extra,
      kernelInitializer: tfl.initializers.heNormal({ seed: seed * 7 + k }),
      kernelRegularizer: regularizer(),
      biasRegularizer: regularizer(),
    })
  const model = tfl.sequential()
  model.add(dense(256, 1, { activation: 'relu', inputShape: [inputSize] }))
  model.add(dense(128, 2, { activation: 'relu' }))
  model.add(classifier === 'cosine' ? new CosineDense(numClasses, seed * 7 + 3) : dense(numClasses, 3, {}))
  return model
}

/**
 * SGD with Nesterov momentum 0.9 whose learning rate follows a cosine decay over all steps,
 * `η_t = η₀·(1 + cos(π t / T))/2`, set before every batch by the callback it returns. `dispose()`
 * frees every tensor the optimizer holds.
 */
export function cosineNesterov(
  initialRate: number,
  totalSteps: number,
): {
  optimizer: tf.MomentumOptimizer
  onBatchBegin: () => Promise<void>
  rate: () => number
  dispose: () => void
} {
  const optimizer = tf.train.momentum(initialRate, 0.9, true)
  let step = 0
  let rate = initialRate
  return {
    optimizer,
    rate: () => rate,
    dispose: () => {
      optimizer.dispose()
      // tfjs 4.22's MomentumOptimizer.dispose frees the momentum scalar and the slots but not the
      // learning-rate scalar of its SGD base class, one tensor left per optimizer; the base's
      // dispose frees it (disposing a tensor twice is a no-op).
      tf.SGDOptimizer.prototype.dispose.call(optimizer)
    },
    onBatchBegin: async () => {
      rate = (initialRate * (1 + Math.cos((Math.PI * Math.min(step, totalSteps)) / totalSteps))) / 2
      optimizer.setLearningRate(rate)
      step++
    },
  }
}
