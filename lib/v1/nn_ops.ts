/**
 * Convolution and pooling as graph ops, each with its kernel and gradient
 * (TensorFlow's `nn_ops` and `nn_grad.py`): what `tf.conv2d`, `tf.maxPool`,
 * `tf.avgPool` and the convolutional `tf.layers` become inside a traced
 * function (`_kernel_dispatch.ts`). NHWC only, as tfjs's layers use it.
 *
 * Gradients as TensorFlow's: `Conv2D` gives `Conv2DBackpropInput` (to `x`) and
 * `Conv2DBackpropFilter` (to the filter), whose own gradients are each other
 * and `Conv2D` (so second derivatives work); `MaxPool` gives `MaxPoolGrad` (the
 * gradient to each window's maximum, with no gradient of its own here);
 * `AvgPool` gives `AvgPoolGrad`, whose gradient is `AvgPool`. Dilated
 * convolutions have no gradient, as in tfjs.
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
import { GraphError, type Operation, type Shape, type SymbolicTensor } from "./graph.ts";
import type { TensorLike } from "./graph.ts";
import { addOp, type Kernel, kernels, requireFloat, toSymbolic, zerosLike } from "./ops.ts";
import { type GradFn, gradFns } from "./gradients.ts";
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

/** The gradient of a convolution with respect to its input of `inputShape` (`Conv2DBackpropInput`). */
function conv2dBackpropInput(
  inputShape: Shape,
  dy: SymbolicTensor,
  filter: SymbolicTensor,
  attrs: Operation["attrs"],
): SymbolicTensor {
  return addOp("Conv2DBackpropInput", [dy, filter], { ...attrs, inputShape }, [{
    dtype: dy.dtype,
    shape: [dy.shape[0], ...inputShape.slice(1)],
  }]).output;
}

/** The gradient of a convolution with respect to its filter of `filterShape` (`Conv2DBackpropFilter`). */
function conv2dBackpropFilter(
  x: SymbolicTensor,
  dy: SymbolicTensor,
  filterShape: Shape,
  attrs: Operation["attrs"],
): SymbolicTensor {
  return addOp("Conv2DBackpropFilter", [x, dy], { ...attrs, filterShape }, [{
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
  } satisfies Record<string, GradFn | null>,
);
