/**
 * Solutions of chapter 6's exercises; the notebook shows each region folded.
 *
 * @module
 */
import { tf } from "../../mod.ts";

// #region 6.1
export function twoInputsTwoOutputs(): tf.LayersModel {
  const left = tf.input({ shape: [8], name: "left" });
  const right = tf.input({ shape: [8], name: "right" });
  const shared = tf.layers.dense({ units: 4, activation: "relu", name: "shared_encoder" });
  const encodedLeft = shared.apply(left) as tf.SymbolicTensor;
  const encodedRight = shared.apply(right) as tf.SymbolicTensor;
  const merged = tf.layers.concatenate().apply([encodedLeft, encodedRight]) as tf.SymbolicTensor;
  const same = tf.layers.dense({ units: 1, activation: "sigmoid", name: "same" }).apply(
    merged,
  ) as tf.SymbolicTensor;
  const digit = tf.layers.dense({ units: 10, activation: "softmax", name: "digit" }).apply(
    merged,
  ) as tf.SymbolicTensor;
  return tf.model({ inputs: [left, right], outputs: [same, digit] });
}
// #endregion

// #region 6.2
export function featureExtractor(model: tf.LayersModel, layerName: string): tf.LayersModel {
  return tf.model({
    inputs: model.inputs,
    outputs: model.getLayer(layerName).output as tf.SymbolicTensor,
  });
}
// #endregion

// #region 6.3
export function bothWays(x: tf.Tensor): { training: tf.Tensor; inference: tf.Tensor } {
  const dropout = tf.layers.dropout({ rate: 0.5, seed: 1 });
  return {
    training: dropout.apply(x, { training: true }) as tf.Tensor,
    inference: dropout.apply(x, { training: false }) as tf.Tensor,
  };
}
// #endregion
