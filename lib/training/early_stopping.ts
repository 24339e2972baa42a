/**
 * Early stopping as a {@linkcode TrainingCallback}: stop when a monitored
 * metric has not improved for `patience` epochs, optionally rolling the
 * weights back to the best epoch at the end of training (Keras'
 * `EarlyStopping`; as in Keras 3, the best weights are restored whether or
 * not training stopped early). Works with
 * {@linkcode fitDataset}, `model.fit` (through `fitCallbacks`) and the custom
 * loop.
 *
 * The counting is Keras': every watched epoch adds one to a wait count, an
 * improvement (by more than `minDelta` on the best so far, and on `baseline`
 * when one is given) sets it back to 0, and training stops once the count
 * reaches `patience` (never after epoch 0). As the doc says, "if no epoch
 * improves on baseline, training will run for patience epochs" even while the
 * metric keeps getting better (tf.keras 2.x; Keras 3's code skips the check
 * after any improvement). Epochs before `startFromEpoch` are not watched; a
 * NaN value counts as no improvement. One deliberate difference: a monitor
 * missing from the epoch's logs throws an {@linkcode EarlyStoppingError}
 * (Keras only warns and goes on without early stopping, which hides a
 * misspelt name).
 *
 * @example
 * ```ts
 * import { earlyStopping } from "./early_stopping.ts";
 * const stop = earlyStopping({ monitor: "val_loss", patience: 2, restoreBestWeights: true });
 * // await fitDataset(model, train, { epochs: 20, batchSize: 64, validation, callbacks: [stop] });
 * console.log(stop.stoppedEpoch); // -1 until it stops training
 * ```
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import type { Logs } from "./callbacks.ts";
import type { ModelAwareCallback, TrainableModel } from "./model_aware.ts";

/** Options of {@linkcode earlyStopping}. */
export interface EarlyStoppingOptions {
  /** The epoch metric to watch (default "val_loss"). */
  monitor?: string;
  /**
   * Stop once this many epochs in a row brought no improvement (Keras' meaning; default 0, which
   * like 1 stops at the first epoch without improvement).
   */
  patience?: number;
  /** Smallest change that counts as an improvement (default 0). */
  minDelta?: number;
  /**
   * "min" (losses), "max" (accuracies) or "auto" (default): inferred from the name as tf.keras
   * does, max when it ends in "acc", "accuracy" or "auc", else min.
   */
  mode?: "min" | "max" | "auto";
  /**
   * A value the metric must beat: until an epoch improves on it, the wait count is not reset, so
   * training stops after `patience` epochs without beating it (default: none).
   */
  baseline?: number;
  /** At the end, set the weights of the best epoch back into the model (default false). */
  restoreBestWeights?: boolean;
  /** Epochs to train before watching the metric at all, a warm-up (default 0). */
  startFromEpoch?: number;
}

/** Thrown when the monitored metric is missing from an epoch's logs. */
export class EarlyStoppingError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "EarlyStoppingError";
  }
}

/** The callback {@linkcode earlyStopping} returns; its fields tell what happened. */
export class EarlyStopping implements ModelAwareCallback {
  readonly monitor: string;
  readonly patience: number;
  readonly minDelta: number;
  readonly mode: "min" | "max";
  readonly restoreBestWeights: boolean;
  readonly baseline?: number;
  readonly startFromEpoch: number;
  stopTraining = false;
  /** Epoch after which training stopped, or -1. */
  stoppedEpoch = -1;
  /** Best epoch so far, or -1. */
  bestEpoch = -1;
  /** Best value of the monitored metric so far (Infinity, or -Infinity in "max" mode, before any). */
  best = Infinity;
  /** True when the best epoch's weights were set back at the end. */
  restored = false;
  #wait = 0;
  #lastEpoch = -1;
  #model?: TrainableModel;
  #bestWeights: tf.Tensor[] | null = null;

