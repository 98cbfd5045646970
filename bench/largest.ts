import type { TensorOps } from '@logit-perturb/core/backend'

/**
 * Wraps a backend's ops so that every tensor an op returns is measured: `largest()` is the element
 * count of the largest intermediate since the last `reset()`. The memory measure of backends that
 * have no allocator statistics (the reference, a symbolic graph).
 */
export function trackLargest<T>(
  ops: TensorOps<T>,
  elements: (x: T) => number,
): { ops: TensorOps<T>; largest: () => number; reset: () => void } {
  let largest = 0
  const wrapped = new Proxy(ops, {
    get(target, key, receiver) {
      const value = Reflect.get(target, key, receiver)
      if (typeof value !== 'function' || key === 'shape') return value
      return (...args: unknown[]) => {
        const out = (value as (...a: unknown[]) => unknown).apply(target, args)
        if (out !== null && typeof out === 'object' && !ArrayBuffer.isView(out)) largest = Math.max(largest, elements(out as T))
        return out
      }
    },
  })
  return { ops: wrapped, largest: () => largest, reset: () => (largest = 0) }
}
