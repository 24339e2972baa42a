// tf.stridedSlice, tf.gatherND, tf.scatterND, tf.topk, tf.mirrorPad and tf.einsum inside traced
// functions, written from TensorFlow's API docs (tf.strided_slice, tf.gather_nd, tf.scatter_nd,
// tf.math.top_k, tf.pad with mode REFLECT/SYMMETRIC, tf.einsum) and the gradients of
// array_grad.py, nn_grad.py and special_math_ops.py (StridedSliceGrad, _GatherNdGrad,
// _ScatterNdGrad, _TopKGrad, MirrorPadGrad, _EinsumGrad). Traced values equal the eager op's
// exactly (or a reference computed here where tfjs has no eager kernel); gradients from a
// GradientTape inside the trace equal closed forms computed here, second derivatives too.
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../lib/backend.ts";
import { tfFunction } from "../lib/function.ts";
import { GradientTape } from "../lib/tape.ts";
import * as v1 from "../lib/v1/mod.ts";
import { opTypes, sameAsEager, value } from "./_graph_ops.ts";

await initBackend();

type Fn = (x: tf.Tensor) => tf.Tensor;

function assertClose(got: number[], want: number[], label: string, tol = 1e-5): void {
  const close = (v: number, i: number) => Math.abs(v - want[i]) <= tol * (1 + Math.abs(want[i]));
  assert.ok(got.length === want.length && got.every(close), `${label}: ${got} vs ${want}`);
}

/** The gradient of `sum(c · fn(x))` and the Hessian-vector product of `sum(fn(x)²)` with `v`, from tapes in one trace. */
function tracedGrads(fn: Fn, x: tf.Tensor, c: tf.Tensor, v: tf.Tensor): [number[], number[]] {
  const f = tfFunction((t: tf.Tensor) => {
    const tape = new GradientTape();
    tape.watch(t);
    const y = tape.record(() => tf.sum(tf.mul(fn(t), c)));
    const outer = new GradientTape();
    outer.watch(t);
    const gv = outer.record(() => {
      const inner = new GradientTape();
      inner.watch(t);
      const y2 = inner.record(() => tf.sum(tf.square(fn(t))));
      return tf.sum(tf.mul(inner.gradient(y2, t) as tf.Tensor, v));
    });
    return [tape.gradient(y, t), outer.gradient(gv, t)] as tf.Tensor[];
  }, { autograph: false });
  const out = f(x) as tf.Tensor[];
  const values = out.map((t) => value(t)) as [number[], number[]];
  tf.dispose(out);
  f.dispose();
  return values;
}

/** Asserts that `fn` traced, with a tape's gradient, leaves tf.memory flat across three more calls. */
function flatMemory(fn: Fn, x: tf.Tensor): void {
  const f = tfFunction((t: tf.Tensor) => {
    const tape = new GradientTape();
    tape.watch(t);
    const y = tape.record(() => fn(t));
    return [y, tape.gradient(tape.record(() => tf.sum(y)), t)] as tf.Tensor[];
  }, { autograph: false });
  const first = f(x) as tf.Tensor[];
  assert.ok(first[1] !== null, "a gradient");
  tf.dispose(first);
  const before = tf.memory().numTensors;
  for (let i = 0; i < 3; i++) tf.dispose(f(x) as tf.Tensor[]);
  assert.equal(tf.memory().numTensors, before);
  f.dispose();
}

/** Asserts that `fn` traced raises `type` with `pattern` at every call, leaking nothing. */
function raises(fn: Fn, x: tf.Tensor, type: typeof v1.GraphError, pattern: RegExp): void {
  const f = tfFunction(fn, { autograph: false });
  const before = tf.memory().numTensors;
  for (let i = 0; i < 2; i++) {
    assert.throws(() => f(x), (e: Error) => e instanceof type && pattern.test(e.message));
  }
  assert.equal(tf.memory().numTensors, before, "failing calls leak nothing");
  f.dispose();
}

/**
 * Where each element of `fn(x)` comes from: `fn` applied eagerly to the flat positions
 * 0, 1, 2, ... of `shape` (an index map, computed by tfjs's own eager op).
 */
function positions(fn: (t: tf.Tensor) => tf.Tensor, shape: number[]): number[] {
  const n = shape.reduce((p, d) => p * d, 1);
  return tf.tidy(() => value(fn(tf.reshape(tf.range(0, n), shape))));
}

/** Adds `w[k]` at `at[k]` into zeros of length `n` (the closed form of a gather's gradient). */
function scatterAdd(at: number[], w: number[], n: number): number[] {
  const out = new Array(n).fill(0);
  at.forEach((i, k) => out[i] += w[k]);
  return out;
}

const seq = (n: number, f: (i: number) => number) => Array.from({ length: n }, (_, i) => f(i));

/** The shape of `fn(x)` run eagerly. */
function shapeOf(fn: Fn, x: tf.Tensor): number[] {
  const y = fn(x);
  const shape = y.shape;
  y.dispose();
  return shape;
}

