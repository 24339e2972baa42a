/**
 * `Conv2D` with 3x3 filters and stride 1 on WASM, and its input and filter
 * gradients, by Winograd's minimal filtering F(m×m, 3x3) (Lavin and Gray, "Fast
 * Algorithms for Convolutional Neural Networks", 2015): F(2x2, 3x3) takes 16
 * multiplications for each 2x2 block of outputs, F(4x4, 3x3) 36 for each 4x4
 * block, instead of 36 and 144.
 *
 * The output is cut into m×m tiles; tile t reads the α×α window d (α = m + 2) of
 * the input that starts at (m·ty, m·tx). For F(2x2, 3x3)
 *
 *     Bᵀ = [1 0 −1 0; 0 1 1 0; 0 −1 1 0; 0 1 0 −1]
 *     G  = [1 0 0; ½ ½ ½; ½ −½ ½; 0 0 1]
 *     Aᵀ = [1 1 1 0; 0 1 −1 −1]
 *
 * (F(4x4, 3x3)'s 6x6 matrices are below). The filter g of each (input, output)
 * channel pair becomes U = G·g·Gᵀ and each window V = Bᵀ·d·B (α×α each). For each
 * of the α² positions ξ of those matrices, the sum over input channels is one
 * matrix product, M_ξ[tile, o] = Σ_c V_ξ[tile, c] · U_ξ[c, o], run by `gemm.ts`'
 * micro-kernel; the m×m outputs of a tile are Aᵀ·M·A. For the Keras MNIST CNN's
 * second layer (13x13x32 → 11x11x64) the products do 0.53 (F(2x2)) or 0.30
 * (F(4x4)) of the direct convolution's multiply-adds; F(4x4)'s transforms cost
 * more per tile and round a few times more (about 1e-6 relative), so it is chosen
 * only where its products, in whole panels, are at most 0.85 of F(2x2)'s
 * (`useWinogradTile` forces either).
 *
 * Both gradients start from dM = A·dy·Aᵀ, the transform of each tile's output
 * gradient. The input gradient runs the forward's steps backwards (their adjoints):
 * dV_ξ = dM_ξ · U_ξᵀ, and each tile's window gets B·dV·Bᵀ added (windows overlap by
 * two rows and columns), so it takes the forward's tiles (9 of 4x4 for an 11x11
 * output) where convolving dy with the turned filter would tile the 13x13 input
 * (16). The filter gradient is summed in the transformed domain, dU_ξ =
 * Σ_tiles V_ξᵀ · dM_ξ, then dW = Gᵀ·dU·G.
 *
 * A few images at a time stay in cache: their windows' transform (V, α² matrices
 * of tiles × channels), the α² products (M) and the output transform happen in one
 * call of an assembled function, specialised to the layer's sizes so that every
 * offset is a constant. A call takes as many images (a divisor of the batch) as
 * make the products' rows fill the micro-kernel's panels best: four 3x3-tile
 * images are 36 rows, six panels of 6. Calls go in parts that two threads share;
 * a part keeps its own V and M. Each output gets the same operations in the same
 * order on one thread or two. The results differ from the direct convolution's by
 * float32 rounding (the transforms add and subtract inputs before multiplying),
 * as cuDNN's and oneDNN's Winograd paths differ from theirs.
 *
 * Inputs are zero-padded into a scratch buffer where the tiles reach past them
 * (padding, or an output that is not a multiple of m); outputs past the edge are
 * not written, and their gradients are zeros.
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

/**
 * One of Winograd's F(m×m, 3x3): m×m outputs per tile from an α×α window (α = m + 2), with
 * V = Bᵀ·d·B, U = G·g·Gᵀ and the outputs Aᵀ·M·A. F(4x4, 3x3)'s points are 0, ±1, ±2 and ∞
 * (Lavin and Gray's matrices); its transforms multiply by up to 8, so its rounding is a few
 * times F(2x2)'s, still about 1e-6 relative.
 */
interface Transform {
  m: 2 | 4;
  BT: number[][];
  G: number[][];
  AT: number[][];
}

const F2: Transform = {
  m: 2,
  BT: [[1, 0, -1, 0], [0, 1, 1, 0], [0, -1, 1, 0], [0, 1, 0, -1]],
  G: [[1, 0, 0], [0.5, 0.5, 0.5], [0.5, -0.5, 0.5], [0, 0, 1]],
  AT: [[1, 1, 1, 0], [0, 1, -1, -1]],
};

const F4: Transform = {
  m: 4,
  BT: [
    [4, 0, -5, 0, 1, 0],
    [0, -4, -4, 1, 1, 0],
    [0, 4, -4, -1, 1, 0],
    [0, -2, -1, 2, 1, 0],
    [0, 2, -1, -2, 1, 0],
    [0, 4, 0, -5, 0, 1],
  ],
  G: [
    [1 / 4, 0, 0],
    [-1 / 6, -1 / 6, -1 / 6],
    [-1 / 6, 1 / 6, -1 / 6],
    [1 / 24, 1 / 12, 1 / 6],
    [1 / 24, -1 / 12, 1 / 6],
    [0, 0, 1],
  ],
  AT: [[1, 1, 1, 1, 1, 0], [0, 1, -1, 2, -2, 0], [0, 1, 1, 4, 4, 0], [0, 1, -1, 8, -8, 1]],
};

let forcedTile: 2 | 4 | undefined;

/**
 * Force F(2x2, 3x3) or F(4x4, 3x3) for every eligible convolution (tests and the bench
 * compare them), or `undefined` to choose by size (the default): F(4x4) where its
 * products, in whole panels of the micro-kernel's rows, are at most 0.85 of F(2x2)'s.
 * Returns the previous setting.
 */
export function useWinogradTile(m: 2 | 4 | undefined): 2 | 4 | undefined {
  const before = forcedTile;
  forcedTile = m;
  return before;
}

