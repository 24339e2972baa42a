import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../lib/backend.ts";
import { SignatureError, TensorSpec, tfFunction, tfPrint, timeFunction } from "../lib/function.ts";
import * as v1 from "../lib/v1/mod.ts";
import { captureLog } from "./_graph_ops.ts";

await initBackend();

function closeTo(a: tf.Tensor, b: tf.Tensor): void {
  assert.deepEqual(a.shape, b.shape);
  const [x, y] = [a.dataSync(), b.dataSync()];
  x.forEach((v, i) =>
    assert.ok(Math.abs(v - y[i]) <= 1e-5 + 1e-5 * Math.abs(y[i]), `${v} vs ${y[i]}`)
  );
}

Deno.test("the issue's snippet: one trace per signature", () => {
  const f = tfFunction((a: tf.Tensor) => a.square().sum());
  const r1 = f(tf.tensor([1, 2]));
  const r2 = f(tf.tensor([3, 4]));
  assert.equal(r1.dataSync()[0], 5);
  assert.equal(r2.dataSync()[0], 25);
  assert.equal(f.traceCount, 1);
  f(tf.tensor([1, 2, 3])).dispose();
  assert.equal(f.traceCount, 2);
  f(tf.tensor([1, 2, 3], undefined, "int32")).dispose();
  assert.equal(f.traceCount, 3); // a new dtype is a new signature too
  assert.equal(f.concreteFunctions.length, 3);
  r1.dispose();
  r2.dispose();
});

Deno.test("inputSignature with a null dim: no retracing on batch size; misfits rejected", () => {
  const f = tfFunction((x: tf.Tensor) => x.mul(2).sum(1), {
    inputSignature: [{ shape: [null, 3] }],
  });
  for (const b of [1, 5, 17]) {
    const x = tf.ones([b, 3]);
    const y = f(x);
    assert.deepEqual(y.shape, [b]);
    assert.equal(y.dataSync()[0], 6);
    tf.dispose([x, y]);
  }
  assert.equal(f.traceCount, 1);
  assert.deepEqual(f.concreteFunctions[0].graph.inputs[0].shape, [null, 3]);
  const bad = tf.ones([2, 4]);
  assert.throws(
    () => f(bad),
    (e: Error) => e instanceof SignatureError && /\(2, 4\)/.test(e.message),
  );
  bad.dispose();
  assert.throws(() => f(3 as unknown as tf.Tensor), SignatureError);
});

Deno.test("non-tensor arguments are part of the signature", () => {
  const f = tfFunction((x: tf.Tensor, k: number) => x.mul(k));
  const x = tf.tensor([1, 2]);
  const a = f(x, 2), b = f(x, 2), c = f(x, 3);
  assert.deepEqual(Array.from(c.dataSync()), [3, 6]);
  assert.equal(f.traceCount, 2);
  tf.dispose([x, a, b, c]);
});

Deno.test("console.log runs only while tracing; tfPrint at every call, even if unused", () => {
  const f = tfFunction((x: tf.Tensor) => {
    console.log("tracing");
    tfPrint(x.sum(), "sum:"); // result unused: still runs, as in TF2
    return x.add(1);
  });
  const x = tf.tensor([1, 2]);
  const first = captureLog(() => f(x));
  const second = captureLog(() => f(x));
  assert.deepEqual(first.lines, ["tracing", "sum: 3"]);
  assert.deepEqual(second.lines, ["sum: 3"]);
  const eager = captureLog(() => tfPrint(x, "x ="));
  assert.deepEqual(eager.lines, ["x = [1, 2]"]);
  assert.equal(eager.result, x);
  tf.dispose([x, first.result, second.result]);
});

Deno.test("traced results equal eager results on many random inputs", () => {
  const mlp = (x: tf.Tensor, w: tf.Tensor, b: tf.Tensor) =>
    x.matMul(w).add(b).relu().matMul(w, false, true).sigmoid().mean(1);
  const misc = (x: tf.Tensor) =>
    x.square().sub(x.exp()).div(x.square().add(1)).tanh().reshape([-1]).softmax().log().neg();
  const fm = tfFunction(mlp);
  const fx = tfFunction((x: tf.Tensor) => misc(x as tf.Tensor));
  for (let i = 0; i < 20; i++) {
    const batch = 1 + (i % 4);
    const x = tf.randomNormal([batch, 5]);
    const w = tf.randomNormal([5, 4]);
    const b = tf.randomNormal([4]);
    tf.tidy(() => closeTo(fm(x, w, b), mlp(x, w, b)));
    tf.dispose([x, w, b]);
  }
  assert.equal(fm.traceCount, 4); // one per batch size
  for (let i = 0; i < 20; i++) {
    const x = tf.randomNormal([2, 3]);
    tf.tidy(() => closeTo(fx(x), misc(x)));
    x.dispose();
  }
  assert.equal(fx.traceCount, 1);
});

