// More tfjs ops inside traced functions, written from TensorFlow's API docs (tf.math.cumsum,
// tf.math.cumprod, tf.math.reduce_prod, tf.math.atan2, tf.nn.log_softmax, tf.math.argmin, tf.math.reduce_all/any)
// and the gradients of math_grad.py and nn_grad.py (_CumsumGrad, _CumprodGrad, _ProdGrad,
// _DivNoNanGrad, _Atan2Grad, _LogSoftmaxGrad). Each op traced equals the same op run eagerly, exactly; the gradient of a
// GradientTape inside the trace equals the eager tape's, or TF's closed form.
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../lib/backend.ts";
import { tfFunction } from "../lib/function.ts";
import { GradientTape } from "../lib/tape.ts";
import * as v1 from "../lib/v1/mod.ts";
import { opTypes, sameAsEager as sameAs, value } from "./_graph_ops.ts";

await initBackend();

/** `fn` traced (once, for two inputs) equals `fn` run eagerly exactly, and builds a `type` op. */
const sameAsEager = (fn: (x: tf.Tensor) => tf.Tensor, type: string, xs: tf.Tensor[]): void =>
  sameAs(type, fn, type, xs);

/** The gradient of `sum(fn(x)²)` from a tape inside a trace. */
function tracedGrad(fn: (x: tf.Tensor) => tf.Tensor, x: tf.Tensor): number[] {
  const f = tfFunction((t: tf.Tensor) => {
    const tape = new GradientTape();
    tape.watch(t);
    const y = tape.record(() => tf.sum(tf.square(fn(t))));
    return tape.gradient(y, t) as tf.Tensor;
  }, { autograph: false });
  const g = f(x) as tf.Tensor;
  const v = value(g);
  g.dispose();
  f.dispose();
  return v;
}

const eagerGrad = (fn: (x: tf.Tensor) => tf.Tensor, x: tf.Tensor): number[] =>
  tf.tidy(() => value(tf.grad((t) => tf.sum(tf.square(fn(t))))(x)));

function assertClose(got: number[], want: number[], label: string): void {
  const close = (v: number, i: number) => Math.abs(v - want[i]) <= 1e-5 * (1 + Math.abs(want[i]));
  assert.ok(got.length === want.length && got.every(close), `${label}: ${got} vs ${want}`);
}

/** Asserts `f(x)` leaves tf.memory flat across three more calls. */
function flatMemory(fn: (x: tf.Tensor) => tf.Tensor | tf.Tensor[], x: tf.Tensor): void {
  const f = tfFunction((t: tf.Tensor) => {
    const tape = new GradientTape();
    tape.watch(t);
    const y = tape.record(() => fn(t));
    return [y, tape.gradient(tf.sum(y as tf.Tensor), t)] as tf.Tensor[];
  }, { autograph: false });
  tf.dispose(f(x) as tf.Tensor[]);
  const before = tf.memory().numTensors;
  for (let i = 0; i < 3; i++) tf.dispose(f(x) as tf.Tensor[]);
  assert.equal(tf.memory().numTensors, before);
  f.dispose();
}

/** Asserts `f(x)` (no gradient) leaves tf.memory flat across three more calls. */
function sameMemory(fn: (x: tf.Tensor) => tf.Tensor, x: tf.Tensor): void {
  const f = tfFunction(fn, { autograph: false });
  tf.dispose(f(x) as tf.Tensor);
  const before = tf.memory().numTensors;
  for (let i = 0; i < 3; i++) tf.dispose(f(x) as tf.Tensor);
  assert.equal(tf.memory().numTensors, before);
  f.dispose();
}

const xs =
  () => [tf.tensor([[1, -2, 0.5], [3, 0, -1.5]]), tf.tensor([[-4, 2.5, 1], [0.25, 7, -1]])];

Deno.test("tf.function: tf.argMin is an ArgMin graph op (tf.math.argmin: the index of the smallest value, the first of ties) with no gradient", () => {
  const x = xs();
  sameAsEager((t) => tf.argMin(t, 1), "ArgMin", x);
  sameAsEager((t) => tf.argMin(t), "ArgMin", [tf.tensor([[2, 1, 1], [0, 5, 0]]), ...x]);
  sameMemory((t) => tf.argMin(t, 1), x[0]);
  tf.dispose(x);
});

Deno.test("tf.function: tf.all and tf.any are All and Any graph ops (tf.math.reduce_all/reduce_any: logical and/or over axes, keepdims, all axes by default)", () => {
  const x = xs();
  sameAsEager((t) => tf.all(tf.greater(t, -2), 1), "All", x);
  sameAsEager((t) => tf.any(tf.greater(t, 2), 0, true), "Any", x);
  sameAsEager((t) => tf.all(tf.less(t, 10)), "All", x);
  sameAsEager((t) => tf.any(tf.equal(t, 7)), "Any", x);
  sameMemory((t) => tf.stack([tf.all(tf.greater(t, 0), 1), tf.any(tf.greater(t, 0), 1)]), x[0]);
  tf.dispose(x);
});

