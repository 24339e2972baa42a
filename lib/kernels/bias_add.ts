/**
 * `Add` of a per-channel bias on WASM, four channels per instruction.
 *
 * tfjs-layers adds a convolution's bias with a broadcasting `Add`
 * (`[batch, h, w, c] + [c]`), and tfjs-backend-wasm 4.22.0 runs broadcasts
 * through a generic index loop: about 1 ms for the first layer of the MNIST
 * CNN at batch 128, more than its `MaxPool`. This kernel handles exactly that
 * case — float32, the second operand a vector over the last axis (shape `[c]`
 * or `[1, ..., 1, c]`), `c` a multiple of 4 — as one SIMD loop on the
 * backend's heap, and passes everything else to the stock kernel.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { initBackend } from "../backend.ts"; // installs this kernel on WASM
 * await initBackend({ prefer: "wasm" });
 * tf.add(tf.zeros([2, 4]), tf.tensor1d([1, 2, 3, 4])).print(); // [[1,2,3,4],[1,2,3,4]]
 * ```
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import type { HeapBackend, Info } from "./_kernel_util.ts";
import { assemble, backendMemory, I32, instantiate, op, simd } from "./_wasm.ts";
import { chunks, once, runParts, SPLIT_MIN } from "./_parallel.ts";

// Params: a, bias, out (byte offsets), rows, row bytes (c·4, a multiple of 16).
const [A, BIAS, OUT, ROWS, CB] = [0, 1, 2, 3, 4];
const [R, K] = [5, 6];
const BIAS_WASM = assemble([{
  name: "biasAdd",
  params: [I32, I32, I32, I32, I32],
  locals: [I32, I32],
  body: [
    op.block,
    op.loop,
    [...op.get(R), ...op.get(ROWS), ...op.i32GeU, ...op.brIf(1)],
    [...op.i32(0), ...op.set(K)],
    op.block,
    op.loop,
    [...op.get(K), ...op.get(CB), ...op.i32GeU, ...op.brIf(1)],
    [...op.get(OUT), ...op.get(K), ...op.i32Add],
    [...op.get(A), ...op.get(K), ...op.i32Add, ...simd.load()],
    [...op.get(BIAS), ...op.get(K), ...op.i32Add, ...simd.load()],
    [...simd.add, ...simd.store()],
    [...op.get(K), ...op.i32(16), ...op.i32Add, ...op.set(K), ...op.br(0)],
    op.end,
    op.end,
    [...op.get(A), ...op.get(CB), ...op.i32Add, ...op.set(A)],
    [...op.get(OUT), ...op.get(CB), ...op.i32Add, ...op.set(OUT)],
    [...op.get(R), ...op.i32(1), ...op.i32Add, ...op.set(R), ...op.br(0)],
    op.end,
    op.end,
  ],
}]);

/** Whether `b` is a vector over `a`'s last axis that this kernel handles. */
function isChannelBias(a: Info, b: Info): boolean {
  const c = a.shape[a.shape.length - 1];
  return a.dtype === "float32" && b.dtype === "float32" && a.shape.length >= 2 &&
    c % 4 === 0 && b.shape.length <= a.shape.length && b.shape[b.shape.length - 1] === c &&
    b.shape.slice(0, -1).every((d) => d === 1);
}

/** The `Add` kernel config for WASM, falling back to `stock` for other operands. */
export function biasAddConfig(stock: tf.KernelConfig): tf.KernelConfig {
  return {
    kernelName: "Add",
    backendName: "wasm",
    setupFunc: stock.setupFunc,
    kernelFunc: (args) => {
      const { a, b } = args.inputs as { a: Info; b: Info };
      const memory = backendMemory(args.backend);
      const [x, bias] = isChannelBias(a, b) ? [a, b] : isChannelBias(b, a) ? [b, a] : [];
      if (!memory || !x || !bias) return stock.kernelFunc(args);
      const heap = args.backend as unknown as HeapBackend;
      const out = heap.makeOutput(x.shape, "float32");
      const c = x.shape[x.shape.length - 1];
      const rows = tf.util.sizeFromShape(x.shape) / c;
      const [xp, bp, op] = [x, bias, out].map((t) => heap.getMemoryOffset(t.dataId));
      // Large tensors: the rows in parts two threads share (element-wise: the same numbers).
      const rb = c * 4;
      const part = (r0: number, r1: number) => once([xp + r0 * rb, bp, op + r0 * rb, r1 - r0, rb]);
      runParts(
        BIAS_WASM,
        memory,
        instantiate(BIAS_WASM, memory),
        "biasAdd",
        chunks(rows, rows * c >= SPLIT_MIN ? 8 : 1, part),
      );
      return out;
    },
  };
}
