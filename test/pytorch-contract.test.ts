/**
 * The exported modules as a trainer uses them at scale (issue 27's contract), each module both eager
 * and compiled by `torch.jit.script`: logit adjustment with a zero-count class, LDAM, focal, seesaw,
 * LPL and the released balanced preset
 * - score bfloat16 logits (a model under CPU `torch.autocast`) in float32: a float32 loss equal to
 *   the float32 loss of the same logits;
 * - take masked classes (`−inf` at non-target logits): a finite loss, a gradient of exactly 0 at the
 *   masked entries, the same from the scripted module;
 * - keep shift invariance: a constant added to each row changes neither loss nor gradient (float64).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { runPython } from '@logit-perturb/conformance/torch'
import type { RuleInput } from '@logit-perturb/core'
import { exportTorchModule } from '@logit-perturb/pytorch'
import { afterAll, describe, expect, it } from 'vitest'

const dir = mkdtempSync(join(tmpdir(), 'logit-perturb-pytorch-contract-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

const COUNTS = [4000, 1200, 300, 60, 12, 0]
const SPECS: Record<string, RuleInput> = {
  'logit-adjustment (a zero-count class)': { rule: 'logit-adjustment', classCounts: COUNTS },
  ldam: { rule: 'ldam', classCounts: COUNTS.map((n) => n + 1) },
  focal: { rule: 'focal', gamma: 2, numClasses: 6 },
  seesaw: { rule: 'seesaw', classCounts: COUNTS },
  lpl: { rule: 'lpl', split: 'prior', classCounts: COUNTS.map((n) => n + 1) },
  'official-balanced': { rule: 'official-balanced', numClasses: 6 },
}

const program = `
import importlib.util, json, math, sys
import torch

torch.manual_seed(0)
torch.set_num_threads(1)
paths = json.loads(sys.argv[1])
out = {}
for name, path in paths.items():
    spec = importlib.util.spec_from_file_location('m', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    Loss = next(v for k, v in vars(module).items() if k.endswith('Loss'))
    eager, scripted = Loss(), torch.jit.script(Loss())
    eager.eval(); scripted.eval()
    r = {}
    # bfloat16 logits from a model under CPU autocast.
    features = torch.randn(24, 16)
    labels = torch.randint(0, 5, (24,))
    model = torch.nn.Linear(16, 6)
    with torch.no_grad():
        model.weight.mul_(3)
    for kind, loss_fn in (('eager', eager), ('scripted', scripted)):
        with torch.autocast('cpu', dtype=torch.bfloat16):
            logits = model(features)
            loss = loss_fn(logits, labels)
        reference = loss_fn(logits.detach().float(), labels)
        r[kind + 'Bf16'] = [str(logits.dtype), str(loss.dtype), loss.item(), reference.item()]
    # Masked classes: -inf at non-target entries, float64.
    z = torch.randn(12, 6, dtype=torch.float64) * 3
    y = torch.randint(0, 6, (12,))
    masked = torch.zeros(12, 6, dtype=torch.bool)
    for i in range(12):
        for j in range(6):
            if j != int(y[i]) and (i + j) % 4 == 0:
                masked[i, j] = True
    zm = z.masked_fill(masked, -math.inf)
    for kind, loss_fn in (('eager', eager), ('scripted', scripted)):
        x = zm.clone().requires_grad_(True)
        loss = loss_fn(x, y)
        loss.backward()
        r[kind + 'Masked'] = [loss.item(), bool(torch.isfinite(x.grad).all()), float(x.grad[masked].abs().max())]
    # Shift invariance, float64: a constant per row.
    shift = torch.randn(12, 1, dtype=torch.float64) * 50
    for kind, loss_fn in (('eager', eager), ('scripted', scripted)):
        a = z.clone().requires_grad_(True)
        b = (z + shift).clone().requires_grad_(True)
        la, lb = loss_fn(a, y), loss_fn(b, y)
        la.backward(); lb.backward()
        r[kind + 'Shift'] = [abs(la.item() - lb.item()) / abs(la.item()), float((a.grad - b.grad).abs().max() / a.grad.abs().max())]
    out[name] = r
print(json.dumps(out))
`

describe('exported modules, eager and scripted, at the trainer contract', () => {
  it('score bfloat16 in float32, take masked classes and keep shift invariance', async () => {
    const paths = Object.fromEntries(
      Object.entries(SPECS).map(([name, spec], k) => {
        const path = join(dir, `rule_${k}.py`)
        writeFileSync(path, exportTorchModule(spec).source)
        return [name, path]
      }),
    )
    const out = JSON.parse(await runPython(program, [JSON.stringify(paths)])) as Record<
      string,
      Record<string, (string | number | boolean)[]>
    >
    expect(Object.keys(out)).toEqual(Object.keys(SPECS))
    for (const [name, r] of Object.entries(out)) {
      for (const kind of ['eager', 'scripted']) {
        const [logitsDtype, lossDtype, loss, reference] = r[`${kind}Bf16`]! as [string, string, number, number]
        expect(logitsDtype, `${name} ${kind}`).toBe('torch.bfloat16')
        expect(lossDtype, `${name} ${kind}: the loss of bfloat16 logits`).toBe('torch.float32')
        expect(Math.abs(loss - reference) / Math.abs(reference), `${name} ${kind}: ${loss} vs ${reference}`).toBeLessThan(1e-6)
        const [masked, finite, atMasked] = r[`${kind}Masked`]! as [number, boolean, number]
        expect(Number.isFinite(masked), `${name} ${kind}: loss with masked classes`).toBe(true)
        expect(finite, `${name} ${kind}: gradient finite`).toBe(true)
        expect(atMasked, `${name} ${kind}: gradient at masked entries`).toBe(0)
        const [lossGap, gradGap] = r[`${kind}Shift`]! as [number, number]
        expect(lossGap, `${name} ${kind}: loss under a row shift`).toBeLessThan(1e-9)
        expect(gradGap, `${name} ${kind}: gradient under a row shift`).toBeLessThan(1e-8)
      }
      expect(r.scriptedMasked![0], `${name}: scripted and eager agree`).toBeCloseTo(r.eagerMasked![0] as number, 10)
    }
  }, 240_000)
})
