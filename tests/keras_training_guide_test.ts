// The training loops, callbacks, schedules and metrics of lib/training checked behaviour by
// behaviour against TensorFlow's guides "Training & evaluation with the built-in methods"
// (guide/keras/training_with_built_in_methods), "Writing your own callbacks"
// (guide/keras/writing_your_own_callbacks), "Writing a training loop from scratch"
// (guide/keras/writing_a_training_loop_from_scratch) and the API docs of
// tf.keras.callbacks.EarlyStopping, LearningRateScheduler, History,
// tf.keras.optimizers.schedules.ExponentialDecay / PiecewiseConstantDecay / CosineDecay and
// tf.math.confusion_matrix. Each test names the behaviour; where the project differs on purpose
// (and says so in the module doc), the test is named "documented difference" and asserts it.
// tests/training_test.ts covers the loops' basic training; it is not repeated here.
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../lib/backend.ts";
import { DigitNet, mlp } from "../lib/models/mod.ts";
import {
  Accuracy,
  CategoricalAccuracy,
  confusionMatrix,
  cosineDecay,
  earlyStopping,
  EarlyStoppingError,
  type EarlyStoppingOptions,
  evaluateLogits,
  evaluateMetrics,
  exponentialDecay,
  fitCallbacks,
  fitDataset,
  getLearningRate,
  learningRateScheduler,
  type Logs,
  Mean,
  piecewiseConstantDecay,
  reduceLROnPlateau,
  type ReduceLROnPlateauOptions,
  setModelOn,
  SparseCategoricalAccuracy,
  stepDecay,
  type TrainableModel,
  trainCustomLoop,
  type TrainingCallback,
} from "../lib/training/mod.ts";
import { runEpochs } from "../lib/training/_epochs.ts";
import { squares } from "./_toy_data.ts";

await initBackend();

function compiled(seed: number, optimizer: tf.Optimizer = tf.train.adam(1e-3)): tf.LayersModel {
  const model = mlp({ seed, units: 16, dropout: 0 });
  model.compile({ optimizer, loss: "categoricalCrossentropy", metrics: ["accuracy"] });
  return model;
}

/** Records every hook as a string, and copies of the logs. */
function recorder(): TrainingCallback & { events: string[]; batches: Logs[]; epochs: Logs[] } {
  const rec = {
    events: [] as string[],
    batches: [] as Logs[],
    epochs: [] as Logs[],
    onTrainBegin: () => void rec.events.push("train_begin"),
    onEpochBegin: (e: number) => void rec.events.push(`epoch_begin ${e}`),
    onBatchBegin: (s: number) => void rec.events.push(`batch_begin ${s}`),
    onBatchEnd: (s: number, logs: Logs) => {
      rec.events.push(`batch_end ${s}`);
      rec.batches.push({ ...logs });
    },
    onEpochEnd: (e: number, logs: Logs) => {
      rec.events.push(`epoch_end ${e}`);
      rec.epochs.push({ ...logs });
    },
    onTrainEnd: () => void rec.events.push("train_end"),
  };
  return rec;
}

/** Keras' hook order for `epochs` epochs of `steps` batches. */
function kerasOrder(epochs: number, steps: number): string[] {
  const out = ["train_begin"];
  for (let e = 0; e < epochs; e++) {
    out.push(`epoch_begin ${e}`);
    for (let s = 0; s < steps; s++) out.push(`batch_begin ${s}`, `batch_end ${s}`);
    out.push(`epoch_end ${e}`);
  }
  return [...out, "train_end"];
}

/** A one-Variable model: its weight is set to the epoch number, so restored weights name an epoch. */
function epochModel(): TrainableModel & { w: tf.Variable; value(): number } {
  const w = tf.variable(tf.scalar(-1));
  return {
    w,
    getWeights: () => [w],
    setWeights: (ws) => w.assign(ws[0] as tf.Scalar),
    value: () => w.dataSync()[0],
  };
}

/**
 * Runs early stopping over scripted epoch values of `monitor` through the shared epoch loop; the
 * model's weight is the epoch number at each epoch's end.
 */
async function scripted(
  values: number[],
  options: EarlyStoppingOptions,
): Promise<{ epochsRun: number; weight: number; es: ReturnType<typeof earlyStopping> }> {
  const es = earlyStopping(options);
  const model = epochModel();
  setModelOn([es], model);
  const monitor = options.monitor ?? "val_loss";
  const history = await runEpochs([es], { epochs: values.length }, (epoch) => {
    model.w.assign(tf.scalar(epoch));
    return Promise.resolve({ [monitor]: values[epoch] });
  });
  const weight = model.value();
  model.w.dispose();
  return { epochsRun: history[monitor].length, weight, es };
}

// ---------------------------------------------------------------------------
// The fit loop: hooks, logs, History

