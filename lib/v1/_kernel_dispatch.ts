/**
 * tfjs's functional API (`tf.mul(x, w)`, `tf.add(w, 1)`, `tf.matMul(x, w)`,
 * `tf.losses.softmaxCrossEntropy(labels, logits)`) inside a traced function.
 * In TensorFlow every op called while `tf.function` traces is a graph op, and a
 * captured `tf.Variable` is read by the graph at every call. Here:
 *
 * - an op given a graph tensor ({@linkcode SymbolicTensor}), or given a
 *   `tf.Variable` while a function is traced, builds the graph op (a variable
 *   becomes a `ReadVariableOp`), for the kernels that v1 has ops for: `Add Sub Multiply RealDiv BatchMatMul Square Sqrt Exp Log Neg
 *   Abs Relu Sigmoid Tanh Softmax Sum Mean Max Reshape Transpose Cast
 *   ExpandDims ArgMax Identity Equal Less Greater LessEqual GreaterEqual NotEqual
 *   LogicalAnd LogicalOr LogicalNot FloorDiv Mod Sign ZerosLike OnesLike AddN`, and
 *   (`math_array_ops.ts`) `Maximum Minimum Pow SquaredDifference Floor Ceil Round
 *   Rsqrt Reciprocal Sin Cos Softplus Elu LeakyRelu Min ClipByValue Select Concat
 *   Pack Unpack SplitV Reverse Tile PadV2 Slice GatherV2 OneHot Prod All Any Cumsum
 *   Cumprod Atan2 ArgMin Log1p Expm1 Tan Asin Acos Atan Sinh Cosh Erf Relu6 Selu IsNan
 *   IsInf IsFinite Step BatchMatMulV2`, and (`nn_ops.ts`) `Conv2D MaxPool AvgPool
 *   DepthwiseConv2dNative FusedBatchNorm Prelu ResizeBilinear LRN`;
 * - an op with a custom gradient (`tf.customGrad`, e.g. `tf.logSoftmax`) builds
 *   its forward ops and takes its gradient function as the graph gradient
 *   (TF's `tf.custom_gradient`);
 * - `tf.losses.softmaxCrossEntropy`, `meanSquaredError`, `absoluteDifference`,
 *   `huberLoss`, `logLoss`, `hingeLoss`, `sigmoidCrossEntropy` and
 *   `cosineDistance` (without weights) build their graph forms;
 * - `tf.fused.matMul` and `tf.fused.conv2d` (what `tf.layers.dense` and
 *   `tf.layers.conv2d` run, so calling a `tf.Sequential` model, `model.apply(x)`,
 *   traces) are `MatMul`/`Conv2D`, bias and activation, differentiated as those ops;
 * - `tf.Tensor`'s op methods work on graph tensors too (`x.pow(2)`,
 *   `x.prod()`, `x.flatten()`: the same `tf.*` op); those that read a value
 *   (`dataSync`, `array`, ...) throw `OperatorNotAllowedInGraphError`,
 *   `x.print()` is a `Print` op (printed at every call), `x.dispose()` does nothing;
 * - `StridedSlice GatherNd ScatterNd TopK MirrorPad` (`array_ops.ts`) are graph ops too,
 *   and `Einsum` is built from `Sum Transpose Reshape MatMul BatchMatMulV2` ops;
 * - any other kernel given one throws a {@linkcode GraphError} (never an eager
 *   result computed once, at trace time, from the variable's value then);
 * - ops whose inputs are all plain eager tensors still run eagerly while
 *   tracing (constant folding: same results).
 *
 * How: tfjs's `convertToTensor` accepts a graph tensor (its global `Tensor`
 * class is widened for that one check), and `engine.runKernel` hands such
 * inputs to the v1 ops. Installed when first imported (by
 * `resource_variables.ts`); eager behaviour is unchanged.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { tfFunction } from "../function.ts";
 * const w = tf.variable(tf.scalar(2));
 * const f = tfFunction((x: tf.Tensor) => tf.sum(tf.mul(x, w)));
 * f(tf.tensor([1, 2])).print(); // 6
 * w.assign(tf.scalar(3));
 * f(tf.tensor([1, 2])).print(); // 9: the graph reads w at every call
 * ```
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import {
  assertInScope,
  type DType,
  getDefaultGraph,
  GraphError,
  OperatorNotAllowedInGraphError,
  SymbolicTensor,
  type TensorLike,
} from "./graph.ts";
import * as ops from "./ops.ts";
import * as more from "./math_array_ops.ts";
import * as nn from "./nn_ops.ts";
import * as arr from "./array_ops.ts";

type In = Record<string, TensorLike>;
type Attrs = Record<string, unknown>;
const axis = (a: unknown): number | number[] | null => (a ?? null) as number | number[] | null;

/**
 * `MatMul` of matrices (also of rank-3 operands holding one matrix each, as tfjs's fused
 * matMul and its gradient pass them), else `BatchMatMulV2`.
 */