/** The transform for an output of outH × outW (see useWinogradTile). */
function transformFor(outH: number, outW: number): Transform {
  if (forcedTile) return forcedTile === 4 ? F4 : F2;
  const cost = ({ m }: Transform) =>
    Math.ceil(Math.ceil(outH / m) * Math.ceil(outW / m) / MR) * MR * (m + 2) ** 2;
  return cost(F4) <= 0.85 * cost(F2) ? F4 : F2;
}

/** The sizes one assembled function is specialised to. */
interface Shape {
  /** Outputs per tile side (F(m×m, 3x3)). */
  m: 2 | 4;
  /** Images per call: their tiles are the rows of one product. */
  g: number;
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
  /** The output's height and width. */
  outH: number;
  outW: number;
}

/**
 * Σ coefs[i]·v_i as SIMD code, given code that loads v_i: the terms of each magnitude are
 * added or subtracted first and multiplied once (no multiplication for 1); zero where
 * every coefficient is 0.
 */
function combination(coefs: number[], load: (i: number) => number[]): number[] {
  const groups = [...new Set(coefs.filter((k) => k !== 0).map(Math.abs))].map((mag) => {
    const terms = coefs.flatMap((k, i) => (Math.abs(k) === mag ? [{ sign: Math.sign(k), i }] : []));
    terms.sort((p, q) => q.sign - p.sign); // a positive term first where there is one
    const code = load(terms[0].i);
    for (const { sign, i } of terms.slice(1)) {
      code.push(...load(i), ...(sign === terms[0].sign ? simd.add : simd.sub));
    }
    if (mag !== 1) code.push(...simd.f32Splat(mag), ...simd.mul);
    return { sign: terms[0].sign, code }; // the group's value is sign·code
  });
  if (groups.length === 0) return [...simd.zero];
  groups.sort((p, q) => q.sign - p.sign);
  const out = groups[0].sign > 0 ? groups[0].code : [...simd.zero, ...groups[0].code, ...simd.sub];
  for (const { sign, code } of groups.slice(1)) {
    out.push(...code, ...(sign > 0 ? simd.add : simd.sub));
  }
  return out;
}

/** Rows p, q with q_i = ±p_i for every i, both signs among the non-zero entries. */
const mirrored = (p: number[], q: number[]): boolean =>
  p.every((k, i) => k === q[i] || k === -q[i]) &&
  p.some((k, i) => k !== 0 && k === q[i]) && p.some((k, i) => k !== 0 && k === -q[i]);

/**
 * Code for every row r of Σ_i mat[r][i]·v_i, handed to `use(r, value)`. Two consecutive
 * mirrored rows p, q take e ± o, with e = (p + q)/2 and o = (p − q)/2 computed once into
 * the locals `e` and `o`: for F(4x4)'s Bᵀ, 6 operations per pair instead of 13.
 */
function rowsOf(
  mat: number[][],
  load: (i: number) => number[],
  use: (r: number, value: number[]) => number[][],
  [e, o]: [number, number],
): number[][] {
  const out: number[][] = [];
  for (let r = 0; r < mat.length; r++) {
    const [p, q] = [mat[r], mat[r + 1]];
    if (!q || !mirrored(p, q)) {
      out.push(...use(r, combination(p, load)));
      continue;
    }
    out.push([...combination(p.map((k, i) => (k + q[i]) / 2), load), ...op.set(e)]);
    out.push([...combination(p.map((k, i) => (k - q[i]) / 2), load), ...op.set(o)]);
    out.push(...use(r, [...op.get(e), ...op.get(o), ...simd.add]));
    out.push(...use(r + 1, [...op.get(e), ...op.get(o), ...simd.sub]));
    r++;
  }
  return out;
}

/**
 * For consecutive columns i, i + 1 of mat that are equal or opposite in every row (Aᵀ's
 * pairs of points ±1, ±2): code that replaces the locals v_i, v_{i+1} by their sum and
 * difference (through `temp`), and mat rewritten for them.
 */
function pairColumns(
  mat: number[][],
  v: (i: number) => number,
  temp: number,
): { code: number[][]; mat: number[][] } {
  const code: number[][] = [], rows = mat.map((row) => [...row]);
  for (let i = 0; i + 1 < mat[0].length; i++) {
    const pair = mat.every((row) => Math.abs(row[i]) === Math.abs(row[i + 1])) &&
      mat.some((row) => row[i] !== 0);
    if (!pair) continue;
    const [vi, vj] = [op.get(v(i)), op.get(v(i + 1))];
    code.push([...vi, ...vj, ...simd.add, ...op.set(temp), ...vi, ...vj, ...simd.sub]);
    code.push([...op.set(v(i + 1)), ...op.get(temp), ...op.set(v(i))]);
    for (const [r, row] of mat.entries()) {
      if (row[i] === row[i + 1]) rows[r][i + 1] = 0; // row[i]·(v_i + v_{i+1})
      else [rows[r][i], rows[r][i + 1]] = [0, row[i]]; // row[i]·(v_i − v_{i+1})
    }
    i++;
  }
  return { code, mat: rows };
}

/** `for (i = 0; i < limit; i++) body` with a constant limit. */
const loop = (i: number, limit: number, body: number[][]): number[][] =>
  forLoop(i, op.i32(limit), body);

/** 0, 1, ..., n − 1. */
const upTo = (n: number): number[] => [...Array(n).keys()];

/** Most bytes of one image's transforms (V and M, α² matrices each) where Winograd applies. */
export const MAX_IMAGE_SCRATCH = 16 << 20;

/** The rows and columns of the (zero-padded) input the tiles read: m per tile, and 2 more. */
const windowRows = (s: Shape): number => s.th * s.m + 2;
const windowCols = (s: Shape): number => s.tw * s.m + 2;

/** Whether the input must be copied into a zero-padded buffer first. */
const padded = (s: Shape): boolean =>
  s.top !== 0 || s.left !== 0 || s.inH !== windowRows(s) || s.inW !== windowCols(s);

