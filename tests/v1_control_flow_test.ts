import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../lib/backend.ts";
import * as v1 from "../lib/v1/mod.ts";

await initBackend();

Deno.test("cond runs only the taken branch (op counter and op names)", () => {
  const g = new v1.Graph();
  const { x, r } = g.asDefault(() => {
    const x = v1.placeholder("float32", [3], "x");
    const r = v1.cond(
      v1.greater(v1.reduceSum(x), 0),
      () => v1.mul(x, 2, "double"),
      () => v1.exp(v1.neg(v1.tanh(v1.square(x))), "expensive"),
    );
    return { x, r };
  });
  assert.equal(r.op.type, "StatelessIf"); // TF2 cond_v2: branches without stateful ops
  assert.deepEqual(r.shape, [3]);
  const sess = new v1.Session(g);
  assert.deepEqual(sess.run(r, new Map([[x, [1, 2, 3]]])), [2, 4, 6]);
  const thenOps = sess.lastRunOps.filter((n) => n.startsWith("cond/"));
  assert.ok(thenOps.some((n) => n === "cond/then/double"));
  assert.ok(thenOps.every((n) => n.startsWith("cond/then/")));
  const thenCount = sess.lastRunOpCount;

  const neg = sess.run(r, new Map([[x, [-1, -2, -3]]])) as number[];
  assert.ok(Math.abs(neg[0] - Math.exp(-Math.tanh(1))) < 1e-5);
  assert.ok(sess.lastRunOps.includes("cond/else/expensive"));
  assert.ok(!sess.lastRunOps.some((n) => n.startsWith("cond/then/")));
  assert.ok(sess.lastRunOpCount > thenCount); // the else branch has more ops
  sess.close();
  g.dispose();
});

Deno.test("cond with list outputs, captured tensors and mismatched branches", () => {
  const g = new v1.Graph();
  g.asDefault(() => {
    const x = v1.placeholder("float32", [null, 2], "x");
    const p = v1.placeholder("bool", [], "p");
    const [a, b] = v1.cond(p, () => [x, v1.reduceSum(x)], () => [v1.neg(x), v1.constant(0)]);
    assert.deepEqual(a.shape, [null, 2]);
    const sess = new v1.Session(g);
    assert.deepEqual(
      sess.run([a, b], new Map<v1.SymbolicTensor, v1.FeedValue>([[x, [[1, 2]]], [p, true]])),
      [[[1, 2]], 3],
    );
    assert.deepEqual(
      sess.run([a, b], new Map<v1.SymbolicTensor, v1.FeedValue>([[x, [[1, 2]]], [p, false]])),
      [[[-1, -2]], 0],
    );
    sess.close();
    assert.throws(() => v1.cond(p, () => x, () => v1.cast(x, "int32")), v1.DTypeError);
    // Branches of different ranks: an output of unknown rank (cond_v2's most specific
    // compatible shape), not an error.
    assert.equal(v1.cond(p, () => x, () => v1.reduceSum(x)).unknownRank, true);
    assert.throws(() => v1.cond(x, () => x, () => x), v1.DTypeError);
  });
  g.dispose();
});

Deno.test("whileLoop sums 1..n and counts iterations; maximumIterations stops it", () => {
  const g = new v1.Graph();
  const { n, i, s, capped } = g.asDefault(() => {
    const n = v1.placeholder("int32", [], "n");
    const [i, s] = v1.whileLoop(
      (i, _s) => v1.less(i, n),
      (i, s) => [v1.add(i, 1), v1.add(s, v1.add(i, 1))],
      [v1.constant(0, "int32"), v1.constant(0, "int32")],
    );
    const [capped] = v1.whileLoop(
      (k) => v1.less(k, 1000),
      (k) => [v1.add(k, 1)],
      [v1.constant(0)],
      {
        maximumIterations: 7,
      },
    );
    return { n, i, s, capped };
  });
  const sess = new v1.Session(g);
  for (const k of [0, 1, 10, 100]) {
    assert.deepEqual(sess.run([i, s], new Map([[n, k]])), [k, (k * (k + 1)) / 2]);
    const bodyRuns = sess.lastRunOps.filter((o) => o === "while/body/AddV2").length;
    assert.equal(bodyRuns, k);
  }
  assert.equal(sess.run(capped), 7);
  sess.close();
  g.dispose();
});

Deno.test("whileLoop on a matrix with a captured variable; no leaks over 100 runs", () => {
  const before = tf.memory().numTensors;
  const g = new v1.Graph();
  const { out } = g.asDefault(() => {
    const m = new v1.Variable([[0.5, 0], [0, 2]], { name: "m" });
    const [, out] = v1.whileLoop(
      (k, _v) => v1.less(k, 3),
      (k, v) => [v1.add(k, 1), v1.matMul(v, m)],
      [v1.constant(0), v1.constant([[1, 1]])],
    );
    return { out };
  });
  const sess = new v1.Session(g);
  assert.throws(() => sess.run(out), v1.FailedPreconditionError);
  sess.run(v1.globalVariablesInitializer(g));
  assert.deepEqual(sess.run(out), [[0.125, 8]]);
  const steady = tf.memory().numTensors;
  for (let r = 0; r < 100; r++) sess.run(out);
  assert.equal(tf.memory().numTensors, steady);
  sess.close();
  g.dispose();
  assert.equal(tf.memory().numTensors, before);
});

