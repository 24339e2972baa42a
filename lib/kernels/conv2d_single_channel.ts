/**
 * Convolutions of single-channel images (a CNN's first layer) on WASM, as
 * direct SIMD loops over the backend's heap.
 *
 * A first layer sees one input channel: XNNPACK's convolution then does 25
 * multiply-adds per output value through machinery built for hundreds
 * (about 13 GFLOP/s against 30 for the second layer), and the filter gradient,
 * as a convolution of the transposed tensors, packs all of `dy` as a filter
 * (about 5 GFLOP/s). Here each output pixel keeps its output channels in SIMD
 * registers (four per register, up to 32 channels) while the loop walks the
 * filter taps; the filter gradient keeps one tap's channels in registers while
 * it walks an output row. Stride 1 and no dilation; padding is applied by
 * copying the input into a zero-padded buffer first. Anything else goes to the
 * stock kernel (`Conv2D`) or to the general path (`Conv2DBackpropFilter`).
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { initBackend } from "../backend.ts"; // installs these kernels on WASM
 * await initBackend({ prefer: "wasm" });
 * const x = tf.ones([1, 3, 3, 1]) as tf.Tensor4D;
 * tf.conv2d(x, tf.ones([2, 2, 1, 4]) as tf.Tensor4D, 1, "valid").print(); // 4 everywhere
 * ```
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { type HeapBackend, type Info, pair } from "./_kernel_util.ts";
import {
  assemble,
  backendMemory,
  I32,
  instantiate,
  op,
  simd,
  V128,
  type WasmFunction,
} from "./_wasm.ts";

/** Most output channels kept in registers (8 SIMD registers of 4). */
const MAX_GROUPS = 8;

const zero = [...op.f32(0), ...simd.splat];
const inc = (local: number, by: number[] | number) => [
  ...op.get(local),
  ...(typeof by === "number" ? op.i32(by) : by),
  ...op.i32Add,
  ...op.set(local),
];
/** `block loop (exit when a >= b) body (continue) end end`. */
const whileBelow = (a: number, b: number, body: number[][]) => [
  op.block,
  op.loop,
  [...op.get(a), ...op.get(b), ...op.i32GeU, ...op.brIf(1)],
  ...body,
  op.br(0),
  op.end,
  op.end,
];
/** acc_g += splat(x) · load(ptr + 16g), for the G groups. */
const multiplyAdd = (groups: number, s: number, ptr: number, acc: number) =>
  Array.from({ length: groups }, (_, g) => [
    ...op.get(acc + g),
    ...op.get(s),
    ...op.get(ptr),
    ...simd.load(16 * g),
    ...simd.mul,
    ...simd.add,
    ...op.set(acc + g),
  ]);

/**
 * Forward, one output row: out[x, o] = Σ_taps in[row + i, x + j] · W[i, j, o].
 * Params: input row, filter, output row (byte offsets), output width, input row
 * bytes, filter height, filter width.
 */
function forwardRow(groups: number): WasmFunction {
  const [XROW, WP, OUT, OUTW, INWB, FH, FW] = [0, 1, 2, 3, 4, 5, 6];
  const [X, I, J, RP, TP, S, ACC] = [7, 8, 9, 10, 11, 12, 13];
  const accs = Array.from({ length: groups }, (_, g) => ACC + g);
  return {
    name: `forward${groups}`,
    params: [I32, I32, I32, I32, I32, I32, I32],
    locals: [I32, I32, I32, I32, I32, V128, ...accs.map(() => V128)],
    body: whileBelow(X, OUTW, [
      ...accs.map((a) => [...zero, ...op.set(a)]),
      [...op.i32(0), ...op.set(I), ...op.get(WP), ...op.set(TP)],
      ...whileBelow(I, FH, [
        // RP = XROW + I·INWB + X·4
        [...op.get(XROW), ...op.get(I), ...op.get(INWB), ...op.i32Mul, ...op.i32Add],
        [...op.get(X), ...op.i32(4), ...op.i32Mul, ...op.i32Add, ...op.set(RP)],
        [...op.i32(0), ...op.set(J)],
        ...whileBelow(J, FW, [
          [...op.get(RP), ...op.f32Load(), ...simd.splat, ...op.set(S)],
          ...multiplyAdd(groups, S, TP, ACC),
          inc(RP, 4),
          inc(TP, 16 * groups),
          inc(J, 1),
        ]),
        inc(I, 1),
      ]),
      ...accs.map((a, g) => [
        ...op.get(OUT),
        ...op.get(X),
        ...op.i32(16 * groups),
        ...op.i32Mul,
        ...op.i32Add,
        ...op.get(a),
        ...simd.store(16 * g),
      ]),
      inc(X, 1),
    ]),
  };
}

