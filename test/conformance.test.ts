/**
 * The conformance suite: the same cases, written once, on every backend of the workspace, against
 * the float64 reference. A quantity a backend cannot match carries its reason in the case data.
 */
import { describe, expect, it } from 'vitest'
import { checkConformance, conformanceCases } from '@logit-perturb/conformance'
import { workspaceBackends } from '@logit-perturb/conformance/backends'

// The tfjs backends run twice: LPL's search as a host loop (their default) and as tensor ops.
const backends = await workspaceBackends({ opSearch: true })
const cases = conformanceCases()

describe.each(backends.map((b) => [b.name, b] as const))('%s', (_name, backend) => {
  it.each(cases.map((c) => [c.name, c] as const))('%s', async (_case, c) => {
    const checks = await checkConformance(backend, c)
    expect(checks.length).toBeGreaterThanOrEqual(2)
    for (const check of checks) {
      if (check.skipped) continue
      expect(check.error, `${check.what}: relative error ${check.error}`).toBeLessThanOrEqual(check.tolerance)
    }
  })
})
