/**
 * docs/unified-view.md quotes `lpl explain` on the example specs: this test runs every
 * `pnpm lpl explain …` command of the page (in process, the chart written to a temporary folder),
 * and checks that each chart under docs/unified-view/ is the one the command writes, that no chart
 * there is left over from a command the page no longer gives, and that every number of the page's
 * tables (`Δ_c (equivalent weight)` per class and rule, the batch and training counts, the loss) is
 * the command's output.
 */
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { basename, dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, describe, expect, it, vi } from 'vitest'
import { explainCommand } from '../packages/cli/src/commands/explain.js'

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..')
const pagePath = join(root, 'docs', 'unified-view.md')
const chartDir = join(root, 'docs', 'unified-view')
const page = readFileSync(pagePath, 'utf8')
const tmp = mkdtempSync(join(tmpdir(), 'unified-view-'))

afterAll(() => rmSync(tmp, { recursive: true, force: true }))

interface ClassRow {
  classId: string
  trainN?: string
  batchN: string
  direction: string
  delta: string
  weight: string
}
interface Output {
  rule: string
  loss: string
  ce: string
  rows: ClassRow[]
  chart?: string
  committedChart?: string
}

/** Runs one `lpl explain` command line of the page and parses what it prints. */
async function run(commandLine: string): Promise<Output> {
  const args = commandLine.trim().split(/\s+/)
  const at = args.indexOf('--out')
  const committed = at >= 0 ? args[at + 1]! : undefined
  if (committed !== undefined) args[at + 1] = join(tmp, basename(committed))
  const printed: string[] = []
  const log = vi.spyOn(console, 'log').mockImplementation((...a: unknown[]) => {
    printed.push(a.map(String).join(' '))
  })
  try {
    await explainCommand(args)
  } finally {
    log.mockRestore()
  }
  const lines = printed.join('\n').split('\n')
  const head = /^(\S+) on .*; loss ([\d.]+) \(CE ([\d.]+)\)$/.exec(lines[0]!)
  expect(head, lines[0]).not.toBeNull()
  const withCounts = lines[1]!.includes('train n')
  const rows = lines
    .slice(2)
    .filter((l) => /^\s*\d+\s/.test(l))
    .map((l): ClassRow => {
      const cells = l.trim().split(/\s+/)
      const [classId, ...rest] = cells
      const trainN = withCounts ? rest.shift() : undefined
      const [batchN, direction, delta, weight] = rest as [string, string, string, string]
      return { classId: classId!, trainN, batchN, direction, delta, weight }
    })
  return {
    rule: head![1]!,
    loss: head![2]!,
    ce: head![3]!,
    rows,
    chart: committed === undefined ? undefined : readFileSync(args[at + 1]!, 'utf8'),
    committedChart: committed,
  }
}

/** The Markdown tables of the page: a header row and body rows, cells trimmed. */
function tables(markdown: string): string[][][] {
  const found: string[][][] = []
  let current: string[][] | undefined
  for (const line of markdown.split('\n')) {
    if (line.startsWith('|')) {
      const cells = line
        .slice(1, line.endsWith('|') ? -1 : undefined)
        .split('|')
        .map((c) => c.trim())
      if (cells.every((c) => /^:?-+:?$/.test(c))) continue
      current ??= []
      current.push(cells)
    } else if (current !== undefined) {
      found.push(current)
      current = undefined
    }
  }
  if (current !== undefined) found.push(current)
  return found
}

const commands = [...page.matchAll(/^pnpm lpl explain (.+)$/gm)].map((m) => m[1]!)
const specOf = (commandLine: string) => /--spec packages\/cli\/specs\/([\w-]+)\.json/.exec(commandLine)?.[1]

describe('docs/unified-view.md', () => {
  it('gives the lpl explain commands, each on an example spec', () => {
    expect(commands.length).toBeGreaterThan(0)
    expect(commands.map(specOf).filter((s) => s === undefined)).toEqual([])
  })

  it("quotes the commands' output and commits the charts they write", async () => {
    const outputs = new Map<string, Output>()
    for (const command of commands) outputs.set(specOf(command)!, await run(command))

    // Every chart is the command's, and every chart in the folder comes from a command.
    const written = [...outputs.values()].filter((o) => o.committedChart !== undefined)
    for (const o of written) expect(o.chart, o.committedChart).toBe(readFileSync(join(root, o.committedChart!), 'utf8'))
    const committedCharts = readdirSync(chartDir)
      .filter((f) => f.endsWith('.svg'))
      .sort()
    expect(committedCharts).toEqual(written.map((o) => basename(o.committedChart!)).sort())
    for (const file of committedCharts) expect(page).toContain(`](unified-view/${file})`)

    // The tables: a column per spec, a row per class; each cell `Δ_c (equivalent weight)`.
    const quoted = new Set<string>()
    for (const table of tables(page)) {
      const header = table[0]!
      const specColumns = header.flatMap((cell, j) => {
        const name = /^`([\w-]+)`$/.exec(cell)?.[1]
        return name !== undefined && outputs.has(name) ? [{ j, name }] : []
      })
      if (specColumns.length === 0) continue
      const column = (title: string) => header.indexOf(title)
      for (const row of table.slice(1)) {
        if (row[0] === 'loss') {
          for (const { j, name } of specColumns) expect(row[j], `loss of ${name}`).toBe(outputs.get(name)!.loss)
          continue
        }
        for (const { j, name } of specColumns) {
          const out = outputs.get(name)!.rows.find((r) => r.classId === row[0])
          expect(out, `${name}, class ${row[0]}`).toBeDefined()
          expect(row[j], `${name}, class ${row[0]}`).toBe(`${out!.delta} (${out!.weight})`)
          if (column('batch n') >= 0) expect(row[column('batch n')], `batch n, class ${row[0]}`).toBe(out!.batchN)
          if (column('train n') >= 0) expect(row[column('train n')], `train n, class ${row[0]}`).toBe(out!.trainN)
          quoted.add(name)
        }
      }
      // The cross-entropy every loss is compared with is named in the text.
      for (const { name } of specColumns) expect(page).toContain(outputs.get(name)!.ce)
    }
    expect(quoted.size).toBeGreaterThan(0)

    // "balanced-softmax.json prints exactly the numbers of logit-adjustment.json".
    const numbers = (o: Output) => ({ loss: o.loss, ce: o.ce, rows: o.rows })
    expect(numbers(outputs.get('balanced-softmax')!)).toEqual(numbers(outputs.get('logit-adjustment')!))
  })
})
