// deno-lint-ignore-file no-unused-vars require-await
/**
 * The blank versions of chapter 7's exercises, as the notebook opens them.
 *
 * @module
 */
import { tf } from "../../mod.ts";

// #region 7.1
export function weightBytes(model: tf.LayersModel): number | undefined {
  // TODO: the size of weights.bin in bytes, computed from the model.
  return undefined;
}
// #endregion

// #region 7.2
export function precisionRecall(
  confusion: number[][],
  k: number,
): { precision: number; recall: number } | undefined {
  // TODO: precision and recall of class k (rows: true class, columns: prediction).
  return undefined;
}
// #endregion

// #region 7.3
export async function roundTrip(
  model: tf.LayersModel,
  dir: string,
): Promise<tf.LayersModel | undefined> {
  // TODO: save the model into dir and return the model loaded back from it.
  return undefined;
}
// #endregion
