/**
 * A matrix product of our own on the WASM heap: `C = A · B` for float32, on
 * one or two threads, with transposes and convolution patches read in place.
 *
 * The shape is the classic one (GotoBLAS, BLIS), cut down:
 *
 * - `k` is cut into equal blocks no deeper than {@linkcode KC};
 * - `B`'s block is copied ("packed") into panels of {@linkcode NR} columns,
 *   k-major, so that one step of `k` reads eight consecutive floats; a
 *   mid-sized row-major `B` (a dense layer's weights, {@linkcode DIRECT_B_BYTES})
 *   is read in place over all of `k` instead, in one job for both threads;
 * - a micro-kernel keeps an {@linkcode MR}×NR block of `C` in twelve 128-bit
 *   registers and adds one rank-1 product per step of `k`: MR splats of `A`
 *   elements times the two vectors of `B`'s row, 12 multiply-adds for 8 loads
 *   (`f32x4.relaxed_madd`, one fused multiply-add on x86, where the engine has
 *   relaxed SIMD; a multiply and an add otherwise); blocks after the first add
 *   onto `C`.
 *
 * `A` is never copied: its element (i, k) is read at `rowTable[i] + colTable[k]`,
 * two small tables of byte offsets. A plain matrix has `i·rowStride` and
 * `k·colStride` there, a transposed one the strides swapped, and a convolution's
 * patch matrix ("im2col") the offsets of each output pixel and each filter tap
 * in the image (`conv2d_gemm.ts`), so the patches are never built either.
 * tfjs-backend-wasm 4.22.0, by contrast, runs a transposed product through a
 * naive loop, and packs the weights anew at every call of its plain one.
 *
 * With tfjs's threaded build the row panels are split between this thread and
 * lib/kernels' helper thread (`_parallel.ts`); each element of `C` is computed
 * by the same instructions in the same order either way, so the result does
 * not depend on the thread count. A deep product with a small `C` (a filter
 * gradient: taps × channels, summed over every pixel of the batch) is split
 * along `k` instead, each share packing its own blocks of `B` into a `C` of its
 * own, added in a fixed order ({@linkcode SPLIT_K_DEPTH}); and
 * {@linkcode gemmScatter} scatters an input gradient's patch product into the
 * image one image at a time, while it is in cache.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { initBackend } from "../backend.ts"; // routes WASM matMuls through this file
 * await initBackend({ prefer: "wasm" });
 * const x = tf.randomNormal([128, 784]), dy = tf.randomNormal([128, 128]);
 * console.log(tf.matMul(x, dy, true, false).shape); // [784, 128]: xᵀ·dy, packed, no transpose op
 * ```
 *
 * @module
 */
import type { HeapBackend, Info } from "./_kernel_util.ts";
import {
  assemble,
  forLoop,
  I32,
  instantiate,
  op,
  relaxedSimd,
  simd,
  V128,
  type WasmFunction,
} from "./_wasm.ts";
import { chunks, once, type Rows, runParts, SPLIT_MIN } from "./_parallel.ts";

/** Rows of `C` per micro-kernel block. */
export const MR = 6;
/** Columns of `C` per micro-kernel block (two 128-bit vectors). */
export const NR = 8;
/**
 * Most depth of one block of `k` (a `B` panel of KC·NR floats is 12 KiB, in L1);
 * `k` is cut into equal blocks no deeper than this.
 */
export const KC = 384;

const i32Const = op.i32;
const add = (local: number, bytes: number): number[] => [
  ...op.get(local),
  ...i32Const(bytes),
  ...op.i32Add,
  ...op.set(local),
];

/**
 * `tiles(a, rowTab, kTab, bp, c, kc, ldc, mPanels, nPanels, acc)`: for each row panel
 * i < mPanels and column panel j < nPanels, C[i·MR.., j·NR..] (+)= A[i·MR.., k] · Bp[j]
 * over kc steps, where A[q, k] = a[rowTab[q] + kTab[k]] is read in place (two tables
 * of int32 byte offsets: strides, transposes and im2col are all just tables).
 * `ldc` is C's row stride in bytes; `acc` ≠ 0 adds onto C instead of overwriting it.
 * With `direct`, `tilesDirect(..., ldb)` reads B in place instead: row k of panel j at
 * bp + k·ldb + j·NR·4 (a row-major B, ldb its row stride in bytes). Either way each
 * element of C gets the same multiply-adds in the same order.
 */
