/**
 * Gradient functions registered with TensorFlow.js so that its gradients are
 * TensorFlow's (imported for its side effect by `tape.ts`).
 *
 * - `Abs`: d|x|/dx = sign(x), so 0 at 0 (tfjs gives -1 there).
 * - `Max`, `Min` (reductions): the gradient is shared equally between tied
 *   extrema, as TensorFlow's `reduce_max` gradient does (tfjs gives each tie
 *   the whole gradient).
 * - `Relu`: TensorFlow's `ReluGrad(dy, x) = dy · (x > 0)`, one kernel where the
 *   backend has one (lib/kernels on WASM), so 0 where x is NaN (tfjs's
 *   `dy · step(x)` gives NaN there); `ReluGrad`'s own gradient is TF's
 *   (`ReluGrad(g, x)` for dy, zeros for x).
 * - `Cumsum`: TF's `_CumsumGrad`, the cumulative sum of dy the other way
 *   (`reverse` flipped) along the same axis (tfjs's transposes it wrongly off
 *   the last axis and fails with a shape error).
 * - `Cumprod`: TF's `_CumprodGrad`, `divNoNan(cumsum(cumprod(x)·dy) the other
 *   way, x)` (tfjs has none), so a second derivative through `tf.prod` works
 *   (0 where an input is 0, as TensorFlow's formula gives there).
 * - `Prod`: TF's `_ProdGrad` (the product of the other elements, from two
 *   exclusive `Cumprod`s), which takes negative axes (tfjs's fails on them).
 * - `Relu6`: TF's `Relu6Grad`, `dy` where `0 < x < 6` (tfjs's passes it at 6 too).
 * - `Selu`: TF's `SeluGrad`, `dy·scale` where `x >= 0` (tfjs's gives `dy·scale·alpha` at 0).
 * - `BatchMatMul`: TF's `_BatchMatMulV2Grad`, the same products as tfjs's, summed
 *   over the batch dimensions an input was broadcast along (tfjs's are not: a shape error).
 * - `Equal`, `NotEqual`, `Less`, `LessEqual`, `Greater`, `GreaterEqual`: not
 *   differentiable, as in TensorFlow (zero gradients instead of tfjs's error), so a mask
 *   such as `cast(x > 0)` can sit in a differentiated function, and `Max`'s gradient (which
 *   compares with the maximum) can be differentiated again.
 * - `MaxPoolGrad`, `AvgPoolGrad`, `Conv2DBackpropFilter`: gradients of the
 *   backward kernels themselves, which tfjs lacks, so that second derivatives
 *   flow through pooling and convolution (TensorFlow's `MaxPoolGradGrad`,
 *   `AvgPool` and `Conv2DBackpropFilter` gradients).
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import "./_tf_gradients.ts";
 * tf.grad((x: tf.Tensor) => x.abs())(tf.tensor1d([-2, 0, 3])).print(); // [-1, 0, 1]
 * ```
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";

type Attrs = Record<string, unknown>;

/** TF's `reduce_max`/`reduce_min` gradient: `dy` split equally between the ties. */
function extremumGrad(dy: tf.Tensor, saved: tf.Tensor[], attrs: Attrs, axisAttr: string) {
  const [x, y] = saved;
  const axes = tf.util.parseAxisParam(attrs[axisAttr] as number | number[], x.shape);
  const kept = x.shape.map((d, i) => axes.includes(i) ? 1 : d);
  return {
    x: () => {
      const hits = tf.cast(tf.equal(x, tf.reshape(y, kept)), "float32");
      const count = tf.sum(hits, axes, true);
      return tf.mul(tf.div(hits, count), tf.reshape(dy, kept));
    },
  };
}

/**
 * TF's `_ProdGrad`: each element gets `dy` times the product of the others in its
 * reduction, `exclusive cumprod · reverse exclusive cumprod` with the reduced axes
 * moved first and flattened (so zeros in `x` are fine).
 */
function prodGrad(x: tf.Tensor, dy: tf.Tensor, axis: unknown): tf.Tensor {
  const axes = tf.util.parseAxisParam(axis as number | number[], x.shape);
  const perm = [...axes, ...x.shape.map((_, i) => i).filter((i) => !axes.includes(i))];
  const moved = tf.transpose(x, perm);
  const flat = tf.reshape(moved, [axes.reduce((n, a) => n * x.shape[a], 1), -1]);
  const others = tf.mul(tf.cumprod(flat, 0, true), tf.cumprod(flat, 0, true, true));
  const back = tf.transpose(tf.reshape(others, moved.shape), perm.map((_, k) => perm.indexOf(k)));
  return tf.mul(tf.reshape(dy, x.shape.map((d, i) => axes.includes(i) ? 1 : d)), back);
}

/** `g` summed down to `shape` over the dimensions broadcasting stretched (leading ones, and 1s). */
function sumTo(g: tf.Tensor, shape: number[]): tf.Tensor {
  const lead = g.rank - shape.length;
  const axes = g.shape.flatMap((d, i) => i < lead || (shape[i - lead] === 1 && d !== 1) ? [i] : []);
  return axes.length > 0 ? tf.reshape(tf.sum(g, axes), shape) : g;
}

