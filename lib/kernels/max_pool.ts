/**
 * `MaxPool` 2x2, stride 2, "valid" on WASM: a SIMD loop on the backend's heap,
 * images in parts that two threads share when the threaded build runs.
 *
 * The CNNs here pool every convolution this way; tfjs-backend-wasm 4.22.0 runs
 * it through XNNPACK on one thread (about 1.8 ms for the Keras MNIST CNN's
 * first layer at batch 128). NaN never wins a window here, as on tfjs's CPU
 * backend and in {@linkcode maxPoolGradConfig}'s choice of the cell that gets
 * the gradient (a window of NaNs gives −∞); the stock WASM kernel returns −∞
 * for a window whose first cell is NaN even when it holds numbers. TensorFlow
 * does not specify NaN in max-pooling (its CPU and GPU kernels differ). Other
 * pools, dtypes and channel counts not a multiple of 4 go to the stock kernel.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { initBackend } from "../backend.ts"; // installs this kernel on WASM
 * await initBackend({ prefer: "wasm" });
 * tf.maxPool(tf.tensor4d([1, 5, 3, 2], [1, 2, 2, 1]), 2, 2, "valid").print(); // [[[[5]]]]
 * ```
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import type { HeapBackend, Info } from "./_kernel_util.ts";
import { assemble, backendMemory, I32, instantiate, op, simd, V128 } from "./_wasm.ts";
import { chunks, runParts, SPLIT_MIN } from "./_parallel.ts";
import { isPlain2x2 } from "./max_pool_grad.ts";

// Params: x, y (byte offsets of one image), output rows, windows per row, channel
// bytes (C·4), input row bytes.
const [X, Y, ROWS, WINDOWS, CB, RB] = [0, 1, 2, 3, 4, 5];
const [R, W, K, PX, PY] = [6, 7, 8, 9, 10]; // i32 locals
const [BEST, V, NINF] = [11, 12, 13]; // v128 locals
const add = (...locals: number[]) => [
  ...op.get(locals[0]),
  ...locals.slice(1).flatMap((l) => [...op.get(l), ...op.i32Add]),
];
/** best = v > best ? v : best (false for NaN: NaN never wins). */
const take = (address: number[]) => [
  ...address,
  ...simd.load(),
  ...op.tee(V),
  ...op.get(BEST),
  ...op.get(V),
  ...op.get(BEST),
  ...simd.gt,
  ...simd.bitselect,
  ...op.set(BEST),
];
const MAX_POOL_WASM = assemble([{
  name: "image",
  params: [I32, I32, I32, I32, I32, I32],
  locals: [I32, I32, I32, I32, I32, V128, V128, V128],
  body: [
    [...op.f32(-Infinity), ...simd.splat, ...op.set(NINF)],
    op.block,
    op.loop,
    [...op.get(R), ...op.get(ROWS), ...op.i32GeU, ...op.brIf(1)],
    [...op.get(X), ...op.set(PX), ...op.get(Y), ...op.set(PY), ...op.i32(0), ...op.set(W)],
    op.block,
    op.loop,
    [...op.get(W), ...op.get(WINDOWS), ...op.i32GeU, ...op.brIf(1)],
    [...op.i32(0), ...op.set(K)],
    op.block,
    op.loop,
    [...op.get(K), ...op.get(CB), ...op.i32GeU, ...op.brIf(1)],
    [...op.get(NINF), ...op.set(BEST)],
    take(add(PX, K)),
    take(add(PX, K, CB)),
    take(add(PX, K, RB)),
    take(add(PX, K, RB, CB)),
    [...add(PY, K), ...op.get(BEST), ...simd.store()],
    [...op.get(K), ...op.i32(16), ...op.i32Add, ...op.set(K), ...op.br(0)],
    op.end,
    op.end,
    // Next window: two input columns, one output column.
    [...op.get(PX), ...op.get(CB), ...op.get(CB), ...op.i32Add, ...op.i32Add, ...op.set(PX)],
    [...add(PY, CB), ...op.set(PY)],
    [...op.get(W), ...op.i32(1), ...op.i32Add, ...op.set(W), ...op.br(0)],
    op.end,
    op.end,
    // Next output row: two input rows down; output rows are contiguous.
    [...op.get(X), ...op.get(RB), ...op.get(RB), ...op.i32Add, ...op.i32Add, ...op.set(X)],
    [...op.get(PY), ...op.set(Y)],
    [...op.get(R), ...op.i32(1), ...op.i32Add, ...op.set(R), ...op.br(0)],
    op.end,
    op.end,
  ],
}]);

/** The `MaxPool` kernel for WASM, falling back to `stock` for other pools. */
export function maxPoolConfig(stock: tf.KernelConfig): tf.KernelConfig {
  return {
    kernelName: "MaxPool",
    backendName: "wasm",
    setupFunc: stock.setupFunc,
    kernelFunc: (args) => {
      const { x } = args.inputs as { x: Info };
      const a = args.attrs as unknown as {
        filterSize: number | [number, number];
        strides: number | [number, number];
        pad: "valid" | "same" | number | tf.backend_util.ExplicitPadding;
        dimRoundingMode?: "floor" | "round" | "ceil";
      };
      const memory = backendMemory(args.backend);
      if (!memory || x.shape.length !== 4) return stock.kernelFunc(args);
      const info = tf.backend_util.computePool2DInfo(
        x.shape as [number, number, number, number],
        a.filterSize,
        a.strides,
        1,
        a.pad,
        a.dimRoundingMode,
      );
      if (x.dtype !== "float32" || info.inChannels % 4 !== 0 || !isPlain2x2(info)) {
        return stock.kernelFunc(args);
      }
      const heap = args.backend as unknown as HeapBackend;
      const out = heap.makeOutput(info.outShape, "float32");
      const { batchSize, inHeight, inWidth, inChannels: c, outHeight, outWidth } = info;
      const [xp, yp] = [x, out].map((t) => heap.getMemoryOffset(t.dataId));
      const inImage = inHeight * inWidth * c * 4, outImage = outHeight * outWidth * c * 4;
      // One call per image; parts of whole images (they write disjoint outputs).
      const part = (b0: number, b1: number) => ({
        base: [xp + b0 * inImage, yp + b0 * outImage, outHeight, outWidth, c * 4, inWidth * c * 4],
        stepN: [inImage, outImage, 0, 0, 0, 0],
        stepY: [0, 0, 0, 0, 0, 0],
        n: b1 - b0,
        y: 1,
      });
      const parts = batchSize * inHeight * inWidth * c >= SPLIT_MIN ? 8 : 1;
      const ex = instantiate(MAX_POOL_WASM, memory);
      runParts(MAX_POOL_WASM, memory, ex, "image", chunks(batchSize, parts, part));
      return out;
    },
  };
}
