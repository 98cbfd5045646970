/**
 * Merges `lpl train` results: the methods of each later results.json replace those of the same
 * name in the first (a method rerun on its own after a fix), then prints the table and writes
 * results.json and the two charts to the output folder, as `lpl train --out` does.
 *   pnpm exec tsx --conditions=@logit-perturb/source scripts/merge-results.ts OUT first.json [later.json ...]
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { CLASS_NAMES } from '../packages/cli/src/data/fashionMnist.js'
import { balancedAccuracyChart, perClassChart } from '../packages/cli/src/report/svg.js'
import type { MethodSummary } from '../packages/cli/src/report/summary.js'
import { resultsTable } from '../packages/cli/src/report/table.js'

const [out, first, ...later] = process.argv.slice(2)
if (!out || !first) throw new Error('usage: merge-results.ts OUT first.json [later.json ...]')
const base = JSON.parse(readFileSync(first, 'utf8'))
const replacedBy: Record<string, string> = {}
for (const file of later) {
  const extra = JSON.parse(readFileSync(file, 'utf8'))
  if (JSON.stringify(extra.protocol.counts) !== JSON.stringify(base.protocol.counts)) throw new Error(`${file}: another training subset`)
  for (const summary of extra.summaries as MethodSummary[]) {
    const at = (base.summaries as MethodSummary[]).findIndex((s) => s.method === summary.method)
    if (at < 0) base.summaries.push(summary)
    else base.summaries[at] = summary
    replacedBy[summary.method] = file
  }
}
base.merged = { from: first, replacedBy }
const summaries = base.summaries as MethodSummary[]
console.log(resultsTable(summaries, base.protocol.counts, CLASS_NAMES))
mkdirSync(out, { recursive: true })
writeFileSync(join(out, 'results.json'), `${JSON.stringify(base, null, 2)}\n`)
writeFileSync(join(out, 'per-class-accuracy.svg'), perClassChart(summaries, CLASS_NAMES, base.protocol.counts))
writeFileSync(join(out, 'balanced-accuracy.svg'), balancedAccuracyChart(summaries))
