/**
 * Solutions of chapter 4's exercises; the notebook shows each region folded.
 *
 * @module
 */
import { assignSub, GradientTape, tf } from "../../mod.ts";

// #region 4.1
export const nullGradientWays = {
  integerSource: () => tf.tensor1d([1, 2, 3], "int32"),
  throughCast: (x: tf.Tensor) => x.toInt().toFloat().sum(),
  throughArgMax: (x: tf.Tensor) => x.argMax().toFloat(),
  replacedVariable: (w: tf.Variable) => w.sub(0.1),
};
// #endregion

// #region 4.2
export function gradientStep(w: tf.Variable, xs: tf.Tensor, ys: tf.Tensor, lr: number): number {
  const tape = new GradientTape();
  const loss = tape.record(() => xs.mul(w).sub(ys).square().mean());
  const grad = tape.gradient(loss, w)!;
  tf.tidy(() => assignSub(w, grad.mul(lr)));
  const value = loss.dataSync()[0];
  tf.dispose([loss, grad]);
  return value;
}
// #endregion

// #region 4.3
export function secondDerivative(f: (x: tf.Tensor) => tf.Tensor, x: tf.Tensor): tf.Tensor | null {
  const outer = new GradientTape();
  outer.watch(x);
  const dfdx = outer.record(() => {
    const inner = new GradientTape();
    inner.watch(x);
    const y = inner.record(() => f(x));
    return inner.gradient(y, x)!;
  });
  const d2 = outer.gradient(dfdx, x);
  dfdx.dispose();
  return d2;
}
// #endregion
