/**
 * Indexing, selection and contraction as graph ops, each with its kernel and
 * gradient (TensorFlow's `array_ops`, `nn_ops` and `special_math_ops`): what
 * `tf.stridedSlice`, `tf.gatherND`, `tf.scatterND`, `tf.topk`, `tf.mirrorPad`
 * and `tf.einsum` become inside a traced function (`_kernel_dispatch.ts`).
 *
 * - `StridedSlice` takes TF's five masks (`beginMask`, `endMask`,
 *   `ellipsisMask`, `newAxisMask`, `shrinkAxisMask`) and negative strides; its
 *   static shape is TF's (tfjs's `slice_util.sliceInfo`, a port of TF's
 *   `ValidateStridedSliceOp`: unknown dimensions stay unknown), and what TF
 *   rejects (two ellipses, a zero stride, a shrunk index out of range) is a
 *   {@linkcode GraphError} when traced. Its gradient is TF's `StridedSliceGrad`
 *   (`dy` put back where the slice took it, zeros elsewhere), whose own gradient
 *   is the `StridedSlice` of the incoming gradient.
 * - `GatherNd`'s gradient is the `ScatterNd` of `dy` at the same indices into
 *   the shape of `params` (duplicate indices add up), and `ScatterNd`'s is the
 *   `GatherNd` of `dy` (TF's `_GatherNdGrad`, `_ScatterNdGrad`).
 * - `TopKV2` (values and int32 indices, ties to the lower index, as TF) sends
 *   the gradient of the values to the input positions they came from, with
 *   TF's `_TopKGrad` ops: flat indices and a `ScatterNd`; the indices have none.
 * - `MirrorPad` (`REFLECT`: the border value not repeated; `SYMMETRIC`: repeated)
 *   has TF's `MirrorPadGrad`, which folds the padded borders back onto the
 *   values they copy (tfjs's eager gradient only crops them off), and whose
 *   gradient is `MirrorPad` again.
 * - `einsum` is lowered when traced to `Sum`, `Transpose`, `Reshape` and
 *   `MatMul`/`BatchMatMulV2` ops (there is no `Einsum` graph op; tfjs's WASM
 *   backend has no `Einsum` kernel, so this also runs where eager `tf.einsum`
 *   does not), so its gradient is theirs: mathematically TF's `_EinsumGrad`
 *   (an einsum of `dy` with the other operand, summed letters broadcast back),
 *   second derivatives included. One or two operands, an explicit `->` or TF's
 *   implicit output (the letters that occur once, sorted), no ellipsis and no
 *   repeated letter within an operand, as tfjs's `tf.einsum` takes.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { Graph } from "./graph.ts";
 * import { placeholder } from "./ops.ts";
 * import { stridedSlice, topK } from "./array_ops.ts";
 * import { Session } from "./session.ts";
 * const g = new Graph();
 * const { x, y, top } = g.asDefault(() => {
 *   const x = placeholder("float32", [2, 4], "x");
 *   // x[:, -1::-2] (TF): the columns from the last backwards, every second one
 *   const y = stridedSlice(x, [0, -1], [0, 0], [1, -2], { beginMask: 1, endMask: 3 });
 *   return { x, y, top: topK(x, 2)[0] };
 * });
 * const feed = new Map([[x, tf.tensor2d([[1, 5, 2, 4], [8, 3, 7, 6]])]]);
 * console.log(new Session(g).run(y, feed)); // [[4, 5], [6, 3]]
 * console.log(new Session(g).run(top, feed)); // [[5, 4], [8, 7]]
 * ```
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import {
  GraphError,
  type Operation,
  type Shape,
  ShapeError,
  type SymbolicTensor,
} from "./graph.ts";
import type { TensorLike } from "./graph.ts";
import {
  add,
  addOp,
  constant,
  type Kernel,
  kernels,
  matMul,
  mul,
  onesLike,
  reduceSum,
  reshape,
  shapeOf,
  size,
  toSymbolic,
  transpose,
  zerosLike,
} from "./ops.ts";
import { batchMatMul, cumsum, slice } from "./math_array_ops.ts";
import { type GradFn, gradFns } from "./gradients.ts";

// ---------------------------------------------------------------- StridedSlice

/** The masks of a strided slice: bit `i` refers to entry `i` of `begin`/`end`/`strides`. */
export interface StridedSliceMasks {
  /** Bit set: entry `i` of `begin` is ignored, the slice starts at the first (last) element. */
  beginMask?: number;
  /** Bit set: entry `i` of `end` is ignored, the slice runs to the end (the start). */
  endMask?: number;
  /** One bit: entry `i` is `...`, as many full axes as the other entries leave. */
  ellipsisMask?: number;
  /** Bit set: entry `i` inserts an axis of size 1 (TF's `tf.newaxis`). */
  newAxisMask?: number;
  /** Bit set: entry `i` takes the single index `begin[i]` and drops that axis. */
  shrinkAxisMask?: number;
}

