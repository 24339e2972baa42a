/**
 * Graph ops: each function adds one operation to the graph, infers its output
 * dtype and static shape right away (a mismatch throws {@linkcode ShapeError}
 * now, not when the graph runs) and returns the symbolic result.
 *
 * Each op type also has a kernel in {@linkcode kernels}: how a session computes
 * it, here with TensorFlow.js eager ops. The gradient of each op type lives in
 * `gradients.ts`.
 *
 * @example
 * ```ts
 * import { Graph } from "./graph.ts";
 * import { add, constant, placeholder, relu } from "./ops.ts";
 * const g = new Graph();
 * const y = g.asDefault(() => relu(add(placeholder("float32", [null, 3], "x"), constant([1, 2, 3]))));
 * console.log(y.toString()); // Tensor("Relu:0", shape=(?, 3), dtype=float32)
 * ```
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import {
  type AttrValue,
  type DType,
  DTypeError,
  formatShape,
  getDefaultGraph,
  type Graph,
  GraphError,
  type Operation,
  type Shape,
  ShapeError,
  SymbolicTensor,
  type TensorLike,
} from "./graph.ts";
import type { RunContext } from "./session.ts";

// ---------------------------------------------------------------- helpers

/**
 * Picks the graph for an op, as TF1 does: the default graph when it holds (or
 * encloses) every input, else the one graph all inputs share; inputs from two
 * unrelated graphs are an error ("must be from the same graph").
 */
function graphFor(inputs: SymbolicTensor[]): Graph {
  const g = getDefaultGraph();
  if (inputs.every((t) => g.isWithin(t.graph))) return g;
  const first = inputs[0].graph;
  const other = inputs.find((t) => t.graph !== first);
  if (!other) return first;
  throw new GraphError(
    `${other.toString()} must be from the same graph as ${
      inputs[0].toString()
    }: build both in one graph.asDefault()`,
  );
}

/** Op types whose output rank is known even when an input's rank is not. */
const RANK_FIXED = new Set([
  "MatMul",
  "Shape",
  "Size",
  "Reshape",
  "SoftmaxCrossEntropyWithLogits",
  "SparseSoftmaxCrossEntropyWithLogits",
]);

/** Adds an op to the right graph; `spec` gives its outputs' dtypes and shapes. */
export function addOp(
  type: string,
  inputs: SymbolicTensor[],
  attrs: Record<string, AttrValue>,
  spec: { dtype: DType; shape: Shape; unknownRank?: boolean }[],
  name?: string,
): Operation {
  const g = inputs.length > 0 ? graphFor(inputs) : getDefaultGraph();
  // An input of unknown rank gives outputs of unknown rank (unless the op fixes the rank).
  const unknown = inputs.some((t) => t.unknownRank) && !RANK_FIXED.has(type) &&
    !(attrs.axis === null && attrs.keep_dims === false);
  const specs = unknown ? spec.map((s) => ({ ...s, unknownRank: s.unknownRank ?? true })) : spec;
  return g.addOp(type, inputs, attrs, specs, { name });
}

/** Turns numbers, arrays and eager tensors into graph tensors (`Const` ops). */
export function toSymbolic(x: TensorLike, dtype?: DType): SymbolicTensor {
  if (x instanceof SymbolicTensor) return x;
  if (x instanceof tf.Variable) return readVariable(x);
  return constant(x, dtype);
}

/**
 * Converts a pair, giving plain numbers the dtype of the other operand; a
 * constant goes into the other operand's graph (TF1: an op goes to its inputs' graph).
 */
export function pair(a: TensorLike, b: TensorLike): [SymbolicTensor, SymbolicTensor] {
  const sa = a instanceof SymbolicTensor ? a : undefined;
  const sb = b instanceof SymbolicTensor ? b : undefined;
  const home = (sa ?? sb)?.graph;
  const convert = (): [SymbolicTensor, SymbolicTensor] => [
    toSymbolic(a, sb?.dtype),
    toSymbolic(b, sa?.dtype),
  ];
  return home && !getDefaultGraph().isWithin(home) ? home.asDefault(convert) : convert();
}

/** Throws a DTypeError unless `a` and `b` have one dtype (TensorFlow does not cast implicitly). */
export function sameDType(opName: string, a: SymbolicTensor, b: SymbolicTensor): void {
  if (a.dtype !== b.dtype) {
    throw new DTypeError(
      `${opName}: ${a.toString()} is ${a.dtype} but ${b.toString()} is ${b.dtype}; ` +
        `TensorFlow does not cast implicitly: use v1.cast(x, "${a.dtype}")`,
    );
  }
}

/** Throws a DTypeError unless `x` is float32. */
export function requireFloat(opName: string, x: SymbolicTensor): void {
  if (x.dtype !== "float32") {
    throw new DTypeError(
      `${opName} needs float32 input but ${x.toString()} is ${x.dtype}: cast it first`,
    );
  }
}

