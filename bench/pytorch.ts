/**
 * The `pytorch` backend of `pnpm bench`: forward plus backward of every registered rule's exported
 * module (`exportTorchModule`), of LPL with its gradient through the search, of `torch`'s own
 * `F.cross_entropy` (the baseline) and `F.binary_cross_entropy_with_logits`, and of the authors'
 * balanced-data algorithm as their code is structured (bench/authors_balanced.py), on long-tailed
 * and class-balanced batches. The modules are written here; bench/torch_bench.py times them, every
 * cell in a process forked from one Python process, and reports each cell's median time, its ratio
 * to `F.cross_entropy` on the same shape and batch, and its peak extra resident memory.
 */
import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { MULTI_LABEL_RULE_NAMES, type RuleInput, type RuleName, RULE_NAMES, mulberry32, ruleFacts } from '@logit-perturb/core'
import { longTailCounts, uniform } from '@logit-perturb/conformance'
import { torchPython } from '@logit-perturb/conformance/torch'
import { exportTorchModule } from '@logit-perturb/pytorch'
import { benchBatch, specFor } from './loss.js'

/** N × C: a small and a mid-sized problem, and iNaturalist 2018's 8,142 classes. */
export const TORCH_SHAPES: [number, number][] = [
  [128, 100],
  [512, 1000],
  [256, 8142],
]

/** The batches of every shape: long-tailed labels (the bench's `benchBatch`) and every class equally often (`i mod C`). */
export const TORCH_BATCHES = ['long-tailed', 'balanced'] as const
export type TorchBatch = (typeof TORCH_BATCHES)[number]

/** ISDA's module holds its `[C, C]` perturbation as a literal: above this class count it is not exported. */
const ISDA_MAX_CLASSES = 1000

/**
 * The spec of each registered rule for `c` classes with long-tailed training counts (ratio 100, as
 * `specFor`): a rule added to the registry does not compile until it has one. The rows `la`,
 * `ldam`, `lpl` and `official-longtail` are the other backends' (`specFor`).
 */
const RULE_SPECS: { readonly [R in RuleName]: (c: number, classCounts: number[]) => RuleInput } = {
  ce: (c) => specFor('ce', c),
  'logit-adjustment': (c) => specFor('la', c),
  'balanced-softmax': (_, classCounts) => ({ rule: 'balanced-softmax', classCounts }),
  focal: () => ({ rule: 'focal', gamma: 2 }),
  ldam: (c) => specFor('ldam', c),
  vs: (_, classCounts) => ({ rule: 'vs', classCounts, gamma: 0.2, tau: 1 }),
  cdt: (_, classCounts) => ({ rule: 'cdt', classCounts, gamma: 0.2 }),
  // Classifier weights [C, 16] and diagonal covariances: the module's cost does not depend on them
  // (its perturbation, [C, C], is a constant of the module).
  isda: (c) => ({
    rule: 'isda',
    lambda: 0.5,
    weights: Array.from({ length: c }, (_, k) => Array.from({ length: 16 }, (_, d) => Math.cos(k + 3 * d))),
    covariances: Array.from({ length: c }, (_, k) =>
      Array.from({ length: 16 }, (_, d) => Array.from({ length: 16 }, (_, e) => (d === e ? 0.5 + 0.01 * (k % 7) : 0))),
    ),
  }),
  seesaw: (_, classCounts) => ({ rule: 'seesaw', classCounts }),
  lade: (_, classCounts) => ({ rule: 'lade', classCounts }),
  'generalized-reweighting': (_, classCounts) => ({ rule: 'generalized-reweighting', classCounts }),
  'adaptive-logit-adjustment': (_, classCounts) => ({ rule: 'adaptive-logit-adjustment', classCounts }),
  lpl: (c) => specFor('lpl', c),
  'official-longtail': (c) => specFor('official-longtail', c),
  'official-balanced': () => ({ rule: 'official-balanced', steps: 10, alpha: 0.01 }),
  'label-aware-smoothing': (_, classCounts) => ({ rule: 'label-aware-smoothing', classCounts }),
  'balanced-bce': (_, classCounts) => ({ rule: 'balanced-bce', classCounts }),
  'gaussian-clouded-logit': (_, classCounts) => ({ rule: 'gaussian-clouded-logit', classCounts: classCounts.map((n) => Math.max(n, 1)) }),
  bce: () => ({ rule: 'bce' }),
  // Positives per label among 10,000 samples (the head label in half of them).
  'logit-adjusted-bce': (_, classCounts) => ({ rule: 'logit-adjusted-bce', classCounts, numSamples: 2 * classCounts[0]!, tau: 1 }),
  'db-negative-tolerant': (_, classCounts) => ({ rule: 'db-negative-tolerant', classCounts, numSamples: 2 * classCounts[0]! }),
  'distribution-balanced': (_, classCounts) => ({ rule: 'distribution-balanced', classCounts, numSamples: 2 * classCounts[0]! }),
  'lpl-multilabel': (_, classCounts) => ({ rule: 'lpl-multilabel', classCounts }),
  // Skipped (HEADS_SKIP): their logits are [N, E·C], and the bench's batches are [N, C].
  'balanced-experts': (_, classCounts) => ({ rule: 'balanced-experts', classCounts }),
  'diverse-experts': (_, classCounts) => ({ rule: 'diverse-experts', classCounts }),
}

