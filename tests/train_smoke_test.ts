import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../lib/backend.ts";
import { loadMnist } from "../lib/data/mod.ts";
import {
  accuracy,
  compiledMlp,
  parseTrainArgs,
  shuffledBatches,
  train,
  UsageError,
} from "../tools/train.ts";

Deno.test("train smoke: an MLP on 10,000 MNIST digits reaches 90% on the 10,000 test digits (WASM)", async () => {
  const report = await initBackend({ prefer: "wasm" });
  assert.equal(report.backend, "wasm");
  const { train, test } = await loadMnist({ limit: 10_000, seed: 1 });
  assert.equal(train.count, 10_000);
  assert.equal(test.count, 10_000);

  const start = tf.memory().numTensors;
  const { model, optimizer } = compiledMlp([1, 2]);

  const tensorsAfterEpoch: number[] = [];
  const history = await model.fitDataset(shuffledBatches(train, 128, 7), {
    epochs: 3,
    verbose: 0,
    callbacks: {
      onEpochEnd: () => {
        tensorsAfterEpoch.push(tf.memory().numTensors);
      },
    },
  });
  const loss = history.history.loss as number[];
  assert.equal(loss.length, 3);
  assert.ok(loss[2] < loss[1] && loss[1] < loss[0], `loss falls: ${loss}`);
  assert.deepEqual(
    tensorsAfterEpoch,
    new Array(3).fill(tensorsAfterEpoch[0]),
    `numTensors flat across epochs: ${tensorsAfterEpoch}`,
  );

  const before = tf.memory().numTensors;
  const acc = accuracy(model, test);
  assert.equal(tf.memory().numTensors, before, "evaluation leaks nothing");
  console.log(
    `test accuracy ${(acc * 100).toFixed(2)}% (loss per epoch ${loss.map((l) => l.toFixed(3))})`,
  );
  assert.ok(acc >= 0.9, `test accuracy ${acc} < 0.90`);

  model.dispose();
  optimizer.dispose(); // not owned by the model: it was passed in as an object
  assert.equal(tf.memory().numTensors, start, "the model's weights and optimizer state are freed");
});

Deno.test("deno task train: flags are parsed and checked", () => {
  const d = parseTrainArgs([]);
  assert.equal(d.epochs, 2);
  assert.equal(d.batchSize, 128);
  assert.equal(d.backend, undefined);
  const o = parseTrainArgs(["--epochs", "1", "--limit", "500", "--backend", "cpu", "--seed", "3"]);
  assert.deepEqual([o.epochs, o.limit, o.backend, o.seed], [1, 500, "cpu", 3]);
  assert.throws(() => parseTrainArgs(["--epochs", "0"]), UsageError);
  assert.throws(() => parseTrainArgs(["--backend", "tpu"]), /--backend tpu/);
  assert.throws(() => parseTrainArgs(["--seed", "x"]), /--seed x/);
  assert.throws(() => parseTrainArgs(["--nope"]), /usage: deno task train/);
  assert.throws(() => parseTrainArgs(["--help"]), (e: unknown) => (e as UsageError).help === true);
});

Deno.test("deno task train: a short run reports its epochs and test accuracy, leaking nothing", async () => {
  await initBackend({ prefer: "wasm" });
  const before = tf.memory().numTensors;
  const lines: string[] = [];
  const result = await train({
    epochs: 1,
    limit: 2000,
    batchSize: 128,
    seed: 2,
    backend: "wasm",
    log: (l) => lines.push(l),
  });
  assert.equal(result.backend, "wasm");
  assert.equal(result.trainCount, 2000);
  assert.equal(result.epochs.length, 1);
  assert.ok(result.testAccuracy > 0.8, `accuracy ${result.testAccuracy}`);
  assert.ok(lines.some((l) => l.startsWith("backend: wasm")));
  assert.ok(lines.some((l) => /^epoch 1\/1: loss \d/.test(l)));
  assert.ok(lines.some((l) => /^test accuracy: \d+\.\d\d% on 10000 digits/.test(l)));
  assert.equal(tf.memory().numTensors, before);
});
