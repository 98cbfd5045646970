/**
 * The exported PyTorch modules, run by Debian's torch (python3-torch, installed by the test command):
 * every conformance case in float64 and float32 against the float64 reference, the module's
 * contract as a PyTorch user meets it (errors, dtypes, state, the epoch switch, unmutated inputs),
 * and data-parallel training with DistributedDataParallel on 2 and 3 CPU processes against one
 * process on the whole batch (dense cases with ignored pixels among them).
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { type ConformanceCase, conformanceCases, singleLabelVariants } from '@logit-perturb/conformance'
import { runPython, runPythonScript, runTorchJobs, torchConformance } from '@logit-perturb/conformance/torch'
import { type RuleInput, createLoss, referenceOps } from '@logit-perturb/core'
import { compareConformance, conformanceExpectation } from '@logit-perturb/core/verify'
import { type ExportedTorchModule, exportTorchModule } from '@logit-perturb/pytorch'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'

const dir = mkdtempSync(join(tmpdir(), 'logit-perturb-pytorch-test-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

/** Writes a module to the test folder; returns its path. */
function write(name: string, module: ExportedTorchModule | string): string {
  const file = join(dir, `${name}.py`)
  writeFileSync(file, typeof module === 'string' ? module : module.source)
  return file
}

describe('exported modules on the conformance cases', () => {
  const cases = conformanceCases()

  it('match the float64 reference in float64 (1e-9) and float32 (1e-4): loss, perturbed logits, closed form and autograd, eager and scripted', async () => {
    const results = await torchConformance(cases, { scripted: true })
    expect(results).toHaveLength(4 * cases.length)
    const failures = results.flatMap((r) =>
      r.checks
        .filter((k) => !k.skipped && !(k.error <= k.tolerance))
        .map((k) => `${r.name} ${r.scripted ? 'torch.jit.script ' : ''}${r.dtype} ${k.what}: ${k.error}`),
    )
    expect(failures).toEqual([])
    const checked = (what: string, dtype: string, scripted = false) =>
      results.filter((r) => r.scripted === scripted && r.dtype === dtype && r.checks.some((k) => k.what === what && !k.skipped)).length
    // Through-gradient rules (lpl through, official-longtail, multi-label through) against the central difference.
    expect(checked('autodiff gradient = central difference', 'float64')).toBeGreaterThanOrEqual(12)
    expect(checked('autodiff gradient = closed form', 'float64')).toBeGreaterThanOrEqual(80)
    expect(checked('closed-form gradient', 'float32')).toBeGreaterThanOrEqual(80)
    // The module compiled by torch.jit.script, every case.
    for (const [what, dtype] of [
      ['autodiff gradient = central difference', 'float64'],
      ['autodiff gradient = closed form', 'float64'],
      ['closed-form gradient', 'float32'],
    ] as const) {
      expect(checked(what, dtype, true), what).toBe(checked(what, dtype))
    }
  })

  it('fail when the module computes something else', async () => {
    const c = cases.find((x) => x.name === 'lpl-prior (|u| ≤ 3)') as ConformanceCase
    const module = exportTorchModule(c.spec, { numClasses: 6 })
    // One step of the search scaled wrongly: the perturbation, loss and gradient move.
    const tampered = { ...module, source: module.source.replace(/(delta_\d+ = add_\d+)$/m, '$1 * 1.01') }
    expect(tampered.source).not.toBe(module.source)
    const [result] = await runTorchJobs([{ module: tampered, reduction: 'mean', logits: c.logits, labels: c.labels }])
    const out = result!.float64
    if ('error' in out) throw new Error(out.error)
    const checks = compareConformance(
      c,
      conformanceExpectation(c),
      { loss: Float64Array.from(out.loss as number[]), perturbed: Float64Array.from(out.perturbed as number[]) },
      1e-9,
    )
    expect(checks.map((k) => k.error > 1e-6)).toEqual([true, true])
  })
})