Deno.test("tf.function: tf.atan2 is an Atan2 graph op (tf.math.atan2(y, x): the angle of the point (x, y), all four quadrants) and its gradient is TF's _Atan2Grad", () => {
  const x = xs();
  const other = tf.tensor([1, -1, -0.5]);
  sameAsEager((t) => tf.atan2(t, other), "Atan2", x);
  sameAsEager((t) => tf.atan2(other, t), "Atan2", x);
  // Gradients to y and to a broadcast x, against the eager tape.
  for (const fn of [(t: tf.Tensor) => tf.atan2(t, other), (t: tf.Tensor) => tf.atan2(other, t)]) {
    assertClose(tracedGrad(fn, x[0]), eagerGrad(fn, x[0]), "atan2");
  }
  // _Atan2Grad's closed form: d atan2(y, x)/dy = x / (x² + y²), d/dx = -y / (x² + y²).
  const y = tf.tensor([3]), xx = tf.tensor([4]);
  assertClose(tracedGrad((t) => tf.mul(tf.atan2(t, xx), 0.5), y), [
    2 * 0.5 * 0.5 * Math.atan2(3, 4) * 4 / 25,
  ], "dy");
  flatMemory((t) => tf.atan2(t, other), x[0]);
  tf.dispose([...x, other, y, xx]);
});

Deno.test("tf.function: tf.logSoftmax traces (tf.nn.log_softmax: logits - log(reduce_sum(exp(logits)))), equals eager exactly, and its gradient is TF's _LogSoftmaxGrad (dy - sum(dy)·softmax)", () => {
  const x = xs();
  sameAsEager((t) => tf.logSoftmax(t), "CustomGradient", x);
  sameAsEager((t) => tf.logSoftmax(tf.reshape(t, [-1])), "CustomGradient", x);
  const fn = (t: tf.Tensor) => tf.mul(tf.logSoftmax(t), tf.tensor([1, 2, 3]));
  for (const t of x) assertClose(tracedGrad(fn, t), eagerGrad(fn, t), "logSoftmax");
  // Closed form: for y = logSoftmax(x) and L = sum(c·y), dL/dx = c - sum(c)·softmax(x).
  const c = [1, 2, 3];
  const f = tfFunction((t: tf.Tensor) => {
    const tape = new GradientTape();
    tape.watch(t);
    const y = tape.record(() => tf.sum(tf.mul(tf.logSoftmax(t), tf.tensor(c))));
    return tape.gradient(y, t) as tf.Tensor;
  }, { autograph: false });
  const g = f(x[1]) as tf.Tensor;
  const row = [-4, 2.5, 1], ez = row.map(Math.exp), s = ez.reduce((p, q) => p + q);
  assertClose(value(g).slice(0, 3), c.map((ci, i) => ci - 6 * ez[i] / s), "closed form");
  tf.dispose(g);
  f.dispose();
  flatMemory((t) => tf.logSoftmax(t), x[0]);
  tf.dispose(x);
});

/** Softmax of plain numbers of `shape` along `axis`, from its definition exp(x)/sum(exp(x)). */
function softmaxAlong(x: number[], shape: number[], axis: number): number[] {
  const a = axis < 0 ? axis + shape.length : axis;
  const stride = shape.slice(a + 1).reduce((p, d) => p * d, 1);
  return x.map((_, i) => {
    const at = Math.floor(i / stride) % shape[a], base = i - at * stride;
    const e = Array.from({ length: shape[a] }, (_, k) => Math.exp(x[base + k * stride]));
    return e[at] / e.reduce((p, q) => p + q);
  });
}

/** `x` summed along `axis` and spread back over it (keepdims then broadcast). */
function sumAlong(x: number[], shape: number[], axis: number): number[] {
  const a = axis < 0 ? axis + shape.length : axis;
  const stride = shape.slice(a + 1).reduce((p, d) => p * d, 1);
  return x.map((_, i) => {
    const base = i - (Math.floor(i / stride) % shape[a]) * stride;
    return Array.from({ length: shape[a] }, (_, k) => x[base + k * stride]).reduce((p, q) => p + q);
  });
}

Deno.test("tf.function: tf.softmax and tf.logSoftmax along an axis other than the last raise in a trace as they do eagerly (tfjs refuses it; TF's tf.nn.softmax takes any axis), with a ShapeError giving the transposes that move the axis last, and that form equals softmax along the axis", () => {
  const x = tf.tensor([[1, -2, 0.5], [3, 0, -1.5]]);
  const x3 = tf.reshape(tf.range(0, 12), [2, 3, 2]).div(4);
  const refused: [string, (t: tf.Tensor) => tf.Tensor, tf.Tensor, string][] = [
    ["tf.softmax(x, 0)", (t) => tf.softmax(t, 0), x, "[1, 0]"],
    ["tf.softmax(x, -2)", (t) => tf.softmax(t, -2), x, "[1, 0]"],
    ["x.softmax(0)", (t) => t.softmax(0), x, "[1, 0]"],
    ["tf.logSoftmax(x, 0)", (t) => tf.logSoftmax(t, 0), x, "[1, 0]"],
    ["x.logSoftmax(0)", (t) => t.logSoftmax(0), x, "[1, 0]"],
    ["tf.softmax(x3, 1)", (t) => tf.softmax(t, 1), x3, "[0, 2, 1]"],
  ];
  for (const [label, fn, input, perm] of refused) {
    assert.throws(() => tf.tidy(() => fn(input)), /non-last dimension/, `${label}: eagerly`);
    const f = tfFunction(fn, { autograph: false });
    const before = tf.memory().numTensors;
    for (let i = 0; i < 2; i++) {
      assert.throws(
        () => f(input),
        (e: Error) => e instanceof v1.ShapeError && e.message.includes(`tf.transpose(x, ${perm})`),
        `${label}: traced`,
      );
    }
    assert.equal(tf.memory().numTensors, before, `${label}: failing calls leak nothing`);
    f.dispose();
  }
  // The advice: tf.transpose(tf.softmax(tf.transpose(x, [1, 0])), [1, 0]) traces, runs eagerly
  // and is the softmax of each column.
  const columns = (t: tf.Tensor) => tf.transpose(tf.softmax(tf.transpose(t, [1, 0])), [1, 0]);
  sameAs("softmax along axis 0", columns, "Softmax", [x, tf.tensor([[-4, 2.5, 1], [0, 7, -1]])]);
  const f = tfFunction(columns, { autograph: false });
  const y = f(x) as tf.Tensor;
  assertClose(value(y), softmaxAlong(value(x), x.shape, 0), "columns");
  tf.dispose([x, x3, y]);
  f.dispose();
});