/**
 * Filter gradient, one output row: dW[i, j, o] += Σ_x in[row + i, x + j] · dy[x, o].
 * Params: input row, dy row, dW (byte offsets), output width, input row bytes,
 * filter height, filter width.
 */
function filterGradRow(groups: number): WasmFunction {
  const [XROW, DYROW, DW, OUTW, INWB, FH, FW] = [0, 1, 2, 3, 4, 5, 6];
  const [X, I, J, RP, TP, DP, S, ACC] = [7, 8, 9, 10, 11, 12, 13, 14];
  const accs = Array.from({ length: groups }, (_, g) => ACC + g);
  return {
    name: `filterGrad${groups}`,
    params: [I32, I32, I32, I32, I32, I32, I32],
    locals: [I32, I32, I32, I32, I32, I32, V128, ...accs.map(() => V128)],
    body: [
      [...op.i32(0), ...op.set(I), ...op.get(DW), ...op.set(TP)],
      ...whileBelow(I, FH, [
        [...op.i32(0), ...op.set(J)],
        ...whileBelow(J, FW, [
          ...accs.map((a, g) => [...op.get(TP), ...simd.load(16 * g), ...op.set(a)]),
          // RP = XROW + I·INWB + J·4
          [...op.get(XROW), ...op.get(I), ...op.get(INWB), ...op.i32Mul, ...op.i32Add],
          [...op.get(J), ...op.i32(4), ...op.i32Mul, ...op.i32Add, ...op.set(RP)],
          [...op.get(DYROW), ...op.set(DP), ...op.i32(0), ...op.set(X)],
          ...whileBelow(X, OUTW, [
            [...op.get(RP), ...op.f32Load(), ...simd.splat, ...op.set(S)],
            ...multiplyAdd(groups, S, DP, ACC),
            inc(RP, 4),
            inc(DP, 16 * groups),
            inc(X, 1),
          ]),
          ...accs.map((a, g) => [...op.get(TP), ...op.get(a), ...simd.store(16 * g)]),
          inc(TP, 16 * groups),
          inc(J, 1),
        ]),
        inc(I, 1),
      ]),
    ],
  };
}

const GROUP_COUNTS = Array.from({ length: MAX_GROUPS }, (_, i) => i + 1);
const CONV_WASM = assemble(GROUP_COUNTS.flatMap((g) => [forwardRow(g), filterGradRow(g)]));
type RowFn = (...args: number[]) => void;

/** The shape facts both kernels need, or undefined when the fast path does not apply. */
function plan(
  backend: unknown,
  x: Info,
  filterShape: number[],
  attrs: { strides: number | number[]; pad: unknown; dataFormat?: string; dilations?: unknown },
) {
  const memory = backendMemory(backend);
  const [fh, fw, c, o] = filterShape;
  const [sh, sw] = pair(attrs.strides as number);
  const [dh, dw] = pair((attrs.dilations ?? 1) as number);
  if (
    !memory || x.dtype !== "float32" || x.shape.length !== 4 || c !== 1 || x.shape[3] !== 1 ||
    (attrs.dataFormat ?? "NHWC") !== "NHWC" || sh !== 1 || sw !== 1 || dh !== 1 || dw !== 1 ||
    o % 4 !== 0 || o / 4 > MAX_GROUPS
  ) return undefined;
  const info = tf.backend_util.computeConv2DInfo(
    x.shape as [number, number, number, number],
    [fh, fw, 1, o],
    1,
    1,
    attrs.pad as "valid",
  );
  return { memory, info, groups: o / 4 };
}

