/**
 * `Conv2DBackpropFilter` for the WASM backend, which lacks it in
 * tfjs-backend-wasm 4.22.0 (tfjs issue 8474), so that conv layers train there.
 *
 * The filter gradient of a convolution is itself a convolution:
 *
 *     dW[i, j, c, o] = Σ_{b, y, x} X[b, y·s + i − top, x·s + j − left, c] · dY[b, y, x, o]
 *
 * which is `Conv2D` of the input with the batch and channel axes swapped
 * (`[c, H, W, b]`: channels become the batch, the batch becomes the channels)
 * by the output gradient used as a filter (`[oh, ow, b, o]`), with stride 1 and
 * the forward stride as the dilation. The result `[c, fh, fw, o]` is transposed
 * back to `[fh, fw, c, o]`. Everything runs through the backend's own fast
 * (XNNPACK) `Conv2D` and `Transpose` kernels.
 *
 * @example Conv layers now train on WASM
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { initBackend } from "../backend.ts"; // installs this kernel
 * await initBackend({ prefer: "wasm" });
 * const x = tf.randomNormal([2, 8, 8, 3]) as tf.Tensor4D;
 * const w = tf.randomNormal([3, 3, 3, 4]) as tf.Tensor4D;
 * const dw = tf.grad((w: tf.Tensor) => tf.conv2d(x, w as tf.Tensor4D, 1, "same").sum())(w);
 * console.log(dw.shape); // [3, 3, 3, 4]
 * ```
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { callKernel, type HeapBackend, type Info, release } from "./_kernel_util.ts";
import { directFilterGrad } from "./conv2d_direct.ts";
import { GEMM_MIN_CHANNELS, gemmFilterGrad } from "./conv2d_gemm.ts";
import { winogradFilterGrad } from "./conv2d_winograd.ts";

interface Attrs {
  strides: number | [number, number];
  pad: "valid" | "same" | number | tf.backend_util.ExplicitPadding;
  dataFormat: "NHWC" | "NCHW";
  dimRoundingMode?: "floor" | "round" | "ceil";
  filterShape: [number, number, number, number];
}

/** Thrown for an input the conv backprop kernels cannot handle; the message says why. */
export class Conv2DBackpropFilterError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "Conv2DBackpropFilterError";
  }
}

/** A `dy` of the wrong shape would make the convolution read past its buffers: refuse it. */
export function assertDyShape(kernel: string, got: number[], want: number[]): void {
  if (got.length !== want.length || got.some((d, i) => d !== want[i])) {
    throw new Conv2DBackpropFilterError(
      `${kernel}: dy has shape ${JSON.stringify(got)} but the convolution's output is ` +
        `${JSON.stringify(want)}; check strides, pad and dataFormat (explicit pads follow ` +
        `the data format's axis order)`,
    );
  }
}