export function tilesFunction(fused: boolean, unroll = 2, direct = false): WasmFunction {
  const [A, ROWTAB, KTAB, BP, C, KCP, LDC, MP, NP, ACC, LDB] = [...Array(11).keys()];
  const first = direct ? 11 : 10; // the first local
  const [I, J, K, PB, PC, PR, TP, T] = [...Array(8).keys()].map((l) => first + l);
  const rowBase = (r: number) => first + 8 + r; // MR i32 locals
  const acc = (r: number, h: number) => first + 8 + MR + 2 * r + h; // 2·MR v128 accumulators
  const [B0, B1, AV] = [0, 1, 2].map((l) => first + 8 + 3 * MR + l);
  const i32Load = (offset = 0) => [0x28, 2, ...[offset]];
  const madd = (a: number, b: number, c: number): number[] =>
    fused
      ? [...op.get(a), ...op.get(b), ...op.get(c), ...simd.relaxedMadd, ...op.set(c)]
      : [...op.get(a), ...op.get(b), ...simd.mul, ...op.get(c), ...simd.add, ...op.set(c)];
  const rows = [...Array(MR).keys()];
  /** One step of k: t = kTab[k] (at tp + 4u), B row u of the panel, MR splats. */
  const step = (u: number): number[][] => [
    [...op.get(TP), ...i32Load(4 * u), ...op.set(T)],
    // Packed: row u of the panel at pb + u·NR·4. In place: row k at pb, then pb += ldb.
    [...op.get(PB), ...simd.load(direct ? 0 : u * NR * 4), ...op.set(B0)],
    [...op.get(PB), ...simd.load(direct ? 16 : u * NR * 4 + 16), ...op.set(B1)],
    ...(direct ? [[...op.get(PB), ...op.get(LDB), ...op.i32Add, ...op.set(PB)]] : []),
    ...rows.flatMap((r) => [
      [...op.get(rowBase(r)), ...op.get(T), ...op.i32Add, ...simd.load32Splat(0), ...op.set(AV)],
      madd(AV, B0, acc(r, 0)),
      madd(AV, B1, acc(r, 1)),
    ]),
  ];
  const body: number[][] = [
    [...i32Const(0), ...op.set(I)],
    op.block,
    op.loop,
    [...op.get(I), ...op.get(MP), ...op.i32GeU, ...op.brIf(1)],
    // The panel's MR row bases: a + rowTab[i·MR + r].
    ...rows.map((r) => [
      ...op.get(A),
      ...op.get(ROWTAB),
      ...op.get(I),
      ...i32Const(MR * 4),
      ...op.i32Mul,
      ...op.i32Add,
      ...i32Load(4 * r),
      ...op.i32Add,
      ...op.set(rowBase(r)),
    ]),
    [...i32Const(0), ...op.set(J)],
    op.block,
    op.loop,
    [...op.get(J), ...op.get(NP), ...op.i32GeU, ...op.brIf(1)],
    // pb = bp + j·kc·NR·4 (in place: bp + j·NR·4), pc = c + i·MR·ldc + j·NR·4
    direct
      ? [...op.get(BP), ...op.get(J), ...i32Const(NR * 4), ...op.i32Mul, ...op.i32Add]
      : [...op.get(BP), ...op.get(J), ...op.get(KCP), ...op.i32Mul, ...i32Const(NR * 4)],
    direct ? op.set(PB) : [...op.i32Mul, ...op.i32Add, ...op.set(PB)],
    [...op.get(C), ...op.get(I), ...op.get(LDC), ...op.i32Mul, ...i32Const(MR), ...op.i32Mul],
    [...op.i32Add, ...op.get(J), ...i32Const(NR * 4), ...op.i32Mul, ...op.i32Add, ...op.set(PC)],
    // Accumulators: zero, or C's current values.
    ...rows.flatMap((r) => [
      [...simd.zero, ...op.set(acc(r, 0))],
      [...simd.zero, ...op.set(acc(r, 1))],
    ]),
    op.block,
    [...op.get(ACC), ...op.i32Eqz, ...op.brIf(0), ...op.get(PC), ...op.set(PR)],
    ...rows.flatMap((r) => [
      [...op.get(PR), ...simd.load(0), ...op.set(acc(r, 0))],
      [...op.get(PR), ...simd.load(16), ...op.set(acc(r, 1))],
      [...op.get(PR), ...op.get(LDC), ...op.i32Add, ...op.set(PR)],
    ]),
    op.end,
    // The k loop: one rank-1 update of the MR×NR block per step, `unroll` steps per turn.
    [...op.get(KCP), ...op.set(K), ...op.get(KTAB), ...op.set(TP)],
    op.block,
    [...op.get(K), ...i32Const(unroll), ...op.i32LtU, ...op.brIf(0)],
    op.loop,
    ...[...Array(unroll).keys()].flatMap(step),
    add(TP, unroll * 4),
    ...(direct ? [] : [add(PB, unroll * NR * 4)]),
    [...op.get(K), ...i32Const(unroll), ...op.i32Sub, ...op.tee(K)],
    [...i32Const(unroll), ...op.i32GeU, ...op.brIf(0)],
    op.end,
    op.end,
    op.block,
    [...op.get(K), ...op.i32Eqz, ...op.brIf(0)],
    op.loop,
    ...step(0),
    add(TP, 4),
    ...(direct ? [] : [add(PB, NR * 4)]),
    [...op.get(K), ...i32Const(1), ...op.i32Sub, ...op.tee(K), ...op.brIf(0)],
    op.end,
    op.end,
    [...op.get(PC), ...op.set(PR)],
    ...rows.flatMap((r) => [
      [...op.get(PR), ...op.get(acc(r, 0)), ...simd.store(0)],
      [...op.get(PR), ...op.get(acc(r, 1)), ...simd.store(16)],
      [...op.get(PR), ...op.get(LDC), ...op.i32Add, ...op.set(PR)],
    ]),
    [...op.get(J), ...i32Const(1), ...op.i32Add, ...op.set(J), ...op.br(0)],
    op.end,
    op.end,
    [...op.get(I), ...i32Const(1), ...op.i32Add, ...op.set(I), ...op.br(0)],
    op.end,
    op.end,
  ];
  return {
    name: direct ? "tilesDirect" : "tiles",
    params: Array(direct ? 11 : 10).fill(I32),
    locals: [...Array(8 + MR).fill(I32), ...Array(2 * MR + 3).fill(V128)],
    body,
  };
}

