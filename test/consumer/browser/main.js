// A page that trains a tfjs-layers model with a logit-adjusted loss: what the README's browser
// install line gives a bundler.
import * as tf from '@tensorflow/tfjs'
import { createTfjsLoss, layersLoss } from '@logit-perturb/tfjs'

const loss = createTfjsLoss({ rule: 'logit-adjustment', tau: 1, classCounts: [90, 9, 1] })
const model = tf.sequential({ layers: [tf.layers.dense({ units: 3, inputShape: [2] })] })
model.compile({ optimizer: 'sgd', loss: layersLoss(loss) })
const xs = tf.tensor2d([
  [1, 0],
  [0, 1],
  [1, 1],
])
const ys = tf.oneHot(tf.tensor1d([0, 1, 2], 'int32'), 3)
const history = await model.fit(xs, ys, { epochs: 3 })
document.getElementById('out').textContent = `loss per epoch: ${history.history.loss.join(', ')}`
