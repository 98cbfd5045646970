import { writeFileSync } from 'node:fs'
import { parseArgs } from 'node:util'
import { createLoss, describeClasses, referenceOps, type ClassReport } from '@logit-perturb/core'
import { CliError } from '../errors.js'
import { randomBatch } from '../randomBatch.js'
import { MAX_CLI_CLASSES, classesOf, readJsonFile, readSpecFile, requireSingleLabel } from '../specFile.js'
import { intOption } from './options.js'

export const EXPLAIN_USAGE = `lpl explain --spec FILE [--logits FILE --labels FILE] [--out chart.svg]
  Per class: the direction of the rule's perturbation (positive augmentation raises the class's
  loss, negative lowers it), the loss variation Δ_c and the equivalent weight, on the given batch
  (logits: JSON [N][C]; labels: JSON [N]) or on a seeded random batch.
  --batch N     size of the random batch (default 512)     --seed S   its seed (default 0)
  --classes C   classes of the random batch when the spec does not fix them (default 10)
  --out FILE    write an SVG chart of Δ_c per class`

function readMatrix(path: string): number[][] {
  const value = readJsonFile(path)
  if (!Array.isArray(value) || !value.every((r) => Array.isArray(r) && r.every((v) => typeof v === 'number'))) {
    throw new CliError(`${path}: logits must be a JSON array of rows of numbers, [N][C]`)
  }
  const c = (value[0] as number[] | undefined)?.length ?? 0
  if (value.length === 0 || c === 0 || !value.every((r) => (r as number[]).length === c)) {
    throw new CliError(`${path}: logits must be a non-empty [N][C] array with rows of equal length`)
  }
  return value as number[][]
}

function readVector(path: string): number[] {
  const value = readJsonFile(path)
  if (!Array.isArray(value) || !value.every((v) => typeof v === 'number'))
    throw new CliError(`${path}: labels must be a JSON array of class ids, [N]`)
  return value
}

/** `lpl explain`: see {@link EXPLAIN_USAGE}. */
export async function explainCommand(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      spec: { type: 'string' },
      logits: { type: 'string' },
      labels: { type: 'string' },
      out: { type: 'string' },
      batch: { type: 'string', default: '512' },
      seed: { type: 'string', default: '0' },
      classes: { type: 'string', default: '10' },
    },
    strict: true,
  })
  const spec = readSpecFile(values.spec)
  requireSingleLabel(spec, values.spec, 'explain')
  if ((values.logits === undefined) !== (values.labels === undefined)) throw new CliError('--logits and --labels go together', 2)
  const counts = 'classCounts' in spec ? spec.classCounts : undefined
  const c = classesOf(spec) ?? intOption(values.classes, 'classes', 1, MAX_CLI_CLASSES)
  const batch =
    values.logits !== undefined
      ? { logits: readMatrix(values.logits), labels: readVector(values.labels!) }
      : randomBatch(intOption(values.batch, 'batch', 1), c, intOption(values.seed, 'seed', 0), 1, counts)
  const logits = referenceOps.constant(batch.logits.flat(), [batch.logits.length, batch.logits[0]!.length])
  const labels = referenceOps.constant(batch.labels, [batch.labels.length], 'int32')
  const loss = createLoss(referenceOps, spec)
  const ce = createLoss(referenceOps, { rule: 'ce' })(logits, labels).data[0]!
  const e = loss.explain(logits, labels)
  const report = describeClasses(
    {
      classCounts: e.classCounts.data,
      lossVariation: e.lossVariation.data,
      equivalentWeight: e.equivalentWeight.data,
      targetWeight: e.targetWeight.data,
    },
    1e-9,
  )
  console.log(
    `${spec.rule} on ${values.logits ? values.logits : `a random batch (seed ${values.seed})`}: ` +
      `${batch.labels.length} samples, ${logits.shape[1]} classes; loss ${loss(logits, labels).data[0]!.toFixed(4)} (CE ${ce.toFixed(4)})`,
  )
  console.log(explainTable(report, counts))
  if (values.out !== undefined) {
    writeFileSync(values.out, variationChart(report, ruleLabel(spec)))
    console.log(`Wrote ${values.out}.`)
  }
}

/** The per-class table: direction, Δ_c, equivalent weight and target-component weight. */
export function explainTable(report: readonly ClassReport[], counts?: readonly number[]): string {
  const rows = [
    ['class', ...(counts ? ['train n'] : []), 'batch n', 'direction', 'Δ_c', 'equiv. weight', 'target weight'],
    ...report.map((r) => [
      `${r.classId}`,
      ...(counts ? [`${counts[r.classId]}`] : []),
      `${r.count}`,
      r.direction,
      r.count ? r.lossVariation.toFixed(4) : '–',
      r.count ? r.equivalentWeight.toFixed(3) : '–',
      r.count ? r.targetWeight.toFixed(3) : '–',
    ]),
  ]
  const widths = rows[0]!.map((_, j) => Math.max(...rows.map((row) => row[j]!.length)))
  return rows.map((row) => row.map((cell, j) => cell.padStart(widths[j]!)).join('  ')).join('\n')
}

/** The rule of a spec as the chart names it: `lpl, prior split, on logit-adjustment`. */
export function ruleLabel(spec: { rule: string; split?: unknown; base?: { rule: string } }): string {
  return [spec.rule, typeof spec.split === 'string' ? `${spec.split} split` : undefined, spec.base ? `on ${spec.base.rule}` : undefined]
    .filter((part) => part !== undefined)
    .join(', ')
}

/**
 * An SVG bar chart of the loss variation per class: up (red) for positive, down (blue) for negative;
 * `rule` names the rule in the title.
 */
export function variationChart(report: readonly ClassReport[], rule: string): string {
  const width = Math.max(60 + 36 * report.length, 480),
    height = 276,
    mid = 146
  const top = Math.max(1e-9, ...report.map((r) => Math.abs(r.lossVariation)))
  const bars = report.map((r, k) => {
    const h = (100 * Math.abs(r.lossVariation)) / top
    const y = r.lossVariation >= 0 ? mid - h : mid
    const colour = r.direction === 'positive' ? '#e15759' : r.direction === 'negative' ? '#4e79a7' : '#bbb'
    return (
      `<rect x="${50 + 36 * k}" y="${y}" width="26" height="${h}" fill="${colour}"><title>class ${r.classId}: Δ = ${r.lossVariation.toFixed(4)} (${r.direction})</title></rect>` +
      `<text x="${63 + 36 * k}" y="${height - 12}" text-anchor="middle">${r.classId}</text>`
    )
  })
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif" font-size="11">`,
    `<rect width="${width}" height="${height}" fill="white"/>`,
    `<text x="${width / 2}" y="16" text-anchor="middle" font-size="13">Loss variation Δ_c: ${rule}</text>`,
    `<text x="${width / 2}" y="31" text-anchor="middle">red: positive augmentation (loss raised), blue: negative (loss lowered)</text>`,
    `<line x1="40" x2="${width - 10}" y1="${mid}" y2="${mid}" stroke="#333"/>`,
    `<text x="36" y="${mid - 96}" text-anchor="end">${top.toFixed(3)}</text>`,
    `<text x="36" y="${mid + 104}" text-anchor="end">${(-top).toFixed(3)}</text>`,
    ...bars,
    '</svg>',
  ].join('\n')
}
