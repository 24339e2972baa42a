/**
 * Convolution, pooling and normalization as graph ops, each with its kernel and
 * gradient (TensorFlow's `nn_ops` and `nn_grad.py`): what `tf.conv2d`,
 * `tf.depthwiseConv2d`, `tf.maxPool`, `tf.avgPool`, `tf.batchNorm`, `tf.prelu`,
 * `tf.image.resizeBilinear`, `tf.localResponseNormalization` and the
 * convolutional and batch-normalization `tf.layers` become inside a traced
 * function (`_kernel_dispatch.ts`). NHWC only, as tfjs's layers use it. The
 * kernels are tfjs's own, so a traced op equals the eager one exactly.
 *
 * Gradients as TensorFlow's: `Conv2D` gives `Conv2DBackpropInput` (to `x`) and
 * `Conv2DBackpropFilter` (to the filter), whose own gradients are each other
 * and `Conv2D` (so second derivatives work); `MaxPool` gives `MaxPoolGrad` (the
 * gradient to each window's maximum, with no gradient of its own here);
 * `AvgPool` gives `AvgPoolGrad`, whose gradient is `AvgPool`;
 * `DepthwiseConv2dNative` gives `DepthwiseConv2dNativeBackpropInput`/`Filter`,
 * differentiated as Conv2D's; `ResizeBilinear` gives `ResizeBilinearGrad`, whose
 * gradient is `ResizeBilinear`; `LRN` gives `LRNGrad` (no gradient of its own).
 * `FusedBatchNorm` (TF's `tf.nn.batch_normalization`) and `Prelu` differentiate
 * into ops of `ops.ts`, so their second derivatives work. Dilated convolutions
 * have no gradient, as in tfjs.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { Graph } from "./graph.ts";
 * import { placeholder } from "./ops.ts";
 * import { maxPool } from "./nn_ops.ts";
 * import { Session } from "./session.ts";
 * const g = new Graph();
 * const { x, y } = g.asDefault(() => {
 *   const x = placeholder("float32", [1, 2, 2, 1], "x");
 *   return { x, y: maxPool(x, 2, 2, "valid") };
 * });
 * console.log(new Session(g).run(y, new Map([[x, tf.tensor4d([1, 5, 3, 2], [1, 2, 2, 1])]]))); // [[[[5]]]]
 * ```
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import {
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
  broadcastShapes,
  greater,
  type Kernel,
  kernels,
  mul,
  neg,
  requireFloat,
  sub,
  toSymbolic,
  zerosLike,
} from "./ops.ts";
import { rsqrt, where } from "./math_array_ops.ts";
import { type GradFn, gradFns, unbroadcast } from "./gradients.ts";
import { atWindowMaxima } from "../_tf_gradients.ts";

type Pair = number | [number, number];
type Pad = "valid" | "same" | number;
type Rounding = "floor" | "round" | "ceil" | undefined;

/** The spatial dimensions and channels of an NHWC `x`, known; the batch may be unknown. */
function nhwc(x: SymbolicTensor, what: string): [number, number, number, number] {
  if (x.unknownRank || x.rank !== 4 || x.shape.slice(1).some((d) => d === null)) {
    throw new GraphError(
      `${what}: ${x.toString()} must be [batch, height, width, channels] with known height, ` +
        `width and channels; give the input a static shape (an inputSignature with null only ` +
        `for the batch)`,
    );
  }
  return [x.shape[0] ?? 1, ...x.shape.slice(1)] as [number, number, number, number];
}

/** The output shape of a window op on `x`, the batch as `x`'s (null if unknown). */
const windowed = (x: SymbolicTensor, info: { outShape: number[] }): Shape => [
  x.shape[0],
  ...info.outShape.slice(1),
];

