import {
  type ConformanceCase,
  type ConformanceCheck,
  type ConformanceValues,
  compareConformance,
  conformanceExpectation,
} from '@logit-perturb/core/verify'
import { ruleFacts } from '@logit-perturb/core'
import { exportTorchModule } from '@logit-perturb/pytorch'
import { TORCH_RTOL } from './golden.js'
import { type TorchDtypeResults, type TorchJobOptions, runTorchJobs, values } from './jobs.js'

/** The checks of one conformance case on its exported module, in one dtype. */
export interface TorchConformance {
  name: string
  dtype: 'float64' | 'float32'
  /** Whether the module ran compiled by `torch.jit.script`. */
  scripted: boolean
  checks: ConformanceCheck[]
}

/**
 * Every case on its exported PyTorch module in float64 and float32 (one Python process), compared
 * with the float64 reference as every backend is (`compareConformance`): the loss and perturbed
 * logits, the module's closed-form gradient, and autograd's gradient, which must equal the closed
 * form for stop-gradient rules and a float64 central difference for through-gradient rules. With
 * `scripted`, each case also runs on the module compiled by `torch.jit.script`, checked the same way.
 */
export async function torchConformance(cases: readonly ConformanceCase[], options: TorchJobOptions = {}): Promise<TorchConformance[]> {
  const jobs = cases.map((c) => ({
    // The class count: the logits' width, or for a rule with E heads, the width over E.
    module: exportTorchModule(c.spec, { numClasses: c.logits[0]!.length / ruleFacts(c.spec).heads }),
    reduction: c.reduction ?? 'mean',
    logits: c.logits,
    labels: c.labels,
    sampleWeight: c.sampleWeight,
    mask: c.mask,
    // The rule's batch inputs (GCL's noise), under the names the module's arguments have.
    batchInputs: Object.fromEntries(
      (ruleFacts(c.spec).batchInputs ?? []).flatMap((input) => {
        const rows = c.batchInputs?.[input.field]
        return rows === undefined ? [] : [[input.name, rows]]
      }),
    ),
  }))
  const results = await runTorchJobs(jobs, options)
  const out: TorchConformance[] = []
  for (const [k, c] of cases.entries()) {
    // The reference's values (central differences of through-gradients among them) take seconds in
    // all: the event loop turns between cases, so a test worker never stops answering its runner.
    await new Promise((resolve) => setImmediate(resolve))
    const expected = conformanceExpectation(c)
    const variants: [boolean, TorchDtypeResults | undefined][] = [[false, results[k]]]
    if (options.scripted === true) variants.push([true, results[k]!.scripted])
    for (const [scripted, outputs] of variants)
      for (const dtype of ['float64', 'float32'] as const) {
        const result = outputs?.[dtype] ?? { error: 'no result' }
        if ('error' in result) {
          out.push({ name: c.name, dtype, scripted, checks: [{ what: result.error, error: Infinity, tolerance: TORCH_RTOL[dtype] }] })
          continue
        }
        const actual: ConformanceValues = {
          loss: values(result.loss),
          perturbed: values(result.perturbed),
          gradient: result.gradient === undefined ? undefined : values(result.gradient),
          autodiff: values(result.autograd),
        }
        out.push({ name: c.name, dtype, scripted, checks: compareConformance(c, expected, actual, TORCH_RTOL[dtype]) })
      }
  }
  return out
}
