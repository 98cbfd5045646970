/**
 * Exported PyTorch modules compiled by `torch.jit.script` (Debian's torch 1.13): every rule below
 * scripts, and the scripted module gives the eager module's loss, perturbed logits, autograd
 * gradient and closed-form gradient, in float64 and float32, on rows with sample weights and a mask
 * and on a dense `[N, C, H, W]` batch with ignored pixels; its state moves alike over training calls
 * and goes through `state_dict()` both ways; its attributes (`epoch`, `training`, `check_values`) are
 * read at run time; its refusals carry the eager module's words; with `all_reduce=False` it is saved
 * and loaded by `torch.jit.save`, and under an initialized process group it calls the all-reduce.
 * The golden and conformance suites also run every case on the scripted module (`scripted`).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { runPython } from '@logit-perturb/conformance/torch'
import type { RuleInput } from '@logit-perturb/core'
import { exportTorchModule } from '@logit-perturb/pytorch'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'

const dir = mkdtempSync(join(tmpdir(), 'logit-perturb-pytorch-script-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

const C = 6
const COUNTS = [400, 200, 100, 50, 20, 10]
const SPECS: Record<string, RuleInput> = {
  // A class no sample of the training set had.
  la: { rule: 'logit-adjustment', classCounts: [400, 200, 100, 50, 20, 0] },
  ldam: { rule: 'ldam', classCounts: COUNTS, drw: { beta: 0.999, fromEpoch: 2 } },
  focal: { rule: 'focal', numClasses: C },
  seesaw: { rule: 'seesaw', numClasses: C },
  lpl: { rule: 'lpl', split: 'prior', classCounts: COUNTS },
  'lpl-through': { rule: 'lpl', split: 'prior', classCounts: COUNTS, gradient: 'through', maxSteps: 4 },
  'lpl-confidence': { rule: 'lpl', split: 'confidence', momentum: 0.5 },
  'official-balanced': { rule: 'official-balanced' },
  'official-longtail': { rule: 'official-longtail', classCounts: COUNTS, headClasses: 3 },
}
const STATEFUL = ['seesaw', 'lpl-confidence']

const program = `
import importlib.util, io, json, math, os, sys
import torch
import torch.distributed as dist

torch.manual_seed(0)
torch.set_num_threads(1)
paths = json.loads(sys.argv[1])
stateful = json.loads(sys.argv[2])
C = ${C}


def load(name):
    spec = importlib.util.spec_from_file_location(name.replace('-', '_'), paths[name])
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return next(v for k, v in vars(module).items() if k.endswith('Loss'))


def difference(a, b):
    """The largest difference of a from b, relative to b's largest entry."""
    if a.shape != b.shape or a.dtype != b.dtype:
        return math.inf
    if b.numel() == 0:
        return 0.0
    return float((a - b).abs().max()) / max(float(b.abs().max()), 1e-300)


def quantities(loss_fn, logits, target, **rows):
    x = logits.clone().requires_grad_()
    loss = loss_fn(x, target, **rows)
    (grad,) = torch.autograd.grad(loss.sum(), x)
    out = {'loss': loss.detach(), 'autograd': grad, 'perturbed': loss_fn.perturb(logits, target, **rows)}
    if hasattr(loss_fn, 'gradient'):
        out['gradient'] = loss_fn.gradient(logits, target, **rows)
    return out


def compare(eager, scripted, logits, target, **rows):
    """Each quantity of the scripted module against the eager one's, called in the same order."""
    a = quantities(eager, logits, target, **rows)
    b = quantities(scripted, logits, target, **rows)
    if sorted(a) != sorted(b):
        return {'methods': math.inf}
    return {k: difference(b[k], a[k]) for k in a}


def pair(Loss, **options):
    """An eager module and a scripted one, each of its own (a scripted module shares the buffers of the module it compiles)."""
    scripted = torch.jit.script(Loss(**options))
    assert isinstance(scripted, torch.jit.ScriptModule)
    return Loss(**options), scripted


def batch(dtype, shape):
    logits = (3 * torch.randn(shape, dtype=torch.float64)).to(dtype)
    positions = shape[:1] + shape[2:]
    target = torch.randint(0, C, positions)
    return logits, target


out = {}
for name in paths:
    Loss = load(name)
    result = out[name] = {}
    for dtype_name, dtype in (('float64', torch.float64), ('float32', torch.float32)):
        checks = result[dtype_name] = {}
        u, y = batch(dtype, (10, C))
        weights = torch.rand(10, dtype=dtype) + 0.5
        mask = (torch.arange(10) % 4 != 3).to(dtype)
        for reduction in ('mean', 'sum', 'none'):
            eager, scripted = pair(Loss, reduction=reduction)
            checks[f'rows {reduction}'] = compare(eager, scripted, u, y, sample_weight=weights, mask=mask)
        # Dense [N, C, H, W] with ignored pixels: PyTorch's -100, and mmsegmentation's 255 by ignore_index.
        u, y = batch(dtype, (2, C, 3, 4))
        ignored = torch.rand(y.shape) < 0.2
        eager, scripted = pair(Loss)
        checks['dense'] = compare(eager, scripted, u, y.masked_fill(ignored, -100), sample_weight=torch.tensor([1.0, 2.0], dtype=dtype))
        eager, scripted = pair(Loss, ignore_index=255, reduction='none')
        checks['dense ignore_index=255'] = compare(eager, scripted, u, y.masked_fill(ignored, 255))
        checks['dense zero at ignored'] = {'autograd': 0.0 if bool((quantities(scripted, u, y.masked_fill(ignored, 255))['autograd'].movedim(1, -1)[ignored] == 0).all()) else math.inf}
        # Evaluation calls, and the value checks left out.
        eager, scripted = pair(Loss, check_values=False)
        eager.eval()
        scripted.eval()
        checks['eval, check_values=False'] = compare(eager, scripted, u, y.masked_fill(ignored, -100))

    u, y = batch(torch.float64, (10, C))
    if name in stateful:
        # Two training calls move the state alike; state_dict() goes both ways, and the copies go on alike.
        eager, scripted = pair(Loss)
        calls = []
        for k in range(2):
            calls.append(difference(scripted(u * (k + 1), y), eager(u * (k + 1), y)))
            calls += [difference(scripted.state_dict()[key], eager.state_dict()[key]) for key in eager.state_dict()]
        saved = io.BytesIO()
        torch.save(scripted.state_dict(), saved)
        saved.seek(0)
        from_scripted = Loss()
        from_scripted.load_state_dict(torch.load(saved))
        from_eager = torch.jit.script(Loss())
        from_eager.load_state_dict(eager.state_dict())
        losses = [m(u.flip(0), y.flip(0)) for m in (eager, scripted, from_scripted, from_eager)]
        result['state'] = {
            'keys': sorted(scripted.state_dict().keys()),
            'moved': float(sum(v.abs().sum() for v in scripted.state_dict().values())),
            'differences': calls + [difference(l, losses[0]) for l in losses[1:]],
        }
    if name == 'ldam':
        # The epoch switch of deferred re-weighting, set on the scripted module.
        eager, scripted = pair(Loss)
        before = scripted(u, y)
        eager.epoch = scripted.epoch = 2
        result['epoch'] = [difference(scripted(u, y), eager(u, y)), float((scripted(u, y) - before).abs())]
    if name == 'lpl':
        eager, scripted = pair(Loss)

        def refusal(fn):
            try:
                fn()
                return None
            except Exception as e:
                # A scripted module raises torch.jit.Error, whose message ends with the ValueError's.
                return [type(e).__name__, str(e).strip().splitlines()[-1]]

        result['refusals'] = [
            refusal(lambda: m(u, torch.tensor([0, 1, 2, 3, 4, 6, 0, 1, 2, 3]))) for m in (eager, scripted)
        ] + [refusal(lambda: m(u, y, mask=torch.ones(3, dtype=torch.float64))) for m in (eager, scripted)]
        # The constants are buffers of both modules, and in neither state_dict() (torch.jit.script alone would save them).
        result['state_dict'] = [sorted(eager.state_dict()), sorted(scripted.state_dict()), len(list(scripted.buffers()))]
        eager.load_state_dict(scripted.state_dict())
        scripted.load_state_dict(eager.state_dict())
        # torch.jit.save: the module with all_reduce=False calls no Python; the default one calls the all-reduce.
        saved = io.BytesIO()
        alone = torch.jit.script(Loss(all_reduce=False))
        torch.jit.save(alone, saved)
        saved.seek(0)
        loaded = torch.jit.load(saved)
        result['saved'] = [difference(loaded(u, y), eager(u, y)), difference(loaded.gradient(u, y), eager.gradient(u, y))]
        try:
            torch.jit.save(scripted, io.BytesIO())
            result['save with all_reduce'] = None
        except RuntimeError as e:
            result['save with all_reduce'] = str(e).strip().splitlines()[0]
        # Under an initialized process group (one worker) the scripted module runs the all-reduce, a Python call.
        dist.init_process_group('gloo', init_method='file://' + os.path.join(sys.argv[3], 'group'), rank=0, world_size=1)
        calls = []
        original = dist.all_reduce
        dist.all_reduce = lambda t, *a, **k: (calls.append(tuple(t.shape)), original(t, *a, **k))[1]
        x = u.clone().requires_grad_()
        loss = scripted(x, y)
        loss.backward()
        dist.all_reduce = original
        dist.destroy_process_group()
        result['distributed'] = [difference(loss.detach(), eager(u, y)), difference(x.grad, eager.gradient(u, y)), len(calls)]
print(json.dumps(out))
`

let out: Record<string, Record<string, unknown>> = {}
beforeAll(async () => {
  const paths: Record<string, string> = {}
  for (const [name, spec] of Object.entries(SPECS)) {
    paths[name] = join(dir, `${name}.py`)
    writeFileSync(paths[name], exportTorchModule(spec, { numClasses: C }).source)
  }
  out = JSON.parse(await runPython(program, [JSON.stringify(paths), JSON.stringify(STATEFUL), dir]))
}, 300_000)

/** How far the scripted module may be from the eager one, relative to the largest entry. */
const TOLERANCE = { float64: 1e-12, float32: 1e-5 } as const

