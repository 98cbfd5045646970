/**
 * Half-precision textures on WebGL (issue #27): many phones run tfjs's WebGL backend on float16
 * textures (`WEBGL_FORCE_F16_TEXTURES` forces them anywhere). The playground's `float16.html`
 * page, built with Vite and driven by Playwright in Debian's headless chromium (WebGL software
 * rendered by SwiftShader), evaluates every golden case, and every registered rule's variants on
 * golden batches, twice: on float32 and on float16 textures; it returns each loss and its gradient.
 * The test checks that the float16 page really stores float16 (`1 + 2^-12` comes back as 1), that
 * every float16 loss and gradient is finite, the loss within {@link LOSS_RTOL} of the float32 WebGL
 * loss and of the float64 value (the stored golden one, or the reference backend's) and the gradient
 * within {@link GRAD_RTOL}. It prints the table of docs/tfjs.md ("Half-precision textures") and writes
 * it to `runs/e2e/float16.md`. About 1.5 minutes on two shared cores, build included.
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { basename, join } from 'node:path'
import { createLoss, RULE_NAMES, type RuleInput } from '@logit-perturb/core'
import { referenceBackend, relativeError } from '@logit-perturb/core/verify'
import {
  caseInputs,
  flatten,
  type GoldenCase,
  headLogits,
  type LoadedCase,
  loadGoldenDir,
  multiLabelVariants,
  singleLabelVariants,
  specOfCase,
  trainingCase,
} from '@logit-perturb/conformance'
import { type Browser, chromium } from 'playwright-core'
import { type PreviewServer, type UserConfig, build, preview } from 'vite'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { TextureApi, TextureCase, TextureInfo, TextureResult } from '../../packages/playground/src/api.js'

const root = join(import.meta.dirname, '../..')
const playground = join(root, 'packages/playground')
const configFile = join(playground, 'vite.config.ts')
const CHROMIUM = '/usr/bin/chromium'
const SHARED = join(root, '..', 'shared', 'fixtures')
/** The folders of `pnpm test:golden`, the folder of rules not registered yet, and the multi-label file. */
const GOLDEN_DIRS = [
  SHARED,
  join(SHARED, 'catalogue'),
  join(SHARED, 'catalogue-2'),
  join(SHARED, 'dense'),
  join(SHARED, 'soft'),
  join(root, 'test/golden/fixtures'),
]

/**
 * Relative error allowed to a float16 loss, against the float32 WebGL loss and against the float64
 * value. A float16 texture holds 11 significant bits: each stored value is rounded by up to 2^-12 ≈
 * 2.4e-4 of itself (half the spacing 2^-11 ≈ 4.9e-4), the logits once on upload and every
 * intermediate a rule stores after that (shifted logits, log-sum-exp, per-sample losses); the sums
 * of a shader run in float32. Measured on SwiftShader over every case here: at most 1.2e-3
 * (distribution-balanced; docs/tfjs.md, "Half-precision textures"). The bound is 4 times that, for
 * GPUs that round differently.
 */
const LOSS_RTOL = 5e-3
/**
 * The gradient w.r.t. the logits, float16 against float32 and against the golden float64 one, by
 * the golden runner's measure (`relativeError`: each entry against the larger of itself and 1% of
 * the largest). Measured at most 5.0e-2 (seesaw): entries near 1% of the largest are differences of
 * rounded probabilities. The bound is 3 times that; it catches a wrong or vanished direction, not
 * float16's rounding.
 */
const GRAD_RTOL = 0.15
/**
 * Float32 WebGL against float64: the loss to 1e-4 relative, as cpu and wasm are held (the harness's
 * `rtol`); checked too, so that an error of float16 is not one of float32. Measured at most 1.6e-7.
 */
const F32_RTOL = 1e-4

interface Entry {
  /** The row of the table: the fixture kind (with its folder), or the rule of a variant. */
  group: string
  input: TextureCase
  /** The float64 loss: the golden value, or the reference backend's. */
  loss: number
  /** The golden gradient w.r.t. the logits; undefined for the variants. */
  grad?: number[]
}

/** Host arrays in the place of a backend's tensors, so that the conformance loader builds the page's inputs. */
const hostArrays = {
  constant: (data: ArrayLike<number>, shape: readonly number[], dtype?: 'float32' | 'int32') => ({
    values: Array.from(data),
    shape: [...shape],
    dtype: dtype ?? ('float32' as const),
  }),
}