// ---------------------------------------------------------------- StridedSlice

const X3 = () => tf.tensor(seq(24, (i) => (i * 7) % 11 - 5 + i / 10), [3, 4, 2]);

/**
 * Strided slices of a [3, 4, 2] tensor, with the Python slice each one is, and where tfjs's
 * eager kernel gets it wrong (a shrunk axis with a stride other than 1 elsewhere), the same
 * slice written with tf.slice, tf.reverse and tf.reshape.
 */
const slices: [string, Fn, Fn?][] = [
  ["x[0:2, 1:3, 0:2]", (t) => tf.stridedSlice(t, [0, 1, 0], [2, 3, 2], [1, 1, 1])],
  ["x[::-1, 3:0:-2] (negative strides)", (t) => tf.stridedSlice(t, [0, 3], [0, 0], [-1, -2], 1, 1)],
  ["x[-1:-4:-1, ::3]", (t) => tf.stridedSlice(t, [-1, 0], [-4, 0], [-1, 3], 0, 2)],
  [
    "x[..., 1] (ellipsis, shrink)",
    (t) => tf.stridedSlice(t, [0, 1], [0, 2], [1, 1], 0, 0, 1, 0, 2),
  ],
  [
    "x[1, ..., ::-1] (ellipsis in the middle, shrink and a negative stride)",
    (t) => tf.stridedSlice(t, [1, 0, 0], [2, 0, 0], [1, 1, -1], 4, 4, 2, 0, 1),
    (t) => tf.reverse(tf.reshape(tf.slice(t, [1, 0, 0], [1, 4, 2]), [4, 2]), 1),
  ],
  [
    "x[::2, 1] (shrink after a stride of 2)",
    (t) => tf.stridedSlice(t, [0, 1], [0, 2], [2, 1], 1, 1, 0, 0, 2),
    (t) =>
      tf.reshape(
        tf.concat([tf.slice(t, [0, 1, 0], [1, 1, 2]), tf.slice(t, [2, 1, 0], [1, 1, 2])]),
        [2, 2],
      ),
  ],
  [
    "x[:, tf.newaxis, 1:3] (new axis)",
    (t) => tf.stridedSlice(t, [0, 0, 1], [0, 0, 3], [1, 1, 1], 1, 1, 0, 2),
  ],
  [
    "x[1, -1] (two shrunk axes, negative index)",
    (t) => tf.stridedSlice(t, [1, -1], [2, 0], [1, 1], 0, 0, 0, 0, 3),
  ],
  ["x[-10:10] (out of range: clamped)", (t) => tf.stridedSlice(t, [-10], [10], [1])],
  ["x[1:] with the strides left out", (t) => tf.stridedSlice(t, [1], [0], undefined, 0, 1)],
];

Deno.test("tf.function: tf.stridedSlice is a StridedSlice graph op equal to eager exactly (tf.strided_slice: begin/end/strides, negative strides, beginMask/endMask, ellipsisMask, newAxisMask, shrinkAxisMask, out-of-range bounds clamped)", () => {
  const xs = [X3(), tf.tensor(seq(24, (i) => i * i - 30), [3, 4, 2])];
  for (const [label, fn, ref] of slices) {
    if (!ref) {
      sameAsEager(label, fn, "StridedSlice", xs);
      continue;
    }
    // TF's result, where tfjs's eager kernel reads the wrong elements (or fails).
    const f = tfFunction(fn, { autograph: false });
    for (const x of xs) {
      const traced = f(x) as tf.Tensor;
      const want: tf.Tensor = tf.tidy(() => ref(x));
      assert.deepEqual(traced.shape, want.shape, label);
      assert.deepEqual(value(traced), value(want), label);
      let eager: number[] | Error;
      try {
        eager = tf.tidy(() => value(fn(x)));
      } catch (e) {
        eager = e as Error;
      }
      assert.notDeepEqual(eager, value(want), `${label}: tfjs's eager kernel differs`);
      tf.dispose([traced, want]);
    }
    f.dispose();
  }
  // tf.Tensor's method is the same op.
  sameAsEager("x.stridedSlice", (t) => t.stridedSlice([0, 1], [3, 4], [2, 2]), "StridedSlice", xs);
  // int32 tensors slice to int32, as in TF, every value exact (tfjs's WASM kernel returns int32
  // bits read as float32 for strided int32 slices: the reference is the float32 slice).
  const ints = [tf.tensor(seq(24, (i) => i * 99991 - 1234567), [3, 4, 2], "int32")];
  for (const [label, fn, ref] of slices) {
    const f = tfFunction(fn, { autograph: false });
    const traced = f(ints[0]) as tf.Tensor;
    const slice: Fn = ref ?? fn;
    const want = tf.tidy(() => slice(tf.cast(ints[0], "float32")));
    assert.equal(traced.dtype, "int32", label);
    assert.deepEqual(traced.shape, want.shape, label);
    assert.deepEqual(value(traced), value(want), label);
    tf.dispose([traced, want]);
    f.dispose();
  }
  tf.dispose([...xs, ...ints]);
});