describe('an exported module compiled by torch.jit.script', () => {
  it.each(Object.keys(SPECS))(
    '%s: gives the eager module loss, perturbed logits and gradients, float64 and float32, rows and dense',
    (name) => {
      const result = out[name] as Record<'float64' | 'float32', Record<string, Record<string, number>>>
      for (const dtype of ['float64', 'float32'] as const) {
        const checks = result[dtype]
        expect(Object.keys(checks)).toEqual([
          'rows mean',
          'rows sum',
          'rows none',
          'dense',
          'dense ignore_index=255',
          'dense zero at ignored',
          'eval, check_values=False',
        ])
        for (const [what, differences] of Object.entries(checks)) {
          expect(Object.keys(differences), `${dtype} ${what}`).toEqual(expect.arrayContaining(['autograd']))
          for (const [quantity, difference] of Object.entries(differences)) {
            expect(difference, `${name} ${dtype} ${what}: ${quantity}`).toBeLessThanOrEqual(TOLERANCE[dtype])
          }
        }
        // The closed-form gradient is a method of the scripted module where the rule has one.
        expect('gradient' in checks['rows mean']!).toBe(exportTorchModule(SPECS[name]!, { numClasses: C }).hasClosedFormGradient)
      }
    },
  )

  it.each(STATEFUL)('%s: moves its state alike over two training calls, and state_dict() goes both ways', (name) => {
    const state = out[name]!.state as { keys: string[]; moved: number; differences: number[] }
    expect(state.keys.every((k) => k.startsWith('state_'))).toBe(true)
    expect(state.moved).toBeGreaterThan(0)
    expect(state.differences.length).toBeGreaterThanOrEqual(5)
    for (const d of state.differences) expect(d).toBeLessThanOrEqual(TOLERANCE.float64)
  })

  it('reads module.epoch at run time: the scripted LDAM-DRW switches its weights on as the eager one does', () => {
    const [difference, moved] = out.ldam!.epoch as [number, number]
    expect(difference).toBeLessThanOrEqual(TOLERANCE.float64)
    expect(moved).toBeGreaterThan(1e-3)
  })

  it("refuses bad input with the eager module's words (as torch.jit.Error, a RuntimeError)", () => {
    const [eagerRange, scriptedRange, eagerMask, scriptedMask] = out.lpl!.refusals as [string, string][]
    expect(eagerRange).toEqual(['ValueError', 'labels must lie in [0, 6), got values from 0 to 6'])
    expect(scriptedRange).toEqual(['Error', `builtins.ValueError: ${eagerRange![1]}`])
    expect(eagerMask).toEqual(['ValueError', 'mask must be [N] with N = 10, got [3]'])
    expect(scriptedMask).toEqual(['Error', `builtins.ValueError: ${eagerMask![1]}`])
  })

  it("keeps the spec's constants, buffers, out of state_dict() as the eager module does", () => {
    const [eager, scripted, buffers] = out.lpl!.state_dict as [string[], string[], number]
    expect(eager).toEqual([])
    expect(scripted).toEqual([])
    expect(buffers).toBeGreaterThan(0)
  })

  it('is saved and loaded by torch.jit.save with all_reduce=False; with the all-reduce it calls Python', () => {
    for (const d of out.lpl!.saved as number[]) expect(d).toBeLessThanOrEqual(TOLERANCE.float64)
    expect(out.lpl!['save with all_reduce']).toMatch(/^Could not export Python function call '_distributed'/)
  })

  it('sums its batch statistics through torch.distributed under an initialized process group, gradient included', () => {
    const [loss, gradient, calls] = out.lpl!.distributed as [number, number, number]
    expect(loss).toBeLessThanOrEqual(TOLERANCE.float64)
    expect(gradient).toBeLessThanOrEqual(TOLERANCE.float64)
    // The search's class sums at each step, the mean's normaliser, and the backward pass's sums.
    expect(calls).toBeGreaterThan(2)
  })
})
