/**
 * `Sum` over leading axes on WASM: a SIMD column sum of our own, split between
 * two threads when the threaded build runs.
 *
 * tfjs-backend-wasm 4.22.0 reduces only innermost axes, so it transposes the
 * input first. Summing a layer's output gradient over the batch (and rows and
 * columns: the bias gradient, `[128, 26, 26, 32]` → `[32]`) took a generic
 * 4-D transpose (about 11 ms). Viewed as `[M, C]` (M the leading axes, C the
 * rest), the sum goes down up to 32 columns at a time in SIMD registers (a
 * few rows side by side when C is small), in up to 32 runs of rows that the
 * threads share; each run sums into its own row of partial
 * sums, and the runs are added in a fixed order, so the result does not depend
 * on the thread count. C must be a multiple of 4; otherwise a 4-D bias
 * gradient averages each image with the backend's (XNNPACK) `AvgPool` and
 * scales by `H·W` (within float32 rounding of the sum), and other leading-axes
 * sums are viewed as 2-D for the stock kernel's cheaper transpose. Other
 * reductions go to the stock kernel unchanged.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { initBackend } from "../backend.ts"; // installs this kernel on WASM
 * await initBackend({ prefer: "wasm" });
 * tf.ones([4, 3, 4]).sum([0, 1]).print(); // [12, 12, 12, 12]
 * ```
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { callKernel, type HeapBackend, type Info, release } from "./_kernel_util.ts";
import { assemble, backendMemory, forLoop, I32, instantiate, op, simd, V128 } from "./_wasm.ts";
import { chunks, once, runParts, SPLIT_MIN } from "./_parallel.ts";

/**
 * `columnsN(src, dst, rows, rowBytes)` for N = 1..8: dst[j] = Σ_r src[r·rowBytes/4 + j] for
 * j < 4N, rows in order, the sums in N SIMD registers.
 */
const COLUMNS_WASM = (() => {
  const [SRC, DST, ROWS, RB, R] = [0, 1, 2, 3, 4];
  const acc = (i: number) => 5 + i;
  return assemble([1, 2, 3, 4, 5, 6, 7, 8].map((n) => {
    const vs = [...Array(n).keys()];
    return {
      name: `columns${n}`,
      params: [I32, I32, I32, I32],
      locals: [I32, ...vs.map(() => V128)],
      body: [
        ...vs.map((i) => [...simd.zero, ...op.set(acc(i))]),
        ...forLoop(R, op.get(ROWS), [
          ...vs.map((i) => [...op.get(acc(i)), ...op.get(SRC), ...simd.load(16 * i)]),
          ...vs.map((i) => [...simd.add, ...op.set(acc(n - 1 - i))]),
          [...op.get(SRC), ...op.get(RB), ...op.i32Add, ...op.set(SRC)],
        ]),
        ...vs.map((i) => [...op.get(DST), ...op.get(acc(i)), ...simd.store(16 * i)]),
      ],
    };
  }));
})();

/**
 * Σ over the rows of `x` viewed as [m, c] (c a multiple of 4) into a new tensor of `shape`;
 * undefined without the heap's memory.
 */
function columnSum(
  backend: unknown,
  x: Info,
  m: number,
  c: number,
  shape: number[],
): Info | undefined {
  const memory = backendMemory(backend);
  if (!memory) return undefined;
  const heap = backend as HeapBackend;
  // Few columns make short rows: sum g rows side by side (g·c ≤ 32 columns, g dividing m),
  // then fold the g groups. Wider rows go in blocks of up to 32 columns.
  let g = Math.max(1, Math.floor(32 / c));
  while (m % g) g--;
  const [rows, width] = [m / g, g * c];
  const runs = m * c >= SPLIT_MIN ? Math.min(32, rows) : 1;
  const partials = heap.makeOutput([runs, width], "float32");
  const out = heap.makeOutput(shape, "float32");
  const src = heap.getMemoryOffset(x.dataId), dst = heap.getMemoryOffset(partials.dataId);
  const exports = instantiate(COLUMNS_WASM, memory);
  for (let b = 0; b < width; b += 32) {
    const n = Math.min(32, width - b) / 4;
    let run = 0; // chunks() describes the runs in order: run i sums into row i of partials
    const part = (r0: number, r1: number) =>
      once([src + (r0 * width + b) * 4, dst + (run++ * width + b) * 4, r1 - r0, width * 4]);
    runParts(COLUMNS_WASM, memory, exports, `columns${n}`, chunks(rows, runs, part));
  }
  const p = heap.typedArrayFromHeap(partials) as Float32Array;
  const o = heap.typedArrayFromHeap(out) as Float32Array;
  for (let j = 0; j < c; j++) {
    let sum = p[j];
    for (let k = 1; k < runs * g; k++) sum = Math.fround(sum + p[k * c + j]);
    o[j] = sum;
  }
  heap.disposeData(partials.dataId);
  return out;
}

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
      const leading = axes.length >= 1 && axes.length < rank && axes.every((a, i) => a === i);
      if (!leading || x.shape.includes(0)) return stock.kernelFunc(args);
      const backend = args.backend as tf.KernelBackend;
      const m = x.shape.slice(0, axes.length).reduce((a, b) => a * b, 1);
      const rest = x.shape.slice(axes.length);
      const c = rest.reduce((a, b) => a * b, 1);
      const shape = keepDims ? [...axes.map(() => 1), ...rest] : rest;
      const summed = x.dtype === "float32" && c % 4 === 0
        ? columnSum(backend, x, m, c, shape)
        : undefined;
      if (summed) return summed;
      if (axes.length === 1) return stock.kernelFunc(args);
      if (x.dtype === "float32" && rank === 4 && axes.length === 3) {
        return viaAvgPool(stock, args, x, keepDims);
      }
      const x2 = callKernel("Reshape", "wasm", backend, { x }, { shape: [m, c] });
      const sum2 = sumAxis0(stock, args, x2);
      const out = callKernel("Reshape", "wasm", backend, { x: sum2 }, { shape });
      release(backend, x2, sum2);
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