Deno.test("tf.function: a strided slice's static shape is TF's: unknown dimensions stay unknown (x[:, 1] of a [None, 4] tensor is (None,), x[1:3] of [None] is (None,)), known ones are exact, shrunk and new axes counted", () => {
  const g = new v1.Graph();
  g.asDefault(() => {
    const x = v1.placeholder("float32", [null, 4], "x");
    assert.deepEqual(
      v1.stridedSlice(x, [0, 1], [0, 2], [1, 1], { beginMask: 1, endMask: 1, shrinkAxisMask: 2 })
        .shape,
      [null],
    );
    assert.deepEqual(v1.stridedSlice(x, [1], [3], [1]).shape, [null, 4]);
    assert.deepEqual(
      v1.stridedSlice(x, [0, 3], [0, 0], [1, -2], { beginMask: 1, endMask: 3 }).shape,
      [null, 2],
    );
    assert.deepEqual(
      v1.stridedSlice(x, [0, 0], [0, 0], [1, 1], { ellipsisMask: 1, newAxisMask: 2 }).shape,
      [null, 4, 1],
    );
    assert.deepEqual(v1.stridedSlice(x, [2, 0], [3, 4], [1, 1], { shrinkAxisMask: 1 }).shape, [4]);
  });
  // Traced with an unknown batch, the values still equal eager.
  const f = tfFunction((t: tf.Tensor) => tf.stridedSlice(t, [0, 3], [0, 0], [1, -2], 1, 3), {
    inputSignature: [{ shape: [null, 4] }],
    autograph: false,
  });
  for (const rows of [1, 3]) {
    const x = tf.tensor(seq(rows * 4, (i) => i - 2), [rows, 4]);
    const [traced, eager] = [f(x) as tf.Tensor, tf.stridedSlice(x, [0, 3], [0, 0], [1, -2], 1, 3)];
    assert.deepEqual(traced.shape, eager.shape);
    assert.deepEqual(value(traced), value(eager));
    tf.dispose([x, traced, eager]);
  }
  assert.equal(f.traceCount, 1);
  f.dispose();
});

Deno.test("tf.function: the gradient of tf.stridedSlice is TF's StridedSliceGrad (dy where the slice took each element, zeros elsewhere, for every mask and negative strides), and its second derivative the StridedSlice of the incoming gradient (TF's _StridedSliceGradGrad)", () => {
  const x = X3();
  const xv = value(x);
  for (const [label, fn, ref] of slices) {
    const at = positions(ref ?? fn, [3, 4, 2]);
    const c = tf.tensor(seq(at.length, (i) => i + 1.5), shapeOf(fn, x));
    const v = tf.tensor(seq(24, (i) => (i % 5) - 2), [3, 4, 2]);
    const [g, hv] = tracedGrads(fn, x, c, v);
    // d sum(c·x[slice])/dx = c at the sliced positions; d²sum(x[slice]²) · v = 2·v there.
    assertClose(g, scatterAdd(at, value(c), 24), `${label}: gradient`);
    const vv = value(v);
    assertClose(hv, scatterAdd(at, at.map((i) => 2 * vv[i]), 24), `${label}: second derivative`);
    tf.dispose([c, v]);
  }
  // Finite differences agree for one slice (the closed form above is not the only check).
  const fn = slices[1][1];
  const loss = (t: tf.Tensor) => tf.sum(tf.square(fn(t)));
  const f = tfFunction((t: tf.Tensor) => {
    const tape = new GradientTape();
    tape.watch(t);
    const y = tape.record(() => loss(t));
    return tape.gradient(y, t) as tf.Tensor;
  }, { autograph: false });
  const dx = f(x) as tf.Tensor;
  const h = 1e-2;
  const fd = xv.map((_, k) =>
    tf.tidy(() => {
      const bump = (d: number) => loss(tf.tensor(xv.map((w, i) => i === k ? w + d : w), [3, 4, 2]));
      return (bump(h).dataSync()[0] - bump(-h).dataSync()[0]) / (2 * h);
    })
  );
  assertClose(value(dx), fd, "finite differences", 2e-2);
  tf.dispose([dx, x]);
  f.dispose();
  // tfjs has no eager gradient for StridedSlice at all.
  assert.throws(() => tf.tidy(() => tf.grad((t) => tf.sum(fn(t)))(X3())), /gradient/i);
});

