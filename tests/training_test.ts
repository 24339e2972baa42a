import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../lib/backend.ts";
import { loadMnist } from "../lib/data/mod.ts";
import { cnn, DigitNet, mlp } from "../lib/models/mod.ts";
import {
  EarlyStopping,
  earlyStopping,
  EarlyStoppingError,
  evaluateMetrics,
  evaluateModel,
  exponentialDecay,
  fitCallbacks,
  fitDataset,
  getLearningRate,
  LearningRateError,
  learningRateScheduler,
  type Logs,
  setLearningRate,
  stepDecay,
  trainCustomLoop,
  type TrainingCallback,
  TrainingError,
} from "../lib/training/mod.ts";
import { squares } from "./_toy_data.ts";

await initBackend();

function compiled(model: tf.LayersModel, lr = 1e-3): tf.LayersModel {
  model.compile({
    optimizer: tf.train.adam(lr),
    loss: "categoricalCrossentropy",
    metrics: ["accuracy"],
  });
  return model;
}

/** Records every hook call. */
function recorder(): TrainingCallback & { events: string[]; batches: Logs[]; epochs: Logs[] } {
  const rec = {
    events: [] as string[],
    batches: [] as Logs[],
    epochs: [] as Logs[],
    onTrainBegin(info: { epochs: number; stepsPerEpoch?: number; samples?: number }) {
      rec.events.push(`begin ${info.epochs} ${info.stepsPerEpoch} ${info.samples}`);
    },
    onEpochBegin(e: number) {
      rec.events.push(`epoch ${e}`);
    },
    onBatchEnd(_s: number, logs: Logs) {
      rec.batches.push({ ...logs });
    },
    onEpochEnd(e: number, logs: Logs) {
      rec.events.push(`end ${e}`);
      rec.epochs.push({ ...logs });
    },
    onTrainEnd() {
      rec.events.push("done");
    },
  };
  return rec;
}

Deno.test("fitDataset: trains, reports through the callbacks, leaks nothing", async () => {
  const train = squares(600, 1);
  const val = squares(200, 2);
  const model = compiled(mlp({ seed: 1 }));
  const rec = recorder();
  const tensorsPerEpoch: number[] = [];
  const count: TrainingCallback = {
    onEpochEnd: () => {
      tensorsPerEpoch.push(tf.memory().numTensors);
    },
  };
  const before = tf.memory().numTensors;
  const h = await fitDataset(model, train, {
    epochs: 4,
    batchSize: 32,
    validation: val,
    callbacks: [rec, count],
    seed: 3,
  });
  assert.deepEqual(Object.keys(h).sort(), ["acc", "loss", "val_acc", "val_loss"]);
  assert.equal(h.loss.length, 4);
  assert.ok(h.loss[3] < h.loss[0], `loss falls: ${h.loss}`);
  assert.ok(h.val_acc[3] > 0.9, `val_acc ${h.val_acc[3]}`);
  assert.deepEqual(rec.events, [
    "begin 4 19 600",
    "epoch 0",
    "end 0",
    "epoch 1",
    "end 1",
    "epoch 2",
    "end 2",
    "epoch 3",
    "end 3",
    "done",
  ]);
  assert.equal(rec.batches.length, 4 * 19);
  assert.deepEqual(Object.keys(rec.batches[0]).sort(), ["acc", "loss", "size"]);
  assert.equal(rec.batches[18].size, 600 - 18 * 32);
  // Epoch loss is the size-weighted mean of its batch losses.
  const first = rec.batches.slice(0, 19);
  const mean = first.reduce((a, b) => a + b.loss * b.size, 0) / 600;
  assert.ok(Math.abs(mean - h.loss[0]) < 1e-6);
  // Same tensor count after every epoch, and nothing left behind.
  assert.ok(tensorsPerEpoch.every((n) => n === tensorsPerEpoch[0]), `${tensorsPerEpoch}`);
  // The only new tensors are Adam's two moment variables per weight.
  assert.equal(tf.memory().numTensors, before + 2 * model.trainableWeights.length);
  model.dispose();
});

Deno.test("fitDataset: an uncompiled model or a bad option is a TrainingError", async () => {
  const m = mlp();
  await assert.rejects(fitDataset(m, squares(10, 1), { epochs: 1, batchSize: 4 }), TrainingError);
  compiled(m);
  await assert.rejects(
    fitDataset(m, squares(10, 1), { epochs: 0, batchSize: 4 }),
    /epochs is 0/,
  );
  await assert.rejects(fitDataset(m, squares(10, 1), { epochs: 1, batchSize: 2.5 }), /batchSize/);
  m.dispose();
});

