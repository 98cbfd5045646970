import { readFileSync, writeFileSync } from 'node:fs'
import { parseArgs } from 'node:util'
import { LogitPerturbError } from '@logit-perturb/core'
import { appendPostHocAdjustment } from '@logit-perturb/onnx'
import { CliError } from '../errors.js'
import { readSpecFile } from '../specFile.js'
import { numberOption } from './options.js'

export const ADJUST_USAGE = `lpl adjust --model IN.onnx --spec FILE --out OUT.onnx [--tau T] [--output NAME] [--probabilities]
  Post-hoc logit adjustment of a trained classifier: its logits output becomes logits − τ·log π,
  with π from the spec's class counts (τ from a logit-adjustment spec, else 1).
  --tau T            override τ          --output NAME   the logits output (default: the first)
  --probabilities    also output adjusted_probabilities, the softmax of the adjusted logits`

/** Runs `fn`, turning the library's typed errors into one line that names the file. */
export function naming<R>(file: string, fn: () => R): R {
  try {
    return fn()
  } catch (e) {
    if (e instanceof LogitPerturbError) throw new CliError(`${file}: ${e.code}: ${e.message}`)
    throw e
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