/** 2-D convolution of NHWC `x` with `filter` `[h, w, in, out]` (`Conv2D`). */
export function conv2d(
  x: TensorLike,
  filter: TensorLike,
  strides: Pair,
  pad: Pad,
  dilations: Pair = 1,
  dimRoundingMode?: Rounding,
): SymbolicTensor {
  const [sx, sf] = [toSymbolic(x), toSymbolic(filter)];
  requireFloat("Conv2D", sx);
  const f = sf.shape.map((d) => d ?? NaN) as [number, number, number, number];
  const info = tf.backend_util.computeConv2DInfo(
    nhwc(sx, "Conv2D"),
    f,
    strides,
    dilations,
    pad,
    dimRoundingMode,
  );
  const attrs = { strides, pad, dilations, dimRoundingMode: dimRoundingMode ?? null };
  return addOp("Conv2D", [sx, sf], attrs, [{ dtype: sx.dtype, shape: windowed(sx, info) }]).output;
}

/**
 * The gradient of a convolution with respect to its input of `inputShape`
 * (`Conv2DBackpropInput`, or `DepthwiseConv2dNativeBackpropInput` for `type` `DepthwiseConv2dNative`).
 */
function conv2dBackpropInput(
  inputShape: Shape,
  dy: SymbolicTensor,
  filter: SymbolicTensor,
  attrs: Operation["attrs"],
  type: "Conv2D" | "DepthwiseConv2dNative" = "Conv2D",
): SymbolicTensor {
  return addOp(`${type}BackpropInput`, [dy, filter], { ...attrs, inputShape }, [{
    dtype: dy.dtype,
    shape: [dy.shape[0], ...inputShape.slice(1)],
  }]).output;
}

/**
 * The gradient of a convolution with respect to its filter of `filterShape`
 * (`Conv2DBackpropFilter`, or `DepthwiseConv2dNativeBackpropFilter`).
 */
function conv2dBackpropFilter(
  x: SymbolicTensor,
  dy: SymbolicTensor,
  filterShape: Shape,
  attrs: Operation["attrs"],
  type: "Conv2D" | "DepthwiseConv2dNative" = "Conv2D",
): SymbolicTensor {
  return addOp(`${type}BackpropFilter`, [x, dy], { ...attrs, filterShape }, [{
    dtype: x.dtype,
    shape: [...filterShape],
  }]).output;
}

function pool(
  type: "MaxPool" | "AvgPool",
  x: TensorLike,
  filterSize: Pair,
  strides: Pair,
  pad: Pad,
  dimRoundingMode?: Rounding,
): SymbolicTensor {
  const sx = toSymbolic(x);
  requireFloat(type, sx);
  const info = tf.backend_util.computePool2DInfo(
    nhwc(sx, type),
    filterSize,
    strides,
    1,
    pad,
    dimRoundingMode,
  );
  const attrs = { filterSize, strides, pad, dimRoundingMode: dimRoundingMode ?? null };
  return addOp(type, [sx], attrs, [{ dtype: sx.dtype, shape: windowed(sx, info) }]).output;
}

/** The maximum of each window of NHWC `x` (`MaxPool`). */
export const maxPool = (
  x: TensorLike,
  filterSize: Pair,
  strides: Pair,
  pad: Pad,
  dimRoundingMode?: Rounding,
): SymbolicTensor => pool("MaxPool", x, filterSize, strides, pad, dimRoundingMode);

/** The mean of each window of NHWC `x` (`AvgPool`). */
export const avgPool = (
  x: TensorLike,
  filterSize: Pair,
  strides: Pair,
  pad: Pad,
  dimRoundingMode?: Rounding,
): SymbolicTensor => pool("AvgPool", x, filterSize, strides, pad, dimRoundingMode);

/** The tfjs kernel named `name` run eagerly on `inputs` (a graph op's kernel: tfjs's own). */
const runKernel = (name: string, inputs: Record<string, tf.Tensor>, attrs: object): tf.Tensor =>
  tf.engine().runKernel(name, inputs, attrs as never) as tf.Tensor;

/**
 * Depthwise 2-D convolution of NHWC `x` with `filter` `[h, w, in, multiplier]`: each input
 * channel convolved with its own `multiplier` filters (`DepthwiseConv2dNative`, TF's
 * `tf.nn.depthwise_conv2d`); `in · multiplier` output channels.
 */
