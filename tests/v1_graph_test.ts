import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../lib/backend.ts";
import * as v1 from "../lib/v1/mod.ts";

await initBackend();

Deno.test("the issue's usage snippet: host values, fetch structure kept", () => {
  const g = new v1.Graph();
  const { x, w, y } = g.asDefault(() => {
    const x = v1.placeholder("float32", [null, 2], "x");
    const w = new v1.Variable(tf.ones([2, 1]), { name: "w" });
    return { x, w, y: v1.matMul(x, w) };
  });
  const sess = new v1.Session(g);
  sess.run(v1.globalVariablesInitializer(g));
  assert.deepEqual(sess.run(y, new Map([[x, [[1, 2]]]])), [[3]]);
  const feed = new Map([[x, [[1, 2], [3, 5]]]]);
  assert.deepEqual(sess.run({ y, w }, feed), { y: [[3], [8]], w: [[1], [1]] });
  assert.deepEqual(sess.run([y, [w]], feed), [[[3], [8]], [[[1], [1]]]]);
  assert.equal(sess.run(v1.reduceSum(y), feed), 11); // scalars come back as numbers
  sess.close();
  g.dispose();
});

Deno.test("operations: unique TF-style names, types, inputs, shapes, JSON attrs", () => {
  const g = new v1.Graph();
  g.asDefault(() => {
    const x = v1.placeholder("float32", [null, 3], "x");
    const a = v1.relu(v1.matMul(x, tf.ones([3, 4])));
    g.nameScope("dense", () => v1.matMul(a, tf.ones([4, 2]), false, false));
    v1.matMul(a, tf.ones([4, 1]));
  });
  const names = g.operations.map((op) => op.name);
  assert.equal(new Set(names).size, names.length);
  assert.ok(
    names.includes("MatMul") && names.includes("MatMul_1") && names.includes("dense/MatMul"),
  );
  const json = JSON.parse(JSON.stringify(g.toJSON())) as v1.OpInfo[];
  const relu = json.find((o) => o.type === "Relu")!;
  assert.deepEqual(relu.inputs, ["MatMul"]);
  assert.deepEqual(relu.outputs, [{ dtype: "float32", shape: [null, 4] }]);
  const mm = json.find((o) => o.name === "dense/MatMul")!;
  assert.deepEqual(mm.attrs, { transpose_a: false, transpose_b: false });
  assert.deepEqual(mm.outputs[0].shape, [null, 2]);
  assert.equal(json.find((o) => o.name === "x")!.type, "Placeholder");
  g.dispose();
});

Deno.test("static shape inference with broadcasting, reductions, reshape, argMax", () => {
  const g = new v1.Graph();
  g.asDefault(() => {
    const x = v1.placeholder("float32", [null, 3], "x");
    assert.deepEqual(v1.add(x, [1, 2, 3]).shape, [null, 3]);
    assert.deepEqual(v1.mul(x, v1.placeholder("float32", [5, 1, 1])).shape, [5, null, 3]);
    assert.deepEqual(v1.reduceSum(x, 1).shape, [null]);
    assert.deepEqual(v1.reduceMean(x, 0, true).shape, [1, 3]);
    assert.deepEqual(v1.reduceSum(x).shape, []);
    assert.deepEqual(v1.reshape(x, [-1, 1, 3]).shape, [null, 1, 3]);
    assert.deepEqual(v1.reshape(v1.constant([[1, 2], [3, 4]]), [-1]).shape, [4]);
    assert.deepEqual(v1.argMax(x, 1).shape, [null]);
    assert.equal(v1.argMax(x, 1).dtype, "int32");
    assert.equal(v1.equal(x, x).dtype, "bool");
    assert.deepEqual(v1.softmaxCrossEntropyWithLogits(x, x).shape, [null]);
  });
  g.dispose();
});

Deno.test("shape and dtype mismatches throw at build time, naming both shapes and the op", () => {
  const g = new v1.Graph();
  g.asDefault(() => {
    const x = v1.placeholder("float32", [null, 3], "x");
    assert.throws(
      () => v1.add(x, [1, 2]),
      (e: Error) =>
        e instanceof v1.ShapeError && /AddV2/.test(e.message) && /\(\?, 3\)/.test(e.message) &&
        /\(2,\)/.test(e.message),
    );
    assert.throws(
      () => v1.matMul(x, tf.ones([4, 2])),
      (e: Error) =>
        e instanceof v1.ShapeError && /MatMul/.test(e.message) && /\(4, 2\)/.test(e.message),
    );
    assert.throws(() => v1.reshape(v1.constant([1, 2, 3]), [2, 2]), v1.ShapeError);
    assert.throws(() => v1.reduceSum(x, 2), v1.ShapeError);
    assert.throws(() => v1.add(x, v1.placeholder("int32", [3])), v1.DTypeError);
    assert.throws(() => +x, v1.GraphError); // no value while building
  });
  const other = new v1.Graph();
  const y = other.asDefault(() => v1.placeholder("float32", [3]));
  const z = g.asDefault(() => v1.placeholder("float32", [3]));
  assert.throws(() => v1.add(y, z), v1.GraphError);
  g.dispose();
  other.dispose();
});

