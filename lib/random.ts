/**
 * TensorFlow's random seeds: the global seed (`tf.random.set_seed`) and the
 * eager random ops that follow its four rules with an operation seed (`seed`):
 *
 * 1. neither seed: every call draws from an unseeded generator;
 * 2. global seed only: each call gets an operation seed from a counter the
 *    global seed starts, so a program run gives the same sequence of values,
 *    and `setSeed` again starts the sequence over;
 * 3. operation seed only: the default global seed (TF's `87654321`) is used;
 * 4. both: the pair determines the sequence.
 *
 * With an operation seed, all calls of one op (uniform, uniform int32, normal,
 * truncated normal) with the same seeds share one generator that moves on at
 * every call, as TF's cached kernel and its internal counter do: each call
 * gives new values, the same sequence per program run, reset by `setSeed`.
 * (tfjs's own `tf.randomUniform(shape, min, max, dtype, seed)` returns the
 * same values at every call.) Values are not TF's (another generator); the
 * equalities TF documents hold.
 *
 * The graph ops of `v1` (`v1.randomUniform`, ..., used inside `tfFunction`)
 * read the global seed when they are built: under a global seed an op with no
 * seed takes the next number of its graph's op counter, so every trace (every
 * `tf.function`) gives the same sequence. These eager functions draw in
 * JavaScript: inside a traced function they raise `RandomOpInTraceError`
 * (use the `v1` ops there).
 *
 * @example
 * ```ts
 * import { randomUniform, setSeed } from "./random.ts";
 * setSeed(1234);
 * const [a1, a2] = [randomUniform([1]), randomUniform([1])]; // A1, A2 (different)
 * setSeed(1234);
 * const [b1, b2] = [randomUniform([1]), randomUniform([1])]; // A1, A2 again
 * console.log(a1.dataSync()[0] === b1.dataSync()[0], a2.dataSync()[0] === b2.dataSync()[0]);
 * ```
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { mixSeeds, mulberry32, nextOpSeed } from "./_random.ts";

/** The global seed TF uses when an op has a seed and no global seed is set. */
export const DEFAULT_GRAPH_SEED = 87654321;
const MAXINT32 = 2 ** 31 - 1;

/** A bad seed, shape, bound or dtype given to a random op or to `setSeed`. */
export class RandomArgumentError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "RandomArgumentError";
  }
}

let globalSeed: number | null = null;
/** The stream of operation seeds the global seed starts (TF's `internal_operation_seed`). */
let opSeeds: (() => number) | null = null;
/** One generator per (op, dtype, global seed, op seed): TF's cached kernel and its counter. */
const streams = new Map<string, () => number>();

/** TF's `_truncate_seed`: a seed into [0, 2^31 - 1). */
function truncate(where: string, seed: number): number {
  if (!Number.isSafeInteger(seed)) {
    throw new RandomArgumentError(`${where}: seed must be an integer, got ${seed}`);
  }
  return ((seed % MAXINT32) + MAXINT32) % MAXINT32;
}

/**
 * Sets the global random seed (`tf.random.set_seed(seed)`), or clears it with
 * `null` (`set_seed(None)`). Resets the eager counters: the operation seeds
 * drawn for ops without a seed, and the sequences of ops with one.
 */
export function setSeed(seed: number | null): void {
  globalSeed = seed === null ? null : truncate("setSeed", seed);
  opSeeds = globalSeed === null ? null : mulberry32(globalSeed);
  streams.clear();
}

/** The global seed set by {@linkcode setSeed}, or `null` when none is set. */
export function getGlobalSeed(): number | null {
  return globalSeed;
}

/**
 * The (global, operation) seed pair an eager op uses given its own `opSeed`
 * (`tf.compat.v1.random.get_seed`): `[null, null]` when neither is set; the
 * default global seed with an op seed alone; with a global seed and no op
 * seed, the next operation seed of the global seed's counter (this call
 * moves it on).
 */
export function getSeed(opSeed?: number): [number, number] | [null, null] {
  const op = opSeed === undefined ? undefined : truncate("getSeed", opSeed);
  let seeds: [number, number] | [null, null];
  if (globalSeed !== null && opSeeds !== null) {
    seeds = [globalSeed, op ?? Math.floor(opSeeds() * MAXINT32)];
  } else if (op !== undefined) seeds = [DEFAULT_GRAPH_SEED, op];
  else return [null, null];
  return seeds[0] === 0 && seeds[1] === 0 ? [0, MAXINT32] : seeds; // as TF: (0, 0) means unseeded
}

