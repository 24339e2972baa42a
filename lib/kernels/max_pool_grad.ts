/**
 * `MaxPoolGrad` on WASM as one tight loop over the backend's heap.
 *
 * After the convolution fixes, tfjs-backend-wasm 4.22.0's `MaxPoolGrad` is the
 * largest single cost of CNN training (about 68 ms of a 196 ms batch for the
 * Keras MNIST CNN at batch 128). The gradient of a max-pool routes each output
 * gradient to the first maximum of its window (the same tie rule as the CPU
 * backend: strict `>` scanning rows then columns, padding never wins). This
 * kernel finds that position for all channels of a window at once, reading
 * NHWC memory contiguously, and scatter-adds `dy` into a zeroed `dx`: it reads
 * the tensors in place in the WASM heap, with no copies.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { initBackend } from "../backend.ts"; // installs this kernel on WASM
 * await initBackend({ prefer: "wasm" });
 * const x = tf.tensor4d([1, 5, 3, 2], [1, 2, 2, 1]);
 * tf.grad((v: tf.Tensor) => tf.maxPool(v as tf.Tensor4D, 2, 2, "valid").sum())(x).print(); // [[0,1],[0,0]]
 * ```
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { type HeapBackend, type Info, KernelInputError } from "./_kernel_util.ts";
import { assemble, backendMemory, forLoop, I32, instantiate, op, simd, V128 } from "./_wasm.ts";
import { chunks, type Rows, runParts, SPLIT_MIN } from "./_parallel.ts";

// One row of 2x2/2 windows, four channels per instruction, in WebAssembly on the
// backend's heap, assembled for the layer's sizes (every offset a constant). The
// same rule as the loop below, without branches: masks of "this cell beats the best
// so far" pick the first maximum, and `dy` ANDed with a mask writes either the
// gradient or +0 to each of the four cells.
// Params: x, dy, dx (byte offsets of the row).
const modules = new Map<string, Uint8Array>();
function poolModule(channelBytes: number, rowBytes: number, windows: number): Uint8Array {
  const key = `${channelBytes}/${rowBytes}/${windows}`;
  const known = modules.get(key);
  if (known) return known;
  const [XP, DYP, DXP, W] = [0, 1, 2, 3];
  const [A, B, C, E, MA, MB, MC, ME, BEST, GV, NINF] = [4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14];
  const [cb, rb] = [channelBytes, rowBytes];
  const group = (k: number): number[][] => [
    ...[[A, 0], [B, cb], [C, rb], [E, rb + cb]].map(([v, at]) => [
      ...op.get(XP),
      ...simd.load(at + 16 * k),
      ...op.set(v),
    ]),
    // a starts the window unless it is NaN or −∞ (then nothing wins it yet); each later
    // cell wins where it is greater than the best so far.
    [...op.get(A), ...op.get(NINF), ...simd.gt, ...op.set(MA)],
    [...op.get(A), ...op.get(NINF), ...op.get(MA), ...simd.bitselect, ...op.set(BEST)],
    ...[[B, MB], [C, MC], [E, ME]].flatMap(([v, m]) => [
      [...op.get(v), ...op.get(BEST), ...simd.gt, ...op.set(m)],
      [...op.get(v), ...op.get(BEST), ...op.get(m), ...simd.bitselect, ...op.set(BEST)],
    ]),
    [...op.get(DYP), ...simd.load(16 * k), ...op.set(GV)],
    // e wins if it beat the rest; c if it won and e did not; and so on.
    [...op.get(DXP), ...op.get(GV), ...op.get(ME), ...simd.and, ...simd.store(rb + cb + 16 * k)],
    [...op.get(DXP), ...op.get(GV), ...op.get(MC), ...simd.and, ...op.get(ME), ...simd.andNot],
    simd.store(rb + 16 * k),
    [...op.get(DXP), ...op.get(GV), ...op.get(MB), ...simd.and, ...op.get(MC), ...simd.andNot],
    [...op.get(ME), ...simd.andNot, ...simd.store(cb + 16 * k)],
    [...op.get(DXP), ...op.get(GV), ...op.get(MA), ...simd.and, ...op.get(MB), ...simd.andNot],
    [...op.get(MC), ...simd.andNot, ...op.get(ME), ...simd.andNot, ...simd.store(16 * k)],
  ];
  const bytes = assemble([{
    name: "row",
    params: [I32, I32, I32],
    locals: [I32, ...Array(11).fill(V128)],
    body: [
      [...op.f32(-Infinity), ...simd.splat, ...op.set(NINF)],
      ...forLoop(W, op.i32(windows), [
        ...Array.from({ length: cb / 16 }, (_, k) => group(k)).flat(),
        // Next window: two input columns, one output column.
        [...op.get(XP), ...op.i32(2 * cb), ...op.i32Add, ...op.set(XP)],
        [...op.get(DXP), ...op.i32(2 * cb), ...op.i32Add, ...op.set(DXP)],
        [...op.get(DYP), ...op.i32(cb), ...op.i32Add, ...op.set(DYP)],
      ]),
    ],
  }]);
  modules.set(key, bytes);
  return bytes;
}

/** The 2x2/2 "valid" case with channels a multiple of 4, by rows of SIMD windows. */
function maxPoolGrad2x2Simd(
  backend: HeapBackend,
  memory: WebAssembly.Memory,
  x: Info,
  dy: Info,
  dx: Info,
  info: tf.backend_util.Conv2DInfo,
): void {
  const { batchSize, inHeight, inWidth, inChannels: C, outHeight, outWidth } = info;
  const xp = backend.getMemoryOffset(x.dataId), dxp = backend.getMemoryOffset(dx.dataId);
  const dyp = backend.getMemoryOffset(dy.dataId);
  const rowBytes = inWidth * C * 4, dyRow = outWidth * C * 4;
  // One call per output row; the images in parts the threads share (disjoint rows).
  const rows = (b0: number, b1: number): Rows => ({
    base: [
      xp + b0 * inHeight * rowBytes,
      dyp + b0 * outHeight * dyRow,
      dxp + b0 * inHeight * rowBytes,
    ],
    stepN: [inHeight * rowBytes, outHeight * dyRow, inHeight * rowBytes],
    stepY: [2 * rowBytes, dyRow, 2 * rowBytes],
    n: b1 - b0,
    y: outHeight,
  });
  const bytes = poolModule(C * 4, rowBytes, outWidth);
  const parts = batchSize * inHeight * inWidth * C >= SPLIT_MIN ? 16 : 1;
  runParts(bytes, memory, instantiate(bytes, memory), "row", chunks(batchSize, parts, rows));
}

