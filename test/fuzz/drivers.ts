/**
 * One way per backend to compute a rule on a host batch through the public API a user calls:
 * `createLoss` on the float64 reference, `createTfjsLoss` on tfjs (cpu, wasm), and
 * `exportLossModel` + `runLossModel` on ONNX (onnxruntime-web). Each driver also checks what only it
 * can see: the tfjs drivers that no tensor leaks and that the input tensors are unchanged.
 */
import * as tf from '@tensorflow/tfjs-core'
import { type LossContext, createLoss, referenceOps } from '@logit-perturb/core'
import type { RuleInput } from '@logit-perturb/core'
import { type Outcome, outcome, outcomeAsync } from '@logit-perturb/conformance'
import { onTfjsBackend } from '@logit-perturb/conformance/backends'
import { createTfjsLoss } from '@logit-perturb/tfjs'
import { exportLossModel, runLossModel } from '@logit-perturb/onnx'
import { expect } from 'vitest'

/** A batch as the user holds it: `[N, C]` logits, class ids `[N]` or 0/1 rows `[N][C]`. */
export interface HostBatch {
  n: number
  c: number
  /** Flat row-major `[N, C]`. */
  logits: number[]
  /** Class ids (length `N`, possibly wrong) or flat `[N', C']` 0/1 entries with their shape. */
  labels: number[]
  labelShape: number[]
}

/** What a driver reads back: the loss, the perturbed logits, and the closed-form gradient when the rule has one. */
export interface Computed {
  loss: number
  perturbed: Float64Array
  gradient?: Float64Array
}

export interface Driver {
  name: string
  /** Relative tolerance against the float64 reference. */
  rtol: number
  run(spec: unknown, batch: HostBatch): Promise<Outcome<Computed>>
}

/** Calls are evaluations, not training steps, so stateful rules see the same (fresh) state on every backend. */
const CONTEXT: LossContext = { epoch: 1, training: false }

export const referenceDriver: Driver = {
  name: 'reference',
  rtol: 1e-9,
  run: async (spec, b) =>
    outcome('reference', () => {
      // Fuzzed specs are any JSON: the library's run-time checks are what is tested.
      const loss = createLoss(referenceOps, spec as RuleInput)
      const logits = referenceOps.constant(b.logits, [b.n, b.c])
      const labels = referenceOps.constant(b.labels, b.labelShape)
      const value = loss(logits, labels, CONTEXT).data[0]!
      const perturbed = loss.perturb(logits, labels, CONTEXT).data
      const gradient = loss.hasClosedFormGradient ? loss.gradient(logits, labels, CONTEXT).data : undefined
      expect(Array.from(logits.data), 'the reference changed its logits').toEqual(b.logits)
      expect(Array.from(labels.data), 'the reference changed its labels').toEqual(b.labels)
      return { loss: value, perturbed, ...(gradient ? { gradient } : {}) }
    }),
}

/** Labels as a tfjs user builds them: int32 class ids when they are integers, else float32. */
function tfjsLabels(b: HostBatch, multi: boolean): tf.Tensor {
  const integers = b.labels.every((y) => Number.isInteger(y))
  return tf.tensor(b.labels, b.labelShape, multi || !integers ? 'float32' : 'int32')
}

export function tfjsDriver(backend: 'cpu' | 'wasm'): Driver {
  return {
    name: `tfjs-${backend}`,
    rtol: 1e-4,
    run: (spec, b) =>
      onTfjsBackend(backend, async () => {
        const built = outcome('createTfjsLoss', () => createTfjsLoss(spec as RuleInput))
        if (!built.ok) return built
        const loss = built.value
        const logits = tf.tensor2d(b.logits, [b.n, b.c])
        const labels = tfjsLabels(b, loss.task === 'multi')
        const logitsBefore = logits.dataSync().slice()
        const labelsBefore = labels.dataSync().slice()
        const tensorsBefore = tf.memory().numTensors
        const result = outcome(`tfjs-${backend}`, () => {
          const value = loss(logits, labels, CONTEXT)
          const perturbed = loss.perturb(logits, labels, CONTEXT)
          const gradient = loss.hasClosedFormGradient ? loss.gradient(logits, labels, CONTEXT) : undefined
          const out: Computed = {
            loss: value.dataSync()[0]!,
            perturbed: Float64Array.from(perturbed.dataSync()),
            ...(gradient ? { gradient: Float64Array.from(gradient.dataSync()) } : {}),
          }
          tf.dispose([value, perturbed, ...(gradient ? [gradient] : [])])
          return out
        })
        // The loss owns its constants until it is disposed; then nothing of the calls is left.
        loss.dispose()
        expect(tf.memory().numTensors, `tfjs-${backend} leaked tensors`).toBe(tensorsBefore)
        expect(logits.dataSync(), `tfjs-${backend} changed its logits`).toEqual(logitsBefore)
        expect(labels.dataSync(), `tfjs-${backend} changed its labels`).toEqual(labelsBefore)
        return result
      }),
  }
}

export const onnxDriver: Driver = {
  name: 'onnx-wasm',
  rtol: 1e-4,
  run: async (spec, b) => {
    // The model is exported for the class count the spec fixes, or for the batch's when it fixes none.
    const facts = outcome('parseSpec', () => createLoss(referenceOps, spec as RuleInput).rule)
    if (!facts.ok) return facts
    const c = facts.value.numClasses ?? b.c
    // An evaluation graph, as the other drivers' calls are evaluations, fed a fresh state where it takes one.
    const exported = outcome('exportLossModel', () =>
      exportLossModel(spec as RuleInput, { numClasses: c, context: { epoch: CONTEXT.epoch }, training: false }),
    )
    if (!exported.ok) return exported
    const state = exported.value.inputs.some((i) => i.startsWith('state_')) ? facts.value.state?.initial(c) : undefined
    const multi = b.labelShape.length === 2
    const labels = multi
      ? Array.from({ length: b.labelShape[0]! }, (_, i) => b.labels.slice(i * b.labelShape[1]!, (i + 1) * b.labelShape[1]!))
      : [...b.labels]
    const logitsBefore = [...b.logits]
    const result = await outcomeAsync('runLossModel', async () => {
      const r = await runLossModel(
        exported.value.bytes,
        { data: Float32Array.from(b.logits), dims: [b.n, b.c] },
        labels,
        state === undefined ? {} : { state },
      )
      return {
        loss: r.loss,
        perturbed: Float64Array.from(r.perturbedLogits),
        ...(r.gradLogits ? { gradient: Float64Array.from(r.gradLogits) } : {}),
      }
    })
    expect(b.logits, 'onnx changed its logits').toEqual(logitsBefore)
    return result
  },
}
