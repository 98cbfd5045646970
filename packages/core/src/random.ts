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
