import { decodeModel } from './readModel.js'

/**
 * What a loss model's metadata says of its `labels` input beyond its type (`exportLossModel` writes
 * it): what the labels hold, and the ignore label baked into the graph. Undefined entries: a model
 * without that metadata (an older export, or a session whose bytes are unknown).
 */
export interface LossModelFacts {
  /** `logit_perturb.targets`: class ids, soft targets, or a multi-label 0/1 matrix. */
  readonly targets: 'ids' | 'probabilities' | 'multi-label' | undefined
  /** `logit_perturb.ignore_index`: the id the graph gives zero loss and gradient. */
  readonly ignoreIndex: number | undefined
  /**
   * `logit_perturb.heads`: the rule's heads `E`, whose logits are `[N, E·C]` (labels over the `C =
   * width/E` classes, every logit finite); 1 when absent.
   */
  readonly heads: number
  /** `logit_perturb.batch_inputs`: the rule's batch inputs (GCL's `noise`), with the logits' shape, and their bounds. */
  readonly batchInputs: readonly { readonly name: string; readonly bounds: readonly [number, number] }[]
}

/** The bytes each session of `createSession` was opened on, read only when a loss model runs. */
const sessionBytes = new WeakMap<object, Uint8Array>()
const known = new WeakMap<object, LossModelFacts>()

/** Remembers the bytes a session was opened on, so that `runLossModel` can read their metadata. */
export function rememberModelBytes(session: object, bytes: Uint8Array): void {
  sessionBytes.set(session, bytes)
}

/**
 * The facts of a loss model given as bytes, or as a session opened by `createSession` (decoded once
 * per model; the graph has no way to say them at run time).
 */
export function lossModelFacts(model: Uint8Array | object): LossModelFacts {
  const cached = known.get(model)
  if (cached !== undefined) return cached
  const bytes = model instanceof Uint8Array ? model : sessionBytes.get(model)
  const props = new Map(
    bytes === undefined ? [] : (decodeModel(bytes).model.metadataProps ?? []).map((p) => [p.key ?? '', p.value ?? ''] as const),
  )
  const targets = props.get('logit_perturb.targets')
  const ignore = props.get('logit_perturb.ignore_index')
  const heads = Number(props.get('logit_perturb.heads') ?? 1)
  const facts: LossModelFacts = {
    targets: targets === 'ids' || targets === 'probabilities' || targets === 'multi-label' ? targets : undefined,
    ignoreIndex: ignore === undefined || !Number.isInteger(Number(ignore)) ? undefined : Number(ignore),
    heads: Number.isInteger(heads) && heads >= 1 ? heads : 1,
    batchInputs: batchInputsOf(props.get('logit_perturb.batch_inputs')),
  }
  known.set(model, facts)
  return facts
}

/** The batch inputs a model's metadata lists (`[{ name, bounds }]` as JSON); none when absent or malformed. */
function batchInputsOf(json: string | undefined): LossModelFacts['batchInputs'] {
  if (json === undefined) return []
  try {
    const parsed: unknown = JSON.parse(json)
    if (!Array.isArray(parsed)) return []
    return parsed.filter(
      (b): b is { name: string; bounds: [number, number] } =>
        typeof b?.name === 'string' &&
        Array.isArray(b.bounds) &&
        b.bounds.length === 2 &&
        b.bounds.every((v: unknown) => typeof v === 'number'),
    )
  } catch {
    return []
  }
}
