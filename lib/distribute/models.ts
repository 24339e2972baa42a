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
import { seededDropout } from "../models/seeded_dropout.ts";

/** The model names {@linkcode buildModel} knows. */
export const MODEL_NAMES = ["mlp", "small_cnn", "keras_cnn"] as const;

/** One of {@linkcode MODEL_NAMES}. */
export type ModelName = typeof MODEL_NAMES[number];

/** A serialisable description of a model (what a Worker receives). */
export interface ModelSpec {
  name: ModelName;
  /**
   * Seed of the weight initialisers and the dropout masks (same seed, same initial weights
   * and masks; different seeds share no random stream). Default 0.
   */
  seed?: number;
  /**
   * How weights start. `"keras"` (default): Glorot-uniform kernels, zero biases,
   * as Keras does. `"torch"`: PyTorch's defaults for `nn.Linear` and `nn.Conv2d`,
   * kernels and biases uniform in ±1/√fan_in, for comparisons with a PyTorch run.
   */
  init?: "keras" | "torch";
}

/** Integer seeds each model seed owns (see {@linkcode buildModel}). */
const SEEDS_PER_MODEL = 16;

/** Thrown for a spec that names no known model. */
export class ModelSpecError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ModelSpecError";
  }
}

/** Build the model a {@linkcode ModelSpec} describes (not compiled). */
export function buildModel(spec: ModelSpec): tf.Sequential {
  // Each model seed owns the 16 integer seeds 16·seed … 16·seed + 15 (the Keras CNN uses 7):
  // with seed, seed + 1, … the model seeded 1 drew its first kernel from the stream of the
  // first bias of the model seeded 0, so "the mean over seeds" averaged related runs.
  let seed = (spec.seed ?? 0) * SEEDS_PER_MODEL;
  if (spec.init !== undefined && spec.init !== "keras" && spec.init !== "torch") {
    throw new ModelSpecError(
      `model spec init ${JSON.stringify(spec.init)}: use "keras" or "torch"`,
    );
  }
  // fanIn: inputs per output unit (kernel height × width × input channels).
  const init = (fanIn: number) =>
    spec.init === "torch"
      ? {
        // kaiming_uniform(a=√5) = varianceScaling(1/3, fanIn, uniform): bound 1/√fanIn.
        kernelInitializer: tf.initializers.varianceScaling({
          scale: 1 / 3,
          mode: "fanIn",
          distribution: "uniform",
          seed: seed++,
        }),
        biasInitializer: tf.initializers.randomUniform({
          minval: -1 / Math.sqrt(fanIn),
          maxval: 1 / Math.sqrt(fanIn),
          seed: seed++,
        }),
      }
      : {
        kernelInitializer: tf.initializers.glorotUniform({ seed: seed++ }),
        biasInitializer: tf.initializers.zeros(),
      };
  const m = tf.sequential({ name: spec.name });
  /** conv k×k×f1 – pool – conv k×k×f2 – pool – flatten – [dropout] – dense 10, "valid" convs. */
  const twoConvNet = (f1: number, f2: number, k: number, dropout: number) => {
    const side = Math.floor((Math.floor((28 - k + 1) / 2) - k + 1) / 2); // after both pools
    const conv = (filters: number, fanIn: number, first: boolean) =>
      tf.layers.conv2d({
        ...(first ? { inputShape: [28, 28, 1] } : {}),
        filters,
        kernelSize: k,
        activation: "relu",
        ...init(fanIn),
      });
    m.add(conv(f1, k * k, true));
    m.add(tf.layers.maxPooling2d({ poolSize: 2, strides: 2 }));
    m.add(conv(f2, k * k * f1, false));
    m.add(tf.layers.maxPooling2d({ poolSize: 2, strides: 2 }));
    m.add(tf.layers.flatten());
    // Not tf.layers.dropout({ seed }): seeded, it drops the same units every batch.
    if (dropout > 0) m.add(seededDropout({ rate: dropout, seed: seed++ }));
    m.add(tf.layers.dense({ units: 10, ...init(side * side * f2) }));
  };
  switch (spec.name) {
    case "mlp":
      m.add(tf.layers.flatten({ inputShape: [28, 28, 1] }));
      m.add(tf.layers.dense({ units: 128, activation: "relu", ...init(784) }));
      m.add(tf.layers.dense({ units: 10, ...init(128) }));
      break;
    case "small_cnn": // tfjs-examples/mnist
      twoConvNet(8, 16, 5, 0);
      break;
    case "keras_cnn": // keras.io mnist_convnet
      twoConvNet(32, 64, 3, 0.5);
      break;
    default:
      throw new ModelSpecError(
        `model spec name ${JSON.stringify((spec as { name: unknown }).name)} is unknown: ` +
          `use one of ${MODEL_NAMES.join(", ")}`,
      );
  }
  return m;
}
