/**
 * `Sum` over leading axes on WASM, reshaped to 2-D first.
 *
 * tfjs-backend-wasm 4.22.0 reduces only innermost axes, so it transposes the
 * input first. Summing a conv layer's output gradient over batch, rows and
 * columns (the bias gradient, `[128, 26, 26, 32]` → `[32]`) takes a generic
 * 4-D transpose (about 11 ms). For that NHWC case this kernel averages each
 * image with the backend's (XNNPACK) `AvgPool` over the whole `H×W` window,
 * sums the small `[batch, C]` result and scales by `H·W` (about 0.5 ms; the
 * result differs from a plain sum by float32 rounding, ~1e-6 relative). Other
 * leading-axes sums are viewed as 2-D `[M, C]` first (a cheaper transpose);
 * other reductions go to the stock kernel unchanged.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { initBackend } from "../backend.ts"; // installs this kernel on WASM
 * await initBackend({ prefer: "wasm" });
 * tf.ones([4, 3, 2]).sum([0, 1]).print(); // [12, 12]
 * ```
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { callKernel, type Info, release } from "./_kernel_util.ts";

/** The WASM `Sum` config wrapping `stock` (the kernel it replaces). */
export function leadingAxesSumConfig(stock: tf.KernelConfig): tf.KernelConfig {
  return {
    kernelName: "Sum",
    backendName: "wasm",
    setupFunc: stock.setupFunc,
    kernelFunc: (args) => {
      const x = args.inputs.x as Info;
      const { axis, keepDims } = args.attrs as { axis: number | number[]; keepDims: boolean };
      const rank = x.shape.length;
      const axes = tf.util.parseAxisParam(axis, x.shape).sort((a, b) => a - b);
      const leading = axes.length >= 2 && axes.length < rank && axes.every((a, i) => a === i);
      if (!leading) return stock.kernelFunc(args);
      const backend = args.backend as tf.KernelBackend;
      if (x.dtype === "float32" && rank === 4 && axes.length === 3 && !x.shape.includes(0)) {
        return viaAvgPool(stock, args, x, keepDims);
      }
      const m = x.shape.slice(0, axes.length).reduce((a, b) => a * b, 1);
      const rest = x.shape.slice(axes.length);
      const c = rest.reduce((a, b) => a * b, 1);
      const x2 = callKernel("Reshape", "wasm", backend, { x }, { shape: [m, c] });
      const summed = sumAxis0(stock, args, x2);
      const shape = keepDims ? [...axes.map(() => 1), ...rest] : rest;
      const out = callKernel("Reshape", "wasm", backend, { x: summed }, { shape });
      release(backend, x2, summed);
      return out;
    },
  };
}

/** The stock kernel's sum of the 2-D `x` over axis 0 (its rows). */
function sumAxis0(stock: tf.KernelConfig, args: Parameters<tf.KernelFunc>[0], x: Info): Info {
  const s = stock.kernelFunc({ ...args, inputs: { x }, attrs: { axis: [0], keepDims: false } });
  return (Array.isArray(s) ? s[0] : s) as Info;
}

/** Σ over [0, 1, 2] of an NHWC tensor = H·W · Σ_batch AvgPool(x, [H, W]). */
function viaAvgPool(
  stock: tf.KernelConfig,
  args: Parameters<tf.KernelFunc>[0],
  x: Info,
  keepDims: boolean,
): Info {
  const backend = args.backend as tf.KernelBackend;
  const [b, h, w, c] = x.shape;
  const pooled = callKernel("AvgPool", "wasm", backend, { x }, {
    filterSize: [h, w],
    strides: [1, 1],
    pad: "valid",
  });
  const flat = callKernel("Reshape", "wasm", backend, { x: pooled }, { shape: [b, c] });
  const summed = sumAxis0(stock, args, flat);
  const area = callKernel("Fill", "wasm", backend, {}, {
    shape: [],
    value: h * w,
    dtype: "float32",
  });
  const scaled = callKernel("Multiply", "wasm", backend, { a: summed, b: area });
  const out = callKernel("Reshape", "wasm", backend, { x: scaled }, {
    shape: keepDims ? [1, 1, 1, c] : [c],
  });
  release(backend, pooled, flat, summed, area, scaled);
  return out;
}
