/**
 * docs/spec.md#8-reductions-sample-weights-and-masks, for every rule of the registry on the float64
 * reference: a row masked out is a row dropped (loss, per-sample losses, closed-form gradient and
 * the next state: batch statistics included); the three reductions agree with one another; sample
 * weights weight the per-sample losses.
 */
import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { type RefTensor, type RuleInput, createLoss, referenceOps } from '@logit-perturb/core'
import {
  batchArbitrary,
  centralDifference,
  headLogits,
  multiLabelBatchArbitrary,
  multiLabelVariants,
  singleLabelVariants,
} from '@logit-perturb/conformance'
import { type RowBatch as Batch, RUNS, expectClose } from './helpers.js'

const ops = referenceOps
const rowsOf = (values: ArrayLike<number>, width: number, keep: readonly number[]): number[] =>
  keep.flatMap((i) => Array.from(values).slice(i * width, (i + 1) * width))

function tensors(b: Batch): { logits: RefTensor; labels: RefTensor } {
  return {
    logits: ops.constant(b.logits, [b.n, b.c]),
    labels: b.multi ? ops.constant(b.labels, [b.n, b.c]) : ops.constant(b.labels, [b.n], 'int32'),
  }
}

function dropped(b: Batch, keep: readonly number[]): Batch {
  return { ...b, n: keep.length, logits: rowsOf(b.logits, b.c, keep), labels: rowsOf(b.labels, b.multi ? b.c : 1, keep) }
}

/** The batch, a mask that keeps at least one row, and sample weights, drawn together. */
const withMask = <B extends { n: number }>(batches: fc.Arbitrary<B>) =>
  batches
    .filter((b) => b.n >= 2)
    .chain((b) =>
      fc.record({
        b: fc.constant(b),
        mask: fc.array(fc.constantFrom(0, 1), { minLength: b.n, maxLength: b.n }).filter((m) => m.includes(1)),
        weights: fc.array(fc.double({ min: 0, max: 5, noNaN: true }), { minLength: b.n, maxLength: b.n }),
      }),
    )

const single = withMask(batchArbitrary({ maxN: 24, maxC: 8, minC: 2, scales: [1, 10] }))
const multi = withMask(multiLabelBatchArbitrary({ maxN: 24, maxC: 6, scales: [1, 10] }))

/** Every rule of the registry, with a batch of its kind. */
const cases: fc.Arbitrary<{ spec: RuleInput; name: string; b: Batch; mask: number[]; weights: number[] }> = fc.oneof(
  single.chain(({ b, mask, weights }) =>
    fc.constantFrom(...singleLabelVariants(b.counts)).map((v) => ({
      ...v,
      mask,
      weights,
      // A rule with E heads: logits [N, E·C] (c is the logits' width here).
      b: { n: b.n, c: b.c * (v.heads ?? 1), logits: headLogits(b.logits, b.n, b.c, v.heads), labels: b.labels, multi: false },
    })),
  ),
  multi.chain(({ b, mask, weights }) =>
    fc.constantFrom(...multiLabelVariants(b.counts, b.numSamples)).map((v) => ({
      ...v,
      mask,
      weights,
      b: { n: b.n, c: b.c, logits: b.logits, labels: b.labels, multi: true },
    })),
  ),
)

describe('8. masks, reductions and sample weights, for every rule', () => {
  it('a row masked out is a row dropped: loss, per-sample losses, gradient and state', () => {
    fc.assert(
      fc.property(cases, ({ spec, name, b, mask }) => {
        const keep = mask.flatMap((m, i) => (m === 1 ? [i] : []))
        const full = tensors(b)
        const kept = tensors(dropped(b, keep))
        const ctx = { mask: ops.constant(mask, [b.n]) }
        const masked = createLoss(ops, spec)
        const small = createLoss(ops, spec)
        expectClose(masked(full.logits, full.labels, ctx).data, small(kept.logits, kept.labels).data, `${name}: loss`)
        // The state a training call moved to (the confidence split's running means) is the same.
        const [s1, s2] = [masked.getState(), small.getState()]
        if (s2 !== undefined) for (const key of Object.keys(s2)) expectClose(s1![key]!.data, s2[key]!.data, `${name}: state.${key}`)
        const perSample = createLoss(ops, spec).perSample(full.logits, full.labels, ctx).data
        const perSampleKept = createLoss(ops, spec).perSample(kept.logits, kept.labels).data
        expectClose(
          keep.map((i) => perSample[i]!),
          perSampleKept,
          `${name}: per-sample losses`,
        )
        expect(
          mask.every((m, i) => m === 1 || perSample[i] === 0),
          `${name}: masked rows lose nothing`,
        ).toBe(true)
        if (masked.hasClosedFormGradient) {
          const gradient = createLoss(ops, spec).gradient(full.logits, full.labels, ctx).data
          expectClose(rowsOf(gradient, b.c, keep), createLoss(ops, spec).gradient(kept.logits, kept.labels).data, `${name}: gradient`)
          expect(
            mask.every((m, i) => m === 1 || rowsOf(gradient, b.c, [i]).every((g) => g === 0)),
            `${name}: masked rows get no gradient`,
          ).toBe(true)
        }
      }),
      RUNS,
    )
  })

  it('sum is the sum of the per-sample losses, mean that sum over the counted rows; sample weights weight them', () => {
    fc.assert(
      fc.property(cases, ({ spec, name, b, mask, weights }) => {
        const { logits, labels } = tensors(b)
        const ctx = { mask: ops.constant(mask, [b.n]), sampleWeight: ops.constant(weights, [b.n]) }
        const counted = mask.reduce((a, m) => a + m, 0)
        const none = createLoss(ops, spec, { reduction: 'none' })(logits, labels, ctx).data
        const sum = createLoss(ops, spec, { reduction: 'sum' })(logits, labels, ctx).data[0]!
        const mean = createLoss(ops, spec)(logits, labels, ctx).data[0]!
        expect(none.length).toBe(b.n)
        expectClose([sum], [none.reduce((a, r) => a + r, 0)], `${name}: sum`)
        expectClose([mean], [sum / counted], `${name}: mean`)
        // Without weights, each per-sample loss is divided by its weight.
        const unweighted = createLoss(ops, spec, { reduction: 'none' })(logits, labels, { mask: ctx.mask }).data
        expectClose(
          none,
          Array.from(unweighted, (r, i) => r * weights[i]!),
          `${name}: sample weights`,
        )
      }),
      RUNS,
    )
  })
})

