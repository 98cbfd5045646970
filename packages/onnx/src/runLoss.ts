import { EMPTY_BATCH, check, checkEntryValues } from '@logit-perturb/core/backend'
import type * as Ort from 'onnxruntime-web'
import { type LossLabels, checkLogitFeed, labelFeed, positionFeed } from './lossInputs.js'
import { lossModelFacts } from './modelFacts.js'
import type { OnnxSession } from './runtimeTypes.js'
import { type HostTensor, runModel, sessionOf } from './runner.js'

/** The optional per-row inputs of {@link runLossModel}, for a model exported with them. */
export interface RowInputs {
  /**
   * Sample weights (finite, `≥ 0`), for a model with a `sample_weight` input: `[N]`, or for dense
   * logits one per position `[N, d1, …, dk]` (row-major) or one per sample, repeated at its positions.
   */
  sampleWeight?: ArrayLike<number>
  /** A 0/1 row mask, for a model with a `mask` input, shaped as `sampleWeight`. */
  mask?: ArrayLike<number>
  /**
   * The rule's state, one `[C]` list per field, for a model exported with `state: 'io'` (its
   * `state_<field>` inputs): the rule's fresh state (`loss.rule.state.initial(C)`) for a first call,
   * then the last call's `nextState`.
   */
  state?: Readonly<Record<string, ArrayLike<number>>>
  /**
   * The rule's batch inputs, by input name, for a training model of a rule that reads one (GCL's
   * `noise`: `ε` in `[−1, 1]`, flat row-major in the logits' layout; the graph draws nothing).
   */
  batchInputs?: Readonly<Record<string, ArrayLike<number>>>
}

/** What {@link runLossModel} returns; arrays are flat row-major in the logits' layout (`[N, C]`, or dense `[N, C, d1, …, dk]`). */
export interface LossModelResult {
  /** The scalar loss. */
  loss: number
  /** The perturbed logits `a ⊙ u + δ_y`, in the logits' layout. */
  perturbedLogits: Float32Array
  /** `∂loss/∂logits` in the logits' layout; absent for rules without a closed-form gradient (see `exportLossModel`). */
  gradLogits?: Float32Array
  /** The moved state, by field (a training model's `next_state_<field>` outputs); absent when the model has none. */
  nextState?: Record<string, Float32Array>
}

/**
 * Runs a model from `exportLossModel` on one batch: `logits` as rows (`[N][C]`) or flat with
 * `dims` (dense models: `[N, C, d1, …, dk]`); labels as the model takes them (see
 * {@link LossLabels}): class ids (`[N]`, dense: `N·d1·…·dk` of them, row-major, or a tensor with
 * dims), which may hold the model's ignore label (`exportLossModel`'s `ignoreIndex`, read from the
 * model's metadata); soft targets of a `targets: 'probabilities'` model, or multi-label rows of 0
 * and 1, as rows `[N][C]` or a tensor with the logits' shape. Inputs are checked on the host (the
 * graph does not check them), with the core's codes and in its order: `LOGITS_SHAPE` for logits
 * whose `C` or rank is not the model's or an empty batch, `LABELS_SHAPE`, `LABEL_VALUE` (an id
 * outside `[0, C)` other than the ignore label, an entry other than 0 or 1, a probability outside
 * `[0, 1]`), `LOGITS_NOT_FINITE` (NaN, `+∞`, `−∞` at a target of a row that counts or in every
 * class of a row; elsewhere `−∞` masks its class, docs/spec.md#12-masked-classes). A model that is
 * not such a loss model (inputs other than
 * `logits`, `labels`, `sample_weight`, `mask`, `state_<field>` and the rule's batch inputs its
 * metadata names, no `loss` or `perturbed_logits`
 * output, outputs of other sizes) gives `INVALID_MODEL`; so does a model exported with
 * `reduction: 'none'` (run it with `runModel`). `rows` feeds the `sample_weight` and `mask` inputs
 * of a model exported with them (`SAMPLE_WEIGHT_VALUE`, `MASK_VALUE`), and `rows.state` its
 * `state_<field>` inputs (`INVALID_MODEL` naming the field when one is missing or unknown,
 * `INVALID_STATE` when one is not `[C]`), and `rows.batchInputs` the rule's batch inputs of a
 * training model (GCL's `noise`: `INVALID_MODEL` when missing, `SHAPE_MISMATCH` when not the logits'
 * size, `MISSING_CONTEXT` for an entry out of its bounds). The ignore label and what the labels hold come from the
 * metadata of the model's bytes (given here, or to `createSession`).
 */