/**
 * `image(x, y, v, m, bp, rowTab, kTab, pad)`: one image's convolution (x its input, y its
 * output, v and m scratch for V and M, bp the packed U_ξ, the tables V's rows for `tiles`,
 * pad a scratch for the zero-padded input where it needs one). Function 0 is `tiles`.
 *
 * With `filter` set, `filterImage(x, dy, v, dm, du, rowTab, kTab, pad)` instead adds one
 * image's share of the filter gradient in the transformed domain to du: the α² products
 * dU_ξ += V_ξᵀ · dM_ξ, where dM = A·dy·Aᵀ of each tile's m×m output gradient (packed
 * into dm as `tiles` reads B) and the tables read V_ξ transposed.
 */
function imageFunction(s: Shape, mode: "forward" | "filter" | "input"): WasmFunction {
  const [X, Y, V, M, BP, ROWTAB, KTAB, PAD] = [0, 1, 2, 3, 4, 5, 6, 7];
  const [TY, TX, P, Q, CB, XI, IMG, XP, YP] = [8, 9, 10, 11, 12, 13, 14, 15, 16];
  const { m } = s, t = m === 4 ? F4 : F2, a = m + 2, a2 = a * a;
  // The group's tiles, image by image: those of image IMG are rows IMG·tiles + (ty·tw + tx).
  const tiles = s.th * s.tw, rows = s.g * tiles;
  const mPanels = Math.ceil(rows / MR), nPanels = Math.ceil(s.o / NR);
  const pix = s.c * 4, xRow = windowCols(s) * pix, yPix = s.o * 4, yRow = s.outW * yPix;
  const [xImage, yImage] = [s.inH * s.inW * pix, s.outH * yRow];
  const tileAt = [
    ...[...op.get(IMG), ...op.i32(tiles), ...op.i32Mul, ...op.get(TY), ...op.i32(s.tw)],
    ...[...op.i32Mul, ...op.i32Add, ...op.get(TX), ...op.i32Add],
  ];
  // xp: image IMG, or its copy zero-padded into pad (rows of inW pixels copied).
  const image = [...op.get(X), ...op.get(IMG), ...op.i32(xImage), ...op.i32Mul, ...op.i32Add];
  const input: number[][] = padded(s)
    ? [
      [...op.get(PAD), ...op.i32(0), ...op.i32(windowRows(s) * xRow), ...op.memoryFill],
      ...loop(TY, s.inH, [
        [...op.get(PAD), ...op.get(TY), ...op.i32(xRow), ...op.i32Mul, ...op.i32Add],
        [...op.i32(s.top * xRow + s.left * pix), ...op.i32Add],
        [...image, ...op.get(TY), ...op.i32(s.inW * pix), ...op.i32Mul, ...op.i32Add],
        [...op.i32(s.inW * pix), ...op.memoryCopy],
      ]),
      [...op.get(PAD), ...op.set(XP)],
    ]
    : [[...image, ...op.set(XP)]];
  const output = [...op.get(Y), ...op.get(IMG), ...op.i32(yImage), ...op.i32Mul, ...op.i32Add];
  const vStride = mPanels * MR * pix, ldm = nPanels * NR * 4, mStride = mPanels * MR * ldm;
  const bStride = nPanels * NR * pix;
  // The filter gradient's dM_ξ (rows × o, packed in panels of NR) and dU_ξ (c × o).
  const dmStride = nPanels * NR * rows * 4, cPanels = Math.ceil(s.c / MR);
  const duStride = cPanels * MR * ldm;
  // The input gradient's dM_ξ (rows × o: the left operand), dV_ξ (rows × c, in panels of NR
  // columns) and packed U_ξᵀ (o × c).
  const cnPanels = Math.ceil(s.c / NR), ldv = cnPanels * NR * 4;
  const dmRowsStride = mPanels * MR * yPix, dvStride = mPanels * MR * ldv;
  const utStride = cnPanels * NR * yPix;
  // The last tile row and column may hold fewer than m outputs.
  const lastH = s.outH - m * (s.th - 1), lastW = s.outW - m * (s.tw - 1);
  // v128 locals: α loads, then α² sums, then two temporaries.
  const vec = (k: number) => 17 + k;
  const sum = (k: number, l: number, n: number) => vec(a + n * k + l);
  const temps: [number, number] = [vec(a + a2), vec(a + a2 + 1)];
  // V = Bᵀ·d·B in two passes over 4 channels: T = Bᵀ·d column by column (the column's α
  // values loaded once), then each row of T times B, stored to V_ξ (ξ = α·i + j).
  const inputTransform: number[][] = [
    ...upTo(a).flatMap((l) => [
      ...upTo(a).map((k) => [...op.get(P), ...simd.load(k * xRow + l * pix), ...op.set(vec(k))]),
      ...rowsOf(t.BT, (i) => op.get(vec(i)), (k, v) => [[...v, ...op.set(sum(k, l, a))]], temps),
    ]),
    ...upTo(a).flatMap((i) =>
      rowsOf(t.BT, (l) => op.get(sum(i, l, a)), (j, v) => [
        [...op.get(Q), ...v, ...simd.store((i * a + j) * vStride)],
      ], temps)
    ),
  ];
  // `body` for each group of 4 channels (cb < limit bytes).
  const channels = (limit: number, body: number[][]): number[][] => [
    [...op.i32(0), ...op.set(CB)],
    op.block,
    op.loop,
    [...op.get(CB), ...op.i32(limit), ...op.i32GeU, ...op.brIf(1)],
    ...body,
    [...op.get(CB), ...op.i32(16), ...op.i32Add, ...op.set(CB), ...op.br(0)],
    op.end,
    op.end,
  ];
  // One tile's input transform: p = xp + (m·ty·xRow + m·tx·pix) + cb, q = v + row·pix + cb.
  const inputPass = channels(pix, [
    [...op.get(XP), ...op.get(TY), ...op.i32(m * xRow), ...op.i32Mul, ...op.i32Add],
    [...op.get(TX), ...op.i32(m * pix), ...op.i32Mul, ...op.i32Add, ...op.get(CB), ...op.i32Add],
    op.set(P),
    [...op.get(V), ...tileAt],
    [...op.i32(pix), ...op.i32Mul, ...op.i32Add, ...op.get(CB), ...op.i32Add, ...op.set(Q)],
    ...inputTransform,
  ]);
  const isLast = (l: number, n: number) => [...op.get(l), ...op.i32(n - 1), ...op.i32Eq];
  // Aᵀ·M·A in two passes: S = Aᵀ·M column by column (each M_ξ loaded once), then S·A;
  // each pass first takes the sums and differences of the values at paired points.
  const paired = (v: (i: number) => number) => pairColumns(t.AT, v, temps[0]);
  const columnsOfS: number[][] = upTo(a).flatMap((j) => [
    ...upTo(a).map((i) => [...op.get(P), ...simd.load((a * i + j) * mStride), ...op.set(vec(i))]),
    ...paired(vec).code,
    ...upTo(m).map((r) => [
      ...combination(paired(vec).mat[r], (i) => op.get(vec(i))),
      ...op.set(sum(r, j, a)),
    ]),
  ]);
  // One tile's outputs: p = m + row·ldm + ob, q = yp + m·ty·yRow + m·tx·yPix + ob; in the
  // last tile row and column only those inside the output.
  const outputs = channels(yPix, [
    [...op.get(M), ...tileAt],
    [...op.i32(ldm), ...op.i32Mul, ...op.i32Add, ...op.get(CB), ...op.i32Add, ...op.set(P)],
    [...op.get(YP), ...op.get(TY), ...op.i32(m * yRow), ...op.i32Mul, ...op.i32Add],
    [...op.get(TX), ...op.i32(m * yPix), ...op.i32Mul, ...op.i32Add, ...op.get(CB), ...op.i32Add],
    op.set(Q),
    ...columnsOfS,
    ...upTo(m).flatMap((r) => [
      ...paired((j) => sum(r, j, a)).code,
      ...upTo(m).map((q) => {
        const store = [
          ...op.get(Q),
          ...combination(paired((j) => sum(r, j, a)).mat[q], (j) => op.get(sum(r, j, a))),
          ...simd.store(r * yRow + q * yPix),
        ];
        const edge = [
          ...(r >= lastH ? [[...isLast(TY, s.th), ...op.brIf(0)]] : []),
          ...(q >= lastW ? [[...isLast(TX, s.tw), ...op.brIf(0)]] : []),
        ];
        return edge.length ? [op.block, ...edge, store, op.end].flat() : store;
      }),
    ]),
  ]);
  // dM = A·dy·Aᵀ of one tile in two passes (S = A·dy column by column, then S·Aᵀ), four
  // channels at a time: p = dm + (ob / 32)·tiles·32 + t·32 + ob % 32 (panels of NR = 8
  // channels), q = dy + m·ty·yRow + m·tx·yPix + ob. Outputs past the edge have no
  // gradient: zeros.
  const A = upTo(a).map((i) => upTo(m).map((r) => t.AT[r][i]));
  // For the input gradient dM is the left operand instead: p = dm + row·yPix + ob.
  const asRows = mode === "input", gStride = asRows ? dmRowsStride : dmStride;
  const gradients = (lastRow: boolean, lastCol: boolean): number[][] =>
    channels(yPix, [
      ...(asRows ? [[...op.get(M), ...tileAt, ...op.i32(yPix), ...op.i32Mul, ...op.i32Add]] : [
        [...tileAt, ...op.i32(32)],
        [...op.i32Mul, ...op.get(M), ...op.i32Add, ...op.get(CB), ...op.i32(5), ...op.i32ShrU],
        [...op.i32(rows * 32), ...op.i32Mul, ...op.i32Add, ...op.get(CB), ...op.i32(31)],
        [...op.i32And],
      ]),
      [...(asRows ? op.get(CB) : []), ...op.i32Add, ...op.set(P)],
      [...op.get(YP), ...op.get(TY), ...op.i32(m * yRow), ...op.i32Mul, ...op.i32Add],
      [...op.get(TX), ...op.i32(m * yPix), ...op.i32Mul, ...op.i32Add, ...op.get(CB), ...op.i32Add],
      op.set(Q),
      ...upTo(m).flatMap((q) => [
        ...upTo(m).map((r) =>
          (lastRow && r >= lastH) || (lastCol && q >= lastW)
            ? [...simd.zero, ...op.set(vec(r))]
            : [...op.get(Q), ...simd.load(r * yRow + q * yPix), ...op.set(vec(r))]
        ),
        ...rowsOf(A, (r) => op.get(vec(r)), (i, v) => [[...v, ...op.set(sum(i, q, m))]], temps),
      ]),
      ...upTo(a).flatMap((i) =>
        rowsOf(A, (q) => op.get(sum(i, q, m)), (j, v) => [
          [...op.get(P), ...v, ...simd.store((a * i + j) * gStride)],
        ], temps)
      ),
    ]);
  // The tile's body in the variant for whether it is in a cut last row and a cut last
  // column; the checks pick one per tile.
  const [cutH, cutW] = [lastH < m, lastW < m];
  const gradientPass = (cutH ? [false, true] : [false]).flatMap((r) =>
    (cutW ? [false, true] : [false]).flatMap((c) => [
      op.block,
      ...(cutH ? [[...isLast(TY, s.th), ...(r ? op.i32Eqz : []), ...op.brIf(0)]] : []),
      ...(cutW ? [[...isLast(TX, s.tw), ...(c ? op.i32Eqz : []), ...op.brIf(0)]] : []),
      ...gradients(r, c),
      op.end,
    ])
  );
  // The α² products: tiles(A_ξ, rowTab, kTab, B_ξ, C_ξ, kc, ldc, rowPanels, nPanels, acc).
  const products = (
    [a0, aStride]: [number, number],
    [b, bStride]: [number, number],
    [c, cStride, ldc]: [number, number, number],
    kc: number,
    [rowPanels, colPanels]: [number, number],
    acc: number,
  ) =>
    loop(XI, a2, [
      [...op.get(a0), ...op.get(XI), ...op.i32(aStride), ...op.i32Mul, ...op.i32Add],
      [...op.get(ROWTAB), ...op.get(KTAB)],
      [...op.get(b), ...op.get(XI), ...op.i32(bStride), ...op.i32Mul, ...op.i32Add],
      [...op.get(c), ...op.get(XI), ...op.i32(cStride), ...op.i32Mul, ...op.i32Add],
      [...op.i32(kc), ...op.i32(ldc), ...op.i32(rowPanels), ...op.i32(colPanels), ...op.i32(acc)],
      op.call(0),
    ]);
  // The input gradient: each tile's window gets dd = B·dV·Bᵀ added (the adjoint of V =
  // Bᵀ·d·B), windows overlapping by two rows and columns, in a zeroed padded buffer;
  // W = B·dV column by column, then each row of W times Bᵀ. p = v + row·ldv + cb,
  // q = pad + m·ty·xRow + m·tx·pix + cb.
  const B = upTo(a).map((i) => upTo(a).map((k) => t.BT[k][i]));
  const pairedB = (v: (i: number) => number) => pairColumns(B, v, temps[0]);
  const adjointPass = channels(pix, [
    [...op.get(V), ...tileAt, ...op.i32(ldv), ...op.i32Mul, ...op.i32Add],
    [...op.get(CB), ...op.i32Add, ...op.set(P)],
    [...op.get(PAD), ...op.get(TY), ...op.i32(m * xRow), ...op.i32Mul, ...op.i32Add],
    [...op.get(TX), ...op.i32(m * pix), ...op.i32Mul, ...op.i32Add, ...op.get(CB), ...op.i32Add],
    op.set(Q),
    ...upTo(a).flatMap((j) => [
      ...upTo(a).map((
        k,
      ) => [...op.get(P), ...simd.load((a * k + j) * dvStride), ...op.set(vec(k))]),
      ...pairedB(vec).code,
      ...upTo(a).map((i) => [
        ...combination(pairedB(vec).mat[i], (k) => op.get(vec(k))),
        ...op.set(sum(i, j, a)),
      ]),
    ]),
    ...upTo(a).flatMap((i) => [
      ...pairedB((j) => sum(i, j, a)).code,
      ...upTo(a).map((l) => [
        ...op.get(Q),
        ...op.get(Q),
        ...simd.load(i * xRow + l * pix),
        ...combination(pairedB((j) => sum(i, j, a)).mat[l], (j) => op.get(sum(i, j, a))),
        ...simd.add,
        ...simd.store(i * xRow + l * pix),
      ]),
    ]),
  ]);
  // The image's dx: the padded buffer's rows top.. and columns left.. copied out.
  const dxOut: number[][] = loop(TY, s.inH, [
    [...image, ...op.get(TY), ...op.i32(s.inW * pix), ...op.i32Mul, ...op.i32Add],
    [...op.get(PAD), ...op.get(TY), ...op.i32(xRow), ...op.i32Mul, ...op.i32Add],
    [...op.i32(s.top * xRow + s.left * pix), ...op.i32Add],
    [...op.i32(s.inW * pix), ...op.memoryCopy],
  ]);
  const tilesOf = (pass: number[][]) => loop(TY, s.th, loop(TX, s.tw, pass));
  const bodies = {
    forward: [
      ...loop(IMG, s.g, [...input, ...tilesOf(inputPass)]),
      // The α² products M_ξ = V_ξ · U_ξ (one block of k: c ≤ KC).
      ...products([V, vStride], [BP, bStride], [M, mStride, ldm], s.c, [mPanels, nPanels], 0),
      ...loop(IMG, s.g, [[...output, ...op.set(YP)], ...tilesOf(outputs)]),
    ],
    filter: [
      ...loop(IMG, s.g, [
        ...input,
        ...tilesOf(inputPass),
        [...output, ...op.set(YP)],
        ...tilesOf(gradientPass),
      ]),
      // dU_ξ += V_ξᵀ · dM_ξ: rows of V_ξᵀ are channels (rowTab c·4), its k the tiles (kTab t·pix).
      ...products([V, vStride], [M, dmStride], [BP, duStride, ldm], rows, [cPanels, nPanels], 1),
    ],
    input: [
      ...loop(IMG, s.g, [[...output, ...op.set(YP)], ...tilesOf(gradientPass)]),
      // dV_ξ = dM_ξ · U_ξᵀ (k: the output channels, o ≤ KC).
      ...products([M, dmRowsStride], [BP, utStride], [V, dvStride, ldv], s.o, [
        mPanels,
        cnPanels,
      ], 0),
      ...loop(IMG, s.g, [
        [...op.get(PAD), ...op.i32(0), ...op.i32(windowRows(s) * xRow), ...op.memoryFill],
        ...tilesOf(adjointPass),
        ...dxOut,
      ]),
    ],
  };
  return {
    name: { forward: "image", filter: "filterImage", input: "inputImage" }[mode],
    params: Array(8).fill(I32),
    locals: [...Array(9).fill(I32), ...Array(a + a2 + 2).fill(V128)],
    body: bodies[mode],
  };
}