describe('an exported module as a PyTorch user calls it', () => {
  const counts = [400, 200, 100, 50, 20, 10]
  const lpl = write('lpl', exportTorchModule({ rule: 'lpl', split: 'prior', classCounts: counts }))
  const confidence = write('confidence', exportTorchModule({ rule: 'lpl', split: 'confidence', momentum: 0.5 }, { numClasses: 6 }))
  const drwSpec: RuleInput = { rule: 'ldam', classCounts: counts, drw: { beta: 0.999, fromEpoch: 2 } }
  const drw = write('drw', exportTorchModule(drwSpec))
  const logits = Array.from({ length: 8 }, (_, i) => Array.from({ length: 6 }, (_, j) => Math.sin(3 * i + j)))
  const labels = [0, 0, 1, 2, 3, 5, 0, 1]

  const program = `
import importlib.util, json, sys
import torch

def load(path, name):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module

lpl, confidence, drw = (load(p, n) for p, n in zip(sys.argv[1:4], ('lpl', 'confidence', 'drw')))
logits = torch.tensor(json.loads(sys.argv[4]), dtype=torch.float64)
labels = torch.tensor(json.loads(sys.argv[5]))
out = {}

def refusal(fn):
    try:
        fn()
        return None
    except ValueError as e:
        return str(e)

loss_fn = lpl.LplLoss()
out['label range'] = refusal(lambda: loss_fn(logits, torch.tensor([0, 1, 2, 3, 4, 6, 0, 1])))
out['label dtype'] = refusal(lambda: loss_fn(logits, labels.double()))
out['logits shape'] = refusal(lambda: loss_fn(logits[:, :5], labels))
out['not finite'] = refusal(lambda: loss_fn(logits * float('nan'), labels))
out['sample weight'] = refusal(lambda: loss_fn(logits, labels, sample_weight=-torch.ones(8)))
out['reduction'] = refusal(lambda: lpl.LplLoss(reduction='avg'))
before = logits.clone()
x32 = logits.float().requires_grad_()
loss32 = loss_fn(x32, labels)
loss32.backward()
out['float32'] = [str(loss32.dtype), str(x32.grad.dtype), bool(torch.isfinite(x32.grad).all())]
out['unchanged'] = bool(torch.equal(before, logits))
out['none'] = list(lpl.LplLoss(reduction='none')(logits, labels).shape)
out['empty'] = lpl.LplLoss()(logits[:0], labels[:0]).item()
out['loss'] = loss_fn(logits, labels).item()

state = confidence.LplLoss()
state(logits, labels)
after_train = state.state_confidence.clone()
state.eval()
state(logits * 2, labels)
out['state'] = [float(after_train.abs().sum()), bool(torch.equal(after_train, state.state_confidence))]
out['state saved'] = sorted(state.state_dict().keys())

ldam = drw.LdamLoss()
out['drw'] = [ldam(logits, labels).item()]
ldam.epoch = 2
out['drw'].append(ldam(logits, labels).item())
print(json.dumps(out))
`
  let out: Record<string, unknown> = {}
  beforeAll(async () => {
    out = JSON.parse(await runPython(program, [lpl, confidence, drw, JSON.stringify(logits), JSON.stringify(labels)]))
  }, 120_000)

  it('refuses bad input with a ValueError that names it', () => {
    expect(out['label range']).toBe('labels must lie in [0, 6), got values from 0 to 6')
    expect(out['label dtype']).toMatch(/^labels must be integer class ids \[N\] with N = 8, got torch.float64/)
    expect(out['logits shape']).toBe('logits must be floats [N, 6] or [N, 6, d1, ..., dk], got torch.float64 [8, 5]')
    expect(out['not finite']).toBe('logits hold NaN or +inf (-inf masks a class out of its row)')
    expect(out['sample weight']).toBe('sample_weight must be finite and >= 0')
    expect(out.reduction).toBe("reduction must be 'mean', 'sum' or 'none', got 'avg'")
  })

  it("computes in the logits' dtype, leaves its inputs as they were, and gives 0 for an empty batch", () => {
    expect(out.float32).toEqual(['torch.float32', 'torch.float32', true])
    expect(out.unchanged).toBe(true)
    expect(out.none).toEqual([8])
    expect(out.empty).toBe(0)
    const reference = createLoss(referenceOps, { rule: 'lpl', split: 'prior', classCounts: counts })
    const expected = reference(referenceOps.constant(logits.flat(), [8, 6]), referenceOps.constant(labels, [8], 'int32')).data[0]!
    expect(Math.abs((out.loss as number) - expected) / expected).toBeLessThan(1e-12)
  })

  it('moves its state on training calls only, and saves it with the module', () => {
    const [moved, unchangedInEval] = out.state as [number, boolean]
    expect(moved).toBeGreaterThan(0)
    expect(unchangedInEval).toBe(true)
    expect(out['state saved']).toEqual(['state_confidence', 'state_seen'])
  })

  it('switches deferred re-weighting on at module.epoch, as the reference does at ctx.epoch', () => {
    const reference = createLoss(referenceOps, drwSpec)
    const u = referenceOps.constant(logits.flat(), [8, 6])
    const y = referenceOps.constant(labels, [8], 'int32')
    const expected = [0, 2].map((epoch) => reference(u, y, { epoch }).data[0]!)
    const got = out.drw as number[]
    for (const [i, e] of expected.entries()) expect(Math.abs(got[i]! - e) / e).toBeLessThan(1e-12)
    expect(Math.abs(expected[0]! - expected[1]!)).toBeGreaterThan(1e-3)
  })
})

