/**
 * `Conv2D` with 3x3 filters and stride 1 on WASM, and its input and filter
 * gradients, by Winograd's minimal filtering F(2x2, 3x3) (Lavin and Gray, "Fast
 * Algorithms for Convolutional Neural Networks", 2015): 16 multiplications for
 * each 2x2 block of outputs instead of 36.
 *
 * The output is cut into 2x2 tiles; tile t reads the 4x4 window d of the input
 * that starts at (2·ty, 2·tx). With
 *
 *     Bᵀ = [1 0 −1 0; 0 1 1 0; 0 −1 1 0; 0 1 0 −1]
 *     G  = [1 0 0; ½ ½ ½; ½ −½ ½; 0 0 1]
 *     Aᵀ = [1 1 1 0; 0 1 −1 −1]
 *
 * the filter g of each (input, output) channel pair becomes U = G·g·Gᵀ and each
 * window V = Bᵀ·d·B (4x4 each). For each of the 16 positions ξ of those 4x4
 * matrices, the sum over input channels is one matrix product,
 * M_ξ[tile, o] = Σ_c V_ξ[tile, c] · U_ξ[c, o], run by `gemm.ts`' micro-kernel;
 * the 2x2 outputs of a tile are Aᵀ·M·A. The products do (16/36)·(tiles·4 / outputs)
 * of the direct convolution's multiply-adds: 0.53 for the Keras MNIST CNN's second
 * layer (13x13x32 → 11x11x64; an odd output wastes part of its last tiles).
 *
 * The input gradient is the same kind of convolution, of dy with the filter
 * turned by 180° and its channel axes swapped. The filter gradient is summed in
 * the transformed domain, dU_ξ = Σ_tiles V_ξᵀ · dM_ξ with dM = A·dy·Aᵀ the
 * transform of each tile's output gradient, then dW = Gᵀ·dU·G.
 *
 * Everything for one image stays in cache: its windows' transform (V, 16 matrices
 * of tiles × channels), the 16 products (M) and the output transform happen in one
 * call of an assembled function, specialised to the layer's sizes so that every
 * offset is a constant. Images go in parts that two threads share; a part keeps
 * its own V and M. Each output gets the same operations in the same order on one
 * thread or two. The results differ from the direct convolution's by float32
 * rounding (the transforms add and subtract inputs before multiplying), as
 * cuDNN's and oneDNN's Winograd paths differ from theirs.
 *
 * Where the output has an odd height or width, the last tiles reach one row or
 * column past the input; those reads take the row or column before instead: they
 * only feed the tile's outputs past the edge, which are never written.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { initBackend } from "../backend.ts"; // routes eligible WASM convolutions here
 * await initBackend({ prefer: "wasm" });
 * const y = tf.conv2d(tf.randomNormal([8, 13, 13, 32]), tf.randomNormal([3, 3, 32, 64]), 1, "valid");
 * console.log(y.shape); // [8, 11, 11, 64]
 * ```
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import type { HeapBackend, Info } from "./_kernel_util.ts";
import {
  assemble,
  backendMemory,
  forLoop,
  I32,
  instantiate,
  op,
  relaxedSimd,
  simd,
  V128,
  type WasmFunction,
} from "./_wasm.ts";
import { gemmEnabled, KC, MR, NR, operandTables, scratchOf, tilesFunction } from "./gemm.ts";
import { conv2DInfo, type ConvAttrs } from "./conv2d_gemm.ts";
import { chunks, type Rows, runParts } from "./_parallel.ts";

/** Bᵀ and Aᵀ of F(2x2, 3x3); G's products are written out as sums and halves (packFilter). */
const BT = [[1, 0, -1, 0], [0, 1, 1, 0], [0, -1, 1, 0], [0, 1, 0, -1]];
const AT = [[1, 1, 1, 0], [0, 1, -1, -1]];

/** The sizes one assembled function is specialised to. */
interface Shape {
  /** Tiles down and across one image. */
  th: number;
  tw: number;
  /** Input channels, output channels (multiples of 4). */
  c: number;
  o: number;
  /** The input's height and width, and its zero padding above and to the left. */
  inH: number;
  inW: number;
  top: number;
  left: number;
  /** The output's height and width (the padded input is 2 larger each way). */
  outH: number;
  outW: number;
}

