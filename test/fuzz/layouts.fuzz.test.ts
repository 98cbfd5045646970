/**
 * Fuzzing of the input layouts a loss call takes (docs/spec.md#10-dense-inputs,
 * #11-soft-targets): logits of any rank with labels of any rank, the ignore label among the ids or
 * not, soft targets with values out of range, masks and sample weights per image or per position,
 * and absurd `ignoreIndex` and `classAxis` options, on the float64 reference. Each call returns
 * finite values or throws a `LogitPerturbError`, and leaves its inputs as they were.
 */
import fc from 'fast-check'
import { createLoss, referenceOps as ops } from '@logit-perturb/core'
import type { RuleInput } from '@logit-perturb/core'
import { outcome } from '@logit-perturb/conformance'
import { describe, expect, it } from 'vitest'
import { EDGE_NUMBERS, WRONG_TYPES } from './inputs.js'
import { Tally, firstNonFiniteResult, fuzzRuns, snapshot } from './oracle.js'

const SPECS: RuleInput[] = [
  { rule: 'ce' },
  { rule: 'logit-adjustment', classCounts: [50, 20, 5] },
  { rule: 'ldam', classCounts: [50, 20, 5] },
  { rule: 'seesaw', numClasses: 3 },
  { rule: 'lpl', split: 'confidence', numClasses: 3 },
  { rule: 'focal', gamma: 2, numClasses: 3 },
]

/** A shape of rank 1 to 4 with small sizes, sometimes with a zero. */
const shape = fc.array(fc.constantFrom(1, 2, 3, 3, 3, 0), { minLength: 1, maxLength: 4 })

/** Values for a shape: ids near the class range, the ignore labels, probabilities, or edge numbers. */
const valuesFor = (dims: readonly number[]) => {
  const size = dims.reduce((a, b) => a * b, 1)
  const value = fc.oneof(
    { weight: 12, arbitrary: fc.constantFrom(0, 1, 2) },
    { weight: 3, arbitrary: fc.constantFrom(255, -100, 3, 0.25, 0.5) },
    { weight: 1, arbitrary: fc.constantFrom(...EDGE_NUMBERS) },
  )
  return fc.array(value, { minLength: size, maxLength: size })
}

/** Mostly valid options, sometimes absurd ones. */
const ignoreIndex = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(undefined, 255, -100, 0) },
  { weight: 1, arbitrary: fc.constantFrom(...EDGE_NUMBERS, ...WRONG_TYPES) },
)
const classAxis = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(undefined, 1, -1) },
  { weight: 1, arbitrary: fc.constantFrom(2, 0, ...WRONG_TYPES) },
)

const calls = fc
  .record({
    spec: fc.constantFrom(...SPECS),
    logitShape: shape,
    // Labels shaped as ids of the logits (class axis 1 or −1 dropped), as soft targets, or anyhow.
    labelForm: fc.constantFrom('ids', 'ids', 'idsLast', 'soft', 'any'),
    anyShape: shape,
    labelsInt: fc.boolean(),
    extraShape: fc.option(shape, { nil: undefined }),
    extraForm: fc.constantFrom('image', 'position', 'any'),
    extraField: fc.constantFrom('mask', 'sampleWeight'),
    ignoreIndex,
    classAxis,
    reduction: fc.constantFrom(undefined, 'mean', 'none'),
    threeClasses: fc.boolean(),
  })
  .map((r) => {
    // Mostly the specs' 3 classes on the class axis, so that calls reach the rule.
    const last = r.classAxis === -1 ? r.logitShape.length - 1 : 1
    if (r.logitShape.length >= 2 && r.threeClasses) r.logitShape = r.logitShape.map((d, k) => (k === last ? 3 : d))
    const without = (axis: number) => r.logitShape.filter((_, k) => k !== axis)
    const labelShape =
      r.labelForm === 'ids'
        ? without(1)
        : r.labelForm === 'idsLast'
          ? without(r.logitShape.length - 1)
          : r.labelForm === 'soft'
            ? r.logitShape
            : r.anyShape
    const extraShape = r.extraForm === 'image' ? r.logitShape.slice(0, 1) : r.extraForm === 'position' ? without(1) : r.extraShape
    return { ...r, labelShape, extraShape, labelsInt: r.labelForm !== 'soft' && r.labelsInt }
  })
  .chain((r) =>
    fc.record({
      r: fc.constant(r),
      logits: valuesFor(r.logitShape),
      labels: valuesFor(r.labelShape),
      extra: r.extraShape === undefined ? fc.constant(undefined) : valuesFor(r.extraShape),
    }),
  )

describe('dense inputs, ignore labels and soft targets: finite results or a typed error', () => {
  const tally = new Tally('createLoss with dense and soft inputs')
  it('reference createLoss on inputs of any layout', () => {
    fc.assert(
      fc.property(calls, ({ r, logits, labels, extra }) => {
        const before = snapshot({ logits, labels, extra })
        const result = outcome('loss', () => {
          const loss = createLoss(ops, r.spec, {
            ignoreIndex: r.ignoreIndex as number,
            classAxis: r.classAxis as 1,
            ...(r.reduction === undefined ? {} : { reduction: r.reduction as 'mean' }),
          })
          const ctx = extra === undefined || r.extraShape === undefined ? {} : { [r.extraField]: ops.constant(extra, r.extraShape) }
          const u = ops.constant(logits, r.logitShape)
          const y = ops.constant(labels, r.labelShape, r.labelsInt ? 'int32' : 'float32')
          const value = loss(u, y, ctx)
          return { value: value.data, perturbed: loss.perturb(u, y, ctx).data }
        })
        tally.record(result)
        if (result.ok) expect(firstNonFiniteResult(result.value, logits)).toBeUndefined()
        expect({ logits, labels, extra }).toEqual(before)
      }),
      { numRuns: fuzzRuns(400) },
    )
  })
})
