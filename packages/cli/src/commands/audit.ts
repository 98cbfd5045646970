import { parseArgs } from 'node:util'
import type { RuleSpec } from '@logit-perturb/core'
import { type AuditReport, audit } from '../audit/audit.js'
import { type JsForm, jsImplementation } from '../audit/javascript.js'
import { pythonImplementation } from '../audit/python.js'
import type { Implementation } from '../audit/types.js'
import { CliError } from '../errors.js'
import { MAX_CLI_CLASSES, classesOf, readSpecFile } from '../specFile.js'
import { intOption } from './options.js'

export const AUDIT_USAGE = `lpl audit --spec FILE (--python FILE.py:CLASS | --js FILE.mjs:EXPORT [--inputs tensors|arrays]) [--json]
  Checks an implementation of a loss against a spec: the same loss and the same gradient w.r.t.
  the logits on every audit batch (extreme logits, absent classes, one-sample classes, long-tailed
  mixes, the spec's epochs), within the tolerances of its precision (docs/audit.md). When they
  differ, names the fault where a detector fits: a constant factor (sum against mean), a parameter
  that explains it (the value that matches), a sign flipped, values not finite, a gradient cut.
  --python FILE.py:CLASS  a torch.nn.Module, CLASS() with no arguments, forward(logits, labels)
                          returning the batch's loss; run in float64 where it allows it
  --js FILE.mjs:EXPORT    a JavaScript function (logits, labels, ctx) returning the loss
  --inputs tensors|arrays the --js function's form: tfjs tensors (default; float32, tf.grad) or
                          plain arrays (float64; a number, or { loss, gradient })
  --classes C             classes when the spec does not fix them (default 6)
  --seed S                the audit batches' seed (default 0)
  --json                  one JSON object: verdict, largest errors and their batches, findings
  Exit status: 0 equivalent, 1 differs, 2 bad input (a file that does not load, a class that does
  not construct, a spec that does not parse).`

/** `lpl audit`: see {@link AUDIT_USAGE}. */
export async function auditCommand(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      spec: { type: 'string' },
      python: { type: 'string' },
      js: { type: 'string' },
      inputs: { type: 'string', default: 'tensors' },
      classes: { type: 'string', default: '6' },
      seed: { type: 'string', default: '0' },
      json: { type: 'boolean', default: false },
    },
    strict: true,
  })
  let spec: RuleSpec
  try {
    spec = readSpecFile(values.spec)
  } catch (e) {
    throw e instanceof CliError ? new CliError(e.message, 2) : e
  }
  if ((values.python === undefined) === (values.js === undefined))
    throw new CliError('give one of --python FILE.py:CLASS and --js FILE.mjs:EXPORT', 2)
  if (values.inputs !== 'tensors' && values.inputs !== 'arrays')
    throw new CliError(`--inputs is tensors or arrays, got "${values.inputs}"`, 2)
  const classes = classesOf(spec) ?? intOption(values.classes, 'classes', 1, MAX_CLI_CLASSES)
  const implementation: Implementation =
    values.python !== undefined ? pythonImplementation(values.python) : jsImplementation(values.js!, values.inputs as JsForm)
  const report = await audit(spec, classes, implementation, intOption(values.seed, 'seed', 0))
  console.log(values.json ? JSON.stringify(jsonReport(report)) : textReport(report))
  if (report.verdict === 'differs') process.exitCode = 1
}

/** The `--json` object: the report without the per-batch table's tolerances spelled twice. */
function jsonReport(report: AuditReport) {
  return {
    verdict: report.verdict,
    rule: report.rule,
    implementation: report.implementation,
    dtype: report.dtype,
    classes: report.classes,
    largestLossError: report.largestLossError,
    largestGradientError: report.largestGradientError,
    findings: report.findings,
    batches: report.comparisons.map((c) => ({
      batch: c.batch,
      lossError: finite(c.lossError),
      gradientError: finite(c.gradientError),
      tolerance: c.lossTolerance,
      ...(c.failed === undefined ? {} : { failed: c.failed }),
    })),
  }
}

/** JSON has no infinity: an error that is not finite is written as the string "Infinity". */
function finite(x: number): number | string {
  return Number.isFinite(x) ? x : String(x)
}

function textReport(report: AuditReport): string {
  const lines = [
    `${report.implementation} against ${report.rule} (${report.classes} classes, computed in ${report.dtype}): ${report.verdict}`,
    `largest loss error ${report.largestLossError.value.toExponential(2)} (batch "${report.largestLossError.batch}"), largest gradient error ${report.largestGradientError.value.toExponential(2)} (batch "${report.largestGradientError.batch}")`,
    ...report.findings.map((f) => `${f.severity === 'fault' ? 'fault' : 'note'}: ${f.message}`),
  ]
  return lines.join('\n')
}
