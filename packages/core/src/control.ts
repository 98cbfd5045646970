import type { CustomGradient, LoopBody, TensorOps } from './ops.js'

/**
 * `f(x).value`, differentiated by `f(x).gradient` on backends with `customGradient`, and computed
 * directly (through its ops) elsewhere: the reference and ONNX graphs have no autodiff to steer.
 */
export function withGradient<T>(ops: TensorOps<T>, x: T, f: (x: T, save: (tensors: readonly T[]) => void) => CustomGradient<T>): T {
  if (ops.customGradient !== undefined) return ops.customGradient(x, f)
  return f(x, () => {}).value
}

/**
 * `x`, named `name` (snake_case, as the rule's formula calls it) on backends that write code
 * (`TensorOps.label`); elsewhere `x` as it is.
 */
export function named<T>(ops: TensorOps<T>, x: T, name: string): T {
  ops.label?.(x, name)
  return x
}

/**
 * `count` iterations of `body` from `state`: the backend's `loop` where it has one, else unrolled.
 * `k` is the iteration's index as a host number, `index` the same as a float scalar tensor; a body
 * that needs the index as a value uses `index`, so that a backend can write the loop once (a
 * PyTorch `for` loop) rather than once per iteration.
 */
export function repeat<T>(ops: TensorOps<T>, count: number, state: readonly T[], body: LoopBody<T>): readonly T[] {
  if (ops.loop !== undefined) return ops.loop(count, state, body)
  let current = state
  for (let k = 0; k < count; k++) current = body(k, current, ops.constant([k], []))
  return current
}