/** The static shape of `a op b` under NumPy broadcasting, or a ShapeError. */
export function broadcastShapes(opName: string, a: Shape, b: Shape): Shape {
  const n = Math.max(a.length, b.length);
  const out: Shape = [];
  for (let i = 0; i < n; i++) {
    const da = i < n - a.length ? 1 : a[i - (n - a.length)];
    const db = i < n - b.length ? 1 : b[i - (n - b.length)];
    if (da === 1) out.push(db);
    else if (db === 1) out.push(da);
    else if (da === null) out.push(db);
    else if (db === null || da === db) out.push(da);
    else {
      throw new ShapeError(
        `${opName}: shapes ${formatShape(a)} and ${formatShape(b)} cannot be broadcast ` +
          `(dimension ${i}: ${da} vs ${db}); reshape one of them or check the op's inputs`,
      );
    }
  }
  return out;
}

function normAxes(opName: string, x: SymbolicTensor, axis?: number | number[] | null): number[] {
  if (x.unknownRank) return axis === undefined || axis === null ? [] : [axis].flat();
  const list = axis === undefined || axis === null
    ? x.shape.map((_, i) => i)
    : Array.isArray(axis)
    ? axis
    : [axis];
  return list.map((a) => {
    const r = a < 0 ? a + x.rank : a;
    if (r < 0 || r >= x.rank) {
      throw new ShapeError(
        `${opName}: axis ${a.toString()} is out of range for ${x.toString()} (rank ${x.rank})`,
      );
    }
    return r;
  }).sort((p, q) => p - q);
}

// ---------------------------------------------------------------- sources

/**
 * A value fed at run time: `placeholder("float32", [null, 784], "x")`. Without
 * a shape (or with `null`) even the rank is unknown and any shape can be fed
 * (TF1's `tf.compat.v1.placeholder(dtype)`).
 */
export function placeholder(
  dtype: DType,
  shape: Shape | null = null,
  name = "Placeholder",
): SymbolicTensor {
  const spec = shape === null
    ? { dtype, shape: [], unknownRank: true }
    : { dtype, shape: [...shape] };
  return addOp("Placeholder", [], { dtype, shape }, [spec], name).output;
}

/** A constant: numbers, nested arrays or a `tf.Tensor` (copied; the graph owns the copy). */
export function constant(
  value: tf.Tensor | number | boolean | number[] | number[][] | number[][][],
  dtype?: DType,
  name = "Const",
): SymbolicTensor {
  copying++; // an eager copy, even of a tensor watched in a trace
  let t: tf.Tensor;
  try {
    t = tf.keep(
      value instanceof tf.Tensor
        ? (dtype && value.dtype !== dtype ? tf.cast(value, dtype) : tf.clone(value))
        : tf.tensor(
          value as number[],
          undefined,
          dtype ?? (typeof value === "boolean" ? "bool" : "float32"),
        ),
    );
  } finally {
    copying--;
  }
  const dt = t.dtype as DType;
  let op: Operation;
  try {
    op = addOp("Const", [], { dtype: dt, shape: t.shape }, [{ dtype: dt, shape: t.shape }], name);
  } catch (e) {
    t.dispose(); // e.g. a finished graph: no op owns the copy
    throw e;
  }
  op.value = t;
  if (value instanceof tf.Tensor) constantSources.set(op, value.id);
  return op.output;
}

/** The id of the eager tensor each `Const` was made from (a tape in a trace may watch it). */
export const constantSources: WeakMap<Operation, number> = new WeakMap();

/** Eager tensors a tape in a trace watches: ops on them are graph ops there (TF captures them). */
const watchedInTraces = new WeakSet<tf.Tensor>();
let copying = 0;

/** Makes ops on the eager tensor `t` graph ops while functions are traced (see `_kernel_dispatch.ts`). */
export function captureInTraces(t: tf.Tensor): void {
  watchedInTraces.add(t);
}

/** Whether ops on `x` must be graph ops in a trace because a tape watches it (not while it is copied into a constant). */
export const isWatchedInTraces = (x: unknown): boolean =>
  copying === 0 && watchedInTraces.has(x as tf.Tensor);

/** Reads an eager `tf.Variable`'s current value at run time (how `tfFunction` sees variables). */
export function readVariable(v: tf.Variable): SymbolicTensor {
  const dtype = v.dtype as DType;
  const op = addOp(
    "ReadVariableOp",
    [],
    { dtype, variable: v.name },
    [{ dtype, shape: v.shape }],
    v.name.replace(/[^\w/.-]/g, "_"),
  );
  op.variable = v;
  op.graph.sequence(op, "read", v);
  return op.output;
}

// ---------------------------------------------------------------- elementwise

function unary(type: string, x: TensorLike, name?: string): SymbolicTensor {
  const sx = toSymbolic(x);
  if (!["Identity", "Neg", "Square", "Abs", "Sign"].includes(type)) requireFloat(type, sx);
  return addOp(type, [sx], {}, [{ dtype: sx.dtype, shape: [...sx.shape] }], name).output;
}

/** An elementwise op of two broadcast operands of one dtype (`outDType`: the result's, if other). */
export function binary(
  type: string,
  a: TensorLike,
  b: TensorLike,
  name?: string,
  outDType?: DType,
): SymbolicTensor {
  const [sa, sb] = pair(a, b);
  sameDType(type, sa, sb);
  const shape = broadcastShapes(`${name ?? type}`, sa.shape, sb.shape);
  return addOp(type, [sa, sb], {}, [{ dtype: outDType ?? sa.dtype, shape }], name).output;
}