describe('a module of a rule with several heads (docs/spec.md#313-multi-head-rules)', () => {
  const counts = [400, 200, 100, 50, 20, 0]
  const spec: RuleInput = { rule: 'balanced-experts', classCounts: counts, taus: [0, 1, 2] }
  const file = write('experts', exportTorchModule(spec))
  const logits = Array.from({ length: 8 }, (_, i) => Array.from({ length: 18 }, (_, j) => Math.sin(3 * i + j)))
  const labels = [0, 0, 1, 2, 3, 5, 0, 1]
  const program = `
import importlib.util, json, sys
import torch

spec = importlib.util.spec_from_file_location('experts', sys.argv[1])
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
logits = torch.tensor(json.loads(sys.argv[2]), dtype=torch.float64)
labels = torch.tensor(json.loads(sys.argv[3]))
loss_fn = module.BalancedExpertsLoss()

def refusal(fn):
    try:
        fn()
        return None
    except ValueError as e:
        return str(e)

masked = logits.clone()
masked[0, 1] = -float('inf')
print(json.dumps({
    'loss': loss_fn(logits, labels).item(),
    'one head': refusal(lambda: loss_fn(logits[:, :6], labels)),
    'dense': refusal(lambda: loss_fn(logits.unsqueeze(2), labels.unsqueeze(1))),
    'label range': refusal(lambda: loss_fn(logits, torch.tensor([0, 0, 1, 2, 3, 6, 0, 1]))),
    'masked': refusal(lambda: loss_fn(masked, labels)),
}))
`
  it('takes logits [N, E·C] and labels over C, as the reference, and refuses other widths, dense logits, labels ≥ C and −inf', async () => {
    const out = JSON.parse(await runPython(program, [file, JSON.stringify(logits), JSON.stringify(labels)]))
    const reference = createLoss(referenceOps, spec)(
      referenceOps.constant(logits.flat(), [8, 18]),
      referenceOps.constant(labels, [8], 'int32'),
    ).data[0]!
    expect(Math.abs(out.loss - reference)).toBeLessThan(1e-12 * Math.abs(reference))
    expect(out['one head']).toMatch(/logits must be floats \[N, 18\], the 3 heads of 6 classes/)
    expect(out.dense).toMatch(/logits must be floats \[N, 18\]/)
    expect(out['label range']).toBe('labels must lie in [0, 6), got values from 0 to 6')
    expect(out.masked).toMatch(/finite/)
  }, 120_000)
})

