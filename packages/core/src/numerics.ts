/**
 * The floor that keeps a vanishing quantity positive, `1e-37`: a float32 normal number (the
 * smallest is about 1.18e-38), so that no backend flushes it to zero, as WebAssembly and GPU
 * kernels do with subnormals. A reduction's normalizer, a focal miss `1 − p_y`, a sample's weight
 * in a search direction and a multi-label search term are held at it or above.
 */
export const FLOAT32_FLOOR = 1e-37

/** What every backend says of an empty batch: the mean over no samples is undefined. */
export const EMPTY_BATCH = 'the batch is empty (N = 0): a mean over no samples is undefined'

/**
 * The lowest float32, `−3.4028234663852886e38`: a finite stand-in for `−∞` (a masked class,
 * docs/spec.md#12-masked-classes) where a product with 0 must be 0, as `0·(−∞)` is NaN. A
 * log-probability is held at it or above before it is weighted by its target, and a softplus at
 * `−FLOAT32_LOWEST` or below.
 */
export const FLOAT32_LOWEST = -3.4028234663852886e38