/** `a + b`, broadcasting (TF op `AddV2`). */
export function add(a: TensorLike, b: TensorLike, name?: string): SymbolicTensor {
  return binary("AddV2", a, b, name);
}
/** `a - b`, broadcasting. */
export function sub(a: TensorLike, b: TensorLike, name?: string): SymbolicTensor {
  return binary("Sub", a, b, name);
}
/** `a * b` elementwise, broadcasting. */
export function mul(a: TensorLike, b: TensorLike, name?: string): SymbolicTensor {
  return binary("Mul", a, b, name);
}
/** `a / b` elementwise, broadcasting (`RealDiv`; `FloorDiv` for int32). */
export function div(a: TensorLike, b: TensorLike, name?: string): SymbolicTensor {
  const [sa, sb] = pair(a, b);
  return binary(sa.dtype === "int32" ? "FloorDiv" : "RealDiv", sa, sb, name);
}
/** `a == b` elementwise → bool. */
export function equal(a: TensorLike, b: TensorLike, name?: string): SymbolicTensor {
  return binary("Equal", a, b, name, "bool");
}
/** `a < b` elementwise → bool. */
export function less(a: TensorLike, b: TensorLike, name?: string): SymbolicTensor {
  return binary("Less", a, b, name, "bool");
}
/** `a > b` elementwise → bool. */
export function greater(a: TensorLike, b: TensorLike, name?: string): SymbolicTensor {
  return binary("Greater", a, b, name, "bool");
}

/** `max(x, 0)`. */
export const relu = (x: TensorLike, name?: string): SymbolicTensor => unary("Relu", x, name);
/** `1 / (1 + exp(-x))`. */
export const sigmoid = (x: TensorLike, name?: string): SymbolicTensor => unary("Sigmoid", x, name);
/** Hyperbolic tangent. */
export const tanh = (x: TensorLike, name?: string): SymbolicTensor => unary("Tanh", x, name);
/** Natural logarithm. */
export const log = (x: TensorLike, name?: string): SymbolicTensor => unary("Log", x, name);
/** `e^x`. */
export const exp = (x: TensorLike, name?: string): SymbolicTensor => unary("Exp", x, name);
/** Square root. */
export const sqrt = (x: TensorLike, name?: string): SymbolicTensor => unary("Sqrt", x, name);
/** `x * x`. */
export const square = (x: TensorLike, name?: string): SymbolicTensor => unary("Square", x, name);
/** `-x`. */
export const neg = (x: TensorLike, name?: string): SymbolicTensor => unary("Neg", x, name);
/** `|x|`. */
export const abs = (x: TensorLike, name?: string): SymbolicTensor => unary("Abs", x, name);
/** -1, 0 or 1: the sign of each element. */
export const sign = (x: TensorLike, name?: string): SymbolicTensor => unary("Sign", x, name);
/** Passes `x` through unchanged (a named node in the graph). */
export const identity = (x: TensorLike, name?: string): SymbolicTensor =>
  unary("Identity", x, name);

/**
 * `type` (`Softmax`, `LogSoftmax`: ops on the last axis) along any `axis` of
 * `logits`, negative too, as TF's `tf.nn.softmax(logits, axis)` computes it:
 * the axis swapped last, the op, swapped back.
 */
function alongAxis(type: string, logits: TensorLike, axis: number, name?: string): SymbolicTensor {
  const x = toSymbolic(logits);
  if (x.rank < 1 && !x.unknownRank) {
    throw new ShapeError(`${type}: ${x.toString()} must have rank >= 1`);
  }
  if (axis === -1 || (!x.unknownRank && axis === x.rank - 1)) return unary(type, x, name);
  if (x.unknownRank) {
    throw new ShapeError(`${type} along axis ${axis}: the rank of ${x.toString()} must be known`);
  }
  const a = axis < 0 ? axis + x.rank : axis;
  if (!Number.isInteger(a) || a < 0 || a >= x.rank) {
    throw new ShapeError(
      `${type}: axis ${axis} must be in the range [-${x.rank}, ${x.rank}) for ${x.toString()}`,
    );
  }
  const swap = x.shape.map((_, i) => i === a ? x.rank - 1 : i === x.rank - 1 ? a : i);
  return transpose(unary(type, transpose(x, swap), name), swap);
}

/** Softmax along `axis` (default the last; any axis, as TF's `tf.nn.softmax`). */
export function softmax(logits: TensorLike, axis = -1, name?: string): SymbolicTensor {
  return alongAxis("Softmax", logits, axis, name);
}

/** `log(softmax(x))` along `axis` (default the last; any axis), computed stably. */
export function logSoftmax(logits: TensorLike, axis = -1, name?: string): SymbolicTensor {
  return alongAxis("LogSoftmax", logits, axis, name);
}

