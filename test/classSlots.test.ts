/**
 * No rule keeps a `[C, C]` array on any path (docs/performance.md#cost-model): searches keep one row
 * per class present in the batch (`classSlots`, `[P, C]`, `P ≤ N`), and seesaw gathers its ratios per
 * sample. Checked where the arrays would be: every tensor the float64 reference computes (loss and
 * closed-form gradient, at C = 61 with N = 9, so that `N·C` and `P·C` are far below `C²`), the
 * zeros and constants of every exported PyTorch module's source, and the initializers of every
 * exported ONNX graph.
 */
import { describe, expect, it } from 'vitest'
import { type RefTensor, type RuleInput, createLoss, mulberry32, referenceOps, ruleFacts } from '@logit-perturb/core'
import type { TensorOps } from '@logit-perturb/core/backend'
import { longTailCounts, singleLabelVariants } from '@logit-perturb/conformance'
import { exportTorchModule } from '@logit-perturb/pytorch'
import { exportLossModel } from '@logit-perturb/onnx'
import { decodeModel } from '../packages/onnx/src/readModel.js'

const C = 61
const N = 9
const counts = longTailCounts(C, 500, 50)
// Rules fed by extra inputs (ISDA's features) are exercised in their own suites.
const variants = singleLabelVariants(counts).filter((v) => (ruleFacts(v.spec).extraInputs ?? []).length === 0)

/** The reference backend, noting the element count of every tensor an op returns. */
function recording(sizes: number[]): TensorOps<RefTensor> {
  const note = (x: unknown): void => {
    if (Array.isArray(x)) x.forEach(note)
    else if (x !== null && typeof x === 'object' && 'data' in x && 'shape' in x) sizes.push((x as RefTensor).data.length)
  }
  return new Proxy(referenceOps, {
    get(target, key, receiver) {
      const value = Reflect.get(target, key, receiver)
      if (typeof value !== 'function' || key === 'shape') return value
      return (...args: unknown[]) => {
        const out = (value as (...a: unknown[]) => unknown).apply(target, args)
        note(out)
        return out
      }
    },
  })
}

/** A long-tailed batch of `N` rows with a masked row, labels drawn from the first classes; `[N, E·C]` logits for `E` heads. */
function batch(ops: TensorOps<RefTensor>, heads = 1) {
  const rand = mulberry32(3)
  const logits = ops.constant(
    Array.from({ length: N * C * heads }, () => 4 * rand() - 2),
    [N, heads * C],
  )
  const labels = ops.constant(
    Array.from({ length: N }, (_, i) => [0, 0, 1, 2, 0, 5, 1, 40, 3][i]!),
    [N],
    'int32',
  )
  const mask = ops.constant([1, 1, 1, 1, 1, 1, 1, 0, 1], [N])
  return { logits, labels, mask }
}

describe('no rule keeps a [C, C] array', () => {
  it.each(variants.map((v) => [v.name, v.spec] as const))('%s: the reference computes no tensor of C² entries', (_name, spec) => {
    const sizes: number[] = []
    const ops = recording(sizes)
    const loss = createLoss(ops, spec as RuleInput)
    const heads = loss.rule.heads
    const { logits, labels, mask } = batch(ops, heads)
    loss.evaluate(logits, labels, { mask })
    if (!loss.rule.gradientThrough) loss.gradient(logits, labels, { mask })
    expect(sizes.length).toBeGreaterThan(0)
    // The largest legitimate tensors are [N, C] (and a few [N, C] per step); [N, E·C] for E heads.
    expect(Math.max(...sizes)).toBeLessThanOrEqual(N * C * heads)
  })

  it.each(variants.map((v) => [v.name, v.spec] as const))('%s: the PyTorch module allocates nothing of C × C', (_name, spec) => {
    const { source } = exportTorchModule(spec as RuleInput, { numClasses: C })
    expect(source).not.toMatch(new RegExp(`\\b${C}, ${C}\\b`))
  })

  it.each(variants.map((v) => [v.name, v.spec] as const))('%s: the ONNX graph embeds no C × C initializer', (_name, spec) => {
    const { bytes } = exportLossModel(spec as RuleInput, { numClasses: C })
    const initializers = decodeModel(bytes).model.graph?.initializer ?? []
    expect(initializers.length).toBeGreaterThan(0)
    for (const init of initializers) {
      const elements = (init.dims ?? []).reduce((a: number, d) => a * Number(d), 1)
      expect(elements, init.name ?? '').toBeLessThan(C * C)
    }
  })
})

it('the recorder sees a [C, C] tensor where one is made (the check can fail)', () => {
  const sizes: number[] = []
  const ops = recording(sizes)
  const { logits } = batch(ops)
  ops.matmul(logits, logits, true)
  expect(Math.max(...sizes)).toBe(C * C)
})
