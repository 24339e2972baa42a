/**
 * Solutions of chapter 5's exercises; the notebook shows each region folded.
 *
 * @module
 */
import { tf } from "../../mod.ts";

// #region 5.1
export function denseParams(inputs: number, units: number): number {
  return inputs * units + units;
}
// #endregion

// #region 5.2
export function convOutputSide(side: number, kernel: number, pool: number): number {
  return Math.floor((side - kernel + 1) / pool);
}
// #endregion

// #region 5.3
export async function trainAndDispose(x: tf.Tensor, y: tf.Tensor): Promise<void> {
  const model = tf.sequential({ layers: [tf.layers.dense({ units: 2, inputShape: [3] })] });
  const optimizer = tf.train.adam(0.01);
  model.compile({ optimizer, loss: "meanSquaredError" });
  await model.fit(x, y, { epochs: 1, batchSize: 8, verbose: 0 });
  model.dispose();
  optimizer.dispose();
}
// #endregion
