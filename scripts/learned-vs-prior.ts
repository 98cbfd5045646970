/**
 * The learned bounds of an `lpl train --methods lpl-learned` run next to the `prior` split's
 * choices for the same counts: per class, the mean learned θ over seeds (sign: direction, size:
 * bound) and the prior split's direction and bound (ε = 0.3, Δε = 1.2).
 *   pnpm exec tsx --conditions=@logit-perturb/source scripts/learned-vs-prior.ts runs/ratio-100-learned/results.json
 */
import { readFileSync } from 'node:fs'
import { priorSplitBounds } from '@logit-perturb/core'
import { CLASS_NAMES } from '../packages/cli/src/data/fashionMnist.js'

const file = process.argv[2]
if (!file) throw new Error('usage: learned-vs-prior.ts results.json')
const results = JSON.parse(readFileSync(file, 'utf8'))
const counts: number[] = results.protocol.counts
const summary = results.summaries.find((s: { method: string }) => s.method === 'lpl-learned')
if (!summary) throw new Error(`${file}: no lpl-learned run`)
const thetas: number[][] = summary.runs.map((r: { theta: number[] }) => r.theta)
const prior = priorSplitBounds(counts, 0.3, 1.2)
const fmt = (v: number) => (v >= 0 ? '+' : '') + v.toFixed(2)
console.log('| class | train n | learned θ (mean over seeds) | per seed | prior split direction | prior split bound |')
console.log('|---|---|---|---|---|---|')
counts.forEach((n, c) => {
  const values = thetas.map((t) => t[c]!)
  const mean = values.reduce((a, b) => a + b, 0) / values.length
  console.log(
    `| ${CLASS_NAMES[c]} | ${n} | ${fmt(mean)} (${mean > 0 ? 'P' : mean < 0 ? 'N' : '–'}) | ${values.map(fmt).join(' ')} | ${prior.directions[c]! > 0 ? 'P' : 'N'} | ${prior.bounds[c]!.toFixed(2)} |`,
  )
})
