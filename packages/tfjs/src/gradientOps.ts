import * as tf from '@tensorflow/tfjs-core'

/**
 * `sg(x)`: the value of `x`, a constant for automatic differentiation. A new tensor on the same
 * data, made outside any kernel, so that nothing computed from it is recorded on the gradient tape:
 * with a custom gradient that sends back zeros instead, `tf.grad` would still run the backward pass
 * of every op between `x` and the loss (LPL's whole search) only to multiply it by zero. The data
 * is shared and reference-counted, as the backends' own `Identity` kernels do.
 */
export function stopGradient(x: tf.Tensor): tf.Tensor {
  const engine = tf.engine()
  engine.backend.incRef(x.dataId)
  return engine.makeTensorFromTensorInfo({ dataId: x.dataId, shape: x.shape, dtype: x.dtype })
}

/**
 * Sums the rows of `x` (`[N, ...]`) into `numSegments` rows by integer ids (`[N]`), in `O(N·C)`.
 * Written as `ScatterNd` (whose duplicate indices accumulate) with the gradient `dy[ids]`: every
 * tfjs backend has a `ScatterNd` kernel, while `UnsortedSegmentSum` has none on wasm, and
 * `ScatterNd` has no registered gradient. The ids go through `save` so that they outlive the
 * forward pass until the backward pass needs them.
 */
export function segmentSum(x: tf.Tensor, ids: tf.Tensor, numSegments: number): tf.Tensor {
  const summed = tf.customGrad((input, segmentIds, save) => {
    const rows = input as tf.Tensor
    const idTensor = segmentIds as tf.Tensor
    const keepForBackward = save as tf.GradSaveFunc
    keepForBackward([idTensor])
    return {
      value: tf.scatterND(tf.reshape(idTensor, [-1, 1]), rows, [numSegments, ...rows.shape.slice(1)]),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => [gatherRows(dy, saved[0]!), tf.zerosLike(saved[0]!)],
    }
  }) as (input: tf.Tensor, segmentIds: tf.Tensor) => tf.Tensor
  return summed(x, ids)
}

/**
 * `x[indices]` along axis 0, with the gradient `segmentSum(dy, indices)`. tfjs's own `GatherV2`
 * gradient calls `UnsortedSegmentSum`, which the wasm backend lacks.
 */
export function gatherRows(x: tf.Tensor, indices: tf.Tensor): tf.Tensor {
  const gathered = tf.customGrad((input, rowIds, save) => {
    const rows = input as tf.Tensor
    const idTensor = rowIds as tf.Tensor
    const keepForBackward = save as tf.GradSaveFunc
    keepForBackward([idTensor])
    const numRows = rows.shape[0]!
    return {
      value: takeRows(rows, idTensor),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => [segmentSum(dy, saved[0]!, numRows), tf.zerosLike(saved[0]!)],
    }
  }) as (input: tf.Tensor, rowIds: tf.Tensor) => tf.Tensor
  return gathered(x, indices)
}

/**
 * A comparison as a float mask of 0 and 1 whose gradient is zero. tfjs registers no gradient for
 * `Greater` or `Equal`, and a mask built from the logits (the search's per-class choices) sits on
 * the path of `tf.grad`: a zero gradient is the true one almost everywhere.
 */
export function floatMask(compare: (a: tf.Tensor, b: tf.Tensor) => tf.Tensor): (a: tf.Tensor, b: tf.Tensor) => tf.Tensor {
  return tf.customGrad((a, b) => {
    const x = a as tf.Tensor
    const y = b as tf.Tensor
    // Zeros from the static shapes: the inputs themselves may be freed by the time gradients run.
    return { value: tf.cast(compare(x, y), 'float32'), gradFunc: () => [tf.zeros(x.shape), tf.zeros(y.shape)] }
  }) as (a: tf.Tensor, b: tf.Tensor) => tf.Tensor
}

/**
 * `x[indices]` along axis 0 with the kernel that is fast on the active backend: tfjs-wasm's
 * `GatherNd` copies whole rows (3 ms for 512 rows of 1000), where its `GatherV2` takes ten times
 * as long; the cpu backend is the other way round.
 */
function takeRows(x: tf.Tensor, indices: tf.Tensor): tf.Tensor {
  return tf.getBackend() === 'wasm' ? tf.gatherND(x, tf.reshape(indices, [-1, 1])) : tf.gather(x, indices, 0)
}
