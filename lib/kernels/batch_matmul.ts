/**
 * Fast transposed matrix products on WASM.
 *
 * tfjs-backend-wasm 4.22.0's `BatchMatMul` (and `_FusedMatMul`) takes the fast
 * XNNPACK path only when neither operand is transposed; with `transposeA` or
 * `transposeB` it runs a naive loop (about 1.4 GFLOP/s against 20+). A dense
 * layer's backward pass always asks for a transpose (`dW = xᵀ·dy`,
 * `dx = dy·Wᵀ`). This wrapper materialises the transpose with the backend's
 * `Transpose` kernel (memory-bound, cheap) and calls the original kernel with
 * both flags off.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { initBackend } from "../backend.ts"; // installs this wrapper on WASM
 * await initBackend({ prefer: "wasm" });
 * const a = tf.randomNormal([256, 128]), b = tf.randomNormal([256, 64]);
 * console.log(tf.matMul(a, b, true, false).shape); // [128, 64], via XNNPACK
 * ```
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { callKernel, type Info, KernelInstallError, release } from "./_kernel_util.ts";

/** The kernels we wrap, kept so that installing twice never wraps a wrapper. */
const originals = new Map<string, tf.KernelConfig>();

function original(kernelName: string, backendName: string): tf.KernelConfig {
  const key = `${backendName}/${kernelName}`;
  let config = originals.get(key);
  if (!config) {
    config = tf.getKernel(kernelName, backendName);
    if (!config) {
      throw new KernelInstallError(
        `backend "${backendName}" has no "${kernelName}" kernel to wrap; ` +
          `check the tfjs backend version pinned in deno.json`,
      );
    }
    originals.set(key, config);
  }
  return config;
}

function transposeLast2(backendName: string, backend: tf.KernelBackend, x: Info): Info {
  const rank = x.shape.length;
  const perm = [...Array(rank).keys()];
  perm[rank - 2] = rank - 1;
  perm[rank - 1] = rank - 2;
  return callKernel("Transpose", backendName, backend, { x }, { perm });
}

/**
 * A config for `kernelName` ("BatchMatMul" or "_FusedMatMul") on `backendName`
 * that turns transposed operands into plain ones before calling the original.
 */
export function untransposedMatMulConfig(
  kernelName: "BatchMatMul" | "_FusedMatMul",
  backendName = "wasm",
): tf.KernelConfig {
  const orig = original(kernelName, backendName);
  return {
    kernelName,
    backendName,
    setupFunc: orig.setupFunc,
    disposeFunc: orig.disposeFunc,
    kernelFunc: (args) => {
      const attrs = args.attrs as { transposeA?: boolean; transposeB?: boolean };
      if (!attrs.transposeA && !attrs.transposeB) return orig.kernelFunc(args);
      const backend = args.backend as tf.KernelBackend;
      const temps: Info[] = [];
      const inputs = { ...args.inputs } as Record<string, Info>;
      if (attrs.transposeA) {
        inputs.a = transposeLast2(backendName, backend, inputs.a);
        temps.push(inputs.a);
      }
      if (attrs.transposeB) {
        inputs.b = transposeLast2(backendName, backend, inputs.b);
        temps.push(inputs.b);
      }
      const out = orig.kernelFunc({
        ...args,
        inputs: inputs as tf.NamedTensorInfoMap,
        attrs: { ...args.attrs, transposeA: false, transposeB: false },
      });
      release(backend, ...temps);
      return out;
    },
  };
}
