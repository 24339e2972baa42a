/**
 * Solutions of chapter 1's exercises; the notebook shows each region folded.
 *
 * @module
 */
import { tf } from "../../mod.ts";

// #region 1.1
export function normalizeRows(x: tf.Tensor2D): tf.Tensor {
  return tf.tidy(() => x.div(x.sum(1, true)));
}
// #endregion

// #region 1.2
export function sumOfSquaresPlusOne(x: tf.Tensor): tf.Tensor {
  return tf.tidy(() => x.square().add(1).sum());
}
// #endregion

// #region 1.3
export function timesTable(n: number, m: number): tf.Tensor {
  return tf.tidy(() => tf.range(1, n + 1).reshape([n, 1]).mul(tf.range(1, m + 1)));
}
// #endregion
