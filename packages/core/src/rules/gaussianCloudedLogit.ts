import { check } from '../errors.js'
import type { TensorOps } from '../ops.js'
import { drawNormal } from '../random.js'
import { NON_NEGATIVE, POSITIVE, type SpecBase, type SpecInput, defineRule } from './definition.js'
import type { BatchInputDeclaration, Rule } from './types.js'

/**
 * Gaussian clouded logit (GCL; Li et al., CVPR 2022): `CE(s·(u − noiseMul·|ε|·g/max g − m·e_y), y)`
 * on cosine logits `u`, with `g_c = log(max n) − log n_c` and `ε` a Gaussian cloud clamped to `[−1, 1]`.
 */
export interface GaussianCloudedLogitSpec extends SpecBase {
  /** The rule's name, `'gaussian-clouded-logit'`. */
  rule: 'gaussian-clouded-logit'
  /** Training-set class counts `n_c > 0`, `[C]`, not all equal: the cloud sizes `g_c = log(max n) − log n_c`. */
  classCounts: number[]
  /** Logit scale `s > 0` of the cosine logits; default 30. */
  scale: number
  /** Margin `m ≥ 0` subtracted from the true-class cosine; default 0. */
  margin: number
  /** Weight `≥ 0` of the cloud (the released code's `noise_mul`); default 0.5. */
  noiseMul: number
}

/** A GCL spec as written: `scale`, `margin` and `noiseMul` may be left out. */
export type GaussianCloudedLogitInput = SpecInput<GaussianCloudedLogitSpec, 'scale' | 'margin' | 'noiseMul'>

/** The standard deviation of GCL's cloud before it is clamped to `[−1, 1]` (the released code's `Normal(0, 1/3)`). */
export const GCL_NOISE_STDDEV = 1 / 3

/**
 * GCL's cloud sizes, the coefficient of `|ε|` per class (docs/spec.md#314-gaussian-clouded-logit):
 * `noiseMul·g_c / max_k g_k` with `g_c = log(max n) − log n_c`, so the head class (`g = 0`) gets no
 * noise and the rarest class `noiseMul`. Counts must be `> 0` and not all equal (`max g > 0`).
 */
export function gclCloudSizes(classCounts: readonly number[], noiseMul: number): number[] {
  checkGclCounts(classCounts, 'classCounts')
  const logs = classCounts.map((n) => Math.log(n))
  const top = Math.max(...logs)
  const g = logs.map((l) => top - l)
  const largest = Math.max(...g)
  return g.map((v) => (noiseMul * v) / largest)
}

/** GCL's counts: each `> 0` (`log n` is finite) and not all equal (`max g > 0`); `CLASS_COUNTS_VALUE` naming the field otherwise. */
function checkGclCounts(classCounts: readonly number[], field: string): void {
  classCounts.forEach((n, c) => {
    check(
      n > 0,
      'CLASS_COUNTS_VALUE',
      `count ${n} of class ${c} must be > 0: GCL's cloud size log(max n) − log n_c needs log n_c`,
      `${field}[${c}]`,
    )
  })
  check(
    classCounts.some((n) => n !== classCounts[0]),
    'CLASS_COUNTS_VALUE',
    "every class count is equal: GCL's cloud sizes g/max g are 0/0; use ldam or ce for a balanced set",
    field,
  )
}

/**
 * GCL's noise `ε`, a tensor with the logits' shape (`LossContext.noise`): passed per call, or on a
 * training call without it drawn from `N(0, (1/3)²)` and clamped to `[−1, 1]`, as the released code's
 * `normal.Normal(0, 1/3).sample(cosine.shape).clamp(-1, 1)`.
 */
