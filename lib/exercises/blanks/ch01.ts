// deno-lint-ignore-file no-unused-vars
/**
 * The blank versions of chapter 1's exercises, as the notebook opens them.
 *
 * @module
 */
import { tf } from "../../mod.ts";

// #region 1.1
export function normalizeRows(x: tf.Tensor2D): tf.Tensor | undefined {
  // TODO: divide each row by its sum, so every row sums to 1 (mind the shape of the sum).
  return undefined;
}
// #endregion

// #region 1.2
export function sumOfSquaresPlusOne(x: tf.Tensor): tf.Tensor {
  // TODO: the value is right, but the intermediates leak: fix that.
  return x.square().add(1).sum();
}
// #endregion

// #region 1.3
export function timesTable(n: number, m: number): tf.Tensor | undefined {
  // TODO: the [n, m] tensor whose entry (i, j) is (i + 1)·(j + 1), with no loop: broadcast.
  return undefined;
}
// #endregion
