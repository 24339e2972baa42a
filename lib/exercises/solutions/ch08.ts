/**
 * Solutions of chapter 8's exercises; the notebook shows each region folded.
 *
 * @module
 */
import { type NormalizationStats, normalizationTransform, tf } from "../../mod.ts";

// #region 8.1
export function corruptBatch(images: Uint8Array, labels: Uint8Array): void {
  for (const i of [3, 40]) images.fill(0, i * 784, (i + 1) * 784); // two blank images
  labels[5] = 10; // a label outside the domain 0..9
}
// #endregion

// #region 8.2
export function replicaLoss(perExampleLoss: tf.Tensor, globalBatchSize: number): tf.Tensor {
  return perExampleLoss.sum().div(globalBatchSize); // tf.nn.compute_average_loss
}
// #endregion

// #region 8.3
export function serveNormalize(stats: NormalizationStats, image: Uint8Array): Float32Array {
  return normalizationTransform(stats)(image);
}
// #endregion
