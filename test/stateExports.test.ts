/**
 * Every stateful rule's state through the exporters, as a training loop carries it: the ONNX graph
 * (state inputs in, next state out, fed back) and the PyTorch module (buffers, saved in its
 * `state_dict` and loaded into a fresh module) over two training calls give the reference's two
 * losses. The stateful variants and their fields come from the rules' declarations, and a meta-check
 * refuses an export that does not carry a declared field (shown failing on one that drops it).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { type RuleVariant, mulberry32, singleLabelBatch, singleLabelVariants } from '@logit-perturb/conformance'
import { runPython } from '@logit-perturb/conformance/torch'
import { type RuleInput, type RuleStateDeclaration, createLoss, referenceOps, ruleFacts } from '@logit-perturb/core'
import { type ExportedLossModel, exportLossModel, runLossModel } from '@logit-perturb/onnx'
import { type ExportedTorchModule, exportTorchModule } from '@logit-perturb/pytorch'
import { afterAll, describe, expect, it } from 'vitest'

const COUNTS = [40, 12, 6, 3, 2, 1]
const C = COUNTS.length
const THETA = [0.4, -0.2, 0.1, 0.9, -1.5, 0.3]
const LEARNED: RuleVariant = { name: 'lpl-learned', spec: { rule: 'lpl', split: 'learned', numClasses: C } }
const STATEFUL = [...singleLabelVariants(COUNTS), LEARNED].filter((v) => ruleFacts(v.spec).state !== undefined)

const rand = mulberry32(7)
const BATCHES = [singleLabelBatch(rand, 12, C, 3), singleLabelBatch(rand, 9, C, 3)]

const dir = mkdtempSync(join(tmpdir(), 'logit-perturb-state-exports-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

/** The reference's losses over the two training calls (the learned split with `θ` set by the trainer). */
function referenceLosses(spec: RuleInput): number[] {
  const ops = referenceOps
  const loss = createLoss(ops, spec)
  if (loss.rule.state?.movedBy === 'trainer') loss.setState({ theta: ops.constant(THETA, [C]) })
  return BATCHES.map(
    (b) =>
      loss(ops.constant(b.logits.flat(), [b.labels.length, C]), ops.constant(b.labels, [b.labels.length], 'int32'), { training: true })
        .data[0]!,
  )
}

/** The fields of `declared` an ONNX model or a PyTorch module does not carry, as problems. */
function uncarried(declared: RuleStateDeclaration, onnx: Pick<ExportedLossModel, 'inputs' | 'outputs'>, torch: string): string[] {
  return Object.keys(declared.fields).flatMap((field) => [
    ...(onnx.inputs.includes(`state_${field}`) ? [] : [`onnx: no input state_${field}`]),
    ...(declared.movedBy === 'training' && !onnx.outputs.includes(`next_state_${field}`) ? [`onnx: no output next_state_${field}`] : []),
    ...(torch.includes(`self.register_buffer('state_${field}'`) ? [] : [`pytorch: no buffer state_${field}`]),
    ...(declared.movedBy === 'training' && !torch.includes(`self.state_${field}.copy_(`) ? [`pytorch: state_${field} never moves`] : []),
  ])
}

const TWO_CALLS = `
import importlib.util, io, json, sys
import torch
path, name, batches, theta = sys.argv[1], sys.argv[2], json.loads(sys.argv[3]), json.loads(sys.argv[4])
spec = importlib.util.spec_from_file_location('loss_module', path)
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
Loss = getattr(module, name)
def call(m, b):
    return float(m(torch.tensor(b['logits'], dtype=torch.float64), torch.tensor(b['labels'])))
running = Loss().train()
if theta is not None:
    running.state_theta.copy_(torch.tensor(theta, dtype=torch.float64))
first = call(running, batches[0])
saved = io.BytesIO()
torch.save(running.state_dict(), saved)
saved.seek(0)
resumed = Loss().train()
resumed.load_state_dict(torch.load(saved))
print(json.dumps({'losses': [first, call(running, batches[1])], 'resumed': call(resumed, batches[1])}))
`

describe.each(STATEFUL)('$name', ({ name, spec }) => {
  const declared = ruleFacts(spec).state!
  const onnx = exportLossModel(spec, { numClasses: C, state: 'io' })
  const torch = exportTorchModule(spec, { numClasses: C })

  it('is carried by both exporters: every declared field in and, where training moves it, out', () => {
    expect(uncarried(declared, onnx, torch.source)).toEqual([])
  })

  it('ONNX: two training calls, the state fed back, give the reference losses', async () => {
    let state: Record<string, ArrayLike<number>> = declared.movedBy === 'trainer' ? { theta: THETA } : { ...declared.initial(C) }
    const losses: number[] = []
    for (const b of BATCHES) {
      const out = await runLossModel(onnx.bytes, b.logits, b.labels, { state })
      losses.push(out.loss)
      state = out.nextState ?? state
    }
    const expected = referenceLosses(spec)
    for (const [k, l] of losses.entries()) expect(Math.abs(l - expected[k]!) / Math.abs(expected[k]!), `call ${k + 1}`).toBeLessThan(1e-4)
  })

  it('PyTorch: two training calls, and a module resumed from the state_dict, give the reference losses', async () => {
    const file = join(dir, `${name.replace(/\W+/g, '_')}.py`)
    writeFileSync(file, (torch as ExportedTorchModule).source)
    const theta = declared.movedBy === 'trainer' ? THETA : null
    const out = JSON.parse(await runPython(TWO_CALLS, [file, torch.className, JSON.stringify(BATCHES), JSON.stringify(theta)])) as {
      losses: number[]
      resumed: number
    }
    const expected = referenceLosses(spec)
    for (const [k, l] of out.losses.entries())
      expect(Math.abs(l - expected[k]!) / Math.abs(expected[k]!), `call ${k + 1}`).toBeLessThan(1e-9)
    expect(out.resumed).toBe(out.losses[1])
  }, 120_000)
})

describe('the carried-state check', () => {
  it('finds the seesaw counts and the confidence split dropped by exports that do not carry them', () => {
    const seesaw = { rule: 'seesaw', classCounts: COUNTS } as const
    const declared = ruleFacts(seesaw).state!
    const torch = exportTorchModule(seesaw).source
    // An exporter that forgot the state: the graph of a stateless rule, a module whose buffer never moves.
    const stateless = exportLossModel({ rule: 'ce' }, { numClasses: C })
    expect(uncarried(declared, stateless, torch.replace(/self\.state_counts\.copy_\(/g, 'self.state_counts.add_(0 * '))).toEqual([
      'onnx: no input state_counts',
      'onnx: no output next_state_counts',
      'pytorch: state_counts never moves',
    ])
    const confidence = { rule: 'lpl', split: 'confidence' } as const
    const batchOnly = exportLossModel(confidence, { numClasses: C, state: 'batch' })
    expect(uncarried(ruleFacts(confidence).state!, batchOnly, exportTorchModule(confidence, { numClasses: C }).source)).toEqual([
      'onnx: no input state_confidence',
      'onnx: no output next_state_confidence',
      'onnx: no input state_seen',
      'onnx: no output next_state_seen',
    ])
  })

  it('refuses a stateless ONNX model for a rule whose state it would restart, saying why', () => {
    expect(() => exportLossModel({ rule: 'seesaw', classCounts: COUNTS }, { state: 'batch' })).toThrow(
      /^state: seesaw keeps counts across calls; a model without state inputs would restart it at every call/,
    )
    expect(() => exportLossModel(LEARNED.spec, { state: 'batch' })).toThrow(/lpl keeps theta across calls/)
  })
})
