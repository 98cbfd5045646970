/**
 * Soak run: the `lpl train` network trained with LPL for many steps (default 20,000) on a tfjs
 * backend, checking that no tensor leaks, that the process's memory does not grow, and that the
 * rule's state stays finite. Prints a table; exits 1 if the tensor count grew or the state (or a
 * loss) is not finite.
 *
 *   pnpm soak [--steps 20000] [--backend wasm|cpu] [--batch-size 64] [--every 500]
 *             [--split confidence|prior] [--seed 0] [--out runs/soak.json]
 *
 * Batches hold 64 samples by default, not the benchmark's 128: on two cores tfjs-wasm takes about
 * 25 ms per step at 64 and 45–70 ms at 128, so 20,000 steps take about 10 minutes rather than 15–25.
 *
 * The script runs node with `--expose-gc`, so each memory sample follows a full garbage collection.
 */
import { mkdirSync, writeFileSync } from 'node:fs'
import { cpus } from 'node:os'
import { dirname } from 'node:path'
import { parseArgs } from 'node:util'
import * as tf from '@tensorflow/tfjs-core'
import '@tensorflow/tfjs-backend-cpu'
import '@tensorflow/tfjs-backend-wasm'
import { type SoakSample, runSoak, tensorsFlat } from './soakLoop.js'

tf.env().set('PROD', true)

const { values } = parseArgs({
  options: {
    steps: { type: 'string', default: '20000' },
    backend: { type: 'string', default: 'wasm' },
    'batch-size': { type: 'string', default: '64' },
    every: { type: 'string', default: '500' },
    split: { type: 'string', default: 'confidence' },
    seed: { type: 'string', default: '0' },
    out: { type: 'string' },
  },
})

function positive(name: string, text: string | undefined): number {
  const v = Number(text)
  if (!Number.isInteger(v) || v < 1) throw new Error(`--${name} must be a positive integer, got ${text}`)
  return v
}

const backend = values.backend!
if (backend !== 'wasm' && backend !== 'cpu') throw new Error(`--backend must be wasm or cpu, got ${backend}`)
const split = values.split!
if (split !== 'confidence' && split !== 'prior') throw new Error(`--split must be confidence or prior, got ${split}`)
await tf.setBackend(backend)
await tf.ready()

const gc = (globalThis as { gc?: () => void }).gc
const mb = (bytes: number) => (bytes / 2 ** 20).toFixed(1)
const line = (s: SoakSample) =>
  `${String(s.step).padStart(6)}  ${s.seconds.toFixed(0).padStart(6)}s  tensors ${s.numTensors}  tf ${mb(s.numBytes)} MB  ` +
  `rss ${mb(s.rss)} MB  heap ${mb(s.heapUsed)} MB  mean loss ${s.meanLoss.toFixed(4)}`

const result = await runSoak({
  steps: positive('steps', values.steps),
  batchSize: positive('batch-size', values['batch-size']),
  sampleEvery: positive('every', values.every),
  seed: Number(values.seed),
  split,
  ...(gc ? { collectGarbage: gc } : {}),
  onSample: (s) => console.log(line(s)),
})

// The first sample is before any step; the second, after the first `--every` steps, is the warm-up
// baseline: the optimizer's slots, the rule's state and the wasm heap exist from then on.
const warm = result.samples[1] ?? result.samples[0]!
const last = result.samples[result.samples.length - 1]!
const after = result.samples.slice(1)
const max = (key: 'rss' | 'heapUsed') => Math.max(...after.map((s) => s[key]))
const flat = tensorsFlat(result)
const rows: [string, string][] = [
  ['backend', `tfjs-${result.backend}`],
  ['rule', JSON.stringify(result.spec)],
  ['data', result.data],
  ['steps', `${result.steps} (batch ${result.batchSize})`],
  ['seconds', `${result.seconds.toFixed(1)} (${((1000 * result.seconds) / result.steps).toFixed(1)} ms/step)`],
  ['numTensors warm-up / last', `${warm.numTensors} / ${last.numTensors}${flat ? '' : '  GREW'}`],
  ['tf numBytes warm-up / last', `${mb(warm.numBytes)} / ${mb(last.numBytes)} MB`],
  ['rss warm-up / last / max', `${mb(warm.rss)} / ${mb(last.rss)} / ${mb(max('rss'))} MB`],
  ['heapUsed warm-up / last / max', `${mb(warm.heapUsed)} / ${mb(last.heapUsed)} / ${mb(max('heapUsed'))} MB`],
  ['mean loss (with weight decay) first / last window', `${warm.meanLoss.toFixed(4)} / ${last.meanLoss.toFixed(4)}`],
  ['rule state finite', result.state ? String(result.finite) : `no state (${String(result.finite)} for the losses)`],
  ['gc before samples', gc ? 'yes (--expose-gc)' : 'no (run node with --expose-gc)'],
  ['machine', `${cpus().length} cores, node ${process.version}`],
]
const width = Math.max(...rows.map(([k]) => k.length))
console.log()
for (const [k, v] of rows) console.log(`${k.padEnd(width)}  ${v}`)
if (result.state)
  for (const [name, v] of Object.entries(result.state))
    console.log(`${`state.${name}`.padEnd(width)}  ${v.map((x) => x.toFixed(3)).join(' ')}`)

if (values.out) {
  mkdirSync(dirname(values.out), { recursive: true })
  writeFileSync(
    values.out,
    `${JSON.stringify({ ...result, tensorsFlat: flat, gc: Boolean(gc), cpus: cpus().length, node: process.version }, null, 2)}\n`,
  )
}
if (!flat || !result.finite) {
  console.error(!flat ? `tensor count grew: ${warm.numTensors} -> ${last.numTensors}` : 'the rule state or a loss is not finite')
  process.exit(1)
}