Deno.test("tf.function: an empty strided slice (x[2:1], x[:, 3:1]) is an empty tensor of TF's shape, where tfjs's eager kernels fail, and its gradient is zeros", () => {
  const x = X3();
  assert.throws(() => tf.tidy(() => tf.stridedSlice(x, [2], [1], [1])), /Size\(8\) must match/);
  const cases: [Fn, number[]][] = [
    [(t) => tf.stridedSlice(t, [2], [1], [1]), [0, 4, 2]],
    [(t) => tf.stridedSlice(t, [0, 3], [0, 1], [1, 1], 1, 1), [3, 0, 2]],
  ];
  for (const [fn, shape] of cases) {
    const f = tfFunction((t: tf.Tensor) => {
      const tape = new GradientTape();
      tape.watch(t);
      const y = tape.record(() => fn(t));
      return [y, tape.gradient(tape.record(() => tf.sum(y)), t)] as tf.Tensor[];
    }, { autograph: false });
    const [y, g] = f(x) as tf.Tensor[];
    assert.deepEqual(y.shape, shape);
    assert.equal(y.dtype, "float32");
    assert.deepEqual(g.shape, [3, 4, 2]);
    assert.deepEqual(value(g), new Array(24).fill(0));
    tf.dispose([y, g]);
    f.dispose();
  }
  x.dispose();
});

Deno.test("tf.function: tf.stridedSlice raises a GraphError where TF raises (two ellipses in one spec, a zero stride, a shrunk index out of range), at every call, leaking nothing", () => {
  const x = X3();
  const bad: [string, Fn, RegExp][] = [
    ["two ellipses", (t) => tf.stridedSlice(t, [0, 0], [0, 0], [1, 1], 0, 0, 3), /ellipses/],
    ["a zero stride", (t) => tf.stridedSlice(t, [0], [2], [0]), /non-zero/],
    ["x[3] of 3 rows", (t) => tf.stridedSlice(t, [3], [4], [1], 0, 0, 0, 0, 1), /out of bounds/],
  ];
  for (const [label, fn, pattern] of bad) {
    assert.throws(() => tf.tidy(() => fn(x)), Error, `${label}: eagerly too`);
    raises(fn, x, v1.GraphError, pattern);
  }
  flatMemory(slices[4][1], x);
  x.dispose();
});

// ---------------------------------------------------------------- GatherNd, ScatterNd

const P = () => tf.tensor(seq(12, (i) => i * 1.5 - 4), [3, 4]);

Deno.test("tf.function: tf.gatherND is a GatherNd graph op equal to eager (tf.gather_nd: index vectors along the last axis of indices pick elements or slices, batched indices too)", () => {
  const xs = [P(), tf.tensor(seq(12, (i) => 10 - i * i / 4), [3, 4])];
  const cases: [string, number[][] | number[][][], Fn?][] = [
    ["elements [[0, 1], [2, 3]]", [[0, 1], [2, 3]]],
    ["rows [[1], [0]]", [[1], [0]]],
    ["batched [[[0, 0]], [[2, 1]]]", [[[0, 0]], [[2, 1]]]],
    ["duplicates [[0, 1], [0, 1], [2, 3]]", [[0, 1], [0, 1], [2, 3]]],
  ];
  for (const [label, idx] of cases) {
    sameAsEager(label, (t) => tf.gatherND(t, idx), "GatherNd", xs);
  }
  // On a 3-D tensor: index depth 2 picks rows of the last axis.
  const x3 = [tf.reshape(xs[0], [3, 2, 2])];
  sameAsEager("depth 2 of rank 3", (t) => tf.gatherND(t, [[2, 1], [0, 0]]), "GatherNd", x3);
  tf.dispose([...xs, ...x3]);
});

Deno.test("tf.function: the gradient of tf.gatherND is TF's _GatherNdGrad, a ScatterNd of dy into params' shape, so duplicate indices add up; its second derivative (TF's _ScatterNdGrad, a GatherNd) too", () => {
  const x = P();
  const cases: [string, number[][]][] = [
    ["elements with duplicates", [[0, 1], [0, 1], [2, 3], [0, 1]]],
    ["rows with duplicates", [[1], [1], [0]]],
  ];
  for (const [label, idx] of cases) {
    const fn: Fn = (t) => tf.gatherND(t, idx);
    const at = positions(fn, [3, 4]);
    const c = tf.tensor(seq(at.length, (i) => i + 1), shapeOf(fn, x));
    const v = tf.tensor(seq(12, (i) => (i % 3) - 1), [3, 4]);
    const [g, hv] = tracedGrads(fn, x, c, v);
    assertClose(g, scatterAdd(at, value(c), 12), `${label}: gradient`);
    const vv = value(v);
    assertClose(hv, scatterAdd(at, at.map((i) => 2 * vv[i]), 12), `${label}: second derivative`);
    tf.dispose([c, v]);
  }
  flatMemory((t) => tf.gatherND(t, [[0, 1], [0, 1]]), x);
  x.dispose();
});

