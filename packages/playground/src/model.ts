import * as tfl from '@tensorflow/tfjs-layers'

/** The network's shape: two hidden ReLU layers of `hidden` units, and the seed of its initial weights. */
export interface ModelOptions {
  classes: number
  hidden: number
  seed: number
}

/**
 * A small multilayer perceptron from the plane to `classes` logits (no softmax: the losses take
 * logits). Each kernel has its own fixed seed, derived from `seed`, so two runs with the same options
 * start from the same weights and the comparison between rules is not a comparison of draws.
 */
export function createModel({ classes, hidden, seed }: ModelOptions): tfl.Sequential {
  const init = (layer: number) => tfl.initializers.glorotUniform({ seed: seed * 7919 + layer })
  return tfl.sequential({
    layers: [
      tfl.layers.dense({ units: hidden, activation: 'relu', inputShape: [2], kernelInitializer: init(0) }),
      tfl.layers.dense({ units: hidden, activation: 'relu', kernelInitializer: init(1) }),
      tfl.layers.dense({ units: classes, kernelInitializer: init(2) }),
    ],
  })
}
