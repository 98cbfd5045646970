import type { Settings } from './api.js'
import { BACKENDS, type BackendName } from './backend.js'
import { DEFAULT_DATA } from './data.js'
import { RULES, RULE_PARAMS, type RuleName, defaultParams, isRuleName } from './rules.js'
import { DEFAULT_TRAIN } from './train.js'

/** The page's settings before anyone touches a control. */
export const DEFAULT_SETTINGS: Settings = {
  classes: DEFAULT_DATA.classes,
  ratio: DEFAULT_DATA.ratio,
  spread: DEFAULT_DATA.spread,
  seed: DEFAULT_DATA.seed,
  rule: 'ce',
  params: {},
  steps: 200,
  learningRate: DEFAULT_TRAIN.learningRate,
}

/** The form's controls, read and written as {@link Settings}. */
export interface Controls {
  read(): Settings
  /** Sets the given settings; a new rule resets its hyper-parameters to their defaults first. */
  write(settings: Partial<Settings>): void
  setRunning(running: boolean): void
}

/** What the form asks the page to do. */
export interface ControlHandlers {
  /** A setting of the data set changed: redraw the points. */
  onDataChange(): void
  /** Train from scratch with the form's settings. */
  onTrain(): void
  onStop(): void
}

const NUMBER_FIELDS = ['classes', 'seed', 'spread', 'steps', 'learningRate'] as const

/**
 * An input's number held to its `min` and `max`, or `fallback` when it is not a number: a typed
 * "1" class or a blank seed must not reach the data generator. Rule hyper-parameters are not
 * clamped: the library checks them and the page shows its error.
 */
function clamped(input: HTMLInputElement, fallback: number): number {
  const value = input.value.trim() === '' ? NaN : Number(input.value)
  if (!Number.isFinite(value)) return fallback
  return Math.min(Number(input.max || Infinity), Math.max(Number(input.min || -Infinity), value))
}

/**
 * Binds the form of `index.html`: fills the rule menu, shows the chosen rule's hyper-parameters
 * and the spec they make, and maps the imbalance slider (log scale, `ρ` from 1 to 200) to `ρ`.
 */
export function bindControls(form: HTMLFormElement, handlers: ControlHandlers, describe: (s: Settings) => string): Controls {
  const field = (name: string) => form.elements.namedItem(name) as HTMLInputElement
  const ruleSelect = form.elements.namedItem('rule') as HTMLSelectElement
  const paramsBox = form.querySelector<HTMLElement>('#rule-params')!
  const specBox = form.querySelector<HTMLElement>('#rule-spec')!
  const ratioOut = form.querySelector<HTMLOutputElement>('output[for="ratio"]')!
  ruleSelect.replaceChildren(...RULES.map((r) => new Option(r, r)))

  const showParams = (rule: RuleName, values: Record<string, number>) => {
    paramsBox.replaceChildren(
      ...RULE_PARAMS[rule].map((p) => {
        const label = document.createElement('label')
        const input = Object.assign(document.createElement('input'), {
          type: 'number',
          name: `param-${p.key}`,
          min: String(p.min),
          max: String(p.max),
          step: String(p.step),
          value: String(values[p.key] ?? p.value),
        })
        label.append(`${p.label} `, input)
        return label
      }),
    )
  }
  const readRatio = () => Math.round(10 ** Number(field('ratio').value))

  const controls: Controls = {
    read() {
      const rule = ruleSelect.value as RuleName
      const params = Object.fromEntries(RULE_PARAMS[rule].map((p) => [p.key, Number(field(`param-${p.key}`).value)]))
      const numbers = Object.fromEntries(
        NUMBER_FIELDS.map((k) => {
          const v = clamped(field(k), DEFAULT_SETTINGS[k])
          return [k, k === 'spread' || k === 'learningRate' ? v : Math.round(v)]
        }),
      )
      return { ...DEFAULT_SETTINGS, ...numbers, ratio: readRatio(), rule, params }
    },
    write(settings) {
      for (const k of NUMBER_FIELDS) if (settings[k] !== undefined) field(k).value = String(settings[k])
      if (settings.ratio !== undefined) field('ratio').value = String(Math.log10(settings.ratio))
      if (settings.rule !== undefined && settings.rule !== ruleSelect.value) {
        ruleSelect.value = settings.rule
        showParams(settings.rule, defaultParams(settings.rule))
      }
      if (settings.params) showParams(ruleSelect.value as RuleName, { ...controls.read().params, ...settings.params })
      refresh()
    },
    setRunning(running) {
      form.querySelector<HTMLButtonElement>('#train')!.disabled = running
      form.querySelector<HTMLButtonElement>('#stop')!.disabled = !running
    },
  }
  const refresh = () => {
    ratioOut.value = String(readRatio())
    specBox.textContent = describe(controls.read())
  }

  ruleSelect.addEventListener('change', () => {
    showParams(ruleSelect.value as RuleName, {})
    refresh()
  })
  form.addEventListener('input', (event) => {
    refresh()
    const name = (event.target as HTMLInputElement).name
    if (['classes', 'ratio', 'spread', 'seed'].includes(name)) handlers.onDataChange()
  })
  form.addEventListener('submit', (event) => {
    event.preventDefault()
    handlers.onTrain()
  })
  form.querySelector('#stop')!.addEventListener('click', () => handlers.onStop())

  showParams(DEFAULT_SETTINGS.rule, {})
  controls.write(DEFAULT_SETTINGS)
  controls.setRunning(false)
  return controls
}

/** Options read from the address: settings, `backend=webgl|wasm` to prefer one, `autostart` to train on load. */
export interface UrlOptions {
  settings: Partial<Settings>
  backend?: BackendName
  autostart: boolean
}

/**
 * Reads `?rule=lpl&steps=300&ratio=100&classes=5&seed=2&spread=0.5&lr=0.02&alpha=0.2&backend=wasm&autostart`:
 * every setting of the form has a parameter, and a rule's hyper-parameters go by their spec field.
 */
export function readUrl(search: string): UrlOptions {
  const q = new URLSearchParams(search)
  const settings: Partial<Settings> = {}
  const num = (key: string) => (q.has(key) && Number.isFinite(Number(q.get(key))) ? Number(q.get(key)) : undefined)
  for (const [key, name] of [
    ['classes', 'classes'],
    ['ratio', 'ratio'],
    ['spread', 'spread'],
    ['seed', 'seed'],
    ['steps', 'steps'],
    ['lr', 'learningRate'],
  ] as const) {
    const v = num(key)
    if (v !== undefined) settings[name] = v
  }
  const rule = q.get('rule')
  if (isRuleName(rule)) {
    settings.rule = rule
    const params = Object.fromEntries(RULE_PARAMS[rule].flatMap((p) => (num(p.key) === undefined ? [] : [[p.key, num(p.key)!]])))
    if (Object.keys(params).length > 0) settings.params = params
  }
  const backend = q.get('backend')
  return {
    settings,
    ...((BACKENDS as readonly string[]).includes(backend ?? '') ? { backend: backend as BackendName } : {}),
    autostart: q.has('autostart'),
  }
}