Deno.test("Writing your own callbacks: fit calls on_train_begin, per epoch on_epoch_begin, on_train_batch_begin/end per batch, on_epoch_end, then on_train_end (fitDataset, trainCustomLoop and model.fit through fitCallbacks)", async () => {
  const train = squares(72, 1); // 3 batches of 32, 32, 8
  const fitRec = recorder();
  const m1 = compiled(1);
  await fitDataset(m1, train, { epochs: 2, batchSize: 32, seed: 1, callbacks: [fitRec] });
  assert.deepEqual(fitRec.events, kerasOrder(2, 3));
  m1.dispose();

  const loopRec = recorder();
  const net = new DigitNet({ seed: 1, filters: [2, 2], denseUnits: 8 });
  await trainCustomLoop(net, train, {
    epochs: 2,
    batchSize: 32,
    optimizer: tf.train.sgd(0.01),
    seed: 1,
    callbacks: [loopRec, recorder()], // a second callback must not shift the step numbers
  });
  assert.deepEqual(loopRec.events, kerasOrder(2, 3));
  net.optimizer!.dispose();
  net.dispose();

  const tfjsRec = recorder();
  const m2 = compiled(2);
  const { xs, ys } = train.toTensors();
  await m2.fit(xs, ys, {
    epochs: 2,
    batchSize: 32,
    callbacks: fitCallbacks([tfjsRec]),
    verbose: 0,
  });
  assert.deepEqual(tfjsRec.events, kerasOrder(2, 3));
  tf.dispose([xs, ys]);
  m2.dispose();
});

Deno.test("Writing your own callbacks: setting model.stop_training in on_train_batch_end ends training after that batch; on_epoch_end and on_train_end still run, the epoch's logs over the batches run", async () => {
  const train = squares(96, 15); // 3 batches of 32
  const stopAt = (step: number) => {
    const cb: TrainingCallback = {
      stopTraining: false,
      onTrainBegin: () => void (cb.stopTraining = false),
      onBatchEnd: (s) => void (s === step && (cb.stopTraining = true)),
    };
    return cb;
  };
  const check = (rec: ReturnType<typeof recorder>) => {
    assert.deepEqual(rec.events, [
      "train_begin",
      "epoch_begin 0",
      "batch_begin 0",
      "batch_end 0",
      "batch_begin 1",
      "batch_end 1",
      "epoch_end 0",
      "train_end",
    ]);
    const mean = (rec.batches[0].loss + rec.batches[1].loss) / 2; // two batches of 32
    assert.ok(Math.abs(rec.epochs[0].loss - mean) < 1e-6, `${rec.epochs[0].loss} vs ${mean}`);
  };
  const model = compiled(12);
  const rec = recorder();
  const h = await fitDataset(model, train, {
    epochs: 3,
    batchSize: 32,
    seed: 1,
    callbacks: [rec, stopAt(1)],
  });
  check(rec);
  assert.equal(h.loss.length, 1);
  const net = new DigitNet({ seed: 4, filters: [2, 2], denseUnits: 8 });
  const loopRec = recorder();
  await trainCustomLoop(net, train, {
    epochs: 3,
    batchSize: 32,
    optimizer: tf.train.sgd(0.01),
    seed: 1,
    callbacks: [loopRec, stopAt(1)],
  });
  check(loopRec);
  net.optimizer!.dispose();
  net.dispose();
  const tfjsRec = recorder();
  const { xs, ys } = train.toTensors();
  await model.fit(xs, ys, {
    epochs: 3,
    batchSize: 32,
    shuffle: false,
    callbacks: fitCallbacks([tfjsRec, stopAt(1)]),
    verbose: 0,
  });
  check(tfjsRec);
  tf.dispose([xs, ys]);
  model.dispose();
});

Deno.test("Writing your own callbacks: on_train_end receives the logs of the last epoch", async () => {
  const model = compiled(13);
  let end: Logs = {};
  const rec = recorder();
  await fitDataset(model, squares(32, 16), {
    epochs: 2,
    batchSize: 16,
    validation: squares(16, 17),
    seed: 1,
    callbacks: [rec, { onTrainEnd: (logs) => void (end = logs) }],
  });
  assert.deepEqual(end, rec.epochs[1]);
  model.dispose();
});

Deno.test("Training with built-in methods: on_epoch_end's logs and History.history hold loss, then the metrics, then the same with a val_ prefix, one entry per epoch", async () => {
  const model = compiled(3);
  const rec = recorder();
  const history = await fitDataset(model, squares(64, 2), {
    epochs: 3,
    batchSize: 32,
    validation: squares(32, 3),
    seed: 2,
    callbacks: [rec],
  });
  assert.deepEqual(Object.keys(rec.epochs[0]), ["loss", "acc", "val_loss", "val_acc"]);
  assert.deepEqual(Object.keys(history), ["loss", "acc", "val_loss", "val_acc"]);
  for (const k of Object.keys(history)) {
    assert.deepEqual(history[k], rec.epochs.map((l) => l[k]), `history.${k}`);
  }
  // Validation runs at the end of the epoch, on the weights the epoch ended with.
  const val = await evaluateMetrics(model, squares(32, 3));
  assert.ok(
    Math.abs(val.loss - history.val_loss[2]) < 1e-6,
    `${val.loss} vs ${history.val_loss[2]}`,
  );
  assert.ok(Math.abs(val.acc - history.val_acc[2]) < 1e-6);
  model.dispose();
});

