import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Reduction } from '@logit-perturb/core'
import type { ExportedTorchModule } from '@logit-perturb/pytorch'
import type { NestedNumbers } from '../fixtures.js'
import { TORCH_DRIVER } from './driver.js'
import { runPython } from './python.js'

/** One batch to run an exported module on. */
export interface TorchJob {
  module: ExportedTorchModule
  reduction: Reduction
  /** `[N][C]`, or dense `[N][C][d1]…`. */
  logits: NestedNumbers
  /** Class ids `[N]…` (dense: `[N][d1]…`), or rows with the logits' shape: multi-label 0/1, or soft targets. */
  labels: NestedNumbers
  /** Whether `labels` are soft targets (float probabilities) rather than class ids; default false. */
  softTargets?: boolean
  /** The module's `ignore_index`, when the labels use another than PyTorch's −100. */
  ignoreIndex?: number | undefined
  sampleWeight?: number[] | undefined
  mask?: number[] | undefined
  /** The rule's batch inputs by their argument name (GCL's `noise`, with the logits' shape). */
  batchInputs?: Readonly<Record<string, NestedNumbers>> | undefined
  /** Whether the call is a training call (`module.training`); default true. */
  training?: boolean
}

/** What a module computed in one dtype; `null` entries were not finite. */
export interface TorchOutputs {
  loss: (number | null)[]
  perturbed: (number | null)[]
  /** Autograd's gradient of the sum of the loss w.r.t. the logits. */
  autograd: (number | null)[]
  /** The module's closed-form `gradient`, where it has one. */
  gradient?: (number | null)[]
}

/** A job's outputs in float64 and float32, or the error the module raised. */
export type TorchDtypeResults = Record<'float64' | 'float32', TorchOutputs | { error: string }>

/** A job's outputs on the eager module and, when asked for, on the module compiled by `torch.jit.script`. */
export type TorchResult = TorchDtypeResults & { scripted?: TorchDtypeResults }

/** Options of {@link runTorchJobs}. */
export interface TorchJobOptions {
  /** Also run each job on the module compiled by `torch.jit.script` (`TorchResult.scripted`); default false. */
  scripted?: boolean
}

/**
 * Runs every job in one Python process (torch's import takes seconds): writes each distinct module
 * to a temporary folder, runs {@link TORCH_DRIVER} on them, and returns the results in job order.
 */
export async function runTorchJobs(jobs: readonly TorchJob[], options: TorchJobOptions = {}): Promise<TorchResult[]> {
  const dir = mkdtempSync(join(tmpdir(), 'logit-perturb-torch-'))
  try {
    const files = new Map<string, string>()
    const input = jobs.map((job) => {
      let file = files.get(job.module.source)
      if (file === undefined) {
        file = join(dir, `loss_${files.size}.py`)
        writeFileSync(file, job.module.source)
        files.set(job.module.source, file)
      }
      return {
        module: file,
        className: job.module.className,
        task: job.module.task,
        reduction: job.reduction,
        logits: job.logits,
        labels: job.labels,
        soft_targets: job.softTargets ?? false,
        ignore_index: job.ignoreIndex ?? null,
        sample_weight: job.sampleWeight ?? null,
        mask: job.mask ?? null,
        batch_inputs: job.batchInputs ?? {},
        training: job.training ?? true,
      }
    })
    const inputFile = join(dir, 'jobs.json')
    const outputFile = join(dir, 'results.json')
    writeFileSync(inputFile, JSON.stringify(input))
    await runPython(TORCH_DRIVER, [inputFile, outputFile, ...(options.scripted === true ? ['script'] : [])])
    return JSON.parse(readFileSync(outputFile, 'utf8')) as TorchResult[]
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

/** Non-finite entries (`null`) as NaN, so that a comparison with them fails. */
export function values(x: readonly (number | null)[]): Float64Array {
  return Float64Array.from(x, (v) => (v === null ? Number.NaN : v))
}
