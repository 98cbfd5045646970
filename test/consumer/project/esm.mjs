// The scenario from an ES module: every package resolved through its `import` condition.
import * as tf from '@tensorflow/tfjs-core'
import '@tensorflow/tfjs-backend-cpu'
import * as tfl from '@tensorflow/tfjs-layers'
import * as core from '@logit-perturb/core'
import * as coreBackend from '@logit-perturb/core/backend'
import * as coreVerify from '@logit-perturb/core/verify'
import * as onnx from '@logit-perturb/onnx'
import * as tfjs from '@logit-perturb/tfjs'
import scenario from './scenario.cjs'

tf.env().set('PROD', true)
console.log(JSON.stringify(await scenario.run({ tf, tfl, core, coreBackend, coreVerify, tfjs, onnx })))