/** Zero the cells of `dx` (NHWC) below and right of the 2x2 windows (odd heights and widths). */
function zeroUncovered(dx: Float32Array, info: tf.backend_util.Conv2DInfo): void {
  const { batchSize, inHeight: h, inWidth: w, inChannels: c, outHeight, outWidth } = info;
  for (let b = 0; b < batchSize; b++) {
    const image = b * h * w * c;
    if (2 * outWidth < w) {
      for (let y = 0; y < h; y++) {
        dx.fill(0, image + (y * w + 2 * outWidth) * c, image + (y + 1) * w * c);
      }
    }
    if (2 * outHeight < h) dx.fill(0, image + 2 * outHeight * w * c, image + h * w * c);
  }
}

/** A 2x2 pool with stride 2 whose windows never leave the input (the SIMD loops' case). */
export function isPlain2x2(info: tf.backend_util.Conv2DInfo): boolean {
  return info.filterHeight === 2 && info.filterWidth === 2 && info.strideHeight === 2 &&
    info.strideWidth === 2 && info.dilationHeight === 1 && info.dilationWidth === 1 &&
    info.padInfo.top === 0 && info.padInfo.left === 0 && 2 * info.outHeight <= info.inHeight &&
    2 * info.outWidth <= info.inWidth;
}

interface Attrs {
  filterSize: number | [number, number];
  strides: number | [number, number];
  pad: "valid" | "same" | number | tf.backend_util.ExplicitPadding;
  dimRoundingMode?: "floor" | "round" | "ceil";
}