/**
 * `packFilter(g, u)`: one input channel's U_ξ = G·g·Gᵀ for every output channel, four
 * at a time: g the channel's filter (HWIO: tap k of output channel oi at g + k·c·o·4 +
 * oi·4), u its rows in the packed U_ξ (panels of NR output channels, as `tiles` reads B;
 * U_ξ at u + ξ·bStride). G·g per column of taps, then each row of it times Gᵀ.
 */
function packFunction(s: Shape, name: string): WasmFunction {
  const [G, U, OB, Q] = [0, 1, 2, 3];
  const t = s.m === 4 ? F4 : F2, a = s.m + 2;
  const bStride = Math.ceil(s.o / NR) * NR * s.c * 4, tapStride = s.c * s.o * 4;
  const tap = (k: number) => 4 + k, h = (i: number, l: number) => 13 + 3 * i + l;
  const temps: [number, number] = [13 + 3 * a, 14 + 3 * a];
  return {
    name,
    params: [I32, I32],
    locals: [I32, I32, ...Array(9 + 3 * a + 2).fill(V128)],
    body: [
      [...op.i32(0), ...op.set(OB)],
      op.block,
      op.loop,
      [...op.get(OB), ...op.i32(s.o * 4), ...op.i32GeU, ...op.brIf(1)],
      ...upTo(9).map((k) => [
        ...op.get(G),
        ...op.get(OB),
        ...op.i32Add,
        ...simd.load(k * tapStride),
        ...op.set(tap(k)),
      ]),
      // q = u + (ob / 32)·NR·c·4 + ob % 32: the four channels' place in their panel.
      [...op.get(OB), ...op.i32(5), ...op.i32ShrU, ...op.i32(NR * s.c * 4), ...op.i32Mul],
      [...op.get(U), ...op.i32Add, ...op.get(OB), ...op.i32(31), ...op.i32And, ...op.i32Add],
      op.set(Q),
      ...upTo(3).flatMap((l) =>
        rowsOf(t.G, (r) => op.get(tap(3 * r + l)), (i, v) => [[...v, ...op.set(h(i, l))]], temps)
      ),
      ...upTo(a).flatMap((i) =>
        rowsOf(t.G, (l) => op.get(h(i, l)), (j, v) => [
          [...op.get(Q), ...v, ...simd.store((a * i + j) * bStride)],
        ], temps)
      ),
      [...op.get(OB), ...op.i32(16), ...op.i32Add, ...op.set(OB), ...op.br(0)],
      op.end,
      op.end,
    ],
  };
}