export function depthwiseConv2d(
  x: TensorLike,
  filter: TensorLike,
  strides: Pair,
  pad: Pad,
  dilations: Pair = 1,
  dimRoundingMode?: Rounding,
): SymbolicTensor {
  const [sx, sf] = [toSymbolic(x), toSymbolic(filter)];
  requireFloat("DepthwiseConv2dNative", sx);
  const f = sf.shape.map((d) => d ?? NaN) as [number, number, number, number];
  const shape = nhwc(sx, "DepthwiseConv2dNative");
  if (sf.rank !== 4 || f[2] !== shape[3]) {
    throw new ShapeError(
      `DepthwiseConv2dNative: the filter ${sf.toString()} must be [height, width, ` +
        `${shape[3]}, multiplier] for the ${shape[3]} channels of ${sx.toString()}`,
    );
  }
  const info = tf.backend_util.computeConv2DInfo(
    shape,
    f,
    strides,
    dilations,
    pad,
    dimRoundingMode,
    true,
  );
  const attrs = { strides, pad, dilations, dimRoundingMode: dimRoundingMode ?? null };
  const spec = [{ dtype: sx.dtype, shape: windowed(sx, info) }];
  return addOp("DepthwiseConv2dNative", [sx, sf], attrs, spec).output;
}

/**
 * `(x - mean) · scale / sqrt(variance + varianceEpsilon) + offset`, the statistics, `offset`
 * and `scale` broadcast against `x` (TF's `tf.nn.batch_normalization`; tfjs's
 * `FusedBatchNorm`, what `tf.batchNorm` and `tf.layers.batchNormalization` run).
 * `offset` and `scale` may be null (0 and 1).
 */
export function batchNormalization(
  x: TensorLike,
  mean: TensorLike,
  variance: TensorLike,
  offset: TensorLike | null,
  scale: TensorLike | null,
  varianceEpsilon = 0.001,
): SymbolicTensor {
  const sx = toSymbolic(x);
  requireFloat("FusedBatchNorm", sx);
  const params = [mean, variance, offset, scale].map((t) => t === null ? null : toSymbolic(t));
  let shape = sx.shape;
  for (const p of params) if (p) shape = broadcastShapes("FusedBatchNorm", shape, p.shape);
  if (shape.length !== sx.shape.length) {
    throw new ShapeError(
      `FusedBatchNorm: the mean, variance, offset and scale must broadcast to ${sx.toString()} ` +
        `(one value per channel, or x's rank), got ${params.map((p) => p?.toString())}`,
    );
  }
  const attrs = { varianceEpsilon, hasOffset: offset !== null, hasScale: scale !== null };
  const inputs = [sx, ...params.filter((p): p is SymbolicTensor => p !== null)];
  return addOp("FusedBatchNorm", inputs, attrs, [{ dtype: sx.dtype, shape: [...sx.shape] }])
    .output;
}

/** `x` where `x > 0`, else `alpha · x`, `alpha` broadcast against `x` (tfjs's `Prelu`, Keras' PReLU). */
export function prelu(x: TensorLike, alpha: TensorLike): SymbolicTensor {
  const [sx, sa] = [toSymbolic(x), toSymbolic(alpha)];
  requireFloat("Prelu", sx);
  const shape = broadcastShapes("Prelu", sx.shape, sa.shape);
  return addOp("Prelu", [sx, sa], {}, [{ dtype: sx.dtype, shape }]).output;
}

/**
 * NHWC `images` resized to `size` `[height, width]` by bilinear interpolation
 * (`ResizeBilinear`, TF's `tf.image.resize` with `method="bilinear"`; `halfPixelCenters` is
 * TF2's default, `alignCorners` TF1's `align_corners`).
 */
export function resizeBilinear(
  images: TensorLike,
  size: [number, number],
  alignCorners = false,
  halfPixelCenters = false,
): SymbolicTensor {
  const sx = toSymbolic(images);
  if (sx.unknownRank || sx.rank !== 4) {
    throw new ShapeError(
      `ResizeBilinear: ${sx.toString()} must be [batch, height, width, channels]`,
    );
  }
  if (alignCorners && halfPixelCenters) {
    throw new GraphError("ResizeBilinear: alignCorners and halfPixelCenters cannot both be true");
  }
  const attrs = { size: [...size], alignCorners, halfPixelCenters };
  const shape = [sx.shape[0], size[0], size[1], sx.shape[3]];
  return addOp("ResizeBilinear", [sx], attrs, [{ dtype: "float32", shape }]).output;
}

