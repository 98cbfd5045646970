import type { MeanStd, MethodSummary } from './summary.js'

const pct = (v: number | null | undefined): string => (v === null || v === undefined ? '–' : (100 * v).toFixed(1))
const pm = (m: MeanStd | undefined): string => (m ? `${pct(m.mean)} ± ${pct(m.std)}` : '–')

function render(rows: string[][]): string {
  const widths = rows[0]!.map((_, j) => Math.max(...rows.map((r) => r[j]!.length)))
  return rows.map((r) => r.map((cell, j) => (j === 0 ? cell.padEnd(widths[j]!) : cell.padStart(widths[j]!))).join('  ')).join('\n')
}

/** What a report's numbers are: the headline metric and the per-class one. */
export interface Metric {
  /** Column title of the headline metric, e.g. `balanced acc.` or `mAP`. */
  headline: string
  /** Name of the per-class metric, e.g. `accuracy` or `average precision`. */
  perClass: string
}

/** Single-label runs: balanced accuracy and per-class accuracy. */
export const ACCURACY: Metric = { headline: 'balanced acc.', perClass: 'accuracy' }

/** Multi-label runs: mean average precision and per-label average precision. */
export const AVERAGE_PRECISION: Metric = { headline: 'mAP', perClass: 'average precision' }

/** Segmentation runs: mean intersection over union and per-class IoU. */
export const IOU: Metric = { headline: 'mIoU', perClass: 'IoU' }

/**
 * The terminal report: balanced accuracy (mean ± std over seeds) with the head/medium/tail thirds
 * (and pixel accuracy, for segmentation runs), then per-class accuracy, in percent; classes are
 * listed with their training counts.
 */
export function resultsTable(
  summaries: readonly MethodSummary[],
  counts: readonly number[],
  classNames: readonly string[],
  metric: Metric = ACCURACY,
): string {
  const pixels = summaries.some((s) => s.pixelAccuracy !== undefined)
  const main = render([
    ['method', metric.headline, 'head', 'medium', 'tail', ...(pixels ? ['pixel acc.'] : [])],
    ...summaries.map((s) => [
      s.method,
      pm(s.balancedAccuracy),
      pm(s.groups.head),
      pm(s.groups.medium),
      pm(s.groups.tail),
      ...(pixels ? [pm(s.pixelAccuracy)] : []),
    ]),
  ])
  const perClass = render([
    ['method', ...counts.map((_, c) => `${c}`)],
    ['(train n)', ...counts.map((n) => `${n}`)],
    ...summaries.map((s) => [s.method, ...s.perClass.map(pct)]),
  ])
  const legend = classNames.map((name, c) => `${c} ${name}`).join(', ')
  return `${main}\n\nper-class ${metric.perClass} (%), classes: ${legend}\n${perClass}`
}
