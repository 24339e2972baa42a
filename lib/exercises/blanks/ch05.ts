// deno-lint-ignore-file no-unused-vars
/**
 * The blank versions of chapter 5's exercises, as the notebook opens them.
 *
 * @module
 */
import { tf } from "../../mod.ts";

// #region 5.1
export function denseParams(inputs: number, units: number): number | undefined {
  // TODO: how many parameters does tf.layers.dense({ units }) have on `inputs` features?
  return undefined;
}
// #endregion

// #region 5.2
export function convOutputSide(side: number, kernel: number, pool: number): number | undefined {
  // TODO: the side after a kernel×kernel convolution (no padding) and a pool×pool max pooling.
  return undefined;
}
// #endregion

// #region 5.3
export async function trainAndDispose(x: tf.Tensor, y: tf.Tensor): Promise<void> {
  const model = tf.sequential({ layers: [tf.layers.dense({ units: 2, inputShape: [3] })] });
  model.compile({ optimizer: tf.train.adam(0.01), loss: "meanSquaredError" });
  await model.fit(x, y, { epochs: 1, batchSize: 8, verbose: 0 });
  model.dispose(); // TODO: something outlives the model: free it too.
}
// #endregion
