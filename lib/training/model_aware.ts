/**
 * The model-aware side of callbacks : Keras gives every callback the
 * model it trains (`set_model`); the shared {@linkcode TrainingCallback} shape
 * has no such hook, so loops here call an optional `setModel` when a callback
 * has one. Early stopping uses it to restore weights, learning-rate schedules
 * to reach the optimizer.
 *
 * @module
 */
import type * as tf from "@tensorflow/tfjs";
import type { TrainingCallback } from "./callbacks.ts";

/** What a loop hands to model-aware callbacks: weights and, when compiled, an optimizer. */
export interface TrainableModel {
  getWeights(): tf.Tensor[];
  setWeights(weights: tf.Tensor[]): void;
  /** The optimizer the loop steps with (a compiled LayersModel's, or a custom loop's). */
  optimizer?: tf.Optimizer;
  /** Set to true to end `model.fit` after the current batch (a LayersModel has it). */
  stopTraining?: boolean;
}

/** A callback that wants to see the model (e.g. {@linkcode earlyStopping}). */
export interface ModelAwareCallback extends TrainingCallback {
  setModel(model: TrainableModel): void;
}

/** Hands `model` to each callback that has a `setModel` method. */
export function setModelOn(callbacks: readonly TrainingCallback[], model: TrainableModel): void {
  for (const cb of callbacks) {
    const aware = cb as Partial<ModelAwareCallback>;
    if (typeof aware.setModel === "function") aware.setModel(model);
  }
}