Deno.test("tf.function: tf.scatterND is a ScatterNd graph op equal to eager (tf.scatter_nd: updates added into zeros, duplicates summed), and its gradient to the updates is TF's _ScatterNdGrad (a GatherNd of dy)", () => {
  const idx = [[1, 0], [2, 3], [1, 0]];
  const fn: Fn = (u) => tf.scatterND(idx, u, [3, 4]);
  const us = [tf.tensor([1, -2, 3.5]), tf.tensor([0.5, 4, -1])];
  sameAsEager("scatterND", fn, "ScatterNd", us);
  const rows = tf.tensor([[1, 2], [3, 4]]);
  sameAsEager("scatterND of rows", (u) => tf.scatterND([[2], [0]], u, [3, 2]), "ScatterNd", [rows]);
  const c = tf.tensor(seq(12, (i) => i - 3), [3, 4]);
  const [g] = tracedGrads(fn, us[0], c, tf.zerosLike(us[0]));
  const cv = value(c);
  assertClose(g, [cv[4], cv[11], cv[4]], "d sum(c·scatter(u))/du = c at each update's index");
  flatMemory(fn, us[0]);
  tf.dispose([...us, c, rows]);
});

// ---------------------------------------------------------------- TopK

Deno.test("tf.function: tf.topk is a TopKV2 graph op whose values and int32 indices equal eager (tf.math.top_k: the k largest along the last axis, sorted, equal elements lower index first; k = 1, k = the last dimension, rank 1 to 3)", () => {
  const xs = [
    tf.tensor([[1, 5, 2, 5, -3], [0, 0, 7, -1, 2]]),
    tf.tensor([[3, -2, 3, 9, 0.5], [4, 4, 4, 4, 4]]),
  ];
  for (const k of [1, 3, 5]) {
    sameAsEager(`k = ${k} values`, (t) => tf.topk(t, k).values, "TopKV2", xs);
    sameAsEager(`k = ${k} indices`, (t) => tf.topk(t, k).indices, "TopKV2", xs);
  }
  // TF's documented example of ties: the lower index first.
  const ties = tf.tensor([1, 1, 0, 1, 0, 1, 0, 0, 1, 0, 0, 0, 1, 0]);
  const f = tfFunction((t: tf.Tensor) => tf.topk(t, 3).indices, { autograph: false });
  const got = f(ties) as tf.Tensor;
  assert.equal(got.dtype, "int32");
  assert.deepEqual(value(got), [0, 1, 3]);
  const r3 = [tf.reshape(tf.tensor(seq(24, (i) => (i * 5) % 7)), [2, 3, 4])];
  sameAsEager("rank 3 values", (t) => tf.topk(t, 2).values, "TopKV2", r3);
  sameAsEager("rank 3 indices", (t) => tf.topk(t, 2).indices, "TopKV2", r3);
  tf.dispose([...xs, ties, got, ...r3]);
  f.dispose();
});

Deno.test("tf.function: the gradient of tf.topk's values is TF's _TopKGrad (each value's gradient scattered to the input position it came from, zeros elsewhere), an unknown batch size included; the indices have none", () => {
  const x = tf.tensor([[1, 5, 2, 4, -3], [0, 6, 7, -1, 2], [3, 3, 1, 3, 0]]);
  for (const k of [1, 2, 5]) {
    const fn: Fn = (t) => tf.topk(t, k).values;
    const at = value(
      tf.tidy(() => tf.add(tf.topk(x, k).indices, tf.tensor([[0], [5], [10]], undefined, "int32"))),
    );
    const c = tf.tensor(seq(3 * k, (i) => i + 1), [3, k]);
    const v = tf.tensor(seq(15, (i) => (i % 4) - 1.5), [3, 5]);
    const [g, hv] = tracedGrads(fn, x, c, v);
    assertClose(g, scatterAdd(at, value(c), 15), `k = ${k}: gradient`);
    const vv = value(v);
    assertClose(hv, scatterAdd(at, at.map((i) => 2 * vv[i]), 15), `k = ${k}: second derivative`);
    tf.dispose([c, v]);
  }
  // With an unknown batch size (TF's _TopKGrad computes the row offsets at run time).
  const f = tfFunction((t: tf.Tensor) => {
    const tape = new GradientTape();
    tape.watch(t);
    const y = tape.record(() => tf.sum(tf.mul(tf.topk(t, 2).values, tf.tensor([1, 10]))));
    return tape.gradient(y, t) as tf.Tensor;
  }, { inputSignature: [{ shape: [null, 5] }], autograph: false });
  for (const rows of [1, 3]) {
    const xr = tf.slice(x, [0, 0], [rows, 5]);
    const g = f(xr) as tf.Tensor;
    const ind = value(tf.tidy(() => tf.topk(xr, 2).indices));
    const want = scatterAdd(
      ind.map((i, k) => i + 5 * Math.floor(k / 2)),
      ind.map((_, k) => k % 2 ? 10 : 1),
      rows * 5,
    );
    assert.deepEqual(g.shape, [rows, 5]);
    assertClose(value(g), want, `unknown batch, ${rows} rows`);
    tf.dispose([xr, g]);
  }
  assert.equal(f.traceCount, 1);
  f.dispose();
  // The indices are int32: no gradient flows through them (TF: None).
  const g = new v1.Graph();
  g.asDefault(() => {
    const p = v1.placeholder("float32", [2, 4]);
    const [, indices] = v1.topK(p, 2);
    assert.deepEqual(v1.gradients(v1.reduceSum(v1.cast(indices, "float32")), [p]), [null]);
  });
  flatMemory((t) => tf.topk(t, 2).values, x);
  x.dispose();
});

