/**
 * The one training loop for compiled Keras models: {@linkcode fitDataset}
 * trains a `tf.LayersModel` batch by batch from a {@linkcode Dataset} (bytes
 * until a batch needs floats) and reports through the shared
 * {@linkcode TrainingCallback}s, so live progress, early stopping, learning-rate
 * schedules and TensorBoard logging plug in. With `replicas: 2` the same call
 * trains data-parallel on both cores (Deno Workers). {@linkcode fitCallbacks} adapts
 * the same callbacks to plain `model.fit(...)`.
 *
 * @example Train the MLP on a few synthetic digits
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { Dataset } from "../data/dataset.ts";
 * import { mlp } from "../models/sequential.ts";
 * import { fitDataset } from "./fit.ts";
 * const labels = Uint8Array.from({ length: 64 }, (_, i) => i % 10);
 * const images = new Uint8Array(64 * 784).map((_, p) => (p % 784 === labels[Math.floor(p / 784)] ? 255 : 0));
 * const model = mlp({ seed: 1 });
 * model.compile({ optimizer: "adam", loss: "categoricalCrossentropy", metrics: ["accuracy"] });
 * const history = await fitDataset(model, new Dataset(images, labels), { epochs: 2, batchSize: 16, seed: 1 });
 * console.log(history.loss.length); // 2
 * ```
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import type { Dataset } from "../data/dataset.ts";
import type { Logs, TrainingCallback } from "./callbacks.ts";
import { setModelOn } from "./model_aware.ts";
import { fitMirrored } from "./_fit_mirrored.ts";
import { runEpochs } from "./_epochs.ts";

/** Per-epoch metrics by name (`loss`, `acc`, `val_loss`, `val_acc`, ...), as Keras' `history.history`. */
export type History = Record<string, number[]>;

/** Options of {@linkcode fitDataset}. */
export interface FitDatasetOptions {
  /** Passes over the training set. */
  epochs: number;
  /** Examples per training step. */
  batchSize: number;
  /** Evaluated after each epoch; its metrics get a `val_` prefix. */
  validation?: Dataset;
  /** Hooks called during training (progress, early stopping, schedules, TensorBoard). */
  callbacks?: TrainingCallback[];
  /** Seed of the per-epoch shuffles (epoch `e` uses `seed + e`); random when omitted. */
  seed?: number;
  /** Shuffle the training set each epoch (default true). */
  shuffle?: boolean;
  /** Batch size for validation (default: `max(batchSize, 256)`). */
  validationBatchSize?: number;
  /**
   * Train data-parallel on this many Deno Workers (default 1: this thread).
   * With 2 or more, {@linkcode MirroredStrategy} splits each global batch of
   * `batchSize` across the replicas, averages their gradients and applies them
   * in lockstep; the trained weights are copied back into `model`. The model
   * must use built-in layers and Adam or SGD; callbacks that need the model
   * (early stopping, learning-rate schedules) are refused.
   */
  replicas?: number;
}

/** Thrown for a model or option {@linkcode fitDataset} cannot train with. */
export class TrainingError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "TrainingError";
  }
}

function checkWhole(name: string, value: number): void {
  if (!Number.isInteger(value) || value < 1) {
    throw new TrainingError(`fitDataset: ${name} is ${value}; use a whole number >= 1`);
  }
}

/** Keras' short metric names: tfjs reports "accuracy" as "acc". */
function metricNames(model: tf.LayersModel): string[] {
  return model.metricsNames.map((n) => n === "accuracy" ? "acc" : n);
}

/**
 * Loss and metrics of a compiled model over a dataset, averaged per example,
 * one batch at a time (nothing larger than a batch is ever on the backend).
 */
export async function evaluateMetrics(
  model: tf.LayersModel,
  data: Dataset,
  batchSize = 256,
): Promise<Logs> {
  if (model.optimizer == null) {
    throw new TrainingError("evaluateMetrics: the model is not compiled; call model.compile first");
  }
  const names = metricNames(model);
  const sums = new Array<number>(names.length).fill(0);
  let seen = 0;
  for (const batch of data.batches(batchSize)) {
    const out = model.evaluate(batch.xs, batch.ys, { batchSize: batch.size });
    const scalars = Array.isArray(out) ? out : [out];
    const values = await Promise.all(scalars.map((s) => s.data()));
    tf.dispose([batch.xs, batch.ys, ...scalars]);
    values.forEach((v, i) => sums[i] += v[0] * batch.size);
    seen += batch.size;
  }
  const logs: Logs = {};
  names.forEach((n, i) => logs[n] = seen ? sums[i] / seen : NaN);
  return logs;
}

/**
 * Trains a compiled `model` on `train` for `opts.epochs` epochs and returns the
 * per-epoch history (Keras' `model.fit(x, y, epochs, batch_size,
 * validation_data, callbacks)`).
 *
 * Each step builds one batch from the byte store, calls `model.trainOnBatch`
 * and disposes the batch, so `tf.memory().numTensors` is the same after every
 * epoch. Callbacks get `onTrainBegin`, `onEpochBegin`, `onBatchBegin`,
 * `onBatchEnd` (with `loss`, the metrics and `size`), `onEpochEnd` (epoch
 * means plus `val_*`) and `onTrainEnd`; a callback setting `stopTraining`
 * ends training after the batch or epoch it sets it in (the epoch's logs then
 * cover the batches run). Callbacks with a `setModel` method receive the
 * model first.
 */
