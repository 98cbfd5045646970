import { check } from './errors.js'
import type { TensorOps } from './ops.js'

/**
 * A small seeded PRNG (mulberry32) giving uniform floats in [0, 1): reproducible random batches
 * for tests, examples and command-line tools, with no dependency.
 */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/** Fisher–Yates shuffle of `items` in place, driven by `rand`; returns `items`. */
export function shuffleInPlace<T>(items: T[], rand: () => number): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1))
    const swap = items[i]!
    items[i] = items[j]!
    items[j] = swap
  }
  return items
}

/**
 * `count` samples of the normal distribution `N(0, stddev²)` from the uniform stream `rand`
 * (Box–Muller: `√(−2 ln u₁)·cos(2π u₂)` and its sine pair), float64. `u₁` is taken in `(0, 1]`, so
 * the logarithm is finite.
 */
export function normalSamples(count: number, stddev: number, rand: () => number): Float64Array {
  const out = new Float64Array(count)
  for (let k = 0; k < count; k += 2) {
    const radius = Math.sqrt(-2 * Math.log(1 - rand())) * stddev
    const angle = 2 * Math.PI * rand()
    out[k] = radius * Math.cos(angle)
    if (k + 1 < count) out[k + 1] = radius * Math.sin(angle)
  }
  return out
}

/**
 * Samples of `N(0, stddev²)` with the shape of `like`, for a rule's draw on a training call (GCL's
 * noise). Seeded (`seed`, the call's `ctx.seed`): the reference's numbers on every backend, mulberry32
 * and Box–Muller on the host, made a constant, so the same seed gives the same draw on the
 * reference, tfjs and a graph (float32-rounded there); it needs a static shape. Unseeded: the
 * backend's own generator (`TensorOps.randomNormal`). Throws `MISSING_CONTEXT` naming `field` where
 * neither is possible (a symbolic graph without a seed, or of a batch size known only at run time).
 */
export function drawNormal<T>(ops: TensorOps<T>, like: T, stddev: number, seed: number | undefined, field: string): T {
  const shape = ops.shape(like)
  if (seed !== undefined && shape.every((d) => d >= 0)) {
    const size = shape.reduce((a, b) => a * b, 1)
    return ops.constant(normalSamples(size, stddev, mulberry32(seed)), shape)
  }
  check(
    ops.randomNormal !== undefined,
    'MISSING_CONTEXT',
    `the ${ops.name} backend draws no random values${seed === undefined ? '' : ' for a batch of a size known at run time'}: pass ${field} in the context`,
    field,
  )
  return ops.randomNormal(like, stddev, seed)
}