describe('DistributedDataParallel on 2 and 3 CPU processes', () => {
  const counts = [400, 200, 100, 50, 20, 10]
  const specs: Record<string, RuleInput> = {
    'lpl-prior': { rule: 'lpl', split: 'prior', classCounts: counts, maxSteps: 4 },
    'lpl-through': { rule: 'lpl', split: 'prior', classCounts: counts, maxSteps: 4, gradient: 'through' },
    'official-longtail': { rule: 'official-longtail', classCounts: counts, headClasses: 3 },
    'lpl-confidence': { rule: 'lpl', split: 'confidence', momentum: 0.5, maxSteps: 4 },
    // Dense: images of 3 × 4 pixels, a fifth of them ignored (255 by the module's ignore_index, or PyTorch's -100).
    'seesaw-dense': { rule: 'seesaw', numClasses: 6 },
    'lpl-prior-dense': { rule: 'lpl', split: 'prior', classCounts: counts, maxSteps: 4 },
    // A term of the whole batch: class sums, and a log-sum-exp down the batch through dist.all_reduce(op=MAX).
    lade: { rule: 'lade', classCounts: counts, alpha: 0.5, remineLambda: 0.3 },
    'lade-dense': { rule: 'lade', classCounts: [...counts.slice(0, 5), 0], alpha: 0.5 },
  }
  const dense: Record<string, { dense: true; ignore_index?: number }> = {
    'seesaw-dense': { dense: true, ignore_index: 255 },
    'lpl-prior-dense': { dense: true },
    'lade-dense': { dense: true, ignore_index: 255 },
  }
  // LADE's δ, log(π + 1e-9), reads no batch statistic: a shard gives the same δ, and another loss and gradients.
  const perShardDiffers = (name: string): readonly ('delta' | 'loss' | 'grads')[] =>
    name.startsWith('lade') ? ['loss', 'grads'] : ['delta', 'loss', 'grads']
  const script = join(import.meta.dirname, 'pytorch', 'data_parallel.py')

  /** Runs the training comparison; returns the largest differences per case, world size and setting. */
  async function train(
    sources: Record<string, string>,
    worlds: number[],
  ): Promise<Record<string, Record<'delta' | 'loss' | 'grads' | 'state', number>>> {
    const manifest: Record<string, { file: string; className: string }> = {}
    for (const [name, source] of Object.entries(sources)) {
      const className = /^class (\w+)\(torch\.nn\.Module\)/m.exec(source)![1]!
      manifest[name] = { file: write(`ddp-${name}`, source), className, ...dense[name] }
    }
    const manifestFile = join(dir, 'manifest.json')
    const outFile = join(dir, 'ddp.json')
    writeFileSync(manifestFile, JSON.stringify(manifest))
    await runPythonScript(script, [manifestFile, outFile, ...worlds.map(String)])
    return JSON.parse(readFileSync(outFile, 'utf8'))
  }
  const sources = Object.fromEntries(Object.entries(specs).map(([name, spec]) => [name, exportTorchModule(spec, { numClasses: 6 }).source]))

  it('give the single-process δ, loss, gradients and state at every step to 1e-6 with the all-reduce, and differ without it', async () => {
    const report = await train(sources, [2, 3])
    for (const name of Object.keys(specs)) {
      for (const world of [2, 3]) {
        const on = report[`${name} W=${world} all_reduce`]!
        const off = report[`${name} W=${world} per_shard`]!
        expect(Math.max(on.delta, on.loss, on.grads, on.state), `${name} W=${world}`).toBeLessThan(1e-6)
        expect(Math.min(...perShardDiffers(name).map((q) => off[q])), `${name} W=${world} per shard`).toBeGreaterThan(1e-6)
      }
    }
  })

  it("catch a search's reverse pass that does not sum its class statistics across the workers", async () => {
    // The gradient through the search is the rule's own reverse pass (`_search_<k>_reverse`), which
    // sums each step's class statistics with `_batch_sum`, as the forward pass does.
    const broken = (source: string) =>
      source
        .split(/(?=\n {4}(?:@torch\.jit\.unused\n {4})?def )/)
        .map((method) => (/def _search_\d+_reverse\(/.test(method) ? method.replaceAll('self._batch_sum(', '(') : method))
        .join('')
    const through = { 'lpl-through': broken(sources['lpl-through']!), 'official-longtail': broken(sources['official-longtail']!) }
    expect(through['lpl-through']).not.toBe(sources['lpl-through'])
    const report = await train(through, [2])
    for (const name of Object.keys(through)) expect(report[`${name} W=2 all_reduce`]!.grads, name).toBeGreaterThan(1e-6)
  })
})

describe('masked classes (docs/spec.md#12-masked-classes): -inf in a non-target logit', () => {
  const counts = [400, 200, 100, 50, 20, 10]
  const variants = [
    // The rules with several heads take no masked class (docs/spec.md#313-multi-head-rules).
    ...singleLabelVariants(counts).filter((v) => v.heads === undefined),
    // Smoothing spreads over the classes a row keeps.
    { name: 'logit-adjustment, smoothed', spec: { rule: 'logit-adjustment', classCounts: counts, labelSmoothing: 0.1 } as RuleInput },
  ]
  const files = variants.map((v, k) => write(`masked-${k}`, exportTorchModule(v.spec, { numClasses: 6 })))
  const logits = Array.from({ length: 8 }, (_, i) => Array.from({ length: 6 }, (_, j) => 2 * Math.sin(3 * i + j)))
  const labels = [0, 0, 1, 2, 3, 5, 0, 1]
  // Two or three masked classes in most rows, none in one, never the label.
  const masked = [1, 2, 7, 9, 10, 14, 15, 16, 26, 28, 31, 33, 40, 44]
  const isMasked = new Set(masked)

  const program = `
import importlib.util, json, math, re, sys
import torch

def load(path):
    spec = importlib.util.spec_from_file_location('m', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    name = re.search(r'^class (\\w+)\\(torch\\.nn\\.Module\\)', open(path).read(), re.M).group(1)
    return getattr(module, name)

def plain(x):
    return [v if math.isfinite(v) else str(v) for v in x.detach().reshape(-1).double().tolist()]

def refusal(fn):
    try:
        fn()
        return None
    except ValueError as e:
        return str(e)

la_path, bce_path, files, logits, labels, masked = sys.argv[1], sys.argv[2], sys.argv[3:-3], json.loads(sys.argv[-3]), torch.tensor(json.loads(sys.argv[-2])), json.loads(sys.argv[-1])
base = torch.tensor(logits, dtype=torch.float64)
base.view(-1)[masked] = -math.inf
out = {'cases': []}
for path in files:
    Loss = load(path)
    case = {}
    for dtype in (torch.float64, torch.float32):
        x = base.to(dtype).detach().clone().requires_grad_()
        loss = Loss()(x, labels)
        loss.backward()
        z = Loss().perturb(base.to(dtype), labels)
        entry = {'loss': plain(loss), 'grad': plain(x.grad), 'perturbed': plain(z)}
        if hasattr(Loss, 'gradient'):
            entry['closed'] = plain(Loss().gradient(base.to(dtype), labels))
        case[str(dtype)] = entry
    out['cases'].append(case)

la = load(la_path)()
at_target = base.clone(); at_target[0, 0] = -math.inf
every = base.clone(); every[3] = -math.inf
ignored = at_target.clone()
ignored_labels = labels.clone(); ignored_labels[0] = -100
out['nan'] = refusal(lambda: la(base.masked_fill(torch.arange(48).reshape(8, 6) == 1, math.nan), labels))
out['+inf'] = refusal(lambda: la(base.masked_fill(torch.arange(48).reshape(8, 6) == 1, math.inf), labels))
out['at target'] = refusal(lambda: la(at_target, labels))
out['every class'] = refusal(lambda: la(every, labels))
out['masked row'] = la(at_target, labels, mask=(torch.arange(8) > 0).double()).item()
out['ignored row'] = la(ignored, ignored_labels).item()
soft = torch.nn.functional.one_hot(labels, 6).double() * 0.7 + 0.05
out['soft at mass'] = refusal(lambda: la(base, soft))
out['soft'] = la(base, torch.nn.functional.one_hot(labels, 6).double()).item()
# Multi-label: -inf is probability 0 at a negative, refused at a positive.
bce = load(bce_path)()
positives = torch.nn.functional.one_hot(labels, 6).double()
x = base.detach().clone().requires_grad_()
loss = bce(x, positives)
loss.backward()
out['bce'] = [loss.item(), plain(x.grad)]
out['bce at positive'] = refusal(lambda: bce(at_target, positives))
print(json.dumps(out))
`
  let out: Record<string, unknown> = {}
  beforeAll(async () => {
    const la = files[variants.findIndex((v) => v.name === 'logit-adjustment')]!
    const bce = write('masked-bce', exportTorchModule({ rule: 'bce' }, { numClasses: 6 }))
    out = JSON.parse(await runPython(program, [la, bce, ...files, JSON.stringify(logits), JSON.stringify(labels), JSON.stringify(masked)]))
  }, 300_000)

  const reference = (spec: RuleInput) => {
    const u = referenceOps.constant(
      logits.flat().map((v, k) => (isMasked.has(k) ? Number.NEGATIVE_INFINITY : v)),
      [8, 6],
    )
    const y = referenceOps.constant(labels, [8], 'int32')
    const loss = createLoss(referenceOps, spec)
    return {
      loss: loss(u, y).data[0]!,
      gradient: loss.hasClosedFormGradient ? Array.from(createLoss(referenceOps, spec).gradient(u, y).data) : undefined,
    }
  }

  it('give every single-label rule a finite loss and gradients (autograd, closed form) exactly 0 at the masked classes, in float64 and float32, as the reference', () => {
    const cases = out.cases as Record<string, Record<string, (number | string)[]>>[]
    expect(cases).toHaveLength(variants.length)
    for (const [k, v] of variants.entries()) {
      const want = reference(v.spec)
      for (const [dtype, rtol] of [
        ['torch.float64', 1e-9],
        ['torch.float32', 1e-4],
      ] as const) {
        const got = cases[k]![dtype]!
        const what = `${v.name} ${dtype}`
        const [loss] = got.loss as number[]
        expect(Number.isFinite(loss), `${what}: loss ${loss}`).toBe(true)
        expect(Math.abs(loss! - want.loss) / Math.max(1, Math.abs(want.loss)), `${what}: loss`).toBeLessThan(rtol)
        for (const field of ['grad', 'closed'] as const) {
          const g = got[field]
          if (g === undefined) continue
          g.forEach((x, i) => {
            expect(typeof x, `${what}: ${field}[${i}] = ${x}`).toBe('number')
            if (isMasked.has(i)) expect(x, `${what}: ${field} at masked entry ${i}`).toBe(0)
            else if (want.gradient !== undefined) {
              expect(Math.abs((x as number) - want.gradient[i]!), `${what}: ${field}[${i}]`).toBeLessThan(rtol * 10)
            }
          })
        }
        // The perturbed logits keep the masked classes at -inf.
        for (const [i, x] of (got.perturbed as (number | string)[]).entries()) {
          expect(x === '-inf', `${what}: perturbed[${i}] = ${x}`).toBe(isMasked.has(i))
        }
      }
    }
  })

  it('refuse NaN, +inf, -inf at a target of a counted row and a row masked in every class, with a ValueError that says so', () => {
    expect(out.nan).toBe('logits hold NaN or +inf (-inf masks a class out of its row)')
    expect(out['+inf']).toBe('logits hold NaN or +inf (-inf masks a class out of its row)')
    expect(out['at target']).toBe('logits hold -inf at a target of a row that counts: a masked class cannot be a target')
    expect(out['soft at mass']).toBe('logits hold -inf at a target of a row that counts: a masked class cannot be a target')
    expect(out['every class']).toBe('a row of the logits is -inf in every class: a row must keep a class that is not masked')
    // A row that does not count (mask 0, the ignore label) may mask its label.
    for (const field of ['masked row', 'ignored row', 'soft']) expect(Number.isFinite(out[field]), field).toBe(true)
  })

  it('read -inf as probability 0 in a multi-label module: the reference loss, gradient 0 there; refused at a positive', () => {
    const [loss, grad] = out.bce as [number, (number | string)[]]
    const u = referenceOps.constant(
      logits.flat().map((v, k) => (isMasked.has(k) ? Number.NEGATIVE_INFINITY : v)),
      [8, 6],
    )
    const y = referenceOps.constant(
      labels.flatMap((l) => Array.from({ length: 6 }, (_, j) => (j === l ? 1 : 0))),
      [8, 6],
    )
    const want = createLoss(referenceOps, { rule: 'bce' })(u, y).data[0]!
    expect(Math.abs(loss - want) / want).toBeLessThan(1e-12)
    grad.forEach((g, k) => {
      expect(typeof g, `grad[${k}] = ${g}`).toBe('number')
      if (isMasked.has(k)) expect(g, `grad[${k}]`).toBe(0)
    })
    expect(out['bce at positive']).toBe('logits hold -inf at a target of a row that counts: a masked class cannot be a target')
  })
})