/**
 * The error TensorFlow.js's `tf.softmax`/`tf.logSoftmax` (`what`) raise, eagerly
 * too, for an `axis` of a rank-`rank` tensor other than the last, saying how to
 * move the axis last and back as TensorFlow does inside `tf.nn.softmax`.
 */
export function notLastAxisError(what: string, rank: number, axis: number): ShapeError {
  const a = axis < 0 ? axis + rank : axis;
  if (!Number.isInteger(a) || a < 0 || a >= rank) {
    return new ShapeError(`tf.${what}: axis ${axis} is out of range for a tensor of rank ${rank}`);
  }
  const swap = [...Array(rank).keys()].map((i) => i === a ? rank - 1 : i === rank - 1 ? a : i);
  const perm = `[${swap.join(", ")}]`;
  const tfName = what === "logSoftmax" ? "log_softmax" : what;
  return new ShapeError(
    `tf.${what}(x, ${axis}): TensorFlow.js computes ${what} only along the last axis, and ` +
      `refuses axis ${axis} of a rank-${rank} tensor eagerly too (TensorFlow's tf.nn.${tfName} ` +
      `takes any axis). Move the axis last and back, as TensorFlow does: ` +
      `tf.transpose(tf.${what}(tf.transpose(x, ${perm})), ${perm}), which runs eagerly and ` +
      `traced (in a v1 graph, v1.${what}(x, ${axis}) does it).`,
  );
}

/** Permutes the dimensions (default: reverses them). */
export function transpose(x: TensorLike, perm?: number[], name?: string): SymbolicTensor {
  const sx = toSymbolic(x);
  const p = perm ?? sx.shape.map((_, i) => sx.rank - 1 - i);
  if (!sx.unknownRank && (p.length !== sx.rank || [...p].sort().some((v, i) => v !== i))) {
    throw new ShapeError(
      `Transpose: ${JSON.stringify(p)} is not a permutation of ${sx.toString()}'s axes`,
    );
  }
  const shape = p.map((i) => sx.shape[i]);
  return addOp("Transpose", [sx], { perm: p }, [{ dtype: sx.dtype, shape }], name).output;
}

/** Converts the element type (`Cast`). */
export function cast(x: TensorLike, dtype: DType, name?: string): SymbolicTensor {
  const sx = toSymbolic(x);
  return addOp(
    "Cast",
    [sx],
    { SrcT: sx.dtype, DstT: dtype },
    [{ dtype, shape: [...sx.shape] }],
    name,
  )
    .output;
}

// ---------------------------------------------------------------- linear algebra, shapes

/** Matrix product of two rank-2 tensors, optionally transposing either. */
export function matMul(
  a: TensorLike,
  b: TensorLike,
  transposeA = false,
  transposeB = false,
  name?: string,
): SymbolicTensor {
  const [sa, sb] = pair(a, b);
  sameDType("MatMul", sa, sb);
  if ((!sa.unknownRank && sa.rank !== 2) || (!sb.unknownRank && sb.rank !== 2)) {
    throw new ShapeError(
      `MatMul: both inputs must be rank 2, got ${formatShape(sa.shape)} and ${
        formatShape(sb.shape)
      }`,
    );
  }
  const as = sa.unknownRank ? [null, null] : sa.shape;
  const bs = sb.unknownRank ? [null, null] : sb.shape;
  const [m, k1] = transposeA ? [as[1], as[0]] : as;
  const [k2, n] = transposeB ? [bs[1], bs[0]] : bs;
  if (k1 !== null && k2 !== null && k1 !== k2) {
    throw new ShapeError(
      `MatMul: shapes ${formatShape(sa.shape)} and ${formatShape(sb.shape)} do not fit ` +
        `(inner dimensions ${k1} vs ${k2}${transposeA || transposeB ? ", after transposes" : ""})`,
    );
  }
  const attrs = { transpose_a: transposeA, transpose_b: transposeB };
  return addOp("MatMul", [sa, sb], attrs, [{ dtype: sa.dtype, shape: [m, n] }], name).output;
}

/** A reduction `type` (`Sum`, `Max`, `Prod`, `All`, ...) over `axis` (all axes when omitted). */
export function reduce(
  type: string,
  x: TensorLike,
  axis?: number | number[] | null,
  keepDims = false,
  name?: string,
): SymbolicTensor {
  const sx = toSymbolic(x);
  const axes = normAxes(type, sx, axis);
  const shape = keepDims
    ? sx.shape.map((d, i) => axes.includes(i) ? 1 : d)
    : sx.shape.filter((_, i) => !axes.includes(i));
  // Over every axis of a tensor of unknown rank: `axis: null` (the kernel reduces all).
  const all = sx.unknownRank && (axis === undefined || axis === null);
  const attrs = { axis: all ? null : axes, keep_dims: keepDims };
  return addOp(type, [sx], attrs, [{ dtype: sx.dtype, shape }], name).output;
}

/** Sum over `axis` (all axes when omitted) — TF op `Sum`. */
export function reduceSum(
  x: TensorLike,
  axis?: number | number[] | null,
  keepDims = false,
  name?: string,
): SymbolicTensor {
  return reduce("Sum", x, axis, keepDims, name);
}

