import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../lib/backend.ts";
import * as v1 from "../lib/v1/mod.ts";

await initBackend();

type G = v1.SymbolicTensor;
type E = tf.Tensor;

/** One op's gradient check: graph gradients vs tfjs's eager tf.grads of the same function. */
interface Case {
  name: string;
  shapes: number[][];
  graph: (...xs: G[]) => G;
  eager: (...xs: E[]) => E;
  positive?: boolean;
  /** Placeholder shapes, when some dimensions should be unknown (null). */
  declared?: (number | null)[][];
}

const oneHot = tf.tensor([[0, 1, 0], [1, 0, 0], [0, 0, 1], [0, 1, 0]]);
const sparse = [1, 0, 2, 1];

const cases: Case[] = [
  {
    name: "AddV2 broadcast",
    shapes: [[3, 4], [4]],
    graph: (a, b) => v1.add(a, b),
    eager: (a, b) => tf.add(a, b),
  },
  {
    name: "AddV2 unknown batch",
    shapes: [[3, 4], [1, 4]],
    declared: [[null, 4], [1, 4]],
    graph: (a, b) => v1.add(a, b),
    eager: (a, b) => tf.add(a, b),
  },
  {
    name: "Sub broadcast",
    shapes: [[3, 4], [3, 1]],
    graph: (a, b) => v1.sub(a, b),
    eager: (a, b) => tf.sub(a, b),
  },
  {
    name: "Mul broadcast",
    shapes: [[2, 3], [3]],
    graph: (a, b) => v1.mul(a, b),
    eager: (a, b) => tf.mul(a, b),
  },
  {
    name: "RealDiv",
    shapes: [[3, 4], [1, 4]],
    graph: (a, b) => v1.div(a, b),
    eager: (a, b) => tf.div(a, b),
    positive: true,
  },
  {
    name: "MatMul",
    shapes: [[3, 4], [4, 2]],
    graph: (a, b) => v1.matMul(a, b),
    eager: (a, b) => tf.matMul(a, b),
  },
  {
    name: "MatMul transposeA",
    shapes: [[4, 3], [4, 2]],
    graph: (a, b) => v1.matMul(a, b, true),
    eager: (a, b) => tf.matMul(a, b, true),
  },
  {
    name: "MatMul transposeB",
    shapes: [[3, 4], [2, 4]],
    graph: (a, b) => v1.matMul(a, b, false, true),
    eager: (a, b) => tf.matMul(a, b, false, true),
  },
  {
    name: "MatMul both",
    shapes: [[4, 3], [2, 4]],
    graph: (a, b) => v1.matMul(a, b, true, true),
    eager: (a, b) => tf.matMul(a, b, true, true),
  },
  { name: "Relu", shapes: [[3, 5]], graph: (x) => v1.relu(x), eager: tf.relu },
  { name: "Sigmoid", shapes: [[3, 5]], graph: (x) => v1.sigmoid(x), eager: tf.sigmoid },
  { name: "Tanh", shapes: [[3, 5]], graph: (x) => v1.tanh(x), eager: tf.tanh },
  { name: "Softmax", shapes: [[3, 5]], graph: (x) => v1.softmax(x), eager: (x) => tf.softmax(x) },
  { name: "Log", shapes: [[3, 5]], graph: (x) => v1.log(x), eager: tf.log, positive: true },
  { name: "Exp", shapes: [[3, 5]], graph: (x) => v1.exp(x), eager: tf.exp },
  { name: "Sqrt", shapes: [[3, 5]], graph: (x) => v1.sqrt(x), eager: tf.sqrt, positive: true },
  { name: "Square", shapes: [[3, 5]], graph: (x) => v1.square(x), eager: tf.square },
  { name: "Neg", shapes: [[3, 5]], graph: (x) => v1.neg(x), eager: tf.neg },
  { name: "Abs", shapes: [[3, 5]], graph: (x) => v1.abs(x), eager: tf.abs },
  {
    name: "LogSoftmax",
    shapes: [[3, 5]],
    graph: (x) => v1.logSoftmax(x),
    eager: (x) => tf.logSoftmax(x),
  },
  {
    name: "Transpose",
    shapes: [[2, 3, 4]],
    graph: (x) => v1.transpose(x, [1, 2, 0]),
    eager: (x) => tf.transpose(x, [1, 2, 0]),
  },
  {
    name: "Max axis 1",
    shapes: [[3, 5]],
    graph: (x) => v1.reduceMax(x, 1),
    eager: (x) => tf.max(x, 1),
  },
  {
    name: "Max all, keepDims",
    shapes: [[3, 5]],
    graph: (x) => v1.reduceMax(x, null, true),
    eager: (x) => tf.max(x, undefined, true),
  },
  { name: "Identity", shapes: [[3]], graph: (x) => v1.identity(x), eager: (x) => x.clone() },
  {
    name: "Sum axis 1",
    shapes: [[3, 5]],
    graph: (x) => v1.reduceSum(x, 1),
    eager: (x) => tf.sum(x, 1),
  },
  {
    name: "Sum keepDims axis 0",
    shapes: [[3, 5]],
    graph: (x) => v1.reduceSum(x, 0, true),
    eager: (x) => tf.sum(x, 0, true),
  },
  { name: "Sum all", shapes: [[2, 3, 2]], graph: (x) => v1.reduceSum(x), eager: (x) => tf.sum(x) },
  {
    name: "Mean axis 0, unknown batch",
    shapes: [[4, 3]],
    declared: [[null, 3]],
    graph: (x) => v1.reduceMean(x, 0),
    eager: (x) => tf.mean(x, 0),
  },
  { name: "Mean all", shapes: [[4, 3]], graph: (x) => v1.reduceMean(x), eager: (x) => tf.mean(x) },
  {
    name: "Reshape",
    shapes: [[4, 6]],
    declared: [[null, 6]],
    graph: (x) => v1.reshape(x, [-1, 2, 3]),
    eager: (x) => tf.reshape(x, [-1, 2, 3]),
  },
  {
    name: "ExpandDims",
    shapes: [[3, 2]],
    graph: (x) => v1.expandDims(x, 1),
    eager: (x) => tf.expandDims(x, 1),
  },
  {
    name: "Cast",
    shapes: [[3]],
    graph: (x) => v1.cast(x, "float32"),
    eager: (x) => tf.cast(x, "float32"),
  },
  {
    name: "AddN (two paths)",
    shapes: [[3]],
    graph: (x) => v1.mul(x, v1.exp(x)),
    eager: (x) => tf.mul(x, tf.exp(x)),
  },
  {
    name: "SoftmaxCrossEntropyWithLogits",
    shapes: [[4, 3]],
    graph: (z) => v1.softmaxCrossEntropyWithLogits(v1.constant(oneHot), z),
    eager: (z) => tf.neg(tf.sum(tf.mul(oneHot, tf.logSoftmax(z)), -1)),
  },
  {
    name: "SparseSoftmaxCrossEntropyWithLogits",
    shapes: [[4, 3]],
    graph: (z) => v1.sparseSoftmaxCrossEntropyWithLogits(v1.constant(sparse, "int32"), z),
    eager: (z) => tf.neg(tf.sum(tf.mul(oneHot, tf.logSoftmax(z)), -1)),
  },
];

