/**
 * Random graph ops: `RandomUniform`, `RandomUniformInt`, `RandomStandardNormal`,
 * `TruncatedNormal`, `RandomGamma`, and `dropout` built on `RandomUniform`.
 * Each draws anew every time it runs (a session run, a call of a traced
 * function), as TensorFlow's stateful random ops do; a draw has no gradient
 * (TF's random ops are not differentiable), but gradients flow around it:
 * `randomNormal(shape, mean, stddev)` is `RandomStandardNormal · stddev + mean`
 * as in TF, so a graph tensor `mean` or `stddev` gets its gradient, and
 * `dropout(x)`'s gradient with respect to `x` is the kept mask scaled.
 *
 * Seeds (`tf.random.set_seed`'s rules): with neither an op `seed` nor a
 * global seed (`setSeed` of `../random.ts`), every run draws from tfjs's
 * unseeded generator. With a `seed`, the op gets its own generator seeded by
 * it and the global seed (TF's default global seed when none is set): each run
 * gives new values, and a graph built again (a new trace, a new program) gives
 * the same sequence of values run after run. With a global seed and no op
 * seed, the op's seed is the next number of its graph's op counter (counted
 * across the branches and loop bodies of the graph), read when the op is
 * built: each trace of a `tf.function` draws the same sequence, and `setSeed`
 * later changes only graphs built after it. Not implemented: the stateless
 * ops (`tf.random.stateless_*`) and `tf.random.Generator`.
 * An unused draw does not run (TF prunes legacy random ops too).
 *
 * Not supported: differentiating a `cond`/`whileLoop` or a nested traced
 * function that draws inside (their gradients run them again, which would draw
 * other numbers): that raises a `GraphError` saying so. Draw outside them.
 *
 * @example
 * ```ts
 * import { Graph } from "./graph.ts";
 * import { randomNormal } from "./random_ops.ts";
 * import { Session } from "./session.ts";
 * const g = new Graph();
 * const z = g.asDefault(() => randomNormal([2], 0, 1));
 * const sess = new Session(g);
 * console.log(sess.run(z), sess.run(z)); // two different draws
 * ```
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import {
  type DType,
  getDefaultGraph,
  GraphError,
  type Shape,
  SymbolicTensor,
  type TensorLike,
} from "./graph.ts";
import {
  add,
  addOp,
  cast,
  constant,
  div,
  equal,
  greaterEqual,
  kernels,
  mul,
  shapeOf,
  sub,
  toSymbolic,
} from "./ops.ts";
import { where } from "./math_array_ops.ts";
import { gradFns } from "./gradients.ts";
import type { Graph, Operation } from "./graph.ts";
import { mixSeeds, mulberry32, nextOpSeed } from "../_random.ts";
import { DEFAULT_GRAPH_SEED, getGlobalSeed } from "../random.ts";

/** The shape of a draw: a list of sizes, or an int32 vector computed by the graph (e.g. `shapeOf(x)`). */
export type DrawShape = number[] | SymbolicTensor;

/** Adds a draw of `type` with the given shape (static list or int32 vector input). */
function draw(
  type: string,
  caller: string,
  shape: DrawShape,
  attrs: Record<string, number>,
  seed: number | undefined,
  name?: string,
  dtype: DType = "float32",
): SymbolicTensor {
  if (seed !== undefined && !Number.isInteger(seed)) {
    throw new GraphError(`${caller}: seed must be an integer, got ${seed}`);
  }
  const seeds = { seed: seed ?? null, globalSeed: getGlobalSeed() };
  if (shape instanceof SymbolicTensor) {
    if (shape.dtype !== "int32" || (!shape.unknownRank && shape.rank !== 1)) {
      throw new GraphError(`${caller}: shape ${shape.toString()} must be an int32 vector`);
    }
    const n = shape.unknownRank ? null : shape.shape[0];
    const out = n === null
      ? { dtype, shape: [] as Shape, unknownRank: true }
      : { dtype, shape: Array<number | null>(n).fill(null) };
    return addOp(type, [shape], { ...attrs, ...opSeeds(seeds) }, [out], name).output;
  }
  if (!Array.isArray(shape) || !shape.every((d) => Number.isInteger(d) && d >= 0)) {
    throw new GraphError(
      `${caller}: shape ${JSON.stringify(shape)} must be a list of sizes (integers >= 0) ` +
        `or an int32 vector graph tensor`,
    );
  }
  return addOp(
    type,
    [],
    { ...attrs, shape: [...shape], ...opSeeds(seeds) },
    [{ dtype, shape: [...shape] }],
    name,
  ).output;
}

/** Ops built under a global seed without an op seed, per outermost graph (TF's `_graph_to_seed_dict`). */
const opCounts = new WeakMap<Graph, number>();