/** Mean over `axis` (all axes when omitted) — TF op `Mean`. */
export function reduceMean(
  x: TensorLike,
  axis?: number | number[] | null,
  keepDims = false,
  name?: string,
): SymbolicTensor {
  requireFloat("Mean", toSymbolic(x));
  return reduce("Mean", x, axis, keepDims, name);
}

/** Maximum over `axis` (all axes when omitted) — TF op `Max`. */
export function reduceMax(
  x: TensorLike,
  axis?: number | number[] | null,
  keepDims = false,
  name?: string,
): SymbolicTensor {
  return reduce("Max", x, axis, keepDims, name);
}

/** Index of the largest value along `axis` (default 0, as TF's `tf.math.argmax`) → int32. */
export function argMax(x: TensorLike, axis = 0, name?: string): SymbolicTensor {
  const sx = toSymbolic(x);
  const [a] = normAxes("ArgMax", sx, axis);
  const shape = sx.shape.filter((_, i) => i !== a);
  return addOp("ArgMax", [sx], { axis: a }, [{ dtype: "int32", shape }], name).output;
}

/** The static shape a `Reshape` to `target` (-1 allowed once) gives. */
function reshapedShape(x: SymbolicTensor, target: number[]): Shape {
  if (target.filter((d) => d === -1).length > 1) {
    throw new ShapeError(`Reshape: ${JSON.stringify(target)} has more than one -1`);
  }
  const known = !x.unknownRank && x.shape.every((d) => d !== null);
  const size = known ? (x.shape as number[]).reduce((p, d) => p * d, 1) : null;
  const rest = target.filter((d) => d !== -1).reduce((p, d) => p * d, 1);
  if (size !== null) {
    const ok = target.includes(-1) ? rest > 0 && size % rest === 0 : size === rest;
    if (!ok) {
      throw new ShapeError(
        `Reshape: cannot reshape ${x.toString()} (${size} elements) to ${JSON.stringify(target)}`,
      );
    }
  }
  return target.map((d) => d === -1 ? (size !== null ? size / rest : null) : d);
}

/**
 * Reshapes `x` to `shape` (a list with at most one -1, or a tensor such as
 * `shapeOf(y)`). The shape is a second input, as in TensorFlow.
 */
export function reshape(
  x: TensorLike,
  shape: number[] | SymbolicTensor,
  name?: string,
): SymbolicTensor {
  const sx = toSymbolic(x);
  let out: Shape;
  let st: SymbolicTensor;
  if (shape instanceof SymbolicTensor) {
    st = shape;
    out = st.op.type === "Shape" ? [...st.op.inputs[0].shape] : Array(st.shape[0] ?? 0).fill(null);
  } else {
    out = reshapedShape(sx, shape);
    st = constant(shape, "int32", "Reshape/shape");
  }
  return addOp("Reshape", [sx, st], {}, [{ dtype: sx.dtype, shape: out }], name).output;
}

/** Inserts a dimension of size 1 at `axis`. */
export function expandDims(x: TensorLike, axis = 0, name?: string): SymbolicTensor {
  const sx = toSymbolic(x);
  const a = axis < 0 ? axis + sx.rank + 1 : axis;
  if (!sx.unknownRank && (a < 0 || a > sx.rank)) {
    throw new ShapeError(`ExpandDims: axis ${axis} out of range for ${sx.toString()}`);
  }
  const shape = [...sx.shape.slice(0, a), 1, ...sx.shape.slice(a)];
  return addOp("ExpandDims", [sx], { axis: a }, [{ dtype: sx.dtype, shape }], name).output;
}

/** The run-time shape of `x` as an int32 vector. */
export function shapeOf(x: TensorLike, name?: string): SymbolicTensor {
  const sx = toSymbolic(x);
  const shape = [sx.unknownRank ? null : sx.rank];
  return addOp("Shape", [sx], {}, [{ dtype: "int32", shape }], name).output;
}

/** The run-time number of elements of `x` (int32 scalar). */
export function size(x: TensorLike, name?: string): SymbolicTensor {
  return addOp("Size", [toSymbolic(x)], {}, [{ dtype: "int32", shape: [] }], name).output;
}

/** A tensor of ones with `x`'s run-time shape and dtype. */
export function onesLike(x: TensorLike, name?: string): SymbolicTensor {
  const sx = toSymbolic(x);
  return addOp("OnesLike", [sx], {}, [{ dtype: sx.dtype, shape: [...sx.shape] }], name).output;
}

/** A tensor of zeros with `x`'s run-time shape and dtype. */
export function zerosLike(x: TensorLike, name?: string): SymbolicTensor {
  const sx = toSymbolic(x);
  return addOp("ZerosLike", [sx], {}, [{ dtype: sx.dtype, shape: [...sx.shape] }], name).output;
}

/** One-hot rows of length `depth` for int32 `indices`. */
export function oneHot(indices: TensorLike, depth: number, name?: string): SymbolicTensor {
  const si = toSymbolic(indices, "int32");
  if (si.dtype !== "int32") throw new DTypeError(`OneHot: ${si.toString()} must be int32`);
  const shape = [...si.shape, depth];
  return addOp("OneHot", [si], { depth }, [{ dtype: "float32", shape }], name).output;
}

