/**
 * Convolutions with few channels on WASM, as direct SIMD loops over the
 * backend's heap: the forward pass of a first layer (one input channel), the
 * filter gradient for up to 16 input channels, and the input gradient of a
 * "valid" convolution as a scatter over `dy`. Since `conv2d_gemm.ts`, only the
 * filter gradient with fewer than 4 input channels runs here by default (a
 * 3x3x1 filter is a 9-deep product, too shallow for a GEMM); the rest is what
 * runs with the GEMM paths off (`useGemm(false)`).
 *
 * A first layer sees one input channel: XNNPACK's convolution then does 9 or 25
 * multiply-adds per output value through machinery built for hundreds, and the
 * filter gradient, as a convolution of the transposed tensors, packs all of
 * `dy` as a filter (about 5 GFLOP/s for one input channel, 17 for eight). Here
 * each output pixel keeps its output channels in SIMD registers (four per
 * register, up to 32 channels) while the loop walks the filter taps; the filter
 * gradient keeps one tap's channels in registers while it walks an output row.
 * A tap row of the input (filter width × channels floats) is contiguous in NHWC,
 * and so is the matching row of the filter, so channels cost no extra loop.
 * The input gradient adds each `dy` pixel's contribution to the input pixels
 * its filter covered, so it does no work for the zero padding that the general
 * path (a convolution of padded `dy`) multiplies through. Stride 1 and no
 * dilation; padding is applied by copying into a zero-padded buffer first.
 * Anything else goes to the stock kernel (`Conv2D`) or to the general paths of
 * `Conv2DBackpropFilter` and `Conv2DBackpropInput`.
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
import {
  callKernel,
  cropNhwc,
  type HeapBackend,
  type Info,
  padNhwc,
  pair,
  release,
} from "./_kernel_util.ts";
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
import { chunks, type Rows, runParts, SPLIT_MIN } from "./_parallel.ts";
import { gemmConv2D } from "./conv2d_gemm.ts";
import { winogradConv2D } from "./conv2d_winograd.ts";

/** Most output channels kept in registers (8 SIMD registers of 4). */
const MAX_GROUPS = 8;
/**
 * Most input channels the direct loops take on; beyond, XNNPACK's paths are faster.
 * Measured at batch 64–128: the direct forward beats XNNPACK for one input channel
 * only (3x3x1→32: 3.8 → 3.4 ms; at 8 channels 2.0 → 2.4 ms, slower); the direct filter
 * gradient wins up to 16 (5x5x8→16: 3.2 → 2.7 ms, 3x3x2→32: 3.2 → 1.1 ms,
 * 3x3x16→32: 3.8 → 3.7 ms).
 */
const FORWARD_MAX_CHANNELS = 1;
const FILTER_GRAD_MAX_CHANNELS = 16;
/**
 * The general input gradient is a convolution of dy padded by the filter size, so it
 * multiplies in · filter taps where the scatter multiplies out · taps; the scatter runs
 * at about 80% of XNNPACK's GFLOP/s, so it pays once in/out exceeds this (measured,
 * batch 128: 5x5x8→16 "valid", in/out 2.25: 4.0 → 3.0 ms; 3x3x32→64 "valid", 1.4:
 * 27 → 22 ms; 3x3x16→32 "same", 1.0: 4.1 → 5.1 ms, so not taken).
 */
const INPUT_GRAD_MIN_WASTE = 1.25;

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
 * Forward, one output row: out[x, o] = Σ_{i, j, c} in[row + i, x + j, c] · W[i, j, c, o].
 * Params: input row, filter, output row (byte offsets), output width, input row
 * bytes, filter height, filter width × channels (a tap row of the input and of W
 * is that many contiguous floats), input pixel bytes (channels × 4).
 */