function matMulOfBatch1(a: TensorLike, b: TensorLike, ta: boolean, tb: boolean): SymbolicTensor {
  const [sa, sb] = [ops.toSymbolic(a), ops.toSymbolic(b)];
  if (sa.rank === 2 && sb.rank === 2) return ops.matMul(sa, sb, ta, tb);
  if ([sa, sb].some((t) => t.rank !== 3 || t.shape[0] !== 1)) {
    return more.batchMatMul(sa, sb, ta, tb);
  }
  const matrix = (t: SymbolicTensor) => ops.reshape(t, t.shape.slice(1).map((d) => d ?? -1));
  return ops.expandDims(ops.matMul(matrix(sa), matrix(sb), ta, tb), 0);
}

/** A convolution's or pooling's dimRoundingMode; NHWC only (a GraphError for NCHW). */
function rounding(a: Attrs): "floor" | "round" | "ceil" | undefined {
  if (a.dataFormat === "NCHW") unsupported("a convolution with dataFormat NCHW");
  return (a.dimRoundingMode ?? undefined) as "floor" | "round" | "ceil" | undefined;
}

/** How many fused kernels were built as graph ops (see `engine.customGrad` below). */
let fusedKernels = 0;

/** The activations of tfjs's fused kernels, as graph ops. */
const activations: Record<string, (y: SymbolicTensor, attrs: Attrs) => SymbolicTensor> = {
  linear: (y) => y,
  relu: (y) => ops.relu(y),
  relu6: (y) => more.relu6(y),
  elu: (y) => more.elu(y),
  sigmoid: (y) => ops.sigmoid(y),
  leakyrelu: (y, a) => more.leakyRelu(y, (a.leakyreluAlpha ?? 0.2) as number),
};

