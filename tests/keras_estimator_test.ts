/** model_to_estimator's idea: a Keras model's architecture and weights driven by an Estimator. */
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../lib/backend.ts";
import { loadMnist } from "../lib/data/mod.ts";
import { Estimator } from "../lib/ecosystem/estimator.ts";
import { kerasModelFn, ModelToEstimatorError } from "../lib/ecosystem/keras_estimator.ts";
import { cnn, mlp } from "../lib/models/mod.ts";

await initBackend();
const { train, test } = await loadMnist({ limit: 2_000, testLimit: 500 });

Deno.test("model_to_estimator: before training, the Estimator predicts what the Keras model predicts", async () => {
  const keras = mlp({ units: 16, dropout: 0, seed: 3 });
  const dir = await Deno.makeTempDir();
  // One step with a learning rate of 0 writes a checkpoint of the initial weights.
  const est = new Estimator({
    modelFn: kerasModelFn(keras),
    modelDir: dir,
    params: { learningRate: 0 },
  });
  await est.train(() => train.batches(100), { steps: 1 });
  const predicted = await est.predict(() => test.batches(100), { limit: 50 });
  const batch = test.batches(50).next().value!;
  const want = tf.tidy(() =>
    Array.from((keras.predict(batch.xs) as tf.Tensor).argMax(1).dataSync())
  );
  tf.dispose([batch.xs, batch.ys]);
  assert.deepEqual(predicted.map((p) => Number(p.classes)), want);
  est.dispose();
  keras.dispose();
  await Deno.remove(dir, { recursive: true });
});

Deno.test("model_to_estimator: training the Keras MLP through the Estimator trains it and checkpoints its variables by layer name", async () => {
  const keras = mlp({ units: 32, dropout: 0.1, seed: 1 });
  const dir = await Deno.makeTempDir();
  const est = new Estimator({
    modelFn: kerasModelFn(keras),
    modelDir: dir,
    params: { learningRate: 1e-3 },
  });
  const batch = test.batches(500).next().value!;
  const before = tf.tidy(() =>
    (keras.predict(batch.xs) as tf.Tensor).argMax(1).equal(batch.ys.argMax(1)).mean().dataSync()[0]
  );
  tf.dispose([batch.xs, batch.ys]);
  await est.train(() => train.batches(50, { shuffle: true, seed: 1 }), { steps: 60 });
  const after = await est.evaluate(() => test.batches(250));
  assert.ok(before < 0.3 && after.accuracy > 0.7, `accuracy ${before} -> ${after.accuracy}`);
  const index = await Deno.readTextFile(`${dir}/checkpoint`);
  assert.match(index, /model\.ckpt-60/);
  est.dispose();
  keras.dispose();
  await Deno.remove(dir, { recursive: true });
});

Deno.test("model_to_estimator: a layer it cannot translate is a ModelToEstimatorError naming it", () => {
  const model = cnn({ seed: 1 });
  assert.throws(
    () => kerasModelFn(model),
    (e) => e instanceof ModelToEstimatorError && /conv1.*Conv2D/.test(e.message),
  );
  model.dispose();
});
