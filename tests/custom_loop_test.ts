/**
 * The hand-written training step (TF2's "writing a training loop from
 * scratch"): a variable the loss does not use has gradient None in
 * TensorFlow; `apply_gradients` would fail on it. Here the step raises a
 * TrainingError naming the variable, and every failing step leaks nothing.
 */
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../lib/backend.ts";
import { type CustomLoopModel, trainStep } from "../lib/training/custom_loop.ts";
import { TrainingError } from "../lib/training/fit.ts";

await initBackend();

function linearModel(extra: tf.Variable[] = []): CustomLoopModel & { dispose(): void } {
  const w = tf.variable(tf.randomNormal([4, 3], 0, 0.1, "float32", 1));
  const b = tf.variable(tf.zeros([3]));
  const vars = [w, b, ...extra];
  return {
    call: (x) => x.matMul(w).add(b),
    trainableVariables: vars,
    getWeights: () => vars,
    setWeights: (ws) => ws.forEach((t, i) => vars[i].assign(t)),
    dispose: () => tf.dispose(vars),
  };
}

Deno.test("trainStep: a step whose loss does not use a variable (gradient None) raises TrainingError naming it, and leaks nothing per step", () => {
  const unused = tf.variable(tf.zeros([2]), true, "unused_bias");
  const model = linearModel([unused]);
  const optimizer = tf.train.sgd(0.1);
  const xs = tf.randomNormal([5, 4], 0, 1, "float32", 2);
  const ys = tf.oneHot(tf.tensor1d([0, 1, 2, 0, 1], "int32"), 3);
  const before = tf.memory().numTensors;
  for (let i = 0; i < 20; i++) {
    assert.throws(
      () => trainStep(model, optimizer, xs, ys),
      (e: Error) => e instanceof TrainingError && /unused_bias/.test(e.message),
    );
  }
  assert.equal(tf.memory().numTensors, before, "20 failing steps left no tensors");
  tf.dispose([xs, ys]);
  optimizer.dispose();
  model.dispose();
});

Deno.test("trainStep: a normal step returns the loss and the correct count and leaks nothing beyond them", () => {
  const model = linearModel();
  const optimizer = tf.train.sgd(0.1);
  const xs = tf.randomNormal([5, 4], 0, 1, "float32", 3);
  const ys = tf.oneHot(tf.tensor1d([0, 1, 2, 0, 1], "int32"), 3);
  trainStep(model, optimizer, xs, ys); // the optimizer creates its state on the first step
  const before = tf.memory().numTensors;
  let last = Infinity;
  for (let i = 0; i < 10; i++) {
    const { loss, correct } = trainStep(model, optimizer, xs, ys);
    const l = loss.dataSync()[0];
    assert.ok(l < last + 1e-6, "the loss does not rise on one fixed batch");
    last = l;
    assert.ok(correct.dataSync()[0] <= 5);
    tf.dispose([loss, correct]);
  }
  assert.equal(tf.memory().numTensors, before);
  tf.dispose([xs, ys]);
  optimizer.dispose();
  model.dispose();
});
