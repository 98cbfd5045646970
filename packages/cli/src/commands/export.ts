import { writeFileSync } from 'node:fs'
import { parseArgs } from 'node:util'
import { exportLossModel } from '@logit-perturb/onnx'
import { exportTorchModule } from '@logit-perturb/pytorch'
import { CliError } from '../errors.js'
import { MAX_CLI_CLASSES, classesOf, readSpecFile } from '../specFile.js'
import { naming } from './onnx.js'
import { intOption } from './options.js'

export const EXPORT_USAGE = `lpl export --spec FILE --out FILE [--format onnx|pytorch] [--classes C]
  --format onnx (default): the spec's loss as an ONNX model (opset 17, standard operators): inputs
    logits float32 [N, C] and labels int64 [N] (N dynamic); outputs loss, perturbed_logits [N, C]
    and, for rules whose perturbation is a constant for the gradient, grad_logits [N, C].
    --opset 17    the ONNX opset (17 to 21)
    --state io    LPL's confidence split: carry the running averages as inputs and outputs
  --format pytorch: the spec's loss as one Python file holding a torch.nn.Module (torch 1.13 or
    later): forward(logits, target, sample_weight=None, mask=None) returns the loss, perturb(...)
    the perturbed logits; batch statistics are all-reduced across torch.distributed workers.
    --class-name NAME   the module's class name (default from the rule, e.g. LplLoss)
  --classes C   the class count, when the spec does not fix it (ce, official-balanced, lpl confidence)`

/** `lpl export`: see {@link EXPORT_USAGE}. */
export async function exportCommand(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      spec: { type: 'string' },
      out: { type: 'string' },
      format: { type: 'string', default: 'onnx' },
      classes: { type: 'string' },
      opset: { type: 'string' },
      state: { type: 'string' },
      'class-name': { type: 'string' },
    },
    strict: true,
  })
  if (values.out === undefined) throw new CliError('--out FILE is required', 2)
  const format = values.format
  if (format !== 'onnx' && format !== 'pytorch') throw new CliError(`--format must be onnx or pytorch, got "${format}"`, 2)
  const only = (option: string, of: 'onnx' | 'pytorch') => {
    if (format !== of) throw new CliError(`--${option} applies to --format ${of} only`, 2)
  }
  if (values.opset !== undefined) only('opset', 'onnx')
  if (values.state !== undefined) only('state', 'onnx')
  if (values['class-name'] !== undefined) only('class-name', 'pytorch')
  const state = values.state ?? 'batch'
  if (state !== 'batch' && state !== 'io') throw new CliError(`--state must be batch or io, got "${state}"`, 2)
  const spec = readSpecFile(values.spec)
  const numClasses =
    classesOf(spec) ?? (values.classes === undefined ? undefined : intOption(values.classes, 'classes', 1, MAX_CLI_CLASSES))
  if (numClasses === undefined) throw new CliError(`${values.spec}: the spec does not fix the class count; pass --classes C`, 2)

  if (format === 'pytorch') {
    const className = values['class-name']
    const module = naming(values.spec!, () => exportTorchModule(spec, { numClasses, ...(className === undefined ? {} : { className }) }))
    writeFileSync(values.out, module.source)
    console.log(`Wrote ${values.out}: ${module.spec.rule}, ${module.numClasses} classes, class ${module.className}(torch.nn.Module)`)
    console.log(
      `  forward(logits, target, sample_weight=None, mask=None) -> loss; perturb(...) -> perturbed logits${module.hasClosedFormGradient ? '; gradient(...) -> closed-form gradient' : ''}`,
    )
    return
  }
  const model = naming(values.spec!, () =>
    exportLossModel(spec, { numClasses, opset: intOption(values.opset ?? '17', 'opset', 17), state: state as 'batch' | 'io' }),
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