/**
 * `unpackFilterGrad(du, dw, parts)`: one input channel's dW = Gᵀ·dU·G for every output
 * channel, four at a time, where dU is the sum of the parts' dU (added in order; part p's
 * at du + p·(its size)). du points at the channel's row (c·nPad + o within each of the α²
 * planes), dw at its filter (HWIO). Gᵀ·dU per column, then each row of it times G; both
 * passes first take the sums and differences of the values at paired points.
 */
function unpackFunction(s: Shape): WasmFunction {
  const [DU, DW, PARTS, OB, PP, PTR] = [0, 1, 2, 3, 4, 5];
  const t = s.m === 4 ? F4 : F2, a = s.m + 2, a2 = a * a;
  const nPad = Math.ceil(s.o / NR) * NR, plane = Math.ceil(s.c / MR) * MR * nPad * 4;
  const GT = upTo(3).map((k) => t.G.map((row) => row[k]));
  const du = (i: number, j: number) => 6 + a * i + j,
    h = (k: number, j: number) => 6 + a2 + a * k + j;
  const temp = 6 + a2 + 3 * a;
  return {
    name: "unpackFilterGrad",
    params: [I32, I32, I32],
    locals: [I32, I32, I32, ...Array(a2 + 3 * a + 1).fill(V128)],
    body: [
      [...op.i32(0), ...op.set(OB)],
      op.block,
      op.loop,
      [...op.get(OB), ...op.i32(s.o * 4), ...op.i32GeU, ...op.brIf(1)],
      ...upTo(a2).map((x) => [
        ...op.get(DU),
        ...op.get(OB),
        ...op.i32Add,
        ...simd.load(x * plane),
        ...op.set(6 + x),
      ]),
      // The other parts, in order: ptr = du + ob + p·(part size).
      [...op.i32(1), ...op.set(PP)],
      op.block,
      op.loop,
      [...op.get(PP), ...op.get(PARTS), ...op.i32GeU, ...op.brIf(1)],
      [...op.get(DU), ...op.get(OB), ...op.i32Add, ...op.get(PP), ...op.i32(a2 * plane)],
      [...op.i32Mul, ...op.i32Add, ...op.set(PTR)],
      ...upTo(a2).map((x) => [
        ...op.get(6 + x),
        ...op.get(PTR),
        ...simd.load(x * plane),
        ...simd.add,
        ...op.set(6 + x),
      ]),
      [...op.get(PP), ...op.i32(1), ...op.i32Add, ...op.set(PP), ...op.br(0)],
      op.end,
      op.end,
      ...upTo(a).flatMap((j) => {
        const paired = pairColumns(GT, (i) => du(i, j), temp);
        return [
          ...paired.code,
          ...upTo(3).map((k) => [
            ...combination(paired.mat[k], (i) => op.get(du(i, j))),
            ...op.set(h(k, j)),
          ]),
        ];
      }),
      ...upTo(3).flatMap((k) => {
        const paired = pairColumns(GT, (j) => h(k, j), temp);
        return [
          ...paired.code,
          ...upTo(3).map((l) => [
            ...op.get(DW),
            ...op.get(OB),
            ...op.i32Add,
            ...combination(paired.mat[l], (j) => op.get(h(k, j))),
            ...simd.store((3 * k + l) * s.c * s.o * 4),
          ]),
        ];
      }),
      [...op.get(OB), ...op.i32(16), ...op.i32Add, ...op.set(OB), ...op.br(0)],
      op.end,
      op.end,
    ],
  };
}

