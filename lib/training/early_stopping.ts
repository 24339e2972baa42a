/**
 * Early stopping as a {@linkcode TrainingCallback}: stop when a monitored
 * metric has not improved for `patience` epochs, optionally rolling the
 * weights back to the best epoch at the end of training (Keras'
 * `EarlyStopping`; as in Keras 3, the best weights are restored whether or
 * not training stopped early). Works with
 * {@linkcode fitDataset}, `model.fit` (through `fitCallbacks`) and the custom
 * loop.
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
  /** "min" (losses), "max" (accuracies) or "auto": max when the name contains "acc" (default). */
  mode?: "min" | "max" | "auto";
  /** At the end, set the weights of the best epoch back into the model (default false). */
  restoreBestWeights?: boolean;
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
  stopTraining = false;
  /** Epoch after which training stopped, or -1. */
  stoppedEpoch = -1;
  /** Best epoch so far, or -1. */
  bestEpoch = -1;
  /** Best value of the monitored metric so far. */
  best = NaN;
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
    this.mode = mode === "auto" ? (/acc/.test(this.monitor) ? "max" : "min") : mode;
    this.restoreBestWeights = options.restoreBestWeights ?? false;
  }

  setModel(model: TrainableModel): void {
    this.#model = model;
  }

  onTrainBegin(): void {
    this.stopTraining = false;
    this.stoppedEpoch = -1;
    this.bestEpoch = -1;
    this.best = NaN;
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
    if (typeof current !== "number" || Number.isNaN(current)) {
      throw new EarlyStoppingError(
        `earlyStopping: monitor "${this.monitor}" is not in the epoch logs (they have ${
          Object.keys(logs).join(", ") || "nothing"
        }); pass validation data for val_* metrics or pick one of those`,
      );
    }
    this.#lastEpoch = epoch;
    const improved = this.bestEpoch < 0 ||
      (this.mode === "min"
        ? current < this.best - this.minDelta
        : current > this.best + this.minDelta);
    if (improved) {
      this.best = current;
      this.bestEpoch = epoch;
      this.#wait = 0;
      if (this.restoreBestWeights && this.#model) {
        this.#dropBest();
        this.#bestWeights = this.#model.getWeights().map((w) => tf.clone(w));
      }
      return;
    }
    this.#wait++;
    if (this.#wait >= this.patience) {
      this.stopTraining = true;
      this.stoppedEpoch = epoch;
    }
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