Deno.test("seeded training: same seed, same loss curve; another seed, another curve", async () => {
  const train = squares(256, 5);
  const run = async (seed: number, build: (s: number) => tf.LayersModel) => {
    const model = compiled(build(seed));
    const h = await fitDataset(model, train, { epochs: 2, batchSize: 32, seed });
    model.dispose();
    return h;
  };
  const a = await run(7, (s) => mlp({ seed: s }));
  const b = await run(7, (s) => mlp({ seed: s }));
  const c = await run(8, (s) => mlp({ seed: s }));
  assert.deepEqual(a, b);
  assert.notDeepEqual(a.loss, c.loss);
  // The CNN (conv + dropout) too.
  const small = (s: number) => cnn({ seed: s, filters: [4, 8], denseUnits: 16 });
  const ca = await run(3, small);
  const cb = await run(3, small);
  assert.deepEqual(ca, cb);
});

Deno.test("MNIST subset: the MLP reaches 90% with a flat tensor count", async () => {
  const { train, test } = await loadMnist({ limit: 5000, testLimit: 2000 });
  const model = compiled(mlp({ seed: 1 }));
  const counts: number[] = [];
  const h = await fitDataset(model, train, {
    epochs: 3,
    batchSize: 32,
    seed: 1,
    callbacks: [{ onEpochEnd: () => void counts.push(tf.memory().numTensors) }],
  });
  assert.ok(counts.every((n) => n === counts[0]), `tensors per epoch: ${counts}`);
  const ev = await evaluateModel(model, test);
  assert.ok(ev.accuracy >= 0.9, `test accuracy ${ev.accuracy}`);
  assert.ok(h.acc[2] > h.acc[0]);
  model.dispose();
});

Deno.test("evaluateModel agrees with model.evaluate and gathers the confusion matrix", async () => {
  const train = squares(400, 11);
  const test = squares(150, 12);
  const model = compiled(mlp({ seed: 2 }));
  await fitDataset(model, train, { epochs: 2, batchSize: 32, seed: 1 });
  const before = tf.memory().numTensors;
  const ev = await evaluateModel(model, test, { batchSize: 64 });
  assert.equal(tf.memory().numTensors, before);
  const keras = await evaluateMetrics(model, test);
  assert.ok(Math.abs(ev.loss - keras.loss) < 1e-4, `${ev.loss} vs ${keras.loss}`);
  assert.ok(Math.abs(ev.accuracy - keras.acc) < 1e-9);
  let right = 0;
  for (let i = 0; i < test.count; i++) if (ev.predictions[i] === test.labels[i]) right++;
  assert.equal(ev.accuracy, right / test.count);
  assert.equal(ev.confusion.flat().reduce((a, b) => a + b, 0), test.count);
  const report = ev.report();
  assert.equal(report.length, 12);
  assert.equal(report[11].class, "weighted avg");
  // The most confident mistakes, with their images for imageGrid.
  const ms = ev.mistakeImages(3);
  assert.equal(ms.images.length, ms.indices.length * 784);
  ms.indices.forEach((idx, j) => {
    assert.notEqual(ms.labels[j], ms.predictions[j]);
    assert.equal(ms.labels[j], test.labels[idx]);
    assert.deepEqual(ms.images.subarray(j * 784, (j + 1) * 784), test.image(idx));
    if (j > 0) assert.ok(ms.confidences[j] <= ms.confidences[j - 1]);
  });
  model.dispose();
});

Deno.test("earlyStopping: patience, mode and the error for a missing metric", () => {
  const es = earlyStopping({ monitor: "val_loss", patience: 2 });
  es.onTrainBegin();
  for (const [e, v] of [[0, 1.0], [1, 0.5], [2, 0.6]] as const) es.onEpochEnd(e, { val_loss: v });
  assert.equal(es.stopTraining, false);
  es.onEpochEnd(3, { val_loss: 0.55 });
  assert.equal(es.stopTraining, true);
  assert.equal(es.stoppedEpoch, 3);
  assert.equal(es.bestEpoch, 1);
  assert.equal(es.best, 0.5);
  const acc = earlyStopping({ monitor: "val_acc", minDelta: 0.01 });
  assert.equal(acc.mode, "max");
  acc.onTrainBegin();
  acc.onEpochEnd(0, { val_acc: 0.9 });
  acc.onEpochEnd(1, { val_acc: 0.905 }); // below minDelta: no improvement
  assert.equal(acc.stopTraining, true);
  const missing = new EarlyStopping({ monitor: "val_loss" });
  missing.onTrainBegin();
  assert.throws(() => missing.onEpochEnd(0, { loss: 1 }), EarlyStoppingError);
  assert.throws(() => missing.onEpochEnd(0, { loss: 1 }), /they have loss/);
});

Deno.test("earlyStopping: restores the best weights and stops fitDataset", async () => {
  const model = compiled(mlp({ seed: 4 }));
  const es = earlyStopping({ monitor: "loss", mode: "max", restoreBestWeights: true });
  // Loss falls every epoch, so in "max" mode epoch 0 stays best: stop after epoch 1.
  const before = tf.memory().numTensors;
  const snapshot: number[][] = [];
  const h = await fitDataset(model, squares(200, 3), {
    epochs: 5,
    batchSize: 20,
    seed: 1,
    callbacks: [
      {
        onEpochEnd: (e) => {
          if (e === 0) snapshot.push(...model.getWeights().map((w) => Array.from(w.dataSync())));
        },
      },
      es,
    ],
  });
  assert.equal(h.loss.length, 2);
  assert.equal(es.stoppedEpoch, 1);
  assert.equal(es.restored, true);
  assert.deepEqual(model.getWeights().map((w) => Array.from(w.dataSync())), snapshot);
  assert.equal(
    tf.memory().numTensors,
    before + 2 * model.trainableWeights.length, // Adam's moments
    "the kept copy of the best weights is freed",
  );
  model.dispose();
});

