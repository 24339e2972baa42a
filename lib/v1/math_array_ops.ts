/**
 * More graph ops, each with its kernel and gradient (TensorFlow's `math_ops`
 * and `array_ops`): what the tfjs functions `tf.maximum`, `tf.minimum`,
 * `tf.pow`, `tf.squaredDifference`, `tf.where`, `tf.concat`, `tf.stack`,
 * `tf.split`, `tf.unstack`, `tf.slice`, `tf.pad`, `tf.tile`, `tf.reverse`,
 * `tf.gather`, `tf.clipByValue`, `tf.floor`, `tf.ceil`, `tf.round`,
 * `tf.rsqrt`, `tf.reciprocal`, `tf.sin`, `tf.cos`, `tf.softplus`, `tf.elu`,
 * `tf.leakyRelu`, `tf.min`, `tf.prod`, `tf.all`, `tf.any`, `tf.cumsum`,
 * `tf.cumprod`, `tf.atan2`, `tf.argMin`, `tf.log1p`, `tf.expm1`, `tf.tan`,
 * `tf.asin`, `tf.acos`, `tf.atan`, `tf.sinh`, `tf.cosh`, `tf.erf`, `tf.relu6`,
 * `tf.selu`, `tf.isNaN`, `tf.isInf`, `tf.isFinite` and `tf.matMul` on batches
 * (`BatchMatMulV2`) become inside a traced function
 * (`_kernel_dispatch.ts`), and `customGradient` (TF's `tf.custom_gradient`,
 * what `tf.customGrad` and `tf.logSoftmax` become). Gradients follow
 * TensorFlow's `math_grad.py` and `array_grad.py`: `Maximum`/`Minimum` send
 * the gradient to `a` where `a >= b` (`a <= b`), else to `b`; `Floor`, `Ceil`,
 * `Round`, `ArgMin`, `All` and `Any` have none; `GatherV2` scatters it back
 * with `UnsortedSegmentSum`; `Prod`'s is the product of the other elements
 * (two exclusive `Cumprod`s, right with zeros); `Cumsum`'s is the cumsum of
 * `dy` the other way; `Cumprod`'s is `divNoNan(cumsum(cumprod(x)·dy) the other
 * way, x)`, so second derivatives of `Prod` work, and are 0 where an input is 0
 * as in TensorFlow (exact elsewhere); `DivNoNan`'s is TF's (`tf.math.divide_no_nan`);
 * `Relu`'s and `Relu6`'s are TF's `ReluGrad`/`Relu6Grad` ops, whose own gradients
 * make a second derivative zeros (not None).
 *
 * @example
 * ```ts
 * import { Graph } from "./graph.ts";
 * import { placeholder } from "./ops.ts";
 * import { maximum } from "./math_array_ops.ts";
 * import { Session } from "./session.ts";
 * const g = new Graph();
 * const { x, y } = g.asDefault(() => {
 *   const x = placeholder("float32", [2], "x");
 *   return { x, y: maximum(x, 0) };
 * });
 * console.log(new Session(g).run(y, new Map([[x, [-1, 2]]]))); // [0, 2]
 * ```
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import {
  DTypeError,
  GraphError,
  type Operation,
  type Shape,
  ShapeError,
  type SymbolicTensor,
} from "./graph.ts";
import type { TensorLike } from "./graph.ts";
import {
  add,
  addOp,
  binary,
  broadcastShapes,
  div,
  exp,
  expandDims,
  greater,
  greaterEqual,
  type Kernel,
  kernels,
  less,
  lessEqual,
  log,
  mul,
  neg,
  pair,
  reduce,
  reduceMax,
  reduceSum,
  requireFloat,
  reshape,
  sameDType,
  shapeOf,
  sigmoid,
  square,
  sub,
  toSymbolic,
  transpose,
  zerosLike,
} from "./ops.ts";
import { type GradFn, gradFns, unbroadcast } from "./gradients.ts";
import { reluGrad } from "../_tf_gradients.ts";

type Name = string | undefined;
const one = (f: (...xs: tf.Tensor[]) => tf.Tensor): Kernel => (xs) => [f(...xs)];

function unaryFloat(type: string, x: TensorLike, name: Name): SymbolicTensor {
  const sx = toSymbolic(x);
  requireFloat(type, sx);
  return addOp(type, [sx], {}, [{ dtype: sx.dtype, shape: [...sx.shape] }], name).output;
}

/** A known dimension of `x`, or a GraphError naming what needs it. */
function known(x: SymbolicTensor, axis: number, what: string): number {
  const d = x.unknownRank ? null : x.shape[axis];
  if (d === null || d === undefined) {
    throw new GraphError(
      `${what}: dimension ${axis} of ${x.toString()} must be known; give the input a static ` +
        `shape (an inputSignature without null there)`,
    );
  }
  return d;
}

function axisOf(x: SymbolicTensor, axis: number, op: string): number {
  const a = axis < 0 ? axis + x.rank : axis;
  if (!x.unknownRank && (a < 0 || a >= x.rank)) {
    throw new ShapeError(`${op}: axis ${axis} is out of range for ${x.toString()}`);
  }
  return a;
}

// ---------------------------------------------------------------- elementwise

