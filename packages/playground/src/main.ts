/**
 * The page: picks a backend, draws the data, and trains a fresh model whenever asked (the Train
 * button, `?autostart`, or `window.__playground.run`), redrawing the decision regions and the
 * per-class accuracy every few steps.
 */
import * as tf from '@tensorflow/tfjs-core'
import type { PlaygroundApi, PlaygroundState, Settings } from './api.js'
import { chooseBackend } from './backend.js'
import { type DataSet, DEFAULT_DATA, longTailedCounts, makeDataSet } from './data.js'
import { drawRegions, gridPoints, renderAccuracyBars } from './draw.js'
import { ruleSpec } from './rules.js'
import { DEFAULT_TRAIN, Trainer } from './train.js'
import { bindControls, readUrl } from './ui.js'

/** Steps between redraws: often enough to watch the regions move, rarely enough not to slow training. */
const REDRAW_EVERY = 10

const canvas = document.querySelector<HTMLCanvasElement>('#regions')!
const bars = document.querySelector<HTMLElement>('#bars')!
const status = document.querySelector<HTMLElement>('#status')!
const backendBadge = document.querySelector<HTMLElement>('#backend')!
const grid = gridPoints()

const state: PlaygroundState = {
  backend: '',
  ready: false,
  running: false,
  rule: 'ce',
  step: 0,
  loss: null,
  perClassAccuracy: [],
  classCounts: [],
  numTensors: 0,
  leakedPerStep: 0,
  runMs: 0,
}
let data: DataSet
let trainer: Trainer | undefined
let stopRequested = false
let current: Promise<PlaygroundState> = Promise.resolve(state)

const dataOf = (s: Settings): DataSet =>
  makeDataSet({ ...DEFAULT_DATA, classes: s.classes, ratio: s.ratio, spread: s.spread, seed: s.seed })

/** The spec a user would write for the form's settings, shown under the rule menu. */
const describe = (s: Settings) => JSON.stringify(ruleSpec(s.rule, longTailedCounts(s.classes, DEFAULT_DATA.maxCount, s.ratio), s.params))

const controls = bindControls(
  document.querySelector('form')!,
  {
    onDataChange: () => {
      if (state.running) return
      showData(dataOf(controls.read()))
    },
    onTrain: () => void run({}),
    onStop: () => {
      stopRequested = true
    },
  },
  describe,
)

/** Mirrors the state on `<body>` as data attributes, for anyone reading the page without scripts. */
function publish(): void {
  const body = document.body.dataset
  body.backend = state.backend
  body.step = String(state.step)
  body.state = state.running ? 'running' : state.ready ? 'idle' : 'loading'
  body.perClassAccuracy = state.perClassAccuracy.map((a) => a.toFixed(4)).join(',')
  status.textContent =
    state.error ??
    `${state.rule}: step ${state.step}` +
      (state.loss === null ? '' : `, loss ${state.loss.toFixed(4)}`) +
      (state.runMs ? `, last run ${(state.runMs / 1000).toFixed(1)} s` : '')
}

function showData(next: DataSet): void {
  trainer?.dispose()
  trainer = undefined
  data = next
  Object.assign(state, { step: 0, loss: null, perClassAccuracy: [], classCounts: data.classCounts })
  drawRegions(canvas, null, data.train)
  renderAccuracyBars(bars, null, data.classCounts)
  publish()
}

async function redraw(t: Trainer, loss: number | undefined): Promise<void> {
  const [accuracy, cells] = [await t.perClassAccuracy(), await t.predict(grid)]
  Object.assign(state, { step: t.step, perClassAccuracy: accuracy, numTensors: tf.memory().numTensors })
  if (loss !== undefined) state.loss = loss
  drawRegions(canvas, cells, data.train)
  renderAccuracyBars(bars, accuracy, data.classCounts)
  publish()
}

/** Trains a fresh model with the form's settings after applying `overrides`; one run at a time. */
function run(overrides: Partial<Settings>): Promise<PlaygroundState> {
  current = current.then(async () => {
    controls.write(overrides)
    const settings = controls.read()
    showData(dataOf(settings))
    stopRequested = false
    state.running = true
    state.rule = settings.rule
    state.error = undefined
    state.leakedPerStep = 0
    controls.setRunning(true)
    const started = performance.now()
    try {
      const t = new Trainer(data, {
        ...DEFAULT_TRAIN,
        rule: settings.rule,
        params: settings.params,
        learningRate: settings.learningRate,
        seed: settings.seed,
      })
      trainer = t
      let afterFirst = 0
      while (t.step < settings.steps && !stopRequested) {
        const redrawNow = t.step + 1 === settings.steps || (t.step + 1) % REDRAW_EVERY === 0
        const loss = await t.trainStep(redrawNow)
        // Adam creates its slots on the first step; from then on a step must leave no tensor behind.
        if (t.step === 1) afterFirst = tf.memory().numTensors
        if (redrawNow) {
          await redraw(t, loss)
          state.leakedPerStep = t.step > 1 ? (tf.memory().numTensors - afterFirst) / (t.step - 1) : 0
          // Yield to the browser so it paints the new regions and handles clicks (Stop).
          await new Promise((resolve) => setTimeout(resolve, 0))
        }
      }
      // A stopped run ends between redraws: show where it stopped.
      if (state.step !== t.step) await redraw(t, undefined)
    } catch (error) {
      state.error = `error: ${(error as Error).message}`
    }
    state.runMs = performance.now() - started
    state.running = false
    controls.setRunning(false)
    publish()
    return { ...state }
  })
  return current
}

const url = readUrl(location.search)
controls.write(url.settings)
showData(dataOf(controls.read()))

const ready = chooseBackend(url.backend).then(
  (active) => {
    state.backend = active.name
    if (active.renderer) state.renderer = active.renderer
    backendBadge.textContent = `backend: ${active.name}${active.renderer ? ` (${active.renderer})` : ''}`
    state.ready = true
    publish()
  },
  (error: Error) => {
    state.error = error.message
    backendBadge.textContent = 'no backend'
    publish()
  },
)
current = ready.then(() => state)

const api: PlaygroundApi = {
  get state() {
    return { ...state }
  },
  ready,
  run,
  stop: () => {
    stopRequested = true
  },
}
;(window as unknown as { __playground: PlaygroundApi }).__playground = api

if (url.autostart) void ready.then(() => run({}))
