/**
 * The one callback shape every training loop in this project reports through:
 * `model.fit` (through {@linkcode fitCallbacks} in `fit.ts`), the hand-written
 * GradientTape loop, the Estimator and mirrored (multi-worker) training.
 *
 * Progress bars, early stopping, learning-rate schedules and TensorBoard
 * logging are all `TrainingCallback`s, so each works with every loop.
 *
 * The hooks come in Keras' order: `onTrainBegin`, then per epoch
 * `onEpochBegin`, per batch `onBatchBegin` / `onBatchEnd`
 * (`on_train_batch_begin/end`), validation, `onEpochEnd` with the epoch's
 * logs (`loss`, the metrics, then `val_`-prefixed ones), and `onTrainEnd`
 * with the last epoch's logs. The epoch's `loss` and metrics are means over
 * its examples, counted afresh each epoch (Keras resets its metrics at the
 * start of each epoch). One deliberate difference: `onBatchEnd`'s logs hold
 * that batch's own values and its `size`, where Keras passes the epoch's
 * running means so far; the running mean is `sum(loss * size) / sum(size)`
 * over the batches seen, and after the last batch it equals the epoch's
 * `loss`. Accuracy is logged as `acc` (TF 1's key, what tfjs reports; TF 2
 * names it after the metric, `accuracy`).
 *
 * @module
 */

/** Scalar metrics by name, e.g. `{ loss: 0.31, acc: 0.91, val_loss: 0.28 }`. */
export type Logs = Record<string, number>;

/** What a loop knows when training starts. */
export interface TrainBeginInfo {
  /** Total epochs planned. */
  epochs: number;
  /** Batches per epoch (steps), when known. */
  stepsPerEpoch?: number;
  /** Training samples per epoch, when known. */
  samples?: number;
  /** Samples per batch, when known. */
  batchSize?: number;
}

/**
 * Hooks a training loop calls, all optional, all may be async. Epochs and
 * steps count from 0, as in Keras. `onBatchEnd`'s logs carry at least `loss`
 * and `size` (samples in that batch).
 */
export interface TrainingCallback {
  onTrainBegin?(info: TrainBeginInfo): void | Promise<void>;
  onEpochBegin?(epoch: number): void | Promise<void>;
  /** Before each training step (`fitDataset`, `trainCustomLoop` and `fitCallbacks` call it). */
  onBatchBegin?(step: number): void | Promise<void>;
  onBatchEnd?(step: number, logs: Logs): void | Promise<void>;
  onEpochEnd?(epoch: number, logs: Logs): void | Promise<void>;
  onTrainEnd?(logs: Logs): void | Promise<void>;
  /**
   * Set to true by a callback (e.g. early stopping) to end training: checked after each batch
   * and each epoch, as Keras checks `model.stop_training`.
   */
  stopTraining?: boolean;
}