Deno.test("tf.function: k larger than the last dimension is refused, as TF refuses it (tfjs's own check eagerly and traced; a ShapeError from v1.topK)", () => {
  const x = tf.tensor([[1, 2, 3]]);
  const f = tfFunction((t: tf.Tensor) => tf.topk(t, 4).values, { autograph: false });
  assert.throws(() => f(x), /must be <= the last dimension/);
  f.dispose();
  const g = new v1.Graph();
  g.asDefault(() => {
    assert.throws(() => v1.topK(v1.placeholder("float32", [1, 3]), 4), v1.ShapeError);
  });
  x.dispose();
});

// ---------------------------------------------------------------- MirrorPad

Deno.test("tf.function: tf.mirrorPad is a MirrorPad graph op equal to eager and to TF's documented examples (tf.pad mode REFLECT: borders not repeated; SYMMETRIC: repeated), paddings up to dim - 1 and dim", () => {
  const t = tf.tensor([[1, 2, 3], [4, 5, 6]]);
  const p: [number, number][] = [[1, 1], [2, 2]];
  const f = tfFunction(
    (x: tf.Tensor) => [tf.mirrorPad(x, p, "reflect"), tf.mirrorPad(x, p, "symmetric")],
    {
      autograph: false,
    },
  );
  const [reflect, symmetric] = f(t) as tf.Tensor[];
  assert.deepEqual(reflect.arraySync(), [
    [6, 5, 4, 5, 6, 5, 4],
    [3, 2, 1, 2, 3, 2, 1],
    [6, 5, 4, 5, 6, 5, 4],
    [3, 2, 1, 2, 3, 2, 1],
  ]);
  assert.deepEqual(symmetric.arraySync(), [
    [2, 1, 1, 2, 3, 3, 2],
    [2, 1, 1, 2, 3, 3, 2],
    [5, 4, 4, 5, 6, 6, 5],
    [5, 4, 4, 5, 6, 6, 5],
  ]);
  tf.dispose([reflect, symmetric]);
  f.dispose();
  const xs = [
    tf.tensor(seq(12, (i) => i * i - 7), [3, 4]),
    tf.tensor(seq(12, (i) => -i / 3), [3, 4]),
  ];
  for (const mode of ["reflect", "symmetric"] as const) {
    const most = mode === "reflect" ? [2, 3] : [3, 4];
    const pads: [number, number][][] = [[[0, 0], [1, 0]], [[most[0], 1], [0, most[1]]], [[2, 2], [
      most[1],
      most[1],
    ]]];
    for (const pp of pads) {
      sameAsEager(
        `${mode} ${JSON.stringify(pp)}`,
        (x) => tf.mirrorPad(x, pp, mode),
        "MirrorPad",
        xs,
      );
    }
  }
  tf.dispose([t, ...xs]);
});

Deno.test("tf.function: the gradient of tf.mirrorPad is TF's MirrorPadGrad, which folds the padded borders back onto the elements they copy (tfjs's eager gradient only crops them: it differs), and its second derivative goes through MirrorPad (TF's _MirrorPadGradGrad)", () => {
  const x = tf.tensor(seq(12, (i) => (i * 3) % 5 - 2), [3, 4]);
  for (const mode of ["reflect", "symmetric"] as const) {
    const pads: [number, number][][] = mode === "reflect"
      ? [[[2, 1], [3, 2]], [[0, 2], [1, 0]]]
      : [[[3, 1], [4, 2]], [[1, 0], [0, 1]]];
    for (const pp of pads) {
      const label = `${mode} ${JSON.stringify(pp)}`;
      const fn: Fn = (t) => tf.mirrorPad(t, pp, mode);
      const at = positions(fn, [3, 4]);
      const c = tf.tensor(seq(at.length, (i) => (i % 7) + 1), shapeOf(fn, x));
      const v = tf.tensor(seq(12, (i) => i - 5), [3, 4]);
      const [g, hv] = tracedGrads(fn, x, c, v);
      // Each element's gradient: the sum of c over its copies; d²sum(pad(x)²)·v = 2·copies·v.
      assertClose(g, scatterAdd(at, value(c), 12), `${label}: gradient`);
      const vv = value(v);
      assertClose(hv, scatterAdd(at, at.map((i) => 2 * vv[i]), 12), `${label}: second derivative`);
      // tfjs's eager gradient crops the centre out of dy: the borders' share is lost.
      const eager = tf.tidy(() => value(tf.grad((t) => tf.sum(tf.mul(fn(t), c)))(x)));
      assert.notDeepEqual(eager, g, `${label}: tfjs's eager gradient differs`);
      tf.dispose([c, v]);
    }
  }
  flatMemory((t) => tf.mirrorPad(t, [[2, 1], [1, 3]], "reflect"), x);
  x.dispose();
});