/** Why the bench leaves out the rules with several heads. */
const HEADS_SKIP = "the rule's logits are the heads' [N, E·C]; the bench's batches are [N, C]"

/** One row of the table: a baseline of torch's, an exported module, or the authors' algorithm. */
export interface TorchRow {
  row: string
  kind: 'torch-ce' | 'torch-bce' | 'module' | 'authors-balanced'
  /** The spec of the exported module for `c` classes. */
  spec?: (c: number) => RuleInput
  /** Multi-label rows read a 0/1 target `[N, C]`: each sample's class and the previous sample's. */
  task: 'single' | 'multi'
  /** Why the row is left out at `c` classes, if it is. */
  skip?: (c: number) => string | undefined
  computes: string
}

const isMulti = (rule: RuleName) => (MULTI_LABEL_RULE_NAMES as readonly string[]).includes(rule)

/**
 * The rows, baselines first: `torch-ce` (`F.cross_entropy`, ratio 1), `torch-bce`, every registered
 * rule with the spec of {@link RULE_SPECS}, then `class-weights` (`ce` with class-balanced
 * weights, β = 0.999), `lpl-through` (`gradient: 'through'`) and `authors-balanced`.
 */
export const TORCH_ROWS: TorchRow[] = [
  { row: 'torch-ce', kind: 'torch-ce', task: 'single', computes: 'F.cross_entropy, loss.backward()' },
  { row: 'torch-bce', kind: 'torch-bce', task: 'multi', computes: 'F.binary_cross_entropy_with_logits, loss.backward()' },
  ...RULE_NAMES.map(
    (rule): TorchRow => ({
      row: rule,
      kind: 'module',
      spec: (c) => RULE_SPECS[rule](c, longTailCounts(c, 5000, 100)),
      task: isMulti(rule) ? 'multi' : 'single',
      ...(ruleFacts(RULE_SPECS[rule](6, [6, 5, 4, 3, 2, 1])).heads > 1 ? { skip: () => HEADS_SKIP } : {}),
      ...(rule === 'isda'
        ? {
            skip: (c: number) =>
              c > ISDA_MAX_CLASSES ? `the module would hold its [C, C] perturbation as a literal (${c * c} numbers)` : undefined,
          }
        : {}),
      computes: 'exported module, loss.backward()',
    }),
  ),
  {
    row: 'class-weights',
    kind: 'module',
    spec: (c) => ({ rule: 'ce', weighting: { kind: 'class-balanced', beta: 0.999, classCounts: longTailCounts(c, 5000, 100) } }),
    task: 'single',
    computes: 'exported module, loss.backward()',
  },
  {
    row: 'lpl-through',
    kind: 'module',
    spec: (c) => specFor('lpl-through', c),
    task: 'single',
    computes: 'exported module, loss.backward()',
  },
  {
    row: 'authors-balanced',
    kind: 'authors-balanced',
    task: 'single',
    computes: 'bench/authors_balanced.py (class loop, one-hot products), loss.backward()',
  },
]

