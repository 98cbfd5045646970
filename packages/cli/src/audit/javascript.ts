import { pathToFileURL } from 'node:url'
import * as tf from '@tensorflow/tfjs-core'
import '@tensorflow/tfjs-backend-cpu'
// tfjs-core alone registers no gradients: tfjs-layers registers them all.
import '@tensorflow/tfjs-layers'
import { CliError } from '../errors.js'
import { centralDifferences, directionalDifferences } from './differences.js'
import { splitTarget } from './target.js'
import type { AuditBatch, BatchResult, Implementation, ImplementationResults } from './types.js'

/** The two forms of a JavaScript loss `lpl audit --js` takes (docs/audit.md#javascript). */
export type JsForm = 'tensors' | 'arrays'

/** The context a JavaScript loss gets as its third argument. */
export interface JsAuditContext<T> {
  training: true
  epoch?: number
  noise?: T
}

/**
 * A JavaScript loss, `FILE.mjs:EXPORT`, called once per probe and then once per batch. A stateful
 * loss exposes `saveState()` and `loadState(json)` (a `TfjsLoss` does): its state is put back after
 * each probe, so that it moves once per batch.
 * - `tensors`: `f(logits: tf.Tensor2D, labels: tf.Tensor, ctx)` returns a scalar `tf.Tensor`; run on
 *   tfjs's cpu backend in float32, its gradient by `tf.valueAndGrad`;
 * - `arrays`: `f(logits: number[][], labels: number[] | number[][], ctx)` returns the loss, a number
 *   (its gradient is then the central differences of `f`, float64), or `{ loss, gradient }` with the
 *   gradient `[N][W]` its own.
 * Labels are class ids (int32) or 0/1 rows; `ctx` carries `training`, `epoch` and `noise`.
 */
export function jsImplementation(target: string, form: JsForm): Implementation {
  const { file, shown, name } = splitTarget(target, '--js', 'FILE.mjs:EXPORT')
  return {
    name: target,
    async run(batches: readonly AuditBatch[]): Promise<ImplementationResults> {
      let source: Record<string, unknown>
      try {
        source = await import(pathToFileURL(file).href)
      } catch (e) {
        throw new CliError(`${shown} does not load: ${oneLine(e)}`, 2)
      }
      const f = source[name]
      if (typeof f !== 'function') throw new CliError(`${shown} exports no function ${name}`, 2)
      return functionImplementation(target, f as ArraysLoss | TensorsLoss, form).run(batches)
    },
  }
}

/** A JavaScript loss already in hand, in one of the two forms (see {@link jsImplementation}). */
export function functionImplementation(name: string, f: ArraysLoss | TensorsLoss, form: JsForm): Implementation {
  return {
    name,
    async run(batches: readonly AuditBatch[]): Promise<ImplementationResults> {
      const restore = stateKeeper(f as Partial<Stateful>)
      if (form === 'arrays') return { dtype: 'float64', results: await runAll(batches, (b) => arraysBatch(f as ArraysLoss, b, restore)) }
      await tf.setBackend('cpu')
      return { dtype: 'float32', results: await runAll(batches, (b) => tensorsBatch(f as TensorsLoss, b, restore)) }
    },
  }
}

/** The `arrays` form: host rows in, the loss (and optionally its gradient) out. */
export type ArraysLoss = (
  logits: number[][],
  labels: number[] | number[][],
  ctx: JsAuditContext<number[][]>,
) => number | { loss: number; gradient: number[][] }
/** The `tensors` form: tfjs tensors in, a scalar tensor out. */
export type TensorsLoss = (logits: tf.Tensor2D, labels: tf.Tensor, ctx: JsAuditContext<tf.Tensor>) => tf.Tensor

/** A loss that keeps state between calls, as a `TfjsLoss` does. */
interface Stateful {
  saveState(): Promise<unknown> | unknown
  loadState(json: unknown): void
  setState(state: undefined): void
}

/** Runs calls that must leave the function's state as it was: saved before, put back after each. */
type Restore = (calls: () => number[]) => Promise<number[]>

function stateKeeper(f: Partial<Stateful>): Restore {
  if (typeof f.saveState !== 'function' || typeof f.loadState !== 'function') return async (calls) => calls()
  return async (calls) => {
    const saved = await f.saveState!()
    try {
      return calls()
    } finally {
      if (saved === null && typeof f.setState === 'function') f.setState(undefined)
      else if (saved !== null) f.loadState!(saved)
    }
  }
}