/** The page's input for a golden case's batch with `spec` (the case's own spec for a golden entry). */
function caseInput(id: string, c: GoldenCase, spec: RuleInput, training: boolean): TextureCase {
  const { logits, labels, options, context } = caseInputs(hostArrays, c)
  // Dense fixtures keep their classes on axis 1 ([N, C, H, W]); createTfjsLoss's default is the last axis.
  const dense = logits.shape.length > 2 ? { classAxis: 1 as const } : {}
  // The noise a case stores (GCL's) is passed as the call's, as the golden runner passes it.
  const noise = context.noise === undefined ? {} : { noise: { values: context.noise.values, shape: context.noise.shape } }
  return { id, spec, logits: { values: logits.values, shape: logits.shape }, labels, options: { ...options, ...dense }, training, ...noise }
}

/** The float64 reference loss of a page input. */
async function referenceLoss(input: TextureCase): Promise<number> {
  const { ops } = referenceBackend
  const loss = createLoss(ops, input.spec, { ...input.options, classAxis: input.options.classAxis ?? 1 })
  const logits = ops.constant(input.logits.values, input.logits.shape)
  const labels = ops.constant(input.labels.values, input.labels.shape, input.labels.dtype)
  const noise = input.noise === undefined ? {} : { noise: ops.constant(input.noise.values, input.noise.shape) }
  return (await referenceBackend.read(loss(logits, labels, { training: input.training, ...noise })))[0]!
}

/** Every golden case a registered rule reproduces, and the kinds of those no registered rule does. */
function goldenEntries(): { entries: Entry[]; unregistered: Map<string, number> } {
  const entries: Entry[] = []
  const unregistered = new Map<string, number>()
  for (const dir of GOLDEN_DIRS) {
    const folder = dir === SHARED ? '' : `${basename(dir)}/`
    for (const { id, data } of loadGoldenDir(dir)) {
      let spec: RuleInput
      try {
        spec = specOfCase(data)
      } catch (e) {
        // Only a kind that is no registered rule may be left out; anything else fails here.
        expect((RULE_NAMES as readonly string[]).includes(data.kind), `${id}: ${e}`).toBe(false)
        unregistered.set(data.kind, (unregistered.get(data.kind) ?? 0) + 1)
        continue
      }
      entries.push({
        group: `${folder}${data.kind}`,
        input: caseInput(`${folder}${id}`, data, spec, trainingCase(data)),
        loss: data.loss,
        grad: flatten(data.gradLogits).values,
      })
    }
  }
  return { entries, unregistered }
}

/**
 * Every registered rule's variants (the conformance table, defaults included) on golden batches,
 * as training steps, against the float64 reference: the single-label ones on the widest
 * logit-adjustment batch of `golden-7.json` (32 samples, 100 classes), the multi-label ones on
 * the widest logit-adjusted-BCE batch of the multi-label file (24 samples, 20 labels), each with
 * its case's counts. Five rules have no golden case (balanced-softmax, VS, CDT, ISDA, LPL): they
 * are checked here only.
 */
/** Rows `[N][C]` as the rows `[N][E·C]` of `E` heads (`headLogits`). */
function widened(rows: number[][], heads: number): number[][] {
  const c = rows[0]?.length ?? 0
  const flat = headLogits(rows.flat(), rows.length, c, heads)
  return rows.map((_, i) => flat.slice(i * heads * c, (i + 1) * heads * c))
}

async function variantEntries(): Promise<Entry[]> {
  const widest = (cases: LoadedCase[], kind: string) =>
    cases.filter((c) => c.data.kind === kind).reduce((a, b) => (b.data.numClasses > a.data.numClasses ? b : a))
  const single = widest(loadGoldenDir(SHARED), 'logit-adjustment')
  const multi = widest(loadGoldenDir(join(root, 'test/golden/fixtures')), 'logit-adjusted-bce')
  const entries: Entry[] = []
  const add = async (batch: LoadedCase, variants: { name: string; spec: RuleInput; heads?: number }[]) => {
    for (const v of variants) {
      // A rule with E heads takes the batch's logits widened to [N, E·C].
      const data = v.heads === undefined ? batch.data : { ...batch.data, logits: widened(batch.data.logits as number[][], v.heads) }
      const input = caseInput(`${v.name} on ${batch.id}`, data, v.spec, true)
      entries.push({ group: `${(v.spec as { rule: string }).rule}: variants`, input, loss: await referenceLoss(input) })
    }
  }
  await add(single, singleLabelVariants(single.data.classCounts as number[]))
  await add(multi, multiLabelVariants(multi.data.classCounts as number[], multi.data.numSamples as number))
  return entries
}