Deno.test("tf.function: mirror paddings larger than TF allows (REFLECT: dim - 1, SYMMETRIC: dim) are refused (a ShapeError from v1.mirrorPad; tfjs's own check from tf.mirrorPad, eagerly and traced)", () => {
  const g = new v1.Graph();
  g.asDefault(() => {
    const p = v1.placeholder("float32", [2, 3]);
    assert.throws(() => v1.mirrorPad(p, [[2, 0], [0, 0]], "reflect"), v1.ShapeError);
    assert.throws(() => v1.mirrorPad(p, [[0, 0], [0, 4]], "symmetric"), v1.ShapeError);
    assert.deepEqual(v1.mirrorPad(p, [[2, 2], [3, 0]], "symmetric").shape, [6, 6]);
  });
  const x = tf.zeros([2, 3]);
  const f = tfFunction((t: tf.Tensor) => tf.mirrorPad(t, [[2, 0], [0, 0]], "reflect"), {
    autograph: false,
  });
  assert.throws(() => f(x), /Padding in dimension 0/);
  f.dispose();
  x.dispose();
});

// ---------------------------------------------------------------- einsum

/** einsum by its definition (explicit equations): the output and, for `sum(c·out)`, each operand's gradient. */
function einsumRef(
  equation: string,
  xs: { v: number[]; shape: number[] }[],
  c?: number[],
): { out: number[]; shape: number[]; grads: number[][] } {
  const [lhs, out] = equation.split("->");
  const terms = lhs.split(",");
  const letters = [...new Set(terms.join("") + out)];
  const size: Record<string, number> = {};
  terms.forEach((t, k) => [...t].forEach((l, i) => size[l] = xs[k].shape[i]));
  const shape = [...out].map((l) => size[l]);
  const offset = (term: string, at: Record<string, number>) =>
    [...term].reduce((o, l) => o * size[l] + at[l], 0);
  const result = new Array(shape.reduce((p, d) => p * d, 1)).fill(0);
  const grads = xs.map((x) => new Array(x.v.length).fill(0));
  const total = letters.reduce((p, l) => p * size[l], 1);
  for (let n = 0; n < total; n++) {
    const at: Record<string, number> = {};
    let r = n;
    for (const l of [...letters].reverse()) {
      at[l] = r % size[l];
      r = Math.floor(r / size[l]);
    }
    const factors = terms.map((t, k) => xs[k].v[offset(t, at)]);
    const o = offset(out, at);
    result[o] += factors.reduce((p, f) => p * f, 1);
    if (c) {
      terms.forEach((t, k) => {
        grads[k][offset(t, at)] += c[o] * factors.reduce((p, f, j) => j === k ? p : p * f, 1);
      });
    }
  }
  return { out: result, shape, grads };
}

const operand = (shape: number[], k: number) => {
  const n = shape.reduce((p, d) => p * d, 1);
  return { v: seq(n, (i) => ((i * (k + 3)) % 7) - 3 + k / 2), shape };
};

/** Equations tfjs's tf.einsum takes, with operand shapes. */
const equations: [string, number[][]][] = [
  ["ij,jk->ik", [[2, 3], [3, 4]]],
  ["ij,kj->ik", [[2, 3], [4, 3]]],
  ["bij,bjk->bik", [[2, 2, 3], [2, 3, 2]]],
  ["bij,bkj->bki", [[2, 2, 3], [2, 4, 3]]],
  ["i,j->ij", [[3], [4]]],
  ["i,i->", [[4], [4]]],
  ["ij,ij->i", [[2, 3], [2, 3]]],
  ["ijk,ik->j", [[2, 3, 4], [2, 4]]],
  ["ijk,jl->il", [[2, 3, 2], [3, 4]]],
  ["ij->ji", [[2, 3]]],
  ["ij->", [[2, 3]]],
  ["ijk->kj", [[2, 3, 4]]],
];