export async function runLossModel(
  model: Uint8Array | OnnxSession,
  logits: readonly (readonly number[])[] | HostTensor,
  labels: LossLabels,
  rows: RowInputs = {},
): Promise<LossModelResult> {
  const flat: HostTensor =
    'dims' in logits ? logits : { data: Float32Array.from(logits.flat()), dims: [logits.length, logits[0]?.length ?? 0] }
  check(flat.dims.length >= 2, 'LOGITS_SHAPE', `logits must be [N, C] or dense [N, C, d1, …, dk], got [${flat.dims.join(', ')}]`, 'logits')
  const [n, c] = flat.dims as [number, number]
  check(c > 0, 'LOGITS_SHAPE', 'logits have no class dimension (C = 0)', 'logits')
  const positions = [n, ...flat.dims.slice(2)]
  const session = await sessionOf(model)
  let out: Record<string, HostTensor>
  try {
    const facts = lossModelFacts(model)
    checkLossModel(
      session,
      facts.batchInputs.map((b) => b.name),
    )
    // The same checks, in the same order, as the core's losses on an eager backend.
    const { classes, rank } = modelLogits(session)
    const heads = lossModelFacts(model).heads
    check(
      classes === undefined || c === classes,
      'LOGITS_SHAPE',
      heads === 1
        ? `logits have ${c} classes but the model has ${classes}`
        : `logits have ${c} columns but the model takes [N, ${classes}]: ${heads} heads of ${classes! / heads} classes side by side`,
      'logits',
    )
    check(
      rank === undefined || rank === flat.dims.length,
      'LOGITS_SHAPE',
      `the model takes logits of rank ${rank} (${rank === 2 ? '[N, C]' : `[N, C, d1, …, d${rank! - 2}]`}), got [${flat.dims.join(', ')}]`,
      'logits',
    )
    const feeds: Record<string, HostTensor> = { labels: labelFeed(labels, flat.dims, lossModelFacts(model)) }
    check(n !== 0, 'LOGITS_SHAPE', EMPTY_BATCH, 'logits')
    const data = flat.data instanceof Float32Array ? flat.data : Float32Array.from(flat.data as ArrayLike<number>)
    feeds.logits = { data, dims: flat.dims }
    for (const [field, input] of [
      ['sampleWeight', 'sample_weight'],
      ['mask', 'mask'],
    ] as const) {
      const values = rows[field]
      const takes = session.inputNames.includes(input)
      check(
        takes === (values !== undefined),
        'INVALID_MODEL',
        takes ? `the model takes ${input}: pass ${field}` : `the model has no ${input} input: export it with ${field}: true`,
        field,
      )
      if (values !== undefined) feeds[input] = positionFeed(values, positions, field)
    }
    const entryCount = flat.dims.reduce((a, b) => a * b, 1)
    for (const name of Object.keys(rows.batchInputs ?? {})) {
      check(session.inputNames.includes(name), 'INVALID_MODEL', `the model has no ${name} input`, `batchInputs.${name}`)
    }
    for (const { name, bounds } of facts.batchInputs) {
      if (!session.inputNames.includes(name)) continue
      const values = rows.batchInputs?.[name]
      check(
        values !== undefined,
        'INVALID_MODEL',
        `the model takes ${name}: pass batchInputs.${name} with the logits' shape`,
        `batchInputs.${name}`,
      )
      check(
        values.length === entryCount,
        'SHAPE_MISMATCH',
        `has ${values.length} entries; the logits [${flat.dims.join(', ')}] have ${entryCount}`,
        `batchInputs.${name}`,
      )
      checkEntryValues(values, name, bounds)
      feeds[name] = { data: Float32Array.from(values), dims: flat.dims }
    }
    const stateInputs = session.inputNames.filter((name) => name.startsWith(STATE_PREFIX))
    for (const field of Object.keys(rows.state ?? {})) {
      check(
        stateInputs.includes(STATE_PREFIX + field),
        'INVALID_MODEL',
        `the model has no state_${field} input (its state inputs: ${stateInputs.join(', ') || 'none'})`,
        `state.${field}`,
      )
    }
    for (const input of stateInputs) {
      const field = input.slice(STATE_PREFIX.length)
      const values = rows.state?.[field]
      check(
        values !== undefined,
        'INVALID_MODEL',
        `the model takes ${input}: pass state.${field} (the rule's fresh state for a first call)`,
        `state.${field}`,
      )
      check(values.length === c, 'INVALID_STATE', `has ${values.length} entries for ${c} classes`, `state.${field}`)
      feeds[input] = { data: Float32Array.from(values), dims: [c] }
    }
    // The graph has no data checks: NaN, +∞, or −∞ at a target would be NaN or ∞ out, so they are
    // refused here; −∞ elsewhere masks a class (docs/spec.md#12-masked-classes).
    checkLogitFeed(flat, feeds.labels!, feeds.mask, lossModelFacts(model))
    out = await runModel(session, feeds)
  } finally {
    if (model instanceof Uint8Array) await session.release()
  }
  const size = (name: string, want: number, what: string) => {
    const got = out[name]!.data.length
    check(got === want, 'INVALID_MODEL', `output ${name} has ${got} values, not ${what} (${want})`, 'model')
  }
  const layout = `[${flat.dims.length === 2 ? 'N, C' : 'N, C, d1, …'}] = [${flat.dims.join(', ')}]`
  const entries = flat.dims.reduce((a, b) => a * b, 1)
  size('loss', 1, 'a scalar')
  size('perturbed_logits', entries, layout)
  if (out.grad_logits !== undefined) size('grad_logits', entries, layout)
  const next = Object.keys(out).filter((name) => name.startsWith(NEXT_STATE_PREFIX))
  return {
    loss: Number(out.loss!.data[0]),
    perturbedLogits: out.perturbed_logits!.data as Float32Array,
    ...(out.grad_logits === undefined ? {} : { gradLogits: out.grad_logits.data as Float32Array }),
    ...(next.length === 0
      ? {}
      : { nextState: Object.fromEntries(next.map((name) => [name.slice(NEXT_STATE_PREFIX.length), out[name]!.data as Float32Array])) }),
  }
}