/** Sums a list of same-shaped tensors (how gradients accumulate). */
export function addN(xs: SymbolicTensor[], name?: string): SymbolicTensor {
  if (xs.length === 1) return xs[0];
  let shape = xs[0].shape;
  for (const x of xs.slice(1)) shape = broadcastShapes("AddN", shape, x.shape);
  return addOp("AddN", xs, { N: xs.length }, [{ dtype: xs[0].dtype, shape }], name).output;
}

// ---------------------------------------------------------------- losses

/**
 * Per-example cross-entropy between one-hot (or soft) `labels` and the softmax
 * of `logits`, both `[batch, classes]` → `[batch]`. One fused op, as in TF1's
 * `tf.nn.softmax_cross_entropy_with_logits`.
 */
export function softmaxCrossEntropyWithLogits(
  labels: TensorLike,
  logits: TensorLike,
  name?: string,
): SymbolicTensor {
  const [sl, sz] = pair(labels, logits);
  requireFloat("SoftmaxCrossEntropyWithLogits", sz);
  sameDType("SoftmaxCrossEntropyWithLogits", sz, sl);
  const shape = broadcastShapes("SoftmaxCrossEntropyWithLogits", sz.shape, sl.shape);
  if (shape.length !== 2) {
    throw new ShapeError(
      `SoftmaxCrossEntropyWithLogits: logits ${sz.toString()} must be [batch, classes]`,
    );
  }
  return addOp("SoftmaxCrossEntropyWithLogits", [sz, sl], {}, [{
    dtype: "float32",
    shape: [shape[0]],
  }], name)
    .output;
}

/** Like {@linkcode softmaxCrossEntropyWithLogits} with int32 class indices `[batch]` as labels. */
export function sparseSoftmaxCrossEntropyWithLogits(
  labels: TensorLike,
  logits: TensorLike,
  name?: string,
): SymbolicTensor {
  const sl = toSymbolic(labels, "int32");
  const sz = toSymbolic(logits);
  requireFloat("SparseSoftmaxCrossEntropyWithLogits", sz);
  if (sl.dtype !== "int32") {
    throw new DTypeError(
      `SparseSoftmaxCrossEntropyWithLogits: labels ${sl.toString()} must be int32`,
    );
  }
  if (sz.rank !== 2 || sl.rank !== 1) {
    throw new ShapeError(
      `SparseSoftmaxCrossEntropyWithLogits: logits ${sz.toString()} must be [batch, classes] and labels ${sl.toString()} [batch]`,
    );
  }
  broadcastShapes("SparseSoftmaxCrossEntropyWithLogits", [sz.shape[0]], sl.shape);
  return addOp("SparseSoftmaxCrossEntropyWithLogits", [sz, sl], {}, [{
    dtype: "float32",
    shape: [sz.shape[0]],
  }], name)
    .output;
}

// ---------------------------------------------------------------- grouping, printing

/** An op that does nothing but run `deps` first (`tf.group`). */
export function group(deps: (Operation | SymbolicTensor)[], name = "group_deps"): Operation {
  const opsList = deps.map((d) => d instanceof SymbolicTensor ? d.op : d);
  const g = opsList.length > 0 ? opsList[0].graph : getDefaultGraph();
  return g.addOp("NoOp", [], {}, [], { name, controlInputs: opsList });
}

/** A graph op that prints `message` and `x`'s value each time it runs, and returns `x`. */
export function print(x: TensorLike, message = "", name = "Print"): SymbolicTensor {
  const sx = toSymbolic(x);
  const op = addOp("Print", [sx], { message }, [{ dtype: sx.dtype, shape: [...sx.shape] }], name);
  op.stateful = true;
  op.graph.statefulOps.push(op);
  op.graph.sequence(op, "effect");
  return op.output;
}

/**
 * Runs `fn` with every op it builds depending on `deps` first (TF1's
 * `with tf.control_dependencies(deps):`); returns what `fn` returns.
 */
export function controlDependencies<T>(
  deps: (Operation | SymbolicTensor)[],
  fn: () => T,
): T {
  const first = deps[0];
  const g = first === undefined
    ? getDefaultGraph()
    : first instanceof SymbolicTensor
    ? first.graph
    : first.graph;
  return (getDefaultGraph().isWithin(g) ? getDefaultGraph() : g).controlDependencies(deps, fn);
}

// ---------------------------------------------------------------- kernels

/** Prints `message` and the value of `x` on one line (what `Print` does when it runs). */
export function printTensor(x: tf.Tensor, message = ""): void {
  const body = x.toString().replace(/^Tensor\n\s*/, "");
  console.log(message ? `${message} ${body}` : body);
}

/** How a session computes one op type from its inputs' values. */
export type Kernel = (inputs: tf.Tensor[], op: Operation, ctx: RunContext) => tf.Tensor[];

const one = (f: (...xs: tf.Tensor[]) => tf.Tensor): Kernel => (xs) => [f(...xs)];