/** `max(a, b)` elementwise, broadcasting (`Maximum`). */
export function maximum(a: TensorLike, b: TensorLike, name?: string): SymbolicTensor {
  return binary("Maximum", a, b, name);
}
/** `min(a, b)` elementwise, broadcasting (`Minimum`). */
export function minimum(a: TensorLike, b: TensorLike, name?: string): SymbolicTensor {
  return binary("Minimum", a, b, name);
}
/** `a ** b` elementwise, broadcasting (`Pow`). */
export function pow(a: TensorLike, b: TensorLike, name?: string): SymbolicTensor {
  return binary("Pow", a, b, name);
}
/** `a / b` elementwise, 0 where `b` is 0 (`DivNoNan`, `tf.math.divide_no_nan`). */
export function divNoNan(a: TensorLike, b: TensorLike, name?: string): SymbolicTensor {
  return binary("DivNoNan", a, b, name);
}
/** `(a - b)²` elementwise, broadcasting (`SquaredDifference`). */
export function squaredDifference(a: TensorLike, b: TensorLike, name?: string): SymbolicTensor {
  return binary("SquaredDifference", a, b, name);
}
/** Rounds down (`Floor`). */
export const floor = (x: TensorLike, name?: string): SymbolicTensor => unaryFloat("Floor", x, name);
/** Rounds up (`Ceil`). */
export const ceil = (x: TensorLike, name?: string): SymbolicTensor => unaryFloat("Ceil", x, name);
/** Rounds half to even (`Round`). */
export const round = (x: TensorLike, name?: string): SymbolicTensor => unaryFloat("Round", x, name);
/** `1 / sqrt(x)` (`Rsqrt`). */
export const rsqrt = (x: TensorLike, name?: string): SymbolicTensor => unaryFloat("Rsqrt", x, name);
/** `1 / x` (`Reciprocal`). */
export const reciprocal = (x: TensorLike, name?: string): SymbolicTensor =>
  unaryFloat("Reciprocal", x, name);
/** Sine (`Sin`). */
export const sin = (x: TensorLike, name?: string): SymbolicTensor => unaryFloat("Sin", x, name);
/** Cosine (`Cos`). */
export const cos = (x: TensorLike, name?: string): SymbolicTensor => unaryFloat("Cos", x, name);
/** `log(1 + exp(x))` (`Softplus`). */
export const softplus = (x: TensorLike, name?: string): SymbolicTensor =>
  unaryFloat("Softplus", x, name);

/** `x` where `x > 0`, else `alpha·x` (`LeakyRelu`). */
export function leakyRelu(x: TensorLike, alpha = 0.2, name?: string): SymbolicTensor {
  const sx = toSymbolic(x);
  requireFloat("LeakyRelu", sx);
  return addOp("LeakyRelu", [sx], { alpha }, [{ dtype: sx.dtype, shape: [...sx.shape] }], name)
    .output;
}
/** `x` where `x > 0`, else `exp(x) - 1` (`Elu`). */
export const elu = (x: TensorLike, name?: string): SymbolicTensor => unaryFloat("Elu", x, name);

/** `log(1 + x)`, exact for small x (`Log1p`). */
export const log1p = (x: TensorLike, name?: string): SymbolicTensor => unaryFloat("Log1p", x, name);
/** `exp(x) - 1`, exact for small x (`Expm1`). */
export const expm1 = (x: TensorLike, name?: string): SymbolicTensor => unaryFloat("Expm1", x, name);
/** Tangent (`Tan`). */
export const tan = (x: TensorLike, name?: string): SymbolicTensor => unaryFloat("Tan", x, name);
/** Arcsine (`Asin`). */
export const asin = (x: TensorLike, name?: string): SymbolicTensor => unaryFloat("Asin", x, name);
/** Arccosine (`Acos`). */
export const acos = (x: TensorLike, name?: string): SymbolicTensor => unaryFloat("Acos", x, name);
/** Arctangent (`Atan`). */
export const atan = (x: TensorLike, name?: string): SymbolicTensor => unaryFloat("Atan", x, name);
/** Hyperbolic sine (`Sinh`). */
export const sinh = (x: TensorLike, name?: string): SymbolicTensor => unaryFloat("Sinh", x, name);
/** Hyperbolic cosine (`Cosh`). */
export const cosh = (x: TensorLike, name?: string): SymbolicTensor => unaryFloat("Cosh", x, name);
/** The error function (`Erf`). */
export const erf = (x: TensorLike, name?: string): SymbolicTensor => unaryFloat("Erf", x, name);
/** `min(max(x, 0), 6)` (`Relu6`). */
export const relu6 = (x: TensorLike, name?: string): SymbolicTensor => unaryFloat("Relu6", x, name);
/** Scaled ELU: `scale·x` where `x > 0`, else `scale·alpha·(exp(x) - 1)` (`Selu`). */
export const selu = (x: TensorLike, name?: string): SymbolicTensor => unaryFloat("Selu", x, name);

/**
 * TF's `ReluGrad` (`dy` where `x > 0`) or `Relu6Grad` (`dy` where `0 < x < 6`), else 0: one op,
 * so that its own gradient is TF's too (itself for `dy`, zeros for `x`: a second derivative
 * of relu is zeros, not None).
 */