/** A strided slice's parameters, as the op's attributes. */
type SliceAttrs = {
  begin: number[];
  end: number[];
  strides: number[];
  begin_mask: number;
  end_mask: number;
  ellipsis_mask: number;
  new_axis_mask: number;
  shrink_axis_mask: number;
};

/** tfjs's `sliceInfo` (TF's dense slice spec) of a strided slice of `shape` (-1: unknown). */
const sliceInfoOf = (shape: number[], a: SliceAttrs): tf.slice_util.SliceInfo =>
  tf.slice_util.sliceInfo(
    shape,
    a.begin,
    a.end,
    a.strides,
    a.begin_mask,
    a.end_mask,
    a.ellipsis_mask,
    a.new_axis_mask,
    a.shrink_axis_mask,
  );

/** The output shape of a strided slice of `shape` (TF's shape inference), or a GraphError. */
function slicedShape(x: SymbolicTensor, a: SliceAttrs): Shape {
  if (x.unknownRank) {
    throw new GraphError(
      `StridedSlice: the rank of ${x.toString()} is unknown; give the input a shape`,
    );
  }
  try {
    const info = sliceInfoOf(x.shape.map((d) => d ?? -1), a);
    return info.finalShape.map((d) => d < 0 ? null : d);
  } catch (e) {
    throw new GraphError(
      `StridedSlice of ${x.toString()} with begin ${JSON.stringify(a.begin)}, end ` +
        `${JSON.stringify(a.end)}, strides ${JSON.stringify(a.strides)}: ${(e as Error).message} ` +
        `(TensorFlow raises too: fix the slice spec or the masks)`,
    );
  }
}

/**
 * The elements of `x` from `begin` towards `end` (exclusive) in steps of
 * `strides` (negative: backwards) along each axis, as TF's `x[b:e:s, ...]`
 * (`StridedSlice`); `masks` as {@linkcode StridedSliceMasks}. `strides`
 * defaults to ones.
 */
export function stridedSlice(
  x: TensorLike,
  begin: number[],
  end: number[],
  strides?: number[],
  masks: StridedSliceMasks = {},
  name?: string,
): SymbolicTensor {
  const sx = toSymbolic(x);
  const s = strides ?? begin.map(() => 1);
  if (end.length !== begin.length || s.length !== begin.length) {
    throw new ShapeError(
      `StridedSlice: begin, end and strides must have one length (got ${begin.length}, ` +
        `${end.length} and ${s.length})`,
    );
  }
  const attrs: SliceAttrs = {
    begin: [...begin],
    end: [...end],
    strides: [...s],
    begin_mask: masks.beginMask ?? 0,
    end_mask: masks.endMask ?? 0,
    ellipsis_mask: masks.ellipsisMask ?? 0,
    new_axis_mask: masks.newAxisMask ?? 0,
    shrink_axis_mask: masks.shrinkAxisMask ?? 0,
  };
  const shape = slicedShape(sx, attrs);
  return addOp("StridedSlice", [sx], attrs, [{ dtype: sx.dtype, shape }], name).output;
}

/** TF's `StridedSliceGrad`: `dy` where the slice of a tensor of `shape` took it, else zeros. */
function stridedSliceGrad(
  shape: SymbolicTensor,
  like: SymbolicTensor,
  dy: SymbolicTensor,
  attrs: Operation["attrs"],
): SymbolicTensor {
  return addOp("StridedSliceGrad", [shape, dy], attrs, [{
    dtype: dy.dtype,
    shape: [...like.shape],
  }]).output;
}

/**
 * Runs a strided slice with an op's attributes: TF's dense spec (tfjs's `sliceInfo`), then one
 * `gather` per axis that is not taken whole, then the final shape. Not tfjs's `StridedSlice`
 * kernel, which reads the wrong elements when an axis is shrunk and another has a stride other
 * than 1, fails on empty results, and on WASM returns int32 data as float32 bits.
 */
