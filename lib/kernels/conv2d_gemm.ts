/**
 * Convolutions as matrix products on WASM (`gemm.ts`), without building the
 * patch matrix ("im2col") for the forward pass and the filter gradient.
 *
 * With `x` zero-padded (when the convolution pads) to `xp`, every patch element is
 *
 *     P[(n, y, x), (i, j, c)] = xp[pix(n, y, x) + tap(i, j, c)]
 *
 * with `pix` and `tap` two small tables of byte offsets (strides and dilations
 * are in the tables). The GEMM's packing reads through them, so
 *
 * - forward:          out = P · W          (W as [fh·fw·c, o], NHWC order already)
 * - filter gradient:  dW  = Pᵀ · dY        (dY as [n·oh·ow, o])
 * - input gradient:   dP  = dY · Wᵀ, then each row of dP added back where its
 *                     patch came from (`col2im`), image by image.
 *
 * The input gradient is the one that builds a patch-sized buffer (dP). Each
 * function returns `undefined` where it does not apply (not float32, not NHWC,
 * channels not a multiple of 4 for the scatter), and the caller takes another path.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { initBackend } from "../backend.ts"; // routes these convolutions here on WASM
 * await initBackend({ prefer: "wasm" });
 * const x = tf.randomNormal([8, 13, 13, 32]) as tf.Tensor4D;
 * const w = tf.randomNormal([3, 3, 32, 64]) as tf.Tensor4D;
 * console.log(tf.conv2d(x, w, 1, "valid").shape); // [8, 11, 11, 64]
 * ```
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { cropNhwc, type HeapBackend, type Info, padNhwc } from "./_kernel_util.ts";
import { backendMemory } from "./_wasm.ts";
import { gemm, gemmEnabled, gemmScatter } from "./gemm.ts";

/**
 * Input channels from which the filter gradient goes through the GEMM; below, the
 * direct loops of conv2d_direct.ts are faster (a 3x3x1 filter is a 9-deep product).
 */
export const GEMM_MIN_CHANNELS = 4;

/** A convolution's attributes, as its kernels receive them. */
export interface ConvAttrs {
  strides: number | number[];
  pad: unknown;
  dataFormat?: string;
  dilations?: number | number[];
  dimRoundingMode?: "floor" | "round" | "ceil";
}

/** tfjs's geometry of an NHWC convolution of `xShape` by `filterShape` with `attrs`. */
export function conv2DInfo(
  xShape: number[],
  filterShape: number[],
  attrs: ConvAttrs,
): tf.backend_util.Conv2DInfo {
  return tf.backend_util.computeConv2DInfo(
    xShape as [number, number, number, number],
    filterShape as [number, number, number, number],
    attrs.strides as [number, number],
    (attrs.dilations ?? 1) as [number, number],
    attrs.pad as "valid",
    attrs.dimRoundingMode,
  );
}

/** Where one convolution's patches are: the padded input's size and the two tables. */
interface Layout {
  memory: WebAssembly.Memory;
  info: tf.backend_util.Conv2DInfo;
  /** Padded input height and width. */
  hp: number;
  wp: number;
  pixels: number;
  taps: number;
}

/** The convolution's geometry, or undefined when these paths do not apply. */
function layout(
  backend: unknown,
  xShape: number[],
  filterShape: number[],
  attrs: ConvAttrs,
  dtypes: tf.DataType[],
): Layout | undefined {
  const memory = backendMemory(backend);
  if (
    !memory || !gemmEnabled() || dtypes.some((d) => d !== "float32") || xShape.length !== 4 ||
    (attrs.dataFormat ?? "NHWC") !== "NHWC" || filterShape[2] !== xShape[3]
  ) return undefined;
  const info = conv2DInfo(xShape, filterShape, attrs);
  const { top, bottom, left, right } = info.padInfo;
  // "same" may pad more than the sweep needs at the bottom/right; never less than 0.
  const hp = info.inHeight + top + Math.max(bottom, 0);
  const wp = info.inWidth + left + Math.max(right, 0);
  const pixels = info.batchSize * info.outHeight * info.outWidth;
  const taps = info.filterHeight * info.filterWidth * info.inChannels;
  // Byte offsets must stay in int32 (tables) and patches addressable.
  if (info.batchSize * hp * wp * info.inChannels * 4 >= 2 ** 31 || pixels * taps >= 2 ** 29) {
    return undefined;
  }
  return { memory, info, hp, wp, pixels, taps };
}

