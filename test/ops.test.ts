/**
 * The op-level suite: every method of `TensorOps`, on the cases written once in the conformance
 * package, on every backend of the workspace against the float64 reference (the oracle): the same
 * static shapes, and the same values within the backend's tolerance (float32 against float64: 1e-4
 * relative). The rules are built from these ops only, so a backend that fails here fails them.
 */
import { describe, expect, it } from 'vitest'
import { type AnyBackend, OP_METHODS, opCases, referenceBackend, relativeError } from '@logit-perturb/conformance'
import { workspaceBackends } from '@logit-perturb/conformance/backends'
import { referenceOps } from '@logit-perturb/core'

const expected = opCases(referenceOps)
const backends = (await workspaceBackends()).filter((b) => b !== referenceBackend)

/** What a backend computes otherwise than the reference, a line per case. */
async function differences(backend: AnyBackend): Promise<string[]> {
  const problems: string[] = []
  await (backend.scope ?? ((fn) => fn()))(async () => {
    for (const [i, k] of opCases(backend.ops).entries()) {
      const ref = expected[i]!.value
      const shape = backend.ops.shape(k.value)
      // A symbolic backend says -1 for a size it only knows at run time (a count given as a tensor).
      const sameShape = shape.length === ref.shape.length && shape.every((d, j) => d === ref.shape[j] || d === -1)
      if (!sameShape) problems.push(`${k.name}: shape [${shape}] vs [${ref.shape}]`)
      const values = await backend.read(k.value)
      const error = relativeError(values, ref.data)
      if (!(error <= backend.rtol)) problems.push(`${k.name}: relative error ${error} (${Array.from(values)} vs ${Array.from(ref.data)})`)
    }
  })
  return problems
}

it('the op cases cover every method of TensorOps', () => {
  expect(OP_METHODS.filter((m) => !expected.some((k) => k.covers.includes(m)))).toEqual([])
})

describe.each(backends.map((b) => [b.name, b] as const))('%s', (_name, backend) => {
  it('computes every op case as the reference does, with the same static shapes', async () => {
    expect(await differences(backend)).toEqual([])
  })
})