/** A seeded class-balanced batch: labels `i mod C`, logits as {@link benchBatch}'s. */
export function balancedBatch(n: number, c: number): { logits: Float32Array; labels: Int32Array } {
  const rand = mulberry32(n * 1000 + c + 7)
  const labels = Int32Array.from({ length: n }, (_, i) => i % c)
  const logits = Float32Array.from({ length: n * c }, (_, k) => uniform(rand, 1) + (k % c === labels[Math.floor(k / c)] ? 2 : 0))
  return { logits, labels }
}

/** One measured cell of the pytorch backend (in `results.json`'s `losses`, `backend: 'pytorch'`). */
export interface TorchMeasurement {
  backend: 'pytorch'
  n: number
  c: number
  batch: TorchBatch
  /** The row: a rule's name, `class-weights`, `lpl-through`, `authors-balanced`, `torch-ce` or `torch-bce`. */
  rule: string
  /** Median milliseconds of forward plus backward; absent when the call was stopped or failed. */
  medianMs?: number
  repetitions: number
  /** `medianMs` over {@link ceMs}. */
  ratioToCe?: number
  /** `F.cross_entropy` on the same logits and labels, timed in the same process interleaved with the row (median ms). */
  ceMs?: number
  /** A stopped call: its time over the `torch-ce` row's median, a lower bound. */
  ratioToCeAtLeast?: number
  /** Multi-label rows: `medianMs` over {@link bceMs}. */
  ratioToBce?: number
  /** Multi-label rows: `F.binary_cross_entropy_with_logits` on the same logits and target, interleaved likewise (median ms). */
  bceMs?: number
  /** The same module built with `check_values=False`, timed alternately with the default (calls under a second). */
  checksOffMs?: number
  /**
   * Peak resident memory of a call above the resident memory before it, bytes: of the second call
   * (the first one's when it was the only one; a lower bound when stopped).
   */
  memoryBytes?: number
  /** The same of the first call (the one-time costs of a first call included). */
  firstCallMemoryBytes?: number
  /** `memoryBytes` minus `F.cross_entropy`'s on the same shape and batch (of its first call where only the first was measured). */
  memoryAboveCeBytes?: number
  memoryKind: string
  /** The first call was longer than the per-call cap: it is the measurement (`repetitions: 1`). */
  once?: boolean
  /** The first call was stopped after this many milliseconds (the time cap) or at the memory cap: a lower bound. */
  stoppedAfterMs?: number
  stoppedBy?: 'time' | 'memory'
  /** The loss of the first call (float32). */
  loss?: number
  /** Milliseconds `exportTorchModule` took. */
  exportMs?: number
  skipped?: string
  error?: string
  computes: string
}

/** The Python side: torch's version and threads, and the check of authors-balanced against official-balanced. */
export interface TorchRunInfo {
  torch: string
  threads: number
  python: string
  /** Whether glibc's mmap threshold was fixed at 64 KiB (`--torch-exact-memory`, `fixed_mmap_threshold`). */
  mmapThreshold: boolean
  checks: {
    n: number
    c: number
    batch: string
    officialBalanced: number
    authorsBalanced: number
    relative: number
    tolerance: number
  }[]
  /** The float32 losses of authors-balanced and official-balanced on each timed batch: their relative difference. */
  float32: { n: number; c: number; batch: TorchBatch; relative: number }[]
  /**
   * Seconds: a first call longer than `onceSeconds` is the measurement (no repetitions), one still
   * running after `stopSeconds` is stopped; a call whose peak resident memory rises `memoryCapBytes`
   * above that before it is stopped; `budgetSeconds`, the time of a cell's repetitions.
   */
  limits: { onceSeconds: number; stopSeconds: number; memoryCapBytes: number; budgetSeconds: number }
}

/** The tolerance of the check of authors-balanced against the exported official-balanced module (float64). */
export const CHECK_TOLERANCE = 1e-5