Deno.test("documented difference: Keras names the accuracy log after the metric ('accuracy'); here it is 'acc' in fitDataset and in model.fit through fitCallbacks", async () => {
  const model = compiled(4);
  const rec = recorder();
  const data = squares(32, 4);
  const { xs, ys } = data.toTensors();
  await model.fit(xs, ys, {
    epochs: 1,
    batchSize: 16,
    validationData: [xs, ys],
    callbacks: fitCallbacks([rec]),
    verbose: 0,
  });
  assert.deepEqual(Object.keys(rec.epochs[0]).sort(), ["acc", "loss", "val_acc", "val_loss"]);
  assert.ok(!("accuracy" in rec.batches[0]));
  tf.dispose([xs, ys]);
  model.dispose();
});

Deno.test("Training with built-in methods: the loss reported for an epoch is the mean over the epoch's samples (Keras' loss tracker weights each batch by its size), and metrics restart at each epoch", async () => {
  const model = compiled(5);
  const rec = recorder();
  const h = await fitDataset(model, squares(80, 5), {
    epochs: 2,
    batchSize: 32,
    seed: 5,
    callbacks: [rec],
  });
  assert.equal(rec.batches.length, 6); // 32, 32, 16 per epoch
  for (const epoch of [0, 1]) {
    const bs = rec.batches.slice(3 * epoch, 3 * epoch + 3);
    assert.deepEqual(bs.map((b) => b.size), [32, 32, 16]);
    const mean = (k: string) => bs.reduce((a, b) => a + b[k] * b.size, 0) / 80;
    assert.ok(Math.abs(mean("loss") - h.loss[epoch]) < 1e-6, `epoch ${epoch} loss`);
    assert.ok(Math.abs(mean("acc") - h.acc[epoch]) < 1e-6, `epoch ${epoch} acc`);
    // Not the plain mean of the batch values: the short last batch counts for 16 samples.
    const plain = bs.reduce((a, b) => a + b.loss, 0) / 3;
    assert.ok(Math.abs(plain - h.loss[epoch]) > 1e-7, "batch-size weighting matters here");
  }
  model.dispose();
});

Deno.test("documented difference: on_train_batch_end's logs in Keras are the epoch's running means so far; here they carry the batch's own loss and size, from which the running mean follows and ends at the epoch's loss", async () => {
  const model = compiled(6);
  const rec = recorder();
  const h = await fitDataset(model, squares(96, 6), {
    epochs: 1,
    batchSize: 32,
    seed: 6,
    callbacks: [rec],
  });
  assert.deepEqual(Object.keys(rec.batches[0]).sort(), ["acc", "loss", "size"]);
  let sum = 0;
  let seen = 0;
  const running = rec.batches.map((b) => (sum += b.loss * b.size, seen += b.size, sum / seen));
  assert.ok(Math.abs(running.at(-1)! - h.loss[0]) < 1e-6);
  assert.notEqual(rec.batches[1].loss, running[1], "the batch value is not the running mean");
  model.dispose();
});

Deno.test("History: callbacks run before History records the epoch, so a key a callback adds to the logs (LearningRateScheduler's rate) is in history", async () => {
  const model = compiled(7);
  const h = await fitDataset(model, squares(32, 7), {
    epochs: 2,
    batchSize: 32,
    seed: 7,
    callbacks: [learningRateScheduler((epoch) => 0.01 / (epoch + 1))],
  });
  assert.deepEqual(Object.keys(h), ["loss", "acc", "lr"]);
  assert.deepEqual(h.lr, [0.01, 0.005]);
  model.dispose();
});

Deno.test("Training with built-in methods: training and its callbacks leak no tensors — numTensors flat across epochs with early stopping (restore_best_weights) and a schedule, in fitDataset and the custom loop", async () => {
  const train = squares(64, 8);
  const val = squares(32, 9);
  const model = compiled(8);
  const counts: number[] = [];
  const count: TrainingCallback = { onEpochEnd: () => void counts.push(tf.memory().numTensors) };
  const before = tf.memory().numTensors;
  await fitDataset(model, train, {
    epochs: 4,
    batchSize: 32,
    validation: val,
    seed: 8,
    callbacks: [
      earlyStopping({ monitor: "val_loss", patience: 10, restoreBestWeights: true }),
      learningRateScheduler(stepDecay({ initial: 1e-3, every: 2 })),
      count,
    ],
  });
  // Epoch 0 builds Adam's moments; after it, the count stays flat.
  assert.ok(counts.slice(1).every((n) => n === counts[1]), `per epoch ${counts}`);
  assert.equal(
    tf.memory().numTensors,
    before + 2 * model.trainableWeights.length,
    "Adam's moments only",
  );
  model.dispose();

  const net = new DigitNet({ seed: 2, filters: [2, 2], denseUnits: 8 });
  const loopCounts: number[] = [];
  await trainCustomLoop(net, train, {
    epochs: 3,
    batchSize: 32,
    optimizer: tf.train.sgd(0.05),
    validation: val,
    seed: 8,
    callbacks: [
      earlyStopping({ monitor: "val_acc", patience: 10, restoreBestWeights: true }),
      { onEpochEnd: () => void loopCounts.push(tf.memory().numTensors) },
    ],
  });
  assert.ok(loopCounts.every((n) => n === loopCounts[0]), `custom loop per epoch ${loopCounts}`);
  net.optimizer!.dispose();
  net.dispose();
});