type Pad = "valid" | "same" | number;

/**
 * For each pooling window of `x`, the value of `g` at the window's maximum
 * (the first one in row-major order, as tfjs's max pooling picks it): TF's
 * `MaxPoolGradGrad`. Built from slices, so every backend computes it alike
 * (the WASM backend's `maxPoolWithArgmax` gives wrong indices).
 */
export function atWindowMaxima(
  x: tf.Tensor4D,
  g: tf.Tensor4D,
  filterSize: number | [number, number],
  strides: number | [number, number],
  pad: Pad,
): tf.Tensor4D {
  const info = tf.backend_util.computePool2DInfo(x.shape, filterSize, strides, 1, pad);
  const { top, left, bottom, right } = info.padInfo;
  const paddings: [number, number][] = [[0, 0], [top, bottom], [left, right], [0, 0]];
  const xp = tf.pad(x, paddings, -Infinity);
  const gp = tf.pad(g, paddings, 0);
  const [b, , , c] = x.shape;
  const { outHeight: oh, outWidth: ow, strideHeight: sh, strideWidth: sw } = info;
  const windows = (t: tf.Tensor4D) => {
    const parts: tf.Tensor4D[] = [];
    for (let i = 0; i < info.filterHeight; i++) {
      for (let j = 0; j < info.filterWidth; j++) {
        const end = [b, i + (oh - 1) * sh + 1, j + (ow - 1) * sw + 1, c];
        parts.push(tf.stridedSlice(t, [0, i, j, 0], end, [1, sh, sw, 1]) as tf.Tensor4D);
      }
    }
    return tf.stack(parts); // [window offsets, b, oh, ow, c]
  };
  const k = info.filterHeight * info.filterWidth;
  // [b, oh, ow, c, k]; int32 then cast: the WASM backend writes float32 one-hots wrongly.
  const mask = tf.cast(tf.oneHot(tf.argMax(windows(xp), 0), k), "float32");
  const picked = tf.mul(tf.transpose(mask, [4, 0, 1, 2, 3]), windows(gp));
  return tf.sum(picked, 0) as tf.Tensor4D;
}

/**
 * TensorFlow's `ReluGrad`: `dy · (x > 0 ? 1 : 0)` (NaN in x gives 0), as one kernel
 * where the active backend registers one, else composed of tfjs ops.
 */
export function reluGrad(dy: tf.Tensor, x: tf.Tensor): tf.Tensor {
  if (
    dy.dtype === "float32" && x.dtype === "float32" && tf.getKernel("ReluGrad", tf.getBackend())
  ) {
    return tf.engine().runKernel("ReluGrad", { dy, x }) as tf.Tensor;
  }
  return tf.mul(dy, tf.cast(tf.greater(x, 0), dy.dtype));
}

