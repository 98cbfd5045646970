import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { CliError } from '../errors.js'
import { readIdxFile } from './idx.js'

/** Where the Debian package `dataset-fashion-mnist` installs the data. */
export const DEFAULT_DATA_DIR = '/usr/share/datasets/fashion-mnist'

/** The ten Fashion-MNIST classes, in label order. */
export const CLASS_NAMES = [
  'T-shirt/top',
  'Trouser',
  'Pullover',
  'Dress',
  'Coat',
  'Sandal',
  'Shirt',
  'Sneaker',
  'Bag',
  'Ankle boot',
] as const

/** Images as bytes (`count × 784`, row-major 28×28) with their labels. */
export interface ImageSet {
  images: Uint8Array
  labels: Uint8Array
  count: number
  pixels: number
}

const FILES = {
  train: ['train-images-idx3-ubyte', 'train-labels-idx1-ubyte'],
  test: ['t10k-images-idx3-ubyte', 't10k-labels-idx1-ubyte'],
} as const

function locate(dir: string, base: string): string {
  for (const name of [`${base}.gz`, base]) {
    const path = join(dir, name)
    if (existsSync(path)) return path
  }
  throw new CliError(
    `Fashion-MNIST not found: ${join(dir, base)}.gz is missing. ` +
      (dir === DEFAULT_DATA_DIR
        ? 'Install it with: apt-get install -y dataset-fashion-mnist (or pass --data DIR).'
        : `Pass --data with the folder holding the four IDX files, or install the Debian package dataset-fashion-mnist for ${DEFAULT_DATA_DIR}.`),
  )
}

/** The side of a Fashion-MNIST image, in pixels. */
const SIDE = 28

/**
 * Loads one split of Fashion-MNIST from `dir` (gzip-compressed or plain IDX files). Files that are
 * missing, malformed (see `parseIdx`) or that do not hold Fashion-MNIST (images other than
 * `[count, 28, 28]`, no images, labels other than `[count]` or outside the ten classes, counts that
 * differ) give one `CliError` naming the file and the problem.
 */
export function loadFashionMnist(dir: string, split: 'train' | 'test'): ImageSet {
  const [imagePath, labelPath] = FILES[split].map((base) => locate(dir, base)) as [string, string]
  const images = readIdxFile(imagePath)
  if (images.dims.length !== 3 || images.dims[1] !== SIDE || images.dims[2] !== SIDE) {
    throw new CliError(`${imagePath}: ${split} images must be [count, ${SIDE}, ${SIDE}], the file holds [${images.dims.join(', ')}]`)
  }
  if (images.dims[0] === 0) throw new CliError(`${imagePath}: the file holds no ${split} images`)
  const labels = readIdxFile(labelPath)
  if (labels.dims.length !== 1)
    throw new CliError(`${labelPath}: ${split} labels must be [count], the file holds [${labels.dims.join(', ')}]`)
  if (images.dims[0] !== labels.dims[0]) {
    throw new CliError(`${labelPath}: ${labels.dims[0]} ${split} labels for the ${images.dims[0]} images of ${imagePath}`)
  }
  const bad = labels.data.findIndex((y) => y >= CLASS_NAMES.length)
  if (bad >= 0)
    throw new CliError(`${labelPath}: ${split} label ${labels.data[bad]} at index ${bad} is not a class in [0, ${CLASS_NAMES.length})`)
  return { images: images.data, labels: labels.data, count: images.dims[0]!, pixels: SIDE * SIDE }
}
