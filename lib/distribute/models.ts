/**
 * The three benchmark models, built from a serialisable spec so that a Worker
 * can build the same model as the main thread (Workers share no JS objects).
 *
 * They mirror `../shared/bench/torch_reference.py`:
 * - `mlp`: 784-128-10 (ReLU);
 * - `small_cnn`: conv 5x5x8, pool, conv 5x5x16, pool, dense (tfjs-examples' MNIST CNN);
 * - `keras_cnn`: conv 3x3x32, pool, conv 3x3x64, pool, dropout 0.5, dense (keras.io's MNIST CNN).
 *
 * All take `[batch, 28, 28, 1]` float inputs and output 10 logits (no softmax:
 * the loss is softmax cross-entropy on logits, as in PyTorch's `cross_entropy`).
 *
 * @example
 * ```ts
 * import { buildModel } from "./models.ts";
 * const model = buildModel({ name: "small_cnn", seed: 1 });
 * console.log(model.countParams()); // 5994
 * ```
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";

/** The model names {@linkcode buildModel} knows. */
export const MODEL_NAMES = ["mlp", "small_cnn", "keras_cnn"] as const;

/** One of {@linkcode MODEL_NAMES}. */
export type ModelName = typeof MODEL_NAMES[number];

/** A serialisable description of a model (what a Worker receives). */
export interface ModelSpec {
  name: ModelName;
  /** Seed of the weight initialisers (same seed, same initial weights). Default 0. */
  seed?: number;
}

/** Thrown for a spec that names no known model. */
export class ModelSpecError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ModelSpecError";
  }
}

/** Build the model a {@linkcode ModelSpec} describes (not compiled). */
export function buildModel(spec: ModelSpec): tf.Sequential {
  let seed = spec.seed ?? 0;
  const init = () => ({
    kernelInitializer: tf.initializers.glorotUniform({ seed: seed++ }),
    biasInitializer: tf.initializers.zeros(),
  });
  const m = tf.sequential({ name: spec.name });
  switch (spec.name) {
    case "mlp":
      m.add(tf.layers.flatten({ inputShape: [28, 28, 1] }));
      m.add(tf.layers.dense({ units: 128, activation: "relu", ...init() }));
      m.add(tf.layers.dense({ units: 10, ...init() }));
      break;
    case "small_cnn":
      m.add(tf.layers.conv2d({
        inputShape: [28, 28, 1],
        filters: 8,
        kernelSize: 5,
        activation: "relu",
        ...init(),
      }));
      m.add(tf.layers.maxPooling2d({ poolSize: 2, strides: 2 }));
      m.add(tf.layers.conv2d({ filters: 16, kernelSize: 5, activation: "relu", ...init() }));
      m.add(tf.layers.maxPooling2d({ poolSize: 2, strides: 2 }));
      m.add(tf.layers.flatten());
      m.add(tf.layers.dense({ units: 10, ...init() }));
      break;
    case "keras_cnn":
      m.add(tf.layers.conv2d({
        inputShape: [28, 28, 1],
        filters: 32,
        kernelSize: 3,
        activation: "relu",
        ...init(),
      }));
      m.add(tf.layers.maxPooling2d({ poolSize: 2, strides: 2 }));
      m.add(tf.layers.conv2d({ filters: 64, kernelSize: 3, activation: "relu", ...init() }));
      m.add(tf.layers.maxPooling2d({ poolSize: 2, strides: 2 }));
      m.add(tf.layers.flatten());
      m.add(tf.layers.dropout({ rate: 0.5, seed: seed++ }));
      m.add(tf.layers.dense({ units: 10, ...init() }));
      break;
    default:
      throw new ModelSpecError(
        `model spec name ${JSON.stringify((spec as { name: unknown }).name)} is unknown: ` +
          `use one of ${MODEL_NAMES.join(", ")}`,
      );
  }
  return m;
}
