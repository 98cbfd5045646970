import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { CliError } from '../errors.js'
import { readIdxFile } from './idx.js'

/** Where the Debian package `dataset-fashion-mnist` installs the data. */
export const DEFAULT_DATA_DIR = '/usr/share/datasets/fashion-mnist'

/** The ten Fashion-MNIST classes, in label order. */
export const CLASS_NAMES = [
  'T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot',
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

/** Loads one split of Fashion-MNIST from `dir` (gzip-compressed or plain IDX files). */
export function loadFashionMnist(dir: string, split: 'train' | 'test'): ImageSet {
  const [imageFile, labelFile] = FILES[split]
  const images = readIdxFile(locate(dir, imageFile))
  const labels = readIdxFile(locate(dir, labelFile))
  if (images.dims.length !== 3 || labels.dims.length !== 1) {
    throw new CliError(`${dir}: ${split} images must be [count, rows, cols] and labels [count]`)
  }
  if (images.dims[0] !== labels.dims[0]) {
    throw new CliError(`${dir}: ${images.dims[0]} ${split} images but ${labels.dims[0]} labels`)
  }
  const bad = labels.data.findIndex((y) => y >= CLASS_NAMES.length)
  if (bad >= 0) throw new CliError(`${dir}: ${split} label ${labels.data[bad]} at index ${bad} is not a class in [0, 10)`)
  return { images: images.data, labels: labels.data, count: images.dims[0]!, pixels: images.dims[1]! * images.dims[2]! }
}
