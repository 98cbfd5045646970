import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { gzipSync } from 'node:zlib'
import { describe, expect, it } from 'vitest'
import { rejectedBy } from '@logit-perturb/conformance'
import { COMMANDS } from '../src/commands/index.js'
import { loadFashionMnist } from '../src/data/fashionMnist.js'
import { parseIdx } from '../src/data/idx.js'
import { CliError } from '../src/errors.js'
import { MAX_CLI_CLASSES } from '../src/specFile.js'
import { idxBytes, writeFakeFashionMnist } from './fakeData.js'
import { lpl } from './run.js'

/** The escaped form of `text` inside a regular expression. */
function literal(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
}

/**
 * The message of the one `CliError` that `fn` throws (or rejects with), as `lpl` prints it; anything
 * else fails the test, and so does a message of more than one line.
 */
async function cliError(fn: () => unknown): Promise<string> {
  const e = await rejectedBy(CliError, fn)
  expect(e.message).not.toMatch(/\n/)
  return `lpl: ${e.message}`
}

/** A small valid IDX file: 3 images of 2×2 bytes (a 16-byte header, 12 data bytes). */
const SMALL = idxBytes(
  [3, 2, 2],
  Uint8Array.from({ length: 12 }, (_, k) => k),
)

describe('parseIdx refuses malformed IDX bytes with one error naming the source and the problem', () => {
  it('truncated at every length, through the header and the data', async () => {
    expect(parseIdx(SMALL, 'x').dims).toEqual([3, 2, 2])
    for (let n = 0; n < SMALL.length; n++) {
      const want =
        n < 4
          ? new RegExp(`^lpl: small\\.idx: ${n} bytes is too short for an IDX file$`)
          : n < 16
            ? new RegExp(`^lpl: small\\.idx: IDX header of rank 3 is truncated \\(${n} of 16 bytes\\)$`)
            : new RegExp(
                `^lpl: small\\.idx: dimensions \\[3, 2, 2\\] need 12 data bytes, the file has ${n - 16} \\(truncated or corrupt\\)$`,
              )
      expect(await cliError(() => parseIdx(SMALL.subarray(0, n), 'small.idx')), `${n} bytes`).toMatch(want)
    }
  })

  it('a wrong magic number, a wrong type byte, no dimensions, extra bytes, dimensions that cannot fit', async () => {
    const with4 = (head: number[]) => Uint8Array.from([...head, ...SMALL.subarray(4)])
    expect(await cliError(() => parseIdx(with4([0x1f, 0x8b, 0x08, 0x03]), 'a'))).toMatch(
      /^lpl: a: not an IDX file \(magic number 0x1f8b0803, expected 0x0000080N\)$/,
    )
    expect(await cliError(() => parseIdx(new TextEncoder().encode('P5\n28 28\n255\n'), 'b'))).toMatch(
      /^lpl: b: not an IDX file \(magic number 0x50350a32/,
    )
    expect(await cliError(() => parseIdx(with4([0, 1, 8, 3]), 'c'))).toMatch(/^lpl: c: not an IDX file \(magic number 0x00010803/)
    for (const [type, name] of [
      [0x09, '9'],
      [0x0b, 'b'],
      [0x0d, 'd'],
      [0x0e, 'e'],
    ] as const) {
      expect(await cliError(() => parseIdx(with4([0, 0, type, 3]), 'd'))).toMatch(
        new RegExp(`^lpl: d: IDX type 0x${name} is not unsigned bytes \\(0x08\\)$`),
      )
    }
    expect(await cliError(() => parseIdx(Uint8Array.from([0, 0, 8, 0, 1, 2]), 'e'))).toMatch(
      /^lpl: e: IDX header declares 0 dimensions \(corrupt\)$/,
    )
    expect(await cliError(() => parseIdx(Uint8Array.from([...SMALL, 0]), 'f'))).toMatch(/^lpl: f: .*need 12 data bytes, the file has 13/)
    expect(await cliError(() => parseIdx(idxBytes([0xffffffff, 28, 28], new Uint8Array(784)), 'g'))).toMatch(
      /^lpl: g: dimensions \[4294967295, 28, 28\] need 3367254359280 data bytes, the file has 784/,
    )
  })
})

/** The IDX bytes of a Fashion-MNIST-shaped file: `n` images of `rows × cols`, or `n` labels. */
const images = (dims: number[]) => idxBytes(dims, new Uint8Array(dims.reduce((a, b) => a * b, 1)).fill(7))
const labels = (values: number[]) => idxBytes([values.length], Uint8Array.from(values))

/** A fake Fashion-MNIST folder (10 training and 10 test images) with `files` written over it (`null` removes one). */
function folder(files: Record<string, Uint8Array | null> = {}): string {
  const dir = writeFakeFashionMnist(1, 1)
  for (const [name, bytes] of Object.entries(files)) {
    rmSync(join(dir, name.endsWith('.gz') ? name : `${name}.gz`), { force: true })
    if (bytes !== null) writeFileSync(join(dir, name), bytes)
  }
  return dir
}

describe('loadFashionMnist refuses malformed data folders with one error naming the file and the problem', () => {
  const TRAIN_IMAGES = 'train-images-idx3-ubyte'
  const TRAIN_LABELS = 'train-labels-idx1-ubyte'
  const TEST_LABELS = 't10k-labels-idx1-ubyte'

  it('loads the well-formed folder, gzipped or plain (the cases below break it)', () => {
    expect(loadFashionMnist(folder(), 'train')).toMatchObject({ count: 10, pixels: 784 })
    const plain = folder({ [TRAIN_IMAGES]: images([10, 28, 28]), [TRAIN_LABELS]: labels([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]) })
    expect(loadFashionMnist(plain, 'train')).toMatchObject({ count: 10, pixels: 784 })
  })

  it('a plain IDX file truncated at a sample of lengths, through the header and the data', async () => {
    const dir = folder()
    const path = join(dir, TRAIN_IMAGES)
    rmSync(`${path}.gz`)
    const whole = images([10, 28, 28])
    for (const n of [0, 1, 3, 4, 7, 15, 16, 17, 100, 784, whole.length - 1]) {
      writeFileSync(path, whole.subarray(0, n))
      expect(await cliError(() => loadFashionMnist(dir, 'train')), `${n} bytes`).toMatch(
        new RegExp(
          `^lpl: ${literal(path)}: (\\d+ bytes is too short for an IDX file|IDX header of rank 3 is truncated|dimensions \\[10, 28, 28\\] need 7840 data bytes, the file has ${n - 16} \\(truncated or corrupt\\))`,
        ),
      )
    }
  })

  it('a gzip file truncated at a sample of lengths, or corrupt, or not gzip at all', async () => {
    const dir = folder()
    const path = join(dir, `${TRAIN_LABELS}.gz`)
    const whole = readFileSync(path)
    for (const n of [0, 1, 2, 9, 10, 11, 20, whole.length >> 1, whole.length - 8, whole.length - 1]) {
      writeFileSync(path, whole.subarray(0, n))
      expect(await cliError(() => loadFashionMnist(dir, 'train')), `${n} bytes`).toMatch(
        new RegExp(`^lpl: ${literal(path)}: not a valid gzip file \\(truncated or corrupt\\)$`),
      )
    }
    const flipped = Uint8Array.from(whole)
    flipped[whole.length - 6]! ^= 0xff // the CRC-32 of the data
    writeFileSync(path, flipped)
    expect(await cliError(() => loadFashionMnist(dir, 'train'))).toMatch(new RegExp(`^lpl: ${literal(path)}: not a valid gzip file`))
    writeFileSync(path, labels([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]))
    expect(await cliError(() => loadFashionMnist(dir, 'train'))).toMatch(new RegExp(`^lpl: ${literal(path)}: not a valid gzip file`))
    // Gzipped bytes under the plain name are read as IDX, and refused for their magic number.
    const plain = folder({ [TRAIN_LABELS]: whole })
    expect(await cliError(() => loadFashionMnist(plain, 'train'))).toMatch(
      new RegExp(`^lpl: ${literal(join(plain, TRAIN_LABELS))}: not an IDX file \\(magic number 0x1f8b`),
    )
  })

  it('a wrong magic number or type byte, inside a gzip file', async () => {
    const bytes = images([10, 28, 28])
    const magic = Uint8Array.from(bytes)
    magic.set([0x12, 0x34], 0)
    let dir = folder({ [`${TRAIN_IMAGES}.gz`]: gzipSync(magic) })
    expect(await cliError(() => loadFashionMnist(dir, 'train'))).toMatch(
      new RegExp(`^lpl: ${literal(join(dir, TRAIN_IMAGES))}\\.gz: not an IDX file \\(magic number 0x12340803`),
    )
    const type = Uint8Array.from(bytes)
    type[2] = 0x0c
    dir = folder({ [`${TRAIN_IMAGES}.gz`]: gzipSync(type) })
    expect(await cliError(() => loadFashionMnist(dir, 'train'))).toMatch(
      new RegExp(`^lpl: ${literal(join(dir, TRAIN_IMAGES))}\\.gz: IDX type 0xc is not unsigned bytes`),
    )
  })

  it('images that are not 28×28, or not [count, rows, cols], or none', async () => {
    for (const dims of [
      [10, 32, 32],
      [10, 28, 27],
      [10, 784],
      [10, 28, 28, 1],
    ]) {
      const dir = folder({ [TRAIN_IMAGES]: images(dims) })
      expect(await cliError(() => loadFashionMnist(dir, 'train')), dims.join('×')).toBe(
        `lpl: ${join(dir, TRAIN_IMAGES)}: train images must be [count, 28, 28], the file holds [${dims.join(', ')}]`,
      )
    }
    const dir = folder({ [TRAIN_IMAGES]: images([0, 28, 28]), [TRAIN_LABELS]: labels([]) })
    expect(await cliError(() => loadFashionMnist(dir, 'train'))).toBe(`lpl: ${join(dir, TRAIN_IMAGES)}: the file holds no train images`)
  })

  it('an image count other than the label count, and labels that are not [count]', async () => {
    for (const n of [9, 11]) {
      const dir = folder({ [TEST_LABELS]: labels(Array.from({ length: n }, (_, k) => k % 10)) })
      expect(await cliError(() => loadFashionMnist(dir, 'test')), `${n} labels`).toBe(
        `lpl: ${join(dir, TEST_LABELS)}: ${n} test labels for the 10 images of ${join(dir, 't10k-images-idx3-ubyte.gz')}`,
      )
    }
    const dir = folder({ [TRAIN_LABELS]: idxBytes([10, 1], new Uint8Array(10)) })
    expect(await cliError(() => loadFashionMnist(dir, 'train'))).toBe(
      `lpl: ${join(dir, TRAIN_LABELS)}: train labels must be [count], the file holds [10, 1]`,
    )
  })

  it('label values outside the ten classes', async () => {
    for (const bad of [10, 255]) {
      const dir = folder({ [TRAIN_LABELS]: labels([0, 1, 2, 3, 4, 5, bad, 7, 8, 9]) })
      expect(await cliError(() => loadFashionMnist(dir, 'train')), `label ${bad}`).toBe(
        `lpl: ${join(dir, TRAIN_LABELS)}: train label ${bad} at index 6 is not a class in [0, 10)`,
      )
    }
  })

  it('a missing file or folder, and a folder where a file should be', async () => {
    let dir = folder({ [TRAIN_LABELS]: null })
    expect(await cliError(() => loadFashionMnist(dir, 'train'))).toMatch(
      new RegExp(`^lpl: Fashion-MNIST not found: ${literal(join(dir, TRAIN_LABELS))}\\.gz is missing\\. Pass --data`),
    )
    dir = folder({ [TRAIN_IMAGES]: null })
    expect(await cliError(() => loadFashionMnist(dir, 'train'))).toMatch(
      new RegExp(`^lpl: Fashion-MNIST not found: ${literal(join(dir, TRAIN_IMAGES))}\\.gz is missing`),
    )
    const none = join(tmpdir(), 'no-such-fashion-mnist')
    expect(await cliError(() => loadFashionMnist(none, 'test'))).toMatch(
      new RegExp(`^lpl: Fashion-MNIST not found: ${literal(join(none, 't10k-images-idx3-ubyte'))}\\.gz is missing`),
    )
    dir = folder({ [`${TRAIN_IMAGES}.gz`]: null })
    mkdirSync(join(dir, `${TRAIN_IMAGES}.gz`))
    expect(await cliError(() => loadFashionMnist(dir, 'train'))).toBe(`lpl: cannot read ${join(dir, TRAIN_IMAGES)}.gz: EISDIR`)
  })
})

const specDir = mkdtempSync(join(tmpdir(), 'lpl-bad-spec-'))

/** A spec file with `text` as its content. */
function specFile(name: string, text: string): string {
  const path = join(specDir, name)
  writeFileSync(path, text)
  return path
}

const COUNTS = [900, 300, 60, 5]
const json = (value: unknown) => JSON.stringify(value)

/** Malformed spec files: the file's name, its content (`null`: no such file), and what the one line must say after the path. */
const BAD_SPECS: [string, string | null, RegExp][] = [
  ['missing.json', null, /^cannot read .*missing\.json: ENOENT$/],
  ['empty.json', '', /^.*empty\.json: not valid JSON \(Unexpected end of JSON input\)$/],
  ['truncated.json', '{"rule": "lpl", "split": "pri', /truncated\.json: not valid JSON \(/],
  ['binary.json', '\u0000\u00ff\u0001{', /binary\.json: not valid JSON \(/],
  ['array.json', json([{ rule: 'ce' }]), /array\.json: INVALID_SPEC: spec: must be a JSON object, got an array$/],
  ['null.json', 'null', /null\.json: INVALID_SPEC: spec: must be a JSON object, got null$/],
  ['number.json', '42', /number\.json: INVALID_SPEC: spec: must be a JSON object, got 42$/],
  [
    'unknown-rule.json',
    json({ rule: 'dice', classCounts: COUNTS }),
    /unknown-rule\.json: UNKNOWN_RULE: rule: unknown rule "dice"; known rules: ce, /,
  ],
  ['no-rule.json', json({ tau: 1, classCounts: COUNTS }), /no-rule\.json: INVALID_SPEC: rule: is required/],
  ['missing-field.json', json({ rule: 'logit-adjustment', tau: 1 }), /missing-field\.json: INVALID_SPEC: classCounts: is required$/],
  [
    'missing-base-field.json',
    json({ rule: 'lpl', split: 'prior', classCounts: COUNTS, base: { rule: 'ldam' } }),
    /missing-base-field\.json: INVALID_SPEC: base\.classCounts: is required$/,
  ],
  [
    'extra-field.json',
    json({ rule: 'ldam', classCounts: COUNTS, margin: 0.5 }),
    /extra-field\.json: INVALID_SPEC: margin: is not a field of this rule$/,
  ],
  [
    'string-tau.json',
    json({ rule: 'logit-adjustment', tau: '1', classCounts: COUNTS }),
    /string-tau\.json: INVALID_PARAMETER: tau: must be a finite number, got "1"$/,
  ],
  [
    'string-counts.json',
    json({ rule: 'logit-adjustment', classCounts: '900,300,60,5' }),
    /string-counts\.json: \w+: classCounts: must be an array/,
  ],
  [
    'string-drw.json',
    json({ rule: 'ldam', classCounts: COUNTS, drw: 'yes' }),
    /string-drw\.json: INVALID_SPEC: drw: must be a JSON object, got "yes"$/,
  ],
  [
    'negative-alpha.json',
    json({ rule: 'lpl', split: 'prior', classCounts: COUNTS, alpha: -1 }),
    /negative-alpha\.json: INVALID_PARAMETER: alpha: must be > 0, got -1$/,
  ],
  [
    'null-alpha.json',
    json({ rule: 'lpl', split: 'prior', classCounts: COUNTS, alpha: null }),
    /null-alpha\.json: INVALID_PARAMETER: alpha: must be a finite number, got null$/,
  ],
  [
    'split.json',
    json({ rule: 'lpl', split: 'median', classCounts: COUNTS }),
    /split\.json: INVALID_PARAMETER: split: must be one of "prior", /,
  ],
  [
    'fraction-steps.json',
    json({ rule: 'lpl', split: 'prior', classCounts: COUNTS, maxSteps: 2.5 }),
    /fraction-steps\.json: INVALID_PARAMETER: maxSteps: must be an integer, got 2\.5$/,
  ],
  [
    'infinite.json',
    '{"rule": "ldam", "classCounts": [900, 300, 60, 5], "maxMargin": 1e999}',
    /infinite\.json: INVALID_PARAMETER: maxMargin: must be a finite number, got Infinity$/,
  ],
  [
    'counts-length.json',
    json({ rule: 'logit-adjustment', numClasses: 3, classCounts: COUNTS }),
    /counts-length\.json: CLASS_COUNTS_LENGTH: classCounts: has 4 entries but there are 3 classes$/,
  ],
  [
    'base-length.json',
    json({ rule: 'lpl', split: 'prior', classCounts: COUNTS, base: { rule: 'logit-adjustment', classCounts: [1, 2] } }),
    /base-length\.json: CLASS_COUNTS_LENGTH: base: the base rule has 2 classes but the LPL split has 4$/,
  ],
  [
    'empty-counts.json',
    json({ rule: 'balanced-softmax', classCounts: [] }),
    /empty-counts\.json: CLASS_COUNTS_LENGTH: classCounts: is empty$/,
  ],
  [
    'negative-count.json',
    json({ rule: 'vs', classCounts: [900, -3, 60, 5] }),
    /negative-count\.json: CLASS_COUNTS_VALUE: classCounts\[1\]: .*-3/,
  ],
  // Refused by the spec's own bounds or, past them, by lpl's.
  [
    'many-classes.json',
    json({ rule: 'ce', numClasses: 1e12 }),
    /many-classes\.json: (\w+: )?numClasses: (must be ≤ \d+, got 1000000000000|1000000000000 classes is more than lpl takes)/,
  ],
  [
    'many-base-classes.json',
    json({ rule: 'lpl', split: 'confidence', base: { rule: 'ce', numClasses: 2 ** 20 } }),
    /many-base-classes\.json: (\w+: )?base\.numClasses: (must be ≤ \d+, got 1048576|1048576 classes is more than lpl takes)/,
  ],
  [
    'long-counts.json',
    json({ rule: 'balanced-softmax', classCounts: new Array(MAX_CLI_CLASSES + 1).fill(1) }),
    new RegExp(`long-counts\\.json: classCounts: ${MAX_CLI_CLASSES + 1} classes is more than lpl takes \\(at most ${MAX_CLI_CLASSES}\\)$`),
  ],
]

/** The arguments of each command that reads a spec, around `--spec FILE`. */
const COMMAND_ARGS: Record<string, (spec: string) => string[]> = {
  verify: (spec) => ['--spec', spec, '--batches', '1'],
  explain: (spec) => ['--spec', spec],
  export: (spec) => ['--spec', spec, '--out', join(specDir, 'never.onnx')],
  adjust: (spec) => ['--model', join(specDir, 'never-read.onnx'), '--spec', spec, '--out', join(specDir, 'never.onnx')],
}

describe('lpl commands refuse malformed spec files in one line naming the file and the field', () => {
  const paths = new Map(BAD_SPECS.map(([name, text]) => [name, text === null ? join(specDir, name) : specFile(name, text)]))

  it('every case, in every command that reads a spec', async () => {
    for (const [command, args] of Object.entries(COMMAND_ARGS)) {
      for (const [name, , want] of BAD_SPECS) {
        const message = await cliError(() => COMMANDS[command]!.run(args(paths.get(name)!)))
        expect(message, `${command} ${name}`).toMatch(new RegExp(`^lpl: (${literal(paths.get(name)!)}|cannot read )`))
        expect(message.replace(/^lpl: /, ''), `${command} ${name}`).toMatch(want)
      }
    }
    expect(await cliError(() => COMMANDS.verify!.run(['--spec', specFile('ce.json', json({ rule: 'ce' })), '--classes', '1e12']))).toBe(
      `lpl: --classes must be a number ≥ 1 and ≤ ${MAX_CLI_CLASSES}, got "1e12"`,
    )
  })

  it('as the lpl command: status 1, one line on stderr, no stack trace', async () => {
    const runs: [string, string, string[]][] = [
      ['verify', 'negative-alpha.json', COMMAND_ARGS.verify!(paths.get('negative-alpha.json')!)],
      ['explain', 'truncated.json', COMMAND_ARGS.explain!(paths.get('truncated.json')!)],
      ['export', 'long-counts.json', COMMAND_ARGS.export!(paths.get('long-counts.json')!)],
      ['adjust', 'missing.json', COMMAND_ARGS.adjust!(paths.get('missing.json')!)],
    ]
    const results = await Promise.all(runs.map(([command, , args]) => lpl(command, ...args)))
    results.forEach((r, k) => {
      const [command, name] = runs[k]!
      const want = BAD_SPECS.find(([n]) => n === name)![2]
      expect(r.status, `${command} ${name}: ${r.stderr}`).toBe(1)
      expect(r.stdout, `${command} ${name}`).toBe('')
      const lines = r.stderr.trimEnd().split('\n')
      expect(lines, `${command} ${name}`).toHaveLength(1)
      expect(lines[0], `${command} ${name}`).toMatch(/^lpl: /)
      expect(lines[0]!.replace(/^lpl: /, ''), `${command} ${name}`).toMatch(want)
      expect(r.stderr).not.toMatch(/^\s+at |unexpected error/m)
    })
  })
})