const configs: tf.GradConfig[] = [
  {
    kernelName: "Relu",
    inputsToSave: ["x"],
    gradFunc: (dy, saved) => ({ x: () => reluGrad(dy as tf.Tensor, saved[0]) }),
  },
  {
    // ReluGrad is linear in dy with a mask that is piecewise constant in x (TF's _ReluGradGrad).
    kernelName: "ReluGrad",
    inputsToSave: ["x"],
    gradFunc: (g, saved) => ({
      dy: () => reluGrad(g as tf.Tensor, saved[0]),
      x: () => tf.zerosLike(saved[0]),
    }),
  },
  {
    kernelName: "Cumsum",
    gradFunc: (dy, _saved, attrs) => {
      const { axis, exclusive, reverse } = attrs as {
        axis: number;
        exclusive: boolean;
        reverse: boolean;
      };
      return { x: () => tf.cumsum(dy as tf.Tensor, axis, exclusive, !reverse) };
    },
  },
  {
    kernelName: "BatchMatMul",
    inputsToSave: ["a", "b"],
    gradFunc: (dy, [a, b], attrs) => {
      const { transposeA: ta, transposeB: tb } = attrs as {
        transposeA: boolean;
        transposeB: boolean;
      };
      const d = dy as tf.Tensor;
      const mm = (x: tf.Tensor, y: tf.Tensor, tx = false, ty = false) => tf.matMul(x, y, tx, ty);
      const [da, db] = !ta
        ? (!tb
          ? [() => mm(d, b, false, true), () => mm(a, d, true)]
          : [() => mm(d, b), () => mm(d, a, true)])
        : (!tb
          ? [() => mm(b, d, false, true), () => mm(a, d)]
          : [() => mm(b, d, true, true), () => mm(d, a, true, true)]);
      return { a: () => sumTo(da(), a.shape), b: () => sumTo(db(), b.shape) };
    },
  },
  {
    kernelName: "Relu6",
    inputsToSave: ["x"],
    gradFunc: (dy, [x]) => ({
      x: () => {
        const inside = tf.logicalAnd(tf.greater(x, 0), tf.less(x, 6));
        return tf.mul(dy as tf.Tensor, tf.cast(inside, "float32"));
      },
    }),
  },
  {
    kernelName: "Selu",
    inputsToSave: ["x"],
    gradFunc: (dy, [x]) => ({
      x: () => {
        const [scale, alpha] = [1.0507009873554805, 1.6732632423543772];
        const d = dy as tf.Tensor;
        return tf.where(
          tf.less(x, 0),
          tf.mul(d, tf.mul(tf.exp(x), scale * alpha)),
          tf.mul(d, scale),
        );
      },
    }),
  },
  {
    kernelName: "Prod",
    inputsToSave: ["x"],
    gradFunc: (dy, [x], attrs) => ({
      x: () => prodGrad(x, dy as tf.Tensor, (attrs as Attrs).axis),
    }),
  },
  {
    kernelName: "Cumprod",
    inputsToSave: ["x"],
    gradFunc: (dy, [x], attrs) => {
      const { axis, exclusive, reverse } = attrs as {
        axis: number;
        exclusive: boolean;
        reverse: boolean;
      };
      return {
        x: () => {
          const prod = tf.mul(tf.cumprod(x, axis, exclusive, reverse), dy as tf.Tensor);
          return tf.divNoNan(tf.cumsum(prod, axis, exclusive, !reverse), x);
        },
      };
    },
  },
  // TF (math_grad.py): ops.NotDifferentiable for the comparisons. tfjs has no gradient for
  // them: a mask such as cast(x > 0), or Max's own gradient (which compares with the
  // maximum) differentiated again, failed with "gradient function not found for Equal".
  ...["Equal", "NotEqual", "Less", "LessEqual", "Greater", "GreaterEqual"].map((kernelName) => ({
    kernelName,
    inputsToSave: ["a", "b"],
    gradFunc: (_dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => ({
      a: () => tf.zerosLike(saved[0]),
      b: () => tf.zerosLike(saved[1]),
    }),
  })),
  {
    kernelName: "Abs",
    inputsToSave: ["x"],
    gradFunc: (dy, saved) => ({
      x: () => tf.mul(dy as tf.Tensor, tf.sign(tf.cast(saved[0], "float32"))),
    }),
  },
  {
    kernelName: "Max",
    inputsToSave: ["x"],
    outputsToSave: [true],
    gradFunc: (dy, saved, attrs) =>
      extremumGrad(dy as tf.Tensor, saved, attrs as Attrs, "reductionIndices"),
  },
  {
    kernelName: "Min",
    inputsToSave: ["x"],
    outputsToSave: [true],
    gradFunc: (dy, saved, attrs) => extremumGrad(dy as tf.Tensor, saved, attrs as Attrs, "axis"),
  },
  {
    // dx = MaxPoolGrad(dy, x, y) routes dy to each window's maximum; its
    // gradient w.r.t. dy picks, for each window, the incoming gradient at that maximum.
    kernelName: "MaxPoolGrad",
    inputsToSave: ["input", "output"],
    gradFunc: (g, saved, attrs) => {
      const [input, output] = saved;
      const { filterSize, strides, pad } = attrs as {
        filterSize: [number, number];
        strides: [number, number];
        pad: Pad;
      };
      return {
        dy: () => atWindowMaxima(input as tf.Tensor4D, g as tf.Tensor4D, filterSize, strides, pad),
        input: () => tf.zerosLike(input),
        output: () => tf.zerosLike(output),
      };
    },
  },
  {
    // AvgPoolGrad is the transpose of AvgPool, a linear map: its gradient is AvgPool.
    kernelName: "AvgPoolGrad",
    inputsToSave: ["input"],
    gradFunc: (g, saved, attrs) => {
      const { filterSize, strides, pad } = attrs as {
        filterSize: [number, number];
        strides: [number, number];
        pad: "valid" | "same" | number;
      };
      return {
        dy: () => tf.avgPool(g as tf.Tensor4D, filterSize, strides, pad),
        input: () => tf.zerosLike(saved[0]),
      };
    },
  },
  {
    // dW = Σ x-patch ⊗ dy is bilinear in (x, dy).
    kernelName: "Conv2DBackpropFilter",
    inputsToSave: ["x", "dy"],
    gradFunc: (g, saved, attrs) => {
      const [x, dy] = saved as tf.Tensor4D[];
      const a = attrs as {
        strides: [number, number];
        pad: "valid" | "same" | number;
        dataFormat: "NHWC" | "NCHW";
        dimRoundingMode?: "floor" | "round" | "ceil";
      };
      const w = g as tf.Tensor4D;
      return {
        x: () => tf.conv2dTranspose(dy, w, x.shape, a.strides, a.pad as "valid", a.dimRoundingMode),
        dy: () => tf.conv2d(x, w, a.strides, a.pad, a.dataFormat, 1, a.dimRoundingMode),
      };
    },
  },
];

for (const config of configs) tf.registerGradient(config);
