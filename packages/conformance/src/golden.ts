import type { Backend } from '@logit-perturb/core/verify'
import {
  alaMargins,
  createLoss,
  dbBias,
  drwWeights,
  labelAwareSmoothingValues,
  generalizedReweightWeights,
  labelPriors,
  ldamMargins,
  ladeHostTerms,
  lplSteps,
  officialLongtailSteps,
  priorSplitBounds,
  reversedPriors,
} from '@logit-perturb/core'
import { relativeError } from '@logit-perturb/core/verify'
import { centralDifferenceAsync } from './centralDifference.js'
import { type LoadedCase, caseInputs, expectedPerturbed, flatten, specOfCase, trainingCase } from './fixtures.js'

/** One compared quantity; `tolerance` overrides the backend's own where the method is approximate. */
export interface Check {
  what: string
  error: number
  tolerance?: number
}

/** The step of the central differences that check a through-gradient on a float64 backend without autodiff. */
const FINITE_DIFFERENCE_STEP = 1e-5
/**
 * Tolerance of a central finite difference with step 1e-5 in float64 (rounding ~1e-11 absolute, at
 * gradients of ~1e-3): a check against one, or of a fixture's gradient stored as one (`gradLogitsBy`).
 */
export const FINITE_DIFFERENCE_RTOL = 1e-5

/** The outcome of one golden case on one backend. */
export interface GoldenResult {
  id: string
  passed: boolean
  /** Each quantity checked with its relative error, and what was not checked and why. */
  checks: Check[]
  skipped: string[]
}

/**
 * Runs one golden case on one backend: loss and perturbed logits always; the gradient w.r.t. the
 * logits by the closed form where the rule has one, else by the backend's autodiff where it has it;
 * and the host-side step counts, margins and weights the case lists.
 */
export async function runGoldenCase<T>(backend: Backend<T>, loaded: LoadedCase): Promise<GoldenResult> {
  const c = loaded.data
  const checks: Check[] = []
  const skipped: string[] = []
  const run = backend.scope ?? ((fn) => fn())
  await run(async () => {
    const spec = specOfCase(c)
    const { logits, labels, options, context } = caseInputs(backend.ops, c)
    const loss = createLoss(backend.ops, spec, options)
    const ctx = { ...context, training: trainingCase(c) }
    const evaluation = loss.evaluate(logits, labels, ctx)
    checks.push({ what: 'loss', error: relativeError(await backend.read(evaluation.loss), [c.loss]) })
    const perturbed = expectedPerturbed(c)
    if (perturbed === undefined) skipped.push('perturbedLogits: the case implies none (one batch per part of a soft target)')
    else {
      const actual = evaluation.rows.entriesBack(evaluation.batch.logits)
      checks.push({ what: 'perturbedLogits', error: relativeError(await backend.read(actual), perturbed) })
    }
    const expectedGrad = flatten(c.gradLogits).values
    if (loss.hasClosedFormGradient) {
      checks.push({ what: 'gradLogits', error: relativeError(await backend.read(loss.gradient(logits, labels, ctx)), expectedGrad) })
    } else if (backend.grad) {
      const grad = backend.grad((u) => loss(u, labels, ctx), logits)
      checks.push({ what: 'gradLogits (autodiff)', error: relativeError(await backend.read(grad), expectedGrad) })
    } else if (backend.rtol < 1e-6) {
      // A float64 backend without autodiff: a central difference still checks the through-gradient.
      const { shape, values } = flatten(c.logits)
      const lossAt = async (u: Float64Array) => (await backend.read(loss(backend.ops.constant(u, shape), labels, ctx)))[0]!
      const fd = await centralDifferenceAsync(lossAt, values, FINITE_DIFFERENCE_STEP)
      checks.push({ what: 'gradLogits (finite difference)', error: relativeError(fd, expectedGrad), tolerance: FINITE_DIFFERENCE_RTOL })
    } else {
      skipped.push('gradLogits: the gradient flows through the steps and this backend has no autodiff')
    }
  })
  checks.push(...hostChecks(loaded))
  const passed = checks.every((k) => k.error <= (k.tolerance ?? backend.rtol))
  return { id: loaded.id, passed, checks, skipped }
}

