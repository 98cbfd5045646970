import { createLoss, parseSpec, referenceOps } from '@logit-perturb/core'
import { parseSpecUnbounded } from '@logit-perturb/core/verify'
import { describe, expect, it } from 'vitest'

describe('parseSpecUnbounded', () => {
  const la = { rule: 'logit-adjustment', classCounts: [5, 3, 1], tau: -1 }

  it('reads the named fields without their ranges, and computes the formula there', () => {
    expect(() => parseSpec(la)).toThrow(/tau: must be ≥ 0, got -1/)
    const spec = parseSpecUnbounded(la, ['tau'])
    expect(spec).toMatchObject({ rule: 'logit-adjustment', tau: -1 })
    // LA at τ = −1 is CE of u − log π: for one row, log Σ exp(u_j − log π_j) − (u_y − log π_y).
    const u = [1, 2, 3]
    const logPi = [5, 3, 1].map((n) => Math.log(n / 9))
    const z = u.map((v, j) => v - logPi[j]!)
    const want = Math.log(z.reduce((a, v) => a + Math.exp(v), 0)) - z[0]!
    const got = createLoss(referenceOps, spec)(referenceOps.constant(u, [1, 3]), referenceOps.constant([0], [1], 'int32')).data[0]!
    expect(got).toBeCloseTo(want, 12)
  })

  it('keeps every other check: other fields, nested paths, finiteness and integers', () => {
    expect(() => parseSpecUnbounded(la, ['scale'])).toThrow(/tau: must be ≥ 0/)
    expect(() => parseSpecUnbounded({ ...la, tau: Number.NaN }, ['tau'])).toThrow(/tau: must be a finite number/)
    const lpl = { rule: 'lpl', split: 'prior', classCounts: [5, 3, 1], maxSteps: 2.5 }
    expect(() => parseSpecUnbounded(lpl, ['maxSteps'])).toThrow(/maxSteps: must be an integer/)
    const nested = { rule: 'lpl', split: 'prior', classCounts: [5, 3, 1], base: la }
    expect(() => parseSpecUnbounded(nested, ['tau'])).toThrow(/base\.tau: must be ≥ 0/)
    expect(parseSpecUnbounded(nested, ['base.tau'])).toMatchObject({ base: { tau: -1 } })
  })
})