/**
 * `pack(src, dst, p, kc, sp, sk)`: the p×kc matrix X[q, k] = src[q·sp + k·sk] (strides in
 * bytes) into panels of NR rows, k-major: dst[(q/NR)·kc·NR + k·NR + q%NR]; the last panel's
 * rows past p are zeros. Whole panels of a matrix whose q run is contiguous (sp = 4: a
 * row-major B) copy two vectors per step of k; the rest goes one float at a time.
 */
const PACK = (() => {
  const [SRC, DST, P, KCP, SP, SK] = [0, 1, 2, 3, 4, 5];
  const [Q, K, S, D, Q0, PP, W] = [6, 7, 8, 9, 10, 11, 12];
  return {
    name: "pack",
    params: [I32, I32, I32, I32, I32, I32],
    locals: [I32, I32, I32, I32, I32, I32, I32],
    body: [
      // PP = ⌈p / NR⌉·NR; W = p / NR whole panels when sp = 4, else none.
      [...op.get(P), ...i32Const(NR - 1), ...op.i32Add, ...i32Const(NR), ...op.i32DivU],
      [...i32Const(NR), ...op.i32Mul, ...op.set(PP), ...i32Const(0), ...op.set(W)],
      op.block,
      [...op.get(SP), ...i32Const(4), ...op.i32Ne, ...op.brIf(0)],
      [...op.get(P), ...i32Const(NR), ...op.i32DivU, ...op.set(W)],
      ...forLoop(Q, op.get(W), [
        // d = dst + q·kc·NR·4, s = src + q·NR·4
        [...op.get(DST), ...op.get(Q), ...op.get(KCP), ...op.i32Mul, ...i32Const(NR * 4)],
        [...op.i32Mul, ...op.i32Add, ...op.set(D)],
        [
          ...op.get(SRC),
          ...op.get(Q),
          ...i32Const(NR * 4),
          ...op.i32Mul,
          ...op.i32Add,
          ...op.set(S),
        ],
        ...forLoop(K, op.get(KCP), [
          [...op.get(D), ...op.get(S), ...simd.load(0), ...simd.store(0)],
          [...op.get(D), ...op.get(S), ...simd.load(16), ...simd.store(16)],
          add(D, NR * 4),
          [...op.get(S), ...op.get(SK), ...op.i32Add, ...op.set(S)],
        ]),
      ]),
      op.end,
      // The other rows one float at a time, then the padding's zeros.
      [...op.get(W), ...i32Const(NR), ...op.i32Mul, ...op.set(Q0)],
      op.block,
      op.loop,
      [...op.get(Q0), ...op.get(PP), ...op.i32GeU, ...op.brIf(1)],
      // d = dst + ((q / NR)·kc·NR + q % NR)·4, s = src + q·sp
      [...op.get(DST), ...op.get(Q0), ...i32Const(NR), ...op.i32DivU, ...op.get(KCP)],
      [...op.i32Mul, ...i32Const(NR), ...op.i32Mul, ...op.get(Q0), ...i32Const(NR), ...op.i32RemU],
      [...op.i32Add, ...i32Const(4), ...op.i32Mul, ...op.i32Add, ...op.set(D)],
      [...op.get(SRC), ...op.get(Q0), ...op.get(SP), ...op.i32Mul, ...op.i32Add, ...op.set(S)],
      op.block,
      op.block,
      [...op.get(Q0), ...op.get(P), ...op.i32GeU, ...op.brIf(0)],
      ...forLoop(K, op.get(KCP), [
        [...op.get(D), ...op.get(S), ...op.f32Load(0), ...op.f32Store(0)],
        add(D, NR * 4),
        [...op.get(S), ...op.get(SK), ...op.i32Add, ...op.set(S)],
      ]),
      op.br(1),
      op.end,
      ...forLoop(K, op.get(KCP), [[...op.get(D), ...op.f32(0), ...op.f32Store(0)], add(D, NR * 4)]),
      op.end,
      add(Q0, 1),
      op.br(0),
      op.end,
      op.end,
    ],
  };
})();

