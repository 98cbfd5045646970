import type { AnyBackend } from '@logit-perturb/conformance'
import { referenceBackend } from '@logit-perturb/conformance'
import { tfjsBackends } from '@logit-perturb/conformance/backends'
import { onnxBackends } from '../../packages/onnx/test/harness.js'

/** Every backend the workspace has, in the order the golden report lists them. */
export async function workspaceBackends(): Promise<AnyBackend[]> {
  return [referenceBackend, ...(await tfjsBackends()), ...(await onnxBackends())]
}