function forwardRow(groups: number): WasmFunction {
  const [XROW, WP, OUT, OUTW, INWB, FH, FW, PIX] = [0, 1, 2, 3, 4, 5, 6, 7];
  const [X, I, J, RP, TP, S, ACC] = [8, 9, 10, 11, 12, 13, 14];
  const accs = Array.from({ length: groups }, (_, g) => ACC + g);
  return {
    name: `forward${groups}`,
    params: [I32, I32, I32, I32, I32, I32, I32, I32],
    locals: [I32, I32, I32, I32, I32, V128, ...accs.map(() => V128)],
    body: whileBelow(X, OUTW, [
      ...accs.map((a) => [...zero, ...op.set(a)]),
      [...op.i32(0), ...op.set(I), ...op.get(WP), ...op.set(TP)],
      ...whileBelow(I, FH, [
        // RP = XROW + I·INWB + X·PIX
        [...op.get(XROW), ...op.get(I), ...op.get(INWB), ...op.i32Mul, ...op.i32Add],
        [...op.get(X), ...op.get(PIX), ...op.i32Mul, ...op.i32Add, ...op.set(RP)],
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
 * Filter gradient, one output row: dW[i, j, c, o] += Σ_x in[row + i, x + j, c] · dy[x, o].
 * Params as {@linkcode forwardRow}'s, with dy row and dW in place of filter and output.
 */
function filterGradRow(groups: number): WasmFunction {
  const [XROW, DYROW, DW, OUTW, INWB, FH, FW, PIX] = [0, 1, 2, 3, 4, 5, 6, 7];
  const [X, I, J, RP, TP, DP, S, ACC] = [8, 9, 10, 11, 12, 13, 14, 15];
  const accs = Array.from({ length: groups }, (_, g) => ACC + g);
  return {
    name: `filterGrad${groups}`,
    params: [I32, I32, I32, I32, I32, I32, I32, I32],
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
            inc(RP, op.get(PIX)),
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

/**
 * Input gradient, one row of dy, as a scatter: for each dy pixel x and tap (i, j),
 * dx[row + i, x + j, c] += Σ_o dy[x, o] · W[i, j, c, o] (no work on padding zeros).
 * Params: dy row, Wᵀ ([fh, fw, o, c]), dx row (of a buffer padded by fh − 1 rows and
 * fw − 1 columns), dy width, dx row bytes, filter height, filter width, dy channels.
 */
function inputGradRow(groups: number): WasmFunction {
  const [DYROW, WT, DXROW, OUTW, DXWB, FH, FW, O] = [0, 1, 2, 3, 4, 5, 6, 7];
  const [X, I, J, P, TP, DP, K, S, ACC] = [8, 9, 10, 11, 12, 13, 14, 15, 16];
  const accs = Array.from({ length: groups }, (_, g) => ACC + g);
  return {
    name: `inputGrad${groups}`,
    params: [I32, I32, I32, I32, I32, I32, I32, I32],
    locals: [I32, I32, I32, I32, I32, I32, I32, V128, ...accs.map(() => V128)],
    body: whileBelow(X, OUTW, [
      [...op.get(WT), ...op.set(TP), ...op.i32(0), ...op.set(I)],
      ...whileBelow(I, FH, [
        [...op.i32(0), ...op.set(J)],
        ...whileBelow(J, FW, [
          // P = DXROW + I·DXWB + (X + J)·16G
          [...op.get(DXROW), ...op.get(I), ...op.get(DXWB), ...op.i32Mul, ...op.i32Add],
          [...op.get(X), ...op.get(J), ...op.i32Add, ...op.i32(16 * groups), ...op.i32Mul],
          [...op.i32Add, ...op.set(P)],
          ...accs.map((a, g) => [...op.get(P), ...simd.load(16 * g), ...op.set(a)]),
          // DP = DYROW + X·O·4
          [...op.get(DYROW), ...op.get(X), ...op.get(O), ...op.i32Mul, ...op.i32(4), ...op.i32Mul],
          [...op.i32Add, ...op.set(DP), ...op.i32(0), ...op.set(K)],
          ...whileBelow(K, O, [
            [...op.get(DP), ...op.f32Load(), ...simd.splat, ...op.set(S)],
            ...multiplyAdd(groups, S, TP, ACC),
            inc(DP, 4),
            inc(TP, 16 * groups),
            inc(K, 1),
          ]),
          ...accs.map((a, g) => [...op.get(P), ...op.get(a), ...simd.store(16 * g)]),
          inc(J, 1),
        ]),
        inc(I, 1),
      ]),
      inc(X, 1),
    ]),
  };
}

/**
 * Filter gradient, one output row, with every tap of a filter row at once (`taps` = filter
 * width × channels, few: taps × groups ≤ TAP_ROW_ACCUMULATORS): each dy pixel's vectors are
 * loaded once for all the row's taps, where {@linkcode filterGradRow} loads them once per
 * tap. The same sums in the same order. Params as filterGradRow's.
 */
function filterGradTapsRow(groups: number, taps: number): WasmFunction {
  const [XROW, DYROW, DW, OUTW, INWB, FH, , PIX] = [0, 1, 2, 3, 4, 5, 6, 7];
  const [X, I, RP, TP, DP, S] = [8, 9, 10, 11, 12, 13];
  const acc = (t: number, g: number) => 14 + t * groups + g;
  const dyv = (g: number) => 14 + taps * groups + g;
  const each = (f: (t: number, g: number) => number[][]) =>
    Array.from({ length: taps }, (_, t) => Array.from({ length: groups }, (_, g) => f(t, g)))
      .flat(2);
  return {
    name: `filterGradTaps${groups}x${taps}`,
    params: [I32, I32, I32, I32, I32, I32, I32, I32],
    locals: [I32, I32, I32, I32, I32, V128, ...Array((taps + 1) * groups).fill(V128)],
    body: [
      [...op.i32(0), ...op.set(I), ...op.get(DW), ...op.set(TP)],
      ...whileBelow(I, FH, [
        ...each((
          t,
          g,
        ) => [[...op.get(TP), ...simd.load(16 * (t * groups + g)), ...op.set(acc(t, g))]]),
        // RP = XROW + I·INWB
        [...op.get(XROW), ...op.get(I), ...op.get(INWB), ...op.i32Mul, ...op.i32Add, ...op.set(RP)],
        [...op.get(DYROW), ...op.set(DP), ...op.i32(0), ...op.set(X)],
        ...whileBelow(X, OUTW, [
          ...Array.from({ length: groups }, (_, g) => [
            ...op.get(DP),
            ...simd.load(16 * g),
            ...op.set(dyv(g)),
          ]),
          ...Array.from({ length: taps }, (_, t) => [
            [...op.get(RP), ...op.f32Load(4 * t), ...simd.splat, ...op.set(S)],
            ...Array.from({ length: groups }, (_, g) => [
              ...op.get(acc(t, g)),
              ...op.get(S),
              ...op.get(dyv(g)),
              ...simd.mul,
              ...simd.add,
              ...op.set(acc(t, g)),
            ]),
          ]).flat(),
          inc(RP, op.get(PIX)),
          inc(DP, 16 * groups),
          inc(X, 1),
        ]),
        ...each((
          t,
          g,
        ) => [[...op.get(TP), ...op.get(acc(t, g)), ...simd.store(16 * (t * groups + g))]]),
        inc(TP, 16 * groups * taps),
        inc(I, 1),
      ]),
    ],
  };
}

/**
 * Most accumulators filterGradTapsRow keeps (taps × groups; past 16 some live on the stack,
 * still faster). Measured, batch 128, one thread: 5x5x1→8 1.80 → 1.24 ms, 3x3x1→32 (24)
 * 2.60 → 2.34 ms.
 */
const TAP_ROW_ACCUMULATORS = 24;
const tapRowModules = new Map<string, Uint8Array>();

/** The module with filterGradTapsRow(groups, taps), assembled once per pair. */
function tapRowModule(groups: number, taps: number): Uint8Array {
  const key = `${groups}x${taps}`;
  let bytes = tapRowModules.get(key);
  if (!bytes) tapRowModules.set(key, bytes = assemble([filterGradTapsRow(groups, taps)]));
  return bytes;
}

const GROUP_COUNTS = Array.from({ length: MAX_GROUPS }, (_, i) => i + 1);
const CONV_WASM = assemble(
  GROUP_COUNTS.flatMap((g) => [forwardRow(g), filterGradRow(g), inputGradRow(g)]),
);

/** The shape facts both kernels need, or undefined when the fast path does not apply. */
function plan(
  backend: unknown,
  x: Info,
  filterShape: number[],
  attrs: { strides: number | number[]; pad: unknown; dataFormat?: string; dilations?: unknown },
  maxChannels: number,
) {
  const memory = backendMemory(backend);
  const [fh, fw, c, o] = filterShape;
  const [sh, sw] = pair(attrs.strides as number);
  const [dh, dw] = pair((attrs.dilations ?? 1) as number);
  if (
    !memory || x.dtype !== "float32" || x.shape.length !== 4 || c > maxChannels ||
    x.shape[3] !== c || (attrs.dataFormat ?? "NHWC") !== "NHWC" || sh !== 1 || sw !== 1 ||
    dh !== 1 || dw !== 1 || o % 4 !== 0 || o / 4 > MAX_GROUPS
  ) return undefined;
  const info = tf.backend_util.computeConv2DInfo(
    x.shape as [number, number, number, number],
    [fh, fw, c, o],
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
  const height = x.shape[1] + top + bottom, width = x.shape[2] + left + right;
  const input = padNhwc(backend, x, top, left, height, width);
  return { input, height, width, temp: input === x ? undefined : input };
}

/**
 * Parts the batch of a direct loop is cut into: up to {@linkcode BATCH_PARTS} when the
 * output is large enough to share ({@linkcode SPLIT_MIN}), else one. Fine parts let this
 * thread take more of them when the helper starts late; with two halves it waited for the
 * helper's (a profile of the small CNN's step: 0.3 ms a step in the filter gradient).
 */
export function batchParts(batchSize: number, work: number): number {
  return work >= SPLIT_MIN ? Math.min(BATCH_PARTS, batchSize) : 1;
}

/** Most parts {@linkcode batchParts} cuts a batch into. */
export const BATCH_PARTS = 8;

/**
 * Call the row function `name` for every output row: its arguments are the
 * input row (zero-padded first if need be), the two of `mids[i]` (each moving with
 * the output row's byte offset where `moving` says 1), then output width, input
 * row bytes, filter height, filter width × channels and input pixel bytes. The
 * batch goes in `mids.length` nearly equal parts, part i with `mids[i]`, that the
 * two threads share when there is a helper (`_parallel.ts`).
 */
function eachRow(
  heap: HeapBackend,
  p: NonNullable<ReturnType<typeof plan>>,
  x: Info,
  name: string,
  mids: [number, number][],
  moving: [number, number],
  module: Uint8Array = CONV_WASM,
): void {
  const { input, height, width, temp } = padded(heap, x, p.info);
  const exports = instantiate(module, p.memory);
  const xp = heap.getMemoryOffset(input.dataId);
  const { batchSize, outHeight, outWidth, filterHeight, filterWidth } = p.info;
  const c = p.info.inChannels;
  const inRow = width * c * 4, outRow = outWidth * p.info.outChannels * 4;
  let part = 0;
  const rows = (n0: number, n1: number): Rows => {
    const m = mids[part++];
    return {
      base: [xp + n0 * height * inRow, ...m.map((v, k) => v + moving[k] * n0 * outHeight * outRow)]
        .concat([outWidth, inRow, filterHeight, filterWidth * c, c * 4]),
      stepN: [height * inRow, ...moving.map((k) => k * outHeight * outRow), 0, 0, 0, 0, 0],
      stepY: [inRow, ...moving.map((k) => k * outRow), 0, 0, 0, 0, 0],
      n: n1 - n0,
      y: outHeight,
    };
  };
  runParts(module, p.memory, exports, name, chunks(batchSize, mids.length, rows));
  if (temp) heap.disposeData(temp.dataId);
}

/** Forward `Conv2D` for WASM; `stock` runs whatever this kernel does not handle. */
export function directConv2DConfig(stock: tf.KernelConfig): tf.KernelConfig {
  return {
    kernelName: "Conv2D",
    backendName: "wasm",
    setupFunc: stock.setupFunc,
    kernelFunc: (args) => {
      const { x, filter } = args.inputs as { x: Info; filter: Info };
      // Winograd for 3x3 stride-1 filters with channels in fours, then the
      // GEMM: measured faster here for first layers too (5x5x1→8 at batch 128: 1.1 against
      // 3.2 ms; 3x3x1→32: 2.2 against 3.2 ms). These loops run when both are off.
      const viaGemm = winogradConv2D(args.backend, x, filter, args.attrs as never) ??
        gemmConv2D(args.backend, x, filter, args.attrs as never);
      if (viaGemm) return viaGemm;
      const p = filter.dtype === "float32"
        ? plan(args.backend, x, filter.shape, args.attrs as never, FORWARD_MAX_CHANNELS)
        : undefined;
      if (!p) return stock.kernelFunc(args);
      const heap = args.backend as unknown as HeapBackend;
      const out = heap.makeOutput(p.info.outShape, "float32");
      const wp = heap.getMemoryOffset(filter.dataId), op = heap.getMemoryOffset(out.dataId);
      const { batchSize, outHeight, outWidth, outChannels } = p.info;
      const parts = batchParts(batchSize, batchSize * outHeight * outWidth * outChannels);
      eachRow(heap, p, x, `forward${p.groups}`, Array(parts).fill([wp, op]), [0, 1]);
      return out;
    },
  };
}

/**
 * The filter gradient of a stride-1 convolution with at most 16 input channels
 * on WASM, or undefined when this path does not apply (the caller then takes another).
 */
export function directFilterGrad(
  backend: tf.KernelBackend,
  x: Info,
  dy: Info,
  attrs: { strides: number | number[]; pad: unknown; dataFormat?: string; filterShape: number[] },
): Info | undefined {
  const p = dy.dtype === "float32"
    ? plan(backend, x, attrs.filterShape, attrs, FILTER_GRAD_MAX_CHANNELS)
    : undefined;
  if (!p || dy.shape.join() !== p.info.outShape.join()) return undefined;
  const heap = backend as unknown as HeapBackend;
  // Each part of the batch sums into a buffer of its own (whichever thread runs it), added
  // in order at the end: the same numbers on one thread or two.
  const { batchSize, outHeight, outWidth, outChannels } = p.info;
  const parts = batchParts(batchSize, batchSize * outHeight * outWidth * outChannels);
  const outs = Array.from({ length: parts }, () => heap.makeOutput(attrs.filterShape, "float32"));
  for (const t of outs) (heap.typedArrayFromHeap(t) as Float32Array).fill(0);
  const dyp = heap.getMemoryOffset(dy.dataId);
  const mids = outs.map((t): [number, number] => [dyp, heap.getMemoryOffset(t.dataId)]);
  const taps = p.info.filterWidth * p.info.inChannels;
  if (taps * p.groups <= TAP_ROW_ACCUMULATORS) {
    const module = tapRowModule(p.groups, taps);
    eachRow(heap, p, x, `filterGradTaps${p.groups}x${taps}`, mids, [1, 0], module);
  } else {
    eachRow(heap, p, x, `filterGrad${p.groups}`, mids, [1, 0]);
  }
  const dw = heap.typedArrayFromHeap(outs[0]) as Float32Array;
  for (const t of outs.slice(1)) {
    const more = heap.typedArrayFromHeap(t) as Float32Array;
    for (let i = 0; i < dw.length; i++) dw[i] += more[i];
    heap.disposeData(t.dataId);
  }
  return outs[0];
}

/**
 * The input gradient of a stride-1 NHWC convolution on WASM whose input has a
 * multiple of 4 channels, up to 32, and whose output is clearly smaller than its
 * input ("valid" padding), as a scatter over dy; undefined when this path does
 * not apply (the caller then takes the general one).
 */
export function directInputGrad(
  backend: tf.KernelBackend,
  dy: Info,
  filter: Info,
  attrs: {
    strides: number | number[];
    pad: unknown;
    dataFormat?: string;
    inputShape: number[];
  },
): Info | undefined {
  const memory = backendMemory(backend);
  const [fh, fw, c, o] = filter.shape;
  const [sh, sw] = pair(attrs.strides as number);
  if (
    !memory || dy.dtype !== "float32" || filter.dtype !== "float32" ||
    (attrs.dataFormat ?? "NHWC") !== "NHWC" || sh !== 1 || sw !== 1 || c % 4 !== 0 ||
    c / 4 > MAX_GROUPS
  ) return undefined;
  const info = tf.backend_util.computeConv2DInfo(
    attrs.inputShape as [number, number, number, number],
    [fh, fw, c, o],
    1,
    1,
    attrs.pad as "valid",
  );
  if (dy.shape.join() !== info.outShape.join()) return undefined;
  const { batchSize: b, inHeight: h, inWidth: w, outHeight, outWidth } = info;
  if (h * w < INPUT_GRAD_MIN_WASTE * outHeight * outWidth) return undefined;
  const heap = backend as unknown as HeapBackend;
  const { top, left } = info.padInfo;
  const hp = outHeight + fh - 1, wp = outWidth + fw - 1; // dx with its padding
  const unpadded = hp === h && wp === w;
  const out = heap.makeOutput(attrs.inputShape, "float32");
  const target = unpadded ? out : heap.makeOutput([b, hp, wp, c], "float32");
  (heap.typedArrayFromHeap(target) as Float32Array).fill(0);
  // Wᵀ: [fh, fw, c, o] → [fh, fw, o, c], so each dy channel's weights are contiguous.
  const wt = callKernel("Transpose", "wasm", backend, { x: filter }, { perm: [0, 1, 3, 2] });
  const dyp = heap.getMemoryOffset(dy.dataId), wtp = heap.getMemoryOffset(wt.dataId);
  const dxp = heap.getMemoryOffset(target.dataId);
  // One call per dy row; the images in parts the threads share (their dx never overlap).
  const dyRow = outWidth * o * 4, dxRow = wp * c * 4;
  const rows = (n0: number, n1: number): Rows => ({
    base: [dyp + n0 * outHeight * dyRow, wtp, dxp + n0 * hp * dxRow, outWidth, dxRow, fh, fw, o],
    stepN: [outHeight * dyRow, 0, hp * dxRow, 0, 0, 0, 0, 0],
    stepY: [dyRow, 0, dxRow, 0, 0, 0, 0, 0],
    n: n1 - n0,
    y: outHeight,
  });
  const parts = chunks(b, batchParts(b, tf.util.sizeFromShape(dy.shape)), rows);
  runParts(CONV_WASM, memory, instantiate(CONV_WASM, memory), `inputGrad${c / 4}`, parts);
  release(backend, wt);
  if (!unpadded) {
    // Crop the padding away: dx[y, x] = padded[y + top, x + left].
    cropNhwc(heap, target, out, top, left);
    release(backend, target);
  }
  return out;
}
