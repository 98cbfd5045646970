/**
 * `pnpm bench`: the loss-plus-gradient cost of each rule on every backend and shape, and the
 * training overhead of LPL on the `lpl train` network. Prints tables and writes
 * `bench/results.json` (with the machine). A script, never a test: timings are noisy, so what it
 * reports are ratios measured in one run.
 *   --quick            a shorter time budget per cell and one timed epoch
 *   --backends LIST    of reference, tfjs-cpu, tfjs-wasm, onnx-wasm (default all)
 *   --no-training      skip the training overhead
 * The tfjs rows of `lpl` also give the median time of its host search alone (`search`, ms).
 */
import { writeFileSync } from 'node:fs'
import { cpus, totalmem, type as osType, release } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import * as tf from '@tensorflow/tfjs-core'
import type { RuleInput } from '@logit-perturb/core'
import { type Measurement, measureLosses } from './loss.js'
import { measureEpochs } from './training.js'

tf.env().set('PROD', true)
const { values } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    backends: { type: 'string', default: 'reference,tfjs-cpu,tfjs-wasm,onnx-wasm' },
    'no-training': { type: 'boolean', default: false },
    out: { type: 'string', default: join(import.meta.dirname, 'results.json') },
  },
})
const machine = {
  os: `${osType()} ${release()}`,
  cpus: cpus().length,
  cpuModel: cpus()[0]?.model,
  memoryGiB: Math.round(totalmem() / 2 ** 30),
  node: process.version,
}
console.log(`machine: ${machine.cpuModel}, ${machine.cpus} cores, ${machine.memoryGiB} GiB, Node ${machine.node}`)

const formatBytes = (b: number) => (b >= 2 ** 20 ? `${(b / 2 ** 20).toFixed(1)} MiB` : `${(b / 2 ** 10).toFixed(1)} KiB`)
// Times are of the default options; `checks off` is the same call with `checks: 'shapes'`.
const header = ['backend', 'N × C', 'rule', 'median ms', '× ce', 'checks off', 'checks +%', 'memory', 'search', 'reps']
const line = (cells: string[]) =>
  cells.map((s, k) => (k < 3 ? s.padEnd([11, 10, 18][k]!) : s.padStart([10, 7, 11, 10, 22, 6, 5][k - 3]!))).join(' ')
console.log(line(header))
const losses = await measureLosses({
  budgetMs: values.quick ? 300 : 1500,
  backends: values.backends.split(','),
  onCell: (m: Measurement) =>
    console.log(
      line([
        m.backend,
        `${m.n} × ${m.c}`,
        m.rule,
        m.medianMs.toFixed(2),
        m.ratioToCe!.toFixed(2),
        m.checksOffMs === undefined ? '' : m.checksOffMs.toFixed(2),
        m.checksOffMs === undefined ? '' : `${(100 * (m.medianMs / m.checksOffMs - 1)).toFixed(1)}`,
        `${formatBytes(m.memoryBytes)} ${m.memoryKind === 'peak' ? 'peak' : 'max'}`,
        m.hostSearchMs !== undefined
          ? `${m.searchPath} (search ${m.hostSearchMs.toFixed(2)})`
          : (m.searchPath ?? (m.graph === undefined ? '' : `${m.graph.nodes} nodes`)),
        String(m.repetitions),
      ]),
    ),
})

let training: Awaited<ReturnType<typeof measureEpochs>> = []
if (!values['no-training']) {
  const lpl = {
    rule: 'lpl',
    split: 'prior',
    classCounts: [6000, 3596, 2156, 1292, 774, 464, 278, 166, 100, 60],
    alpha: 0.15,
    epsilon: 0.3,
    deltaEpsilon: 1.2,
    maxSteps: 20,
  } satisfies RuleInput
  const officialLongtail = {
    rule: 'official-longtail',
    classCounts: lpl.classCounts,
    headClasses: 3,
  } satisfies RuleInput
  training = await measureEpochs('wasm', [lpl, officialLongtail], values.quick ? 1 : 3)
  console.log('\ntraining: one epoch of the lpl train network (MLP 784-256-128-10, batch 128)')
  for (const t of training)
    console.log(
      `${t.backend}  ${t.rule.padEnd(18)} ${t.medianSeconds.toFixed(2)} s  × ce ${t.ratioToCe!.toFixed(3)}  (median of ${t.epochs}; ${t.data})`,
    )
}
writeFileSync(values.out, `${JSON.stringify({ machine, date: new Date().toISOString(), losses, training }, null, 2)}\n`)
console.log(`\nwrote ${values.out}`)