// ---------------------------------------------------------------------------
// Writing a training loop from scratch

Deno.test("Writing a training loop from scratch: training=True in the step, training=False for validation (dropout off: evaluating twice gives the same numbers), and the epoch's train loss and accuracy are over all its samples, reset each epoch", async () => {
  const train = squares(80, 10);
  const val = squares(40, 11);
  const net = new DigitNet({ seed: 3, filters: [2, 4], denseUnits: 8, dropout: 0.5 });
  const rec = recorder();
  const h = await trainCustomLoop(net, train, {
    epochs: 2,
    batchSize: 32,
    optimizer: tf.train.adam(1e-2),
    validation: val,
    seed: 3,
    callbacks: [rec],
  });
  for (const epoch of [0, 1]) {
    const bs = rec.batches.slice(3 * epoch, 3 * epoch + 3);
    const mean = (k: string) => bs.reduce((a, b) => a + b[k] * b.size, 0) / 80;
    assert.ok(Math.abs(mean("loss") - h.loss[epoch]) < 1e-6, `epoch ${epoch} loss`);
    assert.ok(Math.abs(mean("acc") - h.acc[epoch]) < 1e-9, `epoch ${epoch} acc`);
  }
  const a = await evaluateLogits(net, val);
  const b = await evaluateLogits(net, val);
  assert.deepEqual(a, b);
  assert.ok(Math.abs(a.loss - h.val_loss[1]) < 1e-6 && a.acc === h.val_acc[1]);
  // With training: true, the same batch gives other logits (dropout draws).
  const x = tf.ones([2, 28, 28, 1]);
  const t1 = net.call(x, { training: true });
  const t2 = net.call(x, { training: false });
  assert.ok(tf.sub(t1, t2).abs().max().dataSync()[0] > 0, "dropout is on in training");
  tf.dispose([x, t1, t2]);
  net.optimizer!.dispose();
  net.dispose();
});

// ---------------------------------------------------------------------------
// tf.keras.callbacks.EarlyStopping

Deno.test("EarlyStopping doc example: monitor='loss', patience=3 on a loss that does not improve after the first epoch stops after 4 epochs", async () => {
  const { epochsRun, es } = await scripted([5, 5, 6, 5, 4, 3, 2, 1, 0, 0], {
    monitor: "loss",
    patience: 3,
  });
  assert.equal(epochsRun, 4);
  assert.equal(es.stoppedEpoch, 3);
  assert.equal(es.bestEpoch, 0);
  assert.equal(es.best, 5);
});

Deno.test("EarlyStopping: patience counts epochs with no improvement in a row; an improvement starts the count again", async () => {
  const { epochsRun } = await scripted([1, 0.9, 0.95, 0.8, 0.85, 0.86, 0.9], {
    monitor: "loss",
    patience: 2,
  });
  assert.equal(epochsRun, 6); // improvements at epochs 1 and 3, then 4 and 5 without: stop after 5
  const zero = await scripted([1, 0.9, 0.95, 0.5], { monitor: "loss" }); // patience defaults to 0
  assert.equal(zero.epochsRun, 3);
});

Deno.test("EarlyStopping min_delta: 'an absolute change of less than min_delta will count as no improvement', in both directions", async () => {
  const min = await scripted([1, 0.95, 0.5], { monitor: "loss", minDelta: 0.1 });
  assert.equal(min.epochsRun, 2);
  const max = await scripted([0.5, 0.55, 0.9], { monitor: "acc", minDelta: -0.1 }); // |min_delta|
  assert.equal(max.epochsRun, 2);
  const enough = await scripted([1, 0.85, 0.7], { monitor: "loss", minDelta: 0.1 });
  assert.equal(enough.epochsRun, 3);
});

Deno.test("EarlyStopping mode='auto': 'the direction is automatically inferred from the name of the monitored quantity' (accuracy and AUC up, losses down)", () => {
  const mode = (monitor: string) => earlyStopping({ monitor }).mode;
  assert.equal(mode("val_loss"), "min");
  assert.equal(mode("loss"), "min");
  assert.equal(mode("val_acc"), "max");
  assert.equal(mode("accuracy"), "max");
  assert.equal(mode("val_accuracy"), "max");
  assert.equal(mode("val_auc"), "max");
  assert.equal(earlyStopping({ monitor: "val_acc", mode: "min" }).mode, "min");
});

