/**
 * Models built with the functional API (`tf.input` → layers applied to
 * symbolic tensors → `tf.model({ inputs, outputs })`).
 *
 * {@linkcode functionalCnn} is the Sequential `cnn()` rebuilt this way: same
 * layers, same parameter count. {@linkcode residualCnn} is one the Sequential
 * API cannot express: a block whose input is added to its output (a skip
 * connection, as in ResNet), so one layer feeds two others.
 *
 * @example
 * ```ts
 * import { functionalCnn, residualCnn } from "./functional.ts";
 * console.log(functionalCnn({ seed: 1 }).countParams()); // 108618, as cnn()
 * const res = residualCnn({ seed: 1 });
 * console.log(res.layers.find((l) => l.getClassName() === "Add")?.name); // "skip_add"
 * ```
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { dropoutSeed, kernelInit } from "./_init.ts";
import { type CnnOptions, IMAGE_SHAPE } from "./sequential.ts";
import { seededDropout } from "./seeded_dropout.ts";

/** The `cnn()` architecture, written with the functional API. */
export function functionalCnn(options: CnnOptions = {}): tf.LayersModel {
  const [f1, f2] = options.filters ?? [16, 32];
  const k = options.kernelSize ?? 3;
  const drop = options.dropout ?? 0.25;
  const { seed } = options;
  const input = tf.input({ shape: IMAGE_SHAPE, name: "image" });
  let x = tf.layers.conv2d({
    filters: f1,
    kernelSize: k,
    activation: "relu",
    kernelInitializer: kernelInit(seed, 0),
    name: "conv1",
  }).apply(input) as tf.SymbolicTensor;
  x = tf.layers.maxPooling2d({ poolSize: 2, name: "pool1" }).apply(x) as tf.SymbolicTensor;
  x = tf.layers.conv2d({
    filters: f2,
    kernelSize: k,
    activation: "relu",
    kernelInitializer: kernelInit(seed, 1),
    name: "conv2",
  }).apply(x) as tf.SymbolicTensor;
  x = tf.layers.maxPooling2d({ poolSize: 2, name: "pool2" }).apply(x) as tf.SymbolicTensor;
  x = tf.layers.flatten({ name: "flatten" }).apply(x) as tf.SymbolicTensor;
  x = tf.layers.dense({
    units: options.denseUnits ?? 128,
    activation: "relu",
    kernelInitializer: kernelInit(seed, 2),
    name: "dense",
  }).apply(x) as tf.SymbolicTensor;
  if (drop > 0) {
    x = seededDropout({ rate: drop, seed: dropoutSeed(seed, 0), name: "dropout" })
      .apply(x) as tf.SymbolicTensor;
  }
  const output = tf.layers.dense({
    units: options.classes ?? 10,
    activation: "softmax",
    kernelInitializer: kernelInit(seed, 3),
    name: "output",
  }).apply(x) as tf.SymbolicTensor;
  return tf.model({ inputs: input, outputs: output, name: options.name ?? "functional_cnn" });
}

/** Options of {@linkcode residualCnn}. */
export interface ResidualCnnOptions {
  /** Channels of the stem and the residual block (default 8; the last conv has twice as many). */
  filters?: number;
  /** Dropout before the output layer (default 0.25). */
  dropout?: number;
  /** Seed for initial weights and dropout masks. */
  seed?: number;
}

/**
 * Conv(3x3, same) → residual block [Conv → Conv, added to its input] →
 * max-pool → Conv → max-pool → Flatten → Dropout → Dense(10, softmax).
 * Keras: `y = layers.Add()([x, block(x)])`.
 */
export function residualCnn(options: ResidualCnnOptions = {}): tf.LayersModel {
  const f = options.filters ?? 8;
  const { seed } = options;
  const conv = (filters: number, i: number, activation: "relu" | "linear", name: string) =>
    tf.layers.conv2d({
      filters,
      kernelSize: 3,
      padding: "same",
      activation,
      kernelInitializer: kernelInit(seed, i),
      name,
    });
  const input = tf.input({ shape: IMAGE_SHAPE, name: "image" });
  const stem = conv(f, 0, "relu", "stem").apply(input) as tf.SymbolicTensor;
  let y = conv(f, 1, "relu", "block_conv1").apply(stem) as tf.SymbolicTensor;
  y = conv(f, 2, "linear", "block_conv2").apply(y) as tf.SymbolicTensor;
  // The skip connection: the block's input joins its output.
  let x = tf.layers.add({ name: "skip_add" }).apply([stem, y]) as tf.SymbolicTensor;
  x = tf.layers.activation({ activation: "relu", name: "block_relu" }).apply(
    x,
  ) as tf.SymbolicTensor;
  x = tf.layers.maxPooling2d({ poolSize: 2, name: "pool1" }).apply(x) as tf.SymbolicTensor;
  x = conv(2 * f, 3, "relu", "conv2").apply(x) as tf.SymbolicTensor;
  x = tf.layers.maxPooling2d({ poolSize: 2, name: "pool2" }).apply(x) as tf.SymbolicTensor;
  x = tf.layers.flatten({ name: "flatten" }).apply(x) as tf.SymbolicTensor;
  const drop = options.dropout ?? 0.25;
  if (drop > 0) {
    x = seededDropout({ rate: drop, seed: dropoutSeed(seed, 0), name: "dropout" })
      .apply(x) as tf.SymbolicTensor;
  }
  const output = tf.layers.dense({
    units: 10,
    activation: "softmax",
    kernelInitializer: kernelInit(seed, 4),
    name: "probabilities",
  }).apply(x) as tf.SymbolicTensor;
  return tf.model({ inputs: input, outputs: output, name: "residual_cnn" });
}
