/**
 * The same spec JSON evaluated in four places: the float64 reference, TensorFlow.js (cpu backend),
 * an ONNX model exported from the spec and run by onnxruntime-web (wasm), and a PyTorch module
 * exported from the spec and run by torch in float64 and float32. Prints, per spec and
 * backend, the loss and the largest difference from the reference in the perturbed logits and in
 * the gradient w.r.t. the logits. The numbers of docs/porting.md come from this script:
 *
 *     pnpm exec tsx --conditions=@logit-perturb/source examples/porting.ts
 */
import * as tf from '@tensorflow/tfjs-core'
import '@tensorflow/tfjs-backend-cpu'
// tfjs-layers registers the gradients of tfjs-core's kernels (needed by tf.grad in Node).
import '@tensorflow/tfjs-layers'
import { type RuleInput, createLoss, referenceOps } from '@logit-perturb/core'
import { exportLossModel, runLossModel } from '@logit-perturb/onnx'
import { exportTorchModule } from '@logit-perturb/pytorch'
import { createTfjsOps } from '@logit-perturb/tfjs'
import { runTorchJobs } from '@logit-perturb/conformance/torch'
import { longTailedBatch } from './batch.js'

const { logits, labels, classCounts } = longTailedBatch()
const [n, c] = logits.shape as [number, number]
const rows = Array.from({ length: n }, (_, i) => Array.from(logits.data.subarray(i * c, (i + 1) * c)))
const ids = Array.from(labels.data)

const specs: RuleInput[] = [
  { rule: 'lpl', split: 'prior', classCounts, base: { rule: 'logit-adjustment', tau: 1, classCounts } },
  { rule: 'ldam', classCounts, maxMargin: 0.5, scale: 1, drw: { beta: 0.9999, fromEpoch: 0 } },
  { rule: 'official-balanced', steps: 10 },
  { rule: 'official-longtail', classCounts, headClasses: 3 },
]

/** One backend's numbers: loss, perturbed logits and gradient (flat `[N, C]`), and how the gradient was had. */
interface Result {
  loss: number
  perturbed: ArrayLike<number>
  grad?: ArrayLike<number>
  gradFrom: string
}

function onReference(spec: RuleInput): Result {
  const loss = createLoss(referenceOps, spec)
  const e = loss.evaluate(logits, labels)
  return {
    loss: e.loss.data[0]!,
    perturbed: e.batch.logits.data,
    ...(loss.hasClosedFormGradient
      ? { grad: loss.gradient(logits, labels).data, gradFrom: 'closed form' }
      : { grad: finiteDifference((u) => loss(u, labels).data[0]!), gradFrom: 'finite differences' }),
  }
}

/** Central differences `(f(u + h e_k) − f(u − h e_k)) / 2h` in float64, for a rule without closed form. */
function finiteDifference(f: (u: typeof logits) => number, h = 1e-5): Float64Array {
  const out = new Float64Array(logits.data.length)
  for (let k = 0; k < out.length; k++) {
    const at = (d: number) => {
      const moved = Float64Array.from(logits.data)
      moved[k]! += d
      return f(referenceOps.constant(moved, [n, c]))
    }
    out[k] = (at(h) - at(-h)) / (2 * h)
  }
  return out
}

async function onTfjs(spec: RuleInput): Promise<Result> {
  const ops = createTfjsOps()
  const loss = createLoss(ops, spec)
  const u = ops.constant(logits.data, [n, c])
  const y = ops.constant(ids, [n], 'int32')
  const e = loss.evaluate(u, y)
  const grad = loss.hasClosedFormGradient ? loss.gradient(u, y) : tf.grad((x: tf.Tensor) => loss(x, y))(u)
  return {
    loss: (await e.loss.data())[0]!,
    perturbed: await e.batch.logits.data(),
    grad: await grad.data(),
    gradFrom: loss.hasClosedFormGradient ? 'closed form' : 'tf.grad',
  }
}

async function onOnnx(spec: RuleInput): Promise<Result> {
  const model = exportLossModel(spec, { numClasses: c })
  const out = await runLossModel(model.bytes, rows, ids)
  return {
    loss: out.loss,
    perturbed: out.perturbedLogits,
    ...(out.gradLogits ? { grad: out.gradLogits, gradFrom: 'grad_logits' } : { gradFrom: 'absent (through)' }),
  }
}

/** The exported module run by torch (one process for every spec), in float64 and float32. */
async function onTorch(specs: readonly RuleInput[]): Promise<Record<'float64' | 'float32', Result>[]> {
  const jobs = specs.map((spec) => ({
    module: exportTorchModule(spec, { numClasses: c }),
    reduction: 'mean' as const,
    logits: rows,
    labels: ids,
  }))
  return (await runTorchJobs(jobs)).map((result, k) => {
    const closed = jobs[k]!.module.hasClosedFormGradient
    const read = (dtype: 'float64' | 'float32'): Result => {
      const out = result[dtype]
      if ('error' in out) throw new Error(out.error)
      const grad = (closed ? out.gradient : out.autograd) as number[]
      return { loss: out.loss[0]!, perturbed: out.perturbed as number[], grad, gradFrom: closed ? 'closed form' : 'autograd' }
    }
    return { float64: read('float64'), float32: read('float32') }
  })
}

/** The largest `|a − b|` over the entries. */
function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let worst = 0
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i]! - b[i]!))
  return worst
}

await tf.setBackend('cpu')
console.log(`batch: ${n} samples, ${c} classes, training counts ${classCounts.join('/')}`)
const torch = await onTorch(specs)
for (const [k, spec] of specs.entries()) {
  const ref = onReference(spec)
  const results: [string, Result][] = [
    ['reference', ref],
    ['tfjs-cpu', await onTfjs(spec)],
    ['onnx-wasm', await onOnnx(spec)],
    ['torch-f64', torch[k]!.float64],
    ['torch-f32', torch[k]!.float32],
  ]
  console.log(`\nspec ${JSON.stringify(spec).replaceAll(JSON.stringify(classCounts), 'counts')}`)
  console.log(
    `${'backend'.padEnd(10)} ${'loss'.padStart(12)} ${'max |Δ| perturbed'.padStart(18)} ${'max |Δ| gradient'.padStart(17)}  gradient from`,
  )
  for (const [name, r] of results) {
    const gradDiff = r.grad === undefined ? '—' : ref.grad === undefined ? 'no reference' : maxDiff(r.grad, ref.grad).toExponential(1)
    console.log(
      `${name.padEnd(10)} ${r.loss.toFixed(8).padStart(12)} ${maxDiff(r.perturbed, ref.perturbed).toExponential(1).padStart(18)} ${gradDiff.padStart(17)}  ${r.gradFrom}`,
    )
  }
}