/** The seed attributes of a new draw: under a global seed, a missing op seed is the graph's op counter. */
function opSeeds(
  seeds: { seed: number | null; globalSeed: number | null },
): { seed: number | null; globalSeed: number | null } {
  if (seeds.globalSeed === null || seeds.seed !== null) return seeds;
  let g = getDefaultGraph();
  while (g.parent) g = g.parent;
  const n = opCounts.get(g) ?? 0;
  opCounts.set(g, n + 1);
  return { ...seeds, seed: n };
}

/** The ops that must draw float32 (TF raises for other dtypes). */
function floatOnly(where: string, dtype: DType): void {
  if (dtype !== "float32") {
    throw new GraphError(`${where}: dtype must be float32 here, got ${dtype}`);
  }
}

/** `a · scale + offset`, skipping the identities (as TF's python wrappers build it). */
function affine(a: SymbolicTensor, scale: TensorLike, offset: TensorLike): SymbolicTensor {
  const y = scale === 1 ? a : mul(a, scale);
  return offset === 0 ? y : add(y, offset);
}

/**
 * Uniform values in `[minval, maxval)` (`tf.random.uniform`): float32 by
 * default, or int32 (`RandomUniformInt`; integer bounds, `maxval` excluded).
 * For float32, `minval` and `maxval` may be graph tensors.
 */
export function randomUniform(
  shape: DrawShape,
  minval: TensorLike = 0,
  maxval: TensorLike = 1,
  dtype: DType = "float32",
  seed?: number,
  name?: string,
): SymbolicTensor {
  if (dtype === "int32") {
    if (
      typeof minval !== "number" || typeof maxval !== "number" || !Number.isInteger(minval) ||
      !Number.isInteger(maxval) || maxval <= minval
    ) {
      throw new GraphError(
        `randomUniform: an int32 draw needs integer numbers minval < maxval, got ` +
          `${String(minval)} and ${String(maxval)}`,
      );
    }
    return draw("RandomUniformInt", "randomUniform", shape, { minval, maxval }, seed, name, dtype);
  }
  floatOnly("randomUniform", dtype);
  const u = draw("RandomUniform", "randomUniform", shape, {}, seed, name);
  const range = typeof minval === "number" && typeof maxval === "number"
    ? maxval - minval
    : sub(maxval, minval);
  return affine(u, range, minval);
}

/** Normal values (`tf.random.normal`): `RandomStandardNormal · stddev + mean`. */
export function randomNormal(
  shape: DrawShape,
  mean: TensorLike = 0,
  stddev: TensorLike = 1,
  dtype: DType = "float32",
  seed?: number,
  name?: string,
): SymbolicTensor {
  floatOnly("randomNormal", dtype);
  const z = draw("RandomStandardNormal", "randomNormal", shape, {}, seed, name);
  return affine(z, stddev, mean);
}

/** Standard normal values (tfjs's `tf.randomStandardNormal`). */
export function randomStandardNormal(
  shape: DrawShape,
  dtype: DType = "float32",
  seed?: number,
  name?: string,
): SymbolicTensor {
  return randomNormal(shape, 0, 1, dtype, seed, name);
}

/**
 * Normal values more than two standard deviations from the mean redrawn
 * (`tf.random.truncated_normal`): `TruncatedNormal · stddev + mean`.
 */
export function truncatedNormal(
  shape: DrawShape,
  mean: TensorLike = 0,
  stddev: TensorLike = 1,
  dtype: DType = "float32",
  seed?: number,
  name?: string,
): SymbolicTensor {
  floatOnly("truncatedNormal", dtype);
  const z = draw("TruncatedNormal", "truncatedNormal", shape, {}, seed, name);
  return affine(z, stddev, mean);
}

/**
 * Gamma values of shape `alpha` (concentration) and rate `beta`
 * (`tf.random.gamma` with numbers `alpha`, `beta`: mean `alpha / beta`).
 * No gradient (TF's reparameterized gradient with respect to `alpha` is not implemented).
 */
export function randomGamma(
  shape: DrawShape,
  alpha: number,
  beta = 1,
  dtype: DType = "float32",
  seed?: number,
  name?: string,
): SymbolicTensor {
  floatOnly("randomGamma", dtype);
  if (!(alpha > 0) || !(beta > 0)) {
    throw new GraphError(`randomGamma: alpha and beta must be positive, got ${alpha} and ${beta}`);
  }
  const g = draw("RandomGamma", "randomGamma", shape, { alpha }, seed, name);
  return beta === 1 ? g : div(g, beta);
}

/**
 * `tf.nn.dropout(x, rate, noise_shape, seed)`: each element of `x` (each slice,
 * with a `noiseShape` of 1s) is zeroed with probability `rate` and the others
 * are scaled by `1 / (1 - rate)`, with a new mask at every run. A `null` in
 * `noiseShape` takes `x`'s size there (at run time if unknown).
 */