function maskGrad(type: "ReluGrad" | "Relu6Grad", dy: SymbolicTensor, x: SymbolicTensor) {
  return addOp(type, [dy, x], {}, [{ dtype: dy.dtype, shape: [...dy.shape] }]).output;
}

function test(type: string, x: TensorLike): SymbolicTensor {
  const sx = toSymbolic(x);
  requireFloat(type, sx);
  return addOp(type, [sx], {}, [{ dtype: "bool", shape: [...sx.shape] }]).output;
}
/** Whether each element is NaN → bool (`IsNan`). */
export const isNaN = (x: TensorLike): SymbolicTensor => test("IsNan", x);
/** Whether each element is ±Infinity → bool (`IsInf`). */
export const isInf = (x: TensorLike): SymbolicTensor => test("IsInf", x);
/** Whether each element is finite → bool (`IsFinite`). */
export const isFinite = (x: TensorLike): SymbolicTensor => test("IsFinite", x);

/** Minimum over `axis` (all axes when omitted): `-max(-x)`. */
export function reduceMin(
  x: TensorLike,
  axis?: number | number[] | null,
  keepDims = false,
): SymbolicTensor {
  return neg(reduceMax(neg(x), axis, keepDims));
}

/** `x` clipped to `[lo, hi]`: `maximum(minimum(x, hi), lo)`, as TF's `clip_by_value`. */
export function clipByValue(x: TensorLike, lo: number, hi: number): SymbolicTensor {
  return maximum(minimum(x, hi), lo);
}

/**
 * `condition ? a : b` elementwise, the three broadcast together
 * (`SelectV2`, TF2's `tf.where(condition, a, b)`).
 */
export function where(
  condition: TensorLike,
  a: TensorLike,
  b: TensorLike,
  name?: string,
): SymbolicTensor {
  const [sa, sb] = pair(a, b);
  sameDType("SelectV2", sa, sb);
  const c = toSymbolic(condition, "bool");
  if (c.dtype !== "bool") throw new GraphError(`SelectV2: ${c.toString()} must be bool`);
  const shape = broadcastShapes(
    "SelectV2",
    broadcastShapes("SelectV2", c.shape, sa.shape),
    sb.shape,
  );
  return addOp("SelectV2", [c, sa, sb], {}, [{ dtype: sa.dtype, shape }], name).output;
}

// ---------------------------------------------------------------- joining and slicing

/** Joins `xs` along `axis` (`ConcatV2`). */
export function concat(xs: TensorLike[], axis = 0, name?: string): SymbolicTensor {
  const sx = xs.map((x) => toSymbolic(x));
  if (sx.length === 1) return sx[0];
  const first = sx[0];
  const a = axisOf(first, axis, "ConcatV2");
  const shape: Shape = [...first.shape];
  for (const x of sx.slice(1)) {
    sameDType("ConcatV2", first, x);
    if (x.rank !== first.rank) {
      throw new ShapeError(`ConcatV2: ${x.toString()} and ${first.toString()} differ in rank`);
    }
    x.shape.forEach((d, i) => {
      if (i === a) shape[i] = shape[i] === null || d === null ? null : shape[i]! + d;
      else if (shape[i] === null) shape[i] = d;
      else if (d !== null && d !== shape[i]) {
        throw new ShapeError(
          `ConcatV2: ${x.toString()} and ${first.toString()} differ in dimension ${i}`,
        );
      }
    });
  }
  return addOp("ConcatV2", sx, { axis: a, N: sx.length }, [{ dtype: first.dtype, shape }], name)
    .output;
}

/** Stacks same-shaped `xs` along a new `axis` (TF's `Pack`, built as `ExpandDims` + `ConcatV2`). */
export function stack(xs: TensorLike[], axis = 0): SymbolicTensor {
  const sx = xs.map((x) => toSymbolic(x));
  const a = axis < 0 ? axis + sx[0].rank + 1 : axis;
  return concat(sx.map((x) => expandDims(x, a)), a);
}

/** The block of `x` at `begin` of `size` (-1: to the end) along each axis (`Slice`). */
export function slice(
  x: TensorLike,
  begin: number[],
  size: number[],
  name?: string,
): SymbolicTensor {
  const sx = toSymbolic(x);
  if (begin.length !== sx.rank || size.length !== sx.rank) {
    throw new ShapeError(`Slice: begin and size need ${sx.rank} entries for ${sx.toString()}`);
  }
  const shape = sx.shape.map((d, i) => size[i] !== -1 ? size[i] : d === null ? null : d - begin[i]);
  return addOp("Slice", [sx], { begin, size }, [{ dtype: sx.dtype, shape }], name).output;
}

/** Pads `x` with `value`: `paddings[i] = [before, after]` along axis `i` (`PadV2`). */
export function pad(x: TensorLike, paddings: [number, number][], value = 0): SymbolicTensor {
  const sx = toSymbolic(x);
  if (paddings.length !== sx.rank) {
    throw new ShapeError(`PadV2: paddings need ${sx.rank} pairs for ${sx.toString()}`);
  }
  const shape = sx.shape.map((d, i) => d === null ? null : d + paddings[i][0] + paddings[i][1]);
  return addOp("PadV2", [sx], { paddings, value }, [{ dtype: sx.dtype, shape }]).output;
}

