import { relativeError } from '@logit-perturb/core/verify'
import { exportTorchModule } from '@logit-perturb/pytorch'
import { type LoadedCase, type NestedNumbers, caseNoise, expectedPerturbed, flatten, specOfCase, trainingCase } from '../fixtures.js'
import { type Check, FINITE_DIFFERENCE_RTOL, type GoldenResult } from '../golden.js'
import { type TorchDtypeResults, type TorchJobOptions, type TorchOutputs, runTorchJobs, values } from './jobs.js'

/** Tolerances of the emitted modules: float64 as the reference's, float32 as the other float32 backends'. */
export const TORCH_RTOL = { float64: 1e-9, float32: 1e-4 } as const

/**
 * Every golden case on its exported PyTorch module, in float64 and float32 (one Python process),
 * dense cases on their `[N, C, H, W]` logits with their ignore label and soft-target cases on their
 * probability rows: the loss, the perturbed logits, autograd's gradient and, for rules with one,
 * the module's closed-form gradient, each against the case's stored values. With `scripted`, the
 * same on the module compiled by `torch.jit.script` (checks named `scripted …`). A case passes when
 * both dtypes, and both modules, do.
 */
export async function runTorchGolden(cases: readonly LoadedCase[], options: TorchJobOptions = {}): Promise<GoldenResult[]> {
  const jobs = cases.map(({ data: c }) => ({
    module: exportTorchModule(specOfCase(c), { numClasses: c.numClasses }),
    reduction: 'mean' as const,
    logits: c.logits,
    // Soft-target cases hold their probability rows in `targets`; dense cases their ignore label.
    labels: (c.targets ?? c.labels) as NestedNumbers,
    softTargets: c.targets !== undefined,
    ignoreIndex: c.ignoreIndex,
    training: trainingCase(c),
    ...(caseNoise(c) === undefined ? {} : { batchInputs: { noise: caseNoise(c)! } }),
  }))
  const results = await runTorchJobs(jobs, options)
  return cases.map((loaded, k) => {
    const c = loaded.data
    const checks: Check[] = []
    const skipped: string[] = []
    const variants: [string, TorchDtypeResults | undefined][] = [['', results[k]]]
    if (options.scripted === true) variants.push(['scripted ', results[k]!.scripted])
    for (const [variant, result] of variants)
      for (const dtype of ['float64', 'float32'] as const) {
        const out = result?.[dtype] ?? { error: 'no result' }
        const tolerance: number = TORCH_RTOL[dtype]
        if ('error' in out) {
          checks.push({ what: `${variant}${dtype}: ${out.error}`, error: Infinity, tolerance })
          continue
        }
        const compare = (what: string, actual: TorchOutputs[keyof TorchOutputs], expected: ArrayLike<number>, rtol = tolerance) => {
          if (actual !== undefined)
            checks.push({ what: `${variant}${dtype} ${what}`, error: relativeError(values(actual), expected), tolerance: rtol })
        }
        // A gradient stored as a central difference is only as accurate as the difference.
        const gradientRtol = typeof c.gradLogitsBy === 'string' ? Math.max(tolerance, FINITE_DIFFERENCE_RTOL) : tolerance
        compare('loss', out.loss, [c.loss])
        const perturbed = expectedPerturbed(c)
        if (perturbed !== undefined) compare('perturbedLogits', out.perturbed, perturbed)
        else if (dtype === 'float64' && variant === '')
          skipped.push('perturbedLogits: the case implies none (one batch per part of a soft target)')
        compare('gradLogits (autograd)', out.autograd, flatten(c.gradLogits).values, gradientRtol)
        compare('gradLogits (closed form)', out.gradient, flatten(c.gradLogits).values, gradientRtol)
      }
    return { id: loaded.id, passed: checks.every((k) => k.error <= k.tolerance!), checks, skipped }
  })
}
