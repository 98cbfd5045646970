import type { onnx as proto } from 'onnx-proto'
import { onnx } from '../../src/serialize.js'

/** A dense layer's parameters: `kernel` `[in][out]` (as tfjs stores it) and `bias` `[out]`. */
export interface DenseWeights {
  kernel: number[][]
  bias: number[]
}

/** Options of {@link classifierModel}. */
export interface ClassifierOptions {
  /** Extra outputs besides `logits`, in front of it: `'features'` publishes the last hidden layer. */
  extraOutputs?: 'features'[]
  /** Opset of the default domain; default 13, as a typical exporter writes. */
  opset?: number
}

/**
 * A dense ReLU classifier as another exporter would write it, with onnx-proto directly and not with
 * this package's builder: input `input` float `[batch, D]`, hidden layers `Relu(Gemm(x, W, b))`,
 * a last `Gemm` to the output `logits` float `[batch, C]`. Weights are stored as `float_data`.
 */
export function classifierModel(layers: readonly DenseWeights[], options: ClassifierOptions = {}): Uint8Array {
  const FLOAT = onnx.TensorProto.DataType.FLOAT
  const nodes: proto.INodeProto[] = []
  const initializers: proto.ITensorProto[] = []
  let x = 'input'
  layers.forEach((layer, k) => {
    const last = k === layers.length - 1
    initializers.push(
      { name: `W${k}`, dataType: FLOAT, dims: [layer.kernel.length, layer.bias.length], floatData: layer.kernel.flat() },
      { name: `b${k}`, dataType: FLOAT, dims: [layer.bias.length], floatData: layer.bias },
    )
    const gemm = last ? 'logits' : `gemm${k}`
    nodes.push({ name: `dense${k}`, opType: 'Gemm', input: [x, `W${k}`, `b${k}`], output: [gemm] })
    if (!last) {
      x = `relu${k}`
      nodes.push({ name: `relu${k}`, opType: 'Relu', input: [gemm], output: [x] })
    }
  })
  const tensor = (name: string, cols: number): proto.IValueInfoProto => ({
    name,
    type: { tensorType: { elemType: FLOAT, shape: { dim: [{ dimParam: 'batch' }, { dimValue: cols }] } } },
  })
  const features = layers.length > 1 ? `relu${layers.length - 2}` : 'input'
  const outputs = [
    ...(options.extraOutputs ?? []).map(() => tensor(features, layers[layers.length - 1]!.kernel.length)),
    tensor('logits', layers[layers.length - 1]!.bias.length),
  ]
  return onnx.ModelProto.encode({
    irVersion: 7,
    producerName: 'a-test-exporter',
    opsetImport: [{ domain: '', version: options.opset ?? 13 }],
    graph: {
      name: 'classifier',
      node: nodes,
      initializer: initializers,
      input: [tensor('input', layers[0]!.kernel.length)],
      output: outputs,
    },
  }).finish()
}
