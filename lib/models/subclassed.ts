/**
 * A "subclassed" model: layers as fields, the forward pass as a method, as in
 * Keras' `class DigitNet(tf.keras.Model)` with `__init__` and `call`. The
 * forward pass is plain code, so it could branch or loop freely; the price is
 * that it has no static graph to `compile`/`fit`/save as `model.json`, so it
 * is trained by a hand-written loop (`trainCustomLoop`, with a GradientTape)
 * and saved as weights.
 *
 * TensorFlow.js has no subclassable `Model` class, so this is the same idea
 * without the inheritance: `call(x, { training })` returns logits, `predict`
 * returns probabilities, and the weights are those of its layers. One
 * difference from Keras: a Keras subclassed model creates its weights at its
 * first call (its `summary()` raises before that); `DigitNet` runs one example
 * through in its constructor, so it is built, and summarized, at once. As in
 * Keras, its summary shows "multiple" for output shapes (no static graph), and
 * a frozen layer (`trainable = false`) leaves `trainableVariables`.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { DigitNet } from "./subclassed.ts";
 * const net = new DigitNet({ seed: 1 });
 * const p = net.predict(tf.zeros([2, 28, 28, 1]));
 * console.log(p.shape, net.countParams()); // [2, 10] 108618
 * net.dispose();
 * ```
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { dropoutSeed, kernelInit } from "./_init.ts";
import { simpleDense } from "./custom_layer.ts";
import { IMAGE_SHAPE } from "./sequential.ts";
import { seededDropout } from "./seeded_dropout.ts";

/** Options of {@linkcode DigitNet}. */
export interface DigitNetOptions {
  /** Filters of the two conv blocks (default [16, 32]). */
  filters?: [number, number];
  /** Width of the hidden dense layer (default 128). */
  denseUnits?: number;
  /** Dropout rate before the output layer (default 0.25). */
  dropout?: number;
  /** Seed for initial weights and dropout masks. */
  seed?: number;
  name?: string;
}

/**
 * The `cnn()` architecture as a subclassed model, its dense layers being the
 * custom `SimpleDense`. Built (weights created) on construction.
 */
export class DigitNet {
  readonly name: string;
  readonly conv1: tf.layers.Layer;
  readonly pool1: tf.layers.Layer;
  readonly conv2: tf.layers.Layer;
  readonly pool2: tf.layers.Layer;
  readonly flatten: tf.layers.Layer;
  readonly hidden: tf.layers.Layer;
  readonly dropout: tf.layers.Layer;
  readonly logits: tf.layers.Layer;
  /** The optimizer a training loop steps it with (set by `trainCustomLoop`). */
  optimizer?: tf.Optimizer;

  constructor(options: DigitNetOptions = {}) {
    const { seed } = options;
    const [f1, f2] = options.filters ?? [16, 32];
    this.name = options.name ?? "digit_net";
    this.conv1 = tf.layers.conv2d({
      filters: f1,
      kernelSize: 3,
      activation: "relu",
      kernelInitializer: kernelInit(seed, 0),
      name: `${this.name}/conv1`,
    });
    this.pool1 = tf.layers.maxPooling2d({ poolSize: 2, name: `${this.name}/pool1` });
    this.conv2 = tf.layers.conv2d({
      filters: f2,
      kernelSize: 3,
      activation: "relu",
      kernelInitializer: kernelInit(seed, 1),
      name: `${this.name}/conv2`,
    });
    this.pool2 = tf.layers.maxPooling2d({ poolSize: 2, name: `${this.name}/pool2` });
    this.flatten = tf.layers.flatten({ name: `${this.name}/flatten` });
    this.hidden = simpleDense({
      units: options.denseUnits ?? 128,
      activation: "relu",
      seed: seed === undefined ? undefined : seed + 2,
      name: `${this.name}/hidden`,
    });
    this.dropout = seededDropout({
      rate: options.dropout ?? 0.25,
      seed: dropoutSeed(seed, 0),
      name: `${this.name}/dropout`,
    });
    this.logits = simpleDense({
      units: 10,
      seed: seed === undefined ? undefined : seed + 3,
      name: `${this.name}/logits`,
    });
    // Build every layer by running one example through.
    tf.tidy(() => {
      this.call(tf.zeros([1, ...IMAGE_SHAPE]));
    });
  }

  /** The forward pass: images `[b, 28, 28, 1]` → logits `[b, 10]` (Keras' `call`). */
  call(x: tf.Tensor, options: { training?: boolean } = {}): tf.Tensor2D {
    return tf.tidy(() => {
      const kw = { training: options.training ?? false };
      let h = this.pool1.apply(this.conv1.apply(x), kw) as tf.Tensor;
      h = this.pool2.apply(this.conv2.apply(h), kw) as tf.Tensor;
      h = this.hidden.apply(this.flatten.apply(h)) as tf.Tensor;
      h = this.dropout.apply(h, kw) as tf.Tensor;
      return this.logits.apply(h) as tf.Tensor2D;
    });
  }

  /** Class probabilities (softmax of the logits), for inference. */
  predict(x: tf.Tensor): tf.Tensor2D {
    return tf.tidy(() => tf.softmax(this.call(x)));
  }

  /** The layers, in order of the forward pass. */
  get layers(): tf.layers.Layer[] {
    return [
      this.conv1,
      this.pool1,
      this.conv2,
      this.pool2,
      this.flatten,
      this.hidden,
      this.dropout,
      this.logits,
    ];
  }

  /** The variables a training step updates (Keras' `model.trainable_variables`). */
  get trainableVariables(): tf.Variable[] {
    return this.layers.flatMap((l) => l.trainableWeights.map((w) => w.read() as tf.Variable));
  }

  /** Number of weights. */
  countParams(): number {
    return this.layers.reduce((n, l) => n + l.countParams(), 0);
  }

  /** The current weights, in layer order (as `LayersModel.getWeights`). */
  getWeights(): tf.Tensor[] {
    return this.layers.flatMap((l) => l.getWeights());
  }

  /** Sets every weight, in the order of {@linkcode getWeights}. */
  setWeights(weights: tf.Tensor[]): void {
    const counts = this.layers.map((l) => l.weights.length);
    const expected = counts.reduce((a, b) => a + b, 0);
    if (weights.length !== expected) {
      throw new RangeError(
        `DigitNet.setWeights: expected ${expected} tensors, got ${weights.length}`,
      );
    }
    let i = 0;
    this.layers.forEach((l, k) => {
      l.setWeights(weights.slice(i, i + counts[k]));
      i += counts[k];
    });
  }

  /** Frees the weights. */
  dispose(): void {
    for (const l of this.layers) l.dispose();
  }
}
