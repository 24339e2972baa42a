/**
 * `hessianVectorCheck`: the nested-tape Hessian-vector product ("Advanced
 * automatic differentiation": Hessian-vector products) against central
 * differences of the gradient along the vector.
 */
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../lib/backend.ts";
import { GradientCheckError, hessianVectorCheck } from "../lib/gradient_check.ts";
import { stopGradient } from "../lib/tape.ts";

await initBackend();

Deno.test("hessianVectorCheck passes on a two-layer tanh network's loss (TF guide's Hessian-vector product)", () => {
  const x = tf.randomNormal([4, 3], 0, 1, "float32", 21);
  const w1 = tf.randomNormal([3, 5], 0, 0.5, "float32", 22);
  const w2 = tf.randomNormal([5, 2], 0, 0.5, "float32", 23);
  const labels = tf.tensor2d([[1, 0], [0, 1], [1, 0], [0, 1]]);
  const before = tf.memory().numTensors;
  const r = hessianVectorCheck(
    (w1, w2) => tf.losses.softmaxCrossEntropy(labels, x.matMul(w1).tanh().matMul(w2)),
    [w1, w2],
  );
  assert.equal(tf.memory().numTensors, before, "no leak");
  assert.ok(r.ok, r.toString());
  assert.equal(r.checked, 15 + 10);
  assert.match(r.toString(), /hessian-vector check passed: 25 entries/);
  // the analytic values are real second derivatives, not zeros
  assert.ok(r.entries.some((e) => Math.abs(e.analytic) > 1e-2));
  tf.dispose([x, w1, w2, labels]);
});

Deno.test("hessianVectorCheck with a given vector: f = Σx³ gives H·v = 6x·v exactly", () => {
  const x = tf.tensor1d([1, -2, 0.5]);
  const v = tf.tensor1d([1, 1, -2]);
  const r = hessianVectorCheck((x) => x.pow(tf.scalar(3)).sum(), x, v);
  assert.ok(r.ok, r.toString());
  assert.deepEqual(r.entries.map((e) => Math.round(e.analytic * 1e4) / 1e4), [6, -12, -6]);
  tf.dispose([x, v]);
});

Deno.test("hessianVectorCheck catches a backward pass that cannot be differentiated again (a gradient cut by stopGradient)", () => {
  // value x³ and the right first derivative 3x², but computed from stopGradient(x):
  // the nested tapes see H·v = 0 where the finite differences of the gradient give 6x·v
  const cut = tf.customGrad(
    ((x: tf.Tensor, save: tf.GradSaveFunc) => {
      save([x]);
      return {
        value: x.pow(tf.scalar(3)),
        gradFunc: (dy: tf.Tensor, [s]: tf.Tensor[]) => dy.mul(stopGradient(s).square().mul(3)),
      };
    }) as unknown as Parameters<typeof tf.customGrad>[0],
  );
  const x = tf.tensor1d([1.5, -2]);
  const before = tf.memory().numTensors;
  const r = hessianVectorCheck((x) => (cut(x) as tf.Tensor).sum(), x);
  assert.equal(tf.memory().numTensors, before, "no leak");
  assert.ok(!r.ok, r.toString());
  assert.match(r.toString(), /FAILED/);
  assert.throws(() => hessianVectorCheck((x) => x.sum(), x, [x, x]), GradientCheckError);
  const ints = tf.tensor1d([1], "int32");
  assert.throws(() => hessianVectorCheck((x) => x.sum(), ints), GradientCheckError);
  tf.dispose([x, ints]);
});