/**
 * Local response normalization of NHWC `x` over the channels: `x / (bias + alpha · sum of x²
 * over the 2·depthRadius + 1 nearest channels)^beta` (`LRN`, TF's
 * `tf.nn.local_response_normalization`).
 */
export function localResponseNormalization(
  x: TensorLike,
  depthRadius = 5,
  bias = 1,
  alpha = 1,
  beta = 0.5,
): SymbolicTensor {
  const sx = toSymbolic(x);
  requireFloat("LRN", sx);
  if (sx.unknownRank || sx.rank !== 4) {
    throw new ShapeError(`LRN: ${sx.toString()} must be [batch, height, width, channels]`);
  }
  const attrs = { depthRadius, bias, alpha, beta };
  return addOp("LRN", [sx], attrs, [{ dtype: sx.dtype, shape: [...sx.shape] }]).output;
}

/** An op whose output has the shape and dtype of its input `like` (the pooling gradients). */
function shaped(
  type: string,
  inputs: SymbolicTensor[],
  like: SymbolicTensor,
  attrs: Operation["attrs"],
) {
  return addOp(type, inputs, attrs, [{ dtype: like.dtype, shape: [...like.shape] }]).output;
}

// ---------------------------------------------------------------- kernels

/** Whether the backend has the tfjs kernel `name` (WASM lacks the depthwise gradients). */
const hasKernel = (name: string): boolean => tf.getKernel(name, tf.getBackend()) !== undefined;

/** The identity of size `c` as `[1, 1, c, c, 1]`. */
const diagonal = (c: number): tf.Tensor => tf.reshape(tf.eye(c), [1, 1, c, c, 1]);

/**
 * A depthwise filter `[h, w, c, m]` as the block-diagonal filter `[h, w, c, c·m]` of a Conv2D
 * computing the same (input channel `c` feeds outputs `c·m` to `c·m + m - 1` only): the
 * depthwise gradients from Conv2D's where the backend has no kernels of its own.
 */
function blockDiagonal(f: tf.Tensor): tf.Tensor4D {
  const [h, w, c, m] = f.shape;
  return tf.reshape(tf.mul(tf.reshape(f, [h, w, c, 1, m]), diagonal(c)), [h, w, c, c * m]);
}

/** Whether `p` broadcast against `x` varies along `x`'s last axes only (as tfjs's batchNorm reads it). */
function alongLastAxes(p: tf.Tensor, x: tf.Tensor): boolean {
  const dims = [...p.shape];
  while (dims[0] === 1) dims.shift();
  return tf.util.arraysEqual(dims, x.shape.slice(x.rank - dims.length));
}

type Attrs = {
  strides: Pair;
  pad: Pad;
  dilations: Pair;
  dimRoundingMode: Rounding | null;
  filterSize: Pair;
  inputShape: (number | null)[];
  filterShape: number[];
};
const attrsOf = (op: Operation) => op.attrs as unknown as Attrs;
const rounding = (a: Attrs) => a.dimRoundingMode ?? undefined;