function close(a: number[], b: number[], what: string): void {
  assert.equal(a.length, b.length, what);
  a.forEach((x, i) => {
    assert.ok(Math.abs(x - b[i]) <= 1e-4 + 1e-3 * Math.abs(b[i]), `${what}[${i}]: ${x} vs ${b[i]}`);
  });
}

for (const c of cases) {
  Deno.test(`gradient of ${c.name} matches tf.grads on random inputs`, () => {
    const before = tf.memory().numTensors;
    for (let trial = 0; trial < 3; trial++) {
      const xs = c.shapes.map((s) => c.positive ? tf.randomUniform(s, 0.5, 2) : tf.randomNormal(s));
      const outShape = tf.tidy(() => c.eager(...xs).shape);
      const weights = tf.randomNormal(outShape); // makes every output element matter differently
      const g = new v1.Graph();
      const { ps, grads } = g.asDefault(() => {
        const ps = c.shapes.map((s, i) => v1.placeholder("float32", c.declared?.[i] ?? s, `x${i}`));
        const loss = v1.reduceSum(v1.mul(c.graph(...ps), v1.constant(weights)));
        return { ps, grads: v1.gradients(loss, ps) };
      });
      const sess = new v1.Session(g);
      const got = sess.run(grads as G[], new Map(ps.map((p, i) => [p, xs[i]]))) as number[][];
      const want = tf.tidy(() =>
        tf.grads((...a: E[]) => tf.sum(tf.mul(c.eager(...a), weights)))(xs).map((t) =>
          Array.from(t.dataSync())
        )
      );
      got.forEach((gr, i) => close([gr].flat(3) as number[], want[i], `${c.name} d/dx${i}`));
      sess.close();
      g.dispose();
      xs.forEach((x) => x.dispose());
      weights.dispose();
    }
    assert.equal(tf.memory().numTensors, before);
  });
}

