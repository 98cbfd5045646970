/**
 * The cost of each rule's loss plus its gradient w.r.t. the logits, per backend and shape: the median
 * time over repetitions after warm-up, its ratio to cross-entropy on the same backend and shape in
 * the same run, and the memory of one call.
 */
import * as tf from '@tensorflow/tfjs-core'
import { type RefTensor, type RuleInput, createLoss, mulberry32, referenceOps, ruleFacts } from '@logit-perturb/core'
import { lplSearchHost } from '@logit-perturb/core/backend'
import { longTailCounts, longTailLabel, uniform } from '@logit-perturb/conformance'
import { onTfjsBackend } from '@logit-perturb/conformance/backends'
import { type TfjsLoss, createTfjsLoss } from '@logit-perturb/tfjs'
import { type SymbolicTensor, createSession, createSymbolicOps, exportLossModel, runModel } from '@logit-perturb/onnx'
import { decodeModel } from '../packages/onnx/src/readModel.js'
import { trackLargest } from './largest.js'

export const SHAPES: [number, number][] = [
  [128, 10],
  [128, 100],
  [512, 1000],
]
/**
 * The rows of the table: the rules with their default options, and LPL's other search paths —
 * `lpl-ops` (`search: 'ops'`, what WebGL and WebGPU run) and `lpl-through` (`gradient: 'through'`) —
 * then the rules of `lpl train`'s second catalogue, with the specs of its methods of the same names.
 */
export const RULES = [
  'ce',
  'la',
  'ldam',
  'lpl',
  'lpl-ops',
  'lpl-through',
  'official-longtail',
  'grw',
  'ala',
  'lade',
  'mislas',
  'bal-bce',
  'gcl',
  'bal-experts',
  'sade',
] as const
export type RuleName = (typeof RULES)[number]

/** The loss options of a row: `search: 'ops'` for `lpl-ops`, else the defaults. */
function optionsFor(rule: RuleName): { search?: 'ops' } {
  return rule === 'lpl-ops' ? { search: 'ops' } : {}
}

/** Rows that only differ from another on backends with a host search (the tfjs cpu and wasm backends). */
const HOST_ONLY: readonly RuleName[] = ['lpl-ops']

/** The spec of each benchmarked rule for `c` classes (long-tailed counts, ratio 100). */
export function specFor(rule: RuleName, c: number): RuleInput {
  const classCounts = longTailCounts(c, 5000, 100)
  switch (rule) {
    case 'ce':
      return { rule: 'ce', numClasses: c }
    case 'la':
      return { rule: 'logit-adjustment', tau: 1, classCounts }
    case 'ldam':
      return { rule: 'ldam', classCounts, scale: 30 }
    // K = 10 steps for every class: ε + Δε bounds of 1.5 with α = 0.15, capped at 10.
    case 'lpl':
    case 'lpl-ops':
    case 'lpl-through':
      return {
        rule: 'lpl',
        split: 'fixed',
        directions: classCounts.map((_, k) => (k < c / 2 ? -1 : 1)),
        bounds: classCounts.map(() => 1.5),
        alpha: 0.15,
        maxSteps: 10,
        ...(rule === 'lpl-through' ? { gradient: 'through' as const } : {}),
      }
    case 'official-longtail':
      return { rule: 'official-longtail', classCounts, headClasses: Math.floor(c / 3), steps: 10, stepScale: 10 }
    case 'grw':
      return { rule: 'generalized-reweighting', classCounts, exponent: 1 }
    case 'ala':
      return { rule: 'adaptive-logit-adjustment', classCounts, scale: 30 }
    case 'lade':
      return { rule: 'lade', classCounts, alpha: 0.1, remineLambda: 0.1 }
    case 'mislas':
      return { rule: 'label-aware-smoothing', classCounts, smoothHead: 0.4, smoothTail: 0.1, shape: 'concave' }
    case 'bal-bce':
      return { rule: 'balanced-bce', classCounts }
    case 'gcl':
      return { rule: 'gaussian-clouded-logit', classCounts, scale: 30, margin: 0, noiseMul: 0.5 }
    case 'bal-experts':
      return { rule: 'balanced-experts', classCounts, taus: [0, 1, 2] }
    case 'sade':
      return { rule: 'diverse-experts', classCounts, tau: 2 }
  }
}

