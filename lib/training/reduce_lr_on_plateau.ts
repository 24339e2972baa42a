/**
 * Keras' `ReduceLROnPlateau` as a {@linkcode TrainingCallback}: when a
 * monitored metric has not improved for `patience` epochs, multiply the
 * optimizer's learning rate by `factor` (never below `minLr`), then wait
 * `cooldown` epochs before counting again. The epoch's logs get the rate
 * in effect as `lr` (tf.keras 2.x's key; Keras 3 writes `learning_rate`).
 * A monitor missing from the logs throws (Keras warns), as in
 * {@linkcode earlyStopping}.
 *
 * @example
 * ```ts
 * import { reduceLROnPlateau } from "./reduce_lr_on_plateau.ts";
 * const reduce = reduceLROnPlateau({ monitor: "val_loss", factor: 0.2, patience: 5, minLr: 1e-4 });
 * // await fitDataset(model, train, { epochs: 30, batchSize: 64, validation, callbacks: [reduce] });
 * console.log(reduce.factor); // 0.2
 * ```
 *
 * @module
 */
import type * as tf from "@tensorflow/tfjs";
import type { Logs } from "./callbacks.ts";
import type { ModelAwareCallback, TrainableModel } from "./model_aware.ts";
import { getLearningRate, LearningRateError, setLearningRate } from "./lr_schedule.ts";

/** Options of {@linkcode reduceLROnPlateau} (Keras' defaults). */
export interface ReduceLROnPlateauOptions {
  /** The epoch metric to watch (default "val_loss"). */
  monitor?: string;
  /** `newLr = lr * factor`, below 1 (default 0.1). */
  factor?: number;
  /** Epochs without improvement before the rate drops (default 10). */
  patience?: number;
  /** "min", "max" or "auto" (default): max when the name contains "acc", as Keras infers it. */
  mode?: "min" | "max" | "auto";
  /** Smallest change that counts as an improvement (default 1e-4). */
  minDelta?: number;
  /** Epochs after a drop during which no epoch counts against patience (default 0). */
  cooldown?: number;
  /** Lower bound on the rate (default 0). */
  minLr?: number;
}

/** The callback {@linkcode reduceLROnPlateau} returns. */
export class ReduceLROnPlateau implements ModelAwareCallback {
  readonly monitor: string;
  readonly factor: number;
  readonly patience: number;
  readonly mode: "min" | "max";
  readonly minDelta: number;
  readonly cooldown: number;
  readonly minLr: number;
  /** Best value of the monitored metric so far. */
  best = Infinity;
  #wait = 0;
  #cooldownLeft = 0;
  #optimizer?: tf.Optimizer;

  constructor(options: ReduceLROnPlateauOptions = {}, optimizer?: tf.Optimizer) {
    this.monitor = options.monitor ?? "val_loss";
    this.factor = options.factor ?? 0.1;
    if (!(this.factor < 1)) {
      throw new LearningRateError(
        `reduceLROnPlateau: factor is ${this.factor}; it must be below 1 (Keras refuses >= 1)`,
      );
    }
    this.patience = options.patience ?? 10;
    this.cooldown = options.cooldown ?? 0;
    this.minDelta = options.minDelta ?? 1e-4;
    this.minLr = options.minLr ?? 0;
    const mode = options.mode ?? "auto";
    this.mode = mode === "auto" ? (this.monitor.includes("acc") ? "max" : "min") : mode;
    this.#optimizer = optimizer;
    this.#reset();
  }

  setModel(model: TrainableModel): void {
    if (model.optimizer) this.#optimizer = model.optimizer;
  }

  onTrainBegin(): void {
    this.#reset();
    if (!this.#optimizer) {
      throw new LearningRateError(
        "reduceLROnPlateau: no optimizer; compile the model first, or pass the optimizer",
      );
    }
  }

  onEpochEnd(_epoch: number, logs: Logs): void {
    const opt = this.#optimizer!;
    logs.lr = getLearningRate(opt);
    const current = logs[this.monitor];
    if (typeof current !== "number") {
      throw new LearningRateError(
        `reduceLROnPlateau: monitor "${this.monitor}" is not in the epoch logs (they have ${
          Object.keys(logs).join(", ")
        }); pass validation data for val_* metrics or pick one of those`,
      );
    }
    if (this.#cooldownLeft > 0) {
      this.#cooldownLeft--;
      this.#wait = 0;
    }
    const improved = this.mode === "min"
      ? current < this.best - this.minDelta
      : current > this.best + this.minDelta;
    if (improved) {
      this.best = current;
      this.#wait = 0;
    } else if (this.#cooldownLeft === 0 && ++this.#wait >= this.patience) {
      const lr = getLearningRate(opt);
      if (lr > Math.fround(this.minLr)) {
        setLearningRate(opt, Math.max(lr * this.factor, this.minLr));
        this.#cooldownLeft = this.cooldown;
        this.#wait = 0;
      }
    }
  }

  #reset(): void {
    this.best = this.mode === "min" ? Infinity : -Infinity;
    this.#wait = 0;
    this.#cooldownLeft = 0;
  }
}

/**
 * Lowers the learning rate when `monitor` stops improving (Keras:
 * `callbacks.ReduceLROnPlateau`). The optimizer comes from the model the loop
 * trains, or pass one for a loop that does not hand over a model.
 */
export function reduceLROnPlateau(
  options: ReduceLROnPlateauOptions = {},
  optimizer?: tf.Optimizer,
): ReduceLROnPlateau {
  return new ReduceLROnPlateau(options, optimizer);
}
