/**
 * Matrix products on WASM: `BatchMatMul` and `_FusedMatMul` through our own
 * GEMM (`gemm.ts`), transposed operands included.
 *
 * tfjs-backend-wasm 4.22.0's `BatchMatMul` (and `_FusedMatMul`) takes the fast
 * XNNPACK path only when neither operand is transposed; with `transposeA` or
 * `transposeB` it runs a naive loop (about 1.4 GFLOP/s against 20+). A dense
 * layer's backward pass always asks for a transpose (`dW = xᵀ·dy`,
 * `dx = dy·Wᵀ`). {@linkcode gemmMatMulConfig} reads a transposed operand with
 * swapped strides while packing it, so every product costs the same; float32
 * operands whose batch dimensions are equal or 1 go that way, `_FusedMatMul`'s
 * bias and activation are then the backend's own kernels. Anything else (other
 * dtypes, general broadcasts, no heap) goes to {@linkcode untransposedMatMulConfig}:
 * the transpose materialised with the backend's `Transpose` kernel, then the
 * original kernel with both flags off.
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
import {
  callKernel,
  type HeapBackend,
  type Info,
  KernelInstallError,
  release,
} from "./_kernel_util.ts";
import { backendMemory } from "./_wasm.ts";
import { gemm, gemmEnabled, type Strided } from "./gemm.ts";

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

/** The kernel that applies `_FusedMatMul`'s activation, by the attribute's name. */
const ACTIVATIONS: Record<string, string | null> = {
  linear: null,
  relu: "Relu",
  relu6: "Relu6",
  elu: "Elu",
  sigmoid: "Sigmoid",
};

interface MatMulAttrs {
  transposeA?: boolean;
  transposeB?: boolean;
  activation?: string;
}

/**
 * A config for `kernelName` on WASM that computes float32 products with
 * `gemm.ts`, batch by batch, and passes other cases to
 * {@linkcode untransposedMatMulConfig}.
 */
export function gemmMatMulConfig(kernelName: "BatchMatMul" | "_FusedMatMul"): tf.KernelConfig {
  const fallback = untransposedMatMulConfig(kernelName, "wasm");
  return {
    ...fallback,
    kernelFunc: (args) => {
      const { a, b, bias, preluActivationWeights } = args.inputs as Record<string, Info>;
      const attrs = args.attrs as MatMulAttrs;
      const activation = attrs.activation ?? "linear";
      const memory = backendMemory(args.backend);
      const [ra, rb] = [a.shape.length, b.shape.length];
      const batchA = a.shape.slice(0, -2), batchB = b.shape.slice(0, -2);
      const [na, nb] = [batchA, batchB].map((s) => tf.util.sizeFromShape(s));
      const usable = memory && gemmEnabled() && a.dtype === "float32" && b.dtype === "float32" &&
        ra >= 2 &&
        rb >= 2 && (na === nb || na === 1 || nb === 1) && !preluActivationWeights &&
        activation in ACTIVATIONS;
      if (!usable) return fallback.kernelFunc(args);
      const [m, k] = attrs.transposeA ? [a.shape[ra - 1], a.shape[ra - 2]] : [
        a.shape[ra - 2],
        a.shape[ra - 1],
      ];
      const [k2, n] = attrs.transposeB ? [b.shape[rb - 1], b.shape[rb - 2]] : [
        b.shape[rb - 2],
        b.shape[rb - 1],
      ];
      if (k !== k2) return fallback.kernelFunc(args); // tfjs's own kernel says what is wrong
      const batchShape = na >= nb ? batchA : batchB;
      if (na === nb && batchA.some((d, i) => d !== batchB[i])) return fallback.kernelFunc(args);
      const heap = args.backend as unknown as HeapBackend;
      const backend = args.backend as tf.KernelBackend;
      let out = heap.makeOutput([...batchShape, m, n], "float32");
      if (m * n > 0 && k === 0) heap.typedArrayFromHeap(out).fill(0); // an empty sum
      else if (m * n > 0) {
        const [ao, bo, co] = [a, b, out].map((t) => heap.getMemoryOffset(t.dataId));
        const batches = Math.max(na, nb);
        for (let i = 0; i < batches; i++) {
          const A: Strided = {
            offset: ao + (na === 1 ? 0 : i) * m * k * 4,
            rowStride: attrs.transposeA ? 4 : k * 4,
            colStride: attrs.transposeA ? m * 4 : 4,
          };
          const B: Strided = {
            offset: bo + (nb === 1 ? 0 : i) * k * n * 4,
            rowStride: attrs.transposeB ? 4 : n * 4,
            colStride: attrs.transposeB ? k * 4 : 4,
          };
          gemm(heap, memory, A, B, co + i * m * n * 4, m, n, k);
        }
      }
      if (bias) {
        const biased = callKernel("Add", "wasm", backend, { a: out, b: bias });
        release(backend, out);
        out = biased;
      }
      const act = ACTIVATIONS[activation];
      if (act) {
        const activated = callKernel(act, "wasm", backend, { x: out });
        release(backend, out);
        out = activated;
      }
      return out;
    },
  };
}