/** Each batch in order; a failure on a later batch is that batch's result, on the first it is bad input. */
async function runAll(batches: readonly AuditBatch[], one: (b: AuditBatch) => Promise<BatchResult>): Promise<BatchResult[]> {
  const out: BatchResult[] = []
  for (const [k, b] of batches.entries()) {
    try {
      out.push(await one(b))
    } catch (e) {
      if (k === 0) throw new CliError(`the function fails on the first batch: ${oneLine(e)}`, 2)
      out.push({ loss: Number.NaN, gradient: [], probes: [], error: oneLine(e) })
    }
  }
  return out
}

async function arraysBatch(f: ArraysLoss, batch: AuditBatch, restore: Restore): Promise<BatchResult> {
  const n = batch.logits.length
  const width = batch.logits[0]!.length
  const ctx = { training: true as const, ...contextOf(batch) }
  const rows = (x: Float64Array) => Array.from({ length: n }, (_, i) => Array.from(x.subarray(i * width, (i + 1) * width)))
  const lossAt = (x: Float64Array) => {
    const out = f(rows(x), structuredClone(batch.labels), ctx)
    return typeof out === 'number' ? out : out.loss
  }
  const u = Float64Array.from(batch.logits.flat())
  const probes = await restore(() => directionalDifferences(lossAt, u, batch.probe))
  const out = f(rows(u), structuredClone(batch.labels), ctx)
  const loss = typeof out === 'number' ? out : Number(out.loss)
  let gradient: number[]
  if (typeof out === 'object' && out !== null && Array.isArray(out.gradient)) gradient = out.gradient.flat().map(Number)
  else {
    gradient = await restore(() => centralDifferences(lossAt, u, batch.probe.h))
  }
  return { loss, gradient, probes }
}

async function tensorsBatch(f: TensorsLoss, batch: AuditBatch, restore: Restore): Promise<BatchResult> {
  const n = batch.logits.length
  const width = batch.logits[0]!.length
  // The body's result holds host numbers only: every tensor of the scope is freed.
  const withInputs = <R>(body: (call: (x: tf.Tensor) => tf.Scalar, u: tf.Tensor2D) => R): R =>
    tf.tidy((): tf.TensorContainer => {
      const labels =
        batch.task === 'multi' ? tf.tensor2d(batch.labels as number[][], [n, width]) : tf.tensor1d(batch.labels as number[], 'int32')
      const noise = batch.noise === undefined ? undefined : tf.tensor2d(batch.noise, [n, width])
      const ctx = { training: true as const, ...(batch.epoch === undefined ? {} : { epoch: batch.epoch }), ...(noise ? { noise } : {}) }
      const call = (x: tf.Tensor) => {
        const value = f(x as tf.Tensor2D, labels, ctx)
        if (!(value instanceof tf.Tensor) || value.size !== 1)
          throw new Error('the function must return the batch loss, a tensor of one element')
        return tf.reshape(value, []) as tf.Scalar
      }
      return body(call, tf.tensor2d(batch.logits, [n, width])) as tf.TensorContainer
    }) as R
  // Probes in float32, so with a step a float32 function can resolve.
  const h = Math.max(batch.probe.h, 1e-3 * Math.max(1, ...batch.logits.flat().map(Math.abs)))
  const probes = await restore(() =>
    withInputs((call, u) =>
      batch.probe.directions.map((v) => {
        const d = tf.tensor2d(v, [n, width])
        const plus = call(tf.add(u, tf.mul(d, h))).dataSync()[0]!
        const minus = call(tf.sub(u, tf.mul(d, h))).dataSync()[0]!
        return (plus - minus) / (2 * h)
      }),
    ),
  )
  return withInputs((call, u) => {
    const { value, grad } = tf.valueAndGrad(call)(u)
    return { loss: value.dataSync()[0]!, gradient: Array.from(grad.dataSync()), probes }
  })
}

function contextOf(batch: AuditBatch): { epoch?: number; noise?: number[][] } {
  return {
    ...(batch.epoch === undefined ? {} : { epoch: batch.epoch }),
    ...(batch.noise === undefined ? {} : { noise: structuredClone(batch.noise) }),
  }
}

function oneLine(e: unknown): string {
  return (e instanceof Error ? `${e.name}: ${e.message}` : String(e)).split('\n')[0]!
}