Deno.test("tf.function: v1.softmax(logits, axis) and v1.logSoftmax(logits, axis) take any axis, negative too (TF's tf.nn.softmax/log_softmax: the axis swapped last and back), and differentiate like TF, first and second order", () => {
  const shape = [2, 3, 2];
  const xs = [0.5, -1, 2, 0, 1.5, -0.5, 3, 1, -2, 0.25, 1, 2];
  const c = [1, -2, 0.5, 3, 1, -1, 2, 0, -0.5, 1, 4, -3];
  const x = tf.tensor(xs, shape);
  for (const axis of [0, 1, -2, -3, 2, -1]) {
    const s = softmaxAlong(xs, shape, axis);
    const f = tfFunction((t: tf.Tensor) => {
      const tape = new GradientTape({ persistent: true });
      tape.watch(t);
      const sm = tape.record(() => v1.softmax(t, axis)) as unknown as tf.Tensor;
      const lsm = tape.record(() => v1.logSoftmax(t, axis)) as unknown as tf.Tensor;
      const weighted = (y: tf.Tensor) => tape.record(() => tf.sum(tf.mul(y, tf.tensor(c, shape))));
      const [ds, dl] = [weighted(sm), weighted(lsm)].map((l) => tape.gradient(l, t));
      return [sm, lsm, ds, dl] as tf.Tensor[];
    }, { autograph: false });
    const [sm, lsm, ds, dl] = (f(x) as tf.Tensor[]).map((t) => {
      const v = value(t);
      t.dispose();
      return v;
    });
    assertClose(sm, s, `softmax axis ${axis}`);
    assertClose(lsm, s.map(Math.log), `logSoftmax axis ${axis}`);
    // d sum(c·softmax)/dx = s·(c - sum(c·s)); d sum(c·logSoftmax)/dx = c - sum(c)·s (nn_grad.py).
    const cs = sumAlong(c.map((ci, i) => ci * s[i]), shape, axis);
    assertClose(ds, s.map((si, i) => si * (c[i] - cs[i])), `softmax gradient axis ${axis}`);
    const sc = sumAlong(c, shape, axis);
    assertClose(dl, s.map((si, i) => c[i] - sc[i] * si), `logSoftmax gradient axis ${axis}`);
    f.dispose();
  }
  // Second order along axis 0: a Hessian-vector product against finite differences.
  const v = tf.tensor(c, shape);
  const dirGrad = (t: tf.Tensor) => {
    const tape = new GradientTape();
    tape.watch(t);
    const y = tape.record(() => tf.sum(tf.square(v1.softmax(t, 0) as unknown as tf.Tensor)));
    return tf.sum(tf.mul(tape.gradient(y, t) as tf.Tensor, v));
  };
  const g = tfFunction(dirGrad, { autograph: false });
  const h = tfFunction((t: tf.Tensor) => {
    const tape = new GradientTape();
    tape.watch(t);
    const gv = tape.record(() => dirGrad(t));
    return tape.gradient(gv, t) as tf.Tensor;
  }, { autograph: false });
  const hv = h(x) as tf.Tensor;
  const fd = finiteDiff((t) => g(t) as tf.Tensor, xs, shape);
  assert.ok(value(hv).every((d, i) => Math.abs(d - fd[i]) < 5e-3), `${value(hv)} vs ${fd}`);
  tf.dispose([hv, x, v]);
  g.dispose();
  h.dispose();
  // An axis out of range is TF's error, said before anything runs.
  const bad = tfFunction((t: tf.Tensor) => v1.softmax(t, 3), { autograph: false });
  const z = tf.zeros([2, 3, 2]);
  assert.throws(() => bad(z), v1.ShapeError);
  bad.dispose();
  z.dispose();
});

