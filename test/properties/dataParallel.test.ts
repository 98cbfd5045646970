/**
 * docs/spec.md#9-data-parallel-training, for every rule of the registry on the float64 reference: W
 * workers that each see a shard of the batch (uneven, missing classes, or empty) and sum their
 * batch statistics through `batchSum` compute what one worker computes on the whole batch — the
 * perturbed logits (so `δ`), the loss (the workers' losses add up to it), the per-sample losses,
 * the closed-form gradient and the next state, with ignored rows among them (single-label cases).
 * Without the sums, the shards' `δ` differ. LADE's term of the whole batch takes its log-sum-exp's
 * shift through `batchMax`: with it, uneven and empty shards give the whole batch's loss and
 * gradient; a worker's own maximum in its place gives another, and a context without `batchMax` is
 * refused.
 */
import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { type LossContext, type RefTensor, type RuleInput, createLoss, referenceOps } from '@logit-perturb/core'
import { batchArbitrary, headLogits, multiLabelBatchArbitrary, multiLabelVariants, singleLabelVariants } from '@logit-perturb/conformance'
import { type RowBatch as Batch, RUNS, expectClose } from './helpers.js'

const ops = referenceOps

function tensors(b: Batch, rows: readonly number[]): { logits: RefTensor; labels: RefTensor } {
  const pick = (values: readonly number[], width: number) => rows.flatMap((i) => values.slice(i * width, (i + 1) * width))
  return {
    logits: ops.constant(pick(b.logits, b.c), [rows.length, b.c]),
    labels: b.multi ? ops.constant(pick(b.labels, b.c), [rows.length, b.c]) : ops.constant(pick(b.labels, 1), [rows.length], 'int32'),
  }
}

/**
 * Runs `work` on every shard as W workers whose `batchSum` and `batchMax` are all-reduces (a sum,
 * a maximum). A collective needs every worker at the same call, so the workers run in rounds: in a
 * round each worker's `j`-th collective returns the reduction of the workers' `j`-th statistics of
 * the round before (its own value in the first). A statistic depends only on the reductions of
 * earlier calls, so the rounds settle, exactly, after at most one round per call; the results of
 * the settled round are those of real workers. A statistic's shape may depend on earlier sums (the
 * slots of the classes present in the whole batch, `classSlots`): until the workers agree on it,
 * each gets its own value back. `options.max: false` leaves `batchMax` out of the context.
 */
function asWorkers<R>(shards: number, work: (w: number, ctx: LossContext<RefTensor>) => R, options: { max?: boolean } = {}): R[] {
  let reduced: (RefTensor | undefined)[] = []
  const sameShape = (a: RefTensor, b: RefTensor) => a.shape.length === b.shape.length && a.shape.every((d, k) => d === b.shape[k])
  for (let round = 0; round < 500; round++) {
    const recorded: { op: 'sum' | 'max'; x: RefTensor }[][] = []
    const results = Array.from({ length: shards }, (_, w) => {
      const mine: { op: 'sum' | 'max'; x: RefTensor }[] = []
      recorded.push(mine)
      const collective = (op: 'sum' | 'max') => (x: RefTensor) => {
        const j = mine.length
        mine.push({ op, x })
        const all = reduced[j]
        return all !== undefined && sameShape(all, x) ? all : x
      }
      return work(w, { batchSum: collective('sum'), ...(options.max === false ? {} : { batchMax: collective('max') }) })
    })
    const calls = recorded[0]!.length
    expect(
      recorded.map((r) => r.map((c) => c.op).join()),
      'every worker joins every collective, in the same order',
    ).toEqual(recorded.map(() => recorded[0]!.map((c) => c.op).join()))
    const next = Array.from({ length: calls }, (_, j) => {
      const values = recorded.map((r) => r[j]!.x)
      const combine = recorded[0]![j]!.op === 'sum' ? ops.add : ops.maximum
      return values.every((x) => sameShape(x, values[0]!)) ? values.reduce((a, x) => combine(a, x)) : undefined
    })
    const settled =
      next.length === reduced.length &&
      next.every((t, j) => t !== undefined && reduced[j] !== undefined && t.data.every((v, k) => Object.is(v, reduced[j]!.data[k])))
    if (settled) return results
    reduced = next
  }
  throw new Error('the rounds did not settle')
}

