import { focalTerm } from './lossTerms.js'
import { TAU } from '../validate.js'
import { logitAdjustmentShift } from './counts.js'
import { NON_NEGATIVE, type SpecBase, type SpecInput, defineRule } from './definition.js'
import type { Rule } from './types.js'

/** Focal loss (Lin et al., ICCV 2017), `−(1 − p_y)^γ log p_y` of `p = softmax(u + τ log π)`. */
export interface FocalSpec extends SpecBase {
  /** The rule's name, `'focal'`. */
  rule: 'focal'
  /** The focusing parameter `γ ≥ 0`; default 2. `γ = 0` is the cross-entropy. */
  gamma: number
  /** Temperature `τ ≥ 0` of the logit adjustment `τ·log π` added first; default 0 (none). */
  tau: number
  /** Training-set class counts `n_c ≥ 0`, `[C]`: `π_c = n_c / Σ n`; needed when `tau > 0`. */
  classCounts?: number[]
}

/** A focal spec as written: `gamma` and `tau` may be left out. */
export type FocalInput = SpecInput<FocalSpec, 'gamma' | 'tau'>

/**
 * Focal loss (Lin, Goyal, Girshick, He and Dollár, *Focal loss for dense object detection*, ICCV
 * 2017) on logit-adjusted logits: `L = mean_i −(1 − p_{i,y_i})^γ log p_{i,y_i}` with
 * `p_i = softmax(u_i + τ·log π)`. The shift is the class-level perturbation `δ_c = τ·log π_c` of
 * logit adjustment (LA-focal); the factor `(1 − p_y)^γ` weights each sample by how badly it is
 * classified. The factor is part of the loss, not of the perturbation: its gradient has a closed
 * form (`closedFormBatchGradient`), which autodiff of the loss equals.
 * `γ = 0` is the cross-entropy of the shifted logits. Shapes: logits `[N, C]`, labels `[N]`.
 */
export function focalRule(gamma: number, tau: number, classCounts: readonly number[] | undefined, numClasses: number | undefined): Rule {
  const shift = classCounts === undefined || tau === 0 ? undefined : logitAdjustmentShift(classCounts, tau)
  return {
    numClasses: classCounts?.length ?? numClasses,
    gradientThrough: false,
    // γ = 0 is the plain cross-entropy.
    ...(gamma > 0 ? { term: focalTerm(gamma) } : {}),
    perturb: (ops, { logits, constants }) => ({
      batch: {
        logits:
          shift === undefined
            ? logits
            : ops.add(
                logits,
                constants.get('shift', [1, shift.length], () => shift),
              ),
      },
    }),
  }
}

const DEFAULTS = { gamma: 2, tau: 0 } as const

/** The focal loss in the registry. */
export const focalDefinition = defineRule<FocalSpec>({
  name: 'focal',
  task: 'single',
  docsPage: 'rules/focal.md',
  defaults: DEFAULTS,
  parse(r, { header, numClasses }) {
    const gamma = r.number('gamma', NON_NEGATIVE, DEFAULTS.gamma)
    const tau = r.number('tau', TAU, DEFAULTS.tau)
    // The counts are needed for the shift only; a spec may give them anyway (as the class count).
    const classCounts = tau > 0 || r.has('classCounts') ? r.classCounts('classCounts', numClasses) : undefined
    return { rule: 'focal', ...header, gamma, tau, ...(classCounts === undefined ? {} : { classCounts }) }
  },
  equivalences: () => ['focalGammaZero'],
  create: (spec) => focalRule(spec.gamma, spec.tau, spec.classCounts, spec.numClasses),
})