Deno.test("tf.function: tf.cumsum is a Cumsum graph op (tf.math.cumsum with exclusive and reverse) and its gradient is TF's _CumsumGrad (the cumsum of dy the other way)", () => {
  const x = xs();
  for (const [exclusive, reverse] of [[false, false], [true, false], [false, true], [true, true]]) {
    for (const axis of [0, 1]) {
      const fn = (t: tf.Tensor) => tf.cumsum(t, axis, exclusive, reverse);
      sameAsEager(fn, "Cumsum", x);
      // tfjs's eager Cumsum gradient fails off the last axis: there the reference runs the
      // same cumsum on the last axis of the transpose.
      const last = (t: tf.Tensor) =>
        tf.transpose(tf.cumsum(tf.transpose(t), 1, exclusive, reverse));
      const reference = axis === 0 ? last : fn;
      const label = `cumsum axis ${axis} exclusive ${exclusive} reverse ${reverse}`;
      assertClose(tracedGrad(fn, x[0]), eagerGrad(reference, x[0]), label);
    }
  }
  flatMemory((t) => tf.cumsum(t, 1, true, true), x[0]);
  tf.dispose(x);
});

Deno.test("tf.function: tf.prod is a Prod graph op (tf.math.reduce_prod over axes, keepdims) and its gradient is TF's _ProdGrad, the product of the other elements, right with zeros in the input", () => {
  const x = xs();
  sameAsEager((t) => tf.prod(t, 1), "Prod", x);
  sameAsEager((t) => tf.prod(t, 0, true), "Prod", x);
  sameAsEager((t) => tf.prod(t), "Prod", x);
  // The eager tape's gradient is TF's _ProdGrad too (lib/_tf_gradients.ts): compare with it,
  // on a negative axis as well (tfjs's own Prod gradient fails there).
  const prods = [1, 0, -2].map((axis) => (t: tf.Tensor) => tf.prod(t, axis, axis === 0));
  for (const fn of prods) {
    assertClose(tracedGrad(fn, x[1]), eagerGrad(fn, x[1]), "prod");
  }
  // With zeros: d prod/dx_i = the product of the others (one zero: nonzero only at the zero).
  const z = tf.tensor([[2, 0, 3], [0, 5, 0], [1, 2, 4]]);
  const f = tfFunction((t: tf.Tensor) => {
    const tape = new GradientTape({ persistent: true });
    tape.watch(t);
    const y = tape.record(() => tf.sum(tf.prod(t, 1)));
    const all = tape.record(() => tf.prod(t));
    return [tape.gradient(y, t), tape.gradient(all, t)] as tf.Tensor[];
  }, { autograph: false });
  const [rows, whole] = f(z) as tf.Tensor[];
  assert.deepEqual(value(rows), [0, 6, 0, 0, 0, 0, 8, 4, 2]);
  assert.deepEqual(value(whole), Array(9).fill(0)); // two zeros or more: every other product is 0
  tf.dispose([rows, whole]);
  const one = tf.tensor([[2, 0], [3, 4]]);
  const [, whole1] = f(one) as tf.Tensor[];
  assert.deepEqual(value(whole1), [0, 24, 0, 0]);
  tf.dispose([whole1]);
  f.dispose();
  flatMemory((t) => tf.prod(t, [0, 1]), z);
  tf.dispose([...x, z, one]);
});

/** `L(x)` by central differences along each element (exact for L of degree <= 2 in each). */
function finiteDiff(loss: (x: tf.Tensor) => tf.Tensor, x: number[], shape: number[]): number[] {
  const h = 0.01;
  const at = (k: number, d: number) =>
    tf.tidy(() => loss(tf.tensor(x.map((v, i) => i === k ? v + d : v), shape)).dataSync()[0]);
  return x.map((_, k) => (at(k, h) - at(k, -h)) / (2 * h));
}

/**
 * The Hessian of `sum(fn(x))` times `v` (a Hessian-vector product) from two nested tapes,
 * traced, and the same code run eagerly.
 */
function hessianTimes(fn: (x: tf.Tensor) => tf.Tensor, x: tf.Tensor, v: tf.Tensor) {
  const hv = (t: tf.Tensor) => {
    const outer = new GradientTape();
    outer.watch(t);
    const gv = outer.record(() => {
      const inner = new GradientTape();
      inner.watch(t);
      const y = inner.record(() => tf.sum(fn(t)));
      return tf.sum(tf.mul(inner.gradient(y, t) as tf.Tensor, v));
    });
    return outer.gradient(gv, t) as tf.Tensor;
  };
  const f = tfFunction(hv, { autograph: false });
  const traced = f(x) as tf.Tensor;
  const result = { traced: value(traced), eager: tf.tidy(() => value(hv(x))) };
  tf.dispose(traced);
  f.dispose();
  return result;
}

/** Closed form: the Hessian of prod(x) is prod(x)/(x_i·x_j) off the diagonal, 0 on it. */
const prodHessianTimes = (x: number[], v: number[]): number[] => {
  const p = x.reduce((a, b) => a * b);
  return x.map((xi, i) => v.reduce((s, vj, j) => j === i ? s : s + p / (xi * x[j]) * vj, 0));
};

