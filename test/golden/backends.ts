import type { AnyBackend } from '@logit-perturb/conformance'
import { referenceBackend } from '@logit-perturb/conformance'
import { onnxBackends } from '../../packages/onnx/test/harness.js'
import { tfjsBackends } from '../../packages/tfjs/test/harness.js'

/** Every backend the workspace has, in the order the golden report lists them. */
export async function workspaceBackends(): Promise<AnyBackend[]> {
  return [referenceBackend, ...(await tfjsBackends()), ...(await onnxBackends())]
}
