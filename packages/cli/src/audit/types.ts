/**
 * The data of an audit (docs/audit.md, docs/spec.md#13-auditing-an-implementation): the batches both
 * sides compute, and what each side returns for one batch.
 */

/** The label of a row that counts for nothing: PyTorch's `ignore_index` default. */
export const IGNORE_INDEX = -100

/** One audit batch: host rows, as every side reads them. */
export interface AuditBatch {
  /** What the batch tests: `long-tailed mix`, `extreme logits`, `epoch 8`, … */
  name: string
  /** `single`: class ids; `multi`: 0/1 rows. */
  task: 'single' | 'multi'
  /** Logits `[N][W]`: `W = C`, or `E·C` for a rule of `E` heads (head-major). */
  logits: number[][]
  /** Class ids `[N]` in `[0, C)`, or 0/1 rows `[N][C]`. */
  labels: number[] | number[][]
  /** The epoch of the call, for a spec that switches at epochs. */
  epoch?: number
  /** A rule's batch inputs (GCL's `noise`), with the logits' shape. */
  noise?: number[][]
  /** The index of the batch this one repeats with a constant added to each row's logits. */
  shiftOf?: number
  /**
   * Labels {@link IGNORE_INDEX} mark rows that count for nothing (`F.cross_entropy`'s
   * `ignore_index`). An implementation that raises on them has that batch left out, with a note.
   */
  ignored?: true
  /** Unit directions `[K][N·W]` and a step `h`: the directional central differences each side returns. */
  probe: { directions: number[][]; h: number }
}

/** What one side (the spec's reference, or the implementation) computed on one batch. */
export interface BatchResult {
  /** The reduced loss; `NaN` or `±Infinity` as computed. */
  loss: number
  /** `∂loss/∂logits`, flat in the logits' row-major order. */
  gradient: number[]
  /** `(L(u + h·v_k) − L(u − h·v_k)) / 2h` for each probe direction `v_k`. */
  probes: number[]
  /** Set when the call failed on this batch: the error, in one line. */
  error?: string
}

/** An implementation's results on the batches, and the precision it computed in. */
export interface ImplementationResults {
  /** `float64` where the implementation allowed it. */
  dtype: 'float64' | 'float32'
  results: BatchResult[]
}

/** Each worker's loss and gradient w.r.t. its own rows, in a data-parallel run of one batch. */
export interface ShardResults {
  dtype: 'float64' | 'float32'
  workers: { loss: number; gradient: number[] }[]
}

/** An implementation under audit: runs every batch, in order, on one instance. */
export interface Implementation {
  /** How the report names it (`file.py:Class`). */
  name: string
  run(batches: readonly AuditBatch[]): Promise<ImplementationResults>
  /**
   * Runs one batch split over workers (rows `[start, end)` each), in one process group: what
   * implementations of frameworks with data parallelism (PyTorch) offer.
   */
  runShards?(batch: AuditBatch, shards: readonly [number, number][]): Promise<ShardResults>
}