/** tfjs kernel name → the v1 op that builds it in a graph. */
const graphKernels: Record<string, (x: In, attrs: Attrs) => SymbolicTensor | SymbolicTensor[]> = {
  Add: ({ a, b }) => ops.add(a, b),
  Sub: ({ a, b }) => ops.sub(a, b),
  Multiply: ({ a, b }) => ops.mul(a, b),
  RealDiv: ({ a, b }) => ops.div(a, b),
  BatchMatMul: ({ a, b }, { transposeA, transposeB }) =>
    matMulOfBatch1(a, b, !!transposeA, !!transposeB),
  // lib/kernels' fused tf.losses.softmaxCrossEntropy: TF's op, and its backprop output.
  SoftmaxCrossEntropyWithLogits: ({ labels, logits }) => [
    ops.softmaxCrossEntropyWithLogits(labels, logits),
    ops.sub(ops.softmax(logits), labels),
  ],
  // tf.fused.matMul (what tf.layers.dense runs): MatMul, bias and activation as separate ops.
  _FusedMatMul: ({ a, b, bias, preluActivationWeights }, attrs) => {
    if (preluActivationWeights) unsupported("tf.fused.matMul with a prelu activation");
    fusedKernels++;
    let y = matMulOfBatch1(a, b, !!attrs.transposeA, !!attrs.transposeB);
    if (bias) y = ops.add(y, bias);
    return activations[(attrs.activation ?? "linear") as string]?.(y, attrs) ??
      unsupported(`tf.fused.matMul with the activation ${attrs.activation}`);
  },
  Conv2D: ({ x, filter }, a) =>
    nn.conv2d(x, filter, a.strides as number, a.pad as "same", a.dilations as number, rounding(a)),
  // tf.fused.conv2d (what tf.layers.conv2d runs): Conv2D, bias and activation, as above.
  FusedConv2D: ({ x, filter, bias, preluActivationWeights }, a) => {
    if (preluActivationWeights) unsupported("tf.fused.conv2d with a prelu activation");
    fusedKernels++;
    let y = nn.conv2d(
      x,
      filter,
      a.strides as number,
      a.pad as "same",
      a.dilations as number,
      rounding(a),
    );
    if (bias) y = ops.add(y, bias);
    return activations[(a.activation ?? "linear") as string]?.(y, a) ??
      unsupported(`tf.fused.conv2d with the activation ${a.activation}`);
  },
  MaxPool: ({ x }, a) =>
    nn.maxPool(x, a.filterSize as number, a.strides as number, a.pad as "same", rounding(a)),
  AvgPool: ({ x }, a) =>
    nn.avgPool(x, a.filterSize as number, a.strides as number, a.pad as "same", rounding(a)),
  // tf.layers.depthwiseConv2d passes dilations null: 1, as tfjs's kernels read it.
  DepthwiseConv2dNative: ({ x, filter }, a) =>
    nn.depthwiseConv2d(
      x,
      filter,
      a.strides as number,
      a.pad as "same",
      (a.dilations ?? 1) as number,
      rounding(a),
    ),
  // tf.batchNorm (and tf.layers.batchNormalization): offset and scale are optional.
  FusedBatchNorm: ({ x, mean, variance, offset, scale }, a) =>
    nn.batchNormalization(
      x,
      mean,
      variance,
      offset ?? null,
      scale ?? null,
      a.varianceEpsilon as number,
    ),
  Prelu: ({ x, alpha }) => nn.prelu(x, alpha),
  ResizeBilinear: ({ images }, a) =>
    nn.resizeBilinear(
      images,
      a.size as [number, number],
      !!a.alignCorners,
      !!a.halfPixelCenters,
    ),
  LRN: ({ x }, a) =>
    nn.localResponseNormalization(
      x,
      a.depthRadius as number,
      a.bias as number,
      a.alpha as number,
      a.beta as number,
    ),
  Square: ({ x }) => ops.square(x),
  Sqrt: ({ x }) => ops.sqrt(x),
  Exp: ({ x }) => ops.exp(x),
  Log: ({ x }) => ops.log(x),
  Neg: ({ x }) => ops.neg(x),
  Abs: ({ x }) => ops.abs(x),
  Relu: ({ x }) => ops.relu(x),
  Sigmoid: ({ x }) => ops.sigmoid(x),
  Tanh: ({ x }) => ops.tanh(x),
  Identity: ({ x }) => ops.identity(x),
  Softmax: ({ logits }, { dim }) => ops.softmax(logits, dim as number),
  Sum: ({ x }, a) => ops.reduceSum(x, axis(a.axis), !!a.keepDims),
  // tfjs's mean of an integer tensor is a float32 mean (TF's reduce_mean would stay int32).
  Mean: ({ x }, a) =>
    ops.reduceMean(
      (x as SymbolicTensor).dtype === "float32" ? x : ops.cast(x, "float32"),
      axis(a.axis),
      !!a.keepDims,
    ),
  Max: ({ x }, a) => ops.reduceMax(x, axis(a.reductionIndices), !!a.keepDims),
  // tfjs ops that compute a shape from a graph tensor's (tf.squeeze, tf.fused.matMul) pass
  // unknown dimensions as null: -1 there (TF's reshape infers one dimension).
  Reshape: ({ x }, { shape }) => ops.reshape(x, (shape as (number | null)[]).map((d) => d ?? -1)),
  Transpose: ({ x }, { perm }) => ops.transpose(x, perm as number[]),
  Cast: ({ x }, { dtype }) => ops.cast(x, dtype as DType),
  ExpandDims: ({ input }, { dim }) => ops.expandDims(input, dim as number),
  ArgMax: ({ x }, { axis }) => ops.argMax(x, axis as number),
  Equal: ({ a, b }) => ops.equal(a, b),
  Less: ({ a, b }) => ops.less(a, b),
  Greater: ({ a, b }) => ops.greater(a, b),
  LessEqual: ({ a, b }) => ops.lessEqual(a, b),
  GreaterEqual: ({ a, b }) => ops.greaterEqual(a, b),
  NotEqual: ({ a, b }) => ops.notEqual(a, b),
  LogicalAnd: ({ a, b }) => ops.logicalAnd(a, b),
  LogicalOr: ({ a, b }) => ops.logicalOr(a, b),
  LogicalNot: ({ x }) => ops.logicalNot(x),
  FloorDiv: ({ a, b }) => ops.floorDiv(a, b),
  Mod: ({ a, b }) => ops.floorMod(a, b), // tf.mod is a floor mod, as TF's FloorMod
  Sign: ({ x }) => ops.sign(x),
  // tf.step (the fused relu's gradient mask): 1 where x > 0, else alpha; no gradient.
  Step: ({ x }, { alpha }) => {
    const ones = ops.onesLike(x);
    return more.where(ops.greater(x, 0), ones, ops.mul(ones, (alpha ?? 0) as number));
  },
  ZerosLike: ({ x }) => ops.zerosLike(x),
  OnesLike: ({ x }) => ops.onesLike(x),
  AddN: (xs) => ops.addN(Object.values(xs).map((x) => ops.toSymbolic(x))),
  // math_array_ops.ts: the ops of TF's guides' tf.function examples and other common ones.
  Maximum: ({ a, b }) => more.maximum(a, b),
  Minimum: ({ a, b }) => more.minimum(a, b),
  Pow: ({ a, b }) => more.pow(a, b),
  SquaredDifference: ({ a, b }) => more.squaredDifference(a, b),
  Floor: ({ x }) => more.floor(x),
  Ceil: ({ x }) => more.ceil(x),
  Round: ({ x }) => more.round(x),
  Rsqrt: ({ x }) => more.rsqrt(x),
  Reciprocal: ({ x }) => more.reciprocal(x),
  Sin: ({ x }) => more.sin(x),
  Cos: ({ x }) => more.cos(x),
  Softplus: ({ x }) => more.softplus(x),
  Elu: ({ x }) => more.elu(x),
  LeakyRelu: ({ x }, { alpha }) => more.leakyRelu(x, alpha as number),
  Log1p: ({ x }) => more.log1p(x),
  Expm1: ({ x }) => more.expm1(x),
  Tan: ({ x }) => more.tan(x),
  Asin: ({ x }) => more.asin(x),
  Acos: ({ x }) => more.acos(x),
  Atan: ({ x }) => more.atan(x),
  Sinh: ({ x }) => more.sinh(x),
  Cosh: ({ x }) => more.cosh(x),
  Erf: ({ x }) => more.erf(x),
  Relu6: ({ x }) => more.relu6(x),
  Selu: ({ x }) => more.selu(x),
  IsNan: ({ x }) => more.isNaN(x),
  IsInf: ({ x }) => more.isInf(x),
  IsFinite: ({ x }) => more.isFinite(x),
  Reverse: ({ x }, { dims }) => {
    const s = ops.toSymbolic(x); // tfjs passes the axes as given: none means all
    return more.reverse(s, dims == null ? s.shape.map((_, i) => i) : [dims as number].flat());
  },
  Unpack: ({ value }, { axis }) => more.unstack(value, axis as number),
  SplitV: ({ x }, { numOrSizeSplits, axis }) => {
    const s = ops.toSymbolic(x);
    const a = (axis as number) < 0 ? (axis as number) + s.rank : axis as number;
    const n = numOrSizeSplits as number | number[];
    const d = s.shape[a];
    if (d === null) unsupported("tf.split along a dimension of unknown size");
    if (!Array.isArray(n)) return more.split(s, Array(n).fill(d! / n), a);
    const rest = d! - n.filter((k) => k !== -1).reduce((p, k) => p + k, 0); // one -1: the rest
    return more.split(s, n.map((k) => k === -1 ? rest : k), a);
  },
  Min: ({ x }, a) => more.reduceMin(x, axis(a.axis), !!a.keepDims),
  Prod: ({ x }, a) => more.reduceProd(x, axis(a.axis), !!a.keepDims),
  All: ({ x }, a) => more.reduceAll(x, axis(a.axis), !!a.keepDims),
  Any: ({ x }, a) => more.reduceAny(x, axis(a.axis), !!a.keepDims),
  Cumsum: ({ x }, a) => more.cumsum(x, a.axis as number, !!a.exclusive, !!a.reverse),
  Cumprod: ({ x }, a) => more.cumprod(x, a.axis as number, !!a.exclusive, !!a.reverse),
  Atan2: ({ a, b }) => more.atan2(a, b),
  ArgMin: ({ x }, { axis }) => more.argMin(x, axis as number),
  ClipByValue: ({ x }, a) =>
    more.clipByValue(x, a.clipValueMin as number, a.clipValueMax as number),
  Select: ({ condition, t, e }) => more.where(condition, t, e),
  Concat: (xs, { axis }) => more.concat(Object.values(xs), axis as number),
  Pack: (xs, { axis }) => more.stack(Object.values(xs), axis as number),
  Tile: ({ x }, { reps }) => more.tile(x, reps as number[]),
  PadV2: ({ x }, a) => more.pad(x, a.paddings as [number, number][], a.constantValue as number),
  Slice: ({ x }, { begin, size }) => {
    const s = ops.toSymbolic(x); // tfjs passes begin and size as given: numbers or short lists
    const b = [begin as number | number[]].flat();
    const n = [(size ?? []) as number | number[]].flat();
    const rank = s.rank;
    return more.slice(
      s,
      Array.from({ length: rank }, (_, i) => b[i] ?? 0),
      Array.from({ length: rank }, (_, i) => n[i] ?? -1),
    );
  },
  GatherV2: ({ x, indices }, { axis, batchDims }) => {
    if (batchDims) unsupported("tf.gather with batchDims");
    return more.gatherV2(x, indices, axis as number);
  },
  // array_ops.ts: strided slices (all five masks), gatherND/scatterND, topk, mirrorPad, einsum.
  StridedSlice: ({ x }, a) =>
    arr.stridedSlice(x, a.begin as number[], a.end as number[], a.strides as number[], {
      beginMask: a.beginMask as number,
      endMask: a.endMask as number,
      ellipsisMask: a.ellipsisMask as number,
      newAxisMask: a.newAxisMask as number,
      shrinkAxisMask: a.shrinkAxisMask as number,
    }),
  GatherNd: ({ params, indices }) => arr.gatherNd(params, indices),
  ScatterNd: ({ indices, updates }, { shape }) =>
    arr.scatterNd(indices, updates, shape as number[]),
  TopK: ({ x }, { k, sorted }) => arr.topK(x, k as number, sorted as boolean),
  MirrorPad: ({ x }, a) =>
    arr.mirrorPad(x, a.paddings as [number, number][], a.mode as "reflect" | "symmetric"),
  Einsum: (xs, { equation }) => arr.einsum(equation as string, ...Object.values(xs)),
  OneHot: ({ indices }, { depth, onValue, offValue, dtype }) => {
    let y = ops.oneHot(indices, depth as number); // float32 ones and zeros
    const [on, off] = [onValue as number, offValue as number];
    if (on !== 1 || off !== 0) y = ops.add(ops.mul(y, on - off), off);
    return dtype === "float32" ? y : ops.cast(y, dtype as DType);
  },
};