/** Σ coefs[i]·v_i as SIMD code, given code that loads v_i (terms with coefficient 0 skipped). */
function combination(coefs: number[], load: (i: number) => number[]): number[] {
  const terms = coefs.flatMap((k, i) => (k === 0 ? [] : [{ k, i }]));
  const out = terms[0].k > 0 ? load(terms[0].i) : [...simd.zero, ...load(terms[0].i), ...simd.sub];
  for (const { k, i } of terms.slice(1)) out.push(...load(i), ...(k > 0 ? simd.add : simd.sub));
  return out;
}

/** `for (i = 0; i < limit; i++) body` with a constant limit. */
const loop = (i: number, limit: number, body: number[][]): number[][] =>
  forLoop(i, op.i32(limit), body);

/** Most bytes of one image's transforms (V and M, 16 matrices each) where F(2x2, 3x3) applies. */
export const MAX_IMAGE_SCRATCH = 16 << 20;

/** Whether the input must be copied into a zero-padded buffer first. */
const padded = (s: Shape): boolean =>
  s.top !== 0 || s.left !== 0 || s.inH !== s.outH + 2 || s.inW !== s.outW + 2;

/**
 * `image(x, y, v, m, bp, rowTab, kTab, pad)`: one image's convolution (x its input, y its
 * output, v and m scratch for V and M, bp the packed U_ξ, the tables V's rows for `tiles`,
 * pad a scratch for the zero-padded input where it needs one). Function 0 is `tiles`.
 *
 * With `filter` set, `filterImage(x, dy, v, dm, du, rowTab, kTab, pad)` instead adds one
 * image's share of the filter gradient in the transformed domain to du: the 16 products
 * dU_ξ += V_ξᵀ · dM_ξ, where dM = A·dy·Aᵀ of each tile's 2x2 output gradient (packed
 * into dm as `tiles` reads B) and the tables read V_ξ transposed.
 */
