import type { TensorOps } from './ops.js'

/**
 * The batch-independent tensors of one loss (LA's shift `τ·log π`, LDAM's margins and DRW weights,
 * LPL's bounds, `[C, C]` zero matrices), made on first use and reused by every later call, so that
 * a training step does not upload the same numbers again. A rule asks for one by name and shape;
 * the data must depend on nothing but the spec and that shape.
 */
export interface Constants<T> {
  /** The tensor named `name` with `shape`, made from `data()` the first time it is asked for. */
  get(name: string, shape: readonly number[], data: () => ArrayLike<number>): T
}

/**
 * `constants` seen under `prefix`: what a rule that wraps another (LPL around its base) hands the
 * rule it wraps, so that their names cannot meet.
 */
export function prefixedConstants<T>(constants: Constants<T>, prefix: string): Constants<T> {
  return { get: (name, shape, data) => constants.get(`${prefix}.${name}`, shape, data) }
}

/** A loss's {@link Constants}, with the means to free them. */
export interface ConstantPool<T> extends Constants<T> {
  /** Frees every tensor of the pool (backends with manual memory) and empties it. */
  dispose(): void
}

/**
 * A pool of constants on `ops`. Backends with scoped memory (tfjs's `tidy`) implement
 * `ops.keep` so a constant made inside one call's scope outlives it, and `ops.release` to free it
 * when the loss is disposed. One entry per name and shape: a rule whose class count changes from
 * call to call gets one tensor per count.
 */
export function constantPool<T>(ops: TensorOps<T>): ConstantPool<T> {
  const made = new Map<string, T>()
  return {
    get(name, shape, data) {
      const key = `${name}[${shape.join(',')}]`
      let tensor = made.get(key)
      if (tensor === undefined) {
        tensor = ops.constant(data(), shape)
        ops.keep?.(tensor)
        made.set(key, tensor)
      }
      return tensor
    },
    dispose() {
      if (ops.release !== undefined)
        made.forEach((t) => {
          ops.release!(t)
        })
      made.clear()
    },
  }
}
