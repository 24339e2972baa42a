/**
 * `Relu` and TensorFlow's `ReluGrad` on WASM: SIMD loops on the backend's heap,
 * split between two threads when the threaded build runs.
 *
 * tfjs computes the gradient of `relu` as `dy · step(x)`: two passes over the
 * activations and a temporary as large as them (the first convolution of the
 * Keras MNIST CNN at batch 128: 2.8 million values). TensorFlow has one op for
 * it, `ReluGrad(gradients, features) = gradients · (features > 0)`, and
 * `_tf_gradients.ts` makes the `Relu` gradient call it. Where `features` is NaN,
 * TensorFlow's mask is 0 (NaN > 0 is false), so the gradient is 0 there (tfjs:
 * NaN); this kernel and the composite fallback both follow TensorFlow.
 *
 * The forward `Relu` is `max(x, 0)`, as the stock kernel computes it: NaN
 * stays NaN and −0 becomes +0. Both kernels take float32 tensors (others go to
 * the stock kernel, or to the composite for `ReluGrad`).
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { initBackend } from "../backend.ts"; // installs these kernels on WASM
 * await initBackend({ prefer: "wasm" });
 * tf.grad((x: tf.Tensor) => tf.relu(x))(tf.tensor1d([-1, 2])).print(); // [0, 1]
 * ```
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import type { HeapBackend, Info } from "./_kernel_util.ts";
import { assemble, backendMemory, I32, instantiate, op, simd } from "./_wasm.ts";
import { floatParts, runParts, SPLIT_MIN } from "./_parallel.ts";

// relu(x, out, bytes) and reluGrad(dy, x, out, bytes); bytes a multiple of 16.
const [P0, P1, P2, P3] = [0, 1, 2, 3];
const RELU_WASM = assemble([{
  name: "relu",
  params: [I32, I32, I32],
  locals: [I32],
  body: [
    op.block,
    op.loop,
    [...op.get(P3), ...op.get(P2), ...op.i32GeU, ...op.brIf(1)],
    [...op.get(P1), ...op.get(P3), ...op.i32Add],
    [...op.get(P0), ...op.get(P3), ...op.i32Add, ...simd.load()],
    [...simd.zero, ...simd.max, ...simd.store()],
    [...op.get(P3), ...op.i32(16), ...op.i32Add, ...op.set(P3), ...op.br(0)],
    op.end,
    op.end,
  ],
}, {
  name: "reluGrad",
  params: [I32, I32, I32, I32],
  locals: [I32],
  body: [
    op.block,
    op.loop,
    [...op.get(4), ...op.get(P3), ...op.i32GeU, ...op.brIf(1)],
    [...op.get(P2), ...op.get(4), ...op.i32Add],
    // dy · (x > 0 ? 1 : 0): the mask's lanes select 1.0 or 0.0, then one multiply.
    [...op.get(P0), ...op.get(4), ...op.i32Add, ...simd.load()],
    [...op.get(P1), ...op.get(4), ...op.i32Add, ...simd.load(), ...simd.zero, ...simd.gt],
    [...simd.f32Splat(1), ...simd.and, ...simd.mul, ...simd.store()],
    [...op.get(4), ...op.i32(16), ...op.i32Add, ...op.set(4), ...op.br(0)],
    op.end,
    op.end,
  ],
}]);

/**
 * Run `name` over `count` floats at the tensors' offsets: whole groups of four
 * in WASM (in parts two threads share, when large), the rest with `tail`.
 */
function elementwise(
  backend: unknown,
  name: "relu" | "reluGrad",
  inputs: Info[],
  out: Info,
  tail: (i: number, views: Float32Array[]) => number,
): void {
  const heap = backend as HeapBackend;
  const count = tf.util.sizeFromShape(out.shape);
  const memory = backendMemory(backend);
  let done = 0;
  if (memory) {
    done = count - (count % 4);
    const ptrs = [...inputs, out].map((t) => heap.getMemoryOffset(t.dataId));
    // Large tensors in parts that two threads share.
    const parts = floatParts(ptrs, done, done >= SPLIT_MIN ? 8 : 1);
    runParts(RELU_WASM, memory, instantiate(RELU_WASM, memory), name, parts);
  }
  if (done < count) {
    // Views after the allocation: growing the heap detaches older views.
    const views = [...inputs, out].map((t) => heap.typedArrayFromHeap(t) as Float32Array);
    for (let i = done; i < count; i++) views[views.length - 1][i] = tail(i, views);
  }
}

/** The `Relu` kernel for WASM (float32 here, other dtypes to `stock`). */
export function reluConfig(stock: tf.KernelConfig): tf.KernelConfig {
  return {
    kernelName: "Relu",
    backendName: "wasm",
    setupFunc: stock.setupFunc,
    kernelFunc: (args) => {
      const { x } = args.inputs as { x: Info };
      if (x.dtype !== "float32") return stock.kernelFunc(args);
      const out = (args.backend as unknown as HeapBackend).makeOutput(x.shape, "float32");
      elementwise(args.backend, "relu", [x], out, (i, [v]) => Math.max(v[i], 0));
      return out;
    },
  };
}

/**
 * TensorFlow's `ReluGrad` for WASM: inputs `dy` (gradients) and `x` (features,
 * Relu's input or output), float32, same shape; `dy · (x > 0)`.
 */
export function reluGradConfig(): tf.KernelConfig {
  return {
    kernelName: "ReluGrad",
    backendName: "wasm",
    kernelFunc: ({ inputs, backend }) => {
      const { dy, x } = inputs as { dy: Info; x: Info };
      const out = (backend as unknown as HeapBackend).makeOutput(x.shape, "float32");
      elementwise(backend, "reluGrad", [dy, x], out, (i, [g, v]) => g[i] * (v[i] > 0 ? 1 : 0));
      return out;
    },
  };
}