function imageFunction(s: Shape, filter = false): WasmFunction {
  const [X, Y, V, M, BP, ROWTAB, KTAB, PAD] = [0, 1, 2, 3, 4, 5, 6, 7];
  const [TY, TX, P, Q, CB, XI] = [8, 9, 10, 11, 12, 13];
  const tiles = s.th * s.tw;
  const mPanels = Math.ceil(tiles / MR), nPanels = Math.ceil(s.o / NR);
  const pix = s.c * 4, xRow = (s.outW + 2) * pix, yPix = s.o * 4, yRow = s.outW * yPix;
  // The image zero-padded into pad (which then stands for x): rows of inW pixels copied.
  const padding: number[][] = padded(s)
    ? [
      [...op.get(PAD), ...op.i32(0), ...op.i32((s.outH + 2) * xRow), ...op.memoryFill],
      ...loop(TY, s.inH, [
        [...op.get(PAD), ...op.get(TY), ...op.i32(xRow), ...op.i32Mul, ...op.i32Add],
        [...op.i32(s.top * xRow + s.left * pix), ...op.i32Add],
        [...op.get(X), ...op.get(TY), ...op.i32(s.inW * pix), ...op.i32Mul, ...op.i32Add],
        [...op.i32(s.inW * pix), ...op.memoryCopy],
      ]),
      [...op.get(PAD), ...op.set(X)],
    ]
    : [];
  const vStride = mPanels * MR * pix, ldm = nPanels * NR * 4, mStride = mPanels * MR * ldm;
  const bStride = nPanels * NR * pix;
  // The filter gradient's dM_ξ (tiles × o, packed in panels of NR) and dU_ξ (c × o).
  const dmStride = nPanels * NR * tiles * 4, cPanels = Math.ceil(s.c / MR);
  const duStride = cPanels * MR * ldm;
  // The window's row k and column l, where the last tile row/column may not reach row or
  // column 3 (an odd output): then row/column 2 stands in (see the module comment).
  const oddH = s.outH % 2 === 1, oddW = s.outW % 2 === 1;
  // V = Bᵀ·d·B in two passes over 4 channels: T = Bᵀ·d column by column (the column's four
  // values loaded once), then each row of T times B, stored to V_ξ (ξ = 4i + j).
  const vec = (k: number) => 14 + k; // v128 locals: D0–D3, then T (16), or MJ and S
  const T = (k: number, l: number) => vec(4 + 4 * k + l);
  const inputTransform = (lastRow: boolean, lastCol: boolean): number[][] => [
    ...[0, 1, 2, 3].flatMap((l) => [
      ...[0, 1, 2, 3].map((k) => {
        const [kk, ll] = [lastRow && k === 3 ? 2 : k, lastCol && l === 3 ? 2 : l];
        return [...op.get(P), ...simd.load(kk * xRow + ll * pix), ...op.set(vec(k))];
      }),
      ...[0, 1, 2, 3].map((
        k,
      ) => [...combination(BT[k], (i) => op.get(vec(i))), ...op.set(T(k, l))]),
    ]),
    ...[0, 1, 2, 3].flatMap((i) =>
      [0, 1, 2, 3].map((j) => [
        ...op.get(Q),
        ...combination(BT[j], (l) => op.get(T(i, l))),
        ...simd.store((i * 4 + j) * vStride),
      ])
    ),
  ];
  // One tile's input transform for every group of 4 channels: p = x + (2ty·xRow + 2tx·pix) + cb,
  // q = v + t·pix + cb.
  const windows = (lastRow: boolean, lastCol: boolean): number[][] => [
    [...op.i32(0), ...op.set(CB)],
    op.block,
    op.loop,
    [...op.get(CB), ...op.i32(pix), ...op.i32GeU, ...op.brIf(1)],
    [...op.get(X), ...op.get(TY), ...op.i32(2 * xRow), ...op.i32Mul, ...op.i32Add],
    [...op.get(TX), ...op.i32(2 * pix), ...op.i32Mul, ...op.i32Add, ...op.get(CB), ...op.i32Add],
    op.set(P),
    [...op.get(V), ...op.get(TY), ...op.i32(s.tw), ...op.i32Mul, ...op.get(TX), ...op.i32Add],
    [...op.i32(pix), ...op.i32Mul, ...op.i32Add, ...op.get(CB), ...op.i32Add, ...op.set(Q)],
    ...inputTransform(lastRow, lastCol),
    [...op.get(CB), ...op.i32(16), ...op.i32Add, ...op.set(CB), ...op.br(0)],
    op.end,
    op.end,
  ];
  const isLast = (t: number, n: number) => [...op.get(t), ...op.i32(n - 1), ...op.i32Eq];
  // The body for a tile, in the variant for whether it is in the last row (of an odd height)
  // and the last column (of an odd width); the checks pick one per tile.
  const byEdge = (body: (lastRow: boolean, lastCol: boolean) => number[][]): number[][] =>
    (oddH ? [false, true] : [false]).flatMap((r) =>
      (oddW ? [false, true] : [false]).flatMap((c) => [
        op.block,
        ...(oddH ? [[...isLast(TY, s.th), ...(r ? op.i32Eqz : []), ...op.brIf(0)]] : []),
        ...(oddW ? [[...isLast(TX, s.tw), ...(c ? op.i32Eqz : []), ...op.brIf(0)]] : []),
        ...body(r, c),
        op.end,
      ])
    );
  const inputPass = byEdge(windows);
  // Aᵀ·M·A in two passes: S = Aᵀ·M column by column (each M_ξ loaded once), then S·A.
  const S = (a: number, j: number) => vec(4 + 4 * a + j);
  const columnsOfS: number[][] = [0, 1, 2, 3].flatMap((j) => [
    ...[0, 1, 2, 3].map((
      i,
    ) => [...op.get(P), ...simd.load((4 * i + j) * mStride), ...op.set(vec(i))]),
    ...[0, 1].map((a) => [...combination(AT[a], (i) => op.get(vec(i))), ...op.set(S(a, j))]),
  ]);
  const outputTransform = (a: number, b: number) => combination(AT[b], (j) => op.get(S(a, j)));
  // One tile's outputs: p = m + t·ldm + ob, q = y + 2ty·yRow + 2tx·yPix + ob; the second
  // row/column only where it is inside the output.
  const outputs: number[][] = [
    [...op.i32(0), ...op.set(CB)],
    op.block,
    op.loop,
    [...op.get(CB), ...op.i32(yPix), ...op.i32GeU, ...op.brIf(1)],
    [...op.get(M), ...op.get(TY), ...op.i32(s.tw), ...op.i32Mul, ...op.get(TX), ...op.i32Add],
    [...op.i32(ldm), ...op.i32Mul, ...op.i32Add, ...op.get(CB), ...op.i32Add, ...op.set(P)],
    [...op.get(Y), ...op.get(TY), ...op.i32(2 * yRow), ...op.i32Mul, ...op.i32Add],
    [...op.get(TX), ...op.i32(2 * yPix), ...op.i32Mul, ...op.i32Add, ...op.get(CB), ...op.i32Add],
    op.set(Q),
    ...columnsOfS,
    ...[0, 1].flatMap((a) =>
      [0, 1].map((b) => {
        const store = [...op.get(Q), ...outputTransform(a, b), ...simd.store(a * yRow + b * yPix)];
        const edge = [
          ...(a === 1 && oddH ? [[...isLast(TY, s.th), ...op.brIf(0)]] : []),
          ...(b === 1 && oddW ? [[...isLast(TX, s.tw), ...op.brIf(0)]] : []),
        ];
        return edge.length ? [op.block, ...edge, store, op.end].flat() : store;
      })
    ),
    [...op.get(CB), ...op.i32(16), ...op.i32Add, ...op.set(CB), ...op.br(0)],
    op.end,
    op.end,
  ];
  // dM = A·dy·Aᵀ of one tile, four channels at a time: p = dm + (ob / 32)·tiles·32 + t·32 +
  // ob % 32 (panels of NR = 8 channels), q = dy + 2ty·yRow + 2tx·yPix + ob. Outputs past an
  // odd edge have no gradient: zeros.
  const gradients = (lastRow: boolean, lastCol: boolean): number[][] => [
    [...op.i32(0), ...op.set(CB)],
    op.block,
    op.loop,
    [...op.get(CB), ...op.i32(yPix), ...op.i32GeU, ...op.brIf(1)],
    [...op.get(TY), ...op.i32(s.tw), ...op.i32Mul, ...op.get(TX), ...op.i32Add, ...op.i32(32)],
    [...op.i32Mul, ...op.get(M), ...op.i32Add, ...op.get(CB), ...op.i32(5), ...op.i32ShrU],
    [...op.i32(tiles * 32), ...op.i32Mul, ...op.i32Add, ...op.get(CB), ...op.i32(31)],
    [...op.i32And, ...op.i32Add, ...op.set(P)],
    [...op.get(Y), ...op.get(TY), ...op.i32(2 * yRow), ...op.i32Mul, ...op.i32Add],
    [...op.get(TX), ...op.i32(2 * yPix), ...op.i32Mul, ...op.i32Add, ...op.get(CB), ...op.i32Add],
    op.set(Q),
    ...[0, 1].flatMap((a) =>
      [0, 1].map((b) =>
        (a === 1 && lastRow) || (b === 1 && lastCol)
          ? [...simd.zero, ...op.set(vec(2 * a + b))]
          : [...op.get(Q), ...simd.load(a * yRow + b * yPix), ...op.set(vec(2 * a + b))]
      )
    ),
    ...[0, 1, 2, 3].flatMap((i) =>
      [0, 1, 2, 3].map((j) => {
        const coefs = [0, 1].flatMap((a) => [0, 1].map((b) => AT[a][i] * AT[b][j]));
        return coefs.every((k) => k === 0)
          ? [...op.get(P), ...simd.zero, ...simd.store((4 * i + j) * dmStride)]
          : [
            ...op.get(P),
            ...combination(coefs, (ab) => op.get(vec(ab))),
            ...simd.store((4 * i + j) * dmStride),
          ];
      })
    ),
    [...op.get(CB), ...op.i32(16), ...op.i32Add, ...op.set(CB), ...op.br(0)],
    op.end,
    op.end,
  ];
  const gradientPass = byEdge(gradients);
  // The 16 products: tiles(V_ξ, ..., B_ξ, C_ξ, kc, ldm, rowPanels, nPanels, acc) for ξ < 16.
  const products = (
    b: number,
    bStride: number,
    c: number,
    cStride: number,
    kc: number,
    rows: number,
    acc: number,
  ) =>
    loop(XI, 16, [
      [...op.get(V), ...op.get(XI), ...op.i32(vStride), ...op.i32Mul, ...op.i32Add],
      [...op.get(ROWTAB), ...op.get(KTAB)],
      [...op.get(b), ...op.get(XI), ...op.i32(bStride), ...op.i32Mul, ...op.i32Add],
      [...op.get(c), ...op.get(XI), ...op.i32(cStride), ...op.i32Mul, ...op.i32Add],
      [...op.i32(kc), ...op.i32(ldm), ...op.i32(rows), ...op.i32(nPanels), ...op.i32(acc)],
      op.call(0),
    ]);
  const tilesOf = (pass: number[][]) => loop(TY, s.th, loop(TX, s.tw, pass));
  return {
    name: filter ? "filterImage" : "image",
    params: Array(8).fill(I32),
    locals: [...Array(6).fill(I32), ...Array(20).fill(V128)],
    body: filter
      ? [
        ...padding,
        ...tilesOf(inputPass),
        ...tilesOf(gradientPass),
        // dU_ξ += V_ξᵀ · dM_ξ: rows of V_ξᵀ are channels (rowTab c·4), its k the tiles (kTab t·pix).
        ...products(M, dmStride, BP, duStride, tiles, cPanels, 1),
      ]
      : [
        ...padding,
        ...tilesOf(inputPass),
        // The 16 products M_ξ = V_ξ · U_ξ (one block of k: c ≤ KC).
        ...products(BP, bStride, M, mStride, s.c, mPanels, 0),
        ...tilesOf(outputs),
      ],
  };
}