function sliceBy(x: tf.Tensor, a: SliceAttrs): tf.Tensor {
  const { begin, end, strides, finalShape } = sliceInfoOf(x.shape, a);
  if (finalShape.includes(0)) return tf.zeros(finalShape, x.dtype);
  return tf.tidy(() => {
    let y = x;
    x.shape.forEach((n, i) => {
      const size = Math.max(0, Math.ceil((end[i] - begin[i]) / strides[i]));
      if (size === n && begin[i] === 0 && strides[i] === 1) return;
      const at = Array.from({ length: size }, (_, k) => begin[i] + k * strides[i]);
      y = tf.gather(y, tf.tensor1d(at, "int32"), i);
    });
    return tf.reshape(y, finalShape);
  });
}

/** Adds `updates` into zeros of `shape` at int32 `indices` (the eager `ScatterNd`). */
function scatterInto(indices: tf.Tensor, updates: tf.Tensor, shape: number[]): tf.Tensor {
  if (updates.size === 0) return tf.zeros(shape, updates.dtype);
  return tf.scatterND(indices, updates, shape);
}

// ---------------------------------------------------------------- GatherNd, ScatterNd

/** The static rank and inner dimension of int32 `indices`, or a GraphError. */
function indexDepth(op: string, indices: SymbolicTensor): number {
  const depth = indices.unknownRank ? null : indices.shape[indices.rank - 1];
  if (indices.dtype !== "int32") {
    throw new GraphError(`${op}: the indices ${indices.toString()} must be int32`);
  }
  if (depth === null || depth === undefined) {
    throw new ShapeError(
      `${op}: the last dimension of the indices ${indices.toString()} must be known`,
    );
  }
  return depth;
}

/**
 * The slices of `params` at int32 `indices` (`GatherNd`, `tf.gather_nd`): the
 * last dimension of `indices` indexes the leading axes of `params`; the output
 * is `indices.shape[:-1] + params.shape[depth:]`.
 */
export function gatherNd(params: TensorLike, indices: TensorLike, name?: string): SymbolicTensor {
  const sp = toSymbolic(params);
  const si = toSymbolic(indices, "int32");
  const depth = indexDepth("GatherNd", si);
  if (sp.unknownRank || depth > sp.rank) {
    throw new ShapeError(
      `GatherNd: indices ${si.toString()} index ${depth} axes of ${sp.toString()}, which ` +
        `must have known rank of at least ${depth}`,
    );
  }
  const shape = [...si.shape.slice(0, -1), ...sp.shape.slice(depth)];
  return addOp("GatherNd", [sp, si], {}, [{ dtype: sp.dtype, shape }], name).output;
}

/**
 * Zeros of `shape` with `updates` added at int32 `indices` (`ScatterNd`,
 * `tf.scatter_nd`; duplicate indices add up). `shape` is a list or an int32
 * vector tensor such as `shapeOf(y)`.
 */
export function scatterNd(
  indices: TensorLike,
  updates: TensorLike,
  shape: number[] | SymbolicTensor,
  name?: string,
): SymbolicTensor {
  const si = toSymbolic(indices, "int32");
  const su = toSymbolic(updates);
  indexDepth("ScatterNd", si);
  let st: SymbolicTensor, out: Shape;
  if (Array.isArray(shape)) {
    st = constant(shape, "int32", "ScatterNd/shape");
    out = [...shape];
  } else {
    st = shape;
    out = st.op.type === "Shape" ? [...st.op.inputs[0].shape] : Array(st.shape[0] ?? 0).fill(null);
  }
  return addOp("ScatterNd", [si, su, st], {}, [{ dtype: su.dtype, shape: out }], name).output;
}

// ---------------------------------------------------------------- TopK

/**
 * The `k` largest entries along the last axis of `x` and their int32 indices
 * (`TopKV2`, `tf.math.top_k`): sorted largest first, equal values by lower
 * index first.
 */
export function topK(
  x: TensorLike,
  k = 1,
  sorted = true,
  name?: string,
): [SymbolicTensor, SymbolicTensor] {
  const sx = toSymbolic(x);
  if (sx.unknownRank || sx.rank < 1) {
    throw new ShapeError(`TopKV2: ${sx.toString()} must have a known rank of at least 1`);
  }
  const n = sx.shape[sx.rank - 1];
  if (!Number.isInteger(k) || k < 0 || (n !== null && k > n)) {
    throw new ShapeError(
      `TopKV2: k = ${k} must be an integer from 0 to the last dimension of ${sx.toString()}`,
    );
  }
  const shape = [...sx.shape.slice(0, -1), k];
  const op = addOp("TopKV2", [sx], { k, sorted }, [
    { dtype: sx.dtype, shape },
    { dtype: "int32", shape: [...shape] },
  ], name);
  return [op.outputs[0], op.outputs[1]];
}