function unsupported(what: string): never {
  throw new GraphError(
    `${what} is not supported on graph tensors or tf.Variables inside a traced function: ` +
      `write it with ops that have graph forms (the list is in lib/v1/_kernel_dispatch.ts) or v1 ops`,
  );
}

const tracing = (): boolean => getDefaultGraph().autoControlDeps;

const isWatched = ops.isWatchedInTraces;

/** True when `x` must be a graph input: a graph tensor, or a variable (or watched tensor) while tracing. */
const isGraphInput = (x: unknown): boolean =>
  x instanceof SymbolicTensor ||
  (tracing() && (x instanceof tf.Variable || isWatched(x)));

/** Whether a kernel's inputs hold a graph input (checked for every eager kernel: kept cheap). */
function hasGraphInput(inputs: In): boolean {
  let tracingNow: boolean | undefined;
  for (const k in inputs) {
    const x = inputs[k];
    if (x instanceof SymbolicTensor) return true;
    if ((tracingNow ??= tracing()) && (x instanceof tf.Variable || isWatched(x))) {
      return true;
    }
  }
  return false;
}

// tfjs checks `x instanceof getGlobalTensorClass()` in convertToTensor: let graph tensors through.
const globals = (globalThis as { _tfGlobals?: Map<string, unknown> })._tfGlobals;
const TensorClass = tf.Tensor as unknown as { [Symbol.hasInstance](x: unknown): boolean };
if (globals?.get("Tensor") === tf.Tensor) {
  const widened = function GraphOrEagerTensor() {};
  Object.defineProperty(widened, Symbol.hasInstance, {
    value: (x: unknown) => x instanceof SymbolicTensor || TensorClass[Symbol.hasInstance](x),
  });
  globals.set("Tensor", widened);
}

