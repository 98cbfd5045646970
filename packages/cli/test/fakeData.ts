import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { gzipSync } from 'node:zlib'
import { mulberry32 } from '@logit-perturb/core'

/** IDX bytes of unsigned bytes with the given dimensions. */
export function idxBytes(dims: number[], data: Uint8Array): Uint8Array {
  const header = new Uint8Array(4 + 4 * dims.length)
  header[2] = 0x08
  header[3] = dims.length
  const view = new DataView(header.buffer)
  dims.forEach((d, k) => {
    view.setUint32(4 + 4 * k, d, false)
  })
  const out = new Uint8Array(header.length + data.length)
  out.set(header)
  out.set(data, header.length)
  return out
}

/**
 * A Fashion-MNIST-shaped data folder (gzip IDX files, 28×28 images, 10 classes) whose classes are
 * easy to tell apart: class c lights a band of rows of its own, with noise.
 */
export function writeFakeFashionMnist(perClassTrain: number, perClassTest: number, seed = 3): string {
  const dir = mkdtempSync(join(tmpdir(), 'fake-fmnist-'))
  mkdirSync(dir, { recursive: true })
  const rand = mulberry32(seed)
  const make = (perClass: number) => {
    const n = perClass * 10
    const images = new Uint8Array(n * 784)
    const labels = new Uint8Array(n)
    for (let i = 0; i < n; i++) {
      const c = i % 10
      labels[i] = c
      for (let p = 0; p < 784; p++) {
        const row = Math.floor(p / 28)
        const lit = row >= 2 * c + 4 && row < 2 * c + 7
        images[i * 784 + p] = Math.min(255, Math.floor((lit ? 180 : 20) + 60 * rand()))
      }
    }
    return { images, labels, n }
  }
  for (const [prefix, perClass] of [
    ['train', perClassTrain],
    ['t10k', perClassTest],
  ] as const) {
    const { images, labels, n } = make(perClass)
    writeFileSync(join(dir, `${prefix}-images-idx3-ubyte.gz`), gzipSync(idxBytes([n, 28, 28], images)))
    writeFileSync(join(dir, `${prefix}-labels-idx1-ubyte.gz`), gzipSync(idxBytes([n], labels)))
  }
  return dir
}