/** The logits' width of a row: `E·C` for a rule of `E` heads (docs/spec.md#313-multi-head-rules), else `C`. */
function widthOf(rule: RuleName, c: number): number {
  return ruleFacts(specFor(rule, c)).heads * c
}

/**
 * A seeded batch: long-tailed labels and logits `[N, width]`, `width = E·C` for `E` heads (head-major,
 * each head's column of the label raised by 2); the labels do not depend on `width`.
 */
export function benchBatch(n: number, c: number, width = c): { logits: Float32Array; labels: Int32Array } {
  const rand = mulberry32(n * 1000 + c)
  const labels = Int32Array.from({ length: n }, () => longTailLabel(rand, c))
  const logits = Float32Array.from(
    { length: n * width },
    (_, k) => uniform(rand, 1) + ((k % width) % c === labels[Math.floor(k / width)] ? 2 : 0),
  )
  return { logits, labels }
}

/** One measured cell of the table. */
export interface Measurement {
  backend: string
  n: number
  c: number
  rule: RuleName
  /** Median milliseconds of one loss-plus-gradient call, with the default options. */
  medianMs: number
  /** The same with the input checks off (`checks: 'shapes'`), on the backends that check values. */
  checksOffMs?: number
  repetitions: number
  /** Time over `ce`'s on the same backend and shape. */
  ratioToCe?: number
  /** Bytes: tfjs's peak allocation during a call, or the largest intermediate tensor elsewhere. */
  memoryBytes: number
  memoryKind: 'peak' | 'largest intermediate'
  /** What the timed call computes. */
  computes: string
  /** ONNX: the exported model's operator nodes and file size. */
  graph?: { nodes: number; bytes: number }
  searchPath?: string
  /** `lpl` on tfjs: the median milliseconds of `lplSearchHost` alone on the same batch (float64 JavaScript, no tfjs). */
  hostSearchMs?: number
}

/** Median of the durations of `fn` over repetitions (at least 3, about `budgetMs` in all), after warm-up. */
async function medianMs(fn: () => Promise<void>, budgetMs: number): Promise<{ median: number; repetitions: number }> {
  // Warm-up (kernels, sessions, caches, the JIT): at least 3 calls and 100 ms.
  let calls = 0
  const first = performance.now()
  while (calls < 3 || performance.now() - first < 100) {
    await fn()
    calls++
  }
  const once = (performance.now() - first) / calls
  const repetitions = Math.max(3, Math.min(50, Math.floor(budgetMs / Math.max(once, 0.01))))
  const times: number[] = []
  for (let r = 0; r < repetitions; r++) {
    const t = performance.now()
    await fn()
    times.push(performance.now() - t)
  }
  times.sort((a, b) => a - b)
  return { median: times[Math.floor(times.length / 2)]!, repetitions }
}

async function referenceCell(rule: RuleName, n: number, c: number, budget: number): Promise<Measurement> {
  const width = widthOf(rule, c)
  const { logits, labels } = benchBatch(n, c, width)
  const tracked = trackLargest(referenceOps, (t: RefTensor) => t.data.length)
  const loss = createLoss(tracked.ops, specFor(rule, c), { search: 'ops' })
  const u = referenceOps.constant(logits, [n, width])
  const y = referenceOps.constant(labels, [n], 'int32')
  const call = async () => {
    if (loss.hasClosedFormGradient) loss.gradient(u, y)
    else loss(u, y)
  }
  const { median, repetitions } = await medianMs(call, budget)
  tracked.reset()
  await call()
  return {
    backend: 'reference',
    n,
    c,
    rule,
    medianMs: median,
    repetitions,
    memoryBytes: 8 * tracked.largest(),
    memoryKind: 'largest intermediate',
    computes: loss.hasClosedFormGradient ? 'loss + closed-form gradient' : 'loss (no closed form, no autodiff)',
  }
}

