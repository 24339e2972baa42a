// deno-lint-ignore-file no-unused-vars
/**
 * The blank versions of chapter 6's exercises, as the notebook opens them.
 *
 * @module
 */
import { tf } from "../../mod.ts";

// #region 6.1
export function twoInputsTwoOutputs(): tf.LayersModel | undefined {
  // TODO: two inputs of 8 features, one Dense layer applied to both (shared weights),
  // their outputs concatenated, and two output heads.
  return undefined;
}
// #endregion

// #region 6.2
export function featureExtractor(
  model: tf.LayersModel,
  layerName: string,
): tf.LayersModel | undefined {
  // TODO: a model from model's input to the output of its layer `layerName`.
  return undefined;
}
// #endregion

// #region 6.3
export function bothWays(x: tf.Tensor): { training: tf.Tensor; inference: tf.Tensor } | undefined {
  // TODO: one tf.layers.dropout({ rate: 0.5 }) applied to x in training mode and in inference mode.
  return undefined;
}
// #endregion
