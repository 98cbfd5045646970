import * as tf from '@tensorflow/tfjs-core'
import '@tensorflow/tfjs-backend-cpu'
import '@tensorflow/tfjs-backend-wasm'
// tfjs-layers registers the gradients of tfjs-core's kernels, as in any tfjs training program.
import '@tensorflow/tfjs-layers'
import { createTfjsOps } from '@logit-perturb/tfjs'
import type { AnyBackend, Backend } from '../backend.js'

// Production mode: no debug checks, and no notice about tfjs-node (which cannot be installed here).
tf.env().set('PROD', true)

/** Activates a tfjs backend and runs `fn` in an engine scope that frees what it made. */
export async function onTfjsBackend<R>(name: string, fn: () => Promise<R>): Promise<R> {
  if (tf.getBackend() !== name) {
    await tf.setBackend(name)
    await tf.ready()
  }
  tf.engine().startScope()
  try {
    return await fn()
  } finally {
    tf.engine().endScope()
  }
}

function tfjsBackend(backendName: 'cpu' | 'wasm', hostSearch = true): Backend<tf.Tensor> {
  return {
    name: hostSearch ? `tfjs-${backendName}` : `tfjs-${backendName} (search as ops)`,
    ops: createTfjsOps({ hostSearch }),
    rtol: 1e-4,
    read: async (x) => Float64Array.from(await x.data()),
    grad: (f, x) => tf.grad(f)(x),
    scope: (fn) => onTfjsBackend(backendName, fn),
  }
}

/**
 * The TensorFlow.js backends of the shared suites: cpu and wasm, in Node, which run LPL's search
 * as one host loop. With `opSearch`, also both with the search as tensor ops (the path WebGL and
 * WebGPU take), so the suites check one path against the other.
 */
export async function tfjsBackends(options: { opSearch?: boolean } = {}): Promise<AnyBackend[]> {
  const host = [tfjsBackend('cpu'), tfjsBackend('wasm')]
  return options.opSearch ? [...host, tfjsBackend('cpu', false), tfjsBackend('wasm', false)] : host
}
