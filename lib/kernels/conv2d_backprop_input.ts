/**
 * `Conv2DBackpropInput` on WASM as an ordinary (XNNPACK) convolution.
 *
 * tfjs-backend-wasm 4.22.0 computes the input gradient with a naive loop
 * (about 250 ms for the second conv layer of the Keras MNIST CNN at batch 128).
 * The same result is a plain convolution, stride 1, of the output gradient
 * dilated by the stride (s − 1 zeros between its rows and columns) and padded
 * by `filter − 1 − pad`, with the filter flipped in both spatial axes and its
 * in/out channels swapped:
 *
 *     dX[b, r, c, i] = Σ_{u, v, o} dY'[b, r + u, c + v, o] · W[fh − 1 − u, fw − 1 − v, i, o]
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { initBackend } from "../backend.ts"; // installs this kernel on WASM
 * await initBackend({ prefer: "wasm" });
 * const w = tf.randomNormal([3, 3, 2, 4]) as tf.Tensor4D;
 * const dx = tf.grad((x: tf.Tensor) => tf.conv2d(x as tf.Tensor4D, w, 1, "same").sum())(tf.ones([1, 5, 5, 2]));
 * console.log(dx.shape); // [1, 5, 5, 2]
 * ```
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { callKernel, type Info, release } from "./_kernel_util.ts";
import { assertDyShape } from "./conv2d_backprop_filter.ts";
import { directInputGrad } from "./conv2d_direct.ts";
import { gemmInputGrad } from "./conv2d_gemm.ts";
import { winogradInputGrad } from "./conv2d_winograd.ts";

interface Attrs {
  strides: number | [number, number];
  pad: "valid" | "same" | number | tf.backend_util.ExplicitPadding;
  dataFormat: "NHWC" | "NCHW";
  dimRoundingMode?: "floor" | "round" | "ceil";
  inputShape: [number, number, number, number];
}

/** Compute the input gradient on `backendName` with its `Conv2D`. */
export function conv2dBackpropInputVia(
  backendName: string,
  backend: tf.KernelBackend,
  dyIn: Info,
  filter: Info,
  attrs: Attrs,
): Info {
  const nhwc = (attrs.dataFormat ?? "NHWC") === "NHWC";
  const info = tf.backend_util.computeConv2DInfo(
    attrs.inputShape,
    filter.shape as [number, number, number, number],
    attrs.strides,
    1,
    attrs.pad,
    attrs.dimRoundingMode,
    false,
    nhwc ? "channelsLast" : "channelsFirst",
  );
  assertDyShape("Conv2DBackpropInput", dyIn.shape, info.outShape);
  if (backendName === "wasm") {
    const fast = winogradInputGrad(backend, dyIn, filter, attrs) ??
      gemmInputGrad(backend, dyIn, filter, attrs) ??
      directInputGrad(backend, dyIn, filter, attrs);
    if (fast) return fast;
  }
  const { batchSize, inHeight, inWidth, outHeight, outWidth, outChannels } = info;
  const { filterHeight, filterWidth, strideHeight, strideWidth } = info;
  const temps: Info[] = [];
  const keep = (t: Info): Info => (temps.push(t), t);
  const k = (name: string, inputs: Record<string, Info>, a: Record<string, unknown>): Info =>
    keep(callKernel(name, backendName, backend, inputs, a));

  let dy = nhwc ? dyIn : k("Transpose", { x: dyIn }, { perm: [0, 2, 3, 1] });
  let len = [outHeight, outWidth];
  if (strideHeight > 1 || strideWidth > 1) {
    // Dilate: [b, oh, 1, ow, 1, o] padded to [b, oh, sh, ow, sw, o], viewed as [b, oh·sh, ow·sw, o].
    const r6 = k("Reshape", { x: dy }, {
      shape: [batchSize, outHeight, 1, outWidth, 1, outChannels],
    });
    const padded = k("PadV2", { x: r6 }, {
      paddings: [[0, 0], [0, 0], [0, strideHeight - 1], [0, 0], [0, strideWidth - 1], [0, 0]],
      constantValue: 0,
    });
    len = [outHeight * strideHeight, outWidth * strideWidth];
    dy = k("Reshape", { x: padded }, { shape: [batchSize, len[0], len[1], outChannels] });
  }
  // The convolution needs in + filter − 1 rows: top = fh − 1 − padTop, bottom = the rest.
  const top = filterHeight - 1 - info.padInfo.top;
  const left = filterWidth - 1 - info.padInfo.left;
  const bottom = inHeight + filterHeight - 1 - top - len[0];
  const right = inWidth + filterWidth - 1 - left - len[1];
  if (top < 0 || left < 0 || bottom < 0 || right < 0) {
    const cropTop = Math.max(-top, 0), cropLeft = Math.max(-left, 0);
    dy = k("Slice", { x: dy }, {
      begin: [0, cropTop, cropLeft, 0],
      size: [
        batchSize,
        len[0] - cropTop - Math.max(-bottom, 0),
        len[1] - cropLeft - Math.max(-right, 0),
        outChannels,
      ],
    });
  }
  // Flip the filter spatially and swap its channel axes: [fh, fw, i, o] → [fh, fw, o, i].
  const flipped = k("Reverse", { x: filter }, { dims: [0, 1] });
  const swapped = k("Transpose", { x: flipped }, { perm: [0, 1, 3, 2] });
  let dx = callKernel("Conv2D", backendName, backend, { x: dy, filter: swapped }, {
    strides: [1, 1],
    pad: [
      [0, 0],
      [Math.max(top, 0), Math.max(bottom, 0)],
      [Math.max(left, 0), Math.max(right, 0)],
      [0, 0],
    ],
    dataFormat: "NHWC",
    dilations: [1, 1],
  });
  if (!nhwc) {
    temps.push(dx);
    dx = callKernel("Transpose", backendName, backend, { x: dx }, { perm: [0, 3, 1, 2] });
  }
  release(backend, ...temps);
  return dx;
}

/** The kernel config for `backendName` (default "wasm"). */
export function conv2dBackpropInputConfig(backendName = "wasm"): tf.KernelConfig {
  return {
    kernelName: "Conv2DBackpropInput",
    backendName,
    kernelFunc: ({ inputs, backend, attrs }) =>
      conv2dBackpropInputVia(
        backendName,
        backend as tf.KernelBackend,
        inputs.dy as Info,
        inputs.filter as Info,
        attrs as unknown as Attrs,
      ),
  };
}
