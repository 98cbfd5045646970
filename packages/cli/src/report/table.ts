import type { MeanStd, MethodSummary } from './summary.js'

const pct = (v: number | null | undefined): string => (v === null || v === undefined ? '–' : (100 * v).toFixed(1))
const pm = (m: MeanStd | undefined): string => (m ? `${pct(m.mean)} ± ${pct(m.std)}` : '–')

function render(rows: string[][]): string {
  const widths = rows[0]!.map((_, j) => Math.max(...rows.map((r) => r[j]!.length)))
  return rows.map((r) => r.map((cell, j) => (j === 0 ? cell.padEnd(widths[j]!) : cell.padStart(widths[j]!))).join('  ')).join('\n')
}

/**
 * The terminal report: balanced accuracy (mean ± std over seeds) with the head/medium/tail thirds,
 * then per-class accuracy, in percent; classes are listed with their training counts.
 */
export function resultsTable(summaries: readonly MethodSummary[], counts: readonly number[], classNames: readonly string[]): string {
  const main = render([
    ['method', 'balanced acc.', 'head', 'medium', 'tail'],
    ...summaries.map((s) => [s.method, pm(s.balancedAccuracy), pm(s.groups.head), pm(s.groups.medium), pm(s.groups.tail)]),
  ])
  const perClass = render([
    ['method', ...counts.map((_, c) => `${c}`)],
    ['(train n)', ...counts.map((n) => `${n}`)],
    ...summaries.map((s) => [s.method, ...s.perClass.map(pct)]),
  ])
  const legend = classNames.map((name, c) => `${c} ${name}`).join(', ')
  return `${main}\n\nper-class accuracy (%), classes: ${legend}\n${perClass}`
}
