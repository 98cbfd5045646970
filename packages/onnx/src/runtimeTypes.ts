/**
 * The parts of onnxruntime-web this package's API names, written structurally: onnxruntime-web is an
 * optional peer dependency, so the published types must compile in a project that does not install
 * it. The real module and its sessions fit these types (a type test in this package checks it);
 * import `onnxruntime-web` itself for its full types.
 */

/** The `onnxruntime-web` module as {@link loadOnnxRuntime} returns it: its `env`, to set options before the first session. */
export interface OnnxRuntime {
  /** onnxruntime-web's settings (`ort.env`). */
  readonly env: {
    /** The wasm execution provider's options (onnxruntime-web has more, such as `wasmPaths`). */
    readonly wasm: {
      /** Worker threads of the wasm backend; this package sets 1 unless chosen before the first session. */
      numThreads?: number | undefined
    }
  }
}

/** An onnxruntime-web `InferenceSession`, as {@link createSession} opens it and {@link runModel} takes it. */
export interface OnnxSession {
  /** The names of the model's inputs. */
  readonly inputNames: readonly string[]
  /** The names of the model's outputs. */
  readonly outputNames: readonly string[]
  /** Releases the session's memory; a released session cannot run. */
  release(): Promise<void>
}