export const GCL_NOISE_INPUT: BatchInputDeclaration = {
  field: 'noise',
  name: 'noise',
  bounds: [-1, 1],
  readBy: 'training',
  draw<T>(ops: TensorOps<T>, like: T, seed: number | undefined): T {
    const drawn = drawNormal(ops, like, GCL_NOISE_STDDEV, seed, 'noise')
    return ops.maximum(ops.minimum(drawn, ops.constant([1], [])), ops.constant([-1], []))
  },
}

/**
 * GCL (Li et al., *Long-tailed visual recognition via Gaussian clouded logit adjustment*, CVPR 2022;
 * Keke921/GCLLoss `losses.py` `GCLLoss`, the `train_cls=False` path): logits are cosines `u`
 * (`[N, C]`), and a training call scores
 *
 *     z = s·(u − |ε| ⊙ a − m·e_y),   a_c = noiseMul·g_c / max_k g_k,   g_c = log(max n) − log n_c
 *
 * with cross-entropy, where `ε` (`[N, C]`, in `[−1, 1]`) is `ctx.noise` or, when the call does not
 * pass it, drawn from `N(0, (1/3)²)` and clamped (`ctx.seed` seeds the draw). The cloud does not
 * depend on `u`, so `∂z/∂u = s` and the closed-form gradient is `s·(p − e_y)` times the row's share.
 * An evaluation call (`training: false`) draws no noise: `z = s·(u − m·e_y)`. The released code
 * applies `|ε|` (its signed form is commented out); the head class (`g = 0`) gets no noise.
 */
export function gaussianCloudedLogitRule(classCounts: readonly number[], scale: number, margin: number, noiseMul: number): Rule {
  const c = classCounts.length
  const sizes = gclCloudSizes(classCounts, noiseMul)
  return {
    numClasses: c,
    gradientThrough: false,
    classCounts: [...classCounts],
    batchInputs: [GCL_NOISE_INPUT],
    perturb(ops, { logits, labelMatrix, ctx, constants }) {
      const s = constants.get('scale', [], () => [scale])
      const scaled = ops.mul(logits, s)
      // s·m on the true class, through the label matrix (zero rows where masked out).
      const shifted = ops.sub(
        scaled,
        ops.mul(
          labelMatrix,
          constants.get('scaledMargin', [], () => [scale * margin]),
        ),
      )
      if (ctx.training === false) {
        return { batch: { logits: shifted, logitScale: s, reference: { logits: scaled, logitScale: s } } }
      }
      // The cloud, drawn when the call does not pass it: it does not depend on the logits.
      const noise = ctx.noise ?? GCL_NOISE_INPUT.draw(ops, logits, ctx.seed)
      const cloud = ops.mul(
        ops.abs(noise),
        constants.get('scaledCloudSizes', [1, c], () => sizes.map((a) => scale * a)),
      )
      return {
        batch: { logits: ops.sub(shifted, cloud), logitScale: s, reference: { logits: scaled, logitScale: s } },
      }
    },
  }
}

const DEFAULTS = { scale: 30, margin: 0, noiseMul: 0.5 } as const

/** GCL in the registry. */
export const gaussianCloudedLogitDefinition = defineRule<GaussianCloudedLogitSpec>({
  name: 'gaussian-clouded-logit',
  task: 'single',
  docsPage: 'rules/gaussian-clouded-logit.md',
  defaults: DEFAULTS,
  parse(r, { header, numClasses }) {
    const classCounts = r.classCounts('classCounts', numClasses)
    checkGclCounts(classCounts, r.fieldPath('classCounts'))
    const scale = r.number('scale', POSITIVE, DEFAULTS.scale)
    const margin = r.number('margin', NON_NEGATIVE, DEFAULTS.margin)
    const noiseMul = r.number('noiseMul', NON_NEGATIVE, DEFAULTS.noiseMul)
    return { rule: 'gaussian-clouded-logit', ...header, classCounts, scale, margin, noiseMul }
  },
  create: (spec) => gaussianCloudedLogitRule(spec.classCounts, spec.scale, spec.margin, spec.noiseMul),
})
