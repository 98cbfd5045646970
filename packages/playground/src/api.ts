/**
 * What the page exposes to scripts (`window.__playground`), for the end-to-end test and for anyone
 * driving it from the console. Types only, free of DOM types, so a Node test can import them.
 */
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
