import type { AnyBackend } from '@logit-perturb/conformance'
import { referenceBackend } from '@logit-perturb/conformance'

/** Every backend the workspace has, in the order the golden report lists them. */
export async function workspaceBackends(): Promise<AnyBackend[]> {
  return [referenceBackend]
}
