/**
 * `Identity` and same-dtype `Cast` on WASM without a copy.
 *
 * tfjs-backend-wasm 4.22.0 copies the whole buffer for `Identity` and for a
 * `Cast` to the dtype a tensor already has; the ReLU gradient alone
 * (`cast(step(x), "float32")`) copies every conv activation once per step
 * (11 MB for the Keras MNIST CNN's first layer). Tensors are immutable in
 * tfjs, so — like the CPU backend and the WASM `Reshape` — these kernels
 * return the same buffer with its reference count raised. Casts that change
 * the dtype go to the stock kernel, except casts to `bool`, which the stock
 * kernel gets wrong (it copies the numbers: `cast([1, 0, 2], "bool")` keeps the
 * 2): those are computed as `x != 0`, as on the CPU backend.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { initBackend } from "../backend.ts"; // installs these kernels on WASM
 * await initBackend({ prefer: "wasm" });
 * tf.cast(tf.tensor([1.5, 2]), "float32").print(); // [1.5, 2], no copy made
 * ```
 *
 * @module
 */
import type * as tf from "@tensorflow/tfjs";
import { callKernel, type Info, release } from "./_kernel_util.ts";

interface RefCounted {
  incRef(dataId: object): void;
}

function alias(x: Info, backend: unknown): Info {
  (backend as RefCounted).incRef(x.dataId);
  return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
}

/** The WASM `Identity` config; `stock` serves strings. */
export function aliasIdentityConfig(stock: tf.KernelConfig): tf.KernelConfig {
  return {
    kernelName: "Identity",
    backendName: "wasm",
    setupFunc: stock.setupFunc,
    kernelFunc: (args) => {
      const x = args.inputs.x as Info;
      return x.dtype === "string" ? stock.kernelFunc(args) : alias(x, args.backend);
    },
  };
}

/** The WASM `Cast` config; `stock` converts between different dtypes. */
export function aliasCastConfig(stock: tf.KernelConfig): tf.KernelConfig {
  return {
    kernelName: "Cast",
    backendName: "wasm",
    setupFunc: stock.setupFunc,
    kernelFunc: (args) => {
      const x = args.inputs.x as Info;
      const { dtype } = args.attrs as { dtype: tf.DataType };
      if (x.dtype === dtype && dtype !== "string") return alias(x, args.backend);
      if (dtype === "bool" && (x.dtype === "float32" || x.dtype === "int32")) {
        const backend = args.backend as tf.KernelBackend;
        const zero = callKernel("Fill", "wasm", backend, {}, {
          shape: [],
          value: 0,
          dtype: x.dtype,
        });
        const out = callKernel("NotEqual", "wasm", backend, { a: x, b: zero });
        release(backend, zero);
        return out;
      }
      return stock.kernelFunc(args);
    },
  };
}
