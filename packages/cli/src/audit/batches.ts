import { type RuleSpec, mulberry32, ruleFacts } from '@logit-perturb/core'
import { type AuditBatch, IGNORE_INDEX } from './types.js'

/** Probe directions per batch: enough to tell a cut gradient from a whole one. */
const PROBES = 3

/**
 * The audit batches of a spec (docs/spec.md#13-auditing-an-implementation): the conformance suite's
 * hard cases as data. `C` classes (`E·C` logits for `E` heads), seeded by `seed`:
 * - `long-tailed mix`: 32 samples, labels drawn in proportion to the spec's class counts (or
 *   geometric ones), logits of magnitude 2;
 * - `large logits` (magnitude 30) and `extreme logits` (magnitude 10⁴, where an unstable log-sum-exp
 *   overflows);
 * - `classes absent`: labels from the first half of the classes only;
 * - `one sample per class` and `one sample`;
 * - `rows shifted`: the long-tailed mix with a constant added to each row's logits;
 * - `ignored labels` (single-label specs): the long-tailed mix with every fourth label
 *   {@link IGNORE_INDEX}, rows that count for nothing (the spec's masks, as `F.cross_entropy` takes
 *   them);
 * - for each epoch the spec switches at, the long-tailed mix at the epoch before and at the epoch.
 * Multi-label batches draw each label with the spec's prior (counts over `numSamples`, or 0.3).
 * A rule's batch inputs (GCL's noise) are drawn within their bounds.
 */
export function auditBatches(spec: RuleSpec, numClasses: number, seed = 0): AuditBatch[] {
  const facts = ruleFacts(spec)
  const c = numClasses
  const heads = facts.heads
  const rand = mulberry32(seed * 7919 + 101)
  const gauss = () => Math.sqrt(-2 * Math.log(rand() + 1e-12)) * Math.cos(2 * Math.PI * rand())
  const counts = 'classCounts' in spec ? (spec.classCounts as number[]) : Array.from({ length: c }, (_, k) => 2 ** (c - 1 - k))
  const task = facts.task
  const numSamples = 'numSamples' in spec ? (spec.numSamples as number) : undefined

  const drawLabel = (classes: number) => {
    const weights = counts.slice(0, classes).map((v) => Math.max(v, 1))
    let r = rand() * weights.reduce((a, b) => a + b, 0)
    let y = 0
    while (y < classes - 1 && r >= weights[y]!) r -= weights[y++]!
    return y
  }
  const labelRow = (classes: number) =>
    Array.from({ length: c }, (_, k) => (k < classes && rand() < (numSamples ? Math.max(counts[k]! / numSamples, 0.05) : 0.3) ? 1 : 0))
  /** Logits `scale·(noise + 1.5·[the label])` for each head: a model that is right more often than not. */
  const logitsFor = (labels: AuditBatch['labels'], scale: number) =>
    labels.map((y) =>
      Array.from({ length: heads * c }, (_, k) => {
        const j = k % c
        const positive = Array.isArray(y) ? y[j] === 1 : y === j
        return scale * (gauss() + (positive ? 1.5 : 0))
      }),
    )
  const make = (name: string, labels: AuditBatch['labels'], scale: number, extra: Partial<AuditBatch> = {}): AuditBatch => {
    const logits = extra.logits ?? logitsFor(labels, scale)
    return { name, task, logits, labels, ...extra, probe: probeOf(logits, rand) }
  }
  const labelsOf = (n: number, classes = c): AuditBatch['labels'] =>
    task === 'multi' ? Array.from({ length: n }, () => labelRow(classes)) : Array.from({ length: n }, () => drawLabel(classes))

  const mix = make('long-tailed mix', labelsOf(32), 2)
  const perClass: AuditBatch['labels'] =
    task === 'multi' ? Array.from({ length: c }, (_, i) => Array.from({ length: c }, (_, k) => (k === i ? 1 : 0))) : shuffled(c, rand)
  const batches: AuditBatch[] = [
    mix,
    make('large logits', labelsOf(16), 30),
    make('extreme logits', labelsOf(8), 1e4),
    make('classes absent', labelsOf(12, Math.max(1, Math.ceil(c / 2))), 2),
    make('one sample per class', perClass, 2),
    make('one sample', labelsOf(1), 2),
    make('rows shifted', mix.labels, 0, {
      logits: mix.logits.map((row) => {
        const shift = 50 * (2 * rand() - 1)
        return row.map((v) => v + shift)
      }),
      shiftOf: 0,
    }),
  ]
  if (task === 'single') {
    const labels = (mix.labels as number[]).map((y, i) => (i % 4 === 3 ? IGNORE_INDEX : y))
    batches.push(make('ignored labels', labels, 0, { logits: mix.logits, ignored: true }))
  }
  for (const epoch of facts.epochSwitches) {
    for (const e of [epoch - 1, epoch]) batches.push(make(`epoch ${e}`, mix.labels, 0, { logits: mix.logits, epoch: e }))
  }
  const noise = (facts.batchInputs ?? []).find((input) => input.field === 'noise')
  if (noise !== undefined) {
    const [low, high] = noise.bounds
    for (const b of batches) b.noise = b.logits.map((row) => row.map(() => low + (high - low) * rand()))
  }
  // Every batch runs at an epoch when the spec switches at one: the implementation sees the epoch
  // the spec's reference does.
  if (facts.epochSwitches.length > 0) for (const b of batches) b.epoch ??= 0
  return batches
}

/** `0 … n−1` in a seeded order. */
function shuffled(n: number, rand: () => number): number[] {
  const out = Array.from({ length: n }, (_, i) => i)
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1))
    ;[out[i], out[j]] = [out[j]!, out[i]!]
  }
  return out
}

/**
 * Unit directions and a step for the directional central differences of a batch: `h` grows with
 * the logits' magnitude so that rounding (`ε·|L|/h`) stays small in float64.
 */
function probeOf(logits: number[][], rand: () => number): AuditBatch['probe'] {
  const size = logits.length * (logits[0]?.length ?? 0)
  const largest = Math.max(1, ...logits.flat().map(Math.abs))
  const directions = Array.from({ length: PROBES }, () => {
    const v = Array.from({ length: size }, () => 2 * rand() - 1)
    const norm = Math.sqrt(v.reduce((a, x) => a + x * x, 0)) || 1
    return v.map((x) => x / norm)
  })
  return { directions, h: 1e-5 * largest }
}
