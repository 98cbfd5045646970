// The scenario from CommonJS: every package resolved through its `require` condition.
const tf = require('@tensorflow/tfjs-core')
require('@tensorflow/tfjs-backend-cpu')
const tfl = require('@tensorflow/tfjs-layers')
const core = require('@logit-perturb/core')
const coreBackend = require('@logit-perturb/core/backend')
const coreVerify = require('@logit-perturb/core/verify')
const onnx = require('@logit-perturb/onnx')
const tfjs = require('@logit-perturb/tfjs')
const scenario = require('./scenario.cjs')

tf.env().set('PROD', true)
scenario.run({ tf, tfl, core, coreBackend, coreVerify, tfjs, onnx }).then((result) => console.log(JSON.stringify(result)))