/**
 * `col2im(src, dst, qTab, kTab, p, k, ls)`: dst[qTab[q] + kTab[j]] += src[q·ls/4 + j] for
 * q < p, j < k, four floats at a time (kTab's entries come in runs of four consecutive
 * floats: image channels a multiple of 4; `ls` is src's row stride in bytes). The scatter
 * that turns a patch gradient into an image gradient.
 */
const COL2IM = (() => {
  const [SRC, DST, QTAB, KTAB, P, KP, LS] = [0, 1, 2, 3, 4, 5, 6];
  const [Q, J, ROW, T, ADDR, S] = [7, 8, 9, 10, 11, 12];
  const i32Load = (offset = 0) => [0x28, 2, offset];
  return {
    name: "col2im",
    params: [I32, I32, I32, I32, I32, I32, I32],
    locals: [I32, I32, I32, I32, I32, I32],
    body: forLoop(Q, op.get(P), [
      [...op.get(DST), ...op.get(QTAB), ...op.get(Q), ...i32Const(4), ...op.i32Mul, ...op.i32Add],
      [...i32Load(), ...op.i32Add, ...op.set(ROW), ...op.get(KTAB), ...op.set(T)],
      [...op.get(SRC), ...op.get(Q), ...op.get(LS), ...op.i32Mul, ...op.i32Add, ...op.set(S)],
      [...i32Const(0), ...op.set(J)],
      op.block,
      op.loop,
      [...op.get(J), ...op.get(KP), ...op.i32GeU, ...op.brIf(1)],
      [...op.get(ROW), ...op.get(T), ...i32Load(), ...op.i32Add, ...op.tee(ADDR)],
      [...op.get(ADDR), ...simd.load(0), ...op.get(S), ...simd.load(0), ...simd.add],
      simd.store(0),
      add(S, 16),
      add(T, 16),
      add(J, 4),
      op.br(0),
      op.end,
      op.end,
    ]),
  };
})();

/** Function numbers in the module (`call` targets): the order of {@linkcode gemmModule}'s list. */
const [TILES, PACK_FN, COL2IM_FN] = [0, 1, 2];

/**
 * `range(a, rowTab, kTab, b, bRow, bCol, n, bp, c, k0, k1, kc, ldc, mPanels, nPanels)`:
 * C (mPanels·MR × nPanels·NR, row stride ldc bytes) = A[:, k0:k1] · B[k0:k1, :] in blocks of
 * kc, B (k×n, strides bRow and bCol in bytes) packed block by block into bp. One call is one
 * thread's share of a product split along k.
 */