Deno.test("EarlyStopping baseline: 'if no epoch improves on baseline, training will run for patience epochs and restore weights from the best epoch in that set', even while the metric keeps improving", async () => {
  const r = await scripted([0.9, 0.8, 0.7, 0.6, 0.5, 0.4], {
    monitor: "val_loss",
    baseline: 0.45,
    patience: 3,
    restoreBestWeights: true,
  });
  assert.equal(r.epochsRun, 3);
  assert.equal(r.es.bestEpoch, 2);
  assert.equal(r.weight, 2, "the best of the epochs run (already the last)");
  const restoring = await scripted([0.7, 0.6, 0.8, 0.9, 0.5], {
    monitor: "val_loss",
    baseline: 0.45,
    patience: 3,
    restoreBestWeights: true,
  });
  assert.equal(restoring.epochsRun, 3);
  assert.equal(restoring.weight, 1, "weights of epoch 1, the best in that set");
});

Deno.test("EarlyStopping baseline: an epoch that beats the baseline (and the best so far) starts the patience count again", async () => {
  const r = await scripted([0.9, 0.4, 0.5, 0.6, 0.3, 0.7, 0.8, 0.9], {
    monitor: "val_loss",
    baseline: 0.45,
    patience: 2,
  });
  // 0.4 beats the baseline at epoch 1; 0.5 and 0.6 do not improve: stop after epoch 3.
  assert.equal(r.epochsRun, 4);
});

Deno.test("EarlyStopping restore_best_weights: at the end the weights of the epoch with the best monitored value are set back (Keras 3: also when training ran to the end without stopping)", async () => {
  const stopped = await scripted([3, 1, 2, 4, 0], {
    monitor: "val_loss",
    patience: 2,
    restoreBestWeights: true,
  });
  assert.equal(stopped.epochsRun, 4);
  assert.equal(stopped.weight, 1);
  assert.equal(stopped.es.restored, true);
  const ranToEnd = await scripted([3, 1, 2], {
    monitor: "val_loss",
    patience: 5,
    restoreBestWeights: true,
  });
  assert.equal(ranToEnd.epochsRun, 3);
  assert.equal(ranToEnd.es.stoppedEpoch, -1);
  assert.equal(ranToEnd.weight, 1, "Keras 3 restores without an early stop; tf.keras 2.x did not");
});

Deno.test("EarlyStopping restore_best_weights=False: 'the model weights obtained at the last step of training are used'", async () => {
  const r = await scripted([3, 1, 2, 4, 0], { monitor: "val_loss", patience: 2 });
  assert.equal(r.epochsRun, 4);
  assert.equal(r.weight, 3);
});

Deno.test("EarlyStopping start_from_epoch: 'Number of epochs to wait before starting to monitor improvement', a warm-up in which training does not stop", async () => {
  const warm = await scripted([1, 2, 3, 4, 3.5, 3.6, 3.7], {
    monitor: "loss",
    startFromEpoch: 3,
    restoreBestWeights: true,
  });
  // Epochs 0-2 are not watched; epoch 3 is the first best, 4 improves, 5 does not: stop.
  assert.equal(warm.epochsRun, 6);
  assert.equal(warm.es.bestEpoch, 4);
  assert.equal(warm.weight, 4, "the best watched epoch, not epoch 0's lower loss");
  assert.throws(() => earlyStopping({ startFromEpoch: -1 }), RangeError);
});

Deno.test("EarlyStopping: a NaN monitored value counts as no improvement (Keras compares it with less/greater, which are false)", async () => {
  const r = await scripted([1, NaN, NaN, 0.5], { monitor: "val_loss", patience: 2 });
  assert.equal(r.epochsRun, 3);
  assert.equal(r.es.best, 1);
});

Deno.test("documented difference: EarlyStopping on a monitor missing from the logs throws EarlyStoppingError naming the keys there (Keras warns and never stops)", async () => {
  const es = earlyStopping({ monitor: "val_loss" });
  await assert.rejects(
    runEpochs([es], { epochs: 2 }, () => Promise.resolve({ loss: 1 })),
    (e: Error) => e instanceof EarlyStoppingError && /"val_loss".*they have loss/.test(e.message),
  );
});

Deno.test("EarlyStopping in fit: model.stop_training ends fit after the epoch; History has an entry for every epoch run, the stopping one included", async () => {
  const model = compiled(9);
  const es = earlyStopping({ monitor: "loss", mode: "max", patience: 1 }); // the loss falls: stop after epoch 1
  const h = await fitDataset(model, squares(32, 12), {
    epochs: 6,
    batchSize: 16,
    seed: 9,
    callbacks: [es],
  });
  assert.equal(es.stoppedEpoch, 1);
  assert.equal(h.loss.length, 2);
  model.dispose();
});

// ---------------------------------------------------------------------------
// tf.keras.callbacks.LearningRateScheduler