const modules = new Map<string, Uint8Array>();

/** The module for `s` (`tiles`, `image`, `filterImage`), assembled once per shape. */
function moduleFor(s: Shape): Uint8Array {
  const key = JSON.stringify(s);
  let bytes = modules.get(key);
  if (!bytes) {
    const fns = [tilesFunction(relaxedSimd()), imageFunction(s), imageFunction(s, true)];
    modules.set(key, bytes = assemble(fns));
  }
  return bytes;
}

/** Where a filter's tap k from channel ci to channel oi is: base + k·sk + ci·sc + oi·so. */
interface FilterLayout {
  base: number;
  sk: number;
  sc: number;
  so: number;
}

/**
 * U_ξ = (G·g·Gᵀ)_ξ for every (c, o), packed as `tiles` reads B: panels of NR output
 * channels. With G's rows (1 0 0), ½(1 1 1), ½(1 −1 1), (0 0 1), both products are sums
 * and halves: G·g takes g's rows r0, r1, r2 to r0, ½(r0 + r1 + r2), ½(r0 − r1 + r2), r2,
 * and ·Gᵀ does the same to each row's three values.
 */
function packFilter(
  wv: Float32Array,
  at: FilterLayout,
  c: number,
  o: number,
  dst: Float32Array,
): void {
  const nPanels = Math.ceil(o / NR), stride = nPanels * NR * c;
  if (nPanels * NR !== o) dst.fill(0);
  const { sk } = at;
  const row = (q: number, r0: number, r1: number, r2: number) => {
    dst[q] = r0;
    dst[q + stride] = 0.5 * (r0 + r1 + r2);
    dst[q + 2 * stride] = 0.5 * (r0 - r1 + r2);
    dst[q + 3 * stride] = r2;
  };
  for (let ci = 0; ci < c; ci++) {
    for (let oi = 0; oi < o; oi++) {
      const p = at.base + ci * at.sc + oi * at.so;
      const [g00, g01, g02] = [wv[p], wv[p + sk], wv[p + 2 * sk]];
      const [g10, g11, g12] = [wv[p + 3 * sk], wv[p + 4 * sk], wv[p + 5 * sk]];
      const [g20, g21, g22] = [wv[p + 6 * sk], wv[p + 7 * sk], wv[p + 8 * sk]];
      const q = Math.floor(oi / NR) * NR * c + ci * NR + (oi % NR);
      row(q, g00, g01, g02);
      row(
        q + 4 * stride,
        0.5 * (g00 + g10 + g20),
        0.5 * (g01 + g11 + g21),
        0.5 * (g02 + g12 + g22),
      );
      row(
        q + 8 * stride,
        0.5 * (g00 - g10 + g20),
        0.5 * (g01 - g11 + g21),
        0.5 * (g02 - g12 + g22),
      );
      row(q + 12 * stride, g20, g21, g22);
    }
  }
}