/** The pixel and tap tables (int32 byte offsets) on the heap; the caller frees them. */
function tables(heap: HeapBackend, l: Layout): { pix: Info; tap: Info } {
  const { info, hp, wp } = l;
  const c = info.inChannels;
  const [sh, sw] = [info.strideHeight, info.strideWidth];
  const [dh, dw] = [info.dilationHeight, info.dilationWidth];
  const pix = heap.makeOutput([l.pixels], "int32");
  const tap = heap.makeOutput([l.taps], "int32");
  const p = heap.typedArrayFromHeap(pix) as Int32Array;
  let q = 0;
  for (let n = 0; n < info.batchSize; n++) {
    for (let y = 0; y < info.outHeight; y++) {
      const row = (n * hp + y * sh) * wp;
      for (let x = 0; x < info.outWidth; x++) p[q++] = (row + x * sw) * c * 4;
    }
  }
  const t = heap.typedArrayFromHeap(tap) as Int32Array;
  q = 0;
  for (let i = 0; i < info.filterHeight; i++) {
    for (let j = 0; j < info.filterWidth; j++) {
      const at = (i * dh * wp + j * dw) * c * 4;
      for (let k = 0; k < c; k++) t[q++] = at + k * 4;
    }
  }
  return { pix, tap };
}

/** x zero-padded to l.hp × l.wp (a new buffer the caller frees), or x itself. */
function padInput(heap: HeapBackend, x: Info, l: Layout): Info {
  const { top, left } = l.info.padInfo;
  return padNhwc(heap, x, top, left, l.hp, l.wp);
}

function free(heap: HeapBackend, keep: Info, ...infos: Info[]): void {
  for (const t of infos) if (t !== keep) heap.disposeData(t.dataId);
}

/**
 * P·R (`transposed` false: pixels × taps times R = taps × o) or Pᵀ·R (true: taps ×
 * pixels times R = pixels × o), P read from x through the tables; a new tensor of `shape`.
 */
function patchProduct(
  heap: HeapBackend,
  l: Layout,
  x: Info,
  r: Info,
  transposed: boolean,
  shape: number[],
): Info {
  const out = heap.makeOutput(shape, "float32");
  const xp = padInput(heap, x, l);
  const { pix, tap } = tables(heap, l);
  const at = (t: Info) => heap.getMemoryOffset(t.dataId);
  const o = l.info.outChannels;
  const [rows, cols] = transposed ? [tap, pix] : [pix, tap];
  const [m, k] = transposed ? [l.taps, l.pixels] : [l.pixels, l.taps];
  gemm(
    heap,
    l.memory,
    { offset: at(xp), rowTable: at(rows), colTable: at(cols) },
    { offset: at(r), rowStride: o * 4, colStride: 4 },
    at(out),
    m,
    o,
    k,
  );
  free(heap, x, xp, pix, tap);
  return out;
}

/** `Conv2D` (NHWC, float32) as P·W; undefined where it does not apply. */
export function gemmConv2D(
  backend: unknown,
  x: Info,
  filter: Info,
  attrs: ConvAttrs,
): Info | undefined {
  const l = layout(backend, x.shape, filter.shape, attrs, [x.dtype, filter.dtype]);
  return l && patchProduct(backend as HeapBackend, l, x, filter, false, l.info.outShape);
}

/** `Conv2DBackpropFilter` (NHWC, float32) as Pᵀ·dY; undefined where it does not apply. */
export function gemmFilterGrad(
  backend: unknown,
  x: Info,
  dy: Info,
  attrs: ConvAttrs & { filterShape: number[] },
): Info | undefined {
  const l = layout(backend, x.shape, attrs.filterShape, attrs, [x.dtype, dy.dtype]);
  if (!l || dy.shape.join() !== l.info.outShape.join()) return undefined;
  return patchProduct(backend as HeapBackend, l, x, dy, true, attrs.filterShape);
}

/**
 * `Conv2DBackpropInput` (NHWC, float32, input channels a multiple of 4) as
 * dY·Wᵀ scattered back (col2im); undefined where it does not apply.
 */
export function gemmInputGrad(
  backend: unknown,
  dy: Info,
  filter: Info,
  attrs: ConvAttrs & { inputShape: number[] },
): Info | undefined {
  const l = layout(backend, attrs.inputShape, filter.shape, attrs, [dy.dtype, filter.dtype]);
  if (!l || l.info.inChannels % 4 !== 0 || dy.shape.join() !== l.info.outShape.join()) {
    return undefined;
  }
  const heap = backend as HeapBackend;
  const { info, hp, wp } = l;
  const [b, h, w, c] = attrs.inputShape;
  const o = info.outChannels;
  const out = heap.makeOutput(attrs.inputShape, "float32");
  const padded = hp !== h || wp !== w;
  const target = padded ? heap.makeOutput([b, hp, wp, c], "float32") : out;
  const { pix, tap } = tables(heap, l);
  const at = (t: Info) => heap.getMemoryOffset(t.dataId);
  // dY·Wᵀ image by image, each image's patch gradient scattered while in cache (col2im).
  gemmScatter(
    heap,
    l.memory,
    { offset: at(dy), rowStride: o * 4, colStride: 4 },
    { offset: at(filter), rowStride: 4, colStride: o * 4 },
    l.pixels,
    l.taps,
    o,
    b,
    at(target),
    hp * wp * c * 4,
    at(pix),
    at(tap),
  );
  if (padded) cropNhwc(heap, target, out, info.padInfo.top, info.padInfo.left);
  free(heap, out, target, pix, tap);
  return out;
}