/** Compute the filter gradient on `backendName` with its `Conv2D` and `Transpose`. */
export function conv2dBackpropFilterVia(
  backendName: string,
  backend: tf.KernelBackend,
  x: Info,
  dy: Info,
  attrs: Attrs,
): Info {
  const { strides, pad, dimRoundingMode, filterShape } = attrs;
  const nhwc = (attrs.dataFormat ?? "NHWC") === "NHWC";
  if (x.shape.length !== 4 || dy.shape.length !== 4) {
    throw new Conv2DBackpropFilterError(
      `Conv2DBackpropFilter: x ${JSON.stringify(x.shape)} and dy ${
        JSON.stringify(dy.shape)
      } must both be rank 4`,
    );
  }
  const info = tf.backend_util.computeConv2DInfo(
    x.shape as [number, number, number, number],
    filterShape,
    strides,
    1,
    pad,
    dimRoundingMode,
    false,
    nhwc ? "channelsLast" : "channelsFirst",
  );
  assertDyShape("Conv2DBackpropFilter", dy.shape, info.outShape);
  const {
    inHeight,
    inWidth,
    inChannels,
    batchSize,
    outHeight,
    outWidth,
    filterHeight,
    filterWidth,
  } = info;
  const { strideHeight, strideWidth } = info;
  const top = info.padInfo.top, left = info.padInfo.left;
  // Rows the filter sweeps (padded input): (fh − 1) + (oh − 1)·s + 1.
  const bottom = filterHeight - 1 + (outHeight - 1) * strideHeight + 1 - top - inHeight;
  const right = filterWidth - 1 + (outWidth - 1) * strideWidth + 1 - left - inWidth;

  if (backendName === "wasm") {
    // Few input channels: the direct loops; more: 3x3 stride-1 filters by Winograd
    // (conv2d_winograd.ts), others Pᵀ·dY through our GEMM (conv2d_gemm.ts).
    const many = inChannels >= GEMM_MIN_CHANNELS;
    const fast = (many ? winogradFilterGrad(backend, x, dy, attrs) : null) ??
      (many ? gemmFilterGrad(backend, x, dy, attrs) : null) ??
      directFilterGrad(backend, x, dy, attrs);
    if (fast) return fast;
  }
  const patchSize = filterHeight * filterWidth * inChannels;
  const positions = batchSize * outHeight * outWidth;
  if (
    nhwc && strideHeight === 1 && "typedArrayFromHeap" in backend && strideWidth === 1 &&
    patchSize * positions < 3 * (sizeOf(x.shape) + sizeOf(dy.shape))
  ) {
    // Unless the patches outgrow x and dY about threefold, im2col by shifted slices and
    // one matMul beats the convolution form (XNNPACK packs the whole of dY as that
    // convolution's filter). Measured at batch 128 (`.. / 3`: patch·positions over
    // x + dY): MNIST 5x5x1→8 (2.7) 4.6 → 4.2 ms, 3x3x32→64 (2.7) 31 → 25 ms,
    // 5x5x8→16 (5.9) 3.0 ms against 4.0 ms the other way.
    return viaIm2col(backendName, backend, x, dy, info, top, left);
  }
  const temps: Info[] = [];
  // x → [c, H, W, b]; dy → [oh, ow, b, o].
  let xT = callKernel("Transpose", backendName, backend, { x }, {
    perm: nhwc ? [3, 1, 2, 0] : [1, 2, 3, 0],
  });
  temps.push(xT);
  const dyT = callKernel("Transpose", backendName, backend, { x: dy }, {
    perm: nhwc ? [1, 2, 0, 3] : [2, 3, 0, 1],
  });
  temps.push(dyT);
  if (bottom < 0 || right < 0) {
    // Trailing rows/columns no output position reaches ("valid" with a stride).
    xT = callKernel("Slice", backendName, backend, { x: xT }, {
      begin: [0, 0, 0, 0],
      size: [
        inChannels,
        inHeight + Math.min(bottom, 0),
        inWidth + Math.min(right, 0),
        batchSize,
      ],
    });
    temps.push(xT);
  }
  const conv = callKernel("Conv2D", backendName, backend, { x: xT, filter: dyT }, {
    strides: [1, 1],
    pad: [[0, 0], [top, Math.max(bottom, 0)], [left, Math.max(right, 0)], [0, 0]],
    dataFormat: "NHWC",
    dilations: [strideHeight, strideWidth],
    dimRoundingMode: undefined,
  });
  temps.push(conv);
  // [c, fh, fw, o] → [fh, fw, c, o]
  const out = callKernel("Transpose", backendName, backend, { x: conv }, { perm: [1, 2, 0, 3] });
  release(backend, ...temps);
  return out;
}