/** A batch and its rows dealt to 1–4 workers: uneven shards, some possibly empty. */
const sharded = <B extends { n: number }>(batches: fc.Arbitrary<B>) =>
  batches.chain((b) =>
    fc.record({
      b: fc.constant(b),
      workerOf: fc.array(fc.integer({ min: 0, max: 3 }), { minLength: b.n, maxLength: b.n }),
      workers: fc.integer({ min: 1, max: 4 }),
    }),
  )

const single = sharded(batchArbitrary({ maxN: 24, maxC: 8, minC: 2, scales: [1, 10] }))
const multi = sharded(multiLabelBatchArbitrary({ maxN: 24, maxC: 6, scales: [1, 10] }))

/** A case: a variant, its batch dealt to workers and, for the learned split, the `θ` a trainer set. */
type Case = { spec: RuleInput; name: string; through?: boolean; b: Batch; shards: number[][]; theta?: number[]; ignoreIndex?: number }

/** The ignore label of the single-label cases (docs/spec.md#10-dense-inputs): ignored rows are summed across workers like masked ones. */
const IGNORE = 255

/** Labels with the rows marked in `ignored` set to the ignore label, keeping at least one labelled row. */
const withIgnored = (labels: readonly number[], ignored: readonly boolean[]) =>
  labels.map((y, i) => (ignored[i] && ignored.some((m, k) => !m && k !== i) ? IGNORE : y))

const shardsOf = (n: number, workerOf: number[], workers: number) =>
  Array.from({ length: workers }, (_, w) => Array.from({ length: n }, (_, i) => i).filter((i) => workerOf[i]! % workers === w))

const cases: fc.Arbitrary<Case> = fc.oneof(
  single.chain(({ b, workerOf, workers }) =>
    fc
      .record({
        v: fc.constantFrom(...singleLabelVariants(b.counts)),
        ignored: fc.array(fc.boolean(), { minLength: b.n, maxLength: b.n }),
      })
      .map(({ v, ignored }) => ({
        ...v,
        ignoreIndex: IGNORE,
        shards: shardsOf(b.n, workerOf, workers),
        // A rule with E heads: logits [N, E·C], whose rows this suite splits as it splits [N, C].
        b: {
          n: b.n,
          c: b.c * (v.heads ?? 1),
          logits: headLogits(b.logits, b.n, b.c, v.heads),
          labels: withIgnored(b.labels, ignored),
          multi: false,
        },
      })),
  ),
  multi.chain(({ b, workerOf, workers }) =>
    fc.constantFrom(...multiLabelVariants(b.counts, b.numSamples)).map((v) => ({
      ...v,
      shards: shardsOf(b.n, workerOf, workers),
      b: { n: b.n, c: b.c, logits: b.logits, labels: b.labels, multi: true },
    })),
  ),
  // The learned split with θ set: its class directions are batch statistics too.
  single.chain(({ b, workerOf, workers }) =>
    fc.array(fc.double({ min: -2, max: 2, noNaN: true }), { minLength: b.c, maxLength: b.c }).map((theta) => ({
      name: 'lpl-learned (θ set)',
      spec: { rule: 'lpl', split: 'learned', numClasses: b.c } as RuleInput,
      theta,
      shards: shardsOf(b.n, workerOf, workers),
      b: { n: b.n, c: b.c, logits: b.logits, labels: b.labels, multi: false },
    })),
  ),
)

/** A fresh loss of the case, with the case's `θ` set when it has one. */
function lossOf(spec: RuleInput, theta: number[] | undefined, ignoreIndex?: number) {
  const loss = createLoss(ops, spec, ignoreIndex === undefined ? {} : { ignoreIndex })
  if (theta !== undefined) loss.setState({ theta: ops.constant(theta, [theta.length]) })
  return loss
}

const allRows = (b: Batch) => Array.from({ length: b.n }, (_, i) => i)