const relative = (a: number, e: number) => Math.abs(a - e) / Math.abs(e)

interface Measured {
  entry: Entry
  f32: TextureResult
  f16: TextureResult
  /** Loss: float16 against float32 WebGL, float16 against float64, float32 against float64. */
  f16VsF32: number
  f16VsF64: number
  f32VsF64: number
  /** Gradient (`relativeError`, the golden runner's measure): float16 against float32, and against the golden one. */
  gradF16VsF32: number
  gradF16VsF64?: number
}

let outDir: string | undefined
let server: PreviewServer | undefined
let browser: Browser | undefined
let baseUrl = ''

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) return
  outDir = mkdtempSync(join(tmpdir(), 'float16-e2e-'))
  // The playground's config with its float16 page alone, unminified: a third less build time.
  const { default: config } = (await import(configFile)) as { default: UserConfig }
  await build({
    ...config,
    configFile: false,
    mode: 'production',
    logLevel: 'warn',
    build: {
      ...config.build,
      outDir,
      emptyOutDir: true,
      minify: false,
      rollupOptions: { input: { float16: join(playground, 'float16.html') } },
    },
  })
  server = await preview({ ...config, configFile: false, logLevel: 'warn', build: { outDir }, preview: { host: '127.0.0.1', port: 0 } })
  baseUrl = server.resolvedUrls!.local[0]!
}, 90_000)

afterAll(async () => {
  await browser?.close()
  await server?.close()
  if (outDir) rmSync(outDir, { recursive: true, force: true })
})

/** Opens `float16.html` with `query`, runs every case and returns what the page measured, with its wall time. */
async function evaluate(query: string, cases: TextureCase[]): Promise<{ info: TextureInfo; results: TextureResult[]; seconds: number }> {
  const started = performance.now()
  const page = await browser!.newPage()
  const errors: string[] = []
  page.on('pageerror', (error) => errors.push(error.message))
  await page.goto(`${baseUrl}float16.html${query}`)
  await page.waitForFunction(() => (globalThis as unknown as { __textures?: TextureApi }).__textures !== undefined)
  const info = await page.evaluate(() => (globalThis as unknown as { __textures: TextureApi }).__textures.ready)
  const results = info.error
    ? []
    : await page.evaluate((c) => (globalThis as unknown as { __textures: TextureApi }).__textures.run(c), cases)
  expect(errors).toEqual([])
  await page.close()
  return { info, results, seconds: (performance.now() - started) / 1000 }
}

const finite = (m: Measured) => Number.isFinite(m.f16.loss) && m.f16.grad.every(Number.isFinite)
const e = (x: number | undefined) => (x === undefined ? '–' : x.toExponential(1))

/**
 * The docs' table: one row per fixture kind and per rule's variants, with the count of cases whose
 * float16 loss or gradient is not finite, and the worst case of each column.
 */
function table(measured: Measured[]): string {
  const groups = new Map<string, Measured[]>()
  for (const m of measured) groups.set(m.entry.group, [...(groups.get(m.entry.group) ?? []), m])
  // The float16 columns over the cases whose float16 numbers are finite; the float32 one over all.
  const max = (ms: Measured[], f: (m: Measured) => number | undefined, all = false) => {
    const xs = ms.filter((m) => all || finite(m)).map(f)
    return xs.some((x) => x === undefined) || xs.length === 0 ? undefined : Math.max(...(xs as number[]))
  }
  const rows = [...groups].map(([group, ms]) => {
    const largest = Math.max(...ms.map((m) => Math.max(...m.entry.input.logits.values.map(Math.abs))))
    const columns = [
      group,
      ms.length,
      largest.toFixed(1),
      ms.filter((m) => !finite(m)).length,
      e(max(ms, (m) => m.f16VsF32)),
      e(max(ms, (m) => m.f16VsF64)),
      e(max(ms, (m) => m.f32VsF64, true)),
      e(max(ms, (m) => m.gradF16VsF32)),
      e(max(ms, (m) => m.gradF16VsF64)),
    ]
    return `| ${columns.join(' | ')} |`
  })
  return [
    '| cases | n | max \\|u\\| | f16 not finite | loss f16 vs f32 | loss f16 vs f64 | loss f32 vs f64 | grad f16 vs f32 | grad f16 vs f64 |',
    '|---|--:|--:|--:|--:|--:|--:|--:|--:|',
    ...rows,
  ].join('\n')
}