const engine = tf.engine() as unknown as {
  runKernel(name: string, inputs: In, attrs?: Attrs): unknown;
  endScope(result?: unknown): void;
  customGrad(f: (...a: unknown[]) => unknown): (...a: unknown[]) => unknown;
};
const eagerRunKernel = engine.runKernel.bind(engine);
engine.runKernel = (name, inputs, attrs = {}) => {
  if (!hasGraphInput(inputs)) return eagerRunKernel(name, inputs, attrs);
  assertInScope(Object.values(inputs)); // a tensor leaked from a finished trace
  const build = graphKernels[name];
  if (!build) unsupported(`the tfjs kernel ${name}`);
  const graphs = Object.values(inputs).filter((x) => x instanceof SymbolicTensor)
    .map((x) => (x as SymbolicTensor).graph);
  const d = getDefaultGraph();
  const home = graphs.find((g) => !d.isWithin(g)) ?? d; // a v1 graph: ops go to their inputs' graph
  return home.asDefault(() => build(inputs, attrs));
};

// tf.Tensor's op methods on a graph tensor (x.pow(2), x.maximum(0), x.prod(), x.squeeze()): the
// tf.* op of the same name, so the graph op is built (or a GraphError raised). tfjs's own
// methods are not reused: they call throwIfDisposed, and tfjs takes anything with data,
// dataSync and throwIfDisposed for a tf.Tensor. The methods that read a value throw (a graph
// tensor has none while traced, as TF's .numpy()); print is a Print op, run at every call
// (TF's tf.print); clone an Identity; dispose does nothing (the graph owns its tensors).
type Method = (x: tf.Tensor, ...args: never[]) => unknown;
const T = tf as unknown as Record<string, Method>;
const others = (x: unknown) => [x].flat() as tf.Tensor[];
const methods: Record<string, Method> = {
  as1D: (x) => tf.reshape(x, [-1]),
  flatten: (x) => tf.reshape(x, [-1]),
  asScalar: (x) => tf.reshape(x, []),
  as2D: (x, ...dims: number[]) => tf.reshape(x, dims),
  as3D: (x, ...dims: number[]) => tf.reshape(x, dims),
  as4D: (x, ...dims: number[]) => tf.reshape(x, dims),
  as5D: (x, ...dims: number[]) => tf.reshape(x, dims),
  reshapeAs: (x, other: tf.Tensor) => tf.reshape(x, other.shape),
  asType: (x, dtype: tf.DataType) => tf.cast(x, dtype),
  toBool: (x) => tf.cast(x, "bool"),
  toFloat: (x) => tf.cast(x, "float32"),
  toInt: (x) => tf.cast(x, "int32"),
  concat: (x, more: tf.Tensor | tf.Tensor[], axis?: number) =>
    tf.concat([x, ...others(more)], axis),
  stack: (x, more: tf.Tensor | tf.Tensor[], axis?: number) => tf.stack([x, ...others(more)], axis),
  where: (x, condition: tf.Tensor, other: tf.Tensor) => tf.where(condition, x, other),
  clone: (x) => ops.identity(x as never),
  print: (x) => void ops.print(x as never),
  dispose: () => {},
};
for (const name of ["array", "arraySync", "buffer", "bufferSync", "bytes", "data", "dataSync"]) {
  methods[name] = (x) => {
    throw new OperatorNotAllowedInGraphError(
      `${name}() on the symbolic tensor ${x.toString()}: it has no value while the function ` +
        `is traced (TF: a symbolic Tensor has no .numpy()). Return it from the function to get ` +
        `its value, or print it at every call with .print() or tfPrint.`,
    );
  };
}
const graphMethods = SymbolicTensor.prototype as unknown as Record<string, unknown>;
for (const name of Object.keys(tf.Tensor.prototype)) {
  const method = methods[name] ?? (typeof T[name] === "function" ? T[name] : undefined);
  if (name in graphMethods || !method || ["throwIfDisposed", "variable"].includes(name)) continue;
  graphMethods[name] = function (this: SymbolicTensor, ...args: never[]) {
    return method(this as never, ...args);
  };
}

