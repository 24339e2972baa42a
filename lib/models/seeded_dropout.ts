/**
 * Dropout that is reproducible with a seed and still draws a new mask for
 * every training batch.
 *
 * `tf.layers.dropout({ rate, seed })` in TensorFlow.js passes the same seed to
 * the random generator on every call, so a seeded Dropout drops the SAME units
 * for every batch (a fixed pruning, not dropout). This layer counts its
 * training calls and draws the n-th mask from the stream named by the pair
 * `(seed, n)`, as Keras' `SeedGenerator` does (it advances a counter kept
 * apart from the seed): two runs with the same seed see the same sequence of
 * masks, consecutive batches see different ones, and no mask repeats the
 * draws of another seed. (An earlier version used the integer `seed + n`: the
 * layer seeded 4 then replayed, one batch later, the masks of the layer seeded
 * 3, and its second mask was the draws of any initializer seeded 5.)
 * Without a seed it behaves like the stock layer.
 *
 * It serializes as a plain Keras `Dropout` (same class name, same config), so
 * saved models load anywhere, including `tf.loadLayersModel` in a browser.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { seededDropout } from "./seeded_dropout.ts";
 * const model = tf.sequential({
 *   layers: [tf.layers.dense({ units: 4, inputShape: [2] }), seededDropout({ rate: 0.5, seed: 1 })],
 * });
 * console.log(model.layers[1].getClassName()); // "Dropout"
 * ```
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { SymbolicTensor } from "../v1/graph.ts";
import { dropout } from "../v1/random_ops.ts";
import { baseArgs, type BaseLayerArgs } from "./_layer_args.ts";

/** Options of {@linkcode seededDropout}. */
export interface SeededDropoutArgs extends BaseLayerArgs {
  /** Fraction of the inputs to drop, in [0, 1). */
  rate: number;
  /** Base seed; the n-th training call draws from the pair `(seed, n)`. Unseeded when omitted. */
  seed?: number;
}

/** A Dropout layer whose masks are reproducible from a seed (see the module doc). */
export class SeededDropout extends tf.layers.Layer {
  /** Serialized as Keras' own `Dropout`. */
  static className = "Dropout";
  readonly rate: number;
  readonly seed?: number;
  #calls = 0;

  constructor(args: SeededDropoutArgs) {
    super(baseArgs(args));
    if (!(args.rate >= 0 && args.rate < 1)) {
      throw new RangeError(`seededDropout: rate is ${args.rate}; use a number in [0, 1)`);
    }
    this.rate = args.rate;
    this.seed = args.seed ?? undefined;
    this.supportsMasking = true;
  }

  override call(inputs: tf.Tensor | tf.Tensor[], kwargs: Record<string, unknown>): tf.Tensor {
    const x = Array.isArray(inputs) ? inputs[0] : inputs;
    if (kwargs["training"] !== true || this.rate === 0) return x;
    // Inside tfFunction: a graph op that draws a new mask at every call, from the layer's seed
    // (tfjs's tf.dropout would draw once, at trace time).
    if (x instanceof SymbolicTensor) return dropout(x, this.rate, undefined, this.seed) as never;
    // A string seed names its own stream (tfjs hashes it): "4:1" is neither the
    // integer seed 5 of an initializer nor "5:0", the first mask of seed 5.
    const seed = this.seed === undefined ? undefined : `${this.seed}:${this.#calls++}`;
    return tf.dropout(x, this.rate, undefined, seed);
  }

  /** Start the masks again from the first one, as in a freshly built layer with the same seed. */
  restartMasks(): void {
    this.#calls = 0;
  }

  override computeOutputShape(inputShape: tf.Shape | tf.Shape[]): tf.Shape | tf.Shape[] {
    return inputShape;
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), rate: this.rate, noiseShape: null, seed: this.seed ?? null };
  }
}

/** A {@linkcode SeededDropout} layer: `seededDropout({ rate: 0.2, seed: 42 })`. */
export function seededDropout(args: SeededDropoutArgs): SeededDropout {
  return new SeededDropout(args);
}
