/**
 * Keras' stateful metrics (`tf.keras.metrics.Mean`, `Accuracy`,
 * `SparseCategoricalAccuracy`, `CategoricalAccuracy`), as a hand-written
 * training loop uses them: `updateState` after each batch, `result()` for the
 * value over every example since the last `resetState()`, `resetState()` at
 * the end of each epoch. Each keeps two numbers, a weighted `total` and a
 * `count`; `result()` is `total / count`, and 0 before any update (Keras
 * divides with `divide_no_nan`). A sample weight of 0 masks an example.
 * `result()` returns a number where Keras returns a scalar tensor.
 *
 * @example The custom-loop guide's accuracy over two batches
 * ```ts
 * import { SparseCategoricalAccuracy } from "./keras_metrics.ts";
 * const acc = new SparseCategoricalAccuracy();
 * acc.updateState([2, 1], [[0.1, 0.6, 0.3], [0.05, 0.95, 0]]); // 1 of 2 right
 * acc.updateState([0], [[0.9, 0.05, 0.05]]); // 1 of 1 right
 * console.log(acc.result()); // 0.666...: 2 of the 3 examples so far
 * acc.resetState();
 * console.log(acc.result()); // 0
 * ```
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";

/** Values a metric takes: a tensor or (nested) arrays of numbers. */
export type MetricInput = tf.Tensor | number | number[] | number[][] | number[][][];

const asTensor = (x: MetricInput): tf.Tensor => x instanceof tf.Tensor ? x : tf.tensor(x);

/** Weighted sum and weight of `values`; one weight per example broadcasts over the rest. */
function weighted(values: tf.Tensor, sampleWeight?: MetricInput): [tf.Tensor, tf.Tensor] {
  if (sampleWeight === undefined) return [tf.sum(values), tf.scalar(values.size)];
  let w = tf.cast(asTensor(sampleWeight), "float32");
  if (w.size === values.size) w = tf.reshape(w, values.shape);
  else {
    while (w.rank < values.rank) w = tf.expandDims(w, -1);
    w = tf.broadcastTo(w, values.shape);
  }
  return [tf.sum(tf.mul(values, w)), tf.sum(w)];
}

/** The running `total` and `count` every metric here keeps. */
abstract class WeightedMean {
  /** Sum of the weighted values since the last reset. */
  total = 0;
  /** Sum of the weights since the last reset. */
  count = 0;

  constructor(readonly name: string) {}

  /** `total / count`, 0 before any update. */
  result(): number {
    return this.count === 0 ? 0 : this.total / this.count;
  }

  /** Forgets every update (Keras' `reset_state`, called at each epoch's start by `fit`). */
  resetState(): void {
    this.total = 0;
    this.count = 0;
  }

  protected add(values: () => tf.Tensor, sampleWeight?: MetricInput): void {
    const [t, c] = tf.tidy(() => weighted(tf.cast(values(), "float32"), sampleWeight));
    this.total += t.dataSync()[0];
    this.count += c.dataSync()[0];
    tf.dispose([t, c]);
  }
}

/** The weighted mean of the values given (`tf.keras.metrics.Mean`). */
export class Mean extends WeightedMean {
  constructor(name = "mean") {
    super(name);
  }

  /** Adds `values`, each weighted by `sampleWeight` (default 1). */
  updateState(values: MetricInput, sampleWeight?: MetricInput): void {
    this.add(() => asTensor(values), sampleWeight);
  }
}

/** A mean over examples of a 0/1 match between labels and predictions. */
abstract class MatchMean extends WeightedMean {
  protected abstract matches(yTrue: tf.Tensor, yPred: tf.Tensor): tf.Tensor;

  /** Adds one batch of labels and predictions, each example weighted by `sampleWeight`. */
  updateState(yTrue: MetricInput, yPred: MetricInput, sampleWeight?: MetricInput): void {
    this.add(() => this.matches(asTensor(yTrue), asTensor(yPred)), sampleWeight);
  }
}

/** How often predictions equal labels, element by element (`tf.keras.metrics.Accuracy`). */
export class Accuracy extends MatchMean {
  constructor(name = "accuracy") {
    super(name);
  }
  protected matches(yTrue: tf.Tensor, yPred: tf.Tensor): tf.Tensor {
    return tf.equal(yTrue, yPred);
  }
}

/**
 * How often the arg-max of the predictions (probabilities or logits) is the
 * integer label (`tf.keras.metrics.SparseCategoricalAccuracy`); labels may be
 * `[b]` or `[b, 1]`.
 */
export class SparseCategoricalAccuracy extends MatchMean {
  constructor(name = "sparse_categorical_accuracy") {
    super(name);
  }
  protected matches(yTrue: tf.Tensor, yPred: tf.Tensor): tf.Tensor {
    return tf.equal(tf.reshape(tf.cast(yTrue, "int32"), [-1]), tf.argMax(yPred, -1));
  }
}

/** How often the arg-max of the predictions is the one-hot label's (`tf.keras.metrics.CategoricalAccuracy`). */
export class CategoricalAccuracy extends MatchMean {
  constructor(name = "categorical_accuracy") {
    super(name);
  }
  protected matches(yTrue: tf.Tensor, yPred: tf.Tensor): tf.Tensor {
    return tf.equal(tf.argMax(yTrue, -1), tf.argMax(yPred, -1));
  }
}
