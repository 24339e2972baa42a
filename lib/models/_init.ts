/**
 * Seeded initializers shared by the model builders (private).
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";

/**
 * Kernel initializer for the `index`-th layer of a model: Glorot uniform (the
 * Keras default), seeded with a distinct seed per layer when `seed` is given.
 */
export function kernelInit(
  seed: number | undefined,
  index: number,
): ReturnType<typeof tf.initializers.glorotUniform> {
  return tf.initializers.glorotUniform(seed === undefined ? {} : { seed: seed + 1009 * index });
}

/** Seed for the `index`-th dropout layer of a model, or undefined when unseeded. */
export function dropoutSeed(seed: number | undefined, index: number): number | undefined {
  return seed === undefined ? undefined : seed * 7919 + 100_003 * (index + 1);
}
