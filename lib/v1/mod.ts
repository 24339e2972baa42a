/**
 * TF1-style graphs and sessions (`tf.compat.v1`), re-exported as the namespace
 * `v1` from `lib/mod.ts`: build a {@linkcode Graph} of ops with placeholders and
 * variables, then compute parts of it with a {@linkcode Session}.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import * as v1 from "./mod.ts";
 * const g = new v1.Graph();
 * const { x, y } = g.asDefault(() => {
 *   const x = v1.placeholder("float32", [null, 2], "x");
 *   const w = new v1.Variable(tf.ones([2, 1]), { name: "w" });
 *   return { x, y: v1.matMul(x, w) };
 * });
 * const sess = new v1.Session(g);
 * sess.run(v1.globalVariablesInitializer(g));
 * console.log(sess.run(y, new Map([[x, [[1, 2]]]]))); // [[3]]
 * sess.close();
 * ```
 *
 * @module
 */
export {
  assertInScope,
  type AttrValue,
  DisposedTensorError,
  type DType,
  DTypeError,
  formatShape,
  getDefaultGraph,
  Graph,
  GraphError,
  InaccessibleTensorError,
  Operation,
  OperatorNotAllowedInGraphError,
  type OpInfo,
  resetDefaultGraph,
  type Shape,
  ShapeError,
  SymbolicTensor,
  type TensorLike,
} from "./graph.ts";
export {
  abs,
  add,
  addN,
  argMax,
  broadcastShapes,
  cast,
  constant,
  controlDependencies,
  div,
  equal,
  exp,
  expandDims,
  greater,
  group,
  identity,
  type Kernel,
  kernels,
  less,
  log,
  logSoftmax,
  matMul,
  mul,
  neg,
  oneHot,
  onesLike,
  placeholder,
  print,
  printTensor,
  readVariable,
  reduceMax,
  reduceMean,
  reduceSum,
  relu,
  reshape,
  shapeOf,
  sigmoid,
  sign,
  size,
  softmax,
  softmaxCrossEntropyWithLogits,
  sparseSoftmaxCrossEntropyWithLogits,
  sqrt,
  square,
  sub,
  tanh,
  toSymbolic,
  transpose,
  zerosLike,
} from "./ops.ts";
export {
  floorDiv,
  floorMod,
  gather,
  greaterEqual,
  lessEqual,
  logicalAnd,
  logicalNot,
  logicalOr,
  notEqual,
} from "./ops.ts";
export { broadcastGradientArgs, reduceSumAxes, stopGradient } from "./ops.ts";
export {
  ceil,
  clipByValue,
  concat,
  cos,
  elu,
  floor,
  gatherV2,
  leakyRelu,
  maximum,
  minimum,
  pad,
  pow,
  reciprocal,
  reduceMin,
  reverse,
  round,
  rsqrt,
  sin,
  slice,
  softplus,
  split,
  squaredDifference,
  stack,
  tile,
  unsortedSegmentSum,
  unstack,
  where,
} from "./math_array_ops.ts";
export {
  batchNormalization,
  depthwiseConv2d,
  localResponseNormalization,
  prelu,
  resizeBilinear,
} from "./nn_ops.ts";
export {
  einsum,
  gatherNd,
  mirrorPad,
  scatterNd,
  stridedSlice,
  type StridedSliceMasks,
  topK,
} from "./array_ops.ts";
export {
  TensorArrayError,
  tensorListGetItem,
  tensorListReserve,
  tensorListResize,
  tensorListSetItem,
} from "./list_ops.ts";
export { globalVariablesInitializer, Variable, type VariableOptions } from "./variables.ts";
export {
  execute,
  FailedPreconditionError,
  FeedError,
  type FeedValue,
  type Fetch,
  FetchError,
  type FetchResult,
  InvalidArgumentError,
  neededOps,
  RunContext,
  Session,
} from "./session.ts";
export { type GradFn, gradFns, gradients, unbroadcast } from "./gradients.ts";
export { cond, whileLoop, type WhileOptions } from "./control_flow.ts";
export * as train from "./train.ts";
export {
  assignNow,
  assignVariable,
  type AssignVariableType,
  hasSymbolic,
  inFunctionGraph,
} from "./resource_variables.ts";
export { drawGraph, type DrawOptions, graphToSvg } from "./draw.ts";
export {
  type DrawShape,
  dropout,
  randomGamma,
  randomNormal,
  randomStandardNormal,
  randomUniform,
  truncatedNormal,
} from "./random_ops.ts";
