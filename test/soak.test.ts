/**
 * A short soak: the loop of `pnpm soak` (the `lpl train` network trained with LPL's `confidence`
 * split in a custom loop) for a few hundred steps on each tfjs backend. The tensor count is flat from the
 * first sample after warm-up to the end, the run frees everything it made, and the rule's state
 * is finite. The 20,000-step run is `pnpm soak`.
 */
import * as tf from '@tensorflow/tfjs-core'
import { describe, expect, it } from 'vitest'
import { onTfjsBackend } from '@logit-perturb/conformance/backends'
import { runSoak, tensorsFlat } from '../scripts/soakLoop.js'

// The cpu backend is several times slower than wasm on this network (its matrix products and the
// optimizer's updates over 235k weights are plain JavaScript): fewer, smaller steps keep it short.
const RUNS = [
  { backend: 'wasm', steps: 300, batchSize: 32, sampleEvery: 100 },
  { backend: 'cpu', steps: 100, batchSize: 8, sampleEvery: 25 },
]

describe.each(RUNS.map((run) => [run.backend, run] as const))('soak on tfjs-%s', (backend, { steps, batchSize, sampleEvery }) => {
  it(`${steps} steps of LPL on the benchmark network leak no tensor and keep the state finite`, async () => {
    await onTfjsBackend(backend, async () => {
      const before = tf.memory().numTensors
      const result = await runSoak({ steps, batchSize, sampleEvery, seed: 1 })
      const samples = result.samples
      expect(samples.map((s) => s.step)).toEqual([0, 1, 2, 3, 4].map((k) => k * sampleEvery).filter((s) => s <= steps))
      // Flat from the first sample after warm-up (the optimizer's slots and the state exist) on.
      expect(samples.slice(1).map((s) => s.numTensors)).toEqual(new Array(samples.length - 1).fill(samples[1]!.numTensors))
      expect(tensorsFlat(result)).toBe(true)
      expect(tf.memory().numTensors).toBe(before)
      expect(Object.keys(result.state ?? {}).sort()).toEqual(['confidence', 'seen'])
      expect(result.state!.confidence!.every((q) => Number.isFinite(q) && q >= 0 && q <= 1)).toBe(true)
      expect(result.finite).toBe(true)
      // It trained: the mean loss of the last window is below that of the first.
      expect(samples[samples.length - 1]!.meanLoss).toBeLessThan(samples[1]!.meanLoss)
    })
  })
})

describe('tensorsFlat', () => {
  it('compares the first sample after warm-up with the last, and reports a grown count', () => {
    const sample = (step: number, numTensors: number) => ({ step, seconds: 0, numTensors, numBytes: 0, rss: 0, heapUsed: 0, meanLoss: 1 })
    const result = (counts: number[]) => ({
      backend: 'cpu',
      spec: { rule: 'ce' } as const,
      steps: 0,
      batchSize: 1,
      seconds: 0,
      state: null,
      finite: true,
      counts: [],
      data: '',
      samples: counts.map((n, k) => sample(100 * k, n)),
    })
    expect(tensorsFlat(result([8, 16, 16, 16]))).toBe(true)
    expect(tensorsFlat(result([8, 16, 16, 17]))).toBe(false)
    expect(tensorsFlat(result([8]))).toBe(false)
  })
})
