// deno-lint-ignore-file no-unused-vars
/**
 * The blank versions of chapter 3's exercises, as the notebook opens them.
 *
 * @module
 */
import { tf, tfFunction } from "../../mod.ts";

// #region 3.1
export function makeRetracingPredict(w: tf.Tensor) {
  // TODO: a traced softmax(x·w) that traces once per batch size (1, 32, 100, 7: four traces).
  return undefined;
}
// #endregion

// #region 3.2
export function makeSteadyPredict(w: tf.Tensor) {
  // TODO: the same function, traced once for every batch size (x has 4 features).
  return tfFunction((x: tf.Tensor) => x.matMul(w).softmax());
}
// #endregion

// #region 3.3
export function makeAddBias(bias: tf.Variable) {
  // TODO: this traced x + bias ignores bias.assign(...); make it see the new value.
  const frozen = bias.clone();
  return tfFunction((x: tf.Tensor) => x.add(frozen));
}
// #endregion