/** `x` with the order of its elements reversed along `axes` (`ReverseV2`). */
export function reverse(x: TensorLike, axes: number[], name?: string): SymbolicTensor {
  const sx = toSymbolic(x);
  const dims = axes.map((a) => axisOf(sx, a, "ReverseV2"));
  return addOp("ReverseV2", [sx], { axis: dims }, [{ dtype: sx.dtype, shape: [...sx.shape] }], name)
    .output;
}

/** `x` cut along `axis` into pieces of `sizes` (TF's `SplitV`, built from `Slice`s). */
export function split(x: TensorLike, sizes: number[], axis = 0): SymbolicTensor[] {
  const sx = toSymbolic(x);
  const a = axisOf(sx, axis, "SplitV");
  let at = 0;
  return sizes.map((n) => {
    const piece = slice(
      sx,
      sx.shape.map((_, i) => i === a ? at : 0),
      sx.shape.map((_, i) => i === a ? n : -1),
    );
    at += n;
    return piece;
  });
}

/** The slices of `x` along `axis`, that axis removed (TF's `Unpack`, built from `Slice`s). */
export function unstack(x: TensorLike, axis = 0): SymbolicTensor[] {
  const sx = toSymbolic(x);
  const a = axisOf(sx, axis, "Unpack");
  const n = known(sx, a, "Unpack");
  const rest = sx.shape.filter((_, i) => i !== a);
  return split(sx, Array(n).fill(1), a).map((piece) =>
    reshape(piece, rest.some((d) => d === null) ? [-1] : rest as number[])
  );
}

/** Repeats `x` `reps[i]` times along axis `i` (`Tile`). */
export function tile(x: TensorLike, reps: number[], name?: string): SymbolicTensor {
  const sx = toSymbolic(x);
  if (reps.length !== sx.rank) {
    throw new ShapeError(`Tile: reps needs ${sx.rank} entries for ${sx.toString()}`);
  }
  const shape = sx.shape.map((d, i) => d === null ? null : d * reps[i]);
  return addOp("Tile", [sx], { multiples: reps }, [{ dtype: sx.dtype, shape }], name).output;
}

/**
 * The slices of `x` along `axis` at int32 `indices` of any rank (`GatherV2`,
 * `tf.gather(x, indices, axis)`): shape `x.shape[:axis] + indices.shape + x.shape[axis+1:]`.
 */
export function gatherV2(
  x: TensorLike,
  indices: TensorLike,
  axis = 0,
  name?: string,
): SymbolicTensor {
  const sx = toSymbolic(x);
  const si = toSymbolic(indices, "int32");
  if (si.dtype !== "int32") throw new GraphError(`GatherV2: ${si.toString()} must be int32`);
  const a = axisOf(sx, axis, "GatherV2");
  const shape = [...sx.shape.slice(0, a), ...si.shape, ...sx.shape.slice(a + 1)];
  return addOp("GatherV2", [sx, si], { axis: a }, [{ dtype: sx.dtype, shape }], name).output;
}

/** Sums the rows of `data` into `n` rows by int32 `ids` (`UnsortedSegmentSum`). */
export function unsortedSegmentSum(data: TensorLike, ids: TensorLike, n: number): SymbolicTensor {
  const sd = toSymbolic(data);
  const si = toSymbolic(ids, "int32");
  const shape = [n, ...sd.shape.slice(si.rank)];
  return addOp("UnsortedSegmentSum", [sd, si], { num_segments: n }, [{ dtype: sd.dtype, shape }])
    .output;
}

/** `atan(a / b)` in the quadrant of the point `(b, a)`, broadcasting (`Atan2`). */
export function atan2(a: TensorLike, b: TensorLike, name?: string): SymbolicTensor {
  return binary("Atan2", a, b, name);
}

/** Index of the smallest value along `axis` → int32 (`ArgMin`). */
export function argMin(x: TensorLike, axis = 0, name?: string): SymbolicTensor {
  const sx = toSymbolic(x);
  const a = axisOf(sx, axis, "ArgMin");
  const shape = sx.shape.filter((_, i) => i !== a);
  return addOp("ArgMin", [sx], { axis: a }, [{ dtype: "int32", shape }], name).output;
}

/**
 * Matrix products over the leading (batch) dimensions, which broadcast
 * (`BatchMatMulV2`, `tf.matMul` on rank-3 and higher tensors).
 */