const modules = new Map<string, Uint8Array>();

/** The module for `s` (`tiles`, `image`, `filterImage`), assembled once per shape. */
function moduleFor(s: Shape): Uint8Array {
  const key = JSON.stringify(s);
  let bytes = modules.get(key);
  if (!bytes) {
    const fns = [
      tilesFunction(relaxedSimd()),
      imageFunction(s, "forward"),
      imageFunction(s, "filter"),
      imageFunction(s, "input"),
      packFunction(s, "packFilter"),
      packFunction({ ...s, c: s.o, o: s.c }, "packFilterT"),
      unpackFunction(s),
    ];
    modules.set(key, bytes = assemble(fns));
  }
  return bytes;
}

/** W (HWIO: tap k, input channel i, output channel j) with its channel axes swapped, into dst. */
function swapChannels(wv: Float32Array, c: number, o: number, dst: Float32Array): void {
  for (let k = 0; k < 9; k++) {
    for (let j = 0; j < o; j++) {
      const to = (k * o + j) * c;
      for (let i = 0; i < c; i++) dst[to + i] = wv[(k * c + i) * o + j];
    }
  }
}

/**
 * Runs `name` on the batch's groups of images in up to `parts` parts, in order: each call
 * gets the group's x and y (`at + group·step`) and then `rest(i)`, part i's own pointers.
 * Returns how many parts there were.
 */
