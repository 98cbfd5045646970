/**
 * The soak loop: the `lpl train` network (an MLP 784-256-128-10, `buildMlp`) trained with LPL in a
 * custom loop (`optimizer.minimize`) for many steps, sampling tfjs's tensor count and the process's
 * memory every few hundred steps, and reading the rule's state back at the end. `pnpm soak` runs it
 * for 20,000 steps; `test/soak.test.ts` runs the same code for a few hundred.
 *
 * The data is synthetic (no dataset files): 28×28 "images" drawn fresh for every batch from a
 * seeded long-tailed generator, so the loop runs anywhere and two runs with the same seed see the
 * same batches.
 */
import * as tf from '@tensorflow/tfjs-core'
import { type RuleInput, mulberry32 } from '@logit-perturb/core'
import { type TfjsLoss, createTfjsLoss } from '@logit-perturb/tfjs'
import { longTailCounts } from '../packages/cli/src/data/longTail.js'
import { METHODS } from '../packages/cli/src/train/methods.js'
import { buildMlp, cosineNesterov } from '../packages/cli/src/train/model.js'

const PIXELS = 784
const CLASSES = 10
/** The benchmark's `lpl` method: its spec and head. */
const LPL = METHODS.find((m) => m.name === 'lpl')!

/** Options of {@link runSoak}. */
export interface SoakOptions {
  /** Training steps (batches). */
  steps: number
  /** Samples per batch; default 64 (the benchmark's is 128, at twice the time per step). */
  batchSize?: number
  /** A memory sample every this many steps (and one after the last step). */
  sampleEvery?: number
  /** Seed of the data and of the network's initialization. */
  seed?: number
  /**
   * LPL's split. `'confidence'` (default) keeps running class confidences as the loss's state,
   * replaced by new tensors on every step: the path where a leak would show. `'prior'` is the
   * benchmark's `lpl` method exactly (no state).
   */
  split?: 'confidence' | 'prior'
  /** Initial learning rate of the benchmark's cosine-decayed Nesterov SGD; default 0.05. */
  learningRate?: number
  /** Called before each memory sample, e.g. `global.gc` when node runs with `--expose-gc`. */
  collectGarbage?: () => void
  /** Called with each sample as it is taken. */
  onSample?: (sample: SoakSample) => void
}

/** One memory sample, taken after `step` training steps. */
export interface SoakSample {
  step: number
  /** Seconds since the first step began. */
  seconds: number
  /** `tf.memory().numTensors` and `numBytes`. */
  numTensors: number
  numBytes: number
  /** `process.memoryUsage()` in bytes. */
  rss: number
  heapUsed: number
  /** Mean training loss over the steps since the previous sample. */
  meanLoss: number
}

/** What a soak run measured. */
export interface SoakResult {
  backend: string
  spec: RuleInput
  steps: number
  batchSize: number
  seconds: number
  /** The first sample is taken before any step; the second is the first after warm-up. */
  samples: SoakSample[]
  /** The rule's state read to the host after the run (null: the rule keeps none). */
  state: Record<string, number[]> | null
  /** Whether every state value (and every sampled mean loss) is finite. */
  finite: boolean
  /** The class counts the synthetic labels are drawn in proportion to (and the `prior` split's). */
  counts: number[]
  data: string
}

/** The LPL spec of the benchmark's `lpl` method, on the chosen split. */
export function soakSpec(counts: number[], split: 'confidence' | 'prior'): RuleInput {
  // The epoch count only matters to LDAM-DRW's schedule; LPL's spec does not depend on it.
  const benchmark = LPL.spec(counts, 1, 0)
  if (split === 'prior') return benchmark
  if (benchmark.rule !== 'lpl' || benchmark.split !== 'prior')
    throw new Error("the benchmark's lpl method is no longer LPL with the prior split")
  const { classCounts: _counts, headClasses: _head, ...settings } = benchmark
  return { ...settings, split: 'confidence', numClasses: counts.length }
}

/**
 * A seeded stream of synthetic long-tailed batches. Labels follow `π_c ∝ longTailCounts(100, 10,
 * 500)_c` (500 down to 5: imbalance ratio 100). Each class has a fixed random pattern of 30% of
 * the pixels; an image lights 70% of its class's pattern at 0.2–1 and 10% of the rest at 0–1, so
 * its statistics resemble Fashion-MNIST's (mostly dark, values in [0, 1]; with brighter, denser
 * images the benchmark's learning rate of 0.05 makes even cross-entropy diverge). One label in ten
 * is redrawn from `π`: the loss stays away from zero and LPL's search has work on every step.
 */