/**
 * TF's `_TopKGrad`: each value's gradient goes to the input position it came
 * from: the indices made flat (row offsets added), then a `ScatterNd` into a
 * vector of `x`'s size, reshaped to `x`'s shape.
 */
function topKGrad(op: Operation, [dy]: SymbolicTensor[]): (SymbolicTensor | null)[] {
  const [x] = op.inputs;
  const k = op.attrs.k as number;
  const n = x.shape[x.rank - 1];
  if (n === null) {
    throw new GraphError(
      `the gradient of TopKV2: the last dimension of ${x.toString()} is unknown`,
    );
  }
  if (k === 0) return [zerosLike(x)];
  const rows = reshape(op.outputs[1], [-1, k]);
  const offsets = mul(cumsum(onesLike(slice(rows, [0, 0], [-1, 1])), 0, true), n); // 0, n, 2n, ...
  const flat = reshape(add(rows, offsets), [-1, 1]);
  const scattered = scatterNd(flat, reshape(dy, [-1]), reshape(size(x), [1]));
  return [reshape(scattered, shapeOf(x))];
}

// ---------------------------------------------------------------- MirrorPad

type MirrorMode = "reflect" | "symmetric";

/**
 * `x` padded by mirroring (`MirrorPad`, `tf.pad` with mode `REFLECT` or
 * `SYMMETRIC`): `paddings[i] = [before, after]` along axis `i`; `reflect` does
 * not repeat the border element (`[1, 2, 3]` → `[2, 1, 2, 3, 2]`), `symmetric`
 * does (`[1, 1, 2, 3, 3]`). Paddings may be at most `dim - 1` (reflect) or
 * `dim` (symmetric), as in TF.
 */
export function mirrorPad(
  x: TensorLike,
  paddings: [number, number][],
  mode: MirrorMode,
  name?: string,
): SymbolicTensor {
  const sx = toSymbolic(x);
  if (mode !== "reflect" && mode !== "symmetric") {
    throw new GraphError(`MirrorPad: mode must be "reflect" or "symmetric", got ${mode}`);
  }
  if (sx.unknownRank || paddings.length !== sx.rank) {
    throw new ShapeError(`MirrorPad: paddings need one pair per axis of ${sx.toString()}`);
  }
  const most = (d: number) => mode === "reflect" ? d - 1 : d;
  paddings.forEach(([b, a], i) => {
    const d = sx.shape[i];
    if (b < 0 || a < 0 || (d !== null && (b > most(d) || a > most(d)))) {
      throw new ShapeError(
        `MirrorPad: paddings [${b}, ${a}] of axis ${i} of ${sx.toString()} must be from 0 to ` +
          `${d === null ? "the dimension" : most(d)} in ${mode.toUpperCase()} mode`,
      );
    }
  });
  const shape = sx.shape.map((d, i) => d === null ? null : d + paddings[i][0] + paddings[i][1]);
  return addOp("MirrorPad", [sx], { paddings, mode: mode.toUpperCase() }, [{
    dtype: sx.dtype,
    shape,
  }], name).output;
}

/** TF's `MirrorPadGrad`: `dy` with its padded borders folded back onto what they mirror. */
function mirrorPadGrad(dy: SymbolicTensor, attrs: Operation["attrs"]): SymbolicTensor {
  const p = attrs.paddings as [number, number][];
  const shape = dy.shape.map((d, i) => d === null ? null : d - p[i][0] - p[i][1]);
  return addOp("MirrorPadGrad", [dy], attrs, [{ dtype: dy.dtype, shape }]).output;
}

/** The eager `MirrorPadGrad`: for each axis, the borders reversed and added where they came from. */
function foldBorders(dy: tf.Tensor, paddings: [number, number][], mode: string): tf.Tensor {
  return tf.tidy(() => {
    const off = mode === "REFLECT" ? 1 : 0;
    let g = dy;
    paddings.forEach(([before, after], axis) => {
      const n = g.shape[axis] - before - after;
      const part = (at: number, len: number) =>
        tf.slice(
          g,
          g.shape.map((_, i) => i === axis ? at : 0),
          g.shape.map((d, i) => i === axis ? len : d),
        );
      const placed = (t: tf.Tensor, lead: number) =>
        tf.pad(
          tf.reverse(t, axis),
          g.shape.map((_, i) => i === axis ? [lead, n - lead - t.shape[axis]] : [0, 0]) as [
            number,
            number,
          ][],
        );
      let core = part(before, n);
      if (before > 0) core = tf.add(core, placed(part(0, before), off));
      if (after > 0) core = tf.add(core, placed(part(before + n, after), n - off - after));
      g = core;
    });
    return g;
  });
}