/** The Shape of a convolution of `x` (NHWC) padded by `top`, `left` to `outH × outW × o`. */
function shapeOf(x: Info, o: number, top: number, left: number, outH: number, outW: number): Shape {
  const [, inH, inW, c] = x.shape;
  return {
    th: Math.ceil(outH / 2),
    tw: Math.ceil(outW / 2),
    c,
    o,
    inH,
    inW,
    top,
    left,
    outH,
    outW,
  };
}

/**
 * The stride-1 3x3 convolution of NHWC `x` (c channels, zero-padded by `top` and `left`,
 * and below and right as far as needed) to `outH × outW × o`, by F(2x2, 3x3), with the
 * filter's taps where `layout` says.
 */
function convolve(
  heap: HeapBackend,
  memory: WebAssembly.Memory,
  x: Info,
  o: number,
  top: number,
  left: number,
  outH: number,
  outW: number,
  filter: Info,
  layout: FilterLayout,
): Info {
  const [batch, inH, inW, c] = x.shape;
  const s = shapeOf(x, o, top, left, outH, outW);
  const bytes = moduleFor(s);
  const ex = instantiate(bytes, memory);
  const tiles = s.th * s.tw;
  const mPanels = Math.ceil(tiles / MR), nPanels = Math.ceil(o / NR);
  const out = heap.makeOutput([batch, outH, outW, o], "float32");
  const parts = Math.min(16, batch);
  const { alloc, free } = scratchOf(heap);
  try {
    const bp = alloc(16 * nPanels * NR * c, "float32");
    // V_ξ's rows: tile t at t·c·4 (padded to whole panels), channel j at j·4.
    const v = { offset: 0, rowStride: c * 4, colStride: 4 };
    const { rowTab, kTab } = operandTables(memory, v, tiles, c, mPanels * MR, alloc);
    const padBytes = padded(s) ? (outH + 2) * (outW + 2) * c : 0;
    const scratch = Array.from({ length: parts }, () => ({
      v: alloc(16 * mPanels * MR * c, "float32"),
      m: alloc(16 * mPanels * MR * nPanels * NR, "float32"),
      pad: alloc(padBytes, "float32"),
    }));
    // Views after the allocations: growing a heap that is not shared detaches older views.
    const wv = heap.typedArrayFromHeap(filter) as Float32Array;
    packFilter(wv, layout, c, o, new Float32Array(memory.buffer, bp, 16 * nPanels * NR * c));
    const [xAt, yAt] = [heap.getMemoryOffset(x.dataId), heap.getMemoryOffset(out.dataId)];
    const [xImage, yImage] = [inH * inW * c * 4, outH * outW * o * 4];
    let index = 0; // chunks() describes the parts in order: part i uses scratch i
    const part = (n0: number, n1: number): Rows => {
      const { v, m, pad } = scratch[index++];
      return {
        base: [xAt + n0 * xImage, yAt + n0 * yImage, v, m, bp, rowTab, kTab, pad],
        stepN: [xImage, yImage, 0, 0, 0, 0, 0, 0],
        stepY: [0, 0, 0, 0, 0, 0, 0, 0],
        n: n1 - n0,
        y: 1,
      };
    };
    runParts(bytes, memory, ex, "image", chunks(batch, parts, part));
  } finally {
    free();
  }
  return out;
}