const RANGE = (() => {
  const [A, ROWTAB, KTAB, B, BROW, BCOL, N, BP, C, K0, K1, KC, LDC, MP, NP] = [
    ...Array(15).keys(),
  ];
  const [KK, KB] = [15, 16];
  return {
    name: "range",
    params: Array(15).fill(I32),
    locals: [I32, I32],
    body: [
      [...op.get(K0), ...op.set(KK)],
      op.block,
      op.loop,
      [...op.get(KK), ...op.get(K1), ...op.i32GeU, ...op.brIf(1)],
      // kb = min(kc, k1 − kk)
      [...op.get(KC), ...op.get(K1), ...op.get(KK), ...op.i32Sub, ...op.tee(KB)],
      [...op.get(KC), ...op.get(KB), ...op.i32LtU, 0x1b, /* select */ ...op.set(KB)],
      [...op.get(B), ...op.get(KK), ...op.get(BROW), ...op.i32Mul, ...op.i32Add, ...op.get(BP)],
      [...op.get(N), ...op.get(KB), ...op.get(BCOL), ...op.get(BROW), ...op.call(PACK_FN)],
      [...op.get(A), ...op.get(ROWTAB), ...op.get(KTAB), ...op.get(KK), ...i32Const(4)],
      [...op.i32Mul, ...op.i32Add, ...op.get(BP), ...op.get(C), ...op.get(KB), ...op.get(LDC)],
      [...op.get(MP), ...op.get(NP), ...op.get(KK), ...op.get(K0), ...op.i32Ne],
      op.call(TILES),
      [...op.get(KK), ...op.get(KB), ...op.i32Add, ...op.set(KK), ...op.br(0)],
      op.end,
      op.end,
    ],
  };
})();

/**
 * `scatter(a, rowTab, kTab, bp, s, k, ls, mPanels, nPanels, dst, qTab, tapTab, p, taps, z, zb)`:
 * one image's patch gradient S = A · B (B packed in bp, one block of k) into the scratch s
 * (row stride ls bytes), then scattered into dst (`col2im`) while it is still in cache;
 * first the image's zb bytes of dst at z are zeroed.
 */
const SCATTER = (() => {
  const [A, ROWTAB, KTAB, BP, S, K, LS, MP, NP, DST, QTAB, TAPTAB, P, TAPS, Z, ZB] = [
    ...Array(16).keys(),
  ];
  return {
    name: "scatter",
    params: Array(16).fill(I32),
    locals: [],
    body: [
      [...op.get(Z), ...i32Const(0), ...op.get(ZB), ...op.memoryFill],
      [...op.get(A), ...op.get(ROWTAB), ...op.get(KTAB), ...op.get(BP), ...op.get(S)],
      [...op.get(K), ...op.get(LS), ...op.get(MP), ...op.get(NP), ...i32Const(0)],
      op.call(TILES),
      [...op.get(S), ...op.get(DST), ...op.get(QTAB), ...op.get(TAPTAB), ...op.get(P)],
      [...op.get(TAPS), ...op.get(LS), ...op.call(COL2IM_FN)],
    ],
  };
})();

let gemmBytes: Uint8Array | undefined;

/** The assembled module (relaxed multiply-adds where the engine validates them). */
export function gemmModule(): Uint8Array {
  return gemmBytes ??= assemble([
    tilesFunction(relaxedSimd()),
    PACK,
    COL2IM,
    RANGE,
    SCATTER,
    tilesFunction(relaxedSimd(), 2, true),
  ]);
}

/** A matrix at a byte offset, with its row and column strides in bytes. */
export interface Strided {
  offset: number;
  rowStride: number;
  colStride: number;
}

/**
 * A matrix whose element (i, j) is at byte offset `offset + rowTable[i] + colTable[j]`;
 * the tables are int32 arrays on the heap (byte offsets of their first entries).
 */
export interface Tabled {
  offset: number;
  rowTable: number;
  colTable: number;
}

/** The left operand of {@linkcode gemm}: strided, or read through two tables (im2col). */
export type Operand = Strided | Tabled;

let enabled = true;

/**
 * Turn the GEMM paths off (`false`: matMuls and convolutions take the paths they
 * took before this file, XNNPACK and the direct loops) or on again (the default),
 * to measure one against the other in one process. Returns the previous setting.
 */
export function useGemm(on: boolean): boolean {
  const was = enabled;
  enabled = on;
  return was;
}

/** Whether the GEMM paths are on (see {@linkcode useGemm}). */
export function gemmEnabled(): boolean {
  return enabled;
}

/**
 * Bytes of a row-major B (k rows of n floats, n a multiple of {@linkcode NR}) that
 * {@linkcode gemm} reads in place instead of packing: from 64 KiB (a dense layer's
 * weights or output gradient, whose packing on this thread, block by block of k, kept
 * the other thread waiting) to 512 KiB (larger ones are packed, so that a panel stays in
 * L1). A convolution's small filter is packed: read in place, it ran 5–10% slower.
 */
