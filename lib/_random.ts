/**
 * A small seeded pseudo-random generator (mulberry32) and the shuffles built
 * on it. Private to `lib/`: datasets and `MirroredStrategy` use it so that the
 * same seed gives the same subset and the same batch order on every machine.
 *
 * @example
 * ```ts
 * import { mulberry32, permutation } from "./_random.ts";
 * const next = mulberry32(42);
 * console.log(next(), permutation(5, 42));
 * ```
 *
 * @module
 */

/** A generator of uniform floats in [0, 1), fully determined by `seed` (any 32-bit integer). */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return (): number => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Shuffle `array` in place (Fisher–Yates) with a seeded generator; returns it. */
export function shuffleInPlace<T extends { length: number; [i: number]: number }>(
  array: T,
  seed: number,
): T {
  const next = mulberry32(seed);
  for (let i = array.length - 1; i > 0; i--) {
    const j = Math.floor(next() * (i + 1));
    const tmp = array[i];
    array[i] = array[j];
    array[j] = tmp;
  }
  return array;
}

/** The indices 0..n-1 in a seeded random order. */
export function permutation(n: number, seed: number): Uint32Array {
  const out = new Uint32Array(n);
  for (let i = 0; i < n; i++) out[i] = i;
  return shuffleInPlace(out, seed);
}

/** A random 32-bit seed, for shuffles whose caller gave none. */
export function randomSeed(): number {
  return crypto.getRandomValues(new Uint32Array(1))[0];
}

/**
 * One 32-bit seed from a (global, operation) seed pair, as TensorFlow's random
 * ops use both seeds "in conjunction": different pairs give unrelated streams.
 */
export function mixSeeds(globalSeed: number, opSeed: number): number {
  let h = Math.imul((globalSeed >>> 0) ^ 0x9e3779b9, 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13) ^ (opSeed >>> 0), 0xc2b2ae35);
  h = Math.imul(h ^ (h >>> 16), 0x27d4eb2f);
  return (h ^ (h >>> 15)) >>> 0;
}

/** The next seed for a tfjs random op from a generator: in [1, 2^31 - 1) (tfjs reads 0 as no seed). */
export function nextOpSeed(next: () => number): number {
  return 1 + Math.floor(next() * 0x7ffffffe);
}
