/**
 * The soak loop: the `lpl train` network (an MLP 784-256-128-10, `buildMlp`) trained with LPL in a
 * custom loop (`optimizer.minimize`) for many steps, sampling tfjs's tensor count and the process's
 * memory every few hundred steps, and reading the rule's state back at the end. `pnpm soak` runs it
 * for 20,000 steps; `test/soak.test.ts` runs the same code for a few hundred.
 *
 * The data is synthetic (no dataset files): a seeded long-tailed pool of 28×28 "images", so the
 * loop runs anywhere and two runs with the same seed see the same batches.
 */
import * as tf from '@tensorflow/tfjs-core'
import { mulberry32, shuffleInPlace } from '@logit-perturb/core'
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
  /** Seed of the data, the shuffles and the network's initialization. */
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
  spec: Record<string, unknown>
  steps: number
  batchSize: number
  seconds: number
  /** The first sample is taken before any step; the second is the first after warm-up. */
  samples: SoakSample[]
  /** The rule's state read to the host after the run (null: the rule keeps none). */
  state: Record<string, number[]> | null
  /** Whether every state value (and every sampled mean loss) is finite. */
  finite: boolean
  /** Training-set class counts of the synthetic pool. */
  counts: number[]
  data: string
}

/** The LPL spec of the benchmark's `lpl` method, on the chosen split. */
export function soakSpec(counts: number[], split: 'confidence' | 'prior'): Record<string, unknown> {
  // The epoch count only matters to LDAM-DRW's schedule; LPL's spec does not depend on it.
  const benchmark = LPL.spec(counts, 1)
  if (split === 'prior') return benchmark
  const { classCounts: _counts, ...settings } = benchmark
  return { ...settings, split: 'confidence', numClasses: counts.length }
}

/**
 * A long-tailed pool of synthetic images: `counts = longTailCounts(100, 10, 500)` (500 down to 5
 * per class), each image `0.25·p_c + 0.75·noise` with `p_c` a fixed random pattern per class, so
 * the classes are learnable but the network does not fit the data in a few steps.
 */
function syntheticPool(seed: number): { x: Float32Array; y: Int32Array; counts: number[] } {
  const counts = longTailCounts(100, CLASSES, 500)
  const rand = mulberry32(seed)
  const patterns = Array.from({ length: CLASSES }, () => Float32Array.from({ length: PIXELS }, () => rand()))
  const y = Int32Array.from(counts.flatMap((n, c) => new Array<number>(n).fill(c)))
  const x = new Float32Array(y.length * PIXELS)
  y.forEach((c, i) => {
    for (let p = 0; p < PIXELS; p++) x[i * PIXELS + p] = 0.25 * patterns[c]![p]! + 0.75 * rand()
  })
  return { x, y, counts }
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
 * SGD. Batches are drawn from seeded shuffles of the pool, wrapping to a new epoch, so every batch
 * has the same shape. Frees everything it made before returning.
 */
export async function runSoak(options: SoakOptions): Promise<SoakResult> {
  const steps = options.steps
  const batchSize = options.batchSize ?? 64
  const sampleEvery = options.sampleEvery ?? 500
  const seed = options.seed ?? 0
  const pool = syntheticPool(seed * 7919 + 1)
  const spec = soakSpec(pool.counts, options.split ?? 'confidence')
  const model = buildMlp(CLASSES, seed, LPL.head)
  const loss = createTfjsLoss(spec)
  const schedule = cosineNesterov(options.learningRate ?? 0.05, steps)
  const weights = model.trainableWeights.map((w) => w.read() as tf.Variable)
  const rand = mulberry32(seed * 31 + 5)
  const order = Array.from(pool.y, (_, i) => i)
  let cursor = order.length

  const nextBatch = (): { xs: tf.Tensor2D; ys: tf.Tensor1D } => {
    const x = new Float32Array(batchSize * PIXELS)
    const y = new Int32Array(batchSize)
    for (let row = 0; row < batchSize; row++) {
      if (cursor === order.length) {
        shuffleInPlace(order, rand)
        cursor = 0
      }
      const i = order[cursor++]!
      x.set(pool.x.subarray(i * PIXELS, (i + 1) * PIXELS), row * PIXELS)
      y[row] = pool.y[i]!
    }
    return { xs: tf.tensor2d(x, [batchSize, PIXELS]), ys: tf.tensor1d(y, 'int32') }
  }

  const samples: SoakSample[] = []
  const started = performance.now()
  let lossSum = 0
  let lossCount = 0
  const sample = (step: number) => {
    options.collectGarbage?.()
    const memory = tf.memory()
    const usage = process.memoryUsage()
    const s: SoakSample = {
      step, seconds: (performance.now() - started) / 1000, numTensors: memory.numTensors, numBytes: memory.numBytes,
      rss: usage.rss, heapUsed: usage.heapUsed, meanLoss: lossCount > 0 ? lossSum / lossCount : NaN,
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
      const { xs, ys } = nextBatch()
      const cost = schedule.optimizer.minimize(() => {
        const logits = model.apply(xs, { training: true }) as tf.Tensor
        return tf.addN([loss(logits, ys), ...model.calculateLosses()]) as tf.Scalar
      }, true, weights)!
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
  const finite = Object.values(state ?? {}).every((values) => values.every(Number.isFinite))
    && samples.slice(1).every((s) => Number.isFinite(s.meanLoss))
  return {
    backend: tf.getBackend(), spec, steps, batchSize, seconds: (performance.now() - started) / 1000, samples, state, finite,
    counts: pool.counts, data: 'synthetic long-tailed images (seeded mulberry32, ratio 100, 500 down to 5 per class); no dataset files',
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
