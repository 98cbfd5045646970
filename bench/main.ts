/**
 * `pnpm bench`: the loss-plus-gradient cost of each rule on every backend and shape, and the
 * training overhead of LPL on the `lpl train` network. Prints tables and writes
 * `bench/results.json` (with the machine). A script, never a test: timings are noisy, so what it
 * reports are ratios measured in one run.
 *   --quick            a shorter time budget per cell and one timed epoch
 *   --backends LIST    of reference, tfjs-cpu, tfjs-wasm, onnx-wasm (default), and pytorch
 *   --shapes LIST      only these N×C shapes of each backend's, e.g. 512x1000,256x8142
 *   --no-training      skip the training overhead
 *   --out FILE         default bench/results.json; the entries of backends not run this time are kept
 *   --rows LIST        only these rows (the baselines ce and torch-ce always run)
 * The pytorch backend (bench/pytorch.ts, bench/torch_bench.py; it needs python3 with torch) also takes
 *   --torch-cap S      a first call longer than S seconds (default 20) is measured once, and one
 *                      running for 6 × S stopped (a lower bound); in quick runs S/10 and S
 *   --torch-memory-cap GIB  a call whose peak resident memory rises more than GIB (default 6) is stopped
 *   --torch-exact-memory    fix glibc's mmap threshold at 64 KiB, so that the memory figures count the
 *                      tensors alive and not the freed blocks the heap keeps (every large block is then
 *                      mapped on its own: times are far slower, read only the memory)
 * The tfjs rows of `lpl` also give the median time of its host search alone (`search`, ms).
 */
import { execFileSync } from 'node:child_process'
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { cpus, totalmem, type as osType, release } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import * as tf from '@tensorflow/tfjs-core'
import type { RuleInput } from '@logit-perturb/core'
import { type Measurement, SHAPES, measureLosses } from './loss.js'
import { TORCH_SHAPES, type TorchMeasurement, type TorchRunInfo, measureTorch } from './pytorch.js'
import { measureEpochs } from './training.js'

tf.env().set('PROD', true)
const { values } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    backends: { type: 'string', default: 'reference,tfjs-cpu,tfjs-wasm,onnx-wasm' },
    shapes: { type: 'string' },
    'no-training': { type: 'boolean', default: false },
    out: { type: 'string', default: join(import.meta.dirname, 'results.json') },
    rows: { type: 'string' },
    'torch-cap': { type: 'string', default: '20' },
    'torch-memory-cap': { type: 'string', default: '6' },
    'torch-exact-memory': { type: 'boolean', default: false },
  },
})
const backends = values.backends.split(',')
const known = ['reference', 'tfjs-cpu', 'tfjs-wasm', 'onnx-wasm', 'pytorch']
if (backends.some((b) => !known.includes(b)))
  throw new Error(`--backends: unknown ${backends.filter((b) => !known.includes(b))}; known: ${known}`)
const selected = values.shapes?.split(',').map((s) => s.split(/[x×]/).map(Number) as [number, number])
const shapesOf = (all: [number, number][]) =>
  all.filter(([n, c]) => selected === undefined || selected.some(([m, d]) => m === n && d === c))
if (selected !== undefined) {
  const offered = [...SHAPES, ...TORCH_SHAPES]
  const unknown = selected.filter(([n, c]) => !offered.some(([m, d]) => m === n && d === c))
  if (unknown.length > 0)
    throw new Error(`--shapes: no backend has ${unknown.map((s) => s.join('x'))}; shapes: ${offered.map((s) => s.join('x'))}`)
}
// The commit measured, and whether the packages had changes not committed yet.
const git = (...args: string[]) => {
  try {
    return execFileSync('git', args, { cwd: join(import.meta.dirname, '..'), encoding: 'utf8' }).trim()
  } catch {
    return undefined
  }
}
const source = { commit: git('rev-parse', '--short', 'HEAD'), packagesChanged: (git('status', '--porcelain', 'packages') ?? '') !== '' }
const machine = {
  os: `${osType()} ${release()}`,
  cpus: cpus().length,
  cpuModel: cpus()[0]?.model,
  memoryGiB: Math.round(totalmem() / 2 ** 30),
  node: process.version,
}
console.log(
  `machine: ${machine.cpuModel}, ${machine.cpus} cores, ${machine.memoryGiB} GiB, Node ${machine.node}; commit ${source.commit}${source.packagesChanged ? ' with uncommitted changes in packages/' : ''}`,
)

const formatBytes = (b: number) => (b >= 2 ** 20 ? `${(b / 2 ** 20).toFixed(1)} MiB` : `${(b / 2 ** 10).toFixed(1)} KiB`)
// Times are of the default options; `checks off` is the same call with `checks: 'shapes'`.
const header = ['backend', 'N × C', 'rule', 'median ms', '× ce', 'checks off', 'checks +%', 'memory', 'search', 'reps']
const line = (cells: string[]) =>
  cells.map((s, k) => (k < 3 ? s.padEnd([11, 10, 18][k]!) : s.padStart([10, 7, 11, 10, 22, 6, 5][k - 3]!))).join(' ')