Deno.test("tf.function: a second derivative through tf.prod works in a trace (TF differentiates _ProdGrad's Cumprods with _CumprodGrad): the Hessian of reduce_prod is prod/(x_i·x_j) off the diagonal, 0 on it, as the eager tape gives", () => {
  const x = tf.tensor([[2, 3, -5], [0.5, 4, 1.5]]);
  const v = tf.tensor([[1, -2, 0.5], [3, 1, -1]]);
  const [xs, vs] = [value(x), value(v)];
  // All elements at once, over axis 1 (each row its own block), over axis -1 with keepdims.
  const cases: [string, (t: tf.Tensor) => tf.Tensor, number[]][] = [
    ["all axes", (t) => tf.prod(t), prodHessianTimes(xs, vs)],
    ["axis 1", (t) => tf.prod(t, 1), [
      ...prodHessianTimes(xs.slice(0, 3), vs.slice(0, 3)),
      ...prodHessianTimes(xs.slice(3), vs.slice(3)),
    ]],
    ["axis -1 keepDims", (t) => tf.prod(t, -1, true), [
      ...prodHessianTimes(xs.slice(0, 3), vs.slice(0, 3)),
      ...prodHessianTimes(xs.slice(3), vs.slice(3)),
    ]],
  ];
  for (const [label, fn, want] of cases) {
    const { traced, eager } = hessianTimes(fn, x, v);
    assertClose(traced, want, `${label}: traced`);
    assertClose(eager, want, `${label}: eager`);
  }
  // Over axis 0 (columns): against finite differences of the traced first derivative.
  const grad = tfFunction((t: tf.Tensor) => {
    const tape = new GradientTape();
    tape.watch(t);
    const y = tape.record(() => tf.sum(tf.prod(t, 0)));
    return tf.sum(tf.mul(tape.gradient(y, t) as tf.Tensor, v));
  }, { autograph: false });
  const { traced } = hessianTimes((t) => tf.prod(t, 0), x, v);
  const fd = finiteDiff((t) => grad(t) as tf.Tensor, xs, x.shape);
  assert.ok(traced.every((h, i) => Math.abs(h - fd[i]) < 1e-3), `axis 0: ${traced} vs ${fd}`);
  grad.dispose();
  flatMemory((t) => {
    const tape = new GradientTape();
    tape.watch(t);
    const y = tape.record(() => tf.prod(t));
    return tape.gradient(y, t) as tf.Tensor;
  }, x);
  tf.dispose([x, v]);
});

Deno.test("tf.function: a third derivative through tf.prod works in a trace (TF's _DivNoNanGrad): d³ prod/dx_i dx_j dx_k is the remaining element of four, so T·1·1 = 2·(sum(x) - x_i)", () => {
  const third = tfFunction((t: tf.Tensor) => {
    const [a, b, c] = [new GradientTape(), new GradientTape(), new GradientTape()];
    for (const tape of [a, b, c]) tape.watch(t);
    const h1 = a.record(() => {
      const g1 = b.record(() => {
        const y = c.record(() => tf.prod(t));
        return tf.sum(c.gradient(y, t) as tf.Tensor);
      });
      return tf.sum(b.gradient(g1, t) as tf.Tensor);
    });
    return a.gradient(h1, t) as tf.Tensor;
  }, { autograph: false });
  const x = tf.tensor([2, 3, 5, 7]);
  const t3 = third(x) as tf.Tensor;
  assertClose(value(t3), [2, 3, 5, 7].map((xi) => 2 * (17 - xi)), "T·1·1");
  assert.ok(opTypes(third).includes("DivNoNan"), "the gradient of Cumprod divides with DivNoNan");
  tf.dispose([t3, x]);
  third.dispose();
});

Deno.test("tf.function: tf.cumprod is a Cumprod graph op (tf.math.cumprod with exclusive and reverse) and its gradient is TF's _CumprodGrad (divNoNan of the cumsum of cumprod·dy the other way by x)", () => {
  const x = xs();
  for (const [exclusive, reverse] of [[false, false], [true, false], [false, true], [true, true]]) {
    for (const axis of [0, 1, -1]) {
      const fn = (t: tf.Tensor) => tf.cumprod(t, axis, exclusive, reverse);
      const label = `cumprod axis ${axis} exclusive ${exclusive} reverse ${reverse}`;
      sameAsEager(fn, "Cumprod", x);
      // Without zeros the formula is exact: finite differences of sum(cumprod²), traced and eager.
      const want = finiteDiff((t) => tf.sum(tf.square(fn(t))), value(x[1]), x[1].shape);
      const close = (g: number[]) => g.every((d, i) => Math.abs(d - want[i]) < 2e-2);
      assert.ok(close(tracedGrad(fn, x[1])), `${label}: traced ${tracedGrad(fn, x[1])} vs ${want}`);
      assert.ok(close(eagerGrad(fn, x[1])), `${label}: eager ${eagerGrad(fn, x[1])} vs ${want}`);
    }
  }
  // At an input of 0 TF's formula gives 0 (div_no_nan; the true d/dx_1 of 2 + 2·x_1 + 2·x_1·3
  // is 8): no NaN, and traced, eager and TF agree.
  const z = tf.tensor([2, 0, 3]);
  const plain = (t: tf.Tensor) => tf.cumprod(t);
  const f = tfFunction((t: tf.Tensor) => {
    const tape = new GradientTape();
    tape.watch(t);
    const y = tape.record(() => tf.sum(plain(t)));
    return tape.gradient(y, t) as tf.Tensor;
  }, { autograph: false });
  const g = f(z) as tf.Tensor;
  assert.deepEqual(value(g), [1, 0, 0]);
  assert.deepEqual(tf.tidy(() => value(tf.grad((t) => tf.sum(plain(t)))(z))), [1, 0, 0]);
  tf.dispose([g, z]);
  f.dispose();
  flatMemory((t) => tf.cumprod(t, 1, true, true), x[0]);
  tf.dispose(x);
});

