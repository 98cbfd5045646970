import type { GraphBuilder } from './graph.js'

/**
 * The value type of the symbolic backend: a named value of an ONNX graph under construction, with
 * its static shape (`-1` for a size known only at run time, the batch dimension `N` of an exported
 * loss) and its element type. It holds no numbers; running the graph gives them.
 */
export interface SymbolicTensor {
  /** The graph the value belongs to; ops refuse operands from another graph. */
  readonly graph: GraphBuilder
  /** The value's name in the graph. */
  readonly name: string
  /** The static shape; `-1` for a size known only at run time. */
  readonly shape: readonly number[]
  /** The element type as `TensorOps` sees it (int64 inputs are cast to int32). */
  readonly dtype: 'float32' | 'int32'
  /**
   * For a 0/1 mask made by a comparison: the boolean value it was cast from, so that `where` on the
   * mask reads the boolean directly instead of casting the float back.
   */
  readonly mask?: string
}