export async function fitDataset(
  model: tf.LayersModel,
  train: Dataset,
  opts: FitDatasetOptions,
): Promise<History> {
  checkWhole("epochs", opts.epochs);
  checkWhole("batchSize", opts.batchSize);
  if (model.optimizer == null) {
    throw new TrainingError(
      `fitDataset: model "${model.name}" is not compiled; call model.compile({ optimizer, loss, metrics }) first`,
    );
  }
  if (train.count === 0) throw new TrainingError("fitDataset: the training set is empty");
  if (opts.replicas !== undefined && opts.replicas !== 1) {
    checkWhole("replicas", opts.replicas);
    return await fitMirrored(model, train, opts, (why) => new TrainingError(`fitDataset: ${why}`));
  }
  const callbacks = opts.callbacks ?? [];
  const names = metricNames(model);
  const shuffle = opts.shuffle ?? true;
  const stepsPerEpoch = train.numBatches(opts.batchSize);
  setModelOn(callbacks, model);
  const info = {
    epochs: opts.epochs,
    stepsPerEpoch,
    samples: train.count,
    batchSize: opts.batchSize,
  };
  return await runEpochs(callbacks, info, async (epoch) => {
    const sums = new Array<number>(names.length).fill(0);
    let seen = 0;
    let step = 0;
    const seed = opts.seed === undefined ? undefined : opts.seed + epoch;
    for (const batch of train.batches(opts.batchSize, { shuffle, seed })) {
      let out: number | number[];
      try {
        for (const cb of callbacks) await cb.onBatchBegin?.(step);
        out = await model.trainOnBatch(batch.xs, batch.ys);
      } finally {
        tf.dispose([batch.xs, batch.ys]);
      }
      const values = Array.isArray(out) ? out : [out];
      const logs: Logs = { size: batch.size };
      names.forEach((n, i) => {
        logs[n] = values[i];
        sums[i] += values[i] * batch.size;
      });
      seen += batch.size;
      for (const cb of callbacks) await cb.onBatchEnd?.(step, logs);
      step++;
      if (callbacks.some((cb) => cb.stopTraining)) break; // Keras checks after every batch
    }
    const epochLogs: Logs = {};
    names.forEach((n, i) => epochLogs[n] = sums[i] / seen);
    if (opts.validation) {
      const val = await evaluateMetrics(
        model,
        opts.validation,
        opts.validationBatchSize ?? Math.max(opts.batchSize, 256),
      );
      for (const [k, v] of Object.entries(val)) epochLogs[`val_${k}`] = v;
    }
    return epochLogs;
  });
}

/**
 * Adapts {@linkcode TrainingCallback}s to `model.fit(...)` / `model.fitDataset(...)`:
 * `model.fit(xs, ys, { epochs, batchSize, callbacks: fitCallbacks([progress()]) })`.
 * Reads epochs, steps and samples from the fit's params, resolves scalar logs
 * to numbers, renames `accuracy` to `acc`, and forwards `stopTraining` to the
 * model.
 */
export function fitCallbacks(callbacks: TrainingCallback[]): tf.Callback {
  return new TrainingCallbackAdapter(callbacks);
}

async function resolveLogs(logs: tf.Logs | undefined): Promise<Logs> {
  const out: Logs = {};
  if (!logs) return out;
  for (const [k, v] of Object.entries(logs as Record<string, number | tf.Scalar>)) {
    const key = k === "accuracy" ? "acc" : k === "val_accuracy" ? "val_acc" : k;
    out[key] = typeof v === "number" ? v : (await v.data())[0];
  }
  return out;
}

class TrainingCallbackAdapter extends tf.Callback {
  readonly #callbacks: TrainingCallback[];
  #lastEpochLogs: Logs = {};

  constructor(callbacks: TrainingCallback[]) {
    super();
    this.#callbacks = callbacks;
  }

  override setModel(model: Parameters<tf.Callback["setModel"]>[0]): void {
    super.setModel(model);
    setModelOn(this.#callbacks, model as tf.LayersModel);
  }

  override async onTrainBegin(_logs?: tf.Logs): Promise<void> {
    const p = this.params as Record<string, unknown>;
    const num = (k: string): number | undefined => typeof p[k] === "number" ? p[k] : undefined;
    const samples = num("samples");
    const batchSize = num("batchSize");
    let stepsPerEpoch = num("steps") ?? num("batchesPerEpoch");
    if (stepsPerEpoch === undefined && samples !== undefined && batchSize !== undefined) {
      stepsPerEpoch = Math.ceil(samples / batchSize);
    }
    for (const cb of this.#callbacks) {
      await cb.onTrainBegin?.({ epochs: num("epochs") ?? 1, stepsPerEpoch, samples, batchSize });
    }
  }

  override async onEpochBegin(epoch: number): Promise<void> {
    for (const cb of this.#callbacks) await cb.onEpochBegin?.(epoch);
  }

  override async onBatchBegin(batch: number): Promise<void> {
    for (const cb of this.#callbacks) await cb.onBatchBegin?.(batch);
  }

  override async onBatchEnd(batch: number, logs?: tf.Logs): Promise<void> {
    const l = await resolveLogs(logs);
    delete l.batch;
    for (const cb of this.#callbacks) await cb.onBatchEnd?.(batch, l);
    this.#forwardStop();
  }

  override async onEpochEnd(epoch: number, logs?: tf.Logs): Promise<void> {
    const l = await resolveLogs(logs);
    this.#lastEpochLogs = l;
    for (const cb of this.#callbacks) await cb.onEpochEnd?.(epoch, l);
    this.#forwardStop();
  }

  #forwardStop(): void {
    if (this.#callbacks.some((cb) => cb.stopTraining)) {
      (this.model as tf.LayersModel).stopTraining = true;
    }
  }

  override async onTrainEnd(logs?: tf.Logs): Promise<void> {
    const l = await resolveLogs(logs);
    const final = Object.keys(l).length ? l : this.#lastEpochLogs;
    for (const cb of this.#callbacks) await cb.onTrainEnd?.(final);
  }
}
