// Captured tf.Variables and tfjs's functional API (tf.mul, tf.losses.*) inside traced functions,
// written from TensorFlow's guides "Introduction to graphs and tf.function" (every op called
// while tracing is a graph op; captured variables are read by the graph at every call) and
// "Better performance with tf.function" (a tf.function without arguments still traces a graph).
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../lib/backend.ts";
import { tfFunction } from "../lib/function.ts";
import { GradientTape } from "../lib/tape.ts";
import { assignSub } from "../lib/variables.ts";
import * as v1 from "../lib/v1/mod.ts";

await initBackend();

const num = (t: unknown): number => (t as tf.Tensor).dataSync()[0];
const near = (a: number, b: number, tol = 1e-5): void =>
  assert.ok(Math.abs(a - b) <= tol * (1 + Math.abs(b)), `${a} is not close to ${b}`);
const opTypes = (f: { concreteFunctions: { graph: { operations: { type: string }[] } }[] }) =>
  f.concreteFunctions[0].graph.operations.map((o) => o.type);

Deno.test("tf.function: x.mul(w) on a captured eager tensor with a captured Variable is a graph op reading w at every call; a traced training step matches the eager one", () => {
  const x = tf.tensor1d([1, 2, 3]), y = tf.tensor1d([2, 4, 6]);
  const w = tf.variable(tf.scalar(0)), wEager = tf.variable(tf.scalar(0));
  const lossOf = (v: tf.Variable) => x.mul(v).sub(y).square().mean();
  const step = tfFunction((rate: number) => {
    const tape = new GradientTape();
    const loss = tape.record(() => lossOf(w));
    assignSub(w, tape.gradient(loss, w)!.mul(rate));
    return loss;
  }, { scope: { x, w, y, GradientTape, assignSub, lossOf } });
  const ws: number[] = [];
  for (let i = 0; i < 4; i++) {
    const traced = step(0.1);
    const tape = new GradientTape(); // the same step, eagerly
    const eager = tape.record(() => lossOf(wEager));
    const g = tape.gradient(eager, wEager)!;
    near(num(traced), num(eager));
    assignSub(wEager, g.mul(0.1));
    near(num(w), num(wEager));
    ws.push(num(w));
    tf.dispose([traced, eager, g]);
  }
  // d/dw mean((w·x − y)²) = 2·mean(x·(w·x − y)) = (28/3)(w − 2): w moves toward 2 at every call.
  ws.reduce((prev, cur) => {
    near(2 - cur, (2 - prev) * (1 - 0.1 * 28 / 3));
    return cur;
  }, 0);
  assert.equal(step.traceCount, 1);
  assert.ok(opTypes(step).includes("ReadVariableOp"));
  step.dispose();
  tf.dispose([x, y, w, wEager]);
});

Deno.test("tf.function without tensor arguments still traces a graph: w.mul(x) with a captured eager x reads w at every call", () => {
  const w = tf.variable(tf.scalar(0));
  const x = tf.tensor1d([1, 2, 3]);
  const f = tfFunction(() => w.mul(x).sum(), { scope: { w, x } });
  const seen = [0, 1, 2].map((v) => {
    w.assign(tf.scalar(v));
    const r = f();
    const out = num(r);
    r.dispose();
    return out;
  });
  assert.deepEqual(seen, [0, 6, 12]);
  assert.equal(f.traceCount, 1);
  assert.ok(opTypes(f).includes("ReadVariableOp") && opTypes(f).includes("Mul"));
  f.dispose();
  tf.dispose([w, x]);
});

Deno.test("tf.function (AutoGraph): x * w with a captured constant and a captured Variable is a graph op reading w at every call", () => {
  const x = tf.tensor1d([1, 2, 3]);
  const w = tf.variable(tf.scalar(2));
  const f = tfFunction(
    () => ((x as unknown as number) * (w as unknown as number)) as unknown as tf.Tensor,
    { scope: { x, w } },
  );
  const seen = [2, 3].map((v) => {
    w.assign(tf.scalar(v));
    const r = f();
    const out = Array.from(r.dataSync());
    r.dispose();
    return out;
  });
  assert.deepEqual(seen, [[2, 4, 6], [3, 6, 9]]);
  assert.equal(f.traceCount, 1);
  assert.ok(opTypes(f).includes("ReadVariableOp"));
  f.dispose();
  tf.dispose([x, w]);
});