/**
 * The convolution's geometry where F(2x2, 3x3) applies: WASM heap, the GEMM paths on,
 * float32 NHWC, a 3x3 filter, stride and dilation 1, channels multiples of 4 (`k`, the
 * depth of the products, at most KC). Undefined elsewhere.
 */
function eligible(
  backend: unknown,
  xShape: number[],
  filterShape: number[],
  dtypes: tf.DataType[],
  attrs: ConvAttrs,
  k: number,
): { memory: WebAssembly.Memory; info: tf.backend_util.Conv2DInfo } | undefined {
  const memory = backendMemory(backend);
  const [fh, fw, c, o] = filterShape;
  if (
    !memory || !gemmEnabled() || dtypes.some((d) => d !== "float32") || xShape.length !== 4 ||
    (attrs.dataFormat ?? "NHWC") !== "NHWC" || fh !== 3 || fw !== 3 || xShape[3] !== c ||
    c % 4 !== 0 || o % 4 !== 0 || k > KC
  ) return undefined;
  const info = conv2DInfo(xShape, filterShape, attrs);
  const { strideHeight, strideWidth, dilationHeight, dilationWidth, padInfo } = info;
  if (strideHeight !== 1 || strideWidth !== 1 || dilationHeight !== 1 || dilationWidth !== 1) {
    return undefined;
  }
  const { batchSize, inHeight, inWidth, outHeight, outWidth } = info;
  // Pads of 0–2 (any "same" or "valid"): the input gradient's padding 2 − pad is then ≥ 0.
  const pads = [padInfo.top, padInfo.left, padInfo.bottom, padInfo.right];
  if (batchSize * outHeight * outWidth === 0 || pads.some((p) => p < 0 || p > 2)) {
    return undefined;
  }
  const big = Math.max(inHeight + 4, outHeight + 2) * Math.max(inWidth + 4, outWidth + 2);
  if (batchSize * big * Math.max(c, o) * 4 >= 2 ** 31) return undefined;
  // One image's transforms stay in cache: beyond MAX_IMAGE_SCRATCH (large images) the GEMM.
  const tiles = Math.ceil(Math.max(inHeight, outHeight) / 2) *
    Math.ceil(Math.max(inWidth, outWidth) / 2);
  if (16 * (tiles + MR) * 2 * (Math.max(c, o) + NR) * 4 > MAX_IMAGE_SCRATCH) return undefined;
  return { memory, info };
}