Deno.test("LearningRateScheduler doc example: schedule(epoch, lr) keeps lr for 10 epochs then multiplies it by exp(-0.1); SGD(0.01) after 15 epochs is at 0.01·exp(-0.5) = 0.00607", async () => {
  const sgd = tf.train.sgd(0.01);
  const seen: [number, number][] = [];
  const cb = learningRateScheduler((epoch, lr) => {
    seen.push([epoch, lr]);
    return epoch < 10 ? lr : lr * Math.exp(-0.1);
  });
  setModelOn([cb], { getWeights: () => [], setWeights: () => {}, optimizer: sgd });
  const h = await runEpochs([cb], { epochs: 15 }, () => Promise.resolve({ loss: 1 }));
  assert.deepEqual(seen.map(([e]) => e), Array.from({ length: 15 }, (_, e) => e));
  assert.equal(seen[0][1], 0.01, "the current rate is passed in");
  assert.equal(Math.round(getLearningRate(sgd) * 1e5) / 1e5, 0.00607);
  assert.ok(Math.abs(getLearningRate(sgd) - 0.01 * Math.exp(-0.5)) < 1e-12);
  assert.equal(h.lr.at(-1), getLearningRate(sgd));
  sgd.dispose();
});

Deno.test("LearningRateScheduler: the rate is set at the start of each epoch, so every step of epoch e uses schedule(e)", async () => {
  const model = compiled(10, tf.train.sgd(0.5));
  const rates: number[] = [];
  await fitDataset(model, squares(48, 13), {
    epochs: 2,
    batchSize: 16,
    seed: 10,
    callbacks: [
      learningRateScheduler((epoch) => [0.2, 0.1][epoch]),
      { onBatchBegin: () => void rates.push(getLearningRate(model.optimizer)) },
    ],
  });
  assert.deepEqual(rates, [0.2, 0.2, 0.2, 0.1, 0.1, 0.1]);
  model.dispose();
});

Deno.test("LearningRateScheduler: a schedule may return 0 (Keras accepts any float), e.g. the start of a warm-up", async () => {
  const sgd = tf.train.sgd(0.1);
  const cb = learningRateScheduler((epoch) => epoch * 0.05);
  setModelOn([cb], { getWeights: () => [], setWeights: () => {}, optimizer: sgd });
  const h = await runEpochs([cb], { epochs: 3 }, () => Promise.resolve({ loss: 1 }));
  assert.deepEqual(h.lr, [0, 0.05, 0.1]);
  sgd.dispose();
});

Deno.test("documented difference: LearningRateScheduler logs the rate as 'lr' (tf.keras 2.x's key; Keras 3 writes 'learning_rate')", async () => {
  const adam = tf.train.adam(0.003);
  const cb = learningRateScheduler((_e, lr) => lr);
  setModelOn([cb], { getWeights: () => [], setWeights: () => {}, optimizer: adam });
  const h = await runEpochs([cb], { epochs: 1 }, () => Promise.resolve({ loss: 1 }));
  assert.deepEqual(h, { loss: [1], lr: [0.003] });
  adam.dispose();
});

// ---------------------------------------------------------------------------
// tf.keras.callbacks.ReduceLROnPlateau

/** The rate in effect at each epoch, over scripted values of `monitor`, starting from SGD(lr). */
async function plateau(
  values: number[],
  options: ReduceLROnPlateauOptions,
  lr = 1,
): Promise<number[]> {
  const sgd = tf.train.sgd(lr);
  const cb = reduceLROnPlateau(options, sgd);
  const monitor = options.monitor ?? "val_loss";
  const h = await runEpochs(
    [cb],
    { epochs: values.length },
    (epoch) => Promise.resolve({ [monitor]: values[epoch] }),
  );
  sgd.dispose();
  return h.lr;
}

Deno.test("ReduceLROnPlateau: 'if no improvement is seen for a patience number of epochs, the learning rate is reduced' by new_lr = lr * factor, logged as the epoch's rate", async () => {
  const rates = await plateau([1, 0.9, 0.9, 0.95, 0.8, 0.85, 0.9, 0.9], {
    monitor: "val_loss",
    factor: 0.5,
    patience: 2,
  });
  // Epochs 2 and 3 do not improve on 0.9: the rate halves after epoch 3; epochs 5, 6 again.
  assert.deepEqual(rates, [1, 1, 1, 1, 0.5, 0.5, 0.5, 0.25]);
});

Deno.test("ReduceLROnPlateau: min_delta 'to only focus on significant changes', mode 'auto' from the name, min_lr a lower bound", async () => {
  const small = await plateau([1, 0.99995, 0.9999], { monitor: "loss", factor: 0.5, patience: 1 });
  assert.deepEqual(small, [1, 1, 0.5], "changes below the default min_delta 1e-4 do not count");
  const acc = await plateau([0.5, 0.6, 0.6, 0.7], { monitor: "val_acc", factor: 0.5, patience: 1 });
  assert.deepEqual(acc, [1, 1, 1, 0.5], "accuracy is maximised");
  const floor = await plateau([1, 1, 1, 1, 1], {
    monitor: "loss",
    factor: 0.1,
    patience: 1,
    minLr: 0.05,
  });
  assert.deepEqual(floor, [1, 1, 0.1, 0.05, 0.05]);
  assert.throws(() => reduceLROnPlateau({ factor: 1 }), /below 1/);
});