Deno.test("tf.function: tf.einsum traces, lowered to Sum/Transpose/Reshape/MatMul/BatchMatMulV2 graph ops, and equals einsum by its definition (tf.einsum: matrix products, batched, transposed, outer and inner products, sums, letters summed out of one operand) on a backend without an eager Einsum kernel too", () => {
  const eagerEinsum = tf.getKernel("Einsum", tf.getBackend()) !== undefined;
  for (const [eq, shapes] of equations) {
    const ops = shapes.map(operand);
    const want = einsumRef(eq, ops);
    const inputs = ops.map((o) => tf.tensor(o.v, o.shape));
    const f = tfFunction((...ts: tf.Tensor[]) => tf.einsum(eq, ...ts), { autograph: false });
    const got = f(...inputs) as tf.Tensor;
    assert.deepEqual(got.shape, want.shape, eq);
    assertClose(value(got), want.out, eq);
    if (eagerEinsum) assertClose(value(got), tf.tidy(() => value(tf.einsum(eq, ...inputs))), eq);
    assert.ok(!opTypes(f).includes("Einsum"), `${eq}: lowered`);
    if (shapes.length === 2) {
      assert.ok(opTypes(f).some((t) => t === "MatMul" || t === "BatchMatMulV2"), `${eq}: a matmul`);
    }
    tf.dispose([...inputs, got]);
    f.dispose();
  }
  // TF's implicit output (no "->": the letters that occur once, in alphabetical order), which
  // tfjs does not take eagerly.
  const a = tf.tensor(operand([2, 3], 0).v, [2, 3]), b = tf.tensor(operand([3, 4], 1).v, [3, 4]);
  const f = tfFunction(
    (
      x: tf.Tensor,
      y: tf.Tensor,
    ) => [tf.einsum("ij,jk", x, y), tf.einsum("ba,ac", x, y), tf.einsum("ji", x)],
    {
      autograph: false,
    },
  );
  const [ik, bc, ij] = f(a, b) as tf.Tensor[];
  const mm = einsumRef("ij,jk->ik", [operand([2, 3], 0), operand([3, 4], 1)]).out;
  assertClose(value(ik), mm, "ij,jk");
  assertClose(value(bc), mm, "ba,ac");
  assert.deepEqual(ij.shape, [3, 2]);
  assertClose(value(ij), value(tf.tidy(() => tf.transpose(a))), "ji is the transpose");
  tf.dispose([a, b, ik, bc, ij]);
  f.dispose();
  // An unknown batch size (a dense layer written "bi,ij->bj", "bti,ij->btj"), one trace.
  const w = tf.tensor(operand([3, 2], 2).v, [3, 2]);
  for (const [eq, shape] of [["bi,ij->bj", [null, 3]], ["bti,ij->btj", [null, 2, 3]]] as const) {
    const dense = tfFunction((x: tf.Tensor) => tf.einsum(eq, x, w), {
      inputSignature: [{ shape: [...shape] }],
      autograph: false,
    });
    for (const batch of [1, 4]) {
      const dims = shape.map((d) => d ?? batch);
      const x = operand(dims, 1);
      const want = einsumRef(eq, [x, operand([3, 2], 2)]);
      const xt = tf.tensor(x.v, dims);
      const got = dense(xt) as tf.Tensor;
      assert.deepEqual(got.shape, want.shape, `${eq}, batch ${batch}`);
      assertClose(value(got), want.out, `${eq}, batch ${batch}`);
      tf.dispose([xt, got]);
    }
    assert.equal(dense.traceCount, 1);
    dense.dispose();
  }
  w.dispose();
});

Deno.test("tf.function: the gradients of tf.einsum to both operands are TF's _EinsumGrad (an einsum of dy with the other operand, summed-out letters broadcast back), as einsum's definition gives them", () => {
  for (const [eq, shapes] of equations) {
    const ops = shapes.map(operand);
    const out = einsumRef(eq, ops);
    const c = seq(out.out.length, (i) => (i % 5) - 1.5);
    const want = einsumRef(eq, ops, c).grads;
    const inputs = ops.map((o) => tf.tensor(o.v, o.shape));
    const f = tfFunction((...ts: tf.Tensor[]) => {
      const tape = new GradientTape();
      ts.forEach((t) => tape.watch(t));
      const y = tape.record(() => tf.sum(tf.mul(tf.einsum(eq, ...ts), tf.tensor(c, out.shape))));
      return tape.gradient(y, ts) as tf.Tensor[];
    }, { autograph: false });
    const grads = f(...inputs) as tf.Tensor[];
    grads.forEach((g, k) => {
      assert.deepEqual(g.shape, shapes[k], `${eq}: gradient ${k} shape`);
      assertClose(value(g), want[k], `${eq}: gradient ${k}`);
    });
    tf.dispose([...inputs, ...grads]);
    f.dispose();
  }
  const x = tf.tensor(operand([2, 3], 0).v, [2, 3]);
  flatMemory((t) => tf.einsum("ij,kj->ik", t, t), x);
  x.dispose();
});

Deno.test("tf.function: tf.einsum raises a GraphError where TF raises (an output letter in no operand, operands that disagree on a letter's size, a term whose length is not its operand's rank), and names what tfjs does not take (ellipsis, a repeated letter)", () => {
  const x = tf.zeros([2, 3]);
  raises((t) => tf.einsum("ij->k", t), x, v1.GraphError, /output letter k/);
  raises((t) => tf.einsum("ij,ij->i", t, tf.zeros([2, 4])), x, v1.ShapeError, /letter j/);
  raises((t) => tf.einsum("ijk->i", t), x, v1.ShapeError, /needs rank 3/);
  raises((t) => tf.einsum("...j->j", t), x, v1.GraphError, /ellipsis/);
  raises(
    (t) => tf.einsum("ii->i", tf.reshape(t, [3, 2]).slice([0, 0], [2, 2])),
    x,
    v1.GraphError,
    /repeated/,
  );
  x.dispose();
});
