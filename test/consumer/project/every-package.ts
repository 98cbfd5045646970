// Every public package's types in one user file (checked with skipLibCheck: false).
import { COMMANDS } from '@logit-perturb/cli'
import { type Loss, type RefTensor, createLoss, referenceOps } from '@logit-perturb/core'
import { type TensorOps, traceLoss } from '@logit-perturb/core/backend'
import { type ConformanceCase, checkConformance, referenceBackend } from '@logit-perturb/core/verify'
import {
  type ExportedLossModel,
  type OnnxRuntime,
  exportLossModel,
  loadOnnxRuntime,
  onnxWasmBackend,
  runLossModel,
} from '@logit-perturb/onnx'
import { type ExportedTorchModule, exportTorchModule } from '@logit-perturb/pytorch'
import { type TfjsLoss, createTfjsLoss, layersLoss, perturbationCallback, tfjsBackend } from '@logit-perturb/tfjs'
import type * as tf from '@tensorflow/tfjs-core'
import * as tfl from '@tensorflow/tfjs-layers'

export const commands: string[] = Object.keys(COMMANDS)
const spec = { rule: 'lpl', split: 'prior', classCounts: [90, 9, 1] } as const
export const reference: Loss<RefTensor> = createLoss(referenceOps, spec)
export const onTfjs: TfjsLoss = createTfjsLoss(spec)
export const model: ExportedLossModel = exportLossModel(spec)
export const torchModule: ExportedTorchModule = exportTorchModule(spec)
// The backend entry: the reference is a TensorOps, and the trace the exporters render is public.
export const ops: TensorOps<RefTensor> = referenceOps
export const trace: typeof traceLoss = traceLoss

export async function train(xs: tf.Tensor2D, ys: tf.Tensor2D): Promise<number> {
  const net = tfl.sequential({ layers: [tfl.layers.dense({ units: 3, inputShape: [2] })] })
  net.compile({ optimizer: 'sgd', loss: layersLoss(onTfjs) })
  const history = await net.fit(xs, ys, { epochs: 1, callbacks: perturbationCallback(onTfjs) })
  const runtime: OnnxRuntime = await loadOnnxRuntime()
  runtime.env.wasm.numThreads = 1
  const { loss } = await runLossModel(model.bytes, [[1, 2, 3]], [0])
  return Number(history.history.loss?.[0]) + loss
}

export async function verify(c: ConformanceCase): Promise<number> {
  const checks = [
    ...(await checkConformance(referenceBackend, c)),
    ...(await checkConformance(tfjsBackend('cpu'), c)),
    ...(await checkConformance(onnxWasmBackend(), c)),
  ]
  return Math.max(...checks.map((k) => k.error))
}
