/**
 * Learning-rate schedules as {@linkcode TrainingCallback}s (Keras'
 * `LearningRateScheduler`): before each epoch the schedule sets the
 * optimizer's learning rate, and the epoch's logs get an `lr` entry so the
 * history plot can show it. The key is tf.keras 2.x's `lr` (Keras 3 renamed
 * it `learning_rate`).
 *
 * The schedule functions are Keras' `tf.keras.optimizers.schedules` formulas
 * ({@linkcode exponentialDecay} is `ExponentialDecay`, with `staircase`;
 * {@linkcode piecewiseConstantDecay} and {@linkcode cosineDecay} likewise,
 * without CosineDecay's warm-up); Keras evaluates them at every optimizer
 * step, and through {@linkcode learningRateScheduler} the step is the epoch.
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
  if (!(lr >= 0) || !Number.isFinite(lr)) {
    throw new LearningRateError(`learning rate ${lr} is not a finite number >= 0`);
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

/**
 * `initial * rate^(step / decaySteps)`, the exponent floored with `staircase`
 * (Keras' `ExponentialDecay`; `decaySteps` defaults to 1).
 */
export function exponentialDecay(
  options: { initial: number; rate: number; decaySteps?: number; staircase?: boolean },
): (step: number) => number {
  const decaySteps = options.decaySteps ?? 1;
  if (!(decaySteps > 0)) {
    throw new LearningRateError(`exponentialDecay: decaySteps is ${decaySteps}; use a number > 0`);
  }
  return (step) => {
    const p = step / decaySteps;
    return options.initial * Math.pow(options.rate, options.staircase ? Math.floor(p) : p);
  };
}

/**
 * `values[0]` while `step <= boundaries[0]`, `values[i]` while
 * `boundaries[i - 1] < step <= boundaries[i]`, and the last value after the
 * last boundary (Keras' `PiecewiseConstantDecay`).
 */
export function piecewiseConstantDecay(
  options: { boundaries: readonly number[]; values: readonly number[] },
): (step: number) => number {
  const { boundaries, values } = options;
  if (values.length !== boundaries.length + 1) {
    throw new LearningRateError(
      `piecewiseConstantDecay: ${values.length} values for ${boundaries.length} boundaries; pass one more value than boundaries`,
    );
  }
  return (step) => {
    const i = boundaries.findIndex((b) => step <= b);
    return values[i === -1 ? values.length - 1 : i];
  };
}

/**
 * `initial * ((1 - alpha) * 0.5 * (1 + cos(pi * min(step, decaySteps) / decaySteps)) + alpha)`:
 * from `initial` down to `alpha * initial` over `decaySteps`, then flat (Keras' `CosineDecay`
 * without warm-up; `alpha` defaults to 0).
 */
export function cosineDecay(
  options: { initial: number; decaySteps: number; alpha?: number },
): (step: number) => number {
  const { initial, decaySteps } = options;
  const alpha = options.alpha ?? 0;
  if (!(decaySteps > 0)) {
    throw new LearningRateError(`cosineDecay: decaySteps is ${decaySteps}; use a number > 0`);
  }
  return (step) => {
    const cosine = 0.5 * (1 + Math.cos(Math.PI * Math.min(step, decaySteps) / decaySteps));
    return initial * ((1 - alpha) * cosine + alpha);
  };
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
