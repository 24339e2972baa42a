/**
 * Learning-rate schedules as {@linkcode TrainingCallback}s (Keras'
 * `LearningRateScheduler`): before each epoch the schedule sets the
 * optimizer's learning rate, and the epoch's logs get an `lr` entry so the
 * history plot can show it.
 *
 * @example Halve the learning rate every 2 epochs
 * ```ts
 * import { learningRateScheduler, stepDecay } from "./lr_schedule.ts";
 * const schedule = stepDecay({ initial: 1e-3, factor: 0.5, every: 2 });
 * console.log([0, 1, 2, 3, 4].map((e) => schedule(e))); // [0.001, 0.001, 0.0005, 0.0005, 0.00025]
 * const cb = learningRateScheduler(schedule);
 * // await fitDataset(model, train, { epochs: 5, batchSize: 64, callbacks: [cb] });
 * ```
 *
 * @module
 */
import type * as tf from "@tensorflow/tfjs";
import type { Logs } from "./callbacks.ts";
import type { ModelAwareCallback, TrainableModel } from "./model_aware.ts";

/** Learning rate for an epoch (from 0), given the current one. */
export type Schedule = (epoch: number, currentLr: number) => number;

/** Thrown when a schedule cannot run (no optimizer, or a bad rate). */
export class LearningRateError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "LearningRateError";
  }
}

interface WithLearningRate {
  learningRate?: number;
  setLearningRate?(lr: number): void;
}

/** The optimizer's current learning rate (tfjs keeps it in a `learningRate` field). */
export function getLearningRate(optimizer: tf.Optimizer): number {
  const lr = (optimizer as unknown as WithLearningRate).learningRate;
  if (typeof lr !== "number") {
    throw new LearningRateError(
      `${optimizer.getClassName()} has no numeric learningRate; schedules need one`,
    );
  }
  return lr;
}

/**
 * Sets the optimizer's learning rate for the next steps. SGD and Momentum
 * cache `-lr` as a tensor, which their `setLearningRate` refreshes; Adam,
 * RMSProp and the others read the field on every step.
 */
export function setLearningRate(optimizer: tf.Optimizer, lr: number): void {
  if (!(lr > 0) || !Number.isFinite(lr)) {
    throw new LearningRateError(`learning rate ${lr} is not a positive finite number`);
  }
  getLearningRate(optimizer); // throws for an optimizer without one
  const o = optimizer as unknown as WithLearningRate;
  if (typeof o.setLearningRate === "function") o.setLearningRate(lr);
  else o.learningRate = lr;
}

/** `initial * factor^floor(epoch / every)`: drop by `factor` every `every` epochs. */
export function stepDecay(
  options: { initial: number; factor?: number; every?: number },
): (epoch: number) => number {
  const factor = options.factor ?? 0.5;
  const every = options.every ?? 1;
  if (!Number.isInteger(every) || every < 1) {
    throw new LearningRateError(`stepDecay: every is ${every}; use a whole number >= 1`);
  }
  return (epoch) => options.initial * Math.pow(factor, Math.floor(epoch / every));
}

/** `initial * rate^epoch`: a smooth exponential decay. */
export function exponentialDecay(
  options: { initial: number; rate: number },
): (epoch: number) => number {
  return (epoch) => options.initial * Math.pow(options.rate, epoch);
}

/** The callback {@linkcode learningRateScheduler} returns. */
export class LearningRateScheduler implements ModelAwareCallback {
  /** The rate set for each epoch so far. */
  readonly rates: number[] = [];
  #optimizer?: tf.Optimizer;
  readonly #schedule: Schedule;

  constructor(schedule: Schedule, optimizer?: tf.Optimizer) {
    this.#schedule = schedule;
    this.#optimizer = optimizer;
  }

  setModel(model: TrainableModel): void {
    if (model.optimizer) this.#optimizer = model.optimizer;
  }

  onTrainBegin(): void {
    this.rates.length = 0;
    if (!this.#optimizer) {
      throw new LearningRateError(
        "learningRateScheduler: no optimizer; compile the model first, or pass the optimizer",
      );
    }
  }

  onEpochBegin(epoch: number): void {
    const opt = this.#optimizer!;
    const lr = this.#schedule(epoch, getLearningRate(opt));
    setLearningRate(opt, lr);
    this.rates.push(lr);
  }

  onEpochEnd(_epoch: number, logs: Logs): void {
    logs.lr = getLearningRate(this.#optimizer!);
  }
}

/**
 * Sets the learning rate from `schedule(epoch, lr)` before each epoch (Keras:
 * `callbacks.LearningRateScheduler`). The optimizer comes from the model the
 * loop trains, or pass one for a loop that does not hand over a model.
 */
export function learningRateScheduler(
  schedule: Schedule,
  optimizer?: tf.Optimizer,
): LearningRateScheduler {
  return new LearningRateScheduler(schedule, optimizer);
}
