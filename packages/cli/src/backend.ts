import * as tf from '@tensorflow/tfjs-core'
import '@tensorflow/tfjs-backend-cpu'
import '@tensorflow/tfjs-backend-wasm'
// tfjs-layers registers the gradients of tfjs-core's kernels, which `verify` takes with tf.grad.
import '@tensorflow/tfjs-layers'
import { CliError } from './errors.js'

// Production mode: tfjs skips debug checks and its notice about the tfjs-node backend, which cannot
// be installed here (it downloads a native library at install time).
tf.env().set('PROD', true)

/** The tfjs backends `lpl` can train on in Node. */
export const BACKENDS = ['wasm', 'cpu'] as const
export type BackendName = (typeof BACKENDS)[number]

/** Activates a tfjs backend, refusing names it does not know. */
export async function useBackend(name: string): Promise<BackendName> {
  if (!(BACKENDS as readonly string[]).includes(name)) {
    throw new CliError(`unknown backend "${name}"; known backends: ${BACKENDS.join(', ')}`, 2)
  }
  if (!(await tf.setBackend(name))) throw new CliError(`the tfjs ${name} backend failed to start`)
  await tf.ready()
  return name as BackendName
}