Deno.test("whileLoop checks the body keeps dtypes and shapes", () => {
  const g = new v1.Graph();
  g.asDefault(() => {
    const z = v1.constant([1, 2]);
    assert.throws(
      () => v1.whileLoop((a) => v1.less(v1.reduceSum(a), 9), (a) => [v1.reduceSum(a)], [z]),
      v1.ShapeError,
    );
    assert.throws(
      () => v1.whileLoop((a) => v1.less(v1.reduceSum(a), 9), (a) => [v1.cast(a, "int32")], [z]),
      v1.DTypeError,
    );
    assert.throws(() => v1.whileLoop((a) => a, (a) => [a], [z]), v1.DTypeError);
  });
  g.dispose();
});

Deno.test("whileLoop refuses maximumIterations that is negative, NaN or not a whole number (TF: a non-negative integer)", () => {
  const g = new v1.Graph();
  g.asDefault(() => {
    const x = v1.constant(1);
    for (const bad of [-5, -1, NaN, 2.5, Infinity]) {
      assert.throws(
        () =>
          v1.whileLoop((v) => v1.less(v, 10), (v) => [v1.add(v, 1)], [x], {
            maximumIterations: bad,
          }),
        (e: Error) => e instanceof v1.GraphError && /maximumIterations/.test(e.message),
        `maximumIterations ${bad}`,
      );
    }
    // 0 is allowed: the body never runs.
    const [zero] = v1.whileLoop((v) => v1.less(v, 10), (v) => [v1.add(v, 1)], [x], {
      maximumIterations: 0,
    });
    const sess = new v1.Session(g);
    assert.equal(sess.run(zero), 1);
    sess.close();
  });
  g.dispose();
});

Deno.test("failed cond and whileLoop builds leak no tensors (100 failing calls; TF raises, keeps nothing)", () => {
  const before = tf.memory().numTensors;
  const g = new v1.Graph();
  g.asDefault(() => {
    const p = v1.placeholder("bool", [], "p");
    const x = v1.placeholder("float32", [], "x");
    for (let i = 0; i < 100; i++) {
      // branches giving different numbers of tensors
      assert.throws(
        () => v1.cond(p, () => [v1.constant([1, 2]), x], () => [v1.constant(3)]),
        /the true branch gives 2 tensors, the false 1/,
      );
      // a branch that throws after creating constants
      assert.throws(() =>
        v1.cond(p, () => v1.constant([1, 2]), () => {
          v1.constant([4, 5]);
          throw new Error("branch failed");
        }), /branch failed/);
      // a loop body that changes a loop variable's dtype
      assert.throws(
        () => v1.whileLoop((v) => v1.less(v, 3), () => [v1.constant(1, "int32")], [x]),
        v1.DTypeError,
      );
      // a condition that is not a bool scalar
      assert.throws(() => v1.whileLoop(() => v1.constant([1, 2]), (v) => [v], [x]), v1.DTypeError);
    }
  });
  g.dispose();
  assert.equal(tf.memory().numTensors, before);
});

Deno.test("cond_v2/while_v2: StatelessIf/StatelessWhile without stateful ops in the branches, If/While with a variable read, a print or a random draw (TF's _is_stateful)", () => {
  const v = tf.variable(tf.scalar(2));
  const g = new v1.Graph();
  const types = g.asDefault(() => {
    const x = v1.placeholder("float32", [], "x");
    const p = v1.greater(x, 0);
    const pure = v1.cond(p, () => v1.mul(x, 2), () => v1.neg(x));
    const reads = v1.cond(p, () => v1.mul(x, v), () => v1.neg(x));
    const prints = v1.cond(p, () => v1.print(x, "x:"), () => x);
    const draws = v1.cond(p, () => v1.add(x, v1.randomUniform([])), () => x);
    const loop = (body: (i: v1.SymbolicTensor) => v1.SymbolicTensor) =>
      v1.whileLoop((i) => v1.less(i, 3), body, [x])[0];
    const pureLoop = loop((i) => v1.add(i, 1));
    const readLoop = loop((i) => v1.add(i, v));
    // A loop whose body holds a stateful If is stateful; one holding a StatelessIf is not.
    const nested = loop((i) => v1.cond(v1.less(i, 0), () => v1.add(i, v), () => v1.add(i, 1)));
    const nestedPure = loop((i) => v1.cond(v1.less(i, 0), () => v1.add(i, 2), () => v1.add(i, 1)));
    return [pure, reads, prints, draws, pureLoop, readLoop, nested, nestedPure].map((t) =>
      t.op.type
    );
  });
  assert.deepEqual(types, [
    "StatelessIf",
    "If",
    "If",
    "If",
    "StatelessWhile",
    "While",
    "While",
    "StatelessWhile",
  ]);
  g.dispose();
  v.dispose();
});

Deno.test("StatelessIf and StatelessWhile run and differentiate as If and While do (gradients through both names)", () => {
  const g = new v1.Graph();
  const { x, r, w, dr, dw } = g.asDefault(() => {
    const x = v1.placeholder("float32", [], "x");
    const r = v1.cond(v1.greater(x, 0), () => v1.square(x), () => v1.neg(x));
    const w = v1.whileLoop((i, _a) => v1.less(i, 3), (i, a) => [v1.add(i, 1), v1.mul(a, x)], [
      0,
      v1.onesLike(x),
    ])[1];
    const [dr] = v1.gradients([r], [x]);
    const [dw] = v1.gradients([w], [x]);
    return { x, r, w, dr, dw };
  });
  assert.deepEqual([r.op.type, w.op.type], ["StatelessIf", "StatelessWhile"]);
  const sess = new v1.Session(g);
  const before = tf.memory().numTensors;
  for (let k = 0; k < 3; k++) {
    const out = sess.run([r, w, dr!, dw!], new Map([[x, 1.5]])) as number[];
    assert.deepEqual(out.map((n) => Math.round(n * 1e4) / 1e4), [2.25, 3.375, 3, 6.75]);
  }
  assert.equal(tf.memory().numTensors, before);
  g.dispose();
});
