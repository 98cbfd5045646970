import type { Method } from '../train/methods.js'
import type { RunOptions, RunResult } from '../train/run.js'
import type { Metric } from '../report/table.js'

/** What a task trains on and how one run goes: the data, the counts, the metric. */
export interface TaskPlan {
  description: string
  counts: number[]
  classNames: readonly string[]
  /** Training items a batch is cut from: images, canvases or scenes. */
  trainingItems: number
  /** The `numSamples` of the specs: training images, canvases, or labelled pixels. */
  numSamples: number
  metric: Metric
  /** The optimizer, where it is not the MLP's SGD. */
  optimizer?: string
  protocol: Record<string, unknown>
  train: (method: Method, options: RunOptions) => Promise<RunResult>
}
