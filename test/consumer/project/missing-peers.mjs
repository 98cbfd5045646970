// Without the optional peers (onnxruntime-web; tfjs-layers, which registers tfjs's gradients): what
// still works, and the error each missing peer gives.
import * as tf from '@tensorflow/tfjs-core'
import '@tensorflow/tfjs-backend-cpu'
import { createTfjsLoss } from '@logit-perturb/tfjs'
import { exportLossModel, runLossModel } from '@logit-perturb/onnx'

const refusal = async (fn) => {
  try {
    await fn()
    return { code: 'none' }
  } catch (error) {
    return { name: error.name, code: error.code, message: error.message }
  }
}
tf.env().set('PROD', true)
await tf.setBackend('cpu')
const model = exportLossModel({ rule: 'ce' }, { numClasses: 2 })
const loss = createTfjsLoss({ rule: 'ce' })
const labels = tf.tensor1d([0], 'int32')
const logits = tf.tensor2d([[1, 2]])
const forward = (await loss(logits, labels).data())[0]
console.log(
  JSON.stringify({
    exportedBytes: model.bytes.length,
    forward,
    onnx: await refusal(() => runLossModel(model.bytes, [[1, 2]], [0])),
    onnxAgain: await refusal(() => runLossModel(model.bytes, [[1, 2]], [0])),
    tfjs: await refusal(() => tf.grad((u) => loss(u, labels))(logits)),
  }),
)