/** Largest absolute difference of two tensors' values. */
const maxDiff = (a: tf.Tensor, b: tf.Tensor): number =>
  Math.max(...value(a).map((v, i) => Math.abs(v - value(b)[i])));

Deno.test("tf.function: tf.conv2d, tf.maxPool, tf.avgPool and tf.fused.conv2d trace as Conv2D, MaxPool and AvgPool graph ops matching eager, for an unknown batch size too, and their gradients (TF's Conv2DBackpropInput/Filter, MaxPoolGrad, AvgPoolGrad) equal the eager tape's", () => {
  const imgs = [1, 2].map((seed) => tf.randomNormal([2, 6, 6, 2], 0, 1, "float32", seed));
  const k = tf.randomNormal([3, 3, 2, 3], 0, 1, "float32", 3);
  const ops: [string, (t: tf.Tensor) => tf.Tensor, string][] = [
    ["conv2d same", (t) => tf.conv2d(t as tf.Tensor4D, k as tf.Tensor4D, 1, "same"), "Conv2D"],
    [
      "conv2d valid, stride 2",
      (t) => tf.conv2d(t as tf.Tensor4D, k as tf.Tensor4D, 2, "valid"),
      "Conv2D",
    ],
    ["maxPool 2x2", (t) => tf.maxPool(t as tf.Tensor4D, 2, 2, "valid"), "MaxPool"],
    ["maxPool 3x3 same, stride 2", (t) => tf.maxPool(t as tf.Tensor4D, 3, 2, "same"), "MaxPool"],
    ["avgPool", (t) => tf.avgPool(t as tf.Tensor4D, 2, 2, "same"), "AvgPool"],
  ];
  for (const [label, fn, type] of ops) {
    sameAs(label, fn, type, imgs);
    assertClose(tracedGrad(fn, imgs[0]), eagerGrad(fn, imgs[0]), `${label}: gradient`);
  }
  // The filter's gradient.
  const lossOfFilter = (x: tf.Tensor, w: tf.Tensor) =>
    tf.sum(tf.square(tf.conv2d(x as tf.Tensor4D, w as tf.Tensor4D, 2, "same")));
  const dw = tfFunction((x: tf.Tensor, w: tf.Tensor) => {
    const tape = new GradientTape();
    tape.watch(w);
    const y = tape.record(() => lossOfFilter(x, w));
    return tape.gradient(y, w) as tf.Tensor;
  }, { autograph: false });
  const [traced, eager] = [
    dw(imgs[0], k) as tf.Tensor,
    tf.grad((w) => lossOfFilter(imgs[0], w))(k),
  ];
  assertClose(value(traced), value(eager), "filter gradient");
  tf.dispose([traced, eager]);
  dw.dispose();
  // tf.fused.conv2d (tf.layers.conv2d's kernel): conv, bias and relu as graph ops.
  const fused = (t: tf.Tensor) =>
    tf.fused.conv2d({
      x: t as tf.Tensor4D,
      filter: k as tf.Tensor4D,
      strides: 1,
      pad: "same",
      bias: tf.tensor([0.5, -0.5, 0]),
      activation: "relu",
    });
  const f = tfFunction(fused, { inputSignature: [{ shape: [null, 6, 6, 2] }] });
  for (const n of [1, 3]) {
    const x = tf.randomNormal([n, 6, 6, 2], 0, 1, "float32", n);
    const [t, e] = [f(x) as tf.Tensor, tf.tidy(() => fused(x))];
    assert.deepEqual(t.shape, [n, 6, 6, 3]);
    assert.ok(maxDiff(t, e) < 1e-5, `fused conv2d on ${n}`);
    tf.dispose([x, t, e]);
  }
  assert.equal(f.traceCount, 1);
  f.dispose();
  flatMemory(
    (t) => tf.maxPool(tf.conv2d(t as tf.Tensor4D, k as tf.Tensor4D, 1, "same"), 2, 2, "valid"),
    imgs[0],
  );
  tf.dispose([...imgs, k]);
});