export const DIRECT_B_BYTES = [1 << 16, 1 << 19] as const;

/** Work (multiply-adds) from which the row panels are split between two threads. */
export const GEMM_SPLIT_MIN = 1 << 18;
/**
 * Parts the row panels of one block of k are split into: up to 32 (fine enough that a
 * late thread takes fewer), each at least 2¹⁶ multiply-adds (a few microseconds).
 */
function gemmParts(m: number, n: number, kb: number): number {
  return m * n * kb >= GEMM_SPLIT_MIN ? Math.max(2, Math.min(32, (m * n * kb) >> 16)) : 1;
}

/**
 * Depth from which a product with a small C (at most {@linkcode SPLIT_K_MAX_C} elements)
 * is split along k: a convolution's filter gradient (taps × channels, summed over every
 * pixel of the batch). Split by rows instead, its two threads would meet once per block
 * of k and one would pack each block of B alone.
 */
export const SPLIT_K_DEPTH = 4 * KC;
/** Most elements of C for a split along k (each share sums into a C of its own). */
export const SPLIT_K_MAX_C = 1 << 16;

/** Scratch on the heap for one kernel call, returned to the backend by `free`. */
export function scratchOf(
  heap: HeapBackend,
): { alloc(count: number, dtype: "float32" | "int32"): number; free(): void } {
  const taken: Info[] = [];
  return {
    alloc(count: number, dtype: "float32" | "int32"): number {
      const t = heap.makeOutput([Math.max(1, count)], dtype);
      taken.push(t);
      return heap.getMemoryOffset(t.dataId);
    },
    free(): void {
      for (const t of taken) heap.disposeData(t.dataId);
    },
  };
}

/**
 * A's row table padded to `rows` entries with row 0 (so that whole panels read valid
 * memory; their extra rows are never used), and its k table.
 */
export function operandTables(
  memory: WebAssembly.Memory,
  a: Operand,
  m: number,
  k: number,
  rows: number,
  alloc: (count: number, dtype: "int32") => number,
): { rowTab: number; kTab: number } {
  const rowTab = alloc(rows, "int32");
  const kTab = "colTable" in a ? a.colTable : alloc(k, "int32");
  const rt = new Int32Array(memory.buffer, rowTab, rows).fill(0);
  if ("rowTable" in a) rt.set(new Int32Array(memory.buffer, a.rowTable, m));
  else for (let i = 0; i < m; i++) rt[i] = i * a.rowStride;
  if (!("colTable" in a)) {
    const kt = new Int32Array(memory.buffer, kTab, k);
    for (let j = 0; j < k; j++) kt[j] = j * a.colStride;
  }
  return { rowTab, kTab };
}

/**
 * C = A·B split along k into 2 to 8 shares that the threads take: each packs its own
 * blocks of B and sums into a C of its own (`range`), and the shares are added here in a
 * fixed order, so the result does not depend on the thread count.
 */
function gemmSplitK(
  heap: HeapBackend,
  memory: WebAssembly.Memory,
  a: Operand,
  b: Strided,
  c: number,
  m: number,
  n: number,
  k: number,
): void {
  const bytes = gemmModule();
  const ex = instantiate(bytes, memory);
  const mPanels = Math.ceil(m / MR), nPanels = Math.ceil(n / NR);
  const [mPad, nPad] = [mPanels * MR, nPanels * NR];
  const kc = Math.ceil(k / Math.ceil(k / KC));
  // At least two blocks of k a share, at most 8 shares: fine enough that this thread takes
  // more of them when the helper starts late (with 2 it waited for the helper's share).
  const shares = Math.max(2, Math.min(8, Math.floor(k / (2 * KC))));
  const s = scratchOf(heap);
  try {
    const { rowTab, kTab } = operandTables(memory, a, m, k, mPad, s.alloc);
    const outs = Array.from({ length: shares }, () => s.alloc(mPad * nPad, "float32"));
    const bps = Array.from({ length: shares }, () => s.alloc(nPad * kc, "float32"));
    const share = (i: number): Rows =>
      once([a.offset, rowTab, kTab, b.offset, b.rowStride, b.colStride, n, bps[i], outs[i]].concat([
        Math.floor(k * i / shares),
        Math.floor(k * (i + 1) / shares),
        kc,
        nPad * 4,
        mPanels,
        nPanels,
      ]));
    runParts(bytes, memory, ex, "range", Array.from({ length: shares }, (_, i) => share(i)));
    const f = new Float32Array(memory.buffer);
    const parts = outs.map((o) => o / 4);
    const dst = c / 4;
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < n; j++) {
        const at = i * nPad + j;
        let sum = f[parts[0] + at];
        for (let p = 1; p < shares; p++) sum = Math.fround(sum + f[parts[p] + at]);
        f[dst + i * n + j] = sum;
      }
    }
  } finally {
    s.free();
  }
}