if (backends.some((b) => b !== 'pytorch')) console.log(line(header))
const losses: (Measurement | TorchMeasurement)[] = await measureLosses({
  budgetMs: values.quick ? 300 : 1500,
  backends,
  shapes: shapesOf(SHAPES),
  ...(values.rows === undefined ? {} : { rows: values.rows.split(',') }),
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

let pytorch: TorchRunInfo | undefined
if (backends.includes('pytorch')) {
  // Forward plus backward on float32 logits, in one Python process; "× ce" is over torch's own
  // F.cross_entropy on the same logits and labels, timed alternately with the row; memory is the
  // peak resident memory of a call above that before it ("+ce memory": minus F.cross_entropy's).
  const torchHeader = ['backend', 'N × C', 'rule', 'median ms', '× ce', 'checks off', 'batch', 'memory', '+ce memory', 'reps', 'notes']
  const torchLine = (cells: string[]) =>
    cells.map((s, k) => (k < 3 ? s.padEnd([11, 10, 18][k]!) : k === 10 ? s : s.padStart([10, 9, 11, 12, 11, 11, 5][k - 3]!))).join(' ')
  console.log(`\n${torchLine(torchHeader)}`)
  const run = await measureTorch({
    quick: values.quick,
    shapes: shapesOf(TORCH_SHAPES),
    ...(values.rows === undefined ? {} : { rows: values.rows.split(',') }),
    capSeconds: Number(values['torch-cap']),
    memoryCapBytes: Number(values['torch-memory-cap']) * 2 ** 30,
    exactMemory: values['torch-exact-memory'],
    onCell: (m) => {
      const notes = [
        m.skipped === undefined ? '' : `skipped: ${m.skipped}`,
        m.error === undefined ? '' : `error: ${m.error}`,
        m.stoppedAfterMs === undefined ? '' : `stopped at ${(m.stoppedAfterMs / 1000).toFixed(0)} s (${m.stoppedBy} cap): lower bounds`,
        m.once ? 'measured once' : '',
        m.ratioToBce === undefined ? '' : `× bce ${m.ratioToBce.toFixed(2)}`,
      ].filter((x) => x !== '')
      const signed = (b: number) => `${b < 0 ? '-' : '+'}${formatBytes(Math.abs(b))}`
      console.log(
        torchLine([
          m.backend,
          `${m.n} × ${m.c}`,
          m.rule,
          m.medianMs !== undefined ? m.medianMs.toFixed(2) : m.stoppedAfterMs !== undefined ? `>${m.stoppedAfterMs.toFixed(0)}` : '',
          m.ratioToCe !== undefined ? m.ratioToCe.toFixed(2) : m.ratioToCeAtLeast !== undefined ? `>${m.ratioToCeAtLeast.toFixed(0)}` : '',
          m.checksOffMs === undefined ? '' : m.checksOffMs.toFixed(2),
          m.batch,
          m.memoryBytes === undefined ? '' : `${m.stoppedAfterMs === undefined ? '' : '>'}${formatBytes(m.memoryBytes)}`,
          m.memoryAboveCeBytes === undefined ? '' : signed(m.memoryAboveCeBytes),
          String(m.repetitions),
          notes.join('; '),
        ]),
      )
    },
  })
  losses.push(...run.cells)
  pytorch = run.info
  console.log(
    `pytorch: torch ${pytorch.torch}, ${pytorch.threads} thread(s), Python ${pytorch.python}, ` +
      `${pytorch.mmapThreshold ? 'glibc mmap threshold fixed at 64 KiB (exact memory, slow times)' : 'glibc malloc as it is'}; ` +
      pytorch.checks
        .map((k) => `authors-balanced = official-balanced on ${k.n} × ${k.c} ${k.batch} (float64): relative ${k.relative.toExponential(1)}`)
        .join('; '),
  )
  for (const k of pytorch.float32)
    console.log(
      `pytorch: float32 losses of authors-balanced and official-balanced on ${k.n} × ${k.c} ${k.batch}: relative difference ${k.relative.toExponential(1)}`,
    )
}

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
// The entries of the backends (and the training) not run this time are kept from the file, and
// `kept` says which run measured them: its date and machine.
const date = new Date().toISOString()
type Kept = { date: string; machine: typeof machine; source?: typeof source; backends: string[]; training: boolean }
type Results = {
  machine: typeof machine
  date: string
  source?: typeof source
  losses: { backend: string }[]
  training: unknown[]
  pytorch?: unknown
  kept?: Kept[]
}
const previous: Results | undefined = existsSync(values.out) ? (JSON.parse(readFileSync(values.out, 'utf8')) as Results) : undefined
const keptLosses = previous?.losses.filter((m) => !backends.includes(m.backend)) ?? []
const keptTraining = values['no-training'] && previous !== undefined ? previous.training : []
const kept: Kept[] = []
if (previous !== undefined) {
  const runOf = (has: (k: Kept) => boolean): Omit<Kept, 'backends' | 'training'> =>
    previous.kept?.find(has) ?? { date: previous.date, machine: previous.machine, ...(previous.source ? { source: previous.source } : {}) }
  const group = (run: Omit<Kept, 'backends' | 'training'>) => {
    const found = kept.find((x) => x.date === run.date)
    if (found !== undefined) return found
    const k: Kept = { ...run, backends: [], training: false }
    kept.push(k)
    return k
  }
  for (const backend of new Set(keptLosses.map((m) => m.backend))) group(runOf((k) => k.backends.includes(backend))).backends.push(backend)
  if (keptTraining.length > 0) group(runOf((k) => k.training)).training = true
}
const results = {
  machine,
  date,
  source,
  losses: [...keptLosses, ...losses],
  training: values['no-training'] ? keptTraining : training,
  ...(pytorch !== undefined
    ? { pytorch }
    : previous?.pytorch !== undefined && !backends.includes('pytorch')
      ? { pytorch: previous.pytorch }
      : {}),
  ...(kept.length > 0 ? { kept } : {}),
}
writeFileSync(values.out, `${JSON.stringify(results, null, 2)}\n`)
console.log(`\nwrote ${values.out}`)
