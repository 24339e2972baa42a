/**
 * `tensorBoard(logdir)`: a {@linkcode TrainingCallback} that logs training
 * metrics as TensorBoard scalars, for `fit`, the custom GradientTape loop, the
 * Estimator and mirrored training alike.
 *
 * As Keras' `tf.keras.callbacks.TensorBoard`: epoch metrics go to
 * `<logdir>/train` as `epoch_<name>`, `val_<name>` metrics to
 * `<logdir>/validation` as `epoch_<name>` (so train and validation curves
 * share one chart), and with `updateFreq: "batch"` each batch's metrics go to
 * `<logdir>/train` as `batch_<name>`, stepped by a global batch counter.
 *
 * @example
 * ```ts
 * import { tensorBoard } from "./callback.ts";
 * const tb = tensorBoard("data/runs/mnist", { updateFreq: "batch" });
 * // await model.fit(xs, ys, { callbacks: fitCallbacks([tb]) }); ...
 * await tb.onBatchEnd?.(0, { loss: 0.9, size: 32 });
 * await tb.onEpochEnd?.(0, { loss: 0.5, acc: 0.8, val_loss: 0.6 });
 * await tb.onTrainEnd?.({});
 * ```
 *
 * @module
 */
import type { Logs, TrainBeginInfo, TrainingCallback } from "../../training/callbacks.ts";
import { type SummaryFileWriter, summaryFileWriter } from "./summary_writer.ts";

/** Options for {@linkcode tensorBoard}. */
export interface TensorBoardOptions {
  /** "epoch" (default): scalars per epoch; "batch": also per batch; a number: every N batches. */
  updateFreq?: "epoch" | "batch" | number;
}

/** The callback {@linkcode tensorBoard} returns: a TrainingCallback that also exposes its writers. */
export interface TensorBoardCallback extends TrainingCallback {
  readonly logdir: string;
  /** The writer for `<logdir>/train` (opened on first use). */
  trainWriter(): SummaryFileWriter;
  /** The writer for `<logdir>/validation` (opened on first use). */
  validationWriter(): SummaryFileWriter;
  /** Flush and close both writers (also done by `onTrainEnd`). */
  close(): void;
}

/** Keys in logs that are bookkeeping, not metrics. */
const SKIP = new Set(["size", "batch"]);

/** A TrainingCallback that writes TensorBoard scalars under `logdir`. */
export function tensorBoard(
  logdir = "data/runs",
  opts: TensorBoardOptions = {},
): TensorBoardCallback {
  const freq = opts.updateFreq ?? "epoch";
  const every = freq === "batch" ? 1 : freq === "epoch" ? 0 : Math.max(1, Math.floor(freq));
  let globalBatch = 0;
  let train: SummaryFileWriter | null = null;
  let validation: SummaryFileWriter | null = null;
  const trainWriter = (): SummaryFileWriter => {
    if (!train || train.closed) train = summaryFileWriter(`${logdir}/train`);
    return train;
  };
  const validationWriter = (): SummaryFileWriter => {
    if (!validation || validation.closed) validation = summaryFileWriter(`${logdir}/validation`);
    return validation;
  };
  const close = (): void => {
    train?.close();
    validation?.close();
    train = validation = null;
  };
  return {
    logdir,
    trainWriter,
    validationWriter,
    close,
    onTrainBegin(_info: TrainBeginInfo): void {
      trainWriter();
    },
    onBatchEnd(_step: number, logs: Logs): void {
      const step = globalBatch++;
      if (every === 0 || step % every !== 0) return;
      const w = trainWriter();
      for (const [k, v] of Object.entries(logs)) {
        if (!SKIP.has(k) && Number.isFinite(v)) w.scalar(`batch_${k}`, v, step);
      }
    },
    onEpochEnd(epoch: number, logs: Logs): void {
      for (const [k, v] of Object.entries(logs)) {
        if (SKIP.has(k) || !Number.isFinite(v)) continue;
        if (k.startsWith("val_")) validationWriter().scalar(`epoch_${k.slice(4)}`, v, epoch);
        else trainWriter().scalar(`epoch_${k}`, v, epoch);
      }
      train?.flush();
      validation?.flush();
    },
    onTrainEnd(_logs: Logs): void {
      close();
    },
  };
}