Deno.test("ReduceLROnPlateau cooldown: 'number of epochs to wait before resuming normal operation after the learning rate has been reduced'", async () => {
  const rates = await plateau([1, 1, 1, 1, 1, 1, 1], {
    monitor: "loss",
    factor: 0.5,
    patience: 1,
    cooldown: 2,
  });
  // A drop after epoch 1 sets the cooldown to 2; each epoch's end first counts it down, so
  // epoch 2 is skipped and epoch 3 (cooldown over) counts again: drops after epochs 1, 3, 5.
  assert.deepEqual(rates, [1, 1, 0.5, 0.5, 0.25, 0.25, 0.125]);
  const none = await plateau([1, 1, 1, 1], { monitor: "loss", factor: 0.5, patience: 1 });
  assert.deepEqual(none, [1, 1, 0.5, 0.25], "without cooldown, every flat epoch drops it");
});

Deno.test("ReduceLROnPlateau in fitDataset: it reaches the compiled model's optimizer and the steps after a drop use the lower rate", async () => {
  const model = compiled(11, tf.train.sgd(0.1));
  const rates: number[] = [];
  const h = await fitDataset(model, squares(32, 14), {
    epochs: 3,
    batchSize: 32,
    seed: 11,
    callbacks: [
      reduceLROnPlateau({ monitor: "loss", mode: "max", factor: 0.5, patience: 1 }),
      { onBatchBegin: () => void rates.push(getLearningRate(model.optimizer)) },
    ],
  });
  // The loss falls, so in "max" mode epoch 1 does not improve: the rate halves after it.
  assert.deepEqual(rates, [0.1, 0.1, 0.05]);
  assert.deepEqual(h.lr, rates);
  model.dispose();
});

// ---------------------------------------------------------------------------
// tf.keras.optimizers.schedules

Deno.test("ExponentialDecay: initial_learning_rate * decay_rate ^ (step / decay_steps), and with staircase=True the exponent is floored", () => {
  const smooth = exponentialDecay({ initial: 0.1, rate: 0.96, decaySteps: 100 });
  const stairs = exponentialDecay({ initial: 0.1, rate: 0.96, decaySteps: 100, staircase: true });
  for (const step of [0, 1, 50, 99, 100, 150, 250, 1000]) {
    assert.ok(Math.abs(smooth(step) - 0.1 * 0.96 ** (step / 100)) < 1e-15, `smooth ${step}`);
    assert.ok(
      Math.abs(stairs(step) - 0.1 * 0.96 ** Math.floor(step / 100)) < 1e-15,
      `stairs ${step}`,
    );
  }
  assert.equal(stairs(99), 0.1);
  assert.ok(smooth(99) < 0.1);
  // stepDecay is the staircase form with decay_steps = every.
  const f = stepDecay({ initial: 1e-3, factor: 0.5, every: 3 });
  const g = exponentialDecay({ initial: 1e-3, rate: 0.5, decaySteps: 3, staircase: true });
  for (let e = 0; e < 10; e++) assert.equal(f(e), g(e));
});

Deno.test("PiecewiseConstantDecay doc example: boundaries [100000, 110000], values [1.0, 0.5, 0.1]: 1.0 through step 100000, 0.5 through 110000, 0.1 after", () => {
  const f = piecewiseConstantDecay({ boundaries: [100000, 110000], values: [1.0, 0.5, 0.1] });
  assert.deepEqual([0, 100000, 100001, 110000, 110001, 1e9].map(f), [1, 1, 0.5, 0.5, 0.1, 0.1]);
  assert.throws(
    () => piecewiseConstantDecay({ boundaries: [1, 2], values: [1, 2] }),
    /one more value than boundaries/,
  );
});

Deno.test("CosineDecay: initial * ((1 - alpha) * 0.5 * (1 + cos(pi * min(step, decay_steps) / decay_steps)) + alpha), from initial to alpha * initial", () => {
  const f = cosineDecay({ initial: 0.2, decaySteps: 1000, alpha: 0.1 });
  const expected = (step: number) =>
    0.2 * (0.9 * 0.5 * (1 + Math.cos(Math.PI * Math.min(step, 1000) / 1000)) + 0.1);
  for (const step of [0, 250, 500, 999, 1000, 5000]) {
    assert.ok(Math.abs(f(step) - expected(step)) < 1e-15, `step ${step}`);
  }
  assert.equal(f(0), 0.2);
  assert.ok(Math.abs(f(500) - 0.2 * 0.55) < 1e-15);
  assert.ok(Math.abs(f(1000) - 0.02) < 1e-15);
  assert.equal(f(5000), f(1000));
  assert.equal(cosineDecay({ initial: 1, decaySteps: 10 })(10), 0, "alpha defaults to 0");
});

