import manifest from '../../package.json' with { type: 'json' }
import { mkdirSync, writeFileSync } from 'node:fs'
import { cpus, totalmem, type as osType, release } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import * as tf from '@tensorflow/tfjs-core'
import { useBackend } from '../backend.js'
import { CLASS_NAMES, DEFAULT_DATA_DIR, type ImageSet, loadFashionMnist } from '../data/fashionMnist.js'
import { longTailCounts, longTailSplits } from '../data/longTail.js'
import { CliError } from '../errors.js'
import { Progress, formatSeconds } from '../progress.js'
import { balancedAccuracyChart, perClassChart } from '../report/svg.js'
import { type MethodSummary, summarize } from '../report/summary.js'
import { ACCURACY, AVERAGE_PRECISION, type Metric, resultsTable } from '../report/table.js'
import { EXTRA_METHODS, METHODS, type Method, selectMethods } from '../train/methods.js'
import { MULTILABEL_METHODS, selectMultiLabelMethods, trainMultiLabelOnce } from '../train/multilabel.js'
import { buildCanvases, labelCounts } from '../data/canvases.js'
import { type RunOptions, type RunResult, trainOnce } from '../train/run.js'
import { intOption, listOption, numberOption } from './options.js'

/** Names joined by commas, wrapped under the option column of the usage text. */
function wrap(names: readonly string[]): string {
  const lines: string[] = ['']
  for (const name of names) {
    const last = lines.length - 1
    const next = lines[last] === '' ? name : `${lines[last]}, ${name}`
    if (next.length > 60 && lines[last] !== '') lines.push(name)
    else lines[last] = next
  }
  return lines.join(',\n                        ')
}

export const TRAIN_USAGE = `lpl train [options]
  Trains the long-tail benchmark on Fashion-MNIST with each method and reports
  balanced, head/medium/tail and per-class test accuracy.
  --data DIR            Fashion-MNIST IDX files (default ${DEFAULT_DATA_DIR})
  --ratio R             imbalance ratio ρ: n_c = floor(n_max·ρ^(−c/9)) (default 100)
  --methods LIST        comma-separated, or all (default all): ${wrap(METHODS.map((m) => m.name))}
                        also: ${EXTRA_METHODS.map((m) => m.name).join(', ')}
  --seeds LIST          comma-separated seeds (default 0,1,2)
  --epochs N            epochs (default 12)
  --quick               the same pipeline with 4 epochs and seed 0 (about 8 minutes on two cores)
  --backend NAME        tfjs backend: wasm (default) or cpu
  --out DIR             write results.json and SVG charts there
  --batch-size N        (default 128)    --lr X   initial learning rate (default 0.05)
  --n-max N             training images of the largest class (default 6000)
  --validation-per-class N   held-out balanced validation images per class (default 100)
  --test-limit N        evaluate on the first N test images only (default: all 10,000)
  --task multilabel     2×2 canvases of Fashion-MNIST images, each cell empty (p = 0.25) or a class
                        drawn with a long-tailed probability (ratio --ratio); labels: the classes
                        present; sigmoid read-out; per-class average precision and mAP.
                        Methods: ${MULTILABEL_METHODS.map((m) => m.name).join(', ')}
  --canvases N          training canvases (default 15000, 8000 with --quick; 5000 balanced test canvases)`