export function batchMatMul(
  a: TensorLike,
  b: TensorLike,
  transposeA = false,
  transposeB = false,
): SymbolicTensor {
  const [sa, sb] = pair(a, b);
  sameDType("BatchMatMulV2", sa, sb);
  if (sa.unknownRank || sb.unknownRank || sa.rank < 2 || sb.rank < 2) {
    throw new ShapeError(
      `BatchMatMulV2: ${sa.toString()} and ${sb.toString()} must have known ranks of 2 or more`,
    );
  }
  const matrix = (s: Shape, transposed: boolean) => {
    const [rows, cols] = s.slice(-2);
    return transposed ? [cols, rows] : [rows, cols];
  };
  const [m, k1] = matrix(sa.shape, transposeA);
  const [k2, n] = matrix(sb.shape, transposeB);
  if (k1 !== null && k2 !== null && k1 !== k2) {
    throw new ShapeError(
      `BatchMatMulV2: ${sa.toString()} and ${sb.toString()} do not fit (inner dimensions ` +
        `${k1} vs ${k2})`,
    );
  }
  const batch = broadcastShapes("BatchMatMulV2", sa.shape.slice(0, -2), sb.shape.slice(0, -2));
  const attrs = { adj_x: transposeA, adj_y: transposeB };
  return addOp("BatchMatMulV2", [sa, sb], attrs, [{ dtype: sa.dtype, shape: [...batch, m, n] }])
    .output;
}

/** Product over `axis` (all axes when omitted) — TF op `Prod`. */
export function reduceProd(
  x: TensorLike,
  axis?: number | number[] | null,
  keepDims = false,
): SymbolicTensor {
  return reduce("Prod", x, axis, keepDims);
}

function boolReduce(
  type: string,
  x: TensorLike,
  axis?: number | number[] | null,
  keepDims = false,
) {
  const sx = toSymbolic(x, "bool");
  if (sx.dtype !== "bool") throw new DTypeError(`${type}: ${sx.toString()} must be bool`);
  return reduce(type, sx, axis, keepDims);
}
/** Logical and over `axis` (all axes when omitted) of a bool tensor — TF op `All`. */
export const reduceAll = (
  x: TensorLike,
  axis?: number | number[] | null,
  keepDims = false,
): SymbolicTensor => boolReduce("All", x, axis, keepDims);
/** Logical or over `axis` (all axes when omitted) of a bool tensor — TF op `Any`. */
export const reduceAny = (
  x: TensorLike,
  axis?: number | number[] | null,
  keepDims = false,
): SymbolicTensor => boolReduce("Any", x, axis, keepDims);

function scan(type: string, x: TensorLike, axis: number, exclusive: boolean, reverse: boolean) {
  const sx = toSymbolic(x);
  const a = axisOf(sx, axis, type);
  return addOp(type, [sx], { axis: a, exclusive, reverse }, [{
    dtype: sx.dtype,
    shape: [...sx.shape],
  }]).output;
}
/**
 * Running sums along `axis` (`Cumsum`): `exclusive` leaves out the element
 * itself, `reverse` sums from the end.
 */
export const cumsum = (
  x: TensorLike,
  axis = 0,
  exclusive = false,
  reverse = false,
): SymbolicTensor => scan("Cumsum", x, axis, exclusive, reverse);
/** Running products along `axis` (`Cumprod`; as {@linkcode cumsum}). */
export const cumprod = (
  x: TensorLike,
  axis = 0,
  exclusive = false,
  reverse = false,
): SymbolicTensor => scan("Cumprod", x, axis, exclusive, reverse);

/** The gradient functions of `CustomGradient` ops, by op. */
const customGrads = new WeakMap<Operation, (dy: SymbolicTensor) => (SymbolicTensor | null)[]>();

/**
 * `value` (computed from `inputs`) whose gradient with respect to `inputs` is
 * `grad(dy)` instead of the gradient of the ops that computed it (TF's
 * `tf.custom_gradient`, an `IdentityN` with its gradient overridden).
 */
export function customGradient(
  value: SymbolicTensor,
  inputs: SymbolicTensor[],
  grad: (dy: SymbolicTensor) => (SymbolicTensor | null)[],
): SymbolicTensor {
  const op = addOp("CustomGradient", [value, ...inputs], {}, [{
    dtype: value.dtype,
    shape: [...value.shape],
    unknownRank: value.unknownRank,
  }]);
  customGrads.set(op, grad);
  return op.output;
}

// ---------------------------------------------------------------- kernels

