// The scenario from CommonJS: every package resolved through its `require` condition.
const tf = require('@tensorflow/tfjs-core')
require('@tensorflow/tfjs-backend-cpu')
const tfl = require('@tensorflow/tfjs-layers')
const core = require('@logit-perturb/core')
const onnx = require('@logit-perturb/onnx')
const tfjs = require('@logit-perturb/tfjs')
const scenario = require('./scenario.cjs')

tf.env().set('PROD', true)
scenario.run({ tf, tfl, core, tfjs, onnx }).then((result) => console.log(JSON.stringify(result)))
