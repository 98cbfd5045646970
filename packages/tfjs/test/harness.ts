import type { AnyBackend } from '@logit-perturb/conformance'

/** The TensorFlow.js backends of the shared suites. */
export async function tfjsBackends(): Promise<AnyBackend[]> {
  return []
}
