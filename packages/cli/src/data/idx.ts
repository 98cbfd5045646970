import { readFileSync } from 'node:fs'
import { gunzipSync } from 'node:zlib'
import { CliError } from '../errors.js'

/** An IDX array of unsigned bytes: its dimensions and data (`dims[0]` items of `Π dims[1..]` bytes). */
export interface IdxArray {
  dims: number[]
  data: Uint8Array
}

/**
 * Parses IDX bytes (LeCun's MNIST format: two zero bytes, a type code, the number of dimensions,
 * one big-endian uint32 per dimension, then the data). Only unsigned bytes (type 0x08) are used by
 * (Fashion-)MNIST. Throws a `CliError` naming `source` for a wrong magic number, a wrong type, no
 * dimensions, or a length that does not match the dimensions.
 */
export function parseIdx(bytes: Uint8Array, source: string): IdxArray {
  if (bytes.length < 4) throw new CliError(`${source}: ${bytes.length} bytes is too short for an IDX file`)
  if (bytes[0] !== 0 || bytes[1] !== 0) {
    throw new CliError(`${source}: not an IDX file (magic number ${hex(bytes.subarray(0, 4))}, expected 0x0000080N)`)
  }
  if (bytes[2] !== 0x08) throw new CliError(`${source}: IDX type 0x${bytes[2]!.toString(16)} is not unsigned bytes (0x08)`)
  const rank = bytes[3]!
  const headerLength = 4 + 4 * rank
  if (rank === 0) throw new CliError(`${source}: IDX header declares 0 dimensions (corrupt)`)
  if (bytes.length < headerLength)
    throw new CliError(`${source}: IDX header of rank ${rank} is truncated (${bytes.length} of ${headerLength} bytes)`)
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  const dims = Array.from({ length: rank }, (_, d) => view.getUint32(4 + 4 * d, false))
  const expected = dims.reduce((a, b) => a * b, 1)
  const actual = bytes.length - headerLength
  if (actual !== expected) {
    throw new CliError(
      `${source}: dimensions [${dims.join(', ')}] need ${expected} data bytes, the file has ${actual} (truncated or corrupt)`,
    )
  }
  return { dims, data: bytes.subarray(headerLength) }
}

function hex(bytes: Uint8Array): string {
  return `0x${Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('')}`
}

/** Reads an IDX file, gunzipping it when its name ends in `.gz`. */
export function readIdxFile(path: string): IdxArray {
  let raw: Uint8Array
  try {
    raw = readFileSync(path)
  } catch (e) {
    throw new CliError(`cannot read ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`)
  }
  if (path.endsWith('.gz')) {
    try {
      raw = gunzipSync(raw)
    } catch {
      throw new CliError(`${path}: not a valid gzip file (truncated or corrupt)`)
    }
  }
  return parseIdx(raw, path)
}