Object.assign(
  kernels,
  {
    Maximum: one(tf.maximum),
    Minimum: one(tf.minimum),
    Pow: one(tf.pow),
    BatchMatMulV2: ([a, b], op) => [tf.matMul(a, b, !!op.attrs.adj_x, !!op.attrs.adj_y)],
    DivNoNan: one(tf.divNoNan),
    SquaredDifference: one(tf.squaredDifference),
    Floor: one(tf.floor),
    Ceil: one(tf.ceil),
    Round: one(tf.round),
    Rsqrt: one(tf.rsqrt),
    Reciprocal: one(tf.reciprocal),
    Sin: one(tf.sin),
    Cos: one(tf.cos),
    Softplus: one(tf.softplus),
    Elu: one(tf.elu),
    Log1p: one(tf.log1p),
    Expm1: one(tf.expm1),
    Tan: one(tf.tan),
    Asin: one(tf.asin),
    Acos: one(tf.acos),
    Atan: one(tf.atan),
    Sinh: one(tf.sinh),
    Cosh: one(tf.cosh),
    Erf: one(tf.erf),
    Relu6: one(tf.relu6),
    ReluGrad: ([dy, x]) => [reluGrad(dy, x)],
    Relu6Grad: ([dy, x]) => [
      tf.tidy(() => tf.mul(dy, tf.cast(tf.logicalAnd(tf.greater(x, 0), tf.less(x, 6)), dy.dtype))),
    ],
    Selu: one(tf.selu),
    IsNan: one(tf.isNaN),
    IsInf: one(tf.isInf),
    IsFinite: one(tf.isFinite),
    Atan2: one(tf.atan2),
    ArgMin: ([x], op) => [tf.argMin(x, op.attrs.axis as number)],
    Prod: ([x], op) => [tf.prod(x, op.attrs.axis as number[], op.attrs.keep_dims as boolean)],
    All: ([x], op) => [tf.all(x, op.attrs.axis as number[], op.attrs.keep_dims as boolean)],
    Any: ([x], op) => [tf.any(x, op.attrs.axis as number[], op.attrs.keep_dims as boolean)],
    Cumsum: ([x], { attrs: a }) => [
      tf.cumsum(x, a.axis as number, a.exclusive as boolean, a.reverse as boolean),
    ],
    Cumprod: ([x], { attrs: a }) => [
      tf.cumprod(x, a.axis as number, a.exclusive as boolean, a.reverse as boolean),
    ],
    CustomGradient: ([value]) => [value],
    LeakyRelu: ([x], op) => [tf.leakyRelu(x, op.attrs.alpha as number)],
    ReverseV2: ([x], op) => [tf.reverse(x, op.attrs.axis as number[])],
    SelectV2: ([c, a, b]) => [tf.where(c, a, b)],
    ConcatV2: (xs, op) => [tf.concat(xs, op.attrs.axis as number)],
    Slice: ([x], op) => [tf.slice(x, op.attrs.begin as number[], op.attrs.size as number[])],
    PadV2: ([x], op) => [
      tf.pad(x, op.attrs.paddings as [number, number][], op.attrs.value as number),
    ],
    Tile: ([x], op) => [tf.tile(x, op.attrs.multiples as number[])],
    // Any rank of indices, any axis (ops.ts's `gather` builds the scalar, axis-0 case).
    GatherV2: ([x, i], op) => [tf.gather(x, i, (op.attrs.axis ?? 0) as number)],
    // Selects, never multiplies, so a non-finite row stays in its segment (the wasm backend
    // has no UnsortedSegmentSum kernel).
    UnsortedSegmentSum: ([d, i], op) => {
      const n = op.attrs.num_segments as number;
      return [tf.tidy(() => {
        const rows = tf.expandDims(tf.reshape(d, [i.size, -1]), 1); // [k, 1, m]
        const hit = tf.equal(tf.reshape(i, [-1, 1]), tf.range(0, n, 1, "int32")); // [k, n]
        const picked = tf.where(tf.expandDims(hit, 2), rows, tf.zerosLike(rows)); // [k, n, m]
        return tf.reshape(tf.sum(picked, 0), [n, ...d.shape.slice(i.rank)]);
      })];
    },
  } satisfies Record<string, Kernel>,
);

// ---------------------------------------------------------------- gradients

/** SELU's constants (TF's and tfjs's). */
const SELU_SCALE = 1.0507009873554805, SELU_ALPHA = 1.6732632423543772;

/** `Maximum`/`Minimum`: `dy` goes to `a` where `mask` holds, else to `b` (TF's `_MaximumMinimumGrad`). */
const selectGrad =
  (mask: (a: SymbolicTensor, b: SymbolicTensor) => SymbolicTensor): GradFn =>
  ({ inputs: [a, b] }, [dy]) => {
    const m = mask(a, b);
    const zero = zerosLike(dy);
    return [unbroadcast(where(m, dy, zero), a), unbroadcast(where(m, zero, dy), b)];
  };

/** The gradient of `Slice` or of one `ConcatV2` input: `dy` padded back to `x`'s shape. */
function padBack(dy: SymbolicTensor, x: SymbolicTensor, begin: number[], what: string) {
  return pad(dy, begin.map((b, i) => [b, known(x, i, what) - b - known(dy, i, what)]));
}

/**
 * TF's `_ProdGrad`: each element's gradient is the product of the others in
 * its reduction, `exclusive cumprod · reverse exclusive cumprod` over the
 * reduced axes moved first and flattened, so zeros in the input are fine.
 */
function prodGrad(op: Operation, [dy]: SymbolicTensor[]): SymbolicTensor[] {
  const x = op.inputs[0];
  const what = "the gradient of Prod";
  if (x.unknownRank) throw new GraphError(`${what}: the rank of ${x.toString()} is unknown`);
  const axes = op.attrs.axis as number[];
  const perm = [...axes, ...x.shape.map((_, i) => i).filter((i) => !axes.includes(i))];
  const moved = transpose(x, perm);
  const flat = reshape(moved, [axes.reduce((n, a) => n * known(x, a, what), 1), -1]);
  const others = mul(cumprod(flat, 0, true), cumprod(flat, 0, true, true));
  const back = transpose(reshape(others, shapeOf(moved)), perm.map((_, k) => perm.indexOf(k)));
  let d = dy;
  if (!op.attrs.keep_dims) { for (const a of axes) d = expandDims(d, a); }
  return [mul(d, back)];
}

