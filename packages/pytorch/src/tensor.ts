import type { PythonProgram } from './program.js'

/**
 * The value type of the PyTorch backend: a Python expression of the module under construction (a
 * variable, a cast buffer, or a number literal), with its static shape (`-1` for the batch
 * dimension, known when the module runs) and element type. It holds no numbers; running the module
 * gives them.
 */
export interface PyTensor {
  /** The program the expression belongs to; ops refuse operands from another one. */
  readonly program: PythonProgram
  /** The Python expression: a variable name, or a number literal for a scalar constant. */
  readonly expr: string
  /** The static shape; `-1` for a size known only at run time. */
  readonly shape: readonly number[]
  /** `'float32'`: the logits' floating dtype (float64 or float32 at run time); `'int32'`: `torch.long`. */
  readonly dtype: 'float32' | 'int32'
  /** For a scalar constant written as a literal: its value. */
  readonly literal?: number
  /** For a 0/1 mask made by a comparison: the boolean expression, which `where` reads directly. */
  readonly mask?: string
}