// A tfjs op returning a graph tensor ends its scope: nothing eager to keep from it.
const eagerEndScope = engine.endScope.bind(engine);
engine.endScope = (result) => eagerEndScope(result instanceof SymbolicTensor ? null : result);

// tf.customGrad(f) on graph tensors (tf.logSoftmax is one): f's forward ops go into the graph and
// its gradFunc, run on graph tensors, becomes the gradient (TF's tf.custom_gradient).
type CustomGradFn = (...a: unknown[]) => {
  value: TensorLike;
  gradFunc: (dy: unknown, saved: unknown[]) => unknown;
};
const eagerCustomGrad = engine.customGrad.bind(engine);
engine.customGrad = (f) => {
  const run = eagerCustomGrad(f);
  return (...args) => {
    if (!args.some(isGraphInput)) return run(...args);
    const xs = args.map((x) => ops.toSymbolic(x as TensorLike));
    let saved: unknown[] = [];
    const fused = fusedKernels;
    const { value, gradFunc } = (f as CustomGradFn)(...xs, (ts: unknown[]) => saved = ts);
    // tf.fused.matMul's and conv2d's customGrad: its gradient is that of the ops it fuses
    // (tfjs's own fails for some activations), which the graph differentiates itself.
    if (fusedKernels > fused) return ops.toSymbolic(value);
    return more.customGradient(
      ops.toSymbolic(value),
      xs,
      (dy) => [gradFunc(dy, saved)].flat() as SymbolicTensor[],
    );
  };
};

