import type { AuditBatch } from './types.js'

/**
 * The audit's finite differences, shared by both sides: central differences of every entry (a
 * gradient where a side has none of its own) and along the probe directions (whether a side's
 * gradient is the derivative of its own loss).
 */

/** Central differences `(f(x + h·e_k) − f(x − h·e_k)) / 2h` of every entry of `x`. */
export function centralDifferences(f: (x: Float64Array) => number, x: Float64Array, h: number): number[] {
  return Array.from(x, (_, k) => {
    const plus = Float64Array.from(x)
    const minus = Float64Array.from(x)
    plus[k]! += h
    minus[k]! -= h
    return (f(plus) - f(minus)) / (2 * h)
  })
}

/** `(f(u + h·v) − f(u − h·v)) / 2h` for each direction `v` of the probe. */
export function directionalDifferences(f: (x: Float64Array) => number, u: Float64Array, probe: AuditBatch['probe']): number[] {
  return probe.directions.map((v) => {
    const plus = Float64Array.from(u, (x, k) => x + probe.h * v[k]!)
    const minus = Float64Array.from(u, (x, k) => x - probe.h * v[k]!)
    return (f(plus) - f(minus)) / (2 * probe.h)
  })
}
