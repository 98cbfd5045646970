/**
 * docs/spec.md#84-the-order-of-composition: label smoothing, class weights, sample weights, masks
 * and ignored positions compose in one order, checked against an explicit loop over the samples
 * on the reference and on tfjs. The three cases are where PyTorch's own cross-entropy went wrong
 * (pytorch/pytorch #69339, #73205, #104776): each is a regression test of that composition here.
 */
import { describe, expect, it } from 'vitest'
import { type RuleInput, createLoss, drwWeights } from '@logit-perturb/core'
import type { AnyBackend } from '@logit-perturb/core/verify'
import { workspaceBackends } from '@logit-perturb/conformance/backends'
import { centralDifference } from '@logit-perturb/conformance'

const C = 5
const IGNORE = -100
const COUNTS = [900, 300, 80, 20, 5]
const BETA = 0.99
const LOGITS = Array.from({ length: 10 * C }, (_, k) => Math.sin(1.7 * k) * 3 + (k % C === 0 ? 1 : 0))
const LABELS = [0, 1, IGNORE, 4, 2, 0, IGNORE, 3, 1, 0]
const SAMPLE_WEIGHTS = [1, 0.5, 2, 1.5, 1, 3, 1, 0.25, 1, 2]
const MASK = [1, 1, 1, 1, 0, 1, 1, 1, 1, 1]

/**
 * The documented order, one sample at a time: a sample counts when its mask is 1 and its label is
 * not the ignore label; its smoothed target is `(1 − ε)·e_y + ε/C`; its loss `ℓ_i = −Σ_c t'_c log p_c`;
 * its class weight `v_i = w_{y_i}` (the unsmoothed target's); the mean is `Σ s_i·v_i·ℓ_i / Σ v_i`
 * over the counted samples (`Σ_i 1` without class weights).
 */
function explicitLoop(logits: readonly number[], epsilon: number, weights: readonly number[] | undefined): number {
  let total = 0
  let normaliser = 0
  LABELS.forEach((y, i) => {
    if (y === IGNORE || MASK[i] === 0) return
    const row = logits.slice(i * C, (i + 1) * C)
    const max = Math.max(...row)
    const logZ = max + Math.log(row.reduce((a, u) => a + Math.exp(u - max), 0))
    let loss = 0
    for (let c = 0; c < C; c++) loss -= ((c === y ? 1 - epsilon : 0) + epsilon / C) * (row[c]! - logZ)
    const v = weights === undefined ? 1 : weights[y]!
    total += SAMPLE_WEIGHTS[i]! * v * loss
    normaliser += v
  })
  return total / normaliser
}

/** The loss and its gradient on a backend, with every input of the composition given. */
async function onBackend(backend: AnyBackend, spec: RuleInput): Promise<{ loss: number; gradient: Float64Array }> {
  return (backend.scope ?? ((fn) => fn()))(async () => {
    const o = backend.ops
    const loss = createLoss(o, spec, { ignoreIndex: IGNORE })
    const logits = o.constant(LOGITS, [LABELS.length, C])
    const labels = o.constant(LABELS, [LABELS.length], 'int32')
    const ctx = { sampleWeight: o.constant(SAMPLE_WEIGHTS, [LABELS.length]), mask: o.constant(MASK, [LABELS.length]) }
    return { loss: (await backend.read(loss(logits, labels, ctx)))[0]!, gradient: await backend.read(loss.gradient(logits, labels, ctx)) }
  })
}

const weighted = (epsilon: number): RuleInput => ({
  rule: 'ce',
  numClasses: C,
  labelSmoothing: epsilon,
  weighting: { kind: 'class-balanced', beta: BETA, classCounts: COUNTS },
})

describe('8.4 the order of composition, against an explicit loop', async () => {
  const backends = (await workspaceBackends()).filter((b) => b.name !== 'onnx-wasm')
  const weights = drwWeights(COUNTS, BETA)

  const cases: { name: string; spec: RuleInput; expected: (u: readonly number[]) => number }[] = [
    {
      // #69339: class weights, label smoothing and an ignore label at once.
      name: 'class weights, smoothing and ignored samples together (pytorch #69339)',
      spec: weighted(0.1),
      expected: (u) => explicitLoop(u, 0.1, weights),
    },
    {
      // #73205: an ignored sample's smoothing term must not reach the loss or its normaliser.
      name: 'smoothing with ignored samples (pytorch #73205)',
      spec: { rule: 'ce', numClasses: C, labelSmoothing: 0.2 },
      expected: (u) => explicitLoop(u, 0.2, undefined),
    },
    {
      // #104776: the class weight is the sample's (its label's), not a weight on each smoothed class.
      name: 'class weights leave the smoothing of each sample as it is (pytorch #104776)',
      spec: weighted(0.3),
      expected: (u) => explicitLoop(u, 0.3, weights),
    },
  ]
  for (const { name, spec, expected } of cases) {
    it(name, async () => {
      const want = expected(LOGITS)
      const wantGradient = centralDifference((u) => expected(Array.from(u)), LOGITS, 1e-6)
      for (const backend of backends) {
        const got = await onBackend(backend, spec)
        expect(Math.abs(got.loss - want) / Math.abs(want), `${backend.name}: loss ${got.loss} vs ${want}`).toBeLessThan(backend.rtol * 10)
        got.gradient.forEach((g, k) => {
          expect(Math.abs(g - wantGradient[k]!), `${backend.name}: gradient ${k}`).toBeLessThan(Math.max(1e-7, backend.rtol * 10))
        })
        // Ignored and masked-out samples: no gradient at all.
        LABELS.forEach((y, i) => {
          if (y === IGNORE || MASK[i] === 0) expect(Math.max(...Array.from(got.gradient.slice(i * C, (i + 1) * C), Math.abs))).toBe(0)
        })
      }
    })
  }

  it('uniform class weights change nothing, with smoothing and ignored samples (the weight is the sample’s, not the class terms’)', async () => {
    const uniform = {
      ...(weighted(0.3) as object),
      weighting: { kind: 'class-balanced', beta: 0, classCounts: COUNTS },
    } as unknown as RuleInput
    const plain = await onBackend(backends[0]!, { rule: 'ce', numClasses: C, labelSmoothing: 0.3 })
    const same = await onBackend(backends[0]!, uniform)
    expect(Math.abs(same.loss - plain.loss)).toBeLessThan(1e-12)
  })
})