// ---------------------------------------------------------------- einsum

/** An einsum equation's operand terms and output term (TF's implicit output when no `->`). */
function parseEquation(equation: string, operands: number): { terms: string[]; out: string } {
  const eq = equation.replace(/\s/g, "");
  const bad = (why: string): never => {
    throw new GraphError(`einsum "${equation}": ${why}`);
  };
  if (eq.includes(".")) bad("the ellipsis (...) is not supported (nor by tfjs's tf.einsum)");
  const [lhs, out, ...more] = eq.split("->");
  if (more.length > 0) bad('more than one "->"');
  const terms = lhs.split(",");
  if (terms.length !== operands) bad(`${terms.length} operand terms for ${operands} tensors`);
  if (operands < 1 || operands > 2) bad("one or two operands are supported (as tfjs's tf.einsum)");
  for (const t of [...terms, out ?? ""]) {
    if (!/^[a-zA-Z]*$/.test(t)) bad(`"${t}" is not a term of letters`);
    if (new Set(t).size !== t.length) bad(`the letter repeated in "${t}" is not supported`);
  }
  const all = terms.join("");
  if (out === undefined) { // TF's implicit mode: the letters that occur once, sorted
    return {
      terms,
      out: [...new Set(all)].filter((c) => all.split(c).length === 2).sort().join(""),
    };
  }
  for (const c of out) if (!all.includes(c)) bad(`the output letter ${c} is in no operand`);
  return { terms, out };
}

/** `x` with the letters of `term` not in `keep` summed out: the new term and tensor. */
function sumOut(x: SymbolicTensor, term: string, keep: string): [SymbolicTensor, string] {
  const axes = [...term].flatMap((c, i) => keep.includes(c) ? [] : [i]);
  if (axes.length === 0) return [x, term];
  return [reduceSum(x, axes), [...term].filter((c) => keep.includes(c)).join("")];
}

/** `x` (of letters `from`) transposed to the letter order `to`. */
function permute(x: SymbolicTensor, from: string, to: string): SymbolicTensor {
  const perm = [...to].map((c) => from.indexOf(c));
  return perm.every((p, i) => p === i) ? x : transpose(x, perm);
}

/**
 * Sums of products over the letters of `equation` (`tf.einsum`, TF's
 * `tf.einsum`): `"ij,jk->ik"` is a matrix product, `"bij,bjk->bik"` a batched
 * one, `"ij->ji"` a transpose, `"ij->"` a sum, `"i,j->ij"` an outer product.
 * Built from `Sum`, `Transpose`, `Reshape` and `MatMul`/`BatchMatMulV2` ops.
 */
export function einsum(equation: string, ...operands: TensorLike[]): SymbolicTensor {
  const xs = operands.map((x) => toSymbolic(x));
  const { terms, out } = parseEquation(equation, xs.length);
  const sizes = new Map<string, number | null>();
  xs.forEach((x, k) => {
    if (x.unknownRank || x.rank !== terms[k].length) {
      throw new ShapeError(
        `einsum "${equation}": ${x.toString()} needs rank ${terms[k].length} for "${terms[k]}"`,
      );
    }
    [...terms[k]].forEach((c, i) => {
      const [had, d] = [sizes.get(c), x.shape[i]];
      if (had != null && d !== null && had !== d) {
        throw new ShapeError(
          `einsum "${equation}": the letter ${c} is ${had} in one operand and ${d} in another`,
        );
      }
      if (had == null) sizes.set(c, d);
    });
  });
  if (xs.length === 1) {
    const [y, term] = sumOut(xs[0], terms[0], out);
    return permute(y, term, out);
  }
  // Letters only one operand has and the output lacks are summed out first.
  const [ta, tb] = terms;
  const [a, sa] = sumOut(xs[0], ta, out + tb);
  const [b, sb] = sumOut(xs[1], tb, out + ta);
  const batch = [...sa].filter((c) => sb.includes(c) && out.includes(c)).join("");
  const contracted = [...sa].filter((c) => sb.includes(c) && !out.includes(c)).join("");
  const keptA = [...sa].filter((c) => !sb.includes(c)).join("");
  const keptB = [...sb].filter((c) => !sa.includes(c)).join("");
  // Reshape targets: a letter's size, or the product of a group's (-1 for the one unknown).
  const dim = (c: string) => sizes.get(c) ?? null;
  const product = (g: string) =>
    [...g].reduce<number | null>((p, c) => p === null || dim(c) === null ? null : p * dim(c)!, 1);
  const target = (dims: (number | null)[]): number[] => {
    if (dims.filter((d) => d === null).length > 1) {
      throw new ShapeError(
        `einsum "${equation}": more than one unknown dimension in a reshape of its operands ` +
          `or result; give the inputs static shapes`,
      );
    }
    return dims.map((d) => d ?? -1);
  };
  const group = (...gs: string[]) => target([...[...batch].map(dim), ...gs.map(product)]);
  const am = reshape(permute(a, sa, batch + keptA + contracted), group(keptA, contracted));
  const bm = reshape(permute(b, sb, batch + contracted + keptB), group(contracted, keptB));
  const prod = batch.length === 0 ? matMul(am, bm) : batchMatMul(am, bm);
  const full = batch + keptA + keptB;
  const y = reshape(prod, target([...full].map(dim)));
  return permute(y, full, out);
}

