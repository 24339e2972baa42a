/**
 * Solutions of chapter 3's exercises; the notebook shows each region folded.
 *
 * @module
 */
import { tf, tfFunction } from "../../mod.ts";

// #region 3.1
export function makeRetracingPredict(w: tf.Tensor) {
  return tfFunction((x: tf.Tensor) => x.matMul(w).softmax());
}
// #endregion

// #region 3.2
export function makeSteadyPredict(w: tf.Tensor) {
  return tfFunction((x: tf.Tensor) => x.matMul(w).softmax(), {
    inputSignature: [{ shape: [null, 4] }],
  });
}
// #endregion

// #region 3.3
export function makeAddBias(bias: tf.Variable) {
  return tfFunction((x: tf.Tensor) => x.add(bias));
}
// #endregion