/** `Conv2D` by F(2x2, 3x3) where it applies ({@linkcode eligible}); undefined elsewhere. */
export function winogradConv2D(
  backend: unknown,
  x: Info,
  filter: Info,
  attrs: ConvAttrs,
): Info | undefined {
  const [, , c, o] = filter.shape;
  const e = eligible(backend, x.shape, filter.shape, [x.dtype, filter.dtype], attrs, c);
  if (!e) return undefined;
  const heap = backend as HeapBackend;
  const { padInfo, outHeight, outWidth } = e.info;
  return convolve(
    heap,
    e.memory,
    x,
    o,
    padInfo.top,
    padInfo.left,
    outHeight,
    outWidth,
    filter,
    { base: 0, sk: c * o, sc: o, so: 1 },
  );
}

/**
 * `Conv2DBackpropInput` by F(2x2, 3x3) where the forward convolution qualifies: the input
 * gradient of a stride-1 convolution is the convolution of dy, padded by 2 − top above and
 * 2 − left to the left, with the filter turned by 180° and its channel axes swapped
 * (dx[y, x, c] = Σ_{i, j, o} dy[y + top − i, x + left − j, o] · W[i, j, c, o]).
 */
export function winogradInputGrad(
  backend: unknown,
  dy: Info,
  filter: Info,
  attrs: ConvAttrs & { inputShape: number[] },
): Info | undefined {
  const [, , c, o] = filter.shape;
  const e = eligible(backend, attrs.inputShape, filter.shape, [dy.dtype, filter.dtype], attrs, o);
  if (!e || dy.shape.join() !== e.info.outShape.join()) return undefined;
  const heap = backend as HeapBackend;
  const { padInfo, inHeight, inWidth } = e.info;
  return convolve(
    heap,
    e.memory,
    dy,
    c,
    2 - padInfo.top,
    2 - padInfo.left,
    inHeight,
    inWidth,
    // Tap k of the turned filter is tap 8 − k; its channels ci, oi are W's o, c.
    filter,
    { base: 8 * c * o, sk: -c * o, sc: 1, so: o },
  );
}

/**
 * `Conv2DBackpropFilter` by F(2x2, 3x3) where the convolution qualifies: in the transformed
 * domain the filter gradient is dU_ξ = Σ_tiles V_ξᵀ · dM_ξ (V the input windows' transform,
 * dM = A·dy·Aᵀ the output gradient's), then dW = Gᵀ·dU·G. Images go in parts that the
 * threads share, each summing into its own dU; the parts are added in a fixed order.
 */