Deno.test("tf.function: second derivatives through tf.conv2d and tf.maxPool work in a trace (TF's _Conv2DBackpropInputGrad, _Conv2DBackpropFilterGrad, MaxPoolGradGrad): for x → conv2d(x, w), linear, the Hessian of sum(conv²) times v is 2·Kᵀ(K·v), and the mixed and pooled ones equal the eager tape's", () => {
  const x = tf.randomNormal([1, 5, 5, 2], 0, 1, "float32", 5);
  const w = tf.randomNormal([3, 3, 2, 2], 0, 1, "float32", 6);
  const v = tf.randomNormal([1, 5, 5, 2], 0, 1, "float32", 7);
  const conv = (a: tf.Tensor, b: tf.Tensor) =>
    tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, 1, "same");
  // Hessian-vector product in x, against K·v and Kᵀ computed by eager ops.
  const hx = hessianTimes((t) => tf.square(conv(t, w)), x, v);
  const want = tf.tidy(() =>
    tf.mul(
      tf.conv2dTranspose(conv(v, w) as tf.Tensor4D, w as tf.Tensor4D, [1, 5, 5, 2], 1, "same"),
      2,
    )
  );
  assertClose(hx.traced, value(want), "d²/dx² · v");
  // Mixed: d/dw of (dL/dx · v), traced and on the eager tape.
  const mixed = (t: tf.Tensor, input: tf.Tensor) => {
    const outer = new GradientTape();
    outer.watch(t);
    const gv = outer.record(() => {
      const inner = new GradientTape();
      inner.watch(input);
      const y = inner.record(() => tf.sum(tf.square(conv(input, t))));
      return tf.sum(tf.mul(inner.gradient(y, input) as tf.Tensor, v));
    });
    return outer.gradient(gv, t) as tf.Tensor;
  };
  const f = tfFunction(mixed, { autograph: false });
  const traced = f(w, x) as tf.Tensor;
  const eager = tf.tidy(() => mixed(w, x));
  assertClose(value(traced), value(eager), "d²/dw dx · v");
  // Through max pooling (TF's MaxPoolGradGrad): against the eager tape, which registers it too.
  const pooled = hessianTimes(
    (t) => tf.square(tf.maxPool(conv(t, w) as tf.Tensor4D, 2, 1, "same")),
    x,
    v,
  );
  assertClose(pooled.traced, pooled.eager, "through maxPool");
  assert.ok(pooled.traced.some((d) => d !== 0));
  tf.dispose([x, w, v, want, traced, eager]);
  f.dispose();
});

Deno.test("tf.function: a convolutional tf.Sequential model (conv2d, maxPooling2d, flatten, dense) trains in a traced step exactly as the eager step does (TF's custom training loop under tf.function), in one trace", () => {
  const make = () =>
    tf.sequential({
      layers: [
        tf.layers.conv2d({
          inputShape: [6, 6, 2],
          filters: 3,
          kernelSize: 3,
          activation: "relu",
          kernelInitializer: tf.initializers.randomNormal({ seed: 3 }),
        }),
        tf.layers.maxPooling2d({ poolSize: 2 }),
        tf.layers.flatten(),
        tf.layers.dense({ units: 2, kernelInitializer: tf.initializers.randomNormal({ seed: 4 }) }),
      ],
    });
  const [eagerModel, tracedModel] = [make(), make()];
  tracedModel.setWeights(eagerModel.getWeights());
  const stepOf = (model: tf.Sequential, opt: tf.Optimizer) => (x: tf.Tensor, y: tf.Tensor) => {
    const vars = model.trainableWeights.map((w) =>
      (w as unknown as { read(): tf.Variable }).read()
    );
    const tape = new GradientTape();
    const loss = tape.record(() => tf.losses.softmaxCrossEntropy(y, model.apply(x) as tf.Tensor));
    const grads = tape.gradient(loss, vars) as tf.Tensor[];
    opt.applyGradients(vars.map((v, i) => ({ name: v.name, tensor: grads[i] })));
    return loss;
  };
  const [optE, optT] = [tf.train.sgd(0.1), tf.train.sgd(0.1)];
  const eagerStep = stepOf(eagerModel, optE);
  const tracedStep = tfFunction(stepOf(tracedModel, optT), { autograph: false });
  const x = tf.randomNormal([2, 6, 6, 2], 0, 1, "float32", 1);
  const y = tf.tensor([[1, 0], [0, 1]]);
  let before = 0;
  for (let i = 0; i < 4; i++) {
    const le = tf.tidy(() => eagerStep(x, y));
    const lt = tracedStep(x, y) as tf.Tensor;
    assertClose(value(lt), value(le), `loss at step ${i}`);
    tf.dispose([le, lt]);
    if (i === 1) before = tf.memory().numTensors;
  }
  assert.equal(tf.memory().numTensors, before, "traced steps leak nothing");
  assert.equal(tracedStep.traceCount, 1);
  const [we, wt] = [eagerModel.getWeights(), tracedModel.getWeights()];
  we.forEach((w, i) => assertClose(value(wt[i]), value(w), `weight ${i}`));
  tracedStep.dispose();
  tf.dispose([x, y]);
  [optE, optT].forEach((o) => o.dispose());
  [eagerModel, tracedModel].forEach((m) => m.dispose());
});

Deno.test("tf.function: a GradientTape in a trace can watch an eager tensor the function closes over (TF captures it as an input): d(a·x² + x)/dx = 2·a·x + 1 at every call, unwatched it gives null, and nothing leaks", () => {
  const x = tf.tensor([3, -1]);
  const f = tfFunction((a: tf.Tensor) => {
    const tape = new GradientTape({ persistent: true });
    tape.watch(x);
    const y = tape.record(() => tf.sum(tf.add(tf.mul(a, x.square()), x)));
    const other = tf.tensor([1, 2]); // closed over, not watched: no gradient
    const z = tape.record(() => tf.sum(other.square()));
    return [tape.gradient(y, x), tape.gradient(z, other)] as tf.Tensor[];
  }, { autograph: false });
  for (const a of [2, 5]) {
    const [g, none] = f(tf.scalar(a)) as tf.Tensor[];
    assert.deepEqual(value(g), [2 * a * 3 + 1, 2 * a * -1 + 1]);
    assert.equal(none, null);
    g.dispose();
  }
  assert.equal(f.traceCount, 1);
  const before = tf.memory().numTensors;
  for (let i = 0; i < 3; i++) tf.dispose(f(tf.scalar(1)) as tf.Tensor[]);
  assert.equal(tf.memory().numTensors, before + 3, "only the three scalars passed in");
  f.dispose();
  x.dispose();
});

