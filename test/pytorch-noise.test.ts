/**
 * A rule's batch input in an exported PyTorch module (GCL's noise, docs/rules/gaussian-clouded-logit.md):
 * `forward` takes `noise: Optional[Tensor] = None`; given, the module computes the reference's loss
 * and gradient at that noise; left out, a training call draws it with torch's generator (the same
 * draw after the same `torch.manual_seed`, in `[−1, 1]`), an evaluation call reads none; the module
 * compiled by `torch.jit.script` does the same, and a noise out of `[−1, 1]` or of the wrong shape is a
 * ValueError naming it.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { runPython } from '@logit-perturb/conformance/torch'
import { createLoss, gclCloudSizes, referenceOps } from '@logit-perturb/core'
import { exportTorchModule } from '@logit-perturb/pytorch'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'

const dir = mkdtempSync(join(tmpdir(), 'logit-perturb-pytorch-noise-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

const spec = { rule: 'gaussian-clouded-logit', classCounts: [500, 80, 12, 3], scale: 6, margin: 0.25, noiseMul: 1 } as const
const N = 64
const C = 4
const logits = Array.from({ length: N }, (_, i) => Array.from({ length: C }, (_, j) => Math.sin(3 * i + j) * 0.8))
const labels = Array.from({ length: N }, (_, i) => i % C)
const noise = Array.from({ length: N }, (_, i) => Array.from({ length: C }, (_, j) => Math.cos(5 * i + 2 * j)))

const program = `
import importlib.util, json, sys
import torch
spec = importlib.util.spec_from_file_location('gcl', sys.argv[1])
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
data = json.loads(sys.argv[2])
u = torch.tensor(data['logits'], dtype=torch.float64)
y = torch.tensor(data['labels'])
noise = torch.tensor(data['noise'], dtype=torch.float64)
out = {}
for name, build in (('eager', lambda: module.GaussianCloudedLogitLoss()), ('scripted', lambda: torch.jit.script(module.GaussianCloudedLogitLoss()))):
    loss = build()
    r = {}
    x = u.clone().requires_grad_(True)
    value = loss(x, y, noise=noise)
    (grad,) = torch.autograd.grad(value, x)
    r['given'] = value.item()
    r['grad'] = grad.reshape(-1).tolist()
    torch.manual_seed(11)
    r['drawn'] = loss.perturb(u, y).reshape(-1).tolist()
    torch.manual_seed(11)
    r['again'] = loss.perturb(u, y).reshape(-1).tolist()
    r['other'] = loss.perturb(u, y).reshape(-1).tolist()
    loss.eval()
    r['evaluation'] = loss(u, y).item()
    loss.train()
    errors = []
    for bad in (noise * 2, noise[:1]):
        try:
            loss(u, y, noise=bad)
            errors.append('none')
        except Exception as e:
            errors.append(str(e))
    r['errors'] = errors
    out[name] = r
print(json.dumps(out))
`

let out: Record<'eager' | 'scripted', Record<string, unknown>>

beforeAll(async () => {
  const file = join(dir, 'gcl.py')
  writeFileSync(file, exportTorchModule(spec).source)
  out = JSON.parse(await runPython(program, [file, JSON.stringify({ logits, labels, noise })]))
}, 300_000)

describe('an exported module of a rule with a batch input (GCL)', () => {
  const u = referenceOps.constant(logits.flat(), [N, C])
  const y = referenceOps.constant(labels, [N], 'int32')
  const loss = createLoss(referenceOps, spec)

  it.each(['eager', 'scripted'] as const)('%s: the reference loss and gradient at the given noise', (name) => {
    const ctx = { noise: referenceOps.constant(noise.flat(), [N, C]) }
    expect(Math.abs((out[name].given as number) - loss(u, y, ctx).data[0]!)).toBeLessThan(1e-9)
    const want = loss.gradient(u, y, ctx).data
    for (const [k, g] of (out[name].grad as number[]).entries()) expect(Math.abs(g - want[k]!)).toBeLessThan(1e-9)
  })

  it.each(['eager', 'scripted'] as const)(
    '%s: a training call without it draws |ε| in [0, 1] (torch.manual_seed: the same draw); an evaluation call reads none',
    (name) => {
      const r = out[name]
      const drawn = r.drawn as number[]
      expect(r.again).toEqual(drawn)
      expect(r.other).not.toEqual(drawn)
      const sizes = gclCloudSizes(spec.classCounts, spec.noiseMul)
      const flat = logits.flat()
      const magnitudes = drawn.flatMap((z, k) => {
        const j = k % C
        const margin = j === labels[Math.floor(k / C)] ? spec.margin : 0
        const a = sizes[j]!
        return a > 0 ? [(spec.scale * (flat[k]! - margin) - z) / (spec.scale * a)] : []
      })
      for (const e of magnitudes) expect(e).toBeGreaterThanOrEqual(-1e-12)
      for (const e of magnitudes) expect(e).toBeLessThanOrEqual(1 + 1e-12)
      const mean = magnitudes.reduce((a, v) => a + v, 0) / magnitudes.length
      // E|ε| = (1/3)·√(2/π) ≈ 0.266; 192 draws: standard error 0.015.
      expect(Math.abs(mean - Math.sqrt(2 / Math.PI) / 3)).toBeLessThan(0.07)
      expect(Math.abs((r.evaluation as number) - loss.evaluate(u, y, { training: false }).loss.data[0]!)).toBeLessThan(1e-9)
    },
  )

  it.each(['eager', 'scripted'] as const)('%s: refuses a noise out of [−1, 1] or of another shape, naming it', (name) => {
    const [range, shape] = out[name].errors as string[]
    expect(range).toContain('noise must hold numbers in [-1.0, 1.0]')
    expect(shape).toContain("noise must have the logits' shape")
  })
})