/**
 * C (m×n, row-major at byte offset `c`) = A (m×k) · B (k×n). A is read in place
 * (a transpose is a swap of strides; a patch matrix is two tables); B is packed
 * into panels block by block of k. Scratch (B's panels, A's tables when A is
 * strided, and C's edge rows) is taken from and returned to the backend. A deep
 * product with a small C is split along k (see {@linkcode SPLIT_K_DEPTH}).
 */
export function gemm(
  heap: HeapBackend,
  memory: WebAssembly.Memory,
  a: Operand,
  b: Strided,
  c: number,
  m: number,
  n: number,
  k: number,
): void {
  if (k >= SPLIT_K_DEPTH && m * n <= SPLIT_K_MAX_C) {
    return gemmSplitK(heap, memory, a, b, c, m, n, k);
  }
  const bytes = gemmModule();
  const ex = instantiate(bytes, memory);
  const pack = ex.pack as (...args: number[]) => void;
  const tiles = ex.tiles as (...args: number[]) => void;
  const nPanels = Math.ceil(n / NR), nPad = nPanels * NR;
  const straight = nPad === n; // whole row panels go straight into C
  const mFull = straight ? Math.floor(m / MR) : 0;
  const tailRows = m - mFull * MR, tailPanels = Math.ceil(tailRows / MR);
  const kc = Math.ceil(k / Math.ceil(k / KC));
  const { alloc, free } = scratchOf(heap);
  const ints = (at: number, count: number) => new Int32Array(memory.buffer, at, count);
  try {
    const { rowTab, kTab } = "rowTable" in a
      ? { rowTab: a.rowTable, kTab: a.colTable }
      : operandTables(memory, a, m, k, m, alloc);
    // The rows after the whole panels: their own table, padded with row 0, and their
    // own C (tailPanels·MR × nPad), copied out at the end.
    const tailTab = tailPanels ? alloc(tailPanels * MR, "int32") : 0;
    const tailC = tailPanels ? alloc(tailPanels * MR * nPad, "float32") : 0;
    if (tailPanels) {
      const from = ints(rowTab, m), tt = ints(tailTab, tailPanels * MR);
      for (let r = 0; r < tailPanels * MR; r++) tt[r] = r < tailRows ? from[mFull * MR + r] : 0;
    }
    const ldc = n * 4, tailLdc = nPad * 4;
    if (
      straight && b.colStride === 4 && k * b.rowStride >= DIRECT_B_BYTES[0] &&
      k * b.rowStride <= DIRECT_B_BYTES[1]
    ) {
      // B read in place, all of k in one pass: no packing, one job for both threads, the
      // rows after the whole panels one part of it.
      const part = (i0: number, i1: number): Rows =>
        once(
          [a.offset, rowTab + i0 * MR * 4, kTab, b.offset, c + i0 * MR * ldc, k, ldc, i1 - i0]
            .concat([nPanels, 0, b.rowStride]),
          i1 > i0,
        );
      const parts = chunks(mFull, gemmParts(m, n, k), part);
      if (tailPanels) {
        parts.push(once([a.offset, tailTab, kTab, b.offset, tailC, k, tailLdc, tailPanels, nPanels]
          .concat([0, b.rowStride])));
      }
      runParts(bytes, memory, ex, "tilesDirect", parts);
    } else {
      const bp = alloc(nPad * kc, "float32");
      for (let k0 = 0; k0 < k; k0 += kc) {
        const kb = Math.min(kc, k - k0);
        pack(b.offset + k0 * b.rowStride, bp, n, kb, b.colStride, b.rowStride);
        const acc = k0 > 0 ? 1 : 0, kt = kTab + k0 * 4;
        const part = (i0: number, i1: number): Rows =>
          once(
            [a.offset, rowTab + i0 * MR * 4, kt, bp, c + i0 * MR * ldc, kb, ldc, i1 - i0]
              .concat([nPanels, acc]),
            i1 > i0,
          );
        // Row panels in parts two threads share (each part writes its own rows of C).
        runParts(bytes, memory, ex, "tiles", chunks(mFull, gemmParts(m, n, kb), part));
        if (tailPanels) {
          tiles(a.offset, tailTab, kt, bp, tailC, kb, tailLdc, tailPanels, nPanels, acc);
        }
      }
    }
    if (tailRows) {
      const u8 = new Uint8Array(memory.buffer);
      for (let r = 0; r < tailRows; r++) {
        const from = tailC + r * tailLdc;
        u8.copyWithin(c + (mFull * MR + r) * ldc, from, from + n * 4);
      }
    }
  } finally {
    free();
  }
}

