import { describe, expect, it } from 'vitest'
import { createLoss, mulberry32, referenceOps } from '../src/index.js'
import { gatherHostRows } from '../src/rules/hostRows.js'
import { officialBalancedHost } from '../src/rules/official/officialBalancedHost.js'

interface Case {
  n: number
  c: number
  logits: number[]
  labels: number[]
  mask: number[] | undefined
  steps: number
  alpha: number
}

function randomCase(rand: () => number, scale = 2): Case {
  const n = 2 + Math.floor(rand() * 14)
  const c = 2 + Math.floor(rand() * 7)
  // Labels from fewer classes than C now and then: absent classes enter the column norms and `t`.
  const used = 1 + Math.floor(rand() * c)
  return {
    n,
    c,
    logits: Array.from({ length: n * c }, () => scale * (2 * rand() - 1)),
    labels: Array.from({ length: n }, () => Math.floor(rand() * used)),
    mask: rand() < 0.4 ? Array.from({ length: n }, () => (rand() < 0.25 ? 0 : 1)) : undefined,
    steps: 5 + Math.floor(rand() * 8),
    alpha: 0.005 + 0.5 * rand(),
  }
}

/** The rule's perturbation on the reference backend, where the search runs as tensor ops (`[N, C]`). */
function referencePerturbation(x: Case): number[] {
  const loss = createLoss(referenceOps, { rule: 'official-balanced', numClasses: x.c, steps: x.steps, alpha: x.alpha })
  const ctx = x.mask === undefined ? {} : { mask: referenceOps.constant(x.mask, [x.n]) }
  const perturbed = loss.evaluate(referenceOps.constant(x.logits, [x.n, x.c]), referenceOps.constant(x.labels, [x.n], 'int32'), ctx)
  return Array.from(perturbed.batch.logits.data, (v, k) => v - x.logits[k]!)
}

function hostPerturbation(x: Case): Float64Array {
  const rows = officialBalancedHost({
    logits: x.logits,
    labels: x.labels,
    numClasses: x.c,
    steps: x.steps,
    alpha: x.alpha,
    ...(x.mask === undefined ? {} : { rowMask: x.mask }),
  })
  expect(rows.rows.length).toBe(rows.classes.length * x.c)
  return gatherHostRows(rows, x.labels, x.c)
}

const maxGap = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  let gap = 0
  let size = 0
  for (let k = 0; k < a.length; k++) {
    gap = Math.max(gap, Math.abs(a[k]! - b[k]!))
    size = Math.max(size, Math.abs(b[k]!))
  }
  return gap / Math.max(size, 1e-12)
}

describe('officialBalancedHost', () => {
  it("is the rule's tensor-op search on the reference, to float64 rounding (amplified by up to R = 13 iterations: 1e-8)", () => {
    const rand = mulberry32(23)
    for (let t = 0; t < 150; t++) {
      const x = randomCase(rand)
      expect(maxGap(hostPerturbation(x), referencePerturbation(x)), JSON.stringify(x)).toBeLessThanOrEqual(1e-8)
    }
  })

  it('stays finite and equal to the op search with logits of magnitude 1e4 and with every row masked', () => {
    const rand = mulberry32(29)
    for (let t = 0; t < 30; t++) {
      const x = randomCase(rand, 1e4)
      const host = hostPerturbation(x)
      expect(Array.from(host).every(Number.isFinite)).toBe(true)
      expect(maxGap(host, referencePerturbation(x)), JSON.stringify(x)).toBeLessThanOrEqual(1e-9)
    }
    const x = { ...randomCase(rand), mask: undefined }
    const none = { ...x, mask: Array(x.n).fill(0) }
    expect(Array.from(hostPerturbation(none)).every((v) => v === 0)).toBe(true)
    expect(referencePerturbation(none).every((v) => v === 0)).toBe(true)
  })
})
