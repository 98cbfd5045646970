import type { MethodSummary } from './summary.js'
import { ACCURACY, type Metric } from './table.js'

/** Tableau's ten colours, then three more of its twenty, so that a benchmark of thirteen methods repeats none. */
const PALETTE = [
  '#4e79a7',
  '#f28e2b',
  '#e15759',
  '#76b7b2',
  '#59a14f',
  '#edc948',
  '#b07aa1',
  '#ff9da7',
  '#9c755f',
  '#bab0ac',
  '#79706e',
  '#b6992d',
  '#a0cbe8',
]

const escapeXml = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')

function frame(width: number, height: number, title: string, body: string[]): string {
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="11">`,
    `<rect width="${width}" height="${height}" fill="white"/>`,
    `<text x="${width / 2}" y="18" text-anchor="middle" font-size="13">${escapeXml(title)}</text>`,
    ...body,
    '</svg>',
  ].join('\n')
}

function yAxis(left: number, top: number, plotHeight: number, plotWidth: number): string[] {
  return [0, 0.25, 0.5, 0.75, 1].flatMap((v) => {
    const y = top + plotHeight * (1 - v)
    return [
      `<line x1="${left}" x2="${left + plotWidth}" y1="${y}" y2="${y}" stroke="#ddd"/>`,
      `<text x="${left - 6}" y="${y + 4}" text-anchor="end">${Math.round(100 * v)}%</text>`,
    ]
  })
}

/** Per-class test accuracy, one group of bars per class, one bar per method (mean over seeds). */
export function perClassChart(
  summaries: readonly MethodSummary[],
  classNames: readonly string[],
  counts: readonly number[],
  metric: Metric = ACCURACY,
): string {
  const left = 50,
    top = 40,
    plotHeight = 260,
    group = 14 + 10 * summaries.length
  const plotWidth = group * classNames.length
  const body = yAxis(left, top, plotHeight, plotWidth)
  classNames.forEach((name, c) => {
    const x0 = left + c * group + 7
    summaries.forEach((s, m) => {
      const v = s.perClass[c] ?? 0
      const h = plotHeight * v
      body.push(
        `<rect x="${x0 + 10 * m}" y="${top + plotHeight - h}" width="9" height="${h}" fill="${PALETTE[m % PALETTE.length]}"><title>${escapeXml(`${s.method}, ${name}: ${(100 * v).toFixed(1)}%`)}</title></rect>`,
      )
    })
    body.push(`<text x="${x0 + 5 * summaries.length}" y="${top + plotHeight + 14}" text-anchor="middle">${escapeXml(name)}</text>`)
    body.push(`<text x="${x0 + 5 * summaries.length}" y="${top + plotHeight + 27}" text-anchor="middle" fill="#666">n=${counts[c]}</text>`)
  })
  // The legend wraps to as many rows as the plot's width needs, 110 pixels a method.
  const perRow = Math.max(1, Math.floor(plotWidth / 110))
  summaries.forEach((s, m) => {
    const x = left + (m % perRow) * 110
    const y = top + plotHeight + 40 + 16 * Math.floor(m / perRow)
    body.push(`<rect x="${x}" y="${y}" width="10" height="10" fill="${PALETTE[m % PALETTE.length]}"/>`)
    body.push(`<text x="${x + 14}" y="${y + 9}">${escapeXml(s.method)}</text>`)
  })
  const legendRows = Math.ceil(summaries.length / perRow)
  return frame(
    left + plotWidth + 20,
    top + plotHeight + 54 + 16 * legendRows,
    `Per-class test ${metric.perClass} by method (mean over seeds)`,
    body,
  )
}

/** Balanced test accuracy per method: mean over seeds with ±1 standard deviation bars. */
export function balancedAccuracyChart(summaries: readonly MethodSummary[], metric: Metric = ACCURACY): string {
  const left = 50,
    top = 40,
    plotHeight = 220,
    slot = 90
  const plotWidth = slot * summaries.length
  const body = yAxis(left, top, plotHeight, plotWidth)
  const y = (v: number) => top + plotHeight * (1 - Math.min(1, Math.max(0, v)))
  summaries.forEach((s, m) => {
    const { mean, std } = s.balancedAccuracy
    const cx = left + m * slot + slot / 2
    body.push(
      `<rect x="${cx - 20}" y="${y(mean)}" width="40" height="${top + plotHeight - y(mean)}" fill="${PALETTE[m % PALETTE.length]}"><title>${escapeXml(`${s.method}: ${(100 * mean).toFixed(1)}% ± ${(100 * std).toFixed(1)}`)}</title></rect>`,
    )
    body.push(`<line x1="${cx}" x2="${cx}" y1="${y(mean - std)}" y2="${y(mean + std)}" stroke="black"/>`)
    body.push(`<line x1="${cx - 6}" x2="${cx + 6}" y1="${y(mean + std)}" y2="${y(mean + std)}" stroke="black"/>`)
    body.push(`<line x1="${cx - 6}" x2="${cx + 6}" y1="${y(mean - std)}" y2="${y(mean - std)}" stroke="black"/>`)
    body.push(`<text x="${cx}" y="${top + plotHeight + 14}" text-anchor="middle">${escapeXml(s.method)}</text>`)
    body.push(`<text x="${cx}" y="${y(mean) - 4}" text-anchor="middle">${(100 * mean).toFixed(1)}</text>`)
  })
  return frame(left + plotWidth + 20, top + plotHeight + 30, `Test ${metric.headline} (mean ± std over seeds)`, body)
}