function runGroups(
  bytes: Uint8Array,
  memory: WebAssembly.Memory,
  ex: WebAssembly.Exports,
  name: string,
  groups: number,
  parts: number,
  [xAt, xStep]: [number, number],
  [yAt, yStep]: [number, number],
  rest: (part: number) => number[],
): number {
  let index = 0; // chunks() describes the parts in order
  const list = chunks(groups, parts, (n0, n1): Rows => {
    const own = rest(index++);
    return {
      base: [xAt + n0 * xStep, yAt + n0 * yStep, ...own],
      stepN: [xStep, yStep, ...own.map(() => 0)],
      stepY: [0, 0, ...own.map(() => 0)],
      n: n1 - n0,
      y: 1,
    };
  });
  runParts(bytes, memory, ex, name, list);
  return list.length;
}

/** The input channels in up to 8 parts of rows for runParts: `base` at channel 0, `step` per channel. */
const channelParts = (c: number, base: number[], step: number[]): Rows[] =>
  chunks(c, 8, (c0, c1) => ({
    base: base.map((b, i) => b + c0 * step[i]),
    stepN: step,
    stepY: step.map(() => 0),
    n: c1 - c0,
    y: 1,
  }));

/**
 * Images per call: the divisor g ≤ 8 of the batch whose g·tiles rows (at most 64, or
 * g = 1) waste the least of the micro-kernel's whole panels of MR rows, the largest on a
 * tie (a deeper k for the filter gradient's products).
 */
function groupOf(batch: number, tiles: number): number {
  let best = 1, least = Infinity;
  for (let g = 1; g <= 8; g++) {
    if (batch % g !== 0 || (g > 1 && g * tiles > 64)) continue;
    const waste = Math.ceil(g * tiles / MR) * MR / (g * tiles);
    if (waste <= least + 1e-9) [best, least] = [g, waste];
  }
  return best;
}

/** What the three entry points share for one convolution: its shape, module and sizes. */
interface Plan {
  s: Shape;
  bytes: Uint8Array;
  ex: WebAssembly.Exports;
  /** α², the transforms' positions. */
  a2: number;
  /** A call's product rows (its images' tiles), and their panels of MR. */
  rows: number;
  mPanels: number;
  /** Calls over the batch. */
  groups: number;
  /**
   * Runs `name` on the batch's groups in up to `parts` parts (see runGroups), with the
   * forward convolution's input at xAt and output at yAt (whichever is written).
   */
  run(
    name: string,
    parts: number,
    xAt: number,
    yAt: number,
    rest: (part: number) => number[],
  ): number;
}

/**
 * The Plan of a convolution of NHWC `xShape` to `o` channels with the geometry `info`
 * (padding above and to the left, output size): F(2x2) or F(4x4), images per call.
 */
function planOf(
  memory: WebAssembly.Memory,
  [batch, inH, inW, c]: number[],
  o: number,
  info: tf.backend_util.Conv2DInfo,
): Plan {
  const { padInfo: { top, left }, outHeight: outH, outWidth: outW } = info;
  const { m } = transformFor(outH, outW);
  const [th, tw] = [Math.ceil(outH / m), Math.ceil(outW / m)];
  const g = groupOf(batch, th * tw);
  const s: Shape = { m, g, th, tw, c, o, inH, inW, top, left, outH, outW };
  const bytes = moduleFor(s);
  const ex = instantiate(bytes, memory);
  const rows = g * th * tw, groups = batch / g;
  const [xGroup, yGroup] = [g * inH * inW * c * 4, g * outH * outW * o * 4];
  return {
    s,
    bytes,
    ex,
    a2: (m + 2) ** 2,
    rows,
    mPanels: Math.ceil(rows / MR),
    groups,
    run: (name, parts, xAt, yAt, rest) =>
      runGroups(bytes, memory, ex, name, groups, parts, [xAt, xGroup], [yAt, yGroup], rest),
  };
}

/**
 * The convolution's geometry where Winograd applies: WASM heap, the GEMM paths on,
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
  const [h, w] = [Math.max(inHeight, outHeight), Math.max(inWidth, outWidth)];
  const scratch = ({ m }: Transform) =>
    (m + 2) ** 2 * (Math.ceil(h / m) * Math.ceil(w / m) + MR) * 2 * (Math.max(c, o) + NR) * 4;
  if (Math.max(scratch(F2), scratch(F4)) > MAX_IMAGE_SCRATCH) return undefined;
  return { memory, info };
}

/** `Conv2D` by Winograd where it applies ({@linkcode eligible}); undefined elsewhere. */
export function winogradConv2D(
  backend: unknown,
  x: Info,
  filter: Info,
  attrs: ConvAttrs,
): Info | undefined {
  const [, , c, o] = filter.shape;
  const e = eligible(backend, x.shape, filter.shape, [x.dtype, filter.dtype], attrs, c);
  if (!e) return undefined;
  const heap = backend as HeapBackend, memory = e.memory;
  const { s, bytes, ex, a2, rows, mPanels, groups, run } = planOf(memory, x.shape, o, e.info);
  const nPanels = Math.ceil(o / NR);
  const out = heap.makeOutput(e.info.outShape, "float32");
  const parts = Math.min(16, groups);
  const { alloc, free } = scratchOf(heap);
  try {
    const bp = alloc(a2 * nPanels * NR * c, "float32");
    // V_ξ's rows: the group's tile t at t·c·4 (padded to whole panels), channel j at j·4.
    const v = { offset: 0, rowStride: c * 4, colStride: 4 };
    const { rowTab, kTab } = operandTables(memory, v, rows, c, mPanels * MR, alloc);
    const padFloats = padded(s) ? windowRows(s) * windowCols(s) * c : 0;
    const scratch = Array.from({ length: parts }, () => ({
      v: alloc(a2 * mPanels * MR * c, "float32"),
      m: alloc(a2 * mPanels * MR * nPanels * NR, "float32"),
      pad: alloc(padFloats, "float32"),
    }));
    // Views after the allocations: growing a heap that is not shared detaches older views.
    if (nPanels * NR !== o) new Float32Array(memory.buffer, bp, a2 * nPanels * NR * c).fill(0);
    const gAt = heap.getMemoryOffset(filter.dataId);
    runParts(bytes, memory, ex, "packFilter", channelParts(c, [gAt, bp], [o * 4, NR * 4]));
    const [xAt, yAt] = [heap.getMemoryOffset(x.dataId), heap.getMemoryOffset(out.dataId)];
    run("image", parts, xAt, yAt, (i) => {
      const { v, m, pad } = scratch[i];
      return [v, m, bp, rowTab, kTab, pad];
    });
  } finally {
    free();
  }
  return out;
}