// ---------------------------------------------------------------------------
// tf.keras.metrics

const near = (a: number, b: number) => assert.ok(Math.abs(a - b) < 1e-6, `${a} vs ${b}`);

Deno.test("tf.keras.metrics.Mean doc example: update_state([1, 3, 5, 7]) gives 4; after reset_state, sample_weight [1, 1, 0, 0] gives 2", () => {
  const m = new Mean();
  m.updateState([1, 3, 5, 7]);
  near(m.result(), 4);
  m.resetState();
  m.updateState([1, 3, 5, 7], [1, 1, 0, 0]);
  near(m.result(), 2);
});

Deno.test("tf.keras.metrics: state carries across update_state calls (the mean over every value since the reset), result() is idempotent, and before any update result() is 0", () => {
  const m = new Mean();
  assert.equal(m.result(), 0);
  m.updateState([1, 2]);
  m.updateState([6]);
  near(m.result(), 3);
  near(m.result(), 3);
  m.resetState();
  assert.equal(m.result(), 0);
  const acc = new SparseCategoricalAccuracy();
  assert.equal(acc.result(), 0);
  acc.updateState([2, 1], [[0.1, 0.6, 0.3], [0.05, 0.95, 0]]);
  acc.updateState([0], [[0.9, 0.05, 0.05]]);
  near(acc.result(), 2 / 3);
});

Deno.test("tf.keras.metrics.Accuracy doc example: labels [[1], [2], [3], [4]] against [[0], [2], [3], [4]] give 0.75; with sample_weight [1, 1, 0, 0], 0.5", () => {
  const m = new Accuracy();
  m.updateState([[1], [2], [3], [4]], [[0], [2], [3], [4]]);
  near(m.result(), 0.75);
  m.resetState();
  m.updateState([[1], [2], [3], [4]], [[0], [2], [3], [4]], [1, 1, 0, 0]);
  near(m.result(), 0.5);
});

Deno.test("tf.keras.metrics.SparseCategoricalAccuracy doc example: labels [[2], [1]], predictions [[0.1, 0.6, 0.3], [0.05, 0.95, 0]] give 0.5; with sample_weight [0.7, 0.3], 0.3", () => {
  const m = new SparseCategoricalAccuracy();
  m.updateState([[2], [1]], [[0.1, 0.6, 0.3], [0.05, 0.95, 0]]);
  near(m.result(), 0.5);
  m.resetState();
  m.updateState([[2], [1]], [[0.1, 0.6, 0.3], [0.05, 0.95, 0]], [0.7, 0.3]);
  near(m.result(), 0.3);
  assert.equal(m.name, "sparse_categorical_accuracy");
});

Deno.test("tf.keras.metrics.CategoricalAccuracy doc example: one-hot [[0, 0, 1], [0, 1, 0]] against [[0.1, 0.9, 0.8], [0.05, 0.95, 0]] give 0.5; with sample_weight [0.7, 0.3], 0.3", () => {
  const m = new CategoricalAccuracy();
  m.updateState([[0, 0, 1], [0, 1, 0]], [[0.1, 0.9, 0.8], [0.05, 0.95, 0]]);
  near(m.result(), 0.5);
  m.resetState();
  m.updateState([[0, 0, 1], [0, 1, 0]], [[0.1, 0.9, 0.8], [0.05, 0.95, 0]], [0.7, 0.3]);
  near(m.result(), 0.3);
});

Deno.test("tf.keras.metrics: update_state on tensors leaves no tensor behind (numTensors flat over many batches)", () => {
  const yTrue = tf.tensor1d([0, 1, 2, 1], "int32");
  const yPred = tf.randomUniform([4, 3], 0, 1, "float32", 1);
  const weight = tf.tensor1d([1, 1, 1, 0]);
  const losses = [0, 1, 2, 3, 4].map((i) => tf.scalar(i));
  const acc = new SparseCategoricalAccuracy();
  const loss = new Mean();
  const before = tf.memory().numTensors;
  for (const l of losses) {
    acc.updateState(yTrue, yPred, weight);
    loss.updateState(l);
  }
  assert.equal(tf.memory().numTensors, before);
  near(loss.result(), 2);
  const expected = tf.tidy(() =>
    tf.equal(tf.argMax(yPred, -1), yTrue).cast("float32").slice(0, 3).mean().dataSync()[0]
  );
  near(acc.result(), expected);
  tf.dispose([yTrue, yPred, weight, ...losses]);
});

// ---------------------------------------------------------------------------
// tf.math.confusion_matrix

Deno.test("tf.math.confusion_matrix doc example: labels [1, 2, 4], predictions [2, 2, 4] with 5 classes", () => {
  assert.deepEqual(confusionMatrix([1, 2, 4], [2, 2, 4], 5), [
    [0, 0, 0, 0, 0],
    [0, 0, 1, 0, 0],
    [0, 0, 1, 0, 0],
    [0, 0, 0, 0, 0],
    [0, 0, 0, 0, 1],
  ]);
});
