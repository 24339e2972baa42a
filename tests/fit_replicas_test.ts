import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../lib/backend.ts";
import { loadMnist } from "../lib/data/mod.ts";
import { mlp } from "../lib/models/mod.ts";
import { earlyStopping, fitDataset, TrainingError } from "../lib/training/mod.ts";
import type { Logs } from "../lib/training/mod.ts";

function compiled(optimizer: tf.Optimizer = tf.train.adam(1e-3)): tf.LayersModel {
  const model = mlp({ seed: 3 });
  model.compile({ optimizer, loss: "categoricalCrossentropy", metrics: ["accuracy"] });
  return model;
}

Deno.test("fitDataset({ replicas: 2 }) trains on two Workers and writes the weights back", async () => {
  await initBackend({ prefer: "wasm" });
  const { train, test } = await loadMnist({ limit: 3_000, testLimit: 1_000, seed: 5 });
  const model = compiled();
  const before = model.getWeights().map((w) => w.dataSync().slice());
  const batches: Logs[] = [];
  const tensorsBefore = tf.memory().numTensors;
  const history = await fitDataset(model, train, {
    epochs: 2,
    batchSize: 64,
    seed: 1,
    replicas: 2,
    validation: test,
    callbacks: [{ onBatchEnd: (_s, logs) => void batches.push(logs) }],
  });
  assert.equal(tf.memory().numTensors, tensorsBefore, "training through Workers leaked tensors");
  assert.equal(history.loss.length, 2);
  assert.ok(history.loss[1] < history.loss[0], `loss did not fall: ${history.loss}`);
  assert.equal(batches.length, 2 * Math.ceil(3_000 / 64));
  // The model in this thread now holds the trained weights: they changed, and they work.
  const after = model.getWeights().map((w) => w.dataSync());
  assert.ok(
    after.some((w, i) => w.some((v, j) => v !== before[i][j])),
    "weights were not copied back",
  );
  const { xs, ys } = test.toTensors();
  const [, acc] = model.evaluate(xs, ys) as tf.Scalar[];
  const local = (await acc.data())[0];
  tf.dispose([xs, ys, acc]);
  assert.ok(local > 0.8, `accuracy of the copied-back weights is ${local}`);
  assert.ok(
    Math.abs(local - history.val_acc[1]) < 1e-6,
    `replica 0 measured ${history.val_acc[1]}, the model here ${local}`,
  );
  model.dispose();
});

Deno.test("fitDataset with replicas refuses what cannot reach the Workers", async () => {
  await initBackend({ prefer: "wasm" });
  const { train } = await loadMnist({ limit: 256, testLimit: 10, seed: 5 });
  const withRmsprop = compiled(tf.train.rmsprop(1e-3));
  await assert.rejects(
    fitDataset(withRmsprop, train, { epochs: 1, batchSize: 64, replicas: 2 }),
    (e: unknown) => e instanceof TrainingError && /Adam or SGD.*RMSProp/.test(e.message),
  );
  const model = compiled();
  await assert.rejects(
    fitDataset(model, train, {
      epochs: 1,
      batchSize: 64,
      replicas: 2,
      callbacks: [earlyStopping({ monitor: "loss", patience: 1 })],
    }),
    (e: unknown) => e instanceof TrainingError && /need the model/.test(e.message),
  );
  await assert.rejects(
    fitDataset(model, train, { epochs: 1, batchSize: 64, replicas: 0 }),
    /replicas/,
  );
  withRmsprop.dispose();
  model.dispose();
});