Deno.test("feeds are validated: missing, wrong dtype, wrong shape, ragged", () => {
  const g = new v1.Graph();
  const { x, n, y } = g.asDefault(() => {
    const x = v1.placeholder("float32", [null, 2], "x");
    const n = v1.placeholder("int32", [], "n");
    return { x, n, y: v1.reduceSum(x) };
  });
  const sess = new v1.Session(g);
  assert.throws(
    () => sess.run(y),
    (e: Error) => e instanceof v1.FeedError && /"x"/.test(e.message),
  );
  assert.throws(
    () => sess.run(y, new Map([[x, [[1, 2, 3]]]])),
    (e: Error) =>
      e instanceof v1.FeedError && /\(1, 3\)/.test(e.message) && /\(\?, 2\)/.test(e.message),
  );
  const ints = tf.tensor([[1, 2]], undefined, "int32");
  assert.throws(
    () => sess.run(y, new Map([[x, ints]])),
    (e: Error) => e instanceof v1.FeedError && /int32/.test(e.message),
  );
  // NumPy's np.asarray(1.5, dtype=int32) truncates, as a TF1 feed does (was: refused).
  assert.equal(sess.run(n, new Map([[n, 1.5]])), 1);
  assert.throws(() => sess.run(y, new Map([[x, [[1, 2], [3]]]])), v1.FeedError);
  assert.throws(
    () => sess.run(y, new Map([[x, [["a", "b"]] as unknown as number[][]]])),
    v1.FeedError,
  );
  assert.equal(sess.run(n, new Map([[n, 7]])), 7);
  const fed = tf.tensor([[1, 2], [3, 4]]);
  assert.equal(sess.run(y, new Map([[x, fed]])), 10); // a tf.Tensor feed is used, not freed
  assert.equal(fed.isDisposed, false);
  ints.dispose();
  fed.dispose();
  sess.close();
  g.dispose();
});

Deno.test("Session.run executes only the subgraph the fetches need", () => {
  const g = new v1.Graph();
  const { x, a, b, c } = g.asDefault(() => {
    const x = v1.placeholder("float32", [2], "x");
    const a = v1.square(x, "a");
    const b = v1.exp(v1.neg(v1.tanh(a)), "b");
    const c = v1.add(a, 1, "c");
    return { x, a, b, c };
  });
  const sess = new v1.Session(g);
  const feed = new Map([[x, [1, 2]]]);
  sess.run(a, feed);
  assert.deepEqual(sess.lastRunOps, ["a"]);
  sess.run(c, feed);
  assert.equal(sess.lastRunOpCount, 3); // a, the constant 1, c
  sess.run(b, feed);
  assert.deepEqual(sess.lastRunOps, ["a", "Tanh", "Neg", "b"]);
  // Feeding an intermediate tensor cuts the graph above it.
  assert.deepEqual(sess.run(c, new Map([[a, [5, 6]]])), [6, 7]);
  assert.ok(!sess.lastRunOps.includes("a"));
  sess.close();
  g.dispose();
});

Deno.test("variables: uninitialized use fails clearly; assign ops; close frees values", () => {
  const before = tf.memory().numTensors;
  const g = new v1.Graph();
  const { w, inc, set } = g.asDefault(() => {
    const w = new v1.Variable([1, 2], { name: "w" });
    return { w, inc: w.assignAdd([10, 10]), set: w.assign(v1.constant([0, 0])) };
  });
  assert.throws(() => g.asDefault(() => w.assign([1, 2, 3])), v1.ShapeError);
  const sess = new v1.Session(g);
  assert.throws(
    () => sess.run(w),
    (e: Error) =>
      e instanceof v1.FailedPreconditionError && /uninitialized value w/.test(e.message),
  );
  sess.run(v1.globalVariablesInitializer(g));
  assert.deepEqual(sess.run(inc), [11, 12]);
  assert.deepEqual(sess.run(w), [11, 12]);
  assert.deepEqual(sess.run(set), [0, 0]);
  const sess2 = new v1.Session(g); // each session has its own variable values
  assert.throws(() => sess2.run(w), v1.FailedPreconditionError);
  sess2.close();
  sess.close();
  assert.throws(() => sess.run(w), v1.GraphError);
  g.dispose();
  assert.equal(tf.memory().numTensors, before);
});

