import * as tf from '@tensorflow/tfjs-core'
import * as tfl from '@tensorflow/tfjs-layers'

/** Weight decay as a loss term `2.5e-4·Σw²` (gradient `5e-4·w`, PyTorch SGD's `weight_decay=5e-4`), as the MLP's. */
const DECAY = 2.5e-4

/**
 * A stride-1 `'same'` convolution `y = x ⋆ W` (odd kernel `k × k`, channels last), whose gradients
 * are forward convolutions:
 *
 * - `∂L/∂x = conv(∂L/∂y, W')`, `'same'`, with `W'[a, b, o, c] = W[k−1−a, k−1−b, c, o]` (the kernel
 *   turned by 180° and its channels swapped);
 * - `∂L/∂W[a, b, c, o] = Σ_{n,i,j} x̄[n, i+a, j+b, c]·∂L/∂y[n, i, j, o]` (`x̄`: `x` zero-padded by
 *   `(k−1)/2`), a `'valid'` convolution of `x̄` laid out as `[C, H+k−1, W+k−1, N]` with `∂L/∂y` as
 *   the kernel `[H, W, N, O]`.
 *
 * Why: tfjs-backend-wasm 4.22 has no `Conv2DBackpropFilter` kernel, so `tf.conv2d` cannot be
 * trained on it, and its `Conv2DBackpropInput` is several times slower than its forward
 * convolution (XNNPACK); written this way a training step runs on wasm kernels only.
 */
export function sameConv2d(x: tf.Tensor4D, kernel: tf.Tensor4D): tf.Tensor4D {
  const size = kernel.shape[0]
  if (size % 2 !== 1 || kernel.shape[1] !== size) throw new Error(`sameConv2d needs an odd square kernel, got [${kernel.shape.join(', ')}]`)
  const pad = (size - 1) / 2
  const conv = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [xs, w, save] = args as [tf.Tensor4D, tf.Tensor4D, tf.GradSaveFunc]
    save([xs, w])
    return {
      value: tf.conv2d(xs, w, 1, 'same'),
      gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => {
        const g = (Array.isArray(dy) ? dy[0]! : dy) as tf.Tensor4D
        const [sx, sw] = saved as [tf.Tensor4D, tf.Tensor4D]
        const turned = tf.transpose(tf.reverse(sw, [0, 1]), [0, 1, 3, 2]) as tf.Tensor4D
        const dx = tf.conv2d(g, turned, 1, 'same')
        const padded = tf.pad(sx, [
          [0, 0],
          [pad, pad],
          [pad, pad],
          [0, 0],
        ])
        const byChannel = tf.transpose(padded, [3, 1, 2, 0]) as tf.Tensor4D
        const asKernel = tf.transpose(g, [1, 2, 0, 3]) as tf.Tensor4D
        const dw = tf.transpose(tf.conv2d(byChannel, asKernel, 1, 'valid'), [1, 2, 0, 3])
        return [dx, dw]
      },
    }
  })
  return conv(x, kernel) as tf.Tensor4D
}

/** Arguments of {@link SameConv}. */
export interface SameConvArgs {
  filters: number
  kernelSize: number
  seed: number
  activation?: 'relu'
}

/**
 * A convolution layer (`'same'` padding, stride 1, He-normal kernel, zero bias, weight decay 5e-4
 * on both as the MLP's layers) built on {@link sameConv2d}, so that it trains on the wasm backend.
 */
export class SameConv extends tfl.layers.Layer {
  static className = 'SameConv'
  private kernel: tfl.LayerVariable | undefined
  private bias: tfl.LayerVariable | undefined

  constructor(private readonly args: SameConvArgs) {
    super({})
  }

  override build(inputShape: tfl.Shape | tfl.Shape[]): void {
    const shape = inputShape as tfl.Shape
    const k = this.args.kernelSize
    this.kernel = this.addWeight(
      'kernel',
      [k, k, shape[shape.length - 1]!, this.args.filters],
      'float32',
      tfl.initializers.heNormal({ seed: this.args.seed }),
      tfl.regularizers.l2({ l2: DECAY }),
    )
    this.bias = this.addWeight('bias', [this.args.filters], 'float32', tfl.initializers.zeros(), tfl.regularizers.l2({ l2: DECAY }))
    this.built = true
  }

  override computeOutputShape(inputShape: tfl.Shape | tfl.Shape[]): tfl.Shape {
    const shape = inputShape as tfl.Shape
    return [...shape.slice(0, -1), this.args.filters]
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.tidy(() => {
      const x = (Array.isArray(inputs) ? inputs[0]! : inputs) as tf.Tensor4D
      const y = tf.add(sameConv2d(x, this.kernel!.read() as tf.Tensor4D), this.bias!.read())
      return this.args.activation === 'relu' ? tf.relu(y) : y
    })
  }
}
