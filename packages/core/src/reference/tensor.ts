/** A dense row-major float64 array with a shape: the value type of the reference backend. */
export interface RefTensor {
  /** The values, row-major, in float64 whatever the dtype. */
  readonly data: Float64Array
  /** The shape; `[]` for a scalar. */
  readonly shape: readonly number[]
  /** `'int32'` for integer tensors (labels), `'float32'` otherwise; the values are float64 either way. */
  readonly dtype: 'float32' | 'int32'
}

/** Number of elements of a shape. */
export function sizeOf(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1)
}

/** Row-major strides of a shape. */
export function stridesOf(shape: readonly number[]): number[] {
  const strides = new Array<number>(shape.length)
  let s = 1
  for (let d = shape.length - 1; d >= 0; d--) {
    strides[d] = s
    s *= shape[d]!
  }
  return strides
}

/** Wraps data and shape into a {@link RefTensor}; the data is not copied. */
export function refTensor(data: Float64Array, shape: readonly number[], dtype: 'float32' | 'int32' = 'float32'): RefTensor {
  return { data, shape: [...shape], dtype }
}
