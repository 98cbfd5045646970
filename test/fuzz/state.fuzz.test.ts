/**
 * Fuzzing of stateful losses (LPL's `confidence` split keeps running class confidences): after a
 * call that throws, and after a state file that is refused, the state is exactly what it was; after
 * a call that succeeds it is finite and in range. On tfjs no tensor leaks either way.
 */
import * as tf from '@tensorflow/tfjs-core'
import fc from 'fast-check'
import { createLoss, referenceOps } from '@logit-perturb/core'
import type { RuleInput } from '@logit-perturb/core'
import { outcome } from '@logit-perturb/conformance'
import { onTfjsBackend } from '@logit-perturb/conformance/backends'
import { createTfjsLoss } from '@logit-perturb/tfjs'
import { describe, expect, it } from 'vitest'
import { WRONG_TYPES, labelsInput, valuesInput } from './inputs.js'
import { Tally, firstNonFinite, fuzzRuns } from './oracle.js'
import { yieldToEventLoop } from '../support/eventLoop.js'

const C = 4
const SPEC = { rule: 'lpl', split: 'confidence', numClasses: C, momentum: 0.5 } satisfies RuleInput
const WARM_UP = { logits: [2, 0, 0, 0, 0, 3, 0, 0, 0, 0, 1, 0, 1, 0, 0, 0], labels: [0, 1, 2, 3] }

/** A batch for the second call: mostly fine, sometimes empty, mislabeled, non-finite or of the wrong width. */
const batches = fc
  .record({ n: fc.integer({ min: 0, max: 6 }), c: fc.constantFrom(C, C, C, C + 1) })
  .chain(({ n, c }) => fc.record({ n: fc.constant(n), c: fc.constant(c), logits: valuesInput(n * c, 1e4), labels: labelsInput(n, c) }))

/** State files: valid ones, ones out of range or of the wrong length, or junk. */
const stateFiles = fc.oneof(
  fc.record({
    version: fc.constant(1),
    confidence: fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { minLength: C, maxLength: C }),
    seen: fc.array(fc.constantFrom(0, 1), { minLength: C, maxLength: C }),
  }),
  fc.constantFrom<unknown>(...WRONG_TYPES, { version: 1 }, { version: 2, confidence: [0, 0, 0, 0], seen: [0, 0, 0, 0] }),
  fc.record({
    version: fc.constant(1),
    confidence: fc.array(fc.double({ min: -0.5, max: 1.5 }), { minLength: C - 1, maxLength: C + 1 }),
    seen: fc.array(fc.constantFrom(0, 1, 2), { minLength: C, maxLength: C }),
  }),
)

describe('stateful losses keep their state through refused calls', () => {
  const tally = new Tally('state reference')
  it('reference: a throwing call leaves the state as it was; a successful one keeps it finite and in [0, 1]', () => {
    fc.assert(
      fc.property(batches, (b) => {
        const loss = createLoss(referenceOps, SPEC)
        loss(referenceOps.constant(WARM_UP.logits, [C, C]), referenceOps.constant(WARM_UP.labels, [C]), { training: true })
        const before = Array.from(loss.getState()!.confidence!.data)
        const result = outcome('reference', () =>
          loss(referenceOps.constant(b.logits, [b.n, b.c]), referenceOps.constant(b.labels, [b.labels.length]), { training: true }),
        )
        tally.record(result)
        const after = Array.from(loss.getState()!.confidence!.data)
        if (!result.ok) expect(after).toEqual(before)
        else
          expect(
            after.every((q) => q >= 0 && q <= 1),
            `confidences ${after}`,
          ).toBe(true)
      }),
      { numRuns: fuzzRuns(300) },
    )
  })

  for (const backend of ['cpu', 'wasm'] as const) {
    const calls = new Tally(`state tfjs-${backend} calls`)
    const files = new Tally(`state tfjs-${backend} files`)
    it(`tfjs-${backend}: the same, with no tensor leaked, and a refused state file changes nothing`, async () => {
      await onTfjsBackend(backend, async () => {
        await fc.assert(
          fc.asyncProperty(batches, stateFiles, async (b, file) => {
            await yieldToEventLoop()
            const loss = createTfjsLoss(SPEC)
            tf.dispose(loss(tf.tensor2d(WARM_UP.logits, [C, C]), tf.tensor1d(WARM_UP.labels, 'int32'), { training: true }))
            const saved = await loss.saveState()
            const logits = tf.tensor2d(b.logits, [b.n, b.c])
            const labels = tf.tensor1d(b.labels, b.labels.every(Number.isInteger) ? 'int32' : 'float32')
            const tensors = tf.memory().numTensors
            const result = outcome(`tfjs-${backend}`, () => tf.dispose(loss(logits, labels, { training: true })))
            calls.record(result)
            expect(tf.memory().numTensors, 'tensors after the call').toBe(tensors)
            const afterCall = await loss.saveState()
            if (!result.ok) expect(afterCall).toEqual(saved)
            else expect(firstNonFinite(afterCall)).toBeUndefined()

            const loaded = outcome('loadState', () => loss.loadState(file))
            files.record(loaded)
            expect(tf.memory().numTensors, 'tensors after loadState').toBe(tensors)
            if (!loaded.ok) expect(await loss.saveState()).toEqual(afterCall)
            // tfjs keeps the state in float32: a loaded file reads back rounded to float32.
            else expect(await loss.saveState()).toEqual(asFloat32(file as Record<string, number[] | number>))
            tf.dispose([logits, labels])
            loss.dispose()
          }),
          { numRuns: fuzzRuns(60) },
        )
      })
    })
  }
})

/** A state file with its lists rounded to float32 (values below float32's range become 0). */
function asFloat32(file: Record<string, number[] | number>): Record<string, number[] | number> {
  return Object.fromEntries(Object.entries(file).map(([k, v]) => [k, Array.isArray(v) ? Array.from(Float32Array.from(v)) : v]))
}