export function winogradFilterGrad(
  backend: unknown,
  x: Info,
  dy: Info,
  attrs: ConvAttrs & { filterShape: number[] },
): Info | undefined {
  const e = eligible(backend, x.shape, attrs.filterShape, [x.dtype, dy.dtype], attrs, 0);
  if (!e || dy.shape.join() !== e.info.outShape.join()) return undefined;
  const heap = backend as HeapBackend, memory = e.memory;
  const [, , c, o] = attrs.filterShape;
  const [batch, inH, inW] = x.shape;
  const { padInfo, outHeight: outH, outWidth: outW } = e.info;
  const s = shapeOf(x, o, padInfo.top, padInfo.left, outH, outW);
  const bytes = moduleFor(s);
  const ex = instantiate(bytes, memory);
  const tiles = s.th * s.tw;
  const mPanels = Math.ceil(tiles / MR), nPanels = Math.ceil(o / NR), cPanels = Math.ceil(c / MR);
  const [nPad, cPad] = [nPanels * NR, cPanels * MR];
  const parts = Math.min(8, batch);
  const out = heap.makeOutput(attrs.filterShape, "float32");
  const { alloc, free } = scratchOf(heap);
  try {
    // V_ξᵀ: channel j (a row, padded to whole panels) at j·4, tile t at t·c·4.
    const vT = { offset: 0, rowStride: 4, colStride: c * 4 };
    const { rowTab, kTab } = operandTables(memory, vT, c, tiles, cPad, alloc);
    const padBytes = padded(s) ? (outH + 2) * (outW + 2) * c : 0;
    const scratch = Array.from({ length: parts }, () => ({
      v: alloc(16 * mPanels * MR * c, "float32"),
      dm: alloc(16 * nPad * tiles, "float32"),
      du: alloc(16 * cPad * nPad, "float32"),
      pad: alloc(padBytes, "float32"),
    }));
    for (const { du } of scratch) new Float32Array(memory.buffer, du, 16 * cPad * nPad).fill(0);
    const [xAt, dyAt] = [heap.getMemoryOffset(x.dataId), heap.getMemoryOffset(dy.dataId)];
    const [xImage, dyImage] = [inH * inW * c * 4, outH * outW * o * 4];
    let index = 0; // chunks() describes the parts in order: part i uses scratch i
    const part = (n0: number, n1: number): Rows => {
      const { v, dm, du, pad } = scratch[index++];
      return {
        base: [xAt + n0 * xImage, dyAt + n0 * dyImage, v, dm, du, rowTab, kTab, pad],
        stepN: [xImage, dyImage, 0, 0, 0, 0, 0, 0],
        stepY: [0, 0, 0, 0, 0, 0, 0, 0],
        n: n1 - n0,
        y: 1,
      };
    };
    runParts(bytes, memory, ex, "filterImage", chunks(batch, parts, part));
    // dU = Σ over the parts, in order (float32 sums); then dW = Gᵀ·dU·G, where Gᵀ takes a
    // column (u0, u1, u2, u3) to (u0 + ½(u1 + u2), ½(u1 − u2), ½(u1 + u2) + u3).
    const size = 16 * cPad * nPad;
    const du = new Float32Array(memory.buffer, scratch[0].du, size);
    for (const p of scratch.slice(1, index)) {
      const other = new Float32Array(memory.buffer, p.du, size);
      for (let i = 0; i < size; i++) du[i] += other[i];
    }
    const dw = heap.typedArrayFromHeap(out) as Float32Array;
    const plane = cPad * nPad, t = new Float64Array(12);
    for (let ci = 0; ci < c; ci++) {
      for (let oi = 0; oi < o; oi++) {
        const q = ci * nPad + oi;
        for (let j = 0; j < 4; j++) { // t = Gᵀ·dU (3x4), column j
          const [u0, u1, u2, u3] = [0, 1, 2, 3].map((i) => du[q + (4 * i + j) * plane]);
          [t[j], t[4 + j], t[8 + j]] = [
            u0 + 0.5 * (u1 + u2),
            0.5 * (u1 - u2),
            0.5 * (u1 + u2) + u3,
          ];
        }
        for (let k = 0; k < 3; k++) { // dW row k = t's row k · G
          const [u0, u1, u2, u3] = [t[4 * k], t[4 * k + 1], t[4 * k + 2], t[4 * k + 3]];
          const at = (3 * k * c + ci) * o + oi;
          dw[at] = u0 + 0.5 * (u1 + u2);
          dw[at + c * o] = 0.5 * (u1 - u2);
          dw[at + 2 * c * o] = 0.5 * (u1 + u2) + u3;
        }
      }
    }
  } finally {
    free();
  }
  return out;
}
