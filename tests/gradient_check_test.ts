import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../lib/backend.ts";
import { gradientCheck, GradientCheckError } from "../lib/gradient_check.ts";

await initBackend();

Deno.test("gradientCheck passes on smooth functions of several inputs", () => {
  const x = tf.randomNormal([5, 3], 0, 1, "float32", 11);
  const w = tf.randomNormal([3, 2], 0, 1, "float32", 12);
  const b = tf.tensor1d([0.1, -0.2]);
  const before = tf.memory().numTensors;
  const r = gradientCheck((x, w, b) => tf.sigmoid(x.matMul(w).add(b)).square().mean(), [x, w, b]);
  assert.equal(tf.memory().numTensors, before, "no leak");
  assert.ok(r.ok, r.toString());
  assert.equal(r.checked, 15 + 6 + 2);
  assert.ok(r.maxRelError < 1e-2, String(r.maxRelError));
  assert.match(r.toString(), /passed: 23 entries/);
  // the analytic values are real derivatives: d/db of mean(sigmoid(.)²) is not zero
  assert.ok(r.entries.filter((e) => e.input === 2).every((e) => Math.abs(e.analytic) > 1e-4));

  const single = gradientCheck((v) => v.exp().mul(v.cos()), tf.tensor1d([0.3, -1.2, 2]));
  assert.ok(single.ok, single.toString());
  tf.dispose([x, w, b]);
});

Deno.test("gradientCheck catches a wrong gradient", () => {
  // a customGrad whose backward pass is deliberately wrong (2x instead of 3x²)
  const wrongCube = tf.customGrad(
    ((x: tf.Tensor, save: tf.GradSaveFunc) => {
      save([x]);
      return {
        value: x.pow(3),
        gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => dy.mul(saved[0].mul(2)),
      };
    }) as never,
  ) as (x: tf.Tensor) => tf.Tensor;
  const x = tf.tensor1d([0.5, 1.5, -2]);
  const r = gradientCheck((x) => wrongCube(x).sum(), x);
  assert.equal(r.ok, false);
  assert.match(r.toString(), /FAILED/);
  const bad = r.entries.filter((e) => !e.ok).map((e) => e.index);
  assert.deepEqual(bad, [0, 1, 2]); // 2x = [1, 3, -4] against 3x² = [0.75, 6.75, 12]
  const numeric = r.entries.map((e) => e.numeric);
  [0.75, 6.75, 12].forEach((v, i) =>
    assert.ok(Math.abs(numeric[i] - v) < 1e-2 * v, `${numeric[i]}`)
  );
  x.dispose();
});

Deno.test("gradientCheck samples large inputs and rejects bad arguments", () => {
  const x = tf.randomNormal([50, 40], 0, 1, "float32", 3);
  const r = gradientCheck((x) => x.tanh().sum(), x, { maxEntries: 25 });
  assert.equal(r.checked, 25);
  assert.ok(r.ok, r.toString());
  assert.equal(new Set(r.entries.map((e) => e.index)).size, 25);
  assert.throws(() => gradientCheck((x) => x.sum(), tf.tensor1d([1], "int32")), GradientCheckError);
  assert.throws(() => gradientCheck((x) => x.sum(), x, { epsilon: 0 }), GradientCheckError);
  x.dispose();
});
