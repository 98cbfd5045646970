/**
 * Exported PyTorch modules on dense inputs, with an ignore label, and on soft targets, run by
 * Debian's torch: `forward(logits, target)` as `F.cross_entropy` takes them (class ids `[N, …]`
 * with `ignore_index`, −100 by default, or probabilities with the logits' shape), against the
 * flattened batch with the ignored rows masked, `F.cross_entropy` itself and the float64 reference;
 * an exactly zero gradient at ignored pixels; any number of trailing axes; the state saved and loaded.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { runPython } from '@logit-perturb/conformance/torch'
import { type RuleInput, createLoss, mulberry32, referenceOps as ref } from '@logit-perturb/core'
import { relativeError } from '@logit-perturb/core/verify'
import { exportTorchModule } from '@logit-perturb/pytorch'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'

const dir = mkdtempSync(join(tmpdir(), 'logit-perturb-pytorch-dense-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

const [N, C, H, W] = [2, 4, 3, 5]
const COUNTS = [400, 120, 30, 6]
const SPECS: Record<string, RuleInput> = {
  lpl: { rule: 'lpl', split: 'prior', classCounts: COUNTS, maxSteps: 4 },
  seesaw: { rule: 'seesaw', numClasses: C },
  la: { rule: 'logit-adjustment', classCounts: COUNTS },
  ldam: { rule: 'ldam', classCounts: COUNTS, scale: 4 },
  ce: { rule: 'ce', numClasses: C },
}
const rand = mulberry32(3)
const logits = Array.from({ length: N * C * H * W }, () => 6 * rand() - 3)
/** Class ids `[N, H, W]`, every fifth pixel ignored (PyTorch's −100). */
const labels = Array.from({ length: N * H * W }, (_, k) => (k % 5 === 2 ? -100 : Math.floor(rand() * C)))
/** Probabilities `[N, C, H, W]`: each pixel's entries sum to 1 over the class axis. */
const targets = (() => {
  const raw = Array.from({ length: N * C * H * W }, () => rand())
  const total = (i: number, p: number) => Array.from({ length: C }, (_, c) => raw[(i * C + c) * H * W + p]!).reduce((a, b) => a + b, 0)
  return raw.map((v, k) => v / total(Math.floor(k / (C * H * W)), k % (H * W)))
})()

