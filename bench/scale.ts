/**
 * `pnpm bench:scale`: the issue-27 scale check on tfjs — loss plus gradient (`tf.grad`, as
 * `model.fit` takes it) at N × C = 256 × 8142 (iNaturalist 2018's class count) for cross-entropy,
 * LPL, the two released presets and seesaw, on a long-tailed batch and a class-balanced one (every
 * class present as often as N allows, as class-balanced sampling gives). Prints the median time,
 * its ratio to cross-entropy's in the same run, and tfjs's peak allocation of one call
 * (`tf.profile`), with its excess over cross-entropy's. A script, never a test.
 *   --backend NAME   tfjs-wasm (default) or tfjs-cpu
 *   --shape NxC      default 256x8142
 *   --reps K         timed calls per cell, after a profiled call and warm-up calls for half a
 *                    second (at most 30): the steady state of a training loop (default 3)
 */
import { cpus, totalmem } from 'node:os'
import { parseArgs } from 'node:util'
import * as tf from '@tensorflow/tfjs-core'
import { type RuleInput, mulberry32 } from '@logit-perturb/core'
import { longTailCounts, longTailLabel, uniform } from '@logit-perturb/conformance'
import { onTfjsBackend } from '@logit-perturb/conformance/backends'
import { createTfjsLoss } from '@logit-perturb/tfjs'

tf.env().set('PROD', true)
const { values } = parseArgs({
  options: {
    backend: { type: 'string', default: 'tfjs-wasm' },
    shape: { type: 'string', default: '256x8142' },
    reps: { type: 'string', default: '3' },
  },
})
const [n, c] = values.shape.split(/[x×]/).map(Number) as [number, number]
const reps = Number(values.reps)
const counts = longTailCounts(c, 5000, 100)
/** The rows: the bench's specs (bench/loss.ts) at this class count, and the presets' defaults. */
const ROWS: [string, RuleInput][] = [
  ['ce', { rule: 'ce', numClasses: c }],
  ['lpl', { rule: 'lpl', split: 'prior', classCounts: counts }],
  ['official-longtail', { rule: 'official-longtail', classCounts: counts, headClasses: Math.floor(c / 3) }],
  ['official-balanced', { rule: 'official-balanced', numClasses: c }],
  ['seesaw', { rule: 'seesaw', classCounts: counts }],
]

const mib = (b: number) => b / 2 ** 20
console.log(`machine: ${cpus()[0]?.model}, ${cpus().length} cores, ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}`)
console.log(`${values.backend}, N × C = ${n} × ${c}, loss plus tf.grad, median of ${reps} calls`)
console.log(['batch', 'rule', 'median ms', '× ce', 'peak MiB', '+ce MiB'].map((s, k) => (k < 2 ? s.padEnd(18) : s.padStart(10))).join(''))
await onTfjsBackend(values.backend.replace(/^tfjs-/, ''), async () => {
  for (const batch of ['long-tailed', 'class-balanced'] as const) {
    const rand = mulberry32(n * 1000 + c)
    const labels = Int32Array.from({ length: n }, (_, i) => (batch === 'class-balanced' ? i % c : longTailLabel(rand, c)))
    const z = tf.tensor2d(
      Float32Array.from({ length: n * c }, (_, k) => uniform(rand, 1) + (k % c === labels[Math.floor(k / c)] ? 2 : 0)),
      [n, c],
    )
    const y = tf.tensor1d(labels, 'int32')
    let ce: { ms: number; peak: number } | undefined
    for (const [name, spec] of ROWS) {
      const loss = createTfjsLoss(spec)
      const call = () =>
        tf.tidy(() => {
          tf.grad((x: tf.Tensor) => loss(x, y) as tf.Scalar)(z).dataSync()
        })
      const peak = (await tf.profile(call)).peakBytes
      // Warm-up until half a second has gone (at least one call, at most 30): at small shapes V8
      // compiles the host loops over the first calls, and a training loop makes thousands.
      for (let w = 0, start = performance.now(); w < 30 && performance.now() - start < 500; w++) call()
      const times: number[] = []
      for (let r = 0; r < reps; r++) {
        const t = performance.now()
        call()
        times.push(performance.now() - t)
      }
      const ms = times.sort((a, b) => a - b)[Math.floor(times.length / 2)]!
      ce ??= { ms, peak }
      console.log(
        [batch, name, ms.toFixed(ms < 100 ? 1 : 0), (ms / ce.ms).toFixed(2), mib(peak).toFixed(1), `+${mib(peak - ce.peak).toFixed(1)}`]
          .map((s, k) => (k < 2 ? s.padEnd(18) : s.padStart(10)))
          .join(''),
      )
    }
    z.dispose()
    y.dispose()
  }
})
