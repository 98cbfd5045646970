/**
 * What the page exposes to scripts (`window.__playground`), for the end-to-end test and for anyone
 * driving it from the console. Types only, free of DOM types, so a Node test can import them.
 */
import type { RuleInput } from '@logit-perturb/core'
import type { RuleName } from './rules.js'

/** Everything a run depends on: the data set, the rule and the training. */
export interface Settings {
  classes: number
  /** Imbalance ratio `n_max / n_min` of the training set. */
  ratio: number
  /** Standard deviation of each class's blob. */
  spread: number
  /** Seed of the data and of the initial weights. */
  seed: number
  rule: RuleName
  /** The rule's hyper-parameters by spec field (see `RULE_PARAMS`); missing ones take defaults. */
  params: Record<string, number>
  steps: number
  learningRate: number
}

/** The page's state after a redraw; `perClassAccuracy` is on the balanced test set, per class id. */
export interface PlaygroundState {
  /** `'webgl'` or `'wasm'` once chosen, `''` before. */
  backend: string
  /** The WebGL renderer (e.g. a GPU, or SwiftShader), when the backend is WebGL. */
  renderer?: string
  ready: boolean
  running: boolean
  rule: RuleName
  step: number
  /** Full-batch training loss at the last redraw. */
  loss: number | null
  perClassAccuracy: number[]
  classCounts: number[]
  /** Live tfjs tensors now, and tensors created but not freed per step since the first step. */
  numTensors: number
  leakedPerStep: number
  /** Wall time of the last finished run, milliseconds. */
  runMs: number
  error?: string
}

/** `window.__playground`. */
export interface PlaygroundApi {
  readonly state: PlaygroundState
  /** Resolves once a backend is active. */
  readonly ready: Promise<void>
  /** Sets the controls to `settings` (others keep their values), trains from scratch for `steps`, resolves with the final state. */
  run(settings: Partial<Settings>): Promise<PlaygroundState>
  /** Stops a run after its current step. */
  stop(): void
}

/** What one probe run found. */
export interface FitProbeResult {
  backend: string
  rule: string
  /** Synchronous reads made during each training batch. */
  readsPerBatch: number[]
  /** The loss of each epoch, as `fit` reports it. */
  losses: number[]
  error?: string
}

/** One batch for `float16.html`: a rule's spec and its inputs, flattened row-major. */
export interface TextureCase {
  id: string
  spec: RuleInput
  logits: { values: number[]; shape: number[] }
  /** Class ids (`int32`), or soft targets or 0/1 label rows (`float32`). */
  labels: { values: number[]; shape: number[]; dtype: 'int32' | 'float32' }
  options: { ignoreIndex?: number; classAxis?: 1 | -1 }
  training: boolean
  /** A rule's batch input for the call's context (GCL's noise, with the logits' shape); absent: none. */
  noise?: { values: number[]; shape: number[] }
}

/** The loss of one {@link TextureCase} and its gradient w.r.t. the logits, as read back from the backend. */
export interface TextureResult {
  id: string
  loss: number
  grad: number[]
  /** Wall time of the case on the page, milliseconds. */
  ms: number
  error?: string
}

/** The WebGL backend `float16.html` runs on, and what its textures store. */
export interface TextureInfo {
  backend: string
  renderer?: string
  /** `WEBGL_FORCE_F16_TEXTURES`, set from `?textures=float16` before the backend starts. */
  forceF16: boolean
  /** `WEBGL_RENDER_FLOAT32_CAPABLE`: the context can render to float32 textures. */
  float32Capable: boolean
  /** `WEBGL_RENDER_FLOAT32_ENABLED`: it does (false on float16 textures). */
  float32Enabled: boolean
  /** `WEBGL_USE_SHAPES_UNIFORMS`: on unless `?shapes=constants`. */
  shapeUniforms: boolean
  /**
   * `[1 + 2^-12, 1e5]` (repeated to 512 entries, so that the op runs on the GPU rather than being
   * handed to the CPU) plus 0, read back: `[1.000244…, 100000]` on float32 textures; on float16
   * ones `1` and a value that is not finite (above float16's largest, 65504: `Infinity`, or `NaN`
   * where the conversion makes it one, as ANGLE on SwiftShader does).
   */
  probe: number[]
  error?: string
}

/** `window.__textures` of `float16.html`. */
export interface TextureApi {
  readonly ready: Promise<TextureInfo>
  /** Each case's loss and gradient on this page's backend, in order. */
  run(cases: TextureCase[]): Promise<TextureResult[]>
}
