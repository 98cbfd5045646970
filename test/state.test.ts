/**
 * Every stateful rule's state, as a trainer checkpoints and resumes it: saved after a call, loaded
 * into a fresh loss, the next call gives the same loss and the same next state as the loss that was
 * never stopped, on the reference and on tfjs cpu and wasm (`saveState`/`loadState`). The stateful
 * variants are found from what each rule declares (`loss.rule.state`), so a rule that gains state
 * is covered without a line here.
 */
import * as tf from '@tensorflow/tfjs-core'
import '@tensorflow/tfjs-backend-cpu'
import '@tensorflow/tfjs-backend-wasm'
import '@tensorflow/tfjs-layers'
import { type RuleVariant, mulberry32, singleLabelBatch, singleLabelVariants } from '@logit-perturb/conformance'
import { type Loss, type RefTensor, createLoss, loadRuleState, parseSpec, referenceOps, saveRuleState } from '@logit-perturb/core'
import { createTfjsLoss } from '@logit-perturb/tfjs'
import { describe, expect, it } from 'vitest'

const COUNTS = [40, 12, 6, 3, 2, 1]
const C = COUNTS.length

/** The learned split keeps `θ`, set by a trainer: the state is what it was set to. */
const LEARNED: RuleVariant = { name: 'lpl-learned', spec: { rule: 'lpl', split: 'learned', numClasses: C } }
const THETA = [0.4, -0.2, 0.1, 0.9, -1.5, 0.3]

/** The variants whose rule keeps state, found from the rules' declarations. */
const STATEFUL = [...singleLabelVariants(COUNTS), LEARNED].filter((v) => createLoss(referenceOps, v.spec).rule.state !== undefined)

const rand = mulberry32(2026)
const FIRST = singleLabelBatch(rand, 12, C, 3)
const SECOND = singleLabelBatch(rand, 9, C, 3)

describe('stateful rules', () => {
  it('are found from their declarations: seesaw, the confidence split and the learned split', () => {
    const rules = new Set(STATEFUL.map((v) => JSON.stringify([parseSpec(v.spec).rule, 'split' in v.spec ? v.spec.split : ''])))
    expect([...rules].sort()).toEqual(['["lpl","confidence"]', '["lpl","learned"]', '["seesaw",""]'])
  })

  describe.each(STATEFUL)('$name', ({ name, spec }) => {
    const movedByTraining = createLoss(referenceOps, spec).rule.state?.movedBy === 'training'

    it('reference: a saved state loaded into a fresh loss gives the next loss and state of the loss it came from', async () => {
      const ops = referenceOps
      const batch = (b: typeof FIRST) =>
        [ops.constant(b.logits.flat(), [b.labels.length, C]), ops.constant(b.labels, [b.labels.length], 'int32')] as const
      const running = createLoss(ops, spec)
      if (movedByTraining) running(...batch(FIRST), { training: true })
      else running.setState({ theta: ops.constant(THETA, [C]) })
      const json = await saveRuleState(running.getState()!, (t) => t.data)
      const resumed = createLoss(ops, spec)
      resumed.setState(loadRuleState(ops, JSON.parse(JSON.stringify(json)), resumed))
      // Loaded by class count alone, as a trainer without the loss at hand does, it is the same state.
      expect(Object.keys(loadRuleState(ops, json, C)).sort()).toEqual(
        Object.keys(json)
          .filter((k) => k !== 'version')
          .sort(),
      )
      const next = (loss: Loss<RefTensor>) => {
        const value = loss(...batch(SECOND), { training: true }).data[0]!
        return { value, state: Object.fromEntries(Object.entries(loss.getState() ?? {}).map(([k, t]) => [k, Array.from(t.data)])) }
      }
      const expected = next(running)
      const fresh = next(createLoss(ops, spec))
      expect(next(resumed)).toEqual(expected)
      // The state matters: a loss that was not resumed computes otherwise (but with momentum 0, where
      // the next split is the batch's alone whatever the state).
      if (name !== 'lpl-confidence') expect(fresh).not.toEqual(expected)
    })

    it.each(['cpu', 'wasm'])('tfjs-%s: saveState and loadState resume the loss', async (backend) => {
      await tf.setBackend(backend)
      await tf.ready()
      const before = tf.memory().numTensors
      const logits = (b: typeof FIRST) => tf.tensor2d(b.logits)
      const labels = (b: typeof FIRST) => tf.tensor1d(b.labels, 'int32')
      const [l1, y1, l2, y2] = [logits(FIRST), labels(FIRST), logits(SECOND), labels(SECOND)]
      const running = createTfjsLoss(spec)
      if (movedByTraining) tf.dispose(running(l1, y1, { training: true }))
      else running.setState({ theta: tf.tensor1d(THETA) })
      const json = await running.saveState()
      expect(json).not.toBeNull()
      const resumed = createTfjsLoss(spec)
      resumed.loadState(JSON.parse(JSON.stringify(json)))
      const next = async (loss: typeof running) => {
        const value = loss(l2, y2, { training: true })
        const out = { value: (await value.data())[0], state: await loss.saveState() }
        value.dispose()
        return out
      }
      const expected = await next(running)
      expect(await next(resumed)).toEqual(expected)
      for (const loss of [running, resumed]) {
        tf.dispose(Object.values(loss.getState() ?? {}))
        loss.dispose()
      }
      tf.dispose([l1, y1, l2, y2])
      expect(tf.memory().numTensors).toBe(before)
    })
  })

  it('refuse a state of another rule, naming the field', () => {
    const seesaw = createLoss(referenceOps, { rule: 'seesaw', classCounts: COUNTS })
    expect(() =>
      loadRuleState(referenceOps, { version: 1, confidence: new Array(C).fill(0.5), seen: new Array(C).fill(1) }, seesaw),
    ).toThrow(/state\.confidence: is not a state field of this rule \(known: counts\)/)
    expect(() => loadRuleState(referenceOps, { version: 1, counts: [1, -1, 0, 0, 0, 0] }, seesaw)).toThrow(
      /state\.counts: must be an array of finite numbers ≥ 0/,
    )
    const ce = createLoss(referenceOps, { rule: 'ce', numClasses: C })
    expect(() => loadRuleState(referenceOps, { version: 1, counts: new Array(C).fill(1) }, ce)).toThrow(/none, the rule keeps no state/)
    expect(() => ce.setState({ counts: referenceOps.constant(new Array(C).fill(1), [C]) })).toThrow(/this rule keeps no state/)
  })
})