Object.assign(
  kernels,
  {
    Conv2D: ([x, f], op) => {
      const a = attrsOf(op);
      return [
        tf.conv2d(
          x as tf.Tensor4D,
          f as tf.Tensor4D,
          a.strides,
          a.pad,
          "NHWC",
          a.dilations,
          rounding(a),
        ),
      ];
    },
    Conv2DBackpropInput: ([dy, f], op) => {
      const a = attrsOf(op);
      const shape = [dy.shape[0], ...a.inputShape.slice(1)] as [number, number, number, number];
      return [
        tf.conv2dTranspose(
          dy as tf.Tensor4D,
          f as tf.Tensor4D,
          shape,
          a.strides,
          a.pad as "same",
          rounding(a),
        ),
      ];
    },
    Conv2DBackpropFilter: ([x, dy], op) => {
      const a = attrsOf(op);
      const attrs = { ...a, dataFormat: "NHWC", dimRoundingMode: rounding(a) };
      return [
        tf.engine().runKernel("Conv2DBackpropFilter", { x, dy }, attrs as never) as tf.Tensor,
      ];
    },
    MaxPool: ([x], op) => {
      const a = attrsOf(op);
      return [tf.maxPool(x as tf.Tensor4D, a.filterSize, a.strides, a.pad, rounding(a))];
    },
    AvgPool: ([x], op) => {
      const a = attrsOf(op);
      return [tf.avgPool(x as tf.Tensor4D, a.filterSize, a.strides, a.pad, rounding(a))];
    },
    MaxPoolGrad: ([dy, input, output], op) => {
      const attrs = { ...attrsOf(op), dimRoundingMode: rounding(attrsOf(op)) };
      return [
        tf.engine().runKernel("MaxPoolGrad", { dy, input, output }, attrs as never) as tf.Tensor,
      ];
    },
    MaxPoolGradGrad: ([x, g], op) => {
      const a = attrsOf(op);
      return [atWindowMaxima(x as tf.Tensor4D, g as tf.Tensor4D, a.filterSize, a.strides, a.pad)];
    },
    AvgPoolGrad: ([dy, input], op) => {
      const attrs = { ...attrsOf(op), dimRoundingMode: rounding(attrsOf(op)) };
      return [tf.engine().runKernel("AvgPoolGrad", { dy, input }, attrs as never) as tf.Tensor];
    },
    DepthwiseConv2dNative: ([x, f], op) => {
      const a = attrsOf(op);
      const [x4, f4] = [x as tf.Tensor4D, f as tf.Tensor4D];
      return [tf.depthwiseConv2d(x4, f4, a.strides, a.pad, "NHWC", a.dilations, rounding(a))];
    },
    DepthwiseConv2dNativeBackpropInput: ([dy, filter], op) => {
      const a = attrsOf(op);
      const inputShape = [dy.shape[0], ...a.inputShape.slice(1)] as [
        number,
        number,
        number,
        number,
      ];
      const attrs = { ...a, dimRoundingMode: rounding(a), inputShape };
      if (hasKernel("DepthwiseConv2dNativeBackpropInput")) {
        return [runKernel("DepthwiseConv2dNativeBackpropInput", { dy, filter }, attrs)];
      }
      return [tf.tidy(() =>
        tf.conv2dTranspose(
          dy as tf.Tensor4D,
          blockDiagonal(filter),
          inputShape,
          a.strides,
          a.pad as "same",
          rounding(a),
        )
      )];
    },
    DepthwiseConv2dNativeBackpropFilter: ([x, dy], op) => {
      const attrs = { ...attrsOf(op), dimRoundingMode: rounding(attrsOf(op)) };
      if (hasKernel("DepthwiseConv2dNativeBackpropFilter")) {
        return [runKernel("DepthwiseConv2dNativeBackpropFilter", { x, dy }, attrs)];
      }
      const [h, w, c, m] = attrs.filterShape;
      return [tf.tidy(() => {
        const full = { ...attrs, dataFormat: "NHWC", filterShape: [h, w, c, c * m] };
        const g = runKernel("Conv2DBackpropFilter", { x, dy }, full).reshape([h, w, c, c, m]);
        return tf.sum(tf.mul(g, diagonal(c)), 3);
      })];
    },
    FusedBatchNorm: ([x, mean, variance, ...rest], op) => {
      const { varianceEpsilon, hasOffset, hasScale } = op.attrs;
      const offset = hasOffset ? rest.shift() : undefined;
      const scale = hasScale ? rest.shift() : undefined;
      const params = [mean, variance, offset, scale];
      if (params.every((p) => !p || alongLastAxes(p, x))) {
        const inputs = { x, mean, variance, offset, scale } as Record<string, tf.Tensor>;
        return [runKernel("FusedBatchNorm", inputs, { varianceEpsilon })];
      }
      // Statistics of x's rank with 1 on the normalized dimensions, the channels not last (TF's
      // tf.nn.moments(..., keepdims=True)): tfjs's kernel reads them as if along the last axes.
      return [tf.tidy(() => {
        const r = tf.rsqrt(tf.add(variance, varianceEpsilon as number));
        const y = tf.mul(tf.sub(x, mean), scale ? tf.mul(r, scale) : r);
        return offset ? tf.add(y, offset) : y;
      })];
    },
    Prelu: ([x, alpha]) => [tf.prelu(x, alpha)],
    ResizeBilinear: ([images], op) => {
      const { size, alignCorners, halfPixelCenters } = op.attrs as {
        size: [number, number];
        alignCorners: boolean;
        halfPixelCenters: boolean;
      };
      return [tf.image.resizeBilinear(images as tf.Tensor4D, size, alignCorners, halfPixelCenters)];
    },
    ResizeBilinearGrad: ([dy, images], op) => {
      const { alignCorners, halfPixelCenters } = op.attrs;
      return [runKernel("ResizeBilinearGrad", { dy, images }, { alignCorners, halfPixelCenters })];
    },
    LRN: ([x], op) => {
      const { depthRadius, bias, alpha, beta } = op.attrs as Record<string, number>;
      return [tf.localResponseNormalization(x as tf.Tensor4D, depthRadius, bias, alpha, beta)];
    },
    LRNGrad: ([x, y, dy], op) => [runKernel("LRNGrad", { x, y, dy }, op.attrs)],
  } satisfies Record<string, Kernel>,
);

