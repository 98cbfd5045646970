import { AUDIT_USAGE, auditCommand } from './audit.js'
import { EXPLAIN_USAGE, explainCommand } from './explain.js'
import { EXPORT_USAGE, exportCommand } from './export.js'
import { ADJUST_USAGE, adjustCommand } from './onnx.js'
import { TRAIN_USAGE, trainCommand } from './train.js'
import { VERIFY_USAGE, verifyCommand } from './verify.js'

/** A subcommand of `lpl`. */
export interface Command {
  usage: string
  run: (argv: string[]) => Promise<void>
}

export const COMMANDS: Record<string, Command> = {
  train: { usage: TRAIN_USAGE, run: trainCommand },
  verify: { usage: VERIFY_USAGE, run: verifyCommand },
  explain: { usage: EXPLAIN_USAGE, run: explainCommand },
  export: { usage: EXPORT_USAGE, run: exportCommand },
  adjust: { usage: ADJUST_USAGE, run: adjustCommand },
  audit: { usage: AUDIT_USAGE, run: auditCommand },
}

export const USAGE = `lpl: class-level logit perturbation, on real long-tailed data
usage: lpl <command> [options]   (lpl <command> --help for its options)
  train    train the long-tail benchmark on Fashion-MNIST with each rule and compare them
  verify   the spec's loss on every backend against the float64 reference, and its equivalences
  explain  per class: positive or negative augmentation, loss variation, equivalent weight
  export   the spec's loss as an ONNX model or a PyTorch module (loss, perturbed logits, gradient)
  adjust   post-hoc logit adjustment appended to a classifier's ONNX model
  audit    check an implementation of a loss (a PyTorch module, a JavaScript function) against a spec`
