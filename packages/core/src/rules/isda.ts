import { type LogitPerturbErrorCode, check } from '../errors.js'
import { addClassRows } from './crossEntropy.js'
import { NON_NEGATIVE, type SpecBase, type SpecInput, defineRule } from './definition.js'
import type { IsdaInputs, Rule } from './types.js'

/** ISDA (Wang et al., NeurIPS 2019): `δ_{c,j} = (λ/2)(w_j − w_c)ᵀ Σ_c (w_j − w_c)`. */
export interface IsdaSpec extends SpecBase {
  /** The rule's name, `'isda'`. */
  rule: 'isda'
  /** `λ ≥ 0`; default 0.5. */
  lambda: number
  /** Classifier weights `[C][D]`; else passed per call in the context. */
  weights?: number[][]
  /** Class feature covariances `[C][D][D]`; else passed per call in the context. */
  covariances?: number[][][]
}

/** An ISDA spec as written: `lambda` may be left out. */
export type IsdaInput = SpecInput<IsdaSpec, 'lambda'>

/**
 * ISDA's class-level perturbation (Wang et al., *Implicit semantic data augmentation for deep
 * networks*, NeurIPS 2019): `δ_{c,j} = (λ/2)·(w_j − w_c)ᵀ Σ_c (w_j − w_c)`, a `[C][C]` matrix whose
 * row `c` is added to the logits of class-`c` samples. Every entry is `≥ 0` for a positive
 * semi-definite `Σ_c` and the diagonal is 0: a positive augmentation of every class.
 * Inputs: weights `W` `[C][D]`, covariances `Σ_c` `[C][D][D]`. Cost `O(C²·D²)`, on the host.
 */
export function isdaPerturbation(inputs: IsdaInputs, lambda: number): number[][] {
  checkIsdaInputs(inputs, 'MISSING_CONTEXT', 'isda.')
  const { weights, covariances } = inputs
  const c = weights.length
  const d = weights[0]!.length
  const delta = weights.map(() => new Array<number>(c).fill(0))
  const diff = new Array<number>(d)
  for (let k = 0; k < c; k++) {
    const sigma = covariances[k]!
    for (let j = 0; j < c; j++) {
      for (let a = 0; a < d; a++) diff[a] = weights[j]![a]! - weights[k]![a]!
      let quad = 0
      for (let a = 0; a < d; a++) {
        let row = 0
        for (let b = 0; b < d; b++) row += sigma[a]![b]! * diff[b]!
        quad += diff[a]! * row
      }
      delta[k]![j] = (lambda / 2) * quad
    }
  }
  return delta
}

/**
 * Checks ISDA's inputs: `weights` a non-empty `[C][D]` array and `covariances` `C` arrays
 * `[D][D]`, all finite. Errors carry `code` and name the field with `prefix` (`"isda."` for the
 * context, `""` for the spec).
 */
export function checkIsdaInputs(inputs: unknown, code: LogitPerturbErrorCode, prefix: string): asserts inputs is IsdaInputs {
  const { weights, covariances } = (inputs ?? {}) as { weights?: unknown; covariances?: unknown }
  const isMatrix = (m: unknown, rows: number | undefined, cols: number): m is number[][] =>
    Array.isArray(m) &&
    (rows === undefined || m.length === rows) &&
    m.every((r) => Array.isArray(r) && r.length === cols && r.every((v) => typeof v === 'number' && Number.isFinite(v)))
  const d = Array.isArray(weights) && Array.isArray(weights[0]) ? (weights[0] as unknown[]).length : 0
  check(
    Array.isArray(weights) && weights.length > 0 && d > 0 && isMatrix(weights, undefined, d),
    code,
    'must be a non-empty [C][D] array of finite numbers',
    `${prefix}weights`,
  )
  check(
    Array.isArray(covariances) && covariances.length === weights.length && covariances.every((s) => isMatrix(s, d, d)),
    code,
    `must be ${weights.length} arrays [${d}][${d}] of finite numbers, one per class`,
    `${prefix}covariances`,
  )
}

/**
 * ISDA as a loss: `L = mean_i CE(u_i + δ_{y_i}, y_i)` with {@link isdaPerturbation}. The weights and
 * covariances come from the spec or, per call, from `ctx.isda` (the context wins); they change
 * during training, so a trainer passes the current ones.
 */
export function isdaRule(lambda: number, fromSpec: IsdaInputs | undefined, numClasses: number | undefined): Rule {
  // Weights and covariances fixed by the (checked) spec give one δ for every call: made once.
  const specDelta = fromSpec === undefined ? undefined : isdaPerturbation(fromSpec, lambda).flat()
  return {
    numClasses: numClasses ?? fromSpec?.weights.length,
    gradientThrough: false,
    perturb(ops, { logits, labels, numClasses: c, ctx, constants }) {
      const inputs = ctx.isda ?? fromSpec
      check(
        inputs !== undefined,
        'MISSING_CONTEXT',
        'ISDA needs classifier weights and class covariances: put them in the spec or pass ctx.isda',
        'isda',
      )
      check(
        inputs.weights.length === c,
        'MISSING_CONTEXT',
        `has ${inputs.weights.length} rows but the logits have ${c} classes`,
        'isda.weights',
      )
      // Context inputs change as the classifier trains: checked and turned into δ on each call. The
      // spec's δ is a constant of the loss.
      const delta =
        ctx.isda === undefined && specDelta !== undefined
          ? constants.get('delta', [c, c], () => specDelta)
          : ops.constant(isdaPerturbation(inputs, lambda).flat(), [c, c])
      return { batch: { logits: addClassRows(ops, logits, labels, delta) } }
    },
  }
}

const DEFAULTS = { lambda: 0.5 } as const

/** ISDA in the registry. */
export const isdaDefinition = defineRule<IsdaSpec>({
  name: 'isda',
  task: 'single',
  docsPage: 'rules/isda.md',
  defaults: DEFAULTS,
  parse(r, { header, numClasses }) {
    const lambda = r.number('lambda', NON_NEGATIVE, DEFAULTS.lambda)
    const weights = r.raw('weights')
    const covariances = r.raw('covariances')
    if (weights === undefined && covariances === undefined) return { rule: 'isda', ...header, lambda }
    const inputs = { weights, covariances }
    checkIsdaInputs(inputs, 'INVALID_PARAMETER', r.fieldPath(''))
    if (numClasses !== undefined) {
      check(
        inputs.weights.length === numClasses,
        'INVALID_PARAMETER',
        `has ${inputs.weights.length} rows but there are ${numClasses} classes`,
        r.fieldPath('weights'),
      )
    }
    return {
      rule: 'isda',
      ...header,
      lambda,
      weights: structuredClone(weights as number[][]),
      covariances: structuredClone(covariances as number[][][]),
    }
  },
  create(spec) {
    const rule = isdaRule(
      spec.lambda,
      spec.weights && spec.covariances ? { weights: spec.weights, covariances: spec.covariances } : undefined,
      spec.numClasses,
    )
    return {
      ...rule,
      ...(spec.weights === undefined ? {} : { numClassesFrom: 'weights' }),
      // The call's weights have one row per class.
      numClassesOf: (ctx) => ctx.isda?.weights.length,
      extraInputs: ['isda'],
    }
  },
})