Deno.test("tf.function: functional tf.* ops (tf.add, tf.mul, tf.matMul, tf.relu, tf.sum, ...) on graph tensors and captured Variables are graph ops (every op in a trace is a graph op)", () => {
  const w = tf.variable(tf.tensor2d([[0.5, -1], [2, 0.25]]));
  const b = tf.variable(tf.tensor1d([0.1, -0.2]));
  const body = (x: tf.Tensor): tf.Tensor => {
    const h = tf.add(tf.matMul(x, w), b); // [2, 2]
    const parts = [
      tf.relu(h),
      tf.sigmoid(h),
      tf.tanh(h),
      tf.exp(tf.neg(tf.abs(h))),
      tf.log(tf.add(tf.square(h), 1)),
      tf.div(tf.sub(h, 1), 2),
      tf.mul(tf.reshape(h, [4]), 3).reshape([2, 2]),
      tf.mean(h, 1, true).add(tf.zeros([2, 2])),
      tf.add(w, 1), // a variable with a number (TF: w + 1)
      tf.addN([h, tf.sign(h), tf.onesLike(w), tf.zerosLike(h)]),
      tf.cast(tf.logicalAnd(tf.greaterEqual(h, 0), tf.notEqual(w, 2)), "float32"),
    ];
    return parts.reduce((acc, p) => tf.add(acc, p));
  };
  const f = tfFunction((x: tf.Tensor) => tf.sum(body(x)), { scope: { tf, w, b, body } });
  const x = tf.tensor2d([[1, 2], [-3, 0.5]]);
  for (const scale of [1, -2]) {
    w.assign(w.mul(scale) as tf.Tensor2D);
    const traced = f(x);
    const eager = tf.tidy(() => tf.sum(body(x)));
    assert.ok(traced instanceof tf.Tensor && !(traced instanceof tf.Variable));
    near(num(traced), num(eager));
    tf.dispose([traced, eager]);
  }
  assert.equal(f.traceCount, 1);
  const types = opTypes(f);
  for (const t of ["ReadVariableOp", "MatMul", "Relu", "Sigmoid", "Tanh", "Exp", "Log", "Sum"]) {
    assert.ok(types.includes(t), `${t} is not in the graph: ${types}`);
  }
  f.dispose();
  tf.dispose([w, b, x]);
});

Deno.test("tf.function: tf.losses.softmaxCrossEntropy in a traced training step is a graph op and trains exactly like the eager loop", () => {
  const labels = tf.tensor2d([[1, 0, 0], [0, 1, 0], [0, 0, 1], [1, 0, 0]]);
  const x = tf.tensor2d([[1, 0], [0, 1], [1, 1], [2, -1]]);
  const init = [[0.1, -0.2, 0.3], [0.0, 0.2, -0.1]];
  const [w, wEager] = [tf.variable(tf.tensor2d(init)), tf.variable(tf.tensor2d(init))];
  const [opt, optEager] = [tf.train.sgd(0.5), tf.train.sgd(0.5)];
  const lossOf = (v: tf.Variable) => tf.losses.softmaxCrossEntropy(labels, tf.matMul(x, v));
  const step = tfFunction(() => {
    const tape = new GradientTape();
    const loss = tape.record(() => lossOf(w));
    const [g] = tape.gradient(loss, [w]);
    opt.applyGradients({ [w.name]: g! });
    return loss;
  }, { scope: { GradientTape, lossOf, w, opt } });
  const losses: number[] = [];
  for (let i = 0; i < 5; i++) {
    const traced = step();
    const tape = new GradientTape();
    const eager = tape.record(() => lossOf(wEager));
    const [g] = tape.gradient(eager, [wEager]);
    optEager.applyGradients({ [wEager.name]: g! });
    near(num(traced), num(eager), 1e-4);
    losses.push(num(traced));
    tf.dispose([traced, eager, g!]);
  }
  assert.ok(losses[4] < losses[0], `the loss does not fall: ${losses}`);
  Array.from(w.dataSync()).forEach((v, i) => near(v, wEager.dataSync()[i], 1e-4));
  assert.equal(step.traceCount, 1);
  assert.ok(opTypes(step).includes("SoftmaxCrossEntropyWithLogits"));
  // Reduction.NONE gives the per-example losses, as eagerly.
  const perExample = tfFunction(
    (z: tf.Tensor) => tf.losses.softmaxCrossEntropy(labels, z, undefined, 0, tf.Reduction.NONE),
  );
  const z = tf.tensor2d([[1, 2, 3], [0, 0, 0], [3, 1, -1], [0.5, 0, 2]]);
  const [traced, eager] = [
    perExample(z),
    tf.losses.softmaxCrossEntropy(labels, z, undefined, 0, tf.Reduction.NONE),
  ];
  assert.deepEqual(traced.shape, [4]);
  Array.from(traced.dataSync()).forEach((v, i) => near(v, eager.dataSync()[i]));
  tf.dispose([traced, eager, z, labels, x, w, wEager]);
  [opt, optEager].forEach((o) => o.dispose());
  step.dispose();
  perExample.dispose();
});