/** x, zero-padded as the convolution's `padInfo` says (a new buffer), or x itself. */
function padded(
  backend: HeapBackend,
  x: Info,
  info: tf.backend_util.Conv2DInfo,
): { input: Info; height: number; width: number; temp?: Info } {
  const { top, bottom, left, right } = info.padInfo;
  const [b, h, w] = x.shape;
  if (top === 0 && bottom === 0 && left === 0 && right === 0) {
    return { input: x, height: h, width: w };
  }
  const height = h + top + bottom, width = w + left + right;
  const temp = backend.makeOutput([b, height, width, 1], "float32");
  const dst = backend.typedArrayFromHeap(temp) as Float32Array;
  const src = backend.typedArrayFromHeap(x) as Float32Array;
  dst.fill(0);
  for (let n = 0; n < b; n++) {
    for (let r = 0; r < h; r++) {
      const from = (n * h + r) * w;
      dst.set(src.subarray(from, from + w), (n * height + r + top) * width + left);
    }
  }
  return { input: temp, height, width, temp };
}

/**
 * Call the row function `name` for every output row: its arguments are the
 * input row (zero-padded first if need be), the two that `pointers` gives for
 * the output row's byte offset, then output width, input row bytes, filter
 * height and width.
 */
function eachRow(
  heap: HeapBackend,
  p: NonNullable<ReturnType<typeof plan>>,
  x: Info,
  name: string,
  pointers: (outRowBytes: number) => number[],
): void {
  const { input, height, width, temp } = padded(heap, x, p.info);
  const row = instantiate(CONV_WASM, p.memory)[name] as RowFn;
  const xp = heap.getMemoryOffset(input.dataId);
  const { batchSize, outHeight, outWidth, outChannels, filterHeight, filterWidth } = p.info;
  for (let n = 0; n < batchSize; n++) {
    for (let y = 0; y < outHeight; y++) {
      const outRow = (n * outHeight + y) * outWidth * outChannels * 4;
      row(
        xp + (n * height + y) * width * 4,
        ...pointers(outRow),
        outWidth,
        width * 4,
        filterHeight,
        filterWidth,
      );
    }
  }
  if (temp) heap.disposeData(temp.dataId);
}

/** Forward `Conv2D` for WASM; `stock` runs whatever this kernel does not handle. */
export function singleChannelConv2DConfig(stock: tf.KernelConfig): tf.KernelConfig {
  return {
    kernelName: "Conv2D",
    backendName: "wasm",
    setupFunc: stock.setupFunc,
    kernelFunc: (args) => {
      const { x, filter } = args.inputs as { x: Info; filter: Info };
      const p = filter.dtype === "float32"
        ? plan(args.backend, x, filter.shape, args.attrs as never)
        : undefined;
      if (!p) return stock.kernelFunc(args);
      const heap = args.backend as unknown as HeapBackend;
      const out = heap.makeOutput(p.info.outShape, "float32");
      const wp = heap.getMemoryOffset(filter.dataId), op = heap.getMemoryOffset(out.dataId);
      eachRow(heap, p, x, `forward${p.groups}`, (outRow) => [wp, op + outRow]);
      return out;
    },
  };
}

/**
 * The filter gradient of a single-channel, stride-1 convolution on WASM, or
 * undefined when this path does not apply (the caller then takes another).
 */
export function singleChannelFilterGrad(
  backend: tf.KernelBackend,
  x: Info,
  dy: Info,
  attrs: { strides: number | number[]; pad: unknown; dataFormat?: string; filterShape: number[] },
): Info | undefined {
  const p = dy.dtype === "float32" ? plan(backend, x, attrs.filterShape, attrs) : undefined;
  if (!p || dy.shape.join() !== p.info.outShape.join()) return undefined;
  const heap = backend as unknown as HeapBackend;
  const out = heap.makeOutput(attrs.filterShape, "float32");
  (heap.typedArrayFromHeap(out) as Float32Array).fill(0);
  const dyp = heap.getMemoryOffset(dy.dataId), dwp = heap.getMemoryOffset(out.dataId);
  eachRow(heap, p, x, `filterGrad${p.groups}`, (outRow) => [dyp + outRow, dwp]);
  return out;
}