describe('WebGL with float16 textures in headless chromium', () => {
  it('keeps every registered rule finite and within tolerance of float32 on the golden batches', async () => {
    expect(existsSync(CHROMIUM), `${CHROMIUM} is missing: install Debian's chromium with \`apt-get install -y chromium\``).toBe(true)
    const started = performance.now()
    const { entries: golden, unregistered } = goldenEntries()
    const entries = [...golden, ...(await variantEntries())]
    // Every registered rule is evaluated, by a golden case or a variant.
    expect(new Set(entries.map((x) => (x.input.spec as { rule: string }).rule))).toEqual(new Set(RULE_NAMES))
    const cases = entries.map((x) => x.input)

    // --no-sandbox: chromium's sandbox refuses to run as root, as in CI containers.
    browser ??= await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox', '--disable-dev-shm-usage'] })
    const f32 = await evaluate('', cases)
    const f16 = await evaluate('?textures=float16', cases)

    // Both pages ran WebGL; the float32 one stores float32, and the float16 one really float16:
    // 1 + 2^-12 comes back as 1, and 1e5, above float16's largest (65504), not finite.
    expect([f32.info.error, f16.info.error]).toEqual([undefined, undefined])
    expect([f32.info.backend, f16.info.backend]).toEqual(['webgl', 'webgl'])
    expect([f32.info.float32Enabled, f32.info.probe]).toEqual([true, [Math.fround(1 + 2 ** -12), 1e5]])
    expect([f16.info.float32Enabled, f16.info.probe[0], Number.isFinite(f16.info.probe[1])]).toEqual([false, 1, false])

    const measured: Measured[] = entries.map((entry, i) => {
      const a = f32.results[i]!
      const b = f16.results[i]!
      return {
        entry,
        f32: a,
        f16: b,
        f16VsF32: relative(b.loss, a.loss),
        f16VsF64: relative(b.loss, entry.loss),
        f32VsF64: relative(a.loss, entry.loss),
        gradF16VsF32: relativeError(b.grad, a.grad),
        ...(entry.grad ? { gradF16VsF64: relativeError(b.grad, entry.grad) } : {}),
      }
    })
    const report = [
      `${f16.info.renderer}: ${measured.length} cases (${golden.length} golden, ${measured.length - golden.length} rule variants on golden batches), ` +
        `float32 textures ${f32.seconds.toFixed(1)} s, float16 ${f16.seconds.toFixed(1)} s; golden kinds of no registered rule, not run: ` +
        `${[...unregistered].map(([k, n]) => `${k} (${n})`).join(', ') || 'none'}`,
      '',
      table(measured),
      '',
      `float16 probe [1 + 2^-12, 1e5] read back as [${f16.info.probe.join(', ')}]; ${((performance.now() - started) / 1000).toFixed(1)} s in all`,
    ].join('\n')
    console.log(report)
    mkdirSync(join(root, 'runs/e2e'), { recursive: true })
    writeFileSync(join(root, 'runs/e2e/float16.md'), `${report}\n`)

    // Every case that breaks a bound, all at once rather than the first.
    const failures = measured.flatMap((m) => {
      const out: string[] = []
      const at = `${m.entry.input.id} [${m.entry.group}]`
      if (m.f32.error || m.f16.error) return [`${at}: threw ${m.f32.error ?? m.f16.error}`]
      if (!(m.f32VsF64 <= F32_RTOL)) out.push(`${at}: float32 loss ${m.f32.loss} against float64 ${m.entry.loss}`)
      if (!finite(m)) out.push(`${at}: float16 loss ${m.f16.loss}${m.f16.grad.every(Number.isFinite) ? '' : ', gradient not finite'}`)
      else {
        if (!(m.f16VsF32 <= LOSS_RTOL)) out.push(`${at}: float16 loss ${m.f16.loss} against float32 ${m.f32.loss}`)
        if (!(m.f16VsF64 <= LOSS_RTOL)) out.push(`${at}: float16 loss ${m.f16.loss} against float64 ${m.entry.loss}`)
        if (!(m.gradF16VsF32 <= GRAD_RTOL)) out.push(`${at}: float16 gradient ${m.gradF16VsF32.toExponential(1)} from float32`)
        if (m.gradF16VsF64 !== undefined && !(m.gradF16VsF64 <= GRAD_RTOL)) {
          out.push(`${at}: float16 gradient ${m.gradF16VsF64.toExponential(1)} from the golden one`)
        }
      }
      return out
    })
    expect(failures).toEqual([])
  }, 240_000)
})
