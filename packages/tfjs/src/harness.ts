import * as tf from '@tensorflow/tfjs-core'
import type { Backend } from '@logit-perturb/core/verify'
import { createTfjsOps } from './ops.js'

/**
 * Activates a registered tfjs backend (`'cpu'`, `'wasm'`, `'webgl'`, …) and runs `fn` in an engine
 * scope that frees the tensors it made.
 */
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

/**
 * A tfjs backend as a check harness ({@link Backend} of the core), for `checkConformance`: float32
 * (relative tolerance 1e-4), `tf.grad` for automatic differentiation, every check in an engine scope
 * on that backend. The backend must be registered first (import `@tensorflow/tfjs-backend-cpu`, …),
 * and tfjs-layers (or `@tensorflow/tfjs`) imported, which registers the gradients `tf.grad` needs.
 * `hostSearch: false` hides the backend's host reads from the rules, so that LPL's search runs as
 * tensor ops, the path WebGL and WebGPU take. `autodiff: true` also hides its custom gradients and
 * scoped loops: every search is then differentiated by `tf.grad` through its ops, the oracle of the
 * hand-written reverse passes.
 */
export function tfjsBackend(backendName: string, options: { hostSearch?: boolean; autodiff?: boolean } = {}): Backend<tf.Tensor> {
  const autodiff = options.autodiff ?? false
  const hostSearch = !autodiff && (options.hostSearch ?? true)
  const ops = createTfjsOps()
  return {
    name: autodiff ? `tfjs-${backendName} (autodiff)` : hostSearch ? `tfjs-${backendName}` : `tfjs-${backendName} (search as ops)`,
    ops: autodiff
      ? { ...ops, readSync: undefined, customGradient: undefined, loop: undefined }
      : hostSearch
        ? ops
        : { ...ops, readSync: undefined },
    rtol: 1e-4,
    read: async (x) => Float64Array.from(await x.data()),
    grad: (f, x) => tf.grad(f)(x),
    scope: (fn) => onTfjsBackend(backendName, fn),
  }
}