Deno.test("tf.function: tf.matMul on batches of matrices is a BatchMatMulV2 graph op (tf.linalg.matmul: batch dimensions broadcast, transposes) matching eager, and its gradient (TF's _BatchMatMulV2Grad, summed over broadcast batch dimensions) equals the eager tape's", () => {
  const a = tf.randomNormal([2, 3, 4], 0, 1, "float32", 1);
  const b = tf.randomNormal([2, 4, 5], 0, 1, "float32", 2);
  const bt = tf.randomNormal([2, 5, 4], 0, 1, "float32", 3);
  const shared = tf.randomNormal([1, 4, 5], 0, 1, "float32", 4);
  const cases: [string, (t: tf.Tensor) => tf.Tensor][] = [
    ["a·b", (t) => tf.matMul(t, b)],
    ["a·btᵀ", (t) => tf.matMul(t, bt, false, true)],
    ["(aᵀ)ᵀ·b", (t) => tf.matMul(tf.transpose(t, [0, 2, 1]), b, true)],
    ["a·shared (batch broadcast)", (t) => tf.matMul(t, shared)],
    [
      "the broadcast side's gradient",
      (t) => tf.matMul(bt, tf.slice(t, [0, 0, 0], [1, 3, 4]).reshape([1, 4, 3])),
    ],
  ];
  for (const [label, fn] of cases) {
    sameAs(label, fn, "BatchMatMulV2", [a, tf.mul(a, 2)]);
    assertClose(tracedGrad(fn, a), eagerGrad(fn, a), `${label}: gradient`);
  }
  // Closed form on the broadcast side: for L = sum((B·S)²), dL/dS = Σ over the batch of Bᵀ·2·B·S.
  const s3 = tf.randomNormal([1, 4, 3], 0, 1, "float32", 5);
  const want = tf.tidy(() => tf.sum(tf.matMul(bt, tf.mul(tf.matMul(bt, s3), 2), true), 0, true));
  assertClose(tracedGrad((t) => tf.matMul(bt, t), s3), value(want), "dL/dS summed over the batch");
  flatMemory((t) => tf.matMul(t, b), a);
  tf.dispose([a, b, bt, shared, s3, want]);
});

Deno.test("tf.function: tf.customGrad inside a trace builds its forward ops and takes its gradFunc as the gradient (TF's tf.custom_gradient in a tf.function)", () => {
  // y = x² forward, but a gradient of 10·dy: the tape must use gradFunc, not d(x²)/dx.
  const custom = tf.customGrad((x, save) => {
    (save as tf.GradSaveFunc)([x as tf.Tensor]);
    return { value: tf.square(x as tf.Tensor), gradFunc: (dy: tf.Tensor) => [tf.mul(dy, 10)] };
  });
  const f = tfFunction((t: tf.Tensor) => {
    const tape = new GradientTape();
    tape.watch(t);
    const y = tape.record(() => tf.sum(custom(t) as tf.Tensor));
    return [y, tape.gradient(y, t)] as tf.Tensor[];
  }, { autograph: false });
  const x = tf.tensor([1, -2, 3]);
  const [y, g] = f(x) as tf.Tensor[];
  assert.deepEqual(value(y), [14]);
  assert.deepEqual(value(g), [10, 10, 10]);
  const eager = tf.tidy(() => value(tf.grad((t) => tf.sum(custom(t) as tf.Tensor))(x)));
  assert.deepEqual(value(g), eager);
  tf.dispose([y, g]);
  const before = tf.memory().numTensors;
  for (let i = 0; i < 3; i++) tf.dispose(f(x) as tf.Tensor[]);
  assert.equal(tf.memory().numTensors, before);
  f.dispose();
  x.dispose();
});

Deno.test("tf.function: in a trace d|x|/dx is sign(x), 0 at x = 0 (TF's _AbsGrad), and tf.sign's gradient is zeros, not None (TF's _SignGrad)", () => {
  const f = tfFunction((t: tf.Tensor) => {
    const tape = new GradientTape({ persistent: true });
    tape.watch(t);
    const a = tape.record(() => tf.sum(tf.abs(t)));
    const s = tape.record(() => tf.sum(tf.sign(t)));
    return [tape.gradient(a, t), tape.gradient(s, t)] as tf.Tensor[];
  }, { autograph: false });
  const x = tf.tensor([-2, 0, 3]);
  const [da, ds] = f(x) as tf.Tensor[];
  assert.deepEqual(value(da), [-1, 0, 1]);
  assert.ok(ds !== null, "a zeros gradient, not null");
  assert.deepEqual(value(ds), [0, 0, 0]);
  tf.dispose([da, ds]);
  const before = tf.memory().numTensors;
  for (let i = 0; i < 3; i++) tf.dispose(f(x) as tf.Tensor[]);
  assert.equal(tf.memory().numTensors, before);
  f.dispose();
  x.dispose();
});