/** `lpl train`: see {@link TRAIN_USAGE}. */
export async function trainCommand(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      data: { type: 'string', default: DEFAULT_DATA_DIR },
      ratio: { type: 'string', default: '100' },
      methods: { type: 'string', default: 'all' },
      seeds: { type: 'string' },
      epochs: { type: 'string' },
      quick: { type: 'boolean', default: false },
      backend: { type: 'string', default: 'wasm' },
      out: { type: 'string' },
      'batch-size': { type: 'string', default: '128' },
      lr: { type: 'string', default: '0.05' },
      'n-max': { type: 'string', default: '6000' },
      'validation-per-class': { type: 'string', default: '100' },
      'test-limit': { type: 'string' },
      task: { type: 'string', default: 'single' },
      canvases: { type: 'string' },
    },
    strict: true,
  })
  const ratio = numberOption(values.ratio, 'ratio', 1)
  if (values.task !== 'single' && values.task !== 'multilabel')
    throw new CliError(`--task must be single or multilabel, got "${values.task}"`, 2)
  const methods = values.task === 'multilabel' ? selectMultiLabelMethods(values.methods) : selectMethods(values.methods)
  const seeds = values.seeds !== undefined ? listOption(values.seeds, 'seeds') : values.quick ? [0] : [0, 1, 2]
  const epochs = values.epochs !== undefined ? intOption(values.epochs, 'epochs', 1) : values.quick ? 4 : 12
  const batchSize = intOption(values['batch-size'], 'batch-size', 1)
  const learningRate = numberOption(values.lr, 'lr', 0)
  const nMax = intOption(values['n-max'], 'n-max', 1)
  const validationPerClass = intOption(values['validation-per-class'], 'validation-per-class', 1)
  const backend = await useBackend(values.backend)

  const trainSet = loadFashionMnist(values.data, 'train')
  const fullTest = loadFashionMnist(values.data, 'test')
  const testLimit = values['test-limit'] === undefined ? fullTest.count : intOption(values['test-limit'], 'test-limit', 1)
  const testSet = { ...fullTest, count: Math.min(testLimit, fullTest.count) }
  const plan =
    values.task === 'multilabel'
      ? multiLabelPlan(trainSet, testSet, ratio, intOption(values.canvases ?? (values.quick ? '8000' : '15000'), 'canvases', 1))
      : singleLabelPlan(trainSet, testSet, ratio, nMax, validationPerClass)
  const { counts, metric } = plan
  console.log(`${plan.description} Backend tfjs-${backend}.`)
  console.log(`${methods.length} methods × ${seeds.length} seeds × ${epochs} epochs.`)

  const progress = new Progress(methods.length * seeds.length * epochs * Math.ceil(plan.trainingItems / batchSize))
  const started = performance.now()
  const summaries: MethodSummary[] = []
  for (const method of methods) {
    const runs: RunResult[] = []
    for (const seed of seeds) {
      runs.push(
        await plan.train(method, {
          seed,
          epochs,
          batchSize,
          learningRate,
          onBatch: (epoch, batch, batches, loss) => progress.step(`${method.name} seed ${seed}`, epoch, epochs, batch, batches, loss),
        }),
      )
    }
    summaries.push(summarize(method.name, runs, counts))
  }
  progress.finish()
  console.log(`\n${resultsTable(summaries, counts, CLASS_NAMES, metric)}\n`)
  console.log(`Finished in ${formatSeconds((performance.now() - started) / 1000)}.`)

  if (values.out !== undefined) {
    mkdirSync(values.out, { recursive: true })
    const results = {
      protocol: {
        dataset: 'Fashion-MNIST',
        task: values.task,
        data: values.data,
        ratio,
        counts,
        ...plan.protocol,
        testImages: testSet.count,
        epochs,
        seeds,
        batchSize,
        learningRate,
        schedule: 'cosine decay over all steps',
        optimizer: 'SGD, Nesterov momentum 0.9',
        weightDecay: 5e-4,
        backend: `tfjs-${backend}`,
        methods: methods.map((m) => ({ name: m.name, summary: m.summary, spec: m.spec(counts, epochs, plan.trainingItems) })),
      },
      summaries,
      versions: { node: process.version, tfjs: tf.version_core, logitPerturb: manifest.version },
      machine: {
        os: `${osType()} ${release()}`,
        cpus: cpus().length,
        cpuModel: cpus()[0]?.model,
        memoryGiB: Math.round(totalmem() / 2 ** 30),
      },
      seconds: (performance.now() - started) / 1000,
    }
    writeFileSync(join(values.out, 'results.json'), `${JSON.stringify(results, null, 2)}\n`)
    writeFileSync(join(values.out, 'per-class-accuracy.svg'), perClassChart(summaries, CLASS_NAMES, counts, metric))
    writeFileSync(join(values.out, 'balanced-accuracy.svg'), balancedAccuracyChart(summaries, metric))
    console.log(`Wrote ${join(values.out, 'results.json')}, per-class-accuracy.svg and balanced-accuracy.svg.`)
  }
}

/** What a task trains on and how one run goes: the data, the counts, the metric. */
interface TaskPlan {
  description: string
  counts: number[]
  trainingItems: number
  metric: Metric
  protocol: Record<string, unknown>
  train: (method: Method, options: RunOptions) => Promise<RunResult>
}

function singleLabelPlan(trainSet: ImageSet, testSet: ImageSet, ratio: number, nMax: number, validationPerClass: number): TaskPlan {
  const wanted = longTailCounts(ratio, CLASS_NAMES.length, nMax)
  // The training subset is drawn once (seed 0), so every method and seed sees the same images.
  const splits = longTailSplits(trainSet, wanted, validationPerClass, 0)
  if (splits.counts.some((n, c) => n < wanted[c]!)) throw new CliError(`the training set has too few images for n-max ${nMax}`)
  return {
    description:
      `Fashion-MNIST, imbalance ratio ${ratio}: ${splits.train.length} training images, counts ${splits.counts.join('/')}; ` +
      `${splits.validation.length} validation (balanced, held out); ${testSet.count} test.`,
    counts: splits.counts,
    trainingItems: splits.train.length,
    metric: ACCURACY,
    protocol: { validationPerClass, network: 'MLP 784-256-128-10, ReLU' },
    train: (method, options) => trainOnce(method, { trainSet, testSet, ...splits }, options),
  }
}

function multiLabelPlan(trainSet: ImageSet, testSet: ImageSet, ratio: number, canvases: number): TaskPlan {
  const c = CLASS_NAMES.length
  const longTail = Array.from({ length: c }, (_, k) => ratio ** (-k / (c - 1)))
  const everyTrainImage = Array.from({ length: trainSet.count }, (_, i) => i)
  const train = buildCanvases(trainSet, everyTrainImage, canvases, longTail, EMPTY_CELL, 0)
  const test = buildCanvases(
    testSet,
    Array.from({ length: testSet.count }, (_, i) => i),
    5000,
    new Array<number>(c).fill(1),
    EMPTY_CELL,
    1,
  )
  const counts = labelCounts(train)
  return {
    description:
      `Fashion-MNIST 2×2 canvases, class rates in ratio ${ratio}: ${train.count} training canvases, ` +
      `positives per class ${counts.join('/')}; ${test.count} test canvases (classes equally likely).`,
    counts,
    trainingItems: train.count,
    metric: AVERAGE_PRECISION,
    protocol: {
      canvases: train.count,
      testCanvases: test.count,
      emptyCell: EMPTY_CELL,
      network: 'MLP 3136-256-128-10, ReLU, sigmoid read-out',
    },
    train: (method, options) => trainMultiLabelOnce(method, { train, test, counts }, options),
  }
}

/** Probability that a canvas cell is empty. */
const EMPTY_CELL = 0.25