/**
 * dst[qTab[q] + kTab[j]] += src[q·k + j] (src p×k row-major; k and each run of
 * kTab a multiple of 4 floats), in parts of whole groups of `group` rows that two
 * threads share when there is a helper: the caller picks `group` (an image's
 * patches) so that different groups write disjoint parts of dst.
 */
export function col2im(
  memory: WebAssembly.Memory,
  src: number,
  dst: number,
  qTab: number,
  kTab: number,
  p: number,
  k: number,
  group = p,
): void {
  const bytes = gemmModule();
  const part = (g0: number, g1: number): Rows => {
    const [q0, q1] = [g0 * group, Math.min(p, g1 * group)];
    return once([src + q0 * k * 4, dst, qTab + q0 * 4, kTab, q1 - q0, k, k * 4], q1 > q0);
  };
  const groups = Math.ceil(p / group);
  const parts = p * k >= SPLIT_MIN ? Math.min(16, groups) : 1;
  runParts(bytes, memory, instantiate(bytes, memory), "col2im", chunks(groups, parts, part));
}

/**
 * The input gradient's patch product scattered image by image: for each of `images`
 * equal groups of A's rows (one image's dy pixels), P = A·B (that image's patch gradient,
 * taps wide) goes into a scratch that stays in cache and is added straight into the
 * image's part of `dst` (`col2im`: dst[qTab[q] + tapTab[j]] += P[q, j]), which is zeroed
 * first (`imageBytes` per image). The patch gradient of the whole batch is never written
 * out. Images go in parts the threads share, each part with a scratch of its own; each
 * element gets the same sums in the same order as {@linkcode gemm} then
 * {@linkcode col2im}, which run instead when k is deeper than one block.
 */
export function gemmScatter(
  heap: HeapBackend,
  memory: WebAssembly.Memory,
  a: Strided,
  b: Strided,
  m: number,
  n: number,
  k: number,
  images: number,
  dst: number,
  imageBytes: number,
  qTab: number,
  tapTab: number,
): void {
  const s = scratchOf(heap);
  try {
    const perImage = m / images;
    if (k > KC || !Number.isInteger(perImage)) {
      const dp = s.alloc(m * n, "float32");
      new Uint8Array(memory.buffer, dst, images * imageBytes).fill(0);
      gemm(heap, memory, a, b, dp, m, n, k);
      col2im(memory, dp, dst, qTab, tapTab, m, n, perImage);
      return;
    }
    const bytes = gemmModule();
    const ex = instantiate(bytes, memory);
    const mPanels = Math.ceil(perImage / MR), nPanels = Math.ceil(n / NR), nPad = nPanels * NR;
    const count = Math.min(16, images);
    const bp = s.alloc(nPad * k, "float32");
    const { rowTab, kTab } = operandTables(memory, a, perImage, k, mPanels * MR, s.alloc);
    const scratch = Array.from({ length: count }, () => s.alloc(mPanels * MR * nPad, "float32"));
    (ex.pack as (...args: number[]) => void)(b.offset, bp, n, k, b.colStride, b.rowStride);
    let index = 0;
    const part = (i0: number, i1: number): Rows => ({
      base: [a.offset + i0 * perImage * a.rowStride, rowTab, kTab, bp, scratch[index++], k]
        .concat([nPad * 4, mPanels, nPanels, dst, qTab + i0 * perImage * 4, tapTab, perImage, n])
        .concat([dst + i0 * imageBytes, imageBytes]),
      stepN: [perImage * a.rowStride, 0, 0, 0, 0, 0, 0, 0, 0, 0, perImage * 4, 0, 0, 0]
        .concat([imageBytes, 0]),
      stepY: Array(16).fill(0),
      n: i1 - i0,
      y: 1,
    });
    runParts(bytes, memory, ex, "scatter", chunks(images, count, part));
  } finally {
    s.free();
  }
}