  constructor(options: EarlyStoppingOptions = {}) {
    this.monitor = options.monitor ?? "val_loss";
    this.patience = options.patience ?? 0;
    if (!Number.isInteger(this.patience) || this.patience < 0) {
      throw new RangeError(`earlyStopping: patience is ${this.patience}; use a whole number >= 0`);
    }
    this.minDelta = Math.abs(options.minDelta ?? 0);
    const mode = options.mode ?? "auto";
    this.mode = mode === "auto" ? (/(acc|accuracy|auc)$/.test(this.monitor) ? "max" : "min") : mode;
    this.restoreBestWeights = options.restoreBestWeights ?? false;
    this.baseline = options.baseline;
    this.startFromEpoch = options.startFromEpoch ?? 0;
    if (!Number.isInteger(this.startFromEpoch) || this.startFromEpoch < 0) {
      throw new RangeError(
        `earlyStopping: startFromEpoch is ${this.startFromEpoch}; use a whole number >= 0`,
      );
    }
    this.best = this.mode === "min" ? Infinity : -Infinity;
  }

  setModel(model: TrainableModel): void {
    this.#model = model;
  }

  onTrainBegin(): void {
    this.stopTraining = false;
    this.stoppedEpoch = -1;
    this.bestEpoch = -1;
    this.best = this.mode === "min" ? Infinity : -Infinity;
    this.restored = false;
    this.#wait = 0;
    this.#lastEpoch = -1;
    this.#dropBest();
    if (this.restoreBestWeights && !this.#model) {
      throw new EarlyStoppingError(
        "earlyStopping: restoreBestWeights needs the model; train with fitDataset, " +
          "fitCallbacks or trainCustomLoop, which hand it over",
      );
    }
  }

  onEpochEnd(epoch: number, logs: Logs): void {
    const current = logs[this.monitor];
    if (typeof current !== "number") {
      throw new EarlyStoppingError(
        `earlyStopping: monitor "${this.monitor}" is not in the epoch logs (they have ${
          Object.keys(logs).join(", ") || "nothing"
        }); pass validation data for val_* metrics or pick one of those`,
      );
    }
    if (epoch < this.startFromEpoch) return;
    this.#lastEpoch = epoch;
    this.#wait++;
    if (this.#improves(current, this.best)) {
      this.best = current;
      this.bestEpoch = epoch;
      if (this.restoreBestWeights) this.#keepWeights();
      // The wait starts again only when the epoch also beats the baseline.
      if (this.baseline === undefined || this.#improves(current, this.baseline)) {
        this.#wait = 0;
        return;
      }
    } else if (this.restoreBestWeights && !this.#bestWeights) {
      // No epoch improved yet (a NaN first): the first watched epoch's weights count as best.
      this.#keepWeights();
      this.bestEpoch = epoch;
    }
    if (this.#wait >= this.patience && epoch > 0) {
      this.stopTraining = true;
      this.stoppedEpoch = epoch;
    }
  }

  /** Better than `reference` by more than `minDelta` (false for NaN). */
  #improves(value: number, reference: number): boolean {
    return this.mode === "min"
      ? value + this.minDelta < reference
      : value - this.minDelta > reference;
  }

  #keepWeights(): void {
    if (!this.#model) return;
    this.#dropBest();
    this.#bestWeights = this.#model.getWeights().map((w) => tf.clone(w));
  }

  onTrainEnd(): void {
    if (this.#bestWeights && this.#model && this.bestEpoch !== this.#lastEpoch) {
      this.#model.setWeights(this.#bestWeights);
      this.restored = true;
    }
    this.#dropBest();
  }

  #dropBest(): void {
    if (this.#bestWeights) tf.dispose(this.#bestWeights);
    this.#bestWeights = null;
  }
}

/** Stops training when `monitor` stops improving (Keras: `callbacks.EarlyStopping`). */
export function earlyStopping(options: EarlyStoppingOptions = {}): EarlyStopping {
  return new EarlyStopping(options);
}
