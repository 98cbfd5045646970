/**
 * Exported PyTorch modules on half-precision logits, as a model returns them under
 * `torch.autocast`: the loss is computed in float32 (autocast off inside the module, as for torch's
 * own cross-entropy) and returned as float32, equal to the module on the same logits cast to
 * float32; the gradient reaches the model in the model's precision. Run by Debian's torch on CPU,
 * whose autocast takes bfloat16.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { runPython } from '@logit-perturb/conformance/torch'
import type { RuleInput } from '@logit-perturb/core'
import { exportTorchModule } from '@logit-perturb/pytorch'
import { afterAll, describe, expect, it } from 'vitest'

const dir = mkdtempSync(join(tmpdir(), 'logit-perturb-pytorch-precision-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

const COUNTS = [4000, 1200, 300, 60, 12]
const SPECS: Record<string, RuleInput> = {
  ldam: { rule: 'ldam', classCounts: COUNTS },
  lpl: { rule: 'lpl', split: 'prior', classCounts: COUNTS },
  la: { rule: 'logit-adjustment', classCounts: COUNTS },
  seesaw: { rule: 'seesaw', classCounts: COUNTS },
}

const program = `
import importlib.util, json, sys
import torch

torch.manual_seed(0)
torch.set_num_threads(1)
paths = json.loads(sys.argv[1])
out = {}
for name, path in paths.items():
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    Loss = next(v for k, v in vars(module).items() if k.endswith('Loss'))
    features = torch.randn(32, 16)
    labels = torch.randint(0, 5, (32,))
    model = torch.nn.Linear(16, 5)
    with torch.no_grad():
        model.weight.mul_(4)
    with torch.autocast('cpu', dtype=torch.bfloat16):
        logits = model(features)
        loss = Loss()(logits, labels)
    loss.backward()
    # The same logits, rounded to bfloat16 as autocast made them, scored in float32 outside autocast.
    reference = Loss()(logits.detach().float(), labels)
    out[name] = {
        'logitsDtype': str(logits.dtype),
        'lossDtype': str(loss.dtype),
        'loss': loss.item(),
        'float32': reference.item(),
        'gradFinite': bool(torch.isfinite(model.weight.grad).all()),
        'gradDtype': str(model.weight.grad.dtype),
    }
print(json.dumps(out))
`

describe('PyTorch modules under torch.autocast compute in float32', () => {
  it('bfloat16 logits give a float32 loss equal to the float32 loss of the same logits, and a finite gradient', async () => {
    const paths = Object.fromEntries(
      Object.entries(SPECS).map(([name, spec]) => {
        const path = join(dir, `${name}.py`)
        writeFileSync(path, exportTorchModule(spec).source)
        return [name, path]
      }),
    )
    const out = JSON.parse(await runPython(program, [JSON.stringify(paths)])) as Record<
      string,
      { logitsDtype: string; lossDtype: string; loss: number; float32: number; gradFinite: boolean; gradDtype: string }
    >
    for (const [name, r] of Object.entries(out)) {
      expect(r.logitsDtype, `${name}: autocast gives the model's logits in bfloat16`).toBe('torch.bfloat16')
      expect(r.lossDtype, `${name}: the loss`).toBe('torch.float32')
      expect(Math.abs(r.loss - r.float32) / Math.abs(r.float32), `${name}: ${r.loss} vs ${r.float32}`).toBeLessThan(1e-6)
      expect(r.gradFinite, `${name}: gradient`).toBe(true)
      expect(r.gradDtype).toBe('torch.float32')
    }
    expect(Object.keys(out)).toEqual(Object.keys(SPECS))
  }, 120_000)
})
