/**
 * Determinism: the same inputs give bit-identical results. Every conformance case (each variant of
 * the shared rule table) is computed twice on the float64 reference and on the tfjs backends, with fresh
 * loss objects and with one loss object whose state is reset between calls: loss, perturbed logits,
 * closed-form and autodiff gradients and the rule's state agree to the bit. No code path may draw
 * from `Math.random` (a run would then depend on the process). For `lpl train`, a seed fixes the
 * training subset and the whole run: two runs give the same losses, another seed does not.
 */
import * as tf from '@tensorflow/tfjs-core'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { type Loss, createLoss } from '@logit-perturb/core'
import { type AnyBackend, type ConformanceCase, batchOn, caseContext, conformanceCases, referenceBackend } from '@logit-perturb/conformance'
import { onTfjsBackend, tfjsBackends } from '@logit-perturb/conformance/backends'
import { loadFashionMnist } from '../packages/cli/src/data/fashionMnist.js'
import { longTailCounts, longTailSplits } from '../packages/cli/src/data/longTail.js'
import { METHODS } from '../packages/cli/src/train/methods.js'
import { type RunData, trainOnce } from '../packages/cli/src/train/run.js'
import { writeFakeFashionMnist } from '../packages/cli/test/fakeData.js'

const backends: AnyBackend[] = [referenceBackend, ...(await tfjsBackends())]

/** Everything one pass computes, read to the host. */
type Results = Record<string, Float64Array>

/**
 * One pass over a case with a given loss object: the evaluation and the closed-form gradient (rules
 * that have one), each a training call, the rule's state after them, and the autodiff gradient
 * (backends that have it). Any use of `Math.random` throws.
 */
async function pass(backend: AnyBackend, c: ConformanceCase, loss: Loss<unknown>): Promise<Results> {
  const random = vi.spyOn(Math, 'random').mockImplementation(() => {
    throw new Error('Math.random called: results would differ between runs')
  })
  try {
    const { logits, labels } = batchOn(backend, c.logits, c.labels)
    // The case's batch inputs (GCL's noise): a training call without them would draw.
    const ctx = caseContext(backend.ops as never, c)
    const out: Results = {}
    const evaluation = loss.evaluate(logits, labels, ctx)
    out.loss = await backend.read(evaluation.loss)
    out.perturbed = await backend.read(evaluation.batch.logits)
    if (loss.hasClosedFormGradient) out.gradient = await backend.read(loss.gradient(logits, labels, ctx))
    for (const [name, t] of Object.entries(loss.getState() ?? {})) out[`state.${name}`] = await backend.read(t)
    // Not a training call: a state made inside tf.grad's scope would be freed when it returns (the
    // tfjs adapter's createTfjsLoss keeps it; the core's loss on tfjs ops does not).
    if (backend.grad) out.autodiff = await backend.read(backend.grad((u) => loss(u, labels, { ...ctx, training: false }), logits))
    return out
  } finally {
    random.mockRestore()
  }
}

/** Asserts two float arrays are equal bit for bit, naming the first element that differs. */
function expectSameBits(a: Float64Array, b: Float64Array, what: string): void {
  expect(b.length, what).toBe(a.length)
  const bytesA = new Uint8Array(a.buffer, a.byteOffset, a.byteLength)
  const bytesB = new Uint8Array(b.buffer, b.byteOffset, b.byteLength)
  const byte = bytesA.findIndex((v, k) => v !== bytesB[k])
  const k = Math.floor(byte / 8)
  expect(byte, `${what}: element ${k} differs, ${a[k]} vs ${b[k]}`).toBe(-1)
}

function expectSameResults(first: Results, second: Results): void {
  expect(Object.keys(second)).toEqual(Object.keys(first))
  for (const key of Object.keys(first)) expectSameBits(first[key]!, second[key]!, key)
}

describe.each(backends.map((b) => [b.name, b] as const))('%s: the same inputs give the same bits', (_name, backend) => {
  const scope = backend.scope ?? ((fn) => fn())

  it.each(conformanceCases().map((c) => [c.name, c] as const))('%s', async (_case, c) => {
    await scope(async () => {
      // Two fresh loss objects.
      const fresh = [await pass(backend, c, createLoss(backend.ops, c.spec)), await pass(backend, c, createLoss(backend.ops, c.spec))]
      expectSameResults(fresh[0]!, fresh[1]!)
      // One loss object, called again after its state is reset: the same as a fresh one.
      const loss = createLoss(backend.ops, c.spec)
      const first = await pass(backend, c, loss)
      loss.setState(undefined)
      const second = await pass(backend, c, loss)
      expectSameResults(first, second)
      expectSameResults(fresh[0]!, second)
    })
  })
})

describe('lpl train with a seed', () => {
  const dir = writeFakeFashionMnist(50, 20)
  const trainSet = loadFashionMnist(dir, 'train')
  const testSet = loadFashionMnist(dir, 'test')
  const wanted = longTailCounts(10, 10, 40)
  const lpl = METHODS.find((m) => m.name === 'lpl')!

  afterEach(() => vi.restoreAllMocks())

  it('draws the same training subset and validation split; another seed draws others', () => {
    const a = longTailSplits(trainSet, wanted, 5, 0)
    const b = longTailSplits(trainSet, wanted, 5, 0)
    expect(b).toEqual(a)
    expect(a.counts).toEqual(wanted)
    const other = longTailSplits(trainSet, wanted, 5, 1)
    expect(other.counts).toEqual(wanted)
    expect(other.train).not.toEqual(a.train)
    expect(other.validation).not.toEqual(a.validation)
  })

  it('gives the same first-epoch loss and results on tfjs-cpu; another seed gives another loss; no tensor is left', async () => {
    await onTfjsBackend('cpu', async () => {
      const splits = longTailSplits(trainSet, wanted, 5, 0)
      const data: RunData = { trainSet, testSet, train: splits.train, validation: splits.validation, counts: splits.counts }
      const run = (seed: number) => trainOnce(lpl, data, { seed, epochs: 1, batchSize: 32, learningRate: 0.05 })
      const before = tf.memory().numTensors
      const a = await run(4)
      expect(tf.memory().numTensors).toBe(before)
      const b = await run(4)
      expect(a.epochLosses).toHaveLength(1)
      expect(Number.isFinite(a.epochLosses[0])).toBe(true)
      expect(Object.is(b.epochLosses[0], a.epochLosses[0])).toBe(true)
      expect(b.perClass).toEqual(a.perClass)
      expect(b.balancedAccuracy).toBe(a.balancedAccuracy)
      const c = await run(5)
      expect(c.epochLosses[0]).not.toBe(a.epochLosses[0])
    })
  })
})
