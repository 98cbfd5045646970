import * as tfl from '@tensorflow/tfjs-layers'
import { SameConv } from './sameConv.js'

/**
 * The fully-convolutional network of `lpl train --task segmentation`: a small encoder-decoder with
 * one skip connection, outputting logits `[N, side, side, C]` (channels last).
 *
 * ```
 * x [side, side, 1]
 * e1 = relu(conv3×3, 16)(x)                          side
 * e2 = relu(conv3×3, 32)(maxpool2(e1))               side/2
 * e3 = relu(conv3×3, 32)(e2)                          side/2
 * e4 = relu(conv3×3, 32)(maxpool2(e3))               side/4
 * d  = relu(conv1×1, 32)(concat(e1, upsample4(e4)))  side
 * logits = conv1×1, C (d)                           side
 * ```
 *
 * The deepest features see 22×22 pixels, more than a 14-pixel garment, which is what telling a
 * Shirt from a T-shirt needs; the skip from `e1` keeps the garment's outline sharp. Seeded
 * initialization (He-normal kernels, zero biases). `side` must be a multiple of 4.
 */
export function buildSegmentationNet(numClasses: number, seed: number, side: number): tfl.LayersModel {
  if (side % 4 !== 0) throw new Error(`the segmentation network needs a side that is a multiple of 4, got ${side}`)
  const conv = (filters: number, k: number) => new SameConv({ filters, kernelSize: 3, seed: seed * 11 + k, activation: 'relu' })
  // 1×1 convolutions rather than dense layers on the last axis: on wasm, XNNPACK's convolution is
  // about twice as fast as the matrix product of the same [B·S·S, 48] rows.
  const pointwise = (filters: number, k: number, activation?: 'relu') =>
    new SameConv({ filters, kernelSize: 1, seed: seed * 11 + k, ...(activation ? { activation } : {}) })
  const input = tfl.input({ shape: [side, side, 1] })
  const e1 = conv(16, 1).apply(input) as tfl.SymbolicTensor
  const e2 = conv(32, 2).apply(tfl.layers.maxPooling2d({ poolSize: 2 }).apply(e1)) as tfl.SymbolicTensor
  const e3 = conv(32, 3).apply(e2) as tfl.SymbolicTensor
  const e4 = conv(32, 4).apply(tfl.layers.maxPooling2d({ poolSize: 2 }).apply(e3)) as tfl.SymbolicTensor
  const up = tfl.layers.upSampling2d({ size: [4, 4] }).apply(e4) as tfl.SymbolicTensor
  const joined = tfl.layers.concatenate().apply([e1, up]) as tfl.SymbolicTensor
  const decoded = pointwise(32, 5, 'relu').apply(joined) as tfl.SymbolicTensor
  const logits = pointwise(numClasses, 6).apply(decoded) as tfl.SymbolicTensor
  return tfl.model({ inputs: input, outputs: logits })
}
