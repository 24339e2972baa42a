/**
 * The one callback shape every training loop in this project reports through:
 * `model.fit` (through {@linkcode fitCallbacks} in `fit.ts`), the hand-written
 * GradientTape loop, the Estimator and mirrored (multi-worker) training.
 *
 * Progress bars, early stopping, learning-rate schedules and TensorBoard
 * logging are all `TrainingCallback`s, so each works with every loop.
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
  onBatchEnd?(step: number, logs: Logs): void | Promise<void>;
  onEpochEnd?(epoch: number, logs: Logs): void | Promise<void>;
  onTrainEnd?(logs: Logs): void | Promise<void>;
  /** Set to true by a callback (e.g. early stopping) to end training after this epoch. */
  stopTraining?: boolean;
}
