import { mulberry32 } from '@logit-perturb/core'

/** A standard normal draw (Box–Muller); `1 − r` keeps the logarithm's argument in `(0, 1]`. */
function gaussian(rand: () => number): number {
  return Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand())
}

/**
 * A long-tailed 2-D data set: one Gaussian blob per class, `counts[c]` points around `centers[c]`
 * with standard deviation `spread`, in class order.
 */
export function gaussianBlobs(
  counts: readonly number[],
  centers: readonly (readonly [number, number])[],
  spread: number,
  seed: number,
): { points: number[][]; labels: number[] } {
  const rand = mulberry32(seed)
  const points: number[][] = []
  const labels: number[] = []
  counts.forEach((n, c) => {
    for (let i = 0; i < n; i++) {
      points.push([centers[c]![0] + spread * gaussian(rand), centers[c]![1] + spread * gaussian(rand)])
      labels.push(c)
    }
  })
  return { points, labels }
}

/** `c` points evenly on a circle of `radius` around the origin, the first on the x axis. */
export function circleCenters(c: number, radius: number): [number, number][] {
  return Array.from({ length: c }, (_, k) => [radius * Math.cos((2 * Math.PI * k) / c), radius * Math.sin((2 * Math.PI * k) / c)])
}