Deno.test("gradients are new graph ops under gradients/, and null for unconnected inputs", () => {
  const g = new v1.Graph();
  g.asDefault(() => {
    const x = v1.placeholder("float32", [2], "x");
    const z = v1.placeholder("float32", [2], "z");
    const y = v1.reduceSum(v1.square(x));
    const n = g.operations.length;
    const [dx, dz] = v1.gradients(y, [x, z]);
    assert.equal(dz, null);
    assert.ok(dx && dx.op.name.startsWith("gradients/"));
    const added = g.operations.slice(n);
    assert.ok(added.length > 0 && added.every((op) => op.name.startsWith("gradients/")));
    assert.ok(added.every((op) => op.type !== "Placeholder"));
  });
  g.dispose();
});

Deno.test("ops without a gradient stop it (ArgMax: None in TF) and op types with no gradient function raise", () => {
  const g = new v1.Graph();
  g.asDefault(() => {
    const x = v1.placeholder("float32", [3], "x");
    const [d] = v1.gradients(v1.cast(v1.argMax(x, 0), "float32"), [x]);
    assert.equal(d, null);
    const spec = { dtype: "float32" as const, shape: [3] };
    const w = g.addOp("MyCustomOp", [x], {}, [spec]).output;
    assert.throws(() => v1.gradients(w, [x]), /no gradient defined for op type MyCustomOp/);
  });
  g.dispose();
});

Deno.test("second derivative: gradients of gradients", () => {
  const g = new v1.Graph();
  const { x, d2 } = g.asDefault(() => {
    const x = v1.placeholder("float32", [3], "x");
    const y = v1.reduceSum(v1.mul(v1.square(x), x)); // sum x^3
    const [d1] = v1.gradients(y, x);
    return { x, d2: v1.gradients(v1.reduceSum(d1!), x)[0]! }; // 6x
  });
  const sess = new v1.Session(g);
  close(sess.run(d2, new Map([[x, [1, -2, 0.5]]])), [6, -12, 3], "d2");
  sess.close();
  g.dispose();
});

Deno.test("logistic regression trained by GradientDescentOptimizer.minimize: loss falls", () => {
  const before = tf.memory().numTensors;
  // Two Gaussian blobs in 2-D, labels one-hot.
  const n = 200;
  const pts: number[][] = [];
  const labels: number[][] = [];
  let seed = 7;
  const rnd = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31) * 2 - 1;
  for (let i = 0; i < n; i++) {
    const c = i % 2;
    pts.push([rnd() + (c ? 1.5 : -1.5), rnd() + (c ? 1 : -1)]);
    labels.push(c ? [0, 1] : [1, 0]);
  }
  const g = new v1.Graph();
  const { x, y, loss, acc, step, w } = g.asDefault(() => {
    const x = v1.placeholder("float32", [null, 2], "x");
    const y = v1.placeholder("float32", [null, 2], "y");
    const w = new v1.Variable([[0, 0], [0, 0]], { name: "w" });
    const b = new v1.Variable([0, 0], { name: "b" });
    const logits = v1.add(v1.matMul(x, w), b);
    const loss = v1.reduceMean(v1.softmaxCrossEntropyWithLogits(y, logits));
    const acc = v1.reduceMean(v1.cast(v1.equal(v1.argMax(logits, 1), v1.argMax(y, 1)), "float32"));
    const step = new v1.train.GradientDescentOptimizer(0.5).minimize(loss);
    return { x, y, loss, acc, step, w };
  });
  const sess = new v1.Session(g);
  sess.run(v1.globalVariablesInitializer(g));
  const feed = new Map([[x, pts], [y, labels]]);
  const first = sess.run(loss, feed) as number;
  assert.ok(Math.abs(first - Math.log(2)) < 1e-5); // zero weights: uniform softmax
  const w0 = sess.run(w);
  let last = first;
  for (let i = 0; i < 30; i++) {
    const r = sess.run({ step, loss }, feed);
    assert.equal(r.step, null);
    assert.ok(r.loss <= last + 1e-6, `loss rose at step ${i}: ${r.loss} > ${last}`);
    last = r.loss;
  }
  const final = sess.run({ loss, acc }, feed);
  assert.ok(final.loss < first * 0.5, `loss ${final.loss} not below half of ${first}`);
  assert.ok(final.acc > 0.9, `accuracy ${final.acc}`);
  assert.notDeepEqual(sess.run(w), w0);
  sess.close();
  g.dispose();
  assert.equal(tf.memory().numTensors, before);
});
