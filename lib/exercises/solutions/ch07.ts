/**
 * Solutions of chapter 7's exercises; the notebook shows each region folded.
 *
 * @module
 */
import { loadModel, saveModel, tf } from "../../mod.ts";

// #region 7.1
export function weightBytes(model: tf.LayersModel): number {
  return model.countParams() * 4; // float32: 4 bytes per parameter
}
// #endregion

// #region 7.2
export function precisionRecall(
  confusion: number[][],
  k: number,
): { precision: number; recall: number } {
  const column = confusion.reduce((s, row) => s + row[k], 0);
  const row = confusion[k].reduce((s, n) => s + n, 0);
  return { precision: confusion[k][k] / column, recall: confusion[k][k] / row };
}
// #endregion

// #region 7.3
export async function roundTrip(model: tf.LayersModel, dir: string): Promise<tf.LayersModel> {
  await saveModel(model, dir);
  return await loadModel(dir);
}
// #endregion