const program = `
import importlib.util, json, sys
import torch
import torch.nn.functional as F

torch.set_num_threads(1)
paths = json.loads(sys.argv[1])
batch = json.loads(sys.argv[2])
N, C, H, W = batch['shape']


def load(name):
    spec = importlib.util.spec_from_file_location(name, paths[name])
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return next(v for k, v in vars(module).items() if k.endswith('Loss'))


losses = {name: load(name) for name in paths}
u = torch.tensor(batch['logits'], dtype=torch.float64).reshape(N, C, H, W)
y = torch.tensor(batch['labels']).reshape(N, H, W)
t = torch.tensor(batch['targets'], dtype=torch.float64).reshape(N, C, H, W)
ignored = y == -100
out = {}


def largest(a, b):
    return float((a - b).abs().max())


def quantities(loss_fn, logits, target, **rows):
    """Loss, perturbed logits, autograd's gradient and the closed form, each by a fresh module."""
    x = logits.clone().requires_grad_()
    loss = loss_fn()(x, target, **rows)
    (grad,) = torch.autograd.grad(loss.sum(), x)
    return {'loss': loss.detach(), 'perturbed': loss_fn().perturb(logits, target, **rows), 'autograd': grad,
            'gradient': loss_fn().gradient(logits, target, **rows)}


def rows_of(x):
    return x.movedim(1, -1).reshape(-1, C)


# Dense with ignored pixels against the flattened batch with those rows masked out.
for name in ('lpl', 'seesaw', 'la'):
    dense = quantities(losses[name], u, y)
    flat = quantities(losses[name], rows_of(u), y.reshape(-1).masked_fill(ignored.reshape(-1), 0),
                      mask=(~ignored).reshape(-1).double())
    moved = losses[name]()
    moved(u, y)
    alone = losses[name]()
    alone(rows_of(u), y.reshape(-1).masked_fill(ignored.reshape(-1), 0), mask=(~ignored).reshape(-1).double())
    out[name] = {
        'loss': dense['loss'].item(),
        'gradient': dense['gradient'].reshape(-1).tolist(),
        'differences': [
            abs(dense['loss'].item() - flat['loss'].item()),
            largest(rows_of(dense['perturbed']), flat['perturbed']),
            largest(rows_of(dense['autograd']), flat['autograd']),
            largest(rows_of(dense['gradient']), flat['gradient']),
            largest(moved.state_dict().get('state_counts', torch.zeros(1)), alone.state_dict().get('state_counts', torch.zeros(1))),
        ],
        'zero at ignored': [bool((rows_of(dense[k])[ignored.reshape(-1)] == 0).all()) for k in ('autograd', 'gradient')],
    }

# The ignore label: PyTorch's -100 by default, as F.cross_entropy; any other by ignore_index.
ce = losses['ce']
out['ce'] = [ce()(u, y).item(), F.cross_entropy(u, y).item(), ce(ignore_index=255)(u, y.masked_fill(ignored, 255)).item()]
per_pixel = ce(reduction='none')(u, y)
out['none'] = [list(per_pixel.shape), bool((per_pixel[ignored] == 0).all()),
               largest(per_pixel, F.cross_entropy(u, y, reduction='none'))]
# Any number of trailing axes at run time: [N, C], [N, C, L], [N, C, H, W], [N, C, D, H, W].
out['ranks'] = [largest(ce()(x, z), F.cross_entropy(x, z)) for x, z in (
    (u[:, :, 0, 0], y[:, 0, 0]), (u[:, :, 0], y[:, 0]), (u, y), (u[:, :, None].expand(N, C, 2, H, W), y[:, None].expand(N, 2, H, W)))]
# One weight per image is that weight at each of its pixels.
weights = torch.tensor([1.0, 3.0], dtype=torch.float64)
out['weights'] = abs(losses['lpl']()(u, y, sample_weight=weights).item()
                     - losses['lpl']()(u, y, sample_weight=weights[:, None, None].expand(N, H, W)).item())

# Soft targets: probabilities with the logits' shape, as F.cross_entropy takes them.
out['soft ce'] = [ce()(u, t).item(), F.cross_entropy(u, t).item()]
out['soft'] = {name: {'dense': losses[name]()(u, t).item(), 'rows': losses[name]()(rows_of(u), rows_of(t)).item(),
                      'gradient': losses[name]().gradient(u, t).reshape(-1).tolist()} for name in ('la', 'ldam')}


def refusal(fn):
    try:
        fn()
        return None
    except ValueError as e:
        return str(e)


out['refusals'] = [
    refusal(lambda: losses['seesaw']()(u, t)),
    refusal(lambda: ce()(u, y.masked_fill(ignored, 7))),
    refusal(lambda: ce()(u, y[:, :2])),
    refusal(lambda: ce()(u, t * 2)),
]

# The state is saved with the module, the ignore label with its arguments: a loaded copy goes on alike.
first = losses['seesaw'](ignore_index=255)
first(u, y.masked_fill(ignored, 255))
counted = first.state_counts.sum().item()
copy = losses['seesaw'](ignore_index=255)
copy.load_state_dict(first.state_dict())
again = [m(u.flip(0), y.flip(0).masked_fill(ignored.flip(0), 255)).item() for m in (first, copy)]
out['state'] = [again[0] - again[1], largest(first.state_counts, copy.state_counts), counted,
                sorted(first.state_dict().keys())]
print(json.dumps(out))
`