/**
 * `Conv2DBackpropInput` by Winograd where the forward convolution qualifies: the adjoint
 * of the forward's steps on the forward's tiles. Each tile's dM = A·dy·Aᵀ (zeros past the
 * output's edge), dV_ξ = dM_ξ · U_ξᵀ (the products, k the output channels), then B·dV·Bᵀ
 * added into the tile's window of a zeroed padded buffer, whose rows and columns inside
 * the input are dx.
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
  const heap = backend as HeapBackend, memory = e.memory;
  const { s, bytes, ex, a2, rows, mPanels, groups, run } = planOf(
    memory,
    attrs.inputShape,
    o,
    e.info,
  );
  const cnPanels = Math.ceil(c / NR);
  const out = heap.makeOutput(attrs.inputShape, "float32");
  const parts = Math.min(16, groups);
  const { alloc, free } = scratchOf(heap);
  try {
    // U_ξᵀ packed (k: the o output channels, panels of NR input channels), from W with its
    // channel axes swapped.
    const ut = alloc(a2 * cnPanels * NR * o, "float32"), swapped = alloc(9 * c * o, "float32");
    // dM_ξ's rows: the group's tile t at t·o·4 (padded to whole panels), channel j at j·4.
    const dm = { offset: 0, rowStride: o * 4, colStride: 4 };
    const { rowTab, kTab } = operandTables(memory, dm, rows, o, mPanels * MR, alloc);
    const scratch = Array.from({ length: parts }, () => ({
      dm: alloc(a2 * mPanels * MR * o, "float32"),
      dv: alloc(a2 * mPanels * MR * cnPanels * NR, "float32"),
      pad: alloc(windowRows(s) * windowCols(s) * c, "float32"),
    }));
    // Views after the allocations: growing a heap that is not shared detaches older views.
    if (cnPanels * NR !== c) new Float32Array(memory.buffer, ut, a2 * cnPanels * NR * o).fill(0);
    const wv = heap.typedArrayFromHeap(filter) as Float32Array;
    swapChannels(wv, c, o, new Float32Array(memory.buffer, swapped, 9 * c * o));
    runParts(bytes, memory, ex, "packFilterT", channelParts(o, [swapped, ut], [c * 4, NR * 4]));
    const [dxAt, dyAt] = [heap.getMemoryOffset(out.dataId), heap.getMemoryOffset(dy.dataId)];
    run("inputImage", parts, dxAt, dyAt, (i) => {
      const { dm, dv, pad } = scratch[i];
      return [dv, dm, ut, rowTab, kTab, pad];
    });
  } finally {
    free();
  }
  return out;
}

/**
 * `Conv2DBackpropFilter` by Winograd where the convolution qualifies: in the transformed
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
  const { s, bytes, ex, a2, rows, mPanels, groups, run } = planOf(memory, x.shape, o, e.info);
  const nPanels = Math.ceil(o / NR), cPanels = Math.ceil(c / MR);
  const [nPad, cPad] = [nPanels * NR, cPanels * MR];
  const parts = Math.min(8, groups);
  const out = heap.makeOutput(attrs.filterShape, "float32");
  const { alloc, free } = scratchOf(heap);
  try {
    // V_ξᵀ: channel j (a row, padded to whole panels) at j·4, the group's tile t at t·c·4.
    const vT = { offset: 0, rowStride: 4, colStride: c * 4 };
    const { rowTab, kTab } = operandTables(memory, vT, c, rows, cPad, alloc);
    const padFloats = padded(s) ? windowRows(s) * windowCols(s) * c : 0;
    // Each part's dU_ξ (α² planes of cPad × nPad), one after another.
    const size = a2 * cPad * nPad, du = alloc(parts * size, "float32");
    const scratch = Array.from({ length: parts }, (_, p) => ({
      v: alloc(a2 * mPanels * MR * c, "float32"),
      dm: alloc(a2 * nPad * rows, "float32"),
      du: du + p * size * 4,
      pad: alloc(padFloats, "float32"),
    }));
    new Float32Array(memory.buffer, du, parts * size).fill(0);
    const [xAt, dyAt] = [heap.getMemoryOffset(x.dataId), heap.getMemoryOffset(dy.dataId)];
    const used = run("filterImage", parts, xAt, dyAt, (i) => {
      const { v, dm, du, pad } = scratch[i];
      return [v, dm, du, rowTab, kTab, pad];
    });
    // dU = Σ over the parts, in order; then dW = Gᵀ·dU·G.
    const dwAt = heap.getMemoryOffset(out.dataId);
    const rowsOfDu = channelParts(c, [du, dwAt, used], [nPad * 4, o * 4, 0]);
    runParts(bytes, memory, ex, "unpackFilterGrad", rowsOfDu);
  } finally {
    free();
  }
  return out;
}
