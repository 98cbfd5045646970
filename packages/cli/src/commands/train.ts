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
import { ACCURACY, AVERAGE_PRECISION, resultsTable } from '../report/table.js'
import { EXTRA_METHODS, METHODS, selectMethods } from '../train/methods.js'
import { type MixSettings, mixes } from '../train/mixup.js'
import { MULTILABEL_METHODS, selectMultiLabelMethods, trainMultiLabelOnce } from '../train/multilabel.js'
import { buildCanvases, labelCounts } from '../data/canvases.js'
import { type RunResult, trainOnce } from '../train/run.js'
import { SEGMENTATION_METHOD_NAMES, selectSegmentationMethods } from '../train/segmentationMethods.js'
import { methodsForSoftTargets } from '../train/softTargets.js'
import { intOption, listOption, numberOption } from './options.js'
import { segmentationPlan } from './segmentationPlan.js'
import type { TaskPlan } from './taskPlan.js'

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
  --epochs N            epochs (default 12; 4 for segmentation)
  --quick               the same pipeline with 4 epochs and seed 0 (about 8 minutes on two cores;
                        segmentation: seed 0 and 1000 scenes)
  --backend NAME        tfjs backend: wasm (default) or cpu
  --out DIR             write results.json and SVG charts there
  --batch-size N        (default 128; 16 for segmentation)
  --lr X                initial learning rate (default 0.05; 0.003 for segmentation, with Adam)
  --n-max N             training images of the largest class (default 6000)
  --validation-per-class N   held-out balanced validation images per class (default 100)
  --test-limit N        evaluate on the first N test images only (default: all 10,000)
  --task multilabel     2×2 canvases of Fashion-MNIST images, each cell empty (p = 0.25) or a class
                        drawn with a long-tailed probability (ratio --ratio); labels: the classes
                        present; sigmoid read-out; per-class average precision and mAP.
                        Methods: ${MULTILABEL_METHODS.map((m) => m.name).join(', ')}
  --canvases N          training canvases (default 15000, 8000 with --quick)
  --test-canvases N     balanced test canvases (default 5000)
  --task segmentation   32×32 scenes: a 2×2 grid of cells, each empty (p = 0.25) or holding a garment
                        shrunk to 14×14 whose class is drawn with a long-tailed probability (ratio
                        --ratio); every pixel labelled: background (0), a garment (1-10), or 255
                        (ignored) on the border of a garment. A small fully-convolutional network,
                        Adam; per-class IoU, mIoU, pixel accuracy. 4 epochs.
                        Methods (all: ce, la, cb-ce, seesaw, lpl): ${wrap(SEGMENTATION_METHOD_NAMES)}
  --scenes N            training scenes (default 2000, 1000 with --quick; 1000 balanced test scenes,
                        or N with --test-limit N below 1000)
  --mixup A             mixup of the training batches, λ ~ Beta(A, A) per batch (single-label task);
                        the loss takes probability rows, so methods whose rule reads each sample's
                        class (lpl, seesaw, …) are refused, or skipped with --methods all
  --cutmix A            CutMix, λ ~ Beta(A, A); with --mixup, each batch takes one of the two`

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
      'batch-size': { type: 'string' },
      lr: { type: 'string' },
      'n-max': { type: 'string', default: '6000' },
      'validation-per-class': { type: 'string', default: '100' },
      'test-limit': { type: 'string' },
      task: { type: 'string', default: 'single' },
      canvases: { type: 'string' },
      'test-canvases': { type: 'string' },
      scenes: { type: 'string' },
      mixup: { type: 'string' },
      cutmix: { type: 'string' },
    },
    strict: true,
  })
  const ratio = numberOption(values.ratio, 'ratio', 1)
  const task = values.task
  if (task !== 'single' && task !== 'multilabel' && task !== 'segmentation')
    throw new CliError(`--task must be single, multilabel or segmentation, got "${task}"`, 2)
  const segmentation = task === 'segmentation'
  const mix: MixSettings = {
    ...(values.mixup !== undefined ? { mixup: numberOption(values.mixup, 'mixup', 0) } : {}),
    ...(values.cutmix !== undefined ? { cutmix: numberOption(values.cutmix, 'cutmix', 0) } : {}),
  }
  if (mixes(mix) && task !== 'single') throw new CliError(`--mixup and --cutmix apply to the single-label task, not --task ${task}`, 2)
  let methods =
    task === 'multilabel'
      ? selectMultiLabelMethods(values.methods)
      : segmentation
        ? selectSegmentationMethods(values.methods)
        : selectMethods(values.methods)
  if (mixes(mix)) {
    const { kept, skipped } = methodsForSoftTargets(methods, values.methods !== 'all')
    if (skipped.length > 0)
      console.log(`Skipped with mixing (their rules read each sample's class): ${skipped.map((m) => m.name).join(', ')}.`)
    methods = kept
  }
  const seeds = values.seeds !== undefined ? listOption(values.seeds, 'seeds') : values.quick ? [0] : [0, 1, 2]
  const defaultEpochs = segmentation ? 4 : values.quick ? 4 : 12
  const epochs = values.epochs !== undefined ? intOption(values.epochs, 'epochs', 1) : defaultEpochs
  const batchSize = intOption(values['batch-size'] ?? (segmentation ? '16' : '128'), 'batch-size', 1)
  const learningRate = numberOption(values.lr ?? (segmentation ? '0.003' : '0.05'), 'lr', 0)
  const nMax = intOption(values['n-max'], 'n-max', 1)
  const validationPerClass = intOption(values['validation-per-class'], 'validation-per-class', 1)
  const backend = await useBackend(values.backend)

  const trainSet = loadFashionMnist(values.data, 'train')
  const fullTest = loadFashionMnist(values.data, 'test')
  const testLimit = values['test-limit'] === undefined ? fullTest.count : intOption(values['test-limit'], 'test-limit', 1)
  const testSet = { ...fullTest, count: Math.min(testLimit, fullTest.count) }
  const plan =
    task === 'multilabel'
      ? multiLabelPlan(
          trainSet,
          testSet,
          ratio,
          intOption(values.canvases ?? (values.quick ? '8000' : '15000'), 'canvases', 1),
          intOption(values['test-canvases'] ?? '5000', 'test-canvases', 1),
        )
      : segmentation
        ? segmentationPlan(trainSet, testSet, ratio, intOption(values.scenes ?? (values.quick ? '1000' : '2000'), 'scenes', 1))
        : singleLabelPlan(trainSet, testSet, ratio, nMax, validationPerClass)
  const { counts, metric } = plan
  console.log(`${plan.description} Backend tfjs-${backend}.`)
  if (mixes(mix)) console.log(`Training batches mixed: ${describeMix(mix)}; test accuracy against the hard labels.`)
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
          ...(mixes(mix) ? { mix } : {}),
          onBatch: (epoch, batch, batches, loss) => progress.step(`${method.name} seed ${seed}`, epoch, epochs, batch, batches, loss),
        }),
      )
    }
    summaries.push(summarize(method.name, runs, counts))
  }
  progress.finish()
  console.log(`\n${resultsTable(summaries, counts, plan.classNames, metric)}\n`)
  console.log(`Finished in ${formatSeconds((performance.now() - started) / 1000)}.`)

  if (values.out !== undefined) {
    mkdirSync(values.out, { recursive: true })
    const results = {
      protocol: {
        dataset: 'Fashion-MNIST',
        task,
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
        optimizer: plan.optimizer ?? 'SGD, Nesterov momentum 0.9',
        weightDecay: 5e-4,
        ...(mixes(mix) ? { mix } : {}),
        backend: `tfjs-${backend}`,
        methods: methods.map((m) => ({ name: m.name, summary: m.summary, spec: m.spec(counts, epochs, plan.numSamples) })),
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
    writeFileSync(join(values.out, 'per-class-accuracy.svg'), perClassChart(summaries, plan.classNames, counts, metric))
    writeFileSync(join(values.out, 'balanced-accuracy.svg'), balancedAccuracyChart(summaries, metric))
    console.log(`Wrote ${join(values.out, 'results.json')}, per-class-accuracy.svg and balanced-accuracy.svg.`)
  }
}

/** How the training batches are mixed, in words. */
function describeMix(mix: MixSettings): string {
  const parts = [
    ...(mix.mixup ? [`mixup, λ ~ Beta(${mix.mixup}, ${mix.mixup})`] : []),
    ...(mix.cutmix ? [`CutMix, λ ~ Beta(${mix.cutmix}, ${mix.cutmix})`] : []),
  ]
  return `${parts.join(' or ')} per batch${parts.length > 1 ? ' (each batch one of the two, p = 1/2)' : ''}`
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
    classNames: CLASS_NAMES,
    trainingItems: splits.train.length,
    numSamples: splits.train.length,
    metric: ACCURACY,
    protocol: { validationPerClass, network: 'MLP 784-256-128-10, ReLU' },
    train: (method, options) => trainOnce(method, { trainSet, testSet, ...splits }, options),
  }
}

function multiLabelPlan(trainSet: ImageSet, testSet: ImageSet, ratio: number, canvases: number, testCanvases: number): TaskPlan {
  const c = CLASS_NAMES.length
  const longTail = Array.from({ length: c }, (_, k) => ratio ** (-k / (c - 1)))
  const everyTrainImage = Array.from({ length: trainSet.count }, (_, i) => i)
  const train = buildCanvases(trainSet, everyTrainImage, canvases, longTail, EMPTY_CELL, 0)
  const test = buildCanvases(
    testSet,
    Array.from({ length: testSet.count }, (_, i) => i),
    testCanvases,
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
    classNames: CLASS_NAMES,
    trainingItems: train.count,
    numSamples: train.count,
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