function xent(logits: tf.Tensor, labels: tf.Tensor): tf.Tensor {
  return tf.neg(tf.sum(tf.mul(labels, tf.logSoftmax(logits)), -1));
}

/** The kernel of every op type, by type; `control_flow.ts` adds `If` and `While`. */
export const kernels: Record<string, Kernel> = {
  Placeholder: (_, op, ctx) => [ctx.missingFeed(op)],
  Const: (_, op) => [op.value!],
  // A snapshot (shares the data): a later assign does not change what was read.
  ReadVariableOp: (_, op, ctx) => {
    const v = ctx.variable(op.variable!);
    return [tf.clone(ctx.fedReads.get(v) ?? v)];
  },
  Identity: one((x) => x),
  AddV2: one(tf.add),
  Sub: one(tf.sub),
  Mul: one(tf.mul),
  RealDiv: one(tf.div),
  FloorDiv: one(tf.floorDiv),
  Equal: one(tf.equal),
  Less: one(tf.less),
  Greater: one(tf.greater),
  Relu: one(tf.relu),
  Sigmoid: one(tf.sigmoid),
  Tanh: one(tf.tanh),
  Log: one(tf.log),
  Exp: one(tf.exp),
  Sqrt: one(tf.sqrt),
  Square: one(tf.square),
  Neg: one(tf.neg),
  Softmax: one((x) => tf.softmax(x)),
  LogSoftmax: one((x) => tf.logSoftmax(x)),
  Abs: one(tf.abs),
  Sign: one(tf.sign),
  Transpose: ([x], op) => [tf.transpose(x, op.attrs.perm as number[])],
  Max: ([x], op) => [tf.max(x, op.attrs.axis as number[], op.attrs.keep_dims as boolean)],
  Cast: ([x], op) => [tf.cast(x, op.attrs.DstT as DType)],
  MatMul: (
    [a, b],
    op,
  ) => [tf.matMul(a, b, op.attrs.transpose_a as boolean, op.attrs.transpose_b as boolean)],
  Sum: ([x], op) => [tf.sum(x, op.attrs.axis as number[], op.attrs.keep_dims as boolean)],
  Mean: ([x], op) => [tf.mean(x, op.attrs.axis as number[], op.attrs.keep_dims as boolean)],
  ArgMax: ([x], op) => [tf.argMax(x, op.attrs.axis as number)],
  Reshape: ([x, s]) => [tf.reshape(x, Array.from(s.dataSync()))],
  ExpandDims: ([x], op) => [tf.expandDims(x, op.attrs.axis as number)],
  Shape: ([x]) => [tf.tensor1d(x.shape, "int32")],
  Size: ([x]) => [tf.scalar(x.size, "int32")],
  OnesLike: one(tf.onesLike),
  ZerosLike: one(tf.zerosLike),
  OneHot: ([i], op) => [tf.oneHot(i as tf.Tensor1D, op.attrs.depth as number).cast("float32")],
  AddN: (xs) => [tf.addN(xs)],
  SoftmaxCrossEntropyWithLogits: one(xent),
  SparseSoftmaxCrossEntropyWithLogits: (
    [z, l],
  ) => [xent(z, tf.oneHot(l as tf.Tensor1D, z.shape[1]!))],
  NoOp: () => [],
  Print: ([x], op) => {
    printTensor(x, op.attrs.message as string);
    return [x];
  },
};

// ---------------------------------------------------------------- comparisons, logic, mod, gather
// (what AutoGraph turns `<=`, `>=`, `!==`, `&&`, `||`, `!`, `%` and `for (const row of t)` into)

/** `a <= b` elementwise → bool. */
export function lessEqual(a: TensorLike, b: TensorLike, name?: string): SymbolicTensor {
  return binary("LessEqual", a, b, name, "bool");
}
/** `a >= b` elementwise → bool. */
export function greaterEqual(a: TensorLike, b: TensorLike, name?: string): SymbolicTensor {
  return binary("GreaterEqual", a, b, name, "bool");
}
/** `a != b` elementwise → bool. */
export function notEqual(a: TensorLike, b: TensorLike, name?: string): SymbolicTensor {
  return binary("NotEqual", a, b, name, "bool");
}