let out: Record<string, unknown> = {}
beforeAll(async () => {
  const paths: Record<string, string> = {}
  for (const [name, spec] of Object.entries(SPECS)) {
    paths[name] = join(dir, `${name}.py`)
    writeFileSync(paths[name], exportTorchModule(spec).source)
  }
  out = JSON.parse(await runPython(program, [JSON.stringify(paths), JSON.stringify({ shape: [N, C, H, W], logits, labels, targets })]))
}, 120_000)

const u = ref.constant(logits, [N, C, H, W])
const y = ref.constant(labels, [N, H, W], 'int32')
const t = ref.constant(targets, [N, C, H, W])

describe('an exported module on dense logits with ignored pixels', () => {
  it.each(['lpl', 'seesaw', 'la'])('%s: equals the flattened batch with the ignored rows masked, state included', (name) => {
    const result = out[name] as { loss: number; gradient: number[]; differences: number[]; 'zero at ignored': boolean[] }
    expect(Math.max(...result.differences)).toBeLessThan(1e-12)
    expect(result['zero at ignored']).toEqual([true, true])
    // The module's ignore label is PyTorch's -100 by default: the reference with that ignore label.
    const reference = createLoss(ref, SPECS[name]!, { ignoreIndex: -100 })
    const evaluation = reference.evaluate(u, y, { training: true })
    expect(relativeError([result.loss], evaluation.loss.data)).toBeLessThan(1e-12)
    expect(relativeError(result.gradient, reference.gradient(u, y, { training: true }).data)).toBeLessThan(1e-12)
  })

  it('ignores -100 by default as F.cross_entropy does, or its ignore_index, for any number of trailing axes', () => {
    const [mine, torch, by255] = out.ce as number[]
    expect(Math.abs(mine! - torch!)).toBeLessThan(1e-12)
    expect(by255).toBe(mine)
    const [shape, zeros, perPixel] = out.none as [number[], boolean, number]
    expect(shape).toEqual([N, H, W])
    expect(zeros).toBe(true)
    expect(perPixel).toBeLessThan(1e-12)
    expect(Math.max(...(out.ranks as number[]))).toBeLessThan(1e-12)
    expect(out.weights).toBeLessThan(1e-12)
  })

  it('saves its state with the module: a copy loaded from state_dict goes on alike', () => {
    const [loss, state, counted, keys] = out.state as [number, number, number, string[]]
    expect(loss).toBe(0)
    expect(state).toBe(0)
    // The counts of the labelled pixels only.
    expect(counted).toBe(labels.filter((l) => l !== -100).length)
    expect(keys).toEqual(['state_counts'])
  })
})

describe('an exported module on soft targets', () => {
  it('takes probabilities with the logits shape as F.cross_entropy does', () => {
    const [mine, torch] = out['soft ce'] as number[]
    expect(Math.abs(mine! - torch!)).toBeLessThan(1e-12)
  })

  it.each(['la', 'ldam'])('%s: the reference on dense and flattened soft targets', (name) => {
    const result = (out.soft as Record<string, { dense: number; rows: number; gradient: number[] }>)[name]!
    const reference = createLoss(ref, SPECS[name]!)
    expect(relativeError([result.dense, result.rows], [reference(u, t).data[0]!, reference(u, t).data[0]!])).toBeLessThan(1e-12)
    expect(relativeError(result.gradient, reference.gradient(u, t).data)).toBeLessThan(1e-12)
  })

  it('refuses what it cannot take with a ValueError naming it', () => {
    const [soft, range, shape, probabilities] = out.refusals as string[]
    expect(soft).toBe("rule seesaw does not define soft targets (probability rows): its method reads each sample's class; pass class ids")
    expect(range).toBe('labels must lie in [0, 4), got values from 0 to 7')
    expect(shape).toMatch(/^labels must be integer class ids \[N, d1, \.\.\., dk\] = \[2, 3, 5\], got torch\.int64 \[2, 2, 5\]$/)
    expect(probabilities).toBe('soft targets must be probabilities in [0, 1]')
  })
})