Deno.test("lists and records come back with their structure; graph is inspectable", () => {
  const f = tfFunction((a: tf.Tensor, b: tf.Tensor) => ({ sum: a.add(b), parts: [a.mul(b), b] }));
  const a = tf.tensor([1, 2]), b = tf.tensor([3, 4]);
  const r = f(a, b);
  assert.deepEqual(Array.from(r.sum.dataSync()), [4, 6]);
  assert.deepEqual(Array.from(r.parts[0].dataSync()), [3, 8]);
  assert.deepEqual(Array.from(r.parts[1].dataSync()), [3, 4]);
  assert.notEqual(r.parts[1], b); // a copy: disposing results never frees inputs
  const cf = f.getConcreteFunction(a, b);
  assert.deepEqual(cf.graph.operations.map((op) => op.type), [
    "Placeholder",
    "Placeholder",
    "AddV2",
    "Mul",
  ]);
  const bySpec = f.getConcreteFunction(new TensorSpec([null]), new TensorSpec([null]));
  assert.equal(f.traceCount, 2);
  assert.deepEqual(bySpec.graph.outputs[0].shape, [null]);
  assert.ok(v1.graphToSvg(cf.graph).includes(">AddV2<"));
  tf.dispose([a, b, r.sum, ...r.parts]);
});

Deno.test("cond and whileLoop inside a traced function (what AutoGraph makes of if/while)", () => {
  const f = tfFunction((x: tf.Tensor) =>
    v1.cond(v1.greater(x.sum(), 0), () => x.mul(2), () => x.square().neg().exp())
  );
  const pos = tf.tensor([1, 2]), negv = tf.tensor([-1, -2]);
  const a = f(pos);
  const thenCount = f.lastCallOpCount;
  const b = f(negv);
  assert.ok(f.lastCallOpCount > thenCount);
  assert.deepEqual(Array.from(a.dataSync()), [2, 4]);
  closeTo(b, tf.tidy(() => negv.square().neg().exp()));
  assert.equal(f.traceCount, 1);

  const collatz = tfFunction((n: tf.Tensor) =>
    v1.whileLoop(
      (m, _k) => v1.greater(m, 1),
      (m, k) => [
        v1.cond(v1.equal(v1.sub(m, v1.mul(v1.div(m, 2), 2)), 0), () =>
          v1.div(m, 2), () =>
          v1.add(v1.mul(m, 3), 1)),
        v1.add(k, 1),
      ],
      [n, v1.constant(0, "int32")],
    )[1]
  );
  const n = tf.scalar(27, "int32");
  const steps = collatz(n);
  assert.equal(steps.dataSync()[0], 111);
  tf.dispose([pos, negv, a, b, n, steps]);

  const bad = tfFunction((x: tf.Tensor) => ((x as unknown as number) > 0 ? x : x.neg()));
  const t = tf.tensor([1]);
  assert.throws(() => bad(t), v1.GraphError);
  t.dispose();
});

Deno.test("closures: tf.Variable read at every call, tf.Tensor captured as a constant", () => {
  const w = tf.variable(tf.tensor([1, 2]));
  const c = tf.tensor([10, 10]);
  const f = tfFunction((x: tf.Tensor) => x.mul(w as tf.Tensor).add(c));
  const x = tf.tensor([1, 1]);
  const r1 = f(x);
  w.assign(tf.tensor([5, 5]));
  const r2 = f(x);
  assert.deepEqual(Array.from(r1.dataSync()), [11, 12]);
  assert.deepEqual(Array.from(r2.dataSync()), [15, 15]);
  const types = f.concreteFunctions[0].graph.operations.map((op) => op.type);
  assert.ok(types.includes("ReadVariableOp") && types.includes("Const"));
  tf.dispose([w, c, x, r1, r2]);
});

Deno.test("no leaks across 100 calls", () => {
  const f = tfFunction((x: tf.Tensor) =>
    v1.whileLoop((k, _v) => v1.less(k, 3), (k, v) => [v1.add(k, 1), v.square().sqrt().add(1)], [
      v1.constant(0),
      x,
    ])[1]
  );
  const x = tf.ones([4]);
  f(x).dispose();
  const steady = tf.memory().numTensors;
  for (let i = 0; i < 100; i++) f(x).dispose();
  assert.equal(tf.memory().numTensors, steady);
  const r = f(x);
  assert.deepEqual(Array.from(r.dataSync()), [4, 4, 4, 4]);
  tf.dispose([x, r]);
});

Deno.test("timeFunction: positive medians for eager, traced and tracing; no leaks", () => {
  const x = tf.randomNormal([8, 8]);
  const before = tf.memory().numTensors;
  const t = timeFunction((a: tf.Tensor) => a.matMul(x).relu().sum(), [x], {
    repeats: 5,
    traceRepeats: 2,
  });
  assert.equal(t.repeats, 5);
  assert.ok(t.eagerMs > 0 && t.tracedMs > 0 && t.traceMs >= 0);
  assert.ok(Number.isFinite(t.eagerMs + t.tracedMs + t.traceMs));
  assert.equal(tf.memory().numTensors, before);
  x.dispose();
});

Deno.test("dispose frees the traced graphs' constants; the next call retraces", () => {
  const c = tf.tensor([1, 2, 3]);
  const f = tfFunction((a: tf.Tensor) => a.add(c));
  const before = tf.memory().numTensors;
  f(c).dispose();
  assert.equal(tf.memory().numTensors, before + 1); // the captured constant
  f.dispose();
  assert.equal(tf.memory().numTensors, before);
  f(c).dispose();
  assert.equal(f.traceCount, 2);
  f.dispose();
  c.dispose();
});