Deno.test("tf.function: a tfjs op without a graph form on a graph tensor or captured Variable raises GraphError (never an eager result frozen at trace time)", () => {
  const w = tf.variable(tf.tensor1d([1, 2]));
  const x = tf.tensor1d([3, -4]);
  const cases: [string, (a: tf.Tensor) => unknown][] = [
    ["tf.unique(graph tensor)", (a) => tf.unique(a)],
    ["tf.searchSorted(captured Variable)", (_a) => tf.searchSorted(w, x)],
    [
      "w.spaceToBatchND() on a captured Variable",
      (_a) => w.reshape([1, 2, 1]).spaceToBatchND([2], [[0, 0]]),
    ],
    ["softmaxCrossEntropy with weights", (a) => tf.losses.softmaxCrossEntropy(a, a, tf.scalar(2))],
  ];
  for (const [label, fn] of cases) {
    const f = tfFunction(fn, { scope: { tf, w, x } });
    assert.throws(() => f(x), (e: Error) => {
      assert.ok(e instanceof v1.GraphError, `${label}: ${e}`);
      assert.match(e.message, /write it with ops that have graph forms .* or v1 ops/, label);
      return true;
    });
    f.dispose();
  }
  // Outside a traced function the same ops run eagerly, as in TF2.
  const eager = tf.atan2(x, w);
  Array.from(eager.dataSync()).forEach((v, i) => {
    assert.ok(Math.abs(v - Math.atan2([3, -4][i], [1, 2][i])) < 1e-6);
  });
  tf.dispose([eager, w, x]);
});

Deno.test("tf.function: tf.memory is flat across repeated calls with captured Variables, and across failing calls", () => {
  const w = tf.variable(tf.scalar(2));
  const x = tf.tensor1d([1, 2, 3]);
  const start = tf.memory().numTensors;
  const ok = tfFunction((a: tf.Tensor) => tf.sum(tf.mul(a, w)).add(x.mul(w).mean()), {
    scope: { tf, w, x },
  });
  const failing = tfFunction((a: tf.Tensor) => {
    const tape = new GradientTape();
    return tape.record(() => tf.mul(a, w).add(tf.searchSorted(w, a)));
  }, { scope: { tf, w, GradientTape } });
  const run = () => {
    ok(x).dispose();
    assert.throws(() => failing(x), v1.GraphError);
  };
  run(); // the first call traces
  const before = tf.memory().numTensors;
  for (let i = 0; i < 5; i++) run();
  assert.equal(tf.memory().numTensors, before);
  assert.equal(ok.traceCount, 1);
  ok.dispose();
  failing.dispose();
  assert.equal(tf.memory().numTensors, start); // the trace's constants went with its graph
  tf.dispose([w, x]);
});

Deno.test("v1 graph mode: tf.* ops on a placeholder build ops in the placeholder's graph (TF1: an op goes to its inputs' graph)", () => {
  const g = new v1.Graph();
  const p = g.asDefault(() => v1.placeholder("float32", [2], "p"));
  const y = tf.sum(tf.mul(p as unknown as tf.Tensor, 3)) as unknown as v1.SymbolicTensor;
  assert.ok(y instanceof v1.SymbolicTensor && y.graph === g);
  const start = tf.memory().numTensors;
  const out = new v1.Session(g).run(y, new Map([[p, [1, 2]]]));
  assert.equal(out, 9);
  assert.equal(tf.memory().numTensors, start);
  g.dispose();
});
