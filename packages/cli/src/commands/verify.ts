import { parseArgs } from 'node:util'
import type { AnyBackend } from '@logit-perturb/core/verify'
import { checkConformance, checkEquivalences, referenceBackend } from '@logit-perturb/core/verify'
import { onnxWasmBackend } from '@logit-perturb/onnx'
import { tfjsBackend } from '@logit-perturb/tfjs'
import { BACKENDS } from '../backend.js'
import { randomBatch } from '../randomBatch.js'
import { MAX_CLI_CLASSES, classesOf, readSpecFile, requireSingleLabel } from '../specFile.js'
import { intOption } from './options.js'

export const VERIFY_USAGE = `lpl verify --spec FILE [--batches N] [--seed S] [--classes C]
  The spec's loss on every backend (tfjs-cpu, tfjs-wasm, onnx-wasm) against the float64 reference on
  seeded random batches (logit magnitudes 1, 10 and 100): loss, perturbed logits and gradient;
  then the equivalences of the method that apply to the rule (the loss is CE of the perturbed logits,
  τ = 0 is CE, …). Prints the largest difference of each and exits 1 on any disagreement beyond
  tolerance.
  --batches N   random batches (default 3)   --seed S  first seed (default 0)
  --classes C   classes when the spec does not fix them (default 10)`

/** Every backend `verify` compares with the reference: the tfjs backends of Node, and ONNX. */
export function verifyBackends(): AnyBackend[] {
  return [...BACKENDS.map((name) => tfjsBackend(name)), onnxWasmBackend()]
}

interface Row {
  where: string
  what: string
  error: number
  tolerance: number
  note?: string
}

/** `lpl verify`: see {@link VERIFY_USAGE}. */
export async function verifyCommand(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      spec: { type: 'string' },
      batches: { type: 'string', default: '3' },
      seed: { type: 'string', default: '0' },
      classes: { type: 'string', default: '10' },
    },
    strict: true,
  })
  const spec = readSpecFile(values.spec)
  requireSingleLabel(spec, values.spec, 'verify')
  const c = classesOf(spec) ?? intOption(values.classes, 'classes', 1, MAX_CLI_CLASSES)
  const seed = intOption(values.seed, 'seed', 0)
  const counts = 'classCounts' in spec ? spec.classCounts : undefined
  const batches = Array.from({ length: intOption(values.batches, 'batches', 1) }, (_, k) =>
    randomBatch(64, c, seed + k, [1, 10, 100][k % 3]!, counts),
  )
  const rows = new Map<string, Row>()
  const record = (row: Row) => {
    const key = `${row.where}|${row.what}`
    const seen = rows.get(key)
    if (!seen || row.error > seen.error) rows.set(key, row)
  }
  for (const backend of verifyBackends()) {
    for (const [k, b] of batches.entries()) {
      for (const check of await checkConformance(backend, { name: `batch ${k}`, spec, ...b })) {
        record({
          where: backend.name,
          what: check.what,
          error: check.error,
          tolerance: check.tolerance,
          ...(check.skipped ? { note: check.skipped } : {}),
        })
      }
    }
  }
  for (const b of batches) {
    for (const p of await checkEquivalences(referenceBackend, spec, b))
      record({ where: 'reference', what: p.property, error: p.error, tolerance: p.tolerance })
  }
  const all = [...rows.values()]
  const failed = all.filter((r) => !r.note && !(r.error <= r.tolerance))
  const table = [
    ['where', 'check', 'largest error', 'tolerance', ''],
    ...all.map((r) => [
      r.where,
      r.what,
      r.error.toExponential(2),
      r.tolerance.toExponential(0),
      r.note ? 'skipped' : r.error <= r.tolerance ? 'ok' : 'FAIL',
    ]),
  ]
  const widths = table[0]!.map((_, j) => Math.max(...table.map((row) => row[j]!.length)))
  console.log(`${spec.rule}: ${batches.length} random batches of 64 samples, ${c} classes`)
  console.log(table.map((row) => row.map((cell, j) => (j < 2 ? cell.padEnd(widths[j]!) : cell.padStart(widths[j]!))).join('  ')).join('\n'))
  for (const r of all.filter((row) => row.note)) console.log(`skipped ${r.where} ${r.what}: ${r.note}`)
  console.log(failed.length ? `${failed.length} check(s) FAILED` : `all ${all.length - all.filter((r) => r.note).length} checks passed`)
  if (failed.length) process.exitCode = 1
}