async function tfjsCell(backend: 'cpu' | 'wasm', rule: RuleName, n: number, c: number, budget: number): Promise<Measurement> {
  return onTfjsBackend(backend, async () => {
    const width = widthOf(rule, c)
    const { logits, labels } = benchBatch(n, c, width)
    const u = tf.tensor2d(logits, [n, width])
    const y = tf.tensor1d(labels, 'int32')
    // What a user gets (createTfjsLoss's defaults: checks 'auto', values checked on cpu and wasm),
    // then the same with the checks off, timed alternately so that drift hits both alike.
    const byDefault = createTfjsLoss(specFor(rule, c), optionsFor(rule))
    const checksOff = createTfjsLoss(specFor(rule, c), { ...optionsFor(rule), checks: 'shapes' })
    const callOf = (loss: TfjsLoss) => {
      const valueAndGrad = tf.valueAndGrad((x: tf.Tensor) => loss(x, y))
      return async () => {
        const { value, grad } = valueAndGrad(u)
        await grad.data()
        tf.dispose([value, grad])
      }
    }
    const [timed, timedOff] = await medianMsOfPair(callOf(byDefault), callOf(checksOff), budget)
    const before = tf.memory().numBytes
    const profile = await tf.profile(callOf(byDefault))
    tf.dispose([u, y])
    byDefault.dispose()
    checksOff.dispose()
    return {
      backend: `tfjs-${backend}`,
      n,
      c,
      rule,
      medianMs: timed.median,
      checksOffMs: timedOff.median,
      repetitions: timed.repetitions,
      memoryBytes: profile.peakBytes - before,
      memoryKind: 'peak',
      computes: 'loss + autodiff gradient',
      searchPath: byDefault.searchPath,
      ...(rule === 'lpl' ? { hostSearchMs: await hostSearchMedian(specFor(rule, c), logits, labels, budget) } : {}),
    }
  })
}

/** The median milliseconds of LPL's host search alone (`lplSearchHost`) for a fixed-split spec on a batch. */
async function hostSearchMedian(spec: RuleInput, logits: Float32Array, labels: Int32Array, budget: number): Promise<number> {
  const fixed = spec as unknown as { directions: number[]; bounds: number[]; alpha: number; maxSteps: number }
  const c = fixed.directions.length
  const inputs = { logits, labels, numClasses: c, ...fixed, unrolledSteps: fixed.maxSteps, normalize: true }
  const { median } = await medianMs(async () => {
    lplSearchHost(inputs)
  }, budget)
  return median
}

/** {@link medianMs} of two calls timed in alternation (warmed up together). */
async function medianMsOfPair(a: () => Promise<void>, b: () => Promise<void>, budgetMs: number) {
  const times: [number[], number[]] = [[], []]
  const both = async () => {
    for (const [k, fn] of [a, b].entries()) {
      const t = performance.now()
      await fn()
      times[k]!.push(performance.now() - t)
    }
  }
  const { repetitions } = await medianMs(both, 2 * budgetMs)
  const median = (list: number[]) => {
    const timed = list.slice(-repetitions).sort((x, y) => x - y)
    return { median: timed[Math.floor(timed.length / 2)]!, repetitions }
  }
  return [median(times[0]), median(times[1])] as const
}

