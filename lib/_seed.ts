/**
 * Output gradients for Jacobians: one backward pass per target element (per
 * element of each example, for a batch Jacobian) is seeded with 1 at that
 * element and 0 elsewhere. Built directly, because tfjs's `oneHot` refuses a
 * depth of 1, which a scalar target (or a target with one column) needs.
 *
 * @example
 * ```ts
 * import { oneHotSeed } from "./_seed.ts";
 * oneHotSeed([2, 3], 2, 3, 1).print(); // [[0, 1, 0], [0, 1, 0]]
 * oneHotSeed([], 1, 1, 0).print(); // 1
 * ```
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";

/**
 * A float32 tensor of `shape` (`rows` × `cols` elements) with 1 at element `i`
 * of each row and 0 elsewhere.
 */
export function oneHotSeed(
  shape: readonly number[],
  rows: number,
  cols: number,
  i: number,
): tf.Tensor {
  const values = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) values[r * cols + i] = 1;
  return tf.tensor(values, [...shape], "float32");
}