describe('9. data-parallel training, for every rule', () => {
  it('workers that sum their batch statistics compute the perturbed logits, losses, gradient and state of the whole batch', () => {
    fc.assert(
      fc.property(cases, ({ spec, name, b, shards, theta, ignoreIndex }) => {
        const whole = tensors(b, allRows(b))
        const one = lossOf(spec, theta, ignoreIndex)
        const expected = one.evaluate(whole.logits, whole.labels)
        const perSample = lossOf(spec, theta, ignoreIndex).perSample(whole.logits, whole.labels).data
        const gradient = one.hasClosedFormGradient ? lossOf(spec, theta, ignoreIndex).gradient(whole.logits, whole.labels).data : undefined
        const workerLosses = shards.map(() => lossOf(spec, theta, ignoreIndex))
        const results = asWorkers(shards.length, (w, ctx) => {
          const { logits, labels } = tensors(b, shards[w]!)
          const evaluation = workerLosses[w]!.evaluate(logits, labels, ctx)
          return {
            loss: evaluation.loss.data[0]!,
            perturbed: evaluation.batch.logits.data,
            nextState: evaluation.nextState,
            perSample: lossOf(spec, theta, ignoreIndex).perSample(logits, labels, ctx).data,
            gradient: gradient === undefined ? undefined : lossOf(spec, theta, ignoreIndex).gradient(logits, labels, ctx).data,
          }
        })
        const inShardOrder = (values: ArrayLike<number>, width: number) =>
          shards.flatMap((rows) => rows.flatMap((i) => Array.from(values).slice(i * width, (i + 1) * width)))
        expectClose([results.reduce((a, r) => a + r.loss, 0)], expected.loss.data, `${name}: the workers' losses add up to the loss`)
        expectClose(
          results.flatMap((r) => Array.from(r.perturbed)),
          inShardOrder(expected.batch.logits.data, b.c),
          `${name}: perturbed logits`,
        )
        expectClose(
          results.flatMap((r) => Array.from(r.perSample)),
          inShardOrder(perSample, 1),
          `${name}: per-sample losses`,
        )
        if (gradient !== undefined) {
          expectClose(
            results.flatMap((r) => Array.from(r.gradient!)),
            inShardOrder(gradient, b.c),
            `${name}: gradient`,
          )
        }
        // A training call moves every worker's state (the confidence split's running means) to the whole batch's.
        for (const r of results) {
          for (const key of Object.keys(expected.nextState ?? {})) {
            expectClose(r.nextState![key]!.data, expected.nextState![key]!.data, `${name}: state.${key}`)
          }
        }
      }),
      RUNS,
    )
  })

  it("without the sums, an uneven shard's perturbation differs from the whole batch's", () => {
    const counts = [40, 20, 10, 5]
    const b: Batch = {
      n: 8,
      c: 4,
      logits: [2, 0, -1, -2, 0.5, 1, 0, -1, 1, 0.2, 0.1, -0.5, 0, 0, 1, 0, 3, 1, 0, 0, 0, 2, 1, 0, 0.1, 0, 0, 2, 1, 1, 1, 1],
      labels: [0, 1, 0, 2, 0, 1, 3, 0],
      multi: false,
    }
    const spec: RuleInput = { rule: 'lpl', split: 'prior', classCounts: counts }
    const whole = tensors(b, allRows(b))
    const expected = createLoss(ops, spec).evaluate(whole.logits, whole.labels).batch.logits.data
    const shard = [0, 1, 2]
    const { logits, labels } = tensors(b, shard)
    const alone = createLoss(ops, spec).evaluate(logits, labels).batch.logits.data
    const gap = shard.flatMap((i, r) => Array.from({ length: b.c }, (_, j) => Math.abs(alone[r * b.c + j]! - expected[i * b.c + j]!)))
    expect(Math.max(...gap)).toBeGreaterThan(1e-3)
    const [summed] = asWorkers(2, (w, ctx) => {
      const part = tensors(b, w === 0 ? shard : [3, 4, 5, 6, 7])
      return createLoss(ops, spec).evaluate(part.logits, part.labels, ctx).batch.logits.data
    })
    expectClose(
      summed!,
      shard.flatMap((i) => Array.from(expected).slice(i * b.c, (i + 1) * b.c)),
      'with the sums',
    )
  })

  describe('lade: class sums and a log-sum-exp over the whole batch', () => {
    const ladeCases = sharded(batchArbitrary({ maxN: 24, maxC: 8, minC: 2, scales: [1, 10, 1e4] })).map(({ b, workerOf, workers }) => ({
      b: { n: b.n, c: b.c, logits: b.logits, labels: b.labels, multi: false } as Batch,
      counts: b.counts,
      // One worker more than the rows are dealt to: an empty shard in every case.
      shards: [...shardsOf(b.n, workerOf, workers), []],
    }))

    it('uneven shards, an empty one among them, give the loss, per-sample losses and gradient of the whole batch, at logits of 1e4 too', () => {
      fc.assert(
        fc.property(ladeCases, fc.double({ min: 0, max: 1, noNaN: true }), ({ b, counts, shards }, lambda) => {
          const spec: RuleInput = { rule: 'lade', classCounts: counts, alpha: 0.7, remineLambda: lambda }
          const whole = tensors(b, allRows(b))
          const loss = createLoss(ops, spec)(whole.logits, whole.labels).data[0]!
          const gradient = createLoss(ops, spec).gradient(whole.logits, whole.labels).data
          const perSample = createLoss(ops, spec).perSample(whole.logits, whole.labels).data
          const results = asWorkers(shards.length, (w, ctx) => {
            const { logits, labels } = tensors(b, shards[w]!)
            return {
              loss: createLoss(ops, spec)(logits, labels, ctx).data[0]!,
              gradient: createLoss(ops, spec).gradient(logits, labels, ctx).data,
              perSample: createLoss(ops, spec).perSample(logits, labels, ctx).data,
            }
          })
          expect(Number.isFinite(loss)).toBe(true)
          const inShardOrder = (values: ArrayLike<number>, width: number) =>
            shards.flatMap((rows) => rows.flatMap((i) => Array.from(values).slice(i * width, (i + 1) * width)))
          expectClose([results.reduce((a, r) => a + r.loss, 0)], [loss], 'lade: the workers add up to the loss')
          expectClose(
            results.flatMap((r) => Array.from(r.gradient)),
            inShardOrder(gradient, b.c),
            'lade: gradient',
          )
          expectClose(
            results.flatMap((r) => Array.from(r.perSample)),
            inShardOrder(perSample, 1),
            'lade: per-sample losses',
          )
        }),
        RUNS,
      )
    })

    it("needs the common maximum: a worker's own maximum gives another loss, and no batchMax is refused", () => {
      const counts = [40, 20, 10, 5]
      // The second shard's logits sit far above the first's: each worker's own shift is another.
      const b: Batch = {
        n: 6,
        c: 4,
        logits: [2, 0, -1, -2, 0.5, 1, 0, -1, 1, 0.2, 0.1, -0.5, 30, 28, 31, 29, 27, 33, 30, 26, 29, 30, 28, 35],
        labels: [0, 1, 0, 2, 3, 1],
        multi: false,
      }
      const spec: RuleInput = { rule: 'lade', classCounts: counts, alpha: 1, remineLambda: 0.1 }
      const whole = tensors(b, allRows(b))
      const expected = createLoss(ops, spec)(whole.logits, whole.labels).data[0]!
      const shards = [
        [0, 1, 2],
        [3, 4, 5],
      ]
      const total = (ctxOf: (ctx: LossContext<RefTensor>) => LossContext<RefTensor>, max?: boolean) =>
        asWorkers(
          2,
          (w, ctx) => {
            const { logits, labels } = tensors(b, shards[w]!)
            return createLoss(ops, spec)(logits, labels, ctxOf(ctx)).data[0]!
          },
          max === undefined ? {} : { max },
        ).reduce((a, v) => a + v, 0)
      expectClose([total((ctx) => ctx)], [expected], 'with batchMax')
      const own = total((ctx) => ({ ...ctx, batchMax: (x: RefTensor) => x }))
      expect(Math.abs(own - expected)).toBeGreaterThan(1e-3)
      expect(() => total((ctx) => ctx, false)).toThrow(expect.objectContaining({ code: 'MISSING_CONTEXT', field: 'batchMax' }))
    })
  })
})
