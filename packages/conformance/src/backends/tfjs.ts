import * as tf from '@tensorflow/tfjs-core'
import '@tensorflow/tfjs-backend-cpu'
import '@tensorflow/tfjs-backend-wasm'
// tfjs-layers registers the gradients of tfjs-core's kernels, as in any tfjs training program.
import '@tensorflow/tfjs-layers'
import type { AnyBackend } from '@logit-perturb/core/verify'
import { tfjsBackend } from '@logit-perturb/tfjs'

export { onTfjsBackend } from '@logit-perturb/tfjs'

// Production mode: no debug checks, and no notice about tfjs-node (which cannot be installed here).
tf.env().set('PROD', true)

/**
 * The TensorFlow.js backends of the shared suites: cpu and wasm, in Node, which run LPL's search
 * as one host loop. With `opSearch`, also both with the search as tensor ops (the path WebGL and
 * WebGPU take), so the suites check one path against the other.
 */
export async function tfjsBackends(options: { opSearch?: boolean } = {}): Promise<AnyBackend[]> {
  const host = [tfjsBackend('cpu'), tfjsBackend('wasm')]
  return options.opSearch ? [...host, tfjsBackend('cpu', { hostSearch: false }), tfjsBackend('wasm', { hostSearch: false })] : host
}
