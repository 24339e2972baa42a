/**
 * A custom layer with the two extras Keras' "Making new layers and models via
 * subclassing" guide adds to a Dense layer: a **non-trainable weight** and a
 * loss added with **`addLoss`**.
 *
 * `CountingDense` computes `x·W + b` like `SimpleDense`. It also keeps
 * `seen`, a non-trainable weight counting the examples it processed in
 * training (`training: true`; inference leaves it alone), and adds an L2
 * penalty `rate · Σ W²` with `addLoss`, which `fit` adds to the model's loss
 * (Keras: `self.add_loss(...)`). The penalty is added once, in `build`, as a
 * function of the kernel (like a kernel regularizer), so `layer.losses` holds
 * one entry however many times the layer is called, and its value follows the
 * current weights. Read it back with `model.calculateLosses()` (the values)
 * or `layer.losses`: tfjs's `model.losses` lists only losses added to the
 * model itself, where Keras' `model.losses` also gathers its layers'.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { CountingDense } from "./counting_dense.ts";
 * const layer = new CountingDense({ units: 2, l2: 0.01, seed: 1 });
 * tf.tidy(() => layer.apply(tf.ones([3, 4]), { training: true }) as tf.Tensor);
 * console.log(layer.trainableWeights.length, layer.nonTrainableWeights.length); // 2 1
 * console.log(layer.seenCount()); // 3
 * ```
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { kernelInit } from "./_init.ts";
import { baseArgs, type BaseLayerArgs } from "./_layer_args.ts";

/**
 * Constructor arguments of {@linkcode CountingDense} (also its config), with
 * the base layer's (`name`, `trainable`, `inputShape`, ...).
 */
export interface CountingDenseArgs extends BaseLayerArgs {
  units: number;
  /** Weight of the L2 penalty on the kernel added with `addLoss` (0: none). */
  l2?: number;
  seed?: number;
}

/** Dense with a non-trainable example counter and an `addLoss` L2 penalty. */
export class CountingDense extends tf.layers.Layer {
  /** The name under which the class is registered for (de)serialization. */
  static className = "CountingDense";
  readonly units: number;
  readonly l2: number;
  readonly seed?: number;
  private kernel: tf.LayerVariable | null = null;
  private bias: tf.LayerVariable | null = null;
  private seen: tf.LayerVariable | null = null;

  constructor(args: CountingDenseArgs) {
    super(baseArgs(args));
    if (!Number.isInteger(args.units) || args.units < 1) {
      throw new RangeError(`CountingDense: units is ${args.units}; use a whole number >= 1`);
    }
    const l2 = args.l2 ?? 0;
    if (!(l2 >= 0) || !Number.isFinite(l2)) {
      throw new RangeError(`CountingDense: l2 is ${args.l2}; use a finite number >= 0`);
    }
    this.units = args.units;
    this.l2 = l2;
    this.seed = args.seed ?? undefined;
  }

  override build(inputShape: tf.Shape | tf.Shape[]): void {
    const shape = (Array.isArray(inputShape[0]) ? inputShape[0] : inputShape) as tf.Shape;
    const inputDim = shape[shape.length - 1];
    if (inputDim == null) throw new RangeError("CountingDense: the last input axis must be known");
    this.kernel = this.addWeight(
      "kernel",
      [inputDim, this.units],
      "float32",
      kernelInit(this.seed, 0),
    );
    this.bias = this.addWeight("bias", [this.units], "float32", tf.initializers.zeros());
    // Keras: self.add_weight(name="seen", shape=(), initializer="zeros", trainable=False)
    this.seen = this.addWeight("seen", [], "float32", tf.initializers.zeros(), undefined, false);
    if (this.l2 > 0) {
      const kernel = this.kernel;
      this.addLoss(() => tf.tidy(() => kernel.read().square().sum().mul(this.l2)) as tf.Scalar);
    }
    this.inputSpec = [{ minNDim: 2, axes: { [-1]: inputDim } }];
    this.built = true;
  }

  override computeOutputShape(inputShape: tf.Shape | tf.Shape[]): tf.Shape {
    const shape = (Array.isArray(inputShape[0]) ? inputShape[0] : inputShape) as tf.Shape;
    return [...shape.slice(0, -1), this.units];
  }

  override call(inputs: tf.Tensor | tf.Tensor[], kwargs: Record<string, unknown>): tf.Tensor {
    return tf.tidy(() => {
      const x = Array.isArray(inputs) ? inputs[0] : inputs;
      if (kwargs["training"] === true) {
        this.seen!.write(this.seen!.read().add(x.shape[0]!));
      }
      return tf.add(tf.matMul(x, this.kernel!.read()), this.bias!.read());
    });
  }

  /** How many examples the layer has processed in training. */
  seenCount(): number {
    return this.seen ? this.seen.read().dataSync()[0] : 0;
  }

  override getConfig(): tf.serialization.ConfigDict {
    const config: tf.serialization.ConfigDict = { units: this.units, l2: this.l2 };
    if (this.seed !== undefined) config.seed = this.seed;
    return { ...super.getConfig(), ...config };
  }
}
tf.serialization.registerClass(CountingDense);