Object.assign(
  gradFns,
  {
    Maximum: selectGrad((a, b) => greaterEqual(a, b)),
    Minimum: selectGrad((a, b) => lessEqual(a, b)),
    // d(a^b)/da = b·a^(b-1); d(a^b)/db = a^b·log(a), taken as 0 where a <= 0 (TF's _PowGrad).
    Pow: ({ inputs: [a, b], output: z }, [dy]) => {
      const logA = where(greater(a, 0), log(maximum(a, 1e-30)), zerosLike(a));
      return [
        unbroadcast(mul(dy, mul(b, pow(a, sub(b, 1)))), a),
        unbroadcast(mul(dy, mul(z, logA)), b),
      ];
    },
    // TF's _DivNoNanGrad: divNoNan(dy, b) to a, dy·divNoNan(divNoNan(-a, b), b) to b.
    DivNoNan: ({ inputs: [a, b] }, [dy]) => [
      unbroadcast(divNoNan(dy, b), a),
      unbroadcast(mul(dy, divNoNan(divNoNan(neg(a), b), b)), b),
    ],
    // TF's _BatchMatMulV2: MatMul's four cases, summed over the batch dimensions that broadcast.
    BatchMatMulV2: ({ inputs: [a, b], attrs }, [dy]) => {
      const [ta, tb] = [!!attrs.adj_x, !!attrs.adj_y];
      const [da, db] = !ta
        ? (!tb
          ? [batchMatMul(dy, b, false, true), batchMatMul(a, dy, true, false)]
          : [batchMatMul(dy, b), batchMatMul(dy, a, true, false)])
        : (!tb
          ? [batchMatMul(b, dy, false, true), batchMatMul(a, dy)]
          : [batchMatMul(b, dy, true, true), batchMatMul(dy, a, true, true)]);
      return [unbroadcast(da, a), unbroadcast(db, b)];
    },
    SquaredDifference: ({ inputs: [a, b] }, [dy]) => {
      const d = mul(dy, mul(sub(a, b), 2));
      return [unbroadcast(d, a), unbroadcast(neg(d), b)];
    },
    Floor: null,
    Ceil: null,
    Round: null,
    Rsqrt: ({ output: y }, [dy]) => [mul(dy, mul(mul(y, square(y)), -0.5))],
    Reciprocal: ({ output: y }, [dy]) => [neg(mul(dy, square(y)))],
    Sin: ({ inputs: [x] }, [dy]) => [mul(dy, cos(x))],
    Cos: ({ inputs: [x] }, [dy]) => [neg(mul(dy, sin(x)))],
    Softplus: ({ inputs: [x] }, [dy]) => [mul(dy, sigmoid(x))],
    // TF's EluGrad: dy·(y + 1) where y < 0, else dy; LeakyReluGrad: dy where x > 0, else alpha·dy.
    Elu: ({ output: y }, [dy]) => [where(less(y, 0), mul(dy, add(y, 1)), dy)],
    // math_grad.py's _Log1pGrad, _Expm1Grad, _TanGrad, _AsinGrad, _AcosGrad, _AtanGrad, _SinhGrad,
    // _CoshGrad, _ErfGrad (d erf(x)/dx = 2/√π·exp(-x²)).
    Log1p: ({ inputs: [x] }, [dy]) => [mul(dy, reciprocal(add(x, 1)))],
    Expm1: ({ inputs: [x] }, [dy]) => [mul(dy, exp(x))],
    Tan: ({ inputs: [x] }, [dy]) => [mul(dy, square(reciprocal(cos(x))))],
    Asin: ({ inputs: [x] }, [dy]) => [mul(dy, rsqrt(sub(1, square(x))))],
    Acos: ({ inputs: [x] }, [dy]) => [neg(mul(dy, rsqrt(sub(1, square(x)))))],
    Atan: ({ inputs: [x] }, [dy]) => [mul(dy, reciprocal(add(square(x), 1)))],
    Sinh: ({ inputs: [x] }, [dy]) => [mul(dy, cosh(x))],
    Cosh: ({ inputs: [x] }, [dy]) => [mul(dy, sinh(x))],
    Erf: ({ inputs: [x] }, [dy]) => [mul(dy, mul(exp(neg(square(x))), 2 / Math.sqrt(Math.PI)))],
    // nn_grad.py: TF's Relu6Grad passes dy where 0 < x < 6, and its gradient is itself for dy
    // and zeros for x (so a second derivative is zeros, not None); SeluGrad is
    // dy·(y + scale·alpha) where y < 0, else dy·scale.
    Relu6: ({ inputs: [x] }, [dy]) => [maskGrad("Relu6Grad", dy, x)],
    Relu6Grad: ({ inputs: [, x] }, [g]) => [maskGrad("Relu6Grad", g, x), zerosLike(x)],
    // Relu's, as TF's (replacing gradients.ts's dy·cast(x > 0), whose second derivative is None).
    Relu: ({ inputs: [x] }, [dy]) => [maskGrad("ReluGrad", dy, x)],
    ReluGrad: ({ inputs: [, x] }, [g]) => [maskGrad("ReluGrad", g, x), zerosLike(x)],
    Selu: ({ output: y }, [dy]) => [
      where(less(y, 0), mul(dy, add(y, SELU_SCALE * SELU_ALPHA)), mul(dy, SELU_SCALE)),
    ],
    IsNan: null,
    IsInf: null,
    IsFinite: null,
    LeakyRelu: (op, [dy]) => [
      where(greater(op.inputs[0], 0), dy, mul(dy, op.attrs.alpha as number)),
    ],
    ReverseV2: (op, [dy]) => [reverse(dy, op.attrs.axis as number[])],
    SelectV2: ({ inputs: [c, a, b] }, [dy]) => {
      const zero = zerosLike(dy);
      return [null, unbroadcast(where(c, dy, zero), a), unbroadcast(where(c, zero, dy), b)];
    },
    ConcatV2: (op, [dy]) => {
      const a = op.attrs.axis as number;
      let at = 0;
      return op.inputs.map((x) => {
        const n = known(x, a, "the gradient of ConcatV2");
        const begin = dy.shape.map((_, i) => i === a ? at : 0);
        at += n;
        return slice(dy, begin, x.shape.map((_, i) => i === a ? n : -1));
      });
    },
    Slice: (
      op,
      [dy],
    ) => [padBack(dy, op.inputs[0], op.attrs.begin as number[], "the gradient of Slice")],
    PadV2: (op, [dy]) => {
      const x = op.inputs[0];
      const p = op.attrs.paddings as [number, number][];
      return [
        slice(dy, p.map(([b]) => b), x.shape.map((_, i) => known(x, i, "the gradient of PadV2"))),
      ];
    },
    // dy reshaped to [reps0, d0, reps1, d1, ...] and summed over the reps axes (TF's _TileGrad).
    Tile: (op, [dy]) => {
      const x = op.inputs[0];
      const reps = op.attrs.multiples as number[];
      const dims = x.shape.map((_, i) => known(x, i, "the gradient of Tile"));
      const split = reshape(dy, dims.flatMap((d, i) => [reps[i], d]));
      return [reduceSum(split, dims.map((_, i) => 2 * i))];
    },
    // Scattered back with UnsortedSegmentSum (a dense form of TF's IndexedSlices); axis 0 only.
    GatherV2: (op, [dy]) => {
      const [x, i] = op.inputs;
      const what = "the gradient of GatherV2";
      const a = (op.attrs.axis ?? 0) as number;
      const rows = known(x, a, what);
      if (i.unknownRank) throw new GraphError(`${what}: the rank of ${i.toString()} is unknown`);
      const dims = (from: number, to: number) =>
        x.shape.slice(from, to).map((_, k) => known(x, from + k, what));
      if (a === 0) { // dy is [indices..., rest...]: one row per index
        const rowsOfDy = i.rank === 0
          ? expandDims(dy, 0)
          : i.rank === 1
          ? dy
          : reshape(dy, [-1, ...dims(1, x.rank)]);
        return [unsortedSegmentSum(rowsOfDy, reshape(i, [-1]), rows), null];
      }
      // Along axis a: indices' axes first, scatter, then x's axes back in order.
      const lead = dims(0, a), rest = dims(a + 1, x.rank), n = i.rank;
      const first = [...Array(n).keys()].map((k) => a + k)
        .concat(lead.map((_, k) => k), rest.map((_, k) => a + n + k));
      const summed = unsortedSegmentSum(
        reshape(transpose(dy, first), [-1, ...lead, ...rest]),
        reshape(i, [-1]),
        rows,
      );
      const perm = [a, ...lead.map((_, k) => k), ...rest.map((_, k) => a + 1 + k)];
      return [transpose(summed, perm.map((_, k) => perm.indexOf(k))), null];
    },
    UnsortedSegmentSum: ({ inputs: [, ids] }, [dy]) => [gatherV2(dy, ids), null],
    // TF's _Atan2Grad for atan2(y, x): dy·x / (x² + y²) to y, -dy·y / (x² + y²) to x.
    Atan2: ({ inputs: [y, x] }, [dy]) => {
      const d = div(dy, add(square(x), square(y)));
      return [unbroadcast(mul(d, x), y), unbroadcast(neg(mul(d, y)), x)];
    },
    ArgMin: null,
    All: null,
    Any: null,
    // TF's _CumsumGrad: the running sum of dy the other way, as exclusive as the op.
    Cumsum: ({ attrs: a }, [dy]) => [cumsum(dy, a.axis as number, !!a.exclusive, !a.reverse)],
    // TF's _CumprodGrad: divNoNan(cumsum(cumprod(x)·dy) the other way, x): 0 where x is 0, as
    // in TF (whose comment says the formula fails there).
    Cumprod: ({ inputs: [x], attrs: a }, [dy]) => {
      const [axis, exclusive, reverse] = [a.axis as number, !!a.exclusive, !!a.reverse];
      const out = cumsum(mul(cumprod(x, axis, exclusive, reverse), dy), axis, exclusive, !reverse);
      return [divNoNan(out, x)];
    },
    Prod: prodGrad,
    CustomGradient: (op, [dy]) => [null, ...customGrads.get(op)!(dy)],
  } satisfies Record<string, GradFn | null>,
);
