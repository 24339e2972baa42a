// TF1 graphs and sessions as the tf.compat.v1 API documents them (placeholder, name_scope,
// Graph.unique_name, control_dependencies, Session.run feeds and fetches, Variable.assign).
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../lib/backend.ts";
import * as v1 from "../lib/v1/mod.ts";
import { assignAdd, assignSub, VariableError } from "../lib/variables.ts";

await initBackend();

Deno.test("tf.compat.v1.placeholder without a shape has unknown rank and can be fed any shape", () => {
  const g = new v1.Graph();
  const { x, y, total, n } = g.asDefault(() => {
    const x = v1.placeholder("float32");
    const y = v1.add(v1.square(x), 1);
    return { x, y, total: v1.reduceSum(y), n: v1.shapeOf(x) };
  });
  assert.equal(x.unknownRank, true);
  assert.equal(x.toString(), 'Tensor("Placeholder:0", shape=<unknown>, dtype=float32)');
  assert.equal(y.unknownRank, true); // unknown rank propagates through elementwise ops
  assert.equal(total.unknownRank, false);
  assert.deepEqual(total.shape, []); // a full reduction is a scalar
  assert.deepEqual(n.shape, [null]);
  const sess = new v1.Session(g);
  assert.equal(sess.run(y, new Map([[x, 2]])), 5);
  assert.deepEqual(sess.run(y, new Map([[x, [[1, 2], [3, 4]]]])), [[2, 5], [10, 17]]);
  assert.equal(sess.run(total, new Map([[x, [1, 2, 3]]])), 17);
  assert.deepEqual(sess.run(n, new Map([[x, [[1, 2, 3]]]])), [1, 3]);
  sess.close();
  g.dispose();
});

Deno.test("tf.compat.v1.name_scope: re-entering a scope name opens a new scope (dense, dense_1)", () => {
  const g = new v1.Graph();
  g.asDefault(() => {
    const x = v1.placeholder("float32", [2], "x");
    g.nameScope("dense", () => v1.relu(x));
    g.nameScope("dense", () => v1.relu(x));
    g.nameScope("dense", () => g.nameScope("inner", () => v1.relu(x)));
  });
  const names = g.operations.map((op) => op.name);
  assert.deepEqual(names, ["x", "dense/Relu", "dense_1/Relu", "dense_2/inner/Relu"]);
  g.dispose();
});

Deno.test("tf.Graph.unique_name: a name asked for again gets _1, _2, ...; taken names are skipped", () => {
  const g = new v1.Graph();
  g.asDefault(() => {
    v1.placeholder("float32", [1], "x_1"); // the user took x_1 first
    for (let i = 0; i < 3; i++) v1.placeholder("float32", [1], "x");
  });
  assert.deepEqual(g.operations.map((op) => op.name), ["x_1", "x", "x_2", "x_3"]);
  g.dispose();
});

Deno.test("tf.compat.v1: an op built from another graph's tensor goes to that graph; mixing graphs raises", () => {
  const g1 = new v1.Graph(), g2 = new v1.Graph();
  const a = g1.asDefault(() => v1.placeholder("float32", [2], "a"));
  const b = g2.asDefault(() => v1.placeholder("float32", [2], "b"));
  const c = g2.asDefault(() => v1.add(a, 3)); // default graph g2, input from g1
  assert.equal(c.graph, g1);
  assert.equal(c.op.inputs[1].graph, g1); // the constant went with it
  assert.throws(
    () => v1.add(a, b),
    (e: Error) => e instanceof v1.GraphError && /must be from the same graph/.test(e.message),
  );
  g1.dispose();
  g2.dispose();
});

Deno.test("tf.compat.v1.Variable.assign checks the dtype when the op is built", () => {
  const g = new v1.Graph();
  g.asDefault(() => {
    const w = new v1.Variable([1, 2], { name: "w" });
    const ints = v1.placeholder("int32", [2], "i");
    assert.throws(() => w.assign(ints), v1.DTypeError);
    assert.throws(() => w.assignAdd(ints), v1.DTypeError);
    w.assign([3, 4]); // numbers take the variable's dtype
  });
  g.dispose();
});

Deno.test("tf.Variable.assign_add / assign_sub refuse a shape or dtype TensorFlow refuses (no broadcasting)", () => {
  const v = tf.variable(tf.tensor([1, 2, 3]));
  const n = tf.variable(tf.scalar(1, "int32"));
  const wrongShape = tf.ones([1]);
  const wrongDtype = tf.ones([3], "int32");
  const before = tf.memory().numTensors;
  assert.throws(
    () => assignAdd(v, 1),
    (e: Error) => e instanceof VariableError && /shapes must be equal/.test(e.message),
  );
  assert.throws(() => assignAdd(v, wrongShape), VariableError);
  assert.throws(
    () => assignSub(v, wrongDtype),
    (e: Error) => e instanceof VariableError && /int32/.test(e.message),
  );
  assert.throws(() => assignAdd(n, 0.5), VariableError); // 0.5 is not an int32
  assert.equal(tf.memory().numTensors, before);
  assignAdd(v, [1, 1, 1]);
  assignAdd(n, 2);
  assert.deepEqual(Array.from(v.dataSync()), [2, 3, 4]);
  assert.equal(n.dataSync()[0], 3);
  tf.dispose([v, n, wrongShape, wrongDtype]);
});