/** A loss's per-element values reduced as `tf.losses` does without weights. */
function reduceLoss(losses: SymbolicTensor, reduction: tf.Reduction): SymbolicTensor {
  if (reduction === tf.Reduction.NONE) return losses;
  if (reduction === tf.Reduction.SUM) return ops.reduceSum(losses);
  return ops.reduceMean(losses); // MEAN and SUM_BY_NONZERO_WEIGHTS without weights
}

// tf.losses.softmaxCrossEntropy(labels, logits): what a training step writes.
const eagerSoftmaxCrossEntropy = tf.losses.softmaxCrossEntropy;
(tf.losses as { softmaxCrossEntropy: unknown }).softmaxCrossEntropy = (
  labels: TensorLike,
  logits: TensorLike,
  weights?: unknown,
  labelSmoothing = 0,
  reduction: tf.Reduction = tf.Reduction.SUM_BY_NONZERO_WEIGHTS,
): unknown => {
  if (![labels, logits, weights].some(isGraphInput)) {
    return eagerSoftmaxCrossEntropy(
      labels as tf.Tensor,
      logits as tf.Tensor,
      weights as tf.Tensor,
      labelSmoothing,
      reduction,
    );
  }
  if (weights != null || labelSmoothing !== 0) {
    unsupported("tf.losses.softmaxCrossEntropy with weights or labelSmoothing");
  }
  return reduceLoss(ops.softmaxCrossEntropyWithLogits(labels, logits), reduction);
};