Deno.test("no leaks: numTensors flat across 100 runs and back to the start after close", () => {
  const before = tf.memory().numTensors;
  const g = new v1.Graph();
  const { x, y, step } = g.asDefault(() => {
    const x = v1.placeholder("float32", [null, 3], "x");
    const w = new v1.Variable([[0], [0], [0]], { name: "w" });
    const y = v1.reduceMean(v1.square(v1.sub(v1.matMul(x, w), 1)));
    return { x, y, step: new v1.train.GradientDescentOptimizer(0.1).minimize(y) };
  });
  const sess = new v1.Session(g);
  sess.run(v1.globalVariablesInitializer(g));
  const feed = new Map([[x, [[1, 2, 3], [4, 5, 6]]]]);
  sess.run([step, y], feed);
  const steady = tf.memory().numTensors;
  for (let i = 0; i < 100; i++) sess.run({ step, y }, feed);
  assert.equal(tf.memory().numTensors, steady);
  sess.close();
  g.dispose();
  assert.equal(tf.memory().numTensors, before);
});

Deno.test("default graph, asDefault, resetDefaultGraph", () => {
  v1.resetDefaultGraph();
  const d = v1.getDefaultGraph();
  const p = v1.placeholder("float32", [1]);
  assert.equal(p.graph, d);
  const g = new v1.Graph();
  const q = g.asDefault(() => {
    assert.equal(v1.getDefaultGraph(), g);
    return v1.placeholder("float32", [1]);
  });
  assert.equal(q.graph, g);
  assert.equal(v1.getDefaultGraph(), d);
  // Ops on tensors of one graph go into that graph, as in TF1.
  assert.equal(v1.square(q).graph, g);
  v1.resetDefaultGraph();
  assert.notEqual(v1.getDefaultGraph(), d);
  assert.equal(q.toString(), 'Tensor("Placeholder:0", shape=(1,), dtype=float32)');
  g.dispose();
});

Deno.test("drawGraph: an SVG with one box per op, labels and arrows", () => {
  const g = new v1.Graph();
  const y = g.asDefault(() => {
    const x = v1.placeholder("float32", [null, 2], "x");
    const w = new v1.Variable(tf.ones([2, 1]), { name: "w" });
    return v1.sigmoid(v1.matMul(x, w));
  });
  v1.globalVariablesInitializer(g);
  const markup = v1.graphToSvg(g, { title: "test" });
  assert.ok(markup.startsWith("<svg") && markup.endsWith("</svg>"));
  assert.equal((markup.match(/<rect x=/g) ?? []).length, 4); // x, w, MatMul, Sigmoid (no init)
  assert.equal((markup.match(/marker-end=/g) ?? []).length, 3);
  assert.ok(markup.includes("(?, 1) float32") && markup.includes(">Sigmoid<"));
  const all = v1.graphToSvg(g, { hideInitializers: false });
  assert.equal((all.match(/<rect x=/g) ?? []).length, g.operations.length);
  const sub = v1.graphToSvg(g, { fetches: [y.op.inputs[0]] });
  assert.equal((sub.match(/<rect x=/g) ?? []).length, 3);
  const bundle = v1.drawGraph(g)[Symbol.for("Jupyter.display") as never] as () => Record<
    string,
    string
  >;
  assert.ok(bundle()["image/svg+xml"].startsWith("<svg"));
  g.dispose();
});

Deno.test("tensors, ops and graphs print as one line, not as the whole graph", () => {
  const g = new v1.Graph();
  const y = g.asDefault(() => v1.relu(v1.placeholder("float32", [null, 4], "x")));
  assert.equal(Deno.inspect(y), 'Tensor("Relu:0", shape=(?, 4), dtype=float32)');
  assert.equal(Deno.inspect(y.op), 'Operation("Relu", type=Relu, outputs=(?, 4) float32)');
  assert.equal(Deno.inspect(g), "Graph(2 operations, 0 variables)");
  assert.equal(Deno.inspect({ y }), '{ y: Tensor("Relu:0", shape=(?, 4), dtype=float32) }');
});