/** The names of a loss model's state inputs and outputs: `state_<field>`, `next_state_<field>`. */
const STATE_PREFIX = 'state_'
const NEXT_STATE_PREFIX = 'next_state_'

/** The class count and rank a loss model's `logits` input declares, where it declares them. */
function modelLogits(session: Ort.InferenceSession): { classes: number | undefined; rank: number | undefined } {
  const input = session.inputMetadata?.find((m) => m.name === 'logits')
  if (!input?.isTensor) return { classes: undefined, rank: undefined }
  const dim = input.shape[1]
  return { classes: typeof dim === 'number' && dim > 0 ? dim : undefined, rank: input.shape.length }
}

/** Refuses a session whose inputs and outputs are not those of a loss model from `exportLossModel`. */
function checkLossModel(session: Ort.InferenceSession, batchInputs: readonly string[]): void {
  const names = (list: readonly string[]) => (list.length ? list.map((name) => `"${name}"`).join(', ') : 'none')
  const io = `inputs ${names(session.inputNames)}, outputs ${names(session.outputNames)}`
  const missing = [
    ...['logits', 'labels'].filter((name) => !session.inputNames.includes(name)).map((name) => `input "${name}"`),
    ...['loss', 'perturbed_logits'].filter((name) => !session.outputNames.includes(name)).map((name) => `output "${name}"`),
  ]
  check(
    missing.length === 0,
    'INVALID_MODEL',
    `not a loss model from exportLossModel: no ${missing.join(', no ')} (the model has ${io})`,
    'model',
  )
  const extra = session.inputNames.filter(
    (name) => !['logits', 'labels', 'sample_weight', 'mask', ...batchInputs].includes(name) && !name.startsWith(STATE_PREFIX),
  )
  check(
    extra.length === 0,
    'INVALID_MODEL',
    `the model also takes ${names(extra)}; runLossModel feeds logits, labels, sample_weight, mask and state_<field> only`,
    'model',
  )
}