Deno.test("Session.run: an int32 feed converts as np.asarray(x, int32) (truncates) and refuses NaN and out-of-range values", () => {
  const g = new v1.Graph();
  const n = g.asDefault(() => v1.placeholder("int32", [null], "n"));
  const sess = new v1.Session(g);
  assert.deepEqual(sess.run(n, new Map([[n, [2.7, -2.7, 3]]])), [2, -2, 3]);
  assert.deepEqual(sess.run(n, new Map([[n, [2 ** 31 - 1, -(2 ** 31)]]])), [
    2 ** 31 - 1,
    -(2 ** 31),
  ]);
  const before = tf.memory().numTensors;
  for (const bad of [NaN, Infinity, 2 ** 31, -(2 ** 31) - 1]) {
    assert.throws(
      () => sess.run(n, new Map([[n, [1, bad]]])),
      (e: Error) =>
        e instanceof v1.FeedError && /"n"/.test(e.message) && e.message.includes(String(bad)),
    );
  }
  assert.equal(tf.memory().numTensors, before);
  sess.close();
  g.dispose();
});

Deno.test("Session.run: typed errors for a disposed feed and an eager tensor fetched; no leaks", () => {
  const g = new v1.Graph();
  const { x, y } = g.asDefault(() => {
    const x = v1.placeholder("float32", [2], "x");
    return { x, y: v1.add(x, 1) };
  });
  const sess = new v1.Session(g);
  const dead = tf.tensor([1, 2]);
  dead.dispose();
  const eager = tf.tensor([1]);
  const before = tf.memory().numTensors;
  for (let i = 0; i < 3; i++) {
    assert.throws(
      () => sess.run(y, new Map([[x, dead]])),
      (e: Error) => e instanceof v1.DisposedTensorError && /"x"/.test(e.message),
    );
    assert.throws(
      () => sess.run({ a: y, b: eager as never }, new Map([[x, [1, 2]]])),
      (e: Error) =>
        e instanceof v1.FetchError && /fetches\.b/.test(e.message) && /eager/.test(e.message),
    );
    assert.throws(() => sess.run([y, false as never]), v1.FetchError);
  }
  assert.equal(tf.memory().numTensors, before);
  eager.dispose();
  sess.close();
  g.dispose();
});

Deno.test("tf.compat.v1.control_dependencies: ops built inside run after the dependencies", () => {
  const g = new v1.Graph();
  const { w, read, inc } = g.asDefault(() => {
    const w = new v1.Variable(0, { name: "w" });
    const inc = w.assignAdd(1);
    const read = v1.controlDependencies([inc], () => v1.identity(w, "read"));
    return { w, read, inc };
  });
  assert.ok(read.op.controlInputs.includes(inc.op));
  const sess = new v1.Session(g);
  sess.run(v1.globalVariablesInitializer(g));
  assert.equal(sess.run(read), 1); // the increment ran first
  assert.equal(sess.run(read), 2);
  assert.equal(sess.run(w), 2);
  sess.close();
  g.dispose();
});

Deno.test("graphs of 100,000 ops build, run and trace without stack overflow", async () => {
  const { tfFunction } = await import("../lib/function.ts");
  const n = 100_000;
  const g = new v1.Graph();
  const { x, y } = g.asDefault(() => {
    const x = v1.placeholder("float32", [2], "x");
    let y = x;
    for (let i = 0; i < n; i++) y = v1.neg(y);
    return { x, y };
  });
  assert.equal(g.operations.length, n + 1);
  assert.equal(g.operations.at(-1)!.name, `Neg_${n - 1}`);
  const sess = new v1.Session(g);
  assert.deepEqual(sess.run(y, new Map([[x, [1, 2]]])), [1, 2]);
  assert.equal(sess.lastRunOpCount, n);
  sess.close();
  g.dispose();
  const f = tfFunction((a: tf.Tensor) => {
    let b = a;
    for (let i = 0; i < n + 1; i++) b = b.neg();
    return b;
  });
  const a = tf.tensor([1, 2]);
  const r = f(a);
  assert.deepEqual(Array.from(r.dataSync()), [-1, -2]);
  tf.dispose([a, r]);
  f.dispose();
});

Deno.test("Session.run and Graph.get_tensor_by_name: tensors and ops may be named by their TF names", () => {
  const g = new v1.Graph();
  const { x, y } = g.asDefault(() => {
    const x = v1.placeholder("float32", [2], "x");
    return { x, y: v1.mul(x, 2, "double") };
  });
  assert.equal(g.getTensorByName("double:0"), y);
  assert.equal(g.getOperationByName("x"), x.op);
  assert.throws(() => g.getTensorByName("nope:0"), v1.GraphError);
  const sess = new v1.Session(g);
  assert.deepEqual(sess.run("double:0", new Map([["x:0", [1, 2]]])), [2, 4]);
  assert.deepEqual(sess.run({ out: "double:0" }, new Map([[x, [3, 4]]])), { out: [6, 8] });
  assert.throws(() => sess.run("missing:0"), v1.FetchError);
  sess.close();
  g.dispose();
});
