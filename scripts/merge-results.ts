/**
 * Merges `lpl train` results: the methods of each later results.json replace those of the same
 * name in the first (a method rerun on its own after a fix) or are added (a method run later, on
 * the same protocol), in the order `lpl train` reports them; then prints the table and writes
 * results.json and the two charts to the output folder, as `lpl train --out` does. Each merge is
 * appended to the `merges` record of the result, with the machine and versions of each later run,
 * so a merged file can be merged again.
 *   pnpm exec tsx --conditions=@logit-perturb/source scripts/merge-results.ts OUT first.json [later.json ...]
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { CLASS_NAMES } from '../packages/cli/src/data/fashionMnist.js'
import { balancedAccuracyChart, perClassChart } from '../packages/cli/src/report/svg.js'
import type { MethodSummary } from '../packages/cli/src/report/summary.js'
import { ACCURACY, AVERAGE_PRECISION, resultsTable } from '../packages/cli/src/report/table.js'
import { EXTRA_METHODS, METHODS } from '../packages/cli/src/train/methods.js'
import { MULTILABEL_METHODS } from '../packages/cli/src/train/multilabel.js'

const [out, first, ...later] = process.argv.slice(2)
if (!out || !first) throw new Error('usage: merge-results.ts OUT first.json [later.json ...]')
const base = JSON.parse(readFileSync(first, 'utf8'))
const replacedBy: Record<string, string> = {}
const added: Record<string, string> = {}
const runs: { file: string; machine: unknown; versions: unknown; seconds: unknown }[] = []
for (const file of later) {
  const extra = JSON.parse(readFileSync(file, 'utf8'))
  runs.push({ file, machine: extra.machine, versions: extra.versions, seconds: extra.seconds })
  // Every field of the protocol but its methods must agree; results from before the `task` field are single-label.
  const { methods: _, ...protocol } = { task: 'single', ...extra.protocol }
  for (const [field, value] of Object.entries(protocol)) {
    const baseValue = field === 'task' ? (base.protocol.task ?? 'single') : base.protocol[field]
    if (JSON.stringify(value) !== JSON.stringify(baseValue)) throw new Error(`${file}: another protocol (${field})`)
  }
  // The protocol's list of methods (name, summary, spec) takes the later file's entries too.
  for (const method of extra.protocol.methods as { name: string }[]) {
    const at = (base.protocol.methods as { name: string }[]).findIndex((m) => m.name === method.name)
    if (at < 0) base.protocol.methods.push(method)
    else base.protocol.methods[at] = method
  }
  for (const summary of extra.summaries as MethodSummary[]) {
    const at = (base.summaries as MethodSummary[]).findIndex((s) => s.method === summary.method)
    if (at < 0) {
      base.summaries.push(summary)
      added[summary.method] = file
    } else {
      base.summaries[at] = summary
      replacedBy[summary.method] = file
    }
  }
}
// A file merged before keeps its record: `merged` (one earlier merge) becomes the first of `merges`.
const earlier = base.merges ?? (base.merged ? [base.merged] : [])
base.merged = undefined
base.merges = [...earlier, { from: first, replacedBy, added, runs }]
const multiLabel = base.protocol.task === 'multilabel'
const order = (multiLabel ? MULTILABEL_METHODS : [...METHODS, ...EXTRA_METHODS]).map((m) => m.name)
const rank = (name: string): number => (order.includes(name) ? order.indexOf(name) : order.length)
const summaries = (base.summaries as MethodSummary[]).sort((a, b) => rank(a.method) - rank(b.method))
;(base.protocol.methods as { name: string }[]).sort((a, b) => rank(a.name) - rank(b.name))
const metric = multiLabel ? AVERAGE_PRECISION : ACCURACY
console.log(resultsTable(summaries, base.protocol.counts, CLASS_NAMES, metric))
mkdirSync(out, { recursive: true })
writeFileSync(join(out, 'results.json'), `${JSON.stringify(base, null, 2)}\n`)
writeFileSync(join(out, 'per-class-accuracy.svg'), perClassChart(summaries, CLASS_NAMES, base.protocol.counts, metric))
writeFileSync(join(out, 'balanced-accuracy.svg'), balancedAccuracyChart(summaries, metric))
