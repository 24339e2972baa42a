/**
 * `Cumsum` and `Cumprod` with a negative axis, on every backend.
 *
 * TensorFlow counts a negative axis from the end (`tf.math.cumsum(x, axis=-1)`
 * sums along the last axis). tfjs 4.22.0 passes the negative axis to the
 * kernels unchanged: the CPU backend then fails with a shape error, and the
 * WASM backend writes out of bounds, corrupting its heap so that later ops
 * fail or hang. These wrappers turn the axis into `axis + rank` before the
 * stock kernel runs; every other call passes through untouched.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { initBackend } from "../backend.ts"; // installs these wrappers
 * await initBackend({ prefer: "cpu" });
 * tf.cumsum(tf.tensor2d([[1, 2], [3, 4]]), -1).print(); // [[1, 3], [3, 7]]
 * ```
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import type { Info } from "./_kernel_util.ts";

/** `stock` (a `Cumsum` or `Cumprod` kernel) with its `axis` attribute counted from the end when negative. */
export function nonNegativeAxisConfig(stock: tf.KernelConfig): tf.KernelConfig {
  return {
    ...stock,
    kernelFunc: (args) => {
      const { x } = args.inputs as { x: Info };
      const axis = (args.attrs as { axis: number }).axis;
      if (axis >= 0 || axis < -x.shape.length) return stock.kernelFunc(args);
      return stock.kernelFunc({ ...args, attrs: { ...args.attrs, axis: axis + x.shape.length } });
    },
  };
}