function syntheticBatches(seed: number, batchSize: number): { next: () => { x: Float32Array; y: Int32Array }; counts: number[] } {
  const counts = longTailCounts(100, CLASSES, 500)
  const total = counts.reduce((a, b) => a + b, 0)
  const rand = mulberry32(seed)
  const patterns = counts.map(() => Uint8Array.from({ length: PIXELS }, () => (rand() < 0.3 ? 1 : 0)))
  const drawClass = () => {
    let r = rand() * total
    let c = 0
    while (c < CLASSES - 1 && r >= counts[c]!) r -= counts[c++]!
    return c
  }
  const next = () => {
    const x = new Float32Array(batchSize * PIXELS)
    const y = new Int32Array(batchSize)
    for (let row = 0; row < batchSize; row++) {
      const c = drawClass()
      const pattern = patterns[c]!
      for (let p = 0; p < PIXELS; p++) {
        x[row * PIXELS + p] = pattern[p] && rand() < 0.7 ? 0.2 + 0.8 * rand() : rand() < 0.1 ? rand() : 0
      }
      y[row] = rand() < 0.1 ? drawClass() : c
    }
    return { x, y }
  }
  return { next, counts }
}

/** The rule's state read to the host, one list per state tensor, or null. */
async function readState(loss: TfjsLoss): Promise<Record<string, number[]> | null> {
  const state = loss.getState()
  if (!state) return null
  const out: Record<string, number[]> = {}
  for (const [name, t] of Object.entries(state)) out[name] = Array.from(await t.data())
  return out
}

/**
 * Trains the benchmark network with LPL for `steps` batches on the active tfjs backend, in a
 * custom loop: `optimizer.minimize` of the rule's loss plus the network's weight-decay terms
 * (`model.calculateLosses()`, what `model.fit` adds), with the benchmark's cosine-decayed Nesterov
 * SGD, on fresh synthetic batches of one shape. Frees everything it made before returning.
 */
export async function runSoak(options: SoakOptions): Promise<SoakResult> {
  const steps = options.steps
  const batchSize = options.batchSize ?? 64
  const sampleEvery = options.sampleEvery ?? 500
  const seed = options.seed ?? 0
  const data = syntheticBatches(seed * 7919 + 1, batchSize)
  const spec = soakSpec(data.counts, options.split ?? 'confidence')
  const model = buildMlp(CLASSES, seed, LPL.classifier)
  const loss = createTfjsLoss(spec)
  const schedule = cosineNesterov(options.learningRate ?? 0.05, steps)
  const weights = model.trainableWeights.map((w) => w.read() as tf.Variable)

  const samples: SoakSample[] = []
  const started = performance.now()
  let lossSum = 0
  let lossCount = 0
  const sample = (step: number) => {
    options.collectGarbage?.()
    const memory = tf.memory()
    const usage = process.memoryUsage()
    const s: SoakSample = {
      step,
      seconds: (performance.now() - started) / 1000,
      numTensors: memory.numTensors,
      numBytes: memory.numBytes,
      rss: usage.rss,
      heapUsed: usage.heapUsed,
      meanLoss: lossCount > 0 ? lossSum / lossCount : NaN,
    }
    lossSum = 0
    lossCount = 0
    samples.push(s)
    options.onSample?.(s)
  }

  let state: Record<string, number[]> | null
  try {
    sample(0)
    for (let step = 1; step <= steps; step++) {
      await schedule.onBatchBegin()
      const batch = data.next()
      const xs = tf.tensor2d(batch.x, [batchSize, PIXELS])
      const ys = tf.tensor1d(batch.y, 'int32')
      const cost = schedule.optimizer.minimize(
        () => {
          const logits = model.apply(xs, { training: true }) as tf.Tensor
          return tf.addN([loss(logits, ys), ...model.calculateLosses()]) as tf.Scalar
        },
        true,
        weights,
      )!
      lossSum += cost.dataSync()[0]!
      lossCount++
      tf.dispose([xs, ys, cost])
      if (step % sampleEvery === 0 || step === steps) {
        sample(step)
        // Lets timers and the test runner's messages through on long runs.
        await new Promise((resolve) => setImmediate(resolve))
      }
    }
    state = await readState(loss)
  } finally {
    model.dispose()
    schedule.dispose()
    loss.dispose()
  }
  const finite =
    Object.values(state ?? {}).every((values) => values.every(Number.isFinite)) &&
    samples.slice(1).every((s) => Number.isFinite(s.meanLoss))
  return {
    backend: tf.getBackend(),
    spec,
    steps,
    batchSize,
    seconds: (performance.now() - started) / 1000,
    samples,
    state,
    finite,
    counts: data.counts,
    data: 'synthetic long-tailed images drawn per batch (seeded mulberry32, ratio 100, 10% of labels redrawn); no dataset files',
  }
}

/**
 * Whether the tensor count stayed flat: the last sample has as many tensors as the first one after
 * warm-up (the optimizer's slots and the rule's state exist from the first step on).
 */
export function tensorsFlat(result: SoakResult): boolean {
  const warm = result.samples[1]
  const last = result.samples[result.samples.length - 1]
  return warm !== undefined && last !== undefined && last.numTensors === warm.numTensors
}
