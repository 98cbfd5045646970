import { thirdsAccuracy, type GroupAccuracy } from '@logit-perturb/core'
import type { RunResult } from '../train/run.js'

/** Mean and sample standard deviation (0 for a single value). */
export interface MeanStd {
  mean: number
  std: number
}

export function meanStd(values: readonly number[]): MeanStd {
  const mean = values.reduce((a, b) => a + b, 0) / values.length
  const variance = values.length > 1 ? values.reduce((a, v) => a + (v - mean) ** 2, 0) / (values.length - 1) : 0
  return { mean, std: Math.sqrt(variance) }
}

/** One method's results over its seeds. */
export interface MethodSummary {
  method: string
  seeds: number[]
  balancedAccuracy: MeanStd
  /** Head/medium/tail thirds (by training count) of the per-class accuracies, mean over seeds. */
  groups: { head?: MeanStd; medium?: MeanStd; tail?: MeanStd }
  /** Per-class accuracy, mean over seeds (null for a class without test samples). */
  perClass: (number | null)[]
  /** Pixel accuracy over seeds (segmentation runs). */
  pixelAccuracy?: MeanStd
  runs: RunResult[]
}

/** Aggregates the runs of one method. */
export function summarize(method: string, runs: RunResult[], counts: readonly number[]): MethodSummary {
  const perSeedGroups = runs.map((r) => thirdsAccuracy(r.perClass, counts))
  const group = (key: keyof GroupAccuracy): MeanStd | undefined => {
    const values = perSeedGroups.map((g) => g[key]).filter((v): v is number => v !== undefined)
    return values.length ? meanStd(values) : undefined
  }
  const groups: MethodSummary['groups'] = {}
  for (const key of ['head', 'medium', 'tail'] as const) {
    const value = group(key)
    if (value) groups[key] = value
  }
  const pixelAccuracy = runs.map((r) => r.pixelAccuracy).filter((v): v is number => v !== undefined)
  return {
    method,
    seeds: runs.map((r) => r.seed),
    balancedAccuracy: meanStd(runs.map((r) => r.balancedAccuracy)),
    groups,
    perClass: counts.map((_, c) => {
      const values = runs.map((r) => r.perClass[c]).filter((v): v is number => v !== null && v !== undefined)
      return values.length ? meanStd(values).mean : null
    }),
    ...(pixelAccuracy.length === runs.length && runs.length > 0 ? { pixelAccuracy: meanStd(pixelAccuracy) } : {}),
    runs,
  }
}