// ---------------------------------------------------------------- gradients

/** Dilated convolutions have no gradient (tfjs computes none). */
function undilated(op: Operation): Operation["attrs"] {
  const d = attrsOf(op).dilations;
  if ([d].flat().some((k) => k !== 1)) {
    throw new GraphError(`no gradient for ${op.type} "${op.name}" with dilations ${d}`);
  }
  const { strides, pad, dilations, dimRoundingMode } = op.attrs;
  return { strides, pad, dilations, dimRoundingMode };
}

Object.assign(
  gradFns,
  {
    Conv2D: (op, [dy]) => {
      const [x, f] = op.inputs;
      const a = undilated(op);
      return [
        conv2dBackpropInput([...x.shape], dy, f, a),
        conv2dBackpropFilter(x, dy, f.shape, a),
      ];
    },
    // TF's _Conv2DBackpropInputGrad and _Conv2DBackpropFilterGrad: bilinear, so each gradient is
    // the other backprop or the convolution itself.
    Conv2DBackpropInput: (op, [g]) => {
      const [dy, f] = op.inputs;
      const a = undilated(op);
      return [
        conv2d(g, f, a.strides as Pair, a.pad as Pad),
        conv2dBackpropFilter(g, dy, f.shape, a),
      ];
    },
    Conv2DBackpropFilter: (op, [g]) => {
      const [x, dy] = op.inputs;
      const a = undilated(op);
      return [
        conv2dBackpropInput([...x.shape], dy, g, a),
        conv2d(x, g, a.strides as Pair, a.pad as Pad),
      ];
    },
    MaxPool: (
      op,
      [dy],
    ) => [shaped("MaxPoolGrad", [dy, op.inputs[0], op.output], op.inputs[0], op.attrs)],
    // TF's _MaxPoolGradGrad: for each window, the incoming gradient at its maximum.
    MaxPoolGrad: (op, [g]) => {
      const [dy, x, y] = op.inputs;
      return [shaped("MaxPoolGradGrad", [x, g], dy, op.attrs), zerosLike(x), zerosLike(y)];
    },
    AvgPool: (op, [dy]) => [shaped("AvgPoolGrad", [dy, op.inputs[0]], op.inputs[0], op.attrs)],
    // AvgPoolGrad is the transpose of AvgPool, a linear map: its gradient is AvgPool.
    AvgPoolGrad: (op, [g]) => {
      const a = attrsOf(op);
      return [avgPool(g, a.filterSize, a.strides, a.pad, rounding(a)), null];
    },
    // As Conv2D's: each input channel's convolution is bilinear in x and the filter.
    DepthwiseConv2dNative: (op, [dy]) => {
      const [x, f] = op.inputs;
      const a = undilated(op);
      return [
        conv2dBackpropInput([...x.shape], dy, f, a, "DepthwiseConv2dNative"),
        conv2dBackpropFilter(x, dy, f.shape, a, "DepthwiseConv2dNative"),
      ];
    },
    DepthwiseConv2dNativeBackpropInput: (op, [g]) => {
      const [dy, f] = op.inputs;
      const a = undilated(op);
      return [
        depthwiseConv2d(g, f, a.strides as Pair, a.pad as Pad, 1, rounding(attrsOf(op))),
        conv2dBackpropFilter(g, dy, f.shape, a, "DepthwiseConv2dNative"),
      ];
    },
    DepthwiseConv2dNativeBackpropFilter: (op, [g]) => {
      const [x, dy] = op.inputs;
      const a = undilated(op);
      return [
        conv2dBackpropInput([...x.shape], dy, g, a, "DepthwiseConv2dNative"),
        depthwiseConv2d(x, g, a.strides as Pair, a.pad as Pad, 1, rounding(attrsOf(op))),
      ];
    },
    // The gradient of tf.nn.batch_normalization's formula, with r = rsqrt(variance + ε):
    // dx = dy·scale·r, dmean = -Σ dy·scale·r, dvariance = Σ dy·(x - mean)·scale·(-r³/2),
    // doffset = Σ dy, dscale = Σ dy·(x - mean)·r, each summed over the dimensions it was
    // broadcast along (so its own gradients, second derivatives, are those of these ops).
    FusedBatchNorm: (op, [dy]) => {
      const [x, mean, variance, ...rest] = op.inputs;
      const { varianceEpsilon, hasOffset, hasScale } = op.attrs;
      const offset = hasOffset ? rest.shift() : undefined;
      const scale = hasScale ? rest.shift() : undefined;
      const r = rsqrt(add(variance, varianceEpsilon as number));
      const scaled = scale ? mul(r, scale) : r;
      const centered = mul(dy, sub(x, mean));
      const dx = mul(dy, scaled);
      const grads = [
        unbroadcast(dx, x),
        unbroadcast(neg(dx), mean),
        unbroadcast(mul(centered, mul(scaled, mul(mul(r, r), -0.5))), variance),
      ];
      if (offset) grads.push(unbroadcast(dy, offset));
      if (scale) grads.push(unbroadcast(mul(centered, r), scale));
      return grads;
    },
    // dx = dy where x > 0, else alpha·dy; dalpha = dy·x where x <= 0, summed over the
    // dimensions alpha was broadcast along (tfjs's Prelu gradient; Keras PReLU's, but for x = 0).
    Prelu: (op, [dy]) => {
      const [x, alpha] = op.inputs;
      const positive = greater(x, 0);
      return [
        unbroadcast(where(positive, dy, mul(dy, alpha)), x),
        unbroadcast(where(positive, zerosLike(dy), mul(dy, x)), alpha),
      ];
    },
    ResizeBilinear: (op, [dy]) => {
      const [images] = op.inputs;
      return [shaped("ResizeBilinearGrad", [dy, images], images, op.attrs)];
    },
    // ResizeBilinearGrad is the transpose of ResizeBilinear, a linear map: its gradient is
    // ResizeBilinear (none to the images, whose shape alone it reads).
    ResizeBilinearGrad: (op, [g]) => {
      const { size, alignCorners, halfPixelCenters } = op.attrs;
      const resized = resizeBilinear(
        g,
        size as [number, number],
        alignCorners as boolean,
        halfPixelCenters as boolean,
      );
      return [resized, null];
    },
    LRN: (op, [dy]) => [shaped("LRNGrad", [op.inputs[0], op.output, dy], op.inputs[0], op.attrs)],
  } satisfies Record<string, GradFn | null>,
);