/** dx for a 2-D max-pool, on flat NHWC float32 arrays. `dx` must be zeroed. */
export function maxPoolGradInto(
  x: Float32Array,
  dy: Float32Array,
  dx: Float32Array,
  info: tf.backend_util.Conv2DInfo,
): void {
  const { batchSize, inHeight, inWidth, inChannels: C, outHeight, outWidth } = info;
  const { strideHeight, strideWidth, effectiveFilterHeight, effectiveFilterWidth } = info;
  const { dilationHeight, dilationWidth } = info;
  const padTop = info.padInfo.top, padLeft = info.padInfo.left;
  const rowStride = inWidth * C;
  if (isPlain2x2(info)) {
    // The usual 2x2/2 "valid" pool, unrolled: windows never leave the input.
    let o2 = 0;
    for (let b = 0; b < batchSize; b++) {
      for (let yR = 0; yR < outHeight; yR++) {
        const row = (b * inHeight + 2 * yR) * rowStride;
        for (let yC = 0; yC < outWidth; yC++, o2 += C) {
          const i00 = row + 2 * yC * C;
          for (let d = 0; d < C; d++) {
            const a = i00 + d, bb = a + C, c = a + rowStride, e = c + C;
            let best = x[a], at = a;
            if (!(best > -Infinity)) at = -1, best = -Infinity;
            if (x[bb] > best) best = x[bb], at = bb;
            if (x[c] > best) best = x[c], at = c;
            if (x[e] > best) at = e;
            // Windows do not overlap: write all four cells (no read-modify-write).
            const g = dy[o2 + d];
            dx[a] = at === a ? g : 0;
            dx[bb] = at === bb ? g : 0;
            dx[c] = at === c ? g : 0;
            dx[e] = at === e ? g : 0;
          }
        }
      }
    }
    return;
  }
  let o = 0;
  for (let b = 0; b < batchSize; b++) {
    const xb = b * inHeight * rowStride;
    for (let yR = 0; yR < outHeight; yR++) {
      const rCorner = yR * strideHeight - padTop;
      let rMin = rCorner;
      while (rMin < 0) rMin += dilationHeight;
      const rMax = Math.min(inHeight, rCorner + effectiveFilterHeight);
      for (let yC = 0; yC < outWidth; yC++, o += C) {
        const cCorner = yC * strideWidth - padLeft;
        let cMin = cCorner;
        while (cMin < 0) cMin += dilationWidth;
        const cMax = Math.min(inWidth, cCorner + effectiveFilterWidth);
        const first = xb + rMin * rowStride + cMin * C;
        const rStep = dilationHeight * rowStride, cStep = dilationWidth * C;
        const rEnd = xb + rMax * rowStride, cSpan = (cMax - cMin) * C;
        // Per channel, scalars only: the window's first maximum, then the scatter-add.
        for (let d = 0; d < C; d++) {
          let best = -Infinity, at = -1;
          for (let row = first + d; row < rEnd; row += rStep) {
            const end = row + cSpan;
            for (let i = row; i < end; i += cStep) {
              const v = x[i];
              if (v > best) {
                best = v;
                at = i;
              }
            }
          }
          if (at >= 0) dx[at] += dy[o + d];
        }
      }
    }
  }
}

/** The kernel config for WASM; falls back to `fallback` for non-float32 input. */
export function maxPoolGradConfig(fallback?: tf.KernelConfig): tf.KernelConfig {
  return {
    kernelName: "MaxPoolGrad",
    backendName: "wasm",
    setupFunc: fallback?.setupFunc,
    kernelFunc: (args) => {
      const { dy, input } = args.inputs as { dy: Info; input: Info };
      if ((input.dtype !== "float32" || dy.dtype !== "float32") && fallback) {
        return fallback.kernelFunc(args);
      }
      const attrs = args.attrs as unknown as Attrs;
      const backend = args.backend as unknown as HeapBackend;
      const info = tf.backend_util.computePool2DInfo(
        input.shape as [number, number, number, number],
        attrs.filterSize,
        attrs.strides,
        1,
        attrs.pad,
        attrs.dimRoundingMode,
      );
      if (dy.shape.join() !== info.outShape.join()) {
        throw new KernelInputError(
          `MaxPoolGrad: dy has shape [${dy.shape}] but the pool's output is [${info.outShape}]; ` +
            `check filterSize, strides and pad`,
        );
      }
      const out = backend.makeOutput(input.shape, "float32");
      // Views after the allocation: growing the heap detaches older views.
      const dx = backend.typedArrayFromHeap(out) as Float32Array;
      const memory = backendMemory(backend);
      if (memory && info.inChannels % 4 === 0 && isPlain2x2(info)) {
        // The windows write every cell they cover; zero only the last row and column
        // that an odd size leaves out.
        zeroUncovered(dx, info);
        maxPoolGrad2x2Simd(backend, memory, input, dy, out, info);
        return out;
      }
      dx.fill(0);
      maxPoolGradInto(
        backend.typedArrayFromHeap(input) as Float32Array,
        backend.typedArrayFromHeap(dy) as Float32Array,
        dx,
        info,
      );
      return out;
    },
  };
}