// ---------------------------------------------------------------- kernels

const sliceAttrs = (op: Operation) => op.attrs as unknown as SliceAttrs;

Object.assign(
  kernels,
  {
    StridedSlice: ([x], op) => [sliceBy(x, sliceAttrs(op))],
    // The flat positions the slice takes (a strided slice of 0, 1, 2, ...), dy added there.
    StridedSliceGrad: ([shape, dy], op) => [tf.tidy(() => {
      const s = Array.from(shape.dataSync());
      const n = s.reduce((p, d) => p * d, 1);
      const at = sliceBy(tf.reshape(tf.range(0, n, 1, "int32"), s), sliceAttrs(op));
      return tf.reshape(scatterInto(tf.reshape(at, [-1, 1]), tf.reshape(dy, [-1]), [n]), s);
    })],
    GatherNd: ([params, indices]) => [tf.gatherND(params, indices)],
    ScatterNd: ([indices, updates, shape]) => [
      scatterInto(indices, updates, Array.from(shape.dataSync())),
    ],
    TopKV2: ([x], op) => {
      const { values, indices } = tf.topk(x, op.attrs.k as number, op.attrs.sorted as boolean);
      return [values, indices];
    },
    MirrorPad: ([x], op) => [
      tf.mirrorPad(
        x,
        op.attrs.paddings as [number, number][],
        (op.attrs.mode as string).toLowerCase() as MirrorMode,
      ),
    ],
    MirrorPadGrad: ([dy], op) => [
      foldBorders(dy, op.attrs.paddings as [number, number][], op.attrs.mode as string),
    ],
  } satisfies Record<string, Kernel>,
);

// ---------------------------------------------------------------- gradients

Object.assign(
  gradFns,
  {
    StridedSlice: (op, [dy]) => {
      const x = op.inputs[0];
      return [stridedSliceGrad(shapeOf(x), x, dy, op.attrs)];
    },
    // TF's _StridedSliceGradGrad: the same slice of the incoming gradient; none for the shape.
    StridedSliceGrad: (op, [g]) => {
      const a = sliceAttrs(op);
      return [
        null,
        stridedSlice(g, a.begin, a.end, a.strides, {
          beginMask: a.begin_mask,
          endMask: a.end_mask,
          ellipsisMask: a.ellipsis_mask,
          newAxisMask: a.new_axis_mask,
          shrinkAxisMask: a.shrink_axis_mask,
        }),
      ];
    },
    GatherNd: ({ inputs: [params, indices] }, [dy]) => [
      scatterNd(indices, dy, shapeOf(params)),
      null,
    ],
    ScatterNd: ({ inputs: [indices] }, [dy]) => [null, gatherNd(dy, indices), null],
    TopKV2: topKGrad,
    MirrorPad: (op, [dy]) => [mirrorPadGrad(dy, op.attrs)],
    // TF's _MirrorPadGradGrad: MirrorPadGrad is linear, and its transpose is MirrorPad.
    MirrorPadGrad: (op, [g]) => [
      mirrorPad(
        g,
        op.attrs.paddings as [number, number][],
        (op.attrs.mode as string).toLowerCase() as MirrorMode,
      ),
    ],
  } satisfies Record<string, GradFn | null>,
);
