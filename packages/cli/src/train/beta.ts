/** A standard normal draw `√(−2 ln u₁)·cos(2π u₂)` (Box–Muller) from a uniform source. */
function normal(rand: () => number): number {
  const u = 1 - rand() // (0, 1]: the logarithm stays finite
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rand())
}

/**
 * A Gamma(`shape`, 1) draw, by Marsaglia and Tsang's method (2000): with `d = shape − 1/3`,
 * `c = 1/√(9d)`, draw `z ~ N(0, 1)`, `v = (1 + c z)³` until `ln u < z²/2 + d − d v + d ln v`, and
 * return `d v`. For `shape < 1`, `Gamma(a) = Gamma(a + 1)·u^(1/a)`.
 */
export function gammaSample(shape: number, rand: () => number): number {
  if (!(shape > 0)) throw new Error(`the Gamma shape must be positive, got ${shape}`)
  if (shape < 1) return gammaSample(shape + 1, rand) * (1 - rand()) ** (1 / shape)
  const d = shape - 1 / 3
  const c = 1 / Math.sqrt(9 * d)
  for (;;) {
    const z = normal(rand)
    const v = (1 + c * z) ** 3
    if (v <= 0) continue
    const u = 1 - rand()
    if (Math.log(u) < (z * z) / 2 + d - d * v + d * Math.log(v)) return d * v
  }
}

/** A Beta(`a`, `b`) draw: `X / (X + Y)` with `X ~ Gamma(a)`, `Y ~ Gamma(b)`; seeded through `rand`. */
export function betaSample(a: number, b: number, rand: () => number): number {
  const x = gammaSample(a, rand)
  const y = gammaSample(b, rand)
  return x / (x + y)
}