describe('8.3 label smoothing', () => {
  const smoothed = single.chain(({ b }) =>
    fc.record({
      b: fc.constant(b),
      epsilon: fc.double({ min: 0, max: 1, noNaN: true }),
      // One head's formula: the heads' smoothing is each head's (test/properties/experts.test.ts).
      variant: fc.constantFrom(...singleLabelVariants(b.counts).filter((v) => v.heads === undefined)),
    }),
  )

  it('is cross-entropy against (1 − ε)·e_y + ε/C of the same perturbed logits; δ does not change', () => {
    fc.assert(
      fc.property(smoothed, ({ b, epsilon, variant }) => {
        const { logits, labels } = tensors({ ...b, multi: false })
        const spec = { ...variant.spec, labelSmoothing: epsilon } as RuleInput
        // One evaluation each: a stateful rule (seesaw's counts) moves its state with every call.
        const plain = createLoss(ops, variant.spec).evaluate(logits, labels).batch.logits.data
        const evaluation = createLoss(ops, spec).evaluate(logits, labels)
        const z = evaluation.batch.logits.data
        expectClose(z, plain, `${variant.name}: perturbed logits`)
        let expected = 0
        for (let i = 0; i < b.n; i++) {
          const row = Array.from(z.slice(i * b.c, (i + 1) * b.c))
          const max = Math.max(...row)
          const logSum = max + Math.log(row.reduce((a, v) => a + Math.exp(v - max), 0))
          row.forEach((v, j) => {
            expected -= (((j === b.labels[i] ? 1 - epsilon : 0) + epsilon / b.c) * (v - logSum)) / b.n
          })
        }
        // The host formula above is the plain mean of the cross-entropy: LDAM-DRW, the class
        // weighting and generalized re-weighting weigh classes, and a rule with a loss term of its own
        // (the focal loss, label-aware smoothing, balanced BCE) scores the batch otherwise.
        const spec0 = variant.spec as { rule: string; weighting?: unknown }
        if (spec0.rule === 'ldam' || spec0.weighting !== undefined || !createLoss(ops, spec).rule.term.plain) return
        if (evaluation.batch.classWeights !== undefined) return
        // A rule's term of the whole batch (docs/spec.md#86-batch-terms) is added as it is, whatever the smoothing.
        for (const part of evaluation.parts) {
          if (part.batchTerm !== undefined) expected += part.batchTerm.value.data[0]! * part.batchTerm.scale.data[0]!
        }
        expectClose(evaluation.loss.data, [expected], `${variant.name}: loss`)
      }),
      RUNS,
    )
  })

  it('has the closed-form gradient softmax(z) − t, equal to a central difference where δ is a constant', () => {
    fc.assert(
      fc.property(smoothed, ({ b, epsilon }) => {
        const spec: RuleInput = { rule: 'logit-adjustment', classCounts: b.counts, labelSmoothing: epsilon }
        const { logits, labels } = tensors({ ...b, multi: false })
        const gradient = createLoss(ops, spec).gradient(logits, labels).data
        const f = (u: Float64Array) => createLoss(ops, spec)(ops.constant(u, [b.n, b.c]), labels).data[0]!
        const difference = centralDifference(f, b.logits, 1e-6)
        difference.forEach((d, k) => {
          expect(Math.abs(d - gradient[k]!)).toBeLessThan(1e-6)
        })
      }),
      { numRuns: 15 },
    )
  })
})
