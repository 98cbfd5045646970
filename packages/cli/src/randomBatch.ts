import { mulberry32 } from '@logit-perturb/core'

/**
 * A seeded random batch for checks and explanations: labels drawn in proportion to `counts` (or
 * uniformly), logits `scale·(noise + 1.5·e_y)`: a model that is right more often than not, on a
 * long-tailed label distribution. Every class gets at least one sample when `n ≥ C`.
 */
export function randomBatch(
  n: number,
  c: number,
  seed: number,
  scale = 1,
  counts?: readonly number[],
): { logits: number[][]; labels: number[] } {
  const rand = mulberry32(seed)
  const weights = counts?.map((v) => Math.max(v, 1)) ?? new Array<number>(c).fill(1)
  const total = weights.reduce((a, b) => a + b, 0)
  const labels = Array.from({ length: n }, (_, i) => {
    if (i < c && n >= c) return i
    let r = rand() * total
    let y = 0
    while (y < c - 1 && r >= weights[y]!) r -= weights[y++]!
    return y
  })
  const gauss = () => Math.sqrt(-2 * Math.log(rand() + 1e-12)) * Math.cos(2 * Math.PI * rand())
  const logits = labels.map((y) => Array.from({ length: c }, (_, j) => Math.fround(scale * (gauss() + (j === y ? 1.5 : 0)))))
  return { logits, labels }
}
