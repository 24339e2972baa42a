/**
 * A training loop written by hand, as in TensorFlow 2's "writing a training
 * loop from scratch": for each batch, record the forward pass on a
 * {@linkcode GradientTape}, take the gradient of the loss with respect to the
 * trainable variables, and let the optimizer apply it. It reports through the
 * same {@linkcode TrainingCallback}s as `fitDataset`, so live progress, early
 * stopping, schedules and TensorBoard work unchanged.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { Dataset } from "../data/dataset.ts";
 * import { DigitNet } from "../models/subclassed.ts";
 * import { trainCustomLoop } from "./custom_loop.ts";
 * const labels = Uint8Array.from({ length: 32 }, (_, i) => i % 10);
 * const data = new Dataset(new Uint8Array(32 * 784).fill(7), labels);
 * const net = new DigitNet({ seed: 1 });
 * const history = await trainCustomLoop(net, data, { epochs: 1, batchSize: 16, optimizer: tf.train.adam(1e-3) });
 * console.log(history.loss.length); // 1
 * ```
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import type { Dataset } from "../data/dataset.ts";
import { GradientTape } from "../tape.ts";
import type { Logs, TrainingCallback } from "./callbacks.ts";
import { type History, TrainingError } from "./fit.ts";
import { setModelOn, type TrainableModel } from "./model_aware.ts";
import { runEpochs } from "./_epochs.ts";

/** What the custom loop trains: a forward pass giving logits, and its variables. */
export interface CustomLoopModel extends TrainableModel {
  /** Images → logits `[b, classes]`; `training` switches dropout on. */
  call(x: tf.Tensor, options: { training?: boolean }): tf.Tensor;
  /** The variables each step updates. */
  readonly trainableVariables: tf.Variable[];
}

/** Options of {@linkcode trainCustomLoop}. */
export interface CustomLoopOptions {
  epochs: number;
  batchSize: number;
  /** For example `tf.train.adam(1e-3)`. */
  optimizer: tf.Optimizer;
  /** Evaluated after each epoch (`val_loss`, `val_acc`). */
  validation?: Dataset;
  callbacks?: TrainingCallback[];
  /** Seed of the per-epoch shuffles (epoch `e` uses `seed + e`). */
  seed?: number;
  /** Shuffle each epoch (default true). */
  shuffle?: boolean;
}

/**
 * One training step, the heart of the loop (Python:
 * `with tf.GradientTape() as tape: logits = model(x, training=True); loss = ...`
 * then `optimizer.apply_gradients(zip(tape.gradient(loss, vars), vars))`).
 * Returns the batch's mean loss and its number of correct predictions.
 */
export function trainStep(
  model: CustomLoopModel,
  optimizer: tf.Optimizer,
  xs: tf.Tensor,
  ys: tf.Tensor,
): { loss: tf.Scalar; correct: tf.Scalar } {
  const vars = model.trainableVariables;
  const tape = new GradientTape();
  const { loss, correct } = tape.record(() => {
    const logits = model.call(xs, { training: true });
    return {
      loss: tf.losses.softmaxCrossEntropy(ys, logits) as tf.Scalar,
      correct: tf.sum(tf.cast(tf.equal(tf.argMax(logits, -1), tf.argMax(ys, -1)), "float32")),
    };
  });
  const grads = tape.gradient(loss, vars);
  tape.dispose();
  try {
    const missing = vars.find((_, i) => !grads[i]);
    if (missing) {
      throw new TrainingError(
        `trainStep: no gradient for variable ${missing.name}: the loss does not depend on it ` +
          "(TensorFlow's gradient is None); remove it from trainableVariables or use it in call()",
      );
    }
    optimizer.applyGradients(vars.map((v, i) => ({ name: v.name, tensor: grads[i]! })));
  } catch (e) {
    tf.dispose([loss, correct]);
    throw e;
  } finally {
    tf.dispose(grads.filter((g) => g !== null) as tf.Tensor[]);
  }
  return { loss, correct: correct as tf.Scalar };
}

/** Mean loss and accuracy of the model's logits over a dataset. */
export async function evaluateLogits(
  model: CustomLoopModel,
  data: Dataset,
  batchSize = 256,
): Promise<Logs> {
  let lossSum = 0;
  let correct = 0;
  for (const batch of data.batches(batchSize)) {
    const [l, c] = tf.tidy(() => {
      const logits = model.call(batch.xs, { training: false });
      return [
        tf.mul(tf.losses.softmaxCrossEntropy(batch.ys, logits), batch.size),
        tf.sum(tf.cast(tf.equal(tf.argMax(logits, -1), tf.argMax(batch.ys, -1)), "float32")),
      ];
    });
    lossSum += (await l.data())[0];
    correct += (await c.data())[0];
    tf.dispose([l, c, batch.xs, batch.ys]);
  }
  return { loss: lossSum / data.count, acc: correct / data.count };
}

/**
 * Trains `model` with {@linkcode trainStep} for `epochs` passes over `train`
 * and returns the per-epoch history (`loss`, `acc`, and `val_loss`, `val_acc`
 * with validation data). The same seed gives the same loss curve on the same
 * backend.
 */
export async function trainCustomLoop(
  model: CustomLoopModel,
  train: Dataset,
  opts: CustomLoopOptions,
): Promise<History> {
  for (const k of ["epochs", "batchSize"] as const) {
    if (!Number.isInteger(opts[k]) || opts[k] < 1) {
      throw new TrainingError(`trainCustomLoop: ${k} is ${opts[k]}; use a whole number >= 1`);
    }
  }
  if (train.count === 0) throw new TrainingError("trainCustomLoop: the training set is empty");
  const callbacks = opts.callbacks ?? [];
  model.optimizer = opts.optimizer;
  setModelOn(callbacks, model);
  const info = {
    epochs: opts.epochs,
    stepsPerEpoch: train.numBatches(opts.batchSize),
    samples: train.count,
    batchSize: opts.batchSize,
  };
  return await runEpochs(callbacks, info, async (epoch) => {
    let lossSum = 0;
    let correctSum = 0;
    let seen = 0;
    let step = 0;
    const seed = opts.seed === undefined ? undefined : opts.seed + epoch;
    for (const batch of train.batches(opts.batchSize, { shuffle: opts.shuffle ?? true, seed })) {
      let loss: number;
      let correct: number;
      try {
        for (const cb of callbacks) await cb.onBatchBegin?.(step);
        const out = trainStep(model, opts.optimizer, batch.xs, batch.ys);
        loss = (await out.loss.data())[0];
        correct = (await out.correct.data())[0];
        tf.dispose([out.loss, out.correct]);
      } finally {
        tf.dispose([batch.xs, batch.ys]);
      }
      lossSum += loss * batch.size;
      correctSum += correct;
      seen += batch.size;
      const logs: Logs = { loss, acc: correct / batch.size, size: batch.size };
      for (const cb of callbacks) await cb.onBatchEnd?.(step, logs);
      step++;
      if (callbacks.some((cb) => cb.stopTraining)) break; // Keras checks after every batch
    }
    const epochLogs: Logs = { loss: lossSum / seen, acc: correctSum / seen };
    if (opts.validation) {
      const val = await evaluateLogits(model, opts.validation);
      epochLogs.val_loss = val.loss;
      epochLogs.val_acc = val.acc;
    }
    return epochLogs;
  });
}