function sizeOf(shape: number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** out[i, j, b, y, x, c] = x[b, y + i − top, x + j − left, c], or 0 outside the input. */
function shiftedWindows(
  x: Float32Array,
  out: Float32Array,
  info: tf.backend_util.Conv2DInfo,
  top: number,
  left: number,
): void {
  const { batchSize, inHeight, inWidth, inChannels: C, outHeight, outWidth } = info;
  const run = outWidth * C, rowIn = inWidth * C;
  let o = 0;
  for (let i = 0; i < info.filterHeight; i++) {
    for (let j = 0; j < info.filterWidth; j++) {
      // Columns x with 0 <= x + j − left < inWidth.
      const c0 = Math.min(Math.max(left - j, 0), outWidth);
      const c1 = Math.max(Math.min(inWidth + left - j, outWidth), c0);
      for (let b = 0; b < batchSize; b++) {
        for (let y = 0; y < outHeight; y++, o += run) {
          const r = y + i - top;
          if (r < 0 || r >= inHeight) {
            out.fill(0, o, o + run);
            continue;
          }
          if (c0 > 0) out.fill(0, o, o + c0 * C);
          const src = (b * inHeight + r) * rowIn + (c0 + j - left) * C;
          out.set(x.subarray(src, src + (c1 - c0) * C), o + c0 * C);
          if (c1 < outWidth) out.fill(0, o + c1 * C, o + run);
        }
      }
    }
  }
}

/** dW = Pᵀ·dY with P the patches ("im2col") built from fh·fw shifted slices; stride 1, NHWC. */
function viaIm2col(
  backendName: string,
  backend: tf.KernelBackend,
  x: Info,
  dy: Info,
  info: tf.backend_util.Conv2DInfo,
  top: number,
  left: number,
): Info {
  const { batchSize, inChannels, outHeight, outWidth, outChannels, filterHeight, filterWidth } =
    info;
  const temps: Info[] = [];
  const k = (name: string, inputs: Record<string, Info> | Info[], a: Record<string, unknown>) => {
    const out = callKernel(name, backendName, backend, inputs as Record<string, Info>, a);
    temps.push(out);
    return out;
  };
  // [fh·fw, b, oh, ow, c]: the input window shifted by each filter tap, zero outside.
  const heap = backend as unknown as HeapBackend;
  let patches = heap.makeOutput(
    [filterHeight * filterWidth, batchSize, outHeight, outWidth, inChannels],
    "float32",
  );
  temps.push(patches);
  shiftedWindows(
    heap.typedArrayFromHeap(x) as Float32Array,
    heap.typedArrayFromHeap(patches) as Float32Array,
    info,
    top,
    left,
  );
  const positions = batchSize * outHeight * outWidth;
  const taps = filterHeight * filterWidth, patch = taps * inChannels;
  patches = k("Reshape", { x: patches }, { shape: [taps, positions, inChannels] });
  const dy2 = k("Reshape", { x: dy }, { shape: [positions, outChannels] });
  let dw: Info;
  // XNNPACK packs (copies, reorders) the right-hand operand of every product, so
  // the larger of P and dY goes on the left.
  if (positions * outChannels > positions * patch) {
    // dW = (dYᵀ·P)ᵀ with P = [positions, patch]: a first layer's many output channels.
    const p = k("Reshape", { x: k("Transpose", { x: patches }, { perm: [1, 0, 2] }) }, {
      shape: [positions, patch],
    });
    const dyT = k("Transpose", { x: dy2 }, { perm: [1, 0] });
    const prod = k("BatchMatMul", { a: dyT, b: p }, { transposeA: false, transposeB: false });
    dw = k("Transpose", { x: prod }, { perm: [1, 0] });
  } else {
    // dW = Pᵀ·dY with Pᵀ = [patch, positions].
    if (inChannels > 1) patches = k("Transpose", { x: patches }, { perm: [0, 2, 1] });
    patches = k("Reshape", { x: patches }, { shape: [patch, positions] });
    dw = k("BatchMatMul", { a: patches, b: dy2 }, { transposeA: false, transposeB: false });
  }
  const out = callKernel("Reshape", backendName, backend, { x: dw }, {
    shape: [filterHeight, filterWidth, inChannels, outChannels],
  });
  release(backend, ...temps);
  return out;
}

/** The kernel config for `backendName` (default "wasm"). */
export function conv2dBackpropFilterConfig(backendName = "wasm"): tf.KernelConfig {
  return {
    kernelName: "Conv2DBackpropFilter",
    backendName,
    kernelFunc: ({ inputs, backend, attrs }) =>
      conv2dBackpropFilterVia(
        backendName,
        backend as tf.KernelBackend,
        inputs.x as Info,
        inputs.dy as Info,
        attrs as unknown as Attrs,
      ),
  };
}