Deno.test("learning-rate schedules set the optimizer's rate each epoch", async () => {
  const f = stepDecay({ initial: 0.01, factor: 0.1, every: 2 });
  const expected = [0.01, 0.01, 0.001, 0.001, 0.0001];
  [0, 1, 2, 3, 4].forEach((e) => assert.ok(Math.abs(f(e) - expected[e]) < 1e-12, `epoch ${e}`));
  const g = exponentialDecay({ initial: 1, rate: 0.5 });
  assert.equal(g(3), 0.125);
  const model = compiled(mlp({ seed: 1 }), 0.5);
  const seen: number[] = [];
  const sched = learningRateScheduler((epoch) => 1e-3 / (epoch + 1));
  const h = await fitDataset(model, squares(64, 1), {
    epochs: 3,
    batchSize: 32,
    callbacks: [sched, { onEpochBegin: () => void seen.push(getLearningRate(model.optimizer)) }],
  });
  assert.deepEqual(seen, [1e-3, 1e-3 / 2, 1e-3 / 3]);
  assert.deepEqual(h.lr, seen);
  assert.deepEqual(sched.rates, seen);
  model.dispose();
  // SGD caches -lr as a tensor: setLearningRate must refresh it.
  const sgd = tf.train.sgd(1);
  setLearningRate(sgd, 0.25);
  const x = tf.variable(tf.scalar(1));
  sgd.minimize(() => x.mul(1) as tf.Scalar, false, [x]);
  assert.equal(x.dataSync()[0], 0.75);
  x.dispose();
  sgd.dispose();
  assert.throws(() => setLearningRate(tf.train.adam(), -1), LearningRateError);
  const orphan = learningRateScheduler(() => 0.1);
  assert.throws(() => orphan.onTrainBegin(), /no optimizer/);
});

Deno.test("fitCallbacks: the same callbacks inside plain model.fit", async () => {
  const data = squares(96, 9);
  const val = squares(32, 10);
  const { xs, ys } = data.toTensors();
  const v = val.toTensors();
  const model = compiled(mlp({ seed: 1 }));
  const rec = recorder();
  const es = earlyStopping({ monitor: "val_loss", mode: "max" }); // stops after epoch 1
  await model.fit(xs, ys, {
    epochs: 6,
    batchSize: 32,
    validationData: [v.xs, v.ys],
    callbacks: fitCallbacks([rec, es]),
    verbose: 0,
  });
  assert.equal(rec.events[0], "begin 6 3 96");
  assert.deepEqual(rec.events.slice(-3), ["epoch 1", "end 1", "done"]);
  assert.equal(typeof rec.batches[0].loss, "number");
  assert.equal(typeof rec.batches[0].acc, "number");
  assert.equal(rec.batches[0].size, 32);
  assert.deepEqual(Object.keys(rec.epochs[0]).sort(), ["acc", "loss", "val_acc", "val_loss"]);
  assert.equal(es.stoppedEpoch, 1);
  tf.dispose([xs, ys, v.xs, v.ys]);
  model.dispose();
});

Deno.test("trainCustomLoop: a GradientTape loop on DigitNet, seeded, leak-free", async () => {
  const train = squares(256, 21);
  const val = squares(64, 22);
  const run = async () => {
    const net = new DigitNet({ seed: 5, filters: [4, 8], denseUnits: 32 });
    const rec = recorder();
    const before = tf.memory().numTensors;
    const counts: number[] = [];
    const h = await trainCustomLoop(net, train, {
      epochs: 3,
      batchSize: 32,
      optimizer: tf.train.adam(3e-3),
      validation: val,
      seed: 2,
      callbacks: [rec, { onEpochEnd: () => void counts.push(tf.memory().numTensors) }],
    });
    assert.ok(counts.every((n) => n === counts[0]), `tensors per epoch ${counts}`);
    const after = tf.memory().numTensors;
    net.optimizer!.dispose();
    net.dispose();
    return { h, rec, leaked: after - before };
  };
  const a = await run();
  const b = await run();
  assert.deepEqual(a.h, b.h);
  assert.ok(a.h.loss[2] < a.h.loss[0], `loss falls: ${a.h.loss}`);
  assert.deepEqual(Object.keys(a.h).sort(), ["acc", "loss", "val_acc", "val_loss"]);
  assert.equal(a.rec.batches.length, 3 * 8);
  assert.equal(a.rec.events[0], "begin 3 8 256");
  // Only the optimizer's state stays: Adam's two moments per variable (8 variables) and its
  // two beta powers; nothing from the steps.
  assert.equal(a.leaked, 2 * 8 + 2);
});
