// deno-lint-ignore-file no-unused-vars
/**
 * The blank versions of chapter 8's exercises, as the notebook opens them.
 *
 * @module
 */
import { type NormalizationStats, perRequestNormalization, tf } from "../../mod.ts";

// #region 8.1
export function corruptBatch(images: Uint8Array, labels: Uint8Array): void {
  // TODO: change the batch in place so that validate() reports exactly two anomalies.
}
// #endregion

// #region 8.2
export function replicaLoss(perExampleLoss: tf.Tensor, globalBatchSize: number): tf.Tensor {
  // TODO: this per-replica mean is what a single device would do; on 2 replicas it is wrong.
  return perExampleLoss.mean();
}
// #endregion

// #region 8.3
export function serveNormalize(stats: NormalizationStats, image: Uint8Array): Float32Array {
  // TODO: this normalises the request by its own statistics; normalise it as training did.
  return perRequestNormalization(image);
}
// #endregion
