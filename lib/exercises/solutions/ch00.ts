/**
 * Solutions of chapter 0's exercises; the notebook shows each region folded.
 *
 * @module
 */
import { tf } from "../../mod.ts";

// #region 0.1
export function buildClassifier(): tf.LayersModel {
  return tf.sequential({
    layers: [
      tf.layers.conv2d({ inputShape: [28, 28, 1], filters: 8, kernelSize: 3, activation: "relu" }),
      tf.layers.maxPooling2d({ poolSize: 2 }),
      tf.layers.flatten(),
      tf.layers.dense({ units: 10, activation: "softmax" }),
    ],
  });
}
// #endregion

// #region 0.2
export function topPrediction(probabilities: number[]): { digit: number; confidence: number } {
  const digit = probabilities.indexOf(Math.max(...probabilities));
  return { digit, confidence: probabilities[digit] };
}
// #endregion