export function dropout(
  x: TensorLike,
  rate: number,
  noiseShape?: (number | null)[],
  seed?: number,
  name = "dropout",
): SymbolicTensor {
  const sx = toSymbolic(x);
  if (sx.dtype !== "float32") {
    throw new GraphError(`dropout: x must be float32 (it is scaled), got ${sx.dtype}`);
  }
  if (!(rate >= 0 && rate < 1)) {
    throw new GraphError(`dropout: rate must be in [0, 1), got ${rate}`);
  }
  const dims = noiseShape ?? (sx.unknownRank ? null : sx.shape.map(() => null));
  if (dims === null) {
    return dropoutWithMask(sx, rate, randomUniform(shapeOf(sx), 0, 1, "float32", seed, name));
  }
  if (!sx.unknownRank && dims.length !== sx.rank) {
    throw new GraphError(
      `dropout: noiseShape ${JSON.stringify(dims)} must have x's rank ${sx.rank}`,
    );
  }
  const filled = dims.map((d, i) => d ?? (sx.unknownRank ? null : sx.shape[i]));
  const shape: DrawShape = filled.every((d) => d !== null) ? filled as number[] : where(
    equal(constant(filled.map((d) => d ?? -1), "int32"), -1),
    shapeOf(sx),
    constant(filled.map((d) => d ?? -1), "int32"),
  );
  return dropoutWithMask(sx, rate, randomUniform(shape, 0, 1, "float32", seed, name));
}

/** TF's dropout: `x · 1/(1 - rate) · cast(u >= rate)`. */
function dropoutWithMask(x: SymbolicTensor, rate: number, u: SymbolicTensor): SymbolicTensor {
  return mul(mul(x, 1 / (1 - rate)), cast(greaterEqual(u, rate), "float32"));
}

// ---------------------------------------------------------------- kernels

/** The op types of this file. */
export const DRAWS: readonly string[] = [
  "RandomUniform",
  "RandomUniformInt",
  "RandomStandardNormal",
  "TruncatedNormal",
  "RandomGamma",
];

/**
 * A draw among the ops of `g`, of its branches and loop bodies and of the
 * functions it calls: a gradient that runs `g` again would draw other numbers.
 */
export function drawIn(g: Graph): Operation | undefined {
  for (const op of g.operations) {
    if (DRAWS.includes(op.type)) return op;
    for (const sub of [...Object.values(op.subgraphs ?? {}), ...(op.callee ? [op.callee] : [])]) {
      const found = drawIn(sub);
      if (found) return found;
    }
  }
  return undefined;
}

/** The error for differentiating `what`, which draws `draw`, by running it again. */
export function redrawError(what: string, draw: Operation): GraphError {
  return new GraphError(
    `cannot differentiate through ${what}: it draws random numbers (${draw.name}, ` +
      `${draw.type}) and its gradient would run it again, differentiating other numbers than ` +
      `the forward pass drew; draw them outside it and pass them in`,
  );
}

/**
 * One generator per seeded op, from its (global, op) seed pair: a new seed for
 * tfjs at every run, the same sequence per graph.
 */
const streams = new WeakMap<Operation, () => number>();
function runSeed(op: Operation): number | undefined {
  const seed = op.attrs.seed as number | null;
  if (seed === null) return undefined;
  let next = streams.get(op);
  if (!next) {
    const global = (op.attrs.globalSeed as number | null | undefined) ?? DEFAULT_GRAPH_SEED;
    streams.set(op, next = mulberry32(mixSeeds(global, seed)));
  }
  return nextOpSeed(next);
}

/** The shape to draw: the static attribute or the run-time int32 input. */
const shapeAt = (inputs: tf.Tensor[], op: Operation): number[] =>
  inputs.length > 0 ? Array.from(inputs[0].dataSync()) : op.attrs.shape as number[];

kernels.RandomUniform = (
  xs,
  op,
) => [tf.randomUniform(shapeAt(xs, op), 0, 1, "float32", runSeed(op))];
kernels.RandomUniformInt = (xs, op) => {
  const [lo, hi] = [op.attrs.minval as number, op.attrs.maxval as number];
  const u = tf.randomUniform(shapeAt(xs, op), lo, hi, "float32", runSeed(op));
  return [tf.clipByValue(tf.floor(u), lo, hi - 1).cast("int32")];
};
kernels.RandomStandardNormal = (xs, op) => [
  tf.randomStandardNormal(shapeAt(xs, op), "float32", runSeed(op)),
];
kernels.TruncatedNormal = (xs, op) => [
  tf.truncatedNormal(shapeAt(xs, op), 0, 1, "float32", runSeed(op)),
];
kernels.RandomGamma = (xs, op) => [
  tf.randomGamma(shapeAt(xs, op), op.attrs.alpha as number, 1, "float32", runSeed(op)),
];

// A draw is not differentiable (TF registers no gradient for these ops): gradients stop there.
for (const t of DRAWS) gradFns[t] = null;
