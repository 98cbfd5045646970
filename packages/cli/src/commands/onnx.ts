import { readFileSync, writeFileSync } from 'node:fs'
import { parseArgs } from 'node:util'
import { LogitPerturbError } from '@logit-perturb/core'
import { appendPostHocAdjustment, exportLossModel } from '@logit-perturb/onnx'
import { CliError } from '../errors.js'
import { MAX_CLASSES, classesOf, readSpecFile } from '../specFile.js'
import { intOption, numberOption } from './options.js'

export const EXPORT_USAGE = `lpl export --spec FILE --out loss.onnx [--classes C] [--opset 17]
  The spec's loss as an ONNX model (opset 17, standard operators): inputs logits float32 [N, C] and
  labels int64 [N] (N dynamic); outputs loss, perturbed_logits [N, C] and, for rules whose
  perturbation is a constant for the gradient, grad_logits [N, C].
  --classes C   the class count, when the spec does not fix it (ce, official-balanced, lpl confidence)
  --state io    LPL's confidence split: carry the running averages as inputs and outputs`

export const ADJUST_USAGE = `lpl adjust --model IN.onnx --spec FILE --out OUT.onnx [--tau T] [--output NAME] [--probabilities]
  Post-hoc logit adjustment of a trained classifier: its logits output becomes logits − τ·log π,
  with π from the spec's class counts (τ from a logit-adjustment spec, else 1).
  --tau T            override τ          --output NAME   the logits output (default: the first)
  --probabilities    also output adjusted_probabilities, the softmax of the adjusted logits`

/** Runs `fn`, turning the library's typed errors into one line that names the file. */
function naming<R>(file: string, fn: () => R): R {
  try {
    return fn()
  } catch (e) {
    if (e instanceof LogitPerturbError) throw new CliError(`${file}: ${e.code}: ${e.message}`)
    throw e
  }
}

/** `lpl export`: see {@link EXPORT_USAGE}. */
export async function exportCommand(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      spec: { type: 'string' },
      out: { type: 'string' },
      classes: { type: 'string' },
      opset: { type: 'string', default: '17' },
      state: { type: 'string', default: 'batch' },
    },
    strict: true,
  })
  if (values.out === undefined) throw new CliError('--out FILE is required', 2)
  if (values.state !== 'batch' && values.state !== 'io') throw new CliError(`--state must be batch or io, got "${values.state}"`, 2)
  const spec = readSpecFile(values.spec)
  const numClasses = classesOf(spec) ?? (values.classes === undefined ? undefined : intOption(values.classes, 'classes', 1, MAX_CLASSES))
  if (numClasses === undefined) throw new CliError(`${values.spec}: the spec does not fix the class count; pass --classes C`, 2)
  const model = naming(values.spec!, () =>
    exportLossModel(spec, { numClasses, opset: intOption(values.opset, 'opset', 17), state: values.state as 'batch' | 'io' }),
  )
  writeFileSync(values.out, model.bytes)
  console.log(`Wrote ${values.out}: ${model.spec.rule}, ${model.numClasses} classes, opset ${model.opset}, ${model.bytes.length} bytes`)
  console.log(`  inputs  ${model.inputs.join(', ')}\n  outputs ${model.outputs.join(', ')}`)
  if (!model.hasClosedFormGradient) {
    console.log(
      '  no grad_logits: this rule differentiates through its perturbation, which has no closed form, and ONNX has no automatic differentiation',
    )
  }
}

/** `lpl adjust`: see {@link ADJUST_USAGE}. */
export async function adjustCommand(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      model: { type: 'string' },
      spec: { type: 'string' },
      out: { type: 'string' },
      tau: { type: 'string' },
      output: { type: 'string' },
      probabilities: { type: 'boolean', default: false },
    },
    strict: true,
  })
  if (values.model === undefined || values.out === undefined) throw new CliError('--model IN.onnx and --out OUT.onnx are required', 2)
  const spec = readSpecFile(values.spec)
  let bytes: Uint8Array
  try {
    bytes = readFileSync(values.model)
  } catch (e) {
    throw new CliError(`cannot read ${values.model}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`)
  }
  const adjusted = naming(values.model, () =>
    appendPostHocAdjustment(bytes, {
      spec,
      ...(values.tau === undefined ? {} : { tau: numberOption(values.tau, 'tau', 0) }),
      ...(values.output === undefined ? {} : { output: values.output }),
      probabilities: values.probabilities,
    }),
  )
  writeFileSync(values.out, adjusted)
  console.log(
    `Wrote ${values.out}: ${values.output ?? 'the first output'} adjusted by −τ·log π${values.probabilities ? ', with adjusted_probabilities' : ''}`,
  )
}
