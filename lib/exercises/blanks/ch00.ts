// deno-lint-ignore-file no-unused-vars
/**
 * The blank versions of chapter 0's exercises, as the notebook opens them.
 *
 * @module
 */
import type { tf } from "../../mod.ts";

// #region 0.1
export function buildClassifier(): tf.LayersModel | undefined {
  // TODO: a CNN: conv2d (inputShape [28, 28, 1]) → maxPooling2d → flatten → dense(10, softmax),
  // at most 200,000 parameters.
  return undefined;
}
// #endregion

// #region 0.2
export function topPrediction(
  probabilities: number[],
): { digit: number; confidence: number } | undefined {
  // TODO: the index of the largest probability, and that probability.
  return undefined;
}
// #endregion
