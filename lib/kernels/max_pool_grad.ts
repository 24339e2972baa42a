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
import { type Info, KernelInputError } from "./_kernel_util.ts";

interface HeapBackend {
  makeOutput(shape: number[], dtype: tf.DataType): Info;
  typedArrayFromHeap(info: Info): tf.TypedArray;
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
  if (
    info.filterHeight === 2 && info.filterWidth === 2 && strideHeight === 2 && strideWidth === 2 &&
    dilationHeight === 1 && dilationWidth === 1 && padTop === 0 && padLeft === 0 &&
    2 * outHeight <= inHeight && 2 * outWidth <= inWidth
  ) {
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
