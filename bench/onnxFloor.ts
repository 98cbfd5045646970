/**
 * `pnpm bench:onnx-floor`: what an LPL step costs on onnxruntime-web (wasm, one thread), and so how
 * low the exported `lpl` graph can go against the exported `ce`. Times the exported `ce` and `lpl`
 * graphs of `pnpm bench` (K = 10 steps for every class), counts their nodes by operator, and times,
 * each in a graph of its own, the `[N, C]` operators one step of the search cannot do without: the
 * softmax of the perturbed logits, gathering `δ` to the rows (`Gather`) and adding it, and the sum
 * of the rows by class (`ScatterND`, reduction add, into `[P, C]`). A script, never a test.
 *   --shapes LIST   N×C shapes, default 128x100,512x1000
 *   --ms T          time per measurement, default 1500
 */
import { cpus, totalmem } from 'node:os'
import { parseArgs } from 'node:util'
import { GraphBuilder, createSession, exportLossModel, runModel, serializeModel } from '@logit-perturb/onnx'
import { decodeModel } from '../packages/onnx/src/readModel.js'
import { benchBatch, specFor } from './loss.js'

const { values } = parseArgs({
  options: { shapes: { type: 'string', default: '128x100,512x1000' }, ms: { type: 'string', default: '1500' } },
})
const budget = Number(values.ms)
/** Operators chained in one graph: the run's fixed cost (copying the input in and out) is shared. */
const CHAIN = 20

/** The mean time of `call` over `budget` ms, after three warm-up calls. */
async function meanMs(call: () => Promise<unknown>): Promise<number> {
  for (let k = 0; k < 3; k++) await call()
  const start = performance.now()
  let reps = 0
  while (performance.now() - start < budget) {
    await call()
    reps++
  }
  return (performance.now() - start) / reps
}

/** The time of one operator `[N, C] → [N, C]`, from a chain of {@link CHAIN} of them. */
async function operatorMs(n: number, c: number, body: (g: GraphBuilder, v: string) => string): Promise<number> {
  const g = new GraphBuilder()
  let v = g.input({ name: 'x', elemType: 'float32', dims: [n, c] })
  for (let r = 0; r < CHAIN; r++) v = body(g, v)
  const model = g.toModel({ outputs: [{ name: 'y', source: v, elemType: 'float32', dims: [n, c] }], inputs: ['x'] })
  const session = await createSession(serializeModel(model))
  const x = Float32Array.from({ length: n * c }, (_, k) => Math.sin(k))
  const ms = await meanMs(() => runModel(session, { x: { data: x, dims: [n, c] } }))
  await session.release()
  return ms / CHAIN
}

console.log(`machine: ${cpus()[0]?.model}, ${cpus().length} cores, ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}`)
console.log(`onnxruntime-web, wasm, one thread; mean of ${budget} ms of runs per figure`)
for (const [n, c] of values.shapes.split(',').map((s) => s.split(/[x×]/).map(Number) as [number, number])) {
  const { logits, labels } = benchBatch(n, c)
  const ids = BigInt64Array.from(labels, (v) => BigInt(v))
  const slots = Array.from(new Set(labels)).sort((a, b) => a - b)
  const p = slots.length
  const rowSlot = labels.map((y) => slots.indexOf(y))
  const graphs: Record<string, number> = {}
  console.log(`\nN × C = ${n} × ${c}, ${p} classes present`)
  for (const rule of ['ce', 'lpl'] as const) {
    const model = exportLossModel(specFor(rule, c), { numClasses: c })
    const nodes = decodeModel(model.bytes).graph.node
    const byType: Record<string, number> = {}
    for (const { opType } of nodes) byType[String(opType)] = (byType[String(opType)] ?? 0) + 1
    const session = await createSession(model.bytes)
    graphs[rule] = await meanMs(() => runModel(session, { logits: { data: logits, dims: [n, c] }, labels: { data: ids, dims: [n] } }))
    await session.release()
    const top = Object.entries(byType)
      .sort((a, b) => b[1] - a[1])
      .map(([op, k]) => `${op} ${k}`)
      .join(', ')
    console.log(`  exported ${rule}: ${graphs[rule]!.toFixed(2)} ms, ${nodes.length} nodes (${top})`)
  }
  const softmax = await operatorMs(n, c, (g, v) => g.op('Softmax', [v], [{ name: 'axis', kind: 'int', value: -1 }]))
  const add = await operatorMs(n, c, (g, v) => g.op('Add', [v, v]))
  // The class sums of the rows into [P, C], then each row's class sum gathered back: one of each.
  const sumAndGather = await operatorMs(n, c, (g, v) => {
    const zeros = g.constant('float32', [p, c], new Float32Array(p * c))
    const indices = g.constant('int64', [n, 1], rowSlot)
    const sums = g.op('ScatterND', [zeros, indices, v], [{ name: 'reduction', kind: 'string', value: 'add' }])
    return g.op('Gather', [sums, g.constant('int64', [n], rowSlot)], [{ name: 'axis', kind: 'int', value: 0 }])
  })
  const step = softmax + add + sumAndGather
  const steps = 10
  console.log(
    `  one operator: Softmax ${softmax.toFixed(3)} ms, Add ${add.toFixed(3)} ms, ScatterND + Gather ${sumAndGather.toFixed(3)} ms`,
  )
  console.log(
    `  floor of a step (these four): ${step.toFixed(3)} ms; exported ce + ${steps} steps: ${(graphs.ce! + steps * step).toFixed(2)} ms = ` +
      `${((graphs.ce! + steps * step) / graphs.ce!).toFixed(2)} × ce; the exported lpl: ${(graphs.lpl! / graphs.ce!).toFixed(2)} × ce, ` +
      `${((graphs.lpl! - graphs.ce!) / steps).toFixed(3)} ms a step`,
  )
}
