/**
 * A custom Keras layer written from scratch, and a model that uses it.
 *
 * {@linkcode SimpleDense} is what Keras' "writing your own layer" guide
 * builds (`class MyDense(tf.keras.layers.Layer)`): it creates its own weights
 * in `build` once the input size is known, computes `activation(x·W + b)` in
 * `call`, reports its output shape in `computeOutputShape`, returns its
 * constructor arguments from `getConfig`, and is registered with
 * `tf.serialization.registerClass`, so models that contain it save and load.
 * (A browser page loading such a model must register the same class first.)
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { simpleDense } from "./custom_layer.ts";
 * const layer = simpleDense({ units: 3, activation: "relu", seed: 1 });
 * const y = layer.apply(tf.ones([2, 4])) as tf.Tensor;
 * console.log(y.shape, layer.countParams()); // [2, 3] 15
 * ```
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { dropoutSeed, kernelInit } from "./_init.ts";
import { baseArgs, type BaseLayerArgs } from "./_layer_args.ts";
import { IMAGE_SHAPE } from "./sequential.ts";
import { seededDropout } from "./seeded_dropout.ts";

/** Activations {@linkcode SimpleDense} knows. */
export type SimpleActivation = "linear" | "relu" | "sigmoid" | "tanh" | "softmax";

const ACTIVATIONS: Record<SimpleActivation, (x: tf.Tensor) => tf.Tensor> = {
  linear: (x) => x,
  relu: (x) => tf.relu(x),
  sigmoid: (x) => tf.sigmoid(x),
  tanh: (x) => tf.tanh(x),
  softmax: (x) => tf.softmax(x),
};

/** Constructor arguments of {@linkcode SimpleDense} (also its serialized config). */
export interface SimpleDenseArgs extends BaseLayerArgs {
  /** Output features. */
  units: number;
  /** Applied after `x·W + b` (default "linear"). */
  activation?: SimpleActivation;
  /** Seed of the Glorot-uniform kernel initializer. */
  seed?: number;
}

/** A fully connected layer with its own kernel and bias (see the module doc). */
export class SimpleDense extends tf.layers.Layer {
  /** The name under which the class is registered for (de)serialization. */
  static className = "SimpleDense";
  readonly units: number;
  readonly activation: SimpleActivation;
  readonly seed?: number;
  private kernel: tf.LayerVariable | null = null;
  private bias: tf.LayerVariable | null = null;

  constructor(args: SimpleDenseArgs) {
    // The base arguments go to Layer, so that from_config restores `trainable`, the input
    // shape of a first layer (`batchInputShape` in the config) and the dtype.
    super(baseArgs(args));
    if (!Number.isInteger(args.units) || args.units < 1) {
      throw new RangeError(`SimpleDense: units is ${args.units}; use a whole number >= 1`);
    }
    const activation = args.activation ?? "linear";
    if (!(activation in ACTIVATIONS)) {
      throw new RangeError(
        `SimpleDense: unknown activation "${activation}"; use one of ${
          Object.keys(ACTIVATIONS).join(", ")
        }`,
      );
    }
    this.units = args.units;
    this.activation = activation;
    this.seed = args.seed ?? undefined;
  }

  /** Creates the weights once the size of the input's last axis is known. */
  override build(inputShape: tf.Shape | tf.Shape[]): void {
    const shape = (Array.isArray(inputShape[0]) ? inputShape[0] : inputShape) as tf.Shape;
    const inputDim = shape[shape.length - 1];
    if (inputDim == null) throw new RangeError("SimpleDense: the last input axis must be known");
    this.kernel = this.addWeight(
      "kernel",
      [inputDim, this.units],
      "float32",
      kernelInit(this.seed, 0),
    );
    this.bias = this.addWeight("bias", [this.units], "float32", tf.initializers.zeros());
    // Keras' input_spec: later calls must keep the feature size the weights were built for.
    this.inputSpec = [{ minNDim: 2, axes: { [-1]: inputDim } }];
    this.built = true;
  }

  override computeOutputShape(inputShape: tf.Shape | tf.Shape[]): tf.Shape {
    const shape = (Array.isArray(inputShape[0]) ? inputShape[0] : inputShape) as tf.Shape;
    return [...shape.slice(0, -1), this.units];
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.tidy(() => {
      const x = Array.isArray(inputs) ? inputs[0] : inputs;
      const y = tf.add(tf.matMul(x, this.kernel!.read()), this.bias!.read());
      return ACTIVATIONS[this.activation](y);
    });
  }

  override getConfig(): tf.serialization.ConfigDict {
    const config: tf.serialization.ConfigDict = {
      units: this.units,
      activation: this.activation,
    };
    if (this.seed !== undefined) config.seed = this.seed;
    return { ...super.getConfig(), ...config };
  }
}
tf.serialization.registerClass(SimpleDense);

/** A {@linkcode SimpleDense} layer: `simpleDense({ units: 128, activation: "relu" })`. */
export function simpleDense(args: SimpleDenseArgs): SimpleDense {
  return new SimpleDense(args);
}

/**
 * The MLP of `mlp()` with its two Dense layers replaced by
 * {@linkcode SimpleDense}: same shapes, same parameter count (101,770).
 */
export function customLayerMlp(
  options: { units?: number; dropout?: number; seed?: number } = {},
): tf.Sequential {
  const { seed } = options;
  const units = options.units ?? 128;
  const drop = options.dropout ?? 0.2;
  const model = tf.sequential({ name: "custom_layer_mlp" });
  model.add(tf.layers.flatten({ inputShape: IMAGE_SHAPE, name: "flatten" }));
  model.add(simpleDense({ units, activation: "relu", seed, name: "hidden" }));
  if (drop > 0) {
    model.add(seededDropout({ rate: drop, seed: dropoutSeed(seed, 0), name: "dropout" }));
  }
  model.add(simpleDense({
    units: 10,
    activation: "softmax",
    seed: seed === undefined ? undefined : seed + 1,
    name: "output",
  }));
  return model;
}
