// deno-lint-ignore-file no-unused-vars
/**
 * The blank versions of chapter 4's exercises, as the notebook opens them.
 *
 * @module
 */
import { tf } from "../../mod.ts";

// #region 4.1
export const nullGradientWays = {
  // TODO: each entry must make tape.gradient return null, in its own way.
  integerSource: () => tf.tensor1d([1, 2, 3]), // a source the tape cannot watch
  throughCast: (x: tf.Tensor) => x.mul(2).sum(), // a loss of x through a cast
  throughArgMax: (x: tf.Tensor) => x.square().sum(), // a loss of x through argMax or a comparison
  replacedVariable: (w: tf.Variable) => w, // w replaced by a plain tensor
};
// #endregion

// #region 4.2
export function gradientStep(
  w: tf.Variable,
  xs: tf.Tensor,
  ys: tf.Tensor,
  lr: number,
): number | undefined {
  // TODO: record loss = mean((xs·w − ys)²) on a GradientTape, take its gradient with respect to w,
  // update w in place (assignSub), dispose what you made, return the loss as a number.
  return undefined;
}
// #endregion

// #region 4.3
export function secondDerivative(
  f: (x: tf.Tensor) => tf.Tensor,
  x: tf.Tensor,
): tf.Tensor | null | undefined {
  // TODO: d²f/dx² at every entry of x, with two nested GradientTapes.
  return undefined;
}
// #endregion