/** The seed for one tfjs draw of `op` (undefined: unseeded), moving the op's sequence on. */
function drawSeed(op: string, dtype: string, seed: number | undefined): number | undefined {
  const [g, s] = getSeed(seed);
  if (g === null) return undefined;
  if (seed === undefined) return nextOpSeed(mulberry32(mixSeeds(g, s))); // a fresh op seed: first draw
  const key = `${op}/${dtype}/${g}/${s}`;
  let next = streams.get(key);
  if (!next) streams.set(key, next = mulberry32(mixSeeds(g, s)));
  return nextOpSeed(next);
}

function checkShape(where: string, shape: readonly number[]): number[] {
  if (!Array.isArray(shape) || !shape.every((d) => Number.isInteger(d) && d >= 0)) {
    throw new RandomArgumentError(
      `${where}: shape ${JSON.stringify(shape)} must be a list of sizes (integers >= 0)`,
    );
  }
  return [...shape];
}

function floatOnly(where: string, dtype: string): void {
  if (dtype !== "float32") {
    throw new RandomArgumentError(`${where}: dtype must be float32, got ${dtype}`);
  }
}

/** Options of {@linkcode randomUniform} (`tf.random.uniform`'s arguments). */
export interface UniformOptions {
  /** Lower bound, included (default 0). */
  minval?: number;
  /** Upper bound, excluded (default 1; required for int32). */
  maxval?: number;
  /** `float32` (default) or `int32`. */
  dtype?: "float32" | "int32";
  /** The operation seed (an integer). */
  seed?: number;
}

/**
 * Uniform values in `[minval, maxval)` (`tf.random.uniform(shape, minval,
 * maxval, dtype, seed)`), following TF's seed rules (see the module doc).
 */
export function randomUniform(shape: readonly number[], options: UniformOptions = {}): tf.Tensor {
  const { minval = 0, dtype = "float32", seed } = options;
  const dims = checkShape("randomUniform", shape);
  if (dtype === "int32") {
    const { maxval } = options;
    if (
      maxval === undefined || !Number.isInteger(minval) || !Number.isInteger(maxval) ||
      maxval <= minval
    ) {
      throw new RandomArgumentError(
        `randomUniform: an int32 draw needs integer minval < maxval (maxval is required), ` +
          `got ${minval} and ${maxval}`,
      );
    }
    const s = drawSeed("RandomUniformInt", dtype, seed);
    return tf.tidy(() =>
      tf.clipByValue(
        tf.floor(tf.randomUniform(dims, minval, maxval, "float32", s)),
        minval,
        maxval - 1,
      )
        .cast("int32")
    );
  }
  floatOnly("randomUniform", dtype);
  const maxval = options.maxval ?? 1;
  if (!(Number.isFinite(minval) && Number.isFinite(maxval) && minval < maxval)) {
    throw new RandomArgumentError(
      `randomUniform: minval must be below maxval, got ${minval} and ${maxval}`,
    );
  }
  return tf.randomUniform(dims, minval, maxval, "float32", drawSeed("RandomUniform", dtype, seed));
}

/** Options of {@linkcode randomNormal} and {@linkcode truncatedNormal}. */
export interface NormalOptions {
  /** The mean (default 0). */
  mean?: number;
  /** The standard deviation (default 1) of the normal distribution. */
  stddev?: number;
  /** Only `float32`. */
  dtype?: "float32";
  /** The operation seed (an integer). */
  seed?: number;
}

function normalArgs(where: string, options: NormalOptions): [number, number] {
  const { mean = 0, stddev = 1, dtype = "float32" } = options;
  floatOnly(where, dtype);
  if (!Number.isFinite(mean) || !(stddev >= 0 && Number.isFinite(stddev))) {
    throw new RandomArgumentError(
      `${where}: mean must be finite and stddev finite and >= 0, got ${mean} and ${stddev}`,
    );
  }
  return [mean, stddev];
}

/** Normal values (`tf.random.normal(shape, mean, stddev, dtype, seed)`), following TF's seed rules. */
export function randomNormal(shape: readonly number[], options: NormalOptions = {}): tf.Tensor {
  const dims = checkShape("randomNormal", shape);
  const [mean, stddev] = normalArgs("randomNormal", options);
  const s = drawSeed("RandomStandardNormal", "float32", options.seed);
  return tf.randomNormal(dims, mean, stddev, "float32", s);
}

/**
 * Normal values with those more than two standard deviations from the mean
 * redrawn (`tf.random.truncated_normal`), following TF's seed rules.
 */
export function truncatedNormal(shape: readonly number[], options: NormalOptions = {}): tf.Tensor {
  const dims = checkShape("truncatedNormal", shape);
  const [mean, stddev] = normalArgs("truncatedNormal", options);
  const s = drawSeed("TruncatedNormal", "float32", options.seed);
  return tf.truncatedNormal(dims, mean, stddev, "float32", s);
}