async function onnxCell(rule: RuleName, n: number, c: number, budget: number): Promise<Measurement> {
  const width = widthOf(rule, c)
  const { logits, labels } = benchBatch(n, c, width)
  const spec = specFor(rule, c)
  const model = exportLossModel(spec, { numClasses: c })
  const session = await createSession(model.bytes)
  const ids = BigInt64Array.from(labels, (v) => BigInt(v))
  // A training graph's batch inputs (GCL's noise, the logits' shape): seeded values within their bounds.
  const rand = mulberry32(n + c)
  const declared = (ruleFacts(spec).batchInputs ?? []).map(({ name, field, bounds: [low, high] }) => ({
    name,
    field,
    data: Float32Array.from({ length: n * width }, () => low + (high - low) * rand()),
  }))
  const batchInputs = Object.fromEntries(declared.map(({ name, data }) => [name, { data, dims: [n, width] }]))
  const call = async () => {
    await runModel(session, { logits: { data: logits, dims: [n, width] }, labels: { data: ids, dims: [n] }, ...batchInputs })
  }
  const { median, repetitions } = await medianMs(call, budget)
  // The largest value of the same graph, with the batch size of the call.
  const tracked = trackLargest(createSymbolicOps(), (t: SymbolicTensor) => t.shape.reduce((a, d) => a * (d < 0 ? n : d), 1))
  const symbolic = createLoss(tracked.ops, spec)
  const ctx = Object.fromEntries(declared.map(({ field, data }) => [field, tracked.ops.constant(data, [n, width])]))
  symbolic.evaluate(tracked.ops.constant(logits, [n, width]), tracked.ops.constant(labels, [n], 'int32'), ctx)
  await session.release()
  return {
    backend: 'onnx-wasm',
    n,
    c,
    rule,
    medianMs: median,
    repetitions,
    memoryBytes: 4 * tracked.largest(),
    memoryKind: 'largest intermediate',
    computes: model.hasClosedFormGradient ? 'loss + perturbed logits + closed-form gradient' : 'loss + perturbed logits (no closed form)',
    graph: { nodes: decodeModel(model.bytes).graph.node.length, bytes: model.bytes.length },
  }
}

/** Measures every backend, shape and rule; `onCell` sees each result as it comes. */
export async function measureLosses(options: {
  budgetMs: number
  backends: string[]
  /** N × C, default {@link SHAPES}. */
  shapes?: [number, number][]
  /** Only these rows of {@link RULES} (`ce`, the baseline, always runs); default every row. */
  rows?: string[]
  onCell?: (m: Measurement) => void
}): Promise<Measurement[]> {
  const shapes = options.shapes ?? SHAPES
  const unknown = (options.rows ?? []).filter((r) => !(RULES as readonly string[]).includes(r))
  if (unknown.length > 0 && options.backends.some((b) => b !== 'pytorch'))
    throw new Error(`--rows: no row ${unknown.join(', ')} on ${options.backends.filter((b) => b !== 'pytorch')}; rows: ${RULES.join(', ')}`)
  const out: Measurement[] = []
  const cells: [string, (rule: RuleName, n: number, c: number) => Promise<Measurement>][] = [
    ['reference', (r, n, c) => referenceCell(r, n, c, options.budgetMs)],
    ['tfjs-cpu', (r, n, c) => tfjsCell('cpu', r, n, c, options.budgetMs)],
    ['tfjs-wasm', (r, n, c) => tfjsCell('wasm', r, n, c, options.budgetMs)],
    ['onnx-wasm', (r, n, c) => onnxCell(r, n, c, options.budgetMs)],
  ]
  for (const [name, cell] of cells.filter(([backend]) => options.backends.includes(backend))) {
    // A discarded first cell: the first measurements of a backend otherwise carry its start-up.
    if (shapes.length > 0) await cell('ce', shapes[0]![0], shapes[0]![1])
    for (const [n, c] of shapes) {
      let ce: number | undefined
      for (const rule of RULES) {
        if (HOST_ONLY.includes(rule) && !name.startsWith('tfjs')) continue
        if (options.rows !== undefined && rule !== 'ce' && !options.rows.includes(rule)) continue
        const m = await cell(rule, n, c)
        if (rule === 'ce') ce = m.medianMs
        m.ratioToCe = m.medianMs / ce!
        out.push(m)
        options.onCell?.(m)
      }
    }
  }
  return out
}