/** Host-side quantities a case lists, checked exactly (they are backend independent). */
function hostChecks({ data: c }: LoadedCase): Check[] {
  if (c.kind === 'official-longtail') {
    const steps = officialLongtailSteps(
      c.classCounts as number[],
      c.split as number,
      c.stepSize as number,
      c.headFactor as number,
      c.steps as number,
    )
    return [
      { what: 'getStepRaw', error: relativeError(steps.raw, c.getStepRaw as number[]) },
      { what: 'classSteps', error: relativeError(steps.clamped, c.classSteps as number[]) },
    ]
  }
  if (c.kind === 'logit-adjusted-bce' || c.kind === 'db-negative-tolerant') {
    const counts = c.classCounts as number[]
    const numSamples = c.numSamples as number
    const out = [{ what: 'priors', error: relativeError(labelPriors(counts, numSamples), c.priors as number[]) }]
    if (c.kind === 'db-negative-tolerant') {
      out.push({ what: 'bias', error: relativeError(dbBias(counts, numSamples, c.kappa as number), c.bias as number[]) })
    }
    return out
  }
  if (c.kind === 'lpl-multilabel') {
    const split = priorSplitBounds(
      c.classCounts as number[],
      c.epsilon as number,
      c.deltaEpsilon as number,
      (c.headClasses as number | null) ?? undefined,
    )
    const steps = split.bounds.map((b) => lplSteps(b, c.alpha as number, c.maxSteps as number))
    return [
      { what: 'directions', error: relativeError(split.directions, c.directions as number[]) },
      { what: 'classSteps', error: relativeError(steps, c.classSteps as number[]) },
    ]
  }
  if (c.kind === 'lade') {
    // The two terms from their formulas on the host, against the released code's.
    const terms = ladeHostTerms(c.logits as number[][], c.labels as number[], c.classCounts as number[], c.remineLambda as number)
    return [
      { what: 'batchClassCounts', error: relativeError(terms.batchClassCounts, c.batchClassCounts as number[]) },
      { what: 'ceLoss', error: relativeError([terms.ceLoss], [c.ceLoss as number]) },
      { what: 'ladeLoss', error: relativeError([terms.ladeLoss], [c.ladeLoss as number]) },
      { what: 'loss = ceLoss + alpha·ladeLoss', error: relativeError([terms.ceLoss + (c.alpha as number) * terms.ladeLoss], [c.loss]) },
    ]
  }
  if (c.kind === 'diverse-experts') {
    return [{ what: 'inversePrior', error: relativeError(reversedPriors(c.classCounts as number[]), c.inversePrior as number[]) }]
  }
  if (c.kind === 'class-balanced') {
    return [
      { what: 'classWeights', error: relativeError(drwWeights(c.classCounts as number[], c.beta as number), c.classWeights as number[]) },
    ]
  }
  if (c.kind === 'label-aware-smoothing') {
    const smoothing = labelAwareSmoothingValues(
      c.classCounts as number[],
      c.smoothHead as number,
      c.smoothTail as number,
      c.shape as 'concave' | 'linear' | 'convex' | 'exp',
      (c.power as number | null) ?? undefined,
    )
    return [{ what: 'classSmoothing', error: relativeError(smoothing, c.classSmoothing as number[]) }]
  }
  if (c.kind === 'generalized-reweighting') {
    return [
      {
        what: 'classWeights',
        error: relativeError(generalizedReweightWeights(c.classCounts as number[], c.exponent as number), c.classWeights as number[]),
      },
    ]
  }
  if (c.kind === 'adaptive-logit-adjustment') {
    const out = [{ what: 'margins', error: relativeError(alaMargins(c.classCounts as number[]), c.margins as number[]) }]
    // The released code's re-weighting stage: class-balanced with β = 0.9999, rescaled to Σ w = C.
    if (c.classWeights) {
      out.push({ what: 'classWeights', error: relativeError(drwWeights(c.classCounts as number[], 0.9999), c.classWeights as number[]) })
    }
    return out
  }
  if (c.kind === 'ldam') {
    const out = [
      { what: 'margins', error: relativeError(ldamMargins(c.classCounts as number[], c.maxMargin as number), c.margins as number[]) },
    ]
    if (c.classWeights) {
      out.push({
        what: 'classWeights',
        error: relativeError(drwWeights(c.classCounts as number[], c.drwBeta as number), c.classWeights as number[]),
      })
    }
    return out
  }
  return []
}