/** Measures the rows on the shapes; `onCell` sees each result as it comes. Throws when the check fails. */
export async function measureTorch(options: {
  quick: boolean
  shapes: [number, number][]
  rows?: string[]
  /**
   * The per-call cap `S` in seconds (default 20): a first call over `S` is measured once and one over
   * `6·S` stopped; in quick runs, over `S/10` and `S`.
   */
  capSeconds?: number
  memoryCapBytes?: number
  /** Fix glibc's mmap threshold at 64 KiB in the Python process (`fixed_mmap_threshold`): exact memory, slow times. */
  exactMemory?: boolean
  onCell?: (m: TorchMeasurement) => void
}): Promise<{ info: TorchRunInfo; cells: TorchMeasurement[] }> {
  const rows = TORCH_ROWS.filter((r) => r.kind === 'torch-ce' || options.rows === undefined || options.rows.includes(r.row))
  if (options.rows !== undefined) {
    const unknown = options.rows.filter((r) => !TORCH_ROWS.some((x) => x.row === r))
    if (unknown.length > 0)
      throw new Error(`unknown pytorch rows: ${unknown.join(', ')}; known: ${TORCH_ROWS.map((r) => r.row).join(', ')}`)
  }
  const capSeconds = options.capSeconds ?? 20
  const limits = {
    onceSeconds: options.quick ? capSeconds / 10 : capSeconds,
    stopSeconds: options.quick ? capSeconds : 6 * capSeconds,
    memoryCapBytes: options.memoryCapBytes ?? 6 * 2 ** 30,
    budgetSeconds: options.quick ? 0.3 : 1.5,
  }
  const dir = mkdtempSync(join(tmpdir(), 'logit-perturb-bench-torch-'))
  try {
    const cells: TorchMeasurement[] = []
    const fixed = new Map<string, TorchMeasurement>()
    const writeBatch = (name: string, batch: { logits: Float32Array; labels: Int32Array }) => {
      const logits = join(dir, `${name}-logits.bin`)
      const labels = join(dir, `${name}-labels.bin`)
      writeFileSync(logits, batch.logits)
      writeFileSync(labels, batch.labels)
      return { logits, labels }
    }
    const batchesOf = (n: number, c: number) => ({
      'long-tailed': writeBatch(`${n}x${c}-long-tailed`, benchBatch(n, c)),
      balanced: writeBatch(`${n}x${c}-balanced`, balancedBatch(n, c)),
    })
    const exportRow = (row: TorchRow, c: number) => {
      const t = performance.now()
      const module = exportTorchModule(row.spec!(c), { numClasses: c })
      const file = join(dir, `${row.row}-${c}.py`)
      writeFileSync(file, module.source)
      return { module: file, className: module.className, exportMs: performance.now() - t }
    }
    const shapes = options.shapes.map(([n, c]) => {
      const jobRows: object[] = []
      for (const row of rows) {
        const base = { backend: 'pytorch' as const, n, c, rule: row.row, repetitions: 0, memoryKind: 'peak rss', computes: row.computes }
        const skipped = row.skip?.(c)
        if (skipped !== undefined) {
          for (const batch of TORCH_BATCHES) fixed.set(`${n}x${c}/${batch}/${row.row}`, { ...base, batch, skipped })
          continue
        }
        if (row.kind !== 'module') {
          jobRows.push({ row: row.row, kind: row.kind, task: row.task })
          continue
        }
        try {
          jobRows.push({ row: row.row, kind: row.kind, task: row.task, ...exportRow(row, c) })
        } catch (e) {
          const error = `export failed: ${e instanceof Error ? e.message : String(e)}`
          for (const batch of TORCH_BATCHES) fixed.set(`${n}x${c}/${batch}/${row.row}`, { ...base, batch, error })
        }
      }
      return { n, c, batches: batchesOf(n, c), rows: jobRows }
    })
    // The check of the authors' algorithm against the exported preset, on the 128 × 100 batches in float64.
    let checks: object[] = []
    if (rows.some((r) => r.kind === 'authors-balanced')) {
      const official = exportRow(TORCH_ROWS.find((r) => r.row === 'official-balanced')!, 100)
      const batches = batchesOf(128, 100)
      checks = TORCH_BATCHES.map((batch) => ({
        n: 128,
        c: 100,
        batch: batches[batch],
        batchName: batch,
        steps: 10,
        alpha: 0.01,
        ...official,
      }))
    }
    const jobFile = join(dir, 'job.json')
    writeFileSync(
      jobFile,
      JSON.stringify({
        ...limits,
        exactMemory: options.exactMemory === true,
        minRepetitions: options.quick ? 1 : 3,
        checkTolerance: CHECK_TOLERANCE,
        checks,
        shapes,
      }),
    )

    let info: Omit<TorchRunInfo, 'checks' | 'float32' | 'limits'> | undefined
    const checked: TorchRunInfo['checks'] = []
    const exportMs = new Map(
      shapes.flatMap((s) => s.rows.map((r) => [`${s.c}/${(r as { row: string }).row}`, (r as { exportMs?: number }).exportMs])),
    )
    // Cells that Python does not run (skipped, not exported) are reported in table order.
    const flushFixed = (n: number, c: number, batch: string, upTo: string | undefined) => {
      for (const row of rows) {
        if (row.row === upTo) return
        const key = `${n}x${c}/${batch}/${row.row}`
        const m = fixed.get(key)
        if (m !== undefined) {
          fixed.delete(key)
          cells.push(m)
          options.onCell?.(m)
        }
      }
    }
    const python = spawn(await torchPython(), [join(import.meta.dirname, 'torch_bench.py'), jobFile], {
      stdio: ['ignore', 'pipe', 'inherit'],
    })
    const exited = new Promise<number>((resolve, reject) => {
      python.on('error', reject)
      python.on('close', (code) => resolve(code ?? 1))
    })
    let last: { n: number; c: number; batch: string } | undefined
    for await (const text of createInterface({ input: python.stdout })) {
      const { type, ...out } = JSON.parse(text) as Record<string, unknown> & { type: string }
      if (type === 'info') info = out as unknown as typeof info
      else if (type === 'check') checked.push(out as unknown as TorchRunInfo['checks'][number])
      else if (type === 'cell') {
        const { n, c, batch, row } = out as unknown as { n: number; c: number; batch: TorchBatch; row: string }
        if (last !== undefined && (last.n !== n || last.c !== c || last.batch !== batch)) flushFixed(last.n, last.c, last.batch, undefined)
        last = { n, c, batch }
        flushFixed(n, c, batch, row)
        const spec = rows.find((r) => r.row === row)!
        const m: TorchMeasurement = {
          backend: 'pytorch',
          n,
          c,
          batch,
          rule: row,
          repetitions: (out.repetitions as number | undefined) ?? 0,
          memoryKind: (out.memoryKind as string | undefined) ?? 'peak rss',
          computes: spec.computes,
        }
        for (const key of [
          'medianMs',
          'ratioToCe',
          'ceMs',
          'ratioToCeAtLeast',
          'ratioToBce',
          'bceMs',
          'checksOffMs',
          'memoryBytes',
          'firstCallMemoryBytes',
          'memoryAboveCeBytes',
          'once',
          'stoppedAfterMs',
          'stoppedBy',
          'loss',
          'error',
        ] as const) {
          if (out[key] !== undefined && out[key] !== null) (m as unknown as Record<string, unknown>)[key] = out[key]
        }
        const ms = exportMs.get(`${c}/${row}`)
        if (ms !== undefined) m.exportMs = ms
        cells.push(m)
        options.onCell?.(m)
      }
    }
    const code = await exited
    if (last !== undefined) flushFixed(last.n, last.c, last.batch, undefined)
    for (const m of fixed.values()) {
      cells.push(m)
      options.onCell?.(m)
    }
    const failed = checked.find((k) => !(k.relative <= CHECK_TOLERANCE))
    if (code === 3 || failed !== undefined)
      throw new Error(
        `authors-balanced and the exported official-balanced module disagree on the ${failed?.n} × ${failed?.c} ${failed?.batch} batch: ${JSON.stringify(failed ?? 'see the error above')}`,
      )
    if (code !== 0 || info === undefined) throw new Error(`bench/torch_bench.py exited with ${code}`)
    const float32 = cells.flatMap((m) => {
      if (m.rule !== 'authors-balanced' || m.loss === undefined) return []
      const official = cells.find((x) => x.rule === 'official-balanced' && x.n === m.n && x.c === m.c && x.batch === m.batch)
      return official?.loss === undefined
        ? []
        : [{ n: m.n, c: m.c, batch: m.batch, relative: Math.abs(official.loss - m.loss) / Math.abs(m.loss) }]
    })
    return { info: { ...info, checks: checked, float32, limits }, cells }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}
