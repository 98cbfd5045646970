/**
 * Rounds half to even, as Python's `round` and ONNX's `Round` do (`round(2.5) = 2`,
 * `round(3.5) = 4`): host math that rules and backends share.
 */
export function roundHalfEven(v: number): number {
  const r = Math.round(v)
  return Math.abs(v % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r
}