function requireBool(opName: string, ...xs: SymbolicTensor[]): void {
  for (const x of xs) {
    if (x.dtype !== "bool") {
      throw new DTypeError(`${opName} needs bool inputs but ${x.toString()} is ${x.dtype}`);
    }
  }
}
/** `a && b` elementwise on bool tensors. */
export function logicalAnd(a: TensorLike, b: TensorLike, name?: string): SymbolicTensor {
  const [sa, sb] = pair(a, b);
  requireBool("LogicalAnd", sa, sb);
  return binary("LogicalAnd", sa, sb, name);
}
/** `a || b` elementwise on bool tensors. */
export function logicalOr(a: TensorLike, b: TensorLike, name?: string): SymbolicTensor {
  const [sa, sb] = pair(a, b);
  requireBool("LogicalOr", sa, sb);
  return binary("LogicalOr", sa, sb, name);
}
/** `!x` elementwise on a bool tensor. */
export function logicalNot(x: TensorLike, name?: string): SymbolicTensor {
  const sx = toSymbolic(x);
  requireBool("LogicalNot", sx);
  return addOp("LogicalNot", [sx], {}, [{ dtype: "bool", shape: [...sx.shape] }], name).output;
}
/** `floor(a / b)` elementwise, for float32 and int32 (`FloorDiv`). */
export function floorDiv(a: TensorLike, b: TensorLike, name?: string): SymbolicTensor {
  return binary("FloorDiv", a, b, name);
}
/** The remainder of `floorDiv`, with the sign of `b`, as Python's `%` (`FloorMod`). */
export function floorMod(a: TensorLike, b: TensorLike, name?: string): SymbolicTensor {
  return binary("FloorMod", a, b, name);
}
/** Row `index` (an int32 scalar, known at run time) of `x` along axis 0 (`GatherV2`). */
export function gather(x: TensorLike, index: TensorLike, name?: string): SymbolicTensor {
  const sx = toSymbolic(x);
  const si = toSymbolic(index, "int32");
  if (si.dtype !== "int32" || si.rank !== 0) {
    throw new DTypeError(`GatherV2: index ${si.toString()} must be an int32 scalar`);
  }
  if (sx.rank < 1) throw new ShapeError(`GatherV2: ${sx.toString()} has no rows (rank 0)`);
  const spec = { dtype: sx.dtype, shape: sx.shape.slice(1) };
  return addOp("GatherV2", [sx, si], { axis: 0 }, [spec], name).output;
}

Object.assign(
  kernels,
  {
    LessEqual: one(tf.lessEqual),
    GreaterEqual: one(tf.greaterEqual),
    NotEqual: one(tf.notEqual),
    LogicalAnd: one(tf.logicalAnd),
    LogicalOr: one(tf.logicalOr),
    LogicalNot: one(tf.logicalNot),
    FloorMod: one(tf.mod),
    GatherV2: ([x, i]) => [tf.gather(x, i)],
    // tf.floorDiv gives int32 even for float32 inputs; TensorFlow keeps the input dtype.
    FloorDiv: ([a, b]) => [tf.tidy(() => tf.cast(tf.floorDiv(a, b), a.dtype))],
  } satisfies Record<string, Kernel>,
);
// ---------------------------------------------------------------- gradient support

/**
 * `x` as a constant for differentiation (`tf.stop_gradient`): the same value at
 * run time; `v1.gradients` does not flow through it (its gradient is `None`).
 */
export function stopGradient(x: TensorLike, name?: string): SymbolicTensor {
  const sx = toSymbolic(x);
  return addOp("StopGradient", [sx], {}, [{ dtype: sx.dtype, shape: [...sx.shape] }], name)
    .output;
}

/**
 * The axes along which each of two broadcast operands must be summed to undo
 * broadcasting, from their run-time shapes `s0`, `s1` (int32 vectors): TF's
 * `BroadcastGradientArgs`, used by gradients when static shapes are unknown.
 */
export function broadcastGradientArgs(
  s0: SymbolicTensor,
  s1: SymbolicTensor,
  name?: string,
): [SymbolicTensor, SymbolicTensor] {
  const spec = { dtype: "int32" as DType, shape: [null] };
  const op = addOp("BroadcastGradientArgs", [s0, s1], {}, [spec, spec], name);
  return [op.outputs[0], op.outputs[1]];
}

/**
 * Sums `x` over the axes given at run time by the int32 vector `axes`, keeping
 * them as size 1 (TF's `Sum` with its reduction indices as an input tensor).
 */
export function reduceSumAxes(x: TensorLike, axes: SymbolicTensor, name?: string): SymbolicTensor {
  const sx = toSymbolic(x);
  const shape = sx.shape.map(() => null);
  return addOp("Sum", [sx, axes], { keep_dims: true }, [{ dtype: sx.dtype, shape }], name).output;
}

/** The reduction axes `BroadcastGradientArgs` gives for shapes `a` and `b`. */
function broadcastReductionAxes(a: number[], b: number[]): [number[], number[]] {
  const n = Math.max(a.length, b.length);
  const r0: number[] = [], r1: number[] = [];
  for (let i = 0; i < n; i++) {
    const da = i < n - a.length ? null : a[i - (n - a.length)];
    const db = i < n - b.length ? null : b[i - (n - b.length)];
    const out = Math.max(da ?? 1, db ?? 1);
    if (da === null || (da === 1 && out !== 1)) r0.push(i);
    if (db === null || (db === 1 && out !== 1)) r1.push(i);
  }
  return [r0, r1];
}

kernels.StopGradient = one((x) => x);
kernels.BroadcastGradientArgs = ([s0, s1]) =>
  broadcastReductionAxes(Array.from(s0.dataSync()), Array.from(s1.dataSync()))
    .map((r) => tf.tensor1d(r, "int32"));
const staticSum = kernels.Sum;
kernels.Sum = (inputs, op, ctx) =>
  inputs.length > 1
    ? [tf.sum(inputs[0], Array.from(inputs[1].dataSync()), op.attrs.keep_dims as boolean)]
    : staticSum(inputs, op, ctx);
