/**
 * The arguments every Keras layer takes, shared by the custom layers (private).
 *
 * @module
 */
import type * as tf from "@tensorflow/tfjs";

/**
 * What `tf.layers.Layer`'s constructor takes: `name`, `trainable`, `inputShape`,
 * `batchInputShape`, `batchSize`, `dtype`. A custom layer's config holds them
 * (`super.getConfig()`), so its constructor must pass them on for `fromConfig`
 * to give the same layer (Keras: `super().__init__(**kwargs)`).
 */
export type BaseLayerArgs = NonNullable<ConstructorParameters<typeof tf.layers.Layer>[0]>;

/** The base-layer fields of `args`, without the layer's own. */
export function baseArgs(args: BaseLayerArgs): BaseLayerArgs {
  const { inputShape, batchInputShape, batchSize, dtype, name, trainable } = args;
  return { inputShape, batchInputShape, batchSize, dtype, name, trainable };
}