// tf.losses.meanSquaredError(labels, predictions): the regression loss (its eager form ends
// with a count of the elements, which a graph tensor of unknown shape has no number for).
const eagerMeanSquaredError = tf.losses.meanSquaredError;
(tf.losses as { meanSquaredError: unknown }).meanSquaredError = (
  labels: TensorLike,
  predictions: TensorLike,
  weights?: unknown,
  reduction: tf.Reduction = tf.Reduction.SUM_BY_NONZERO_WEIGHTS,
): unknown => {
  if (![labels, predictions, weights].some(isGraphInput)) {
    return eagerMeanSquaredError(
      labels as tf.Tensor,
      predictions as tf.Tensor,
      weights as tf.Tensor,
      reduction,
    );
  }
  if (weights != null) unsupported("tf.losses.meanSquaredError with weights");
  return reduceLoss(more.squaredDifference(labels, predictions), reduction);
};

// The other tf.losses on graph tensors: tfjs's per-element losses (Reduction.NONE, built from the
// ops above), reduced as above (their own reductions count elements, which a graph tensor of
// unknown shape has no number for). Arguments: where weights and reduction sit.
const lossArguments: Record<string, { weights: number; reduction: number }> = {
  absoluteDifference: { weights: 2, reduction: 3 },
  hingeLoss: { weights: 2, reduction: 3 },
  huberLoss: { weights: 2, reduction: 4 },
  logLoss: { weights: 2, reduction: 4 },
  sigmoidCrossEntropy: { weights: 2, reduction: 4 },
  cosineDistance: { weights: 3, reduction: 4 },
};
const losses = tf.losses as unknown as Record<string, (...args: unknown[]) => unknown>;
for (const [name, at] of Object.entries(lossArguments)) {
  const eagerLoss = losses[name];
  losses[name] = (...args) => {
    if (!args.some(isGraphInput)) return eagerLoss(...args);
    if (args[at.weights] != null) unsupported(`tf.losses.${name} with weights`);
    const reduction = (args[at.reduction] ?? tf.Reduction.SUM_BY_NONZERO_WEIGHTS) as tf.Reduction;
    const perElement = Array.from({ length: at.reduction + 1 }, (_, i) => args[i]);
    perElement[at.reduction] = tf.Reduction.NONE;
    return reduceLoss(ops.toSymbolic(eagerLoss(...perElement) as TensorLike), reduction);
  };
}
