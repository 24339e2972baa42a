// tf.Variables passed as arguments of a traced function, written from TensorFlow's
// `ResourceVariable.__tf_tracing_type__` (tensorflow/python/ops/resource_variable_ops.py): a
// Variable's trace type is `VariableSpec(shape, dtype, trainable, alias_id)`, the alias id
// numbering the call's distinct variables (trace_type_builder.py, `alias_global_id`), and the
// concrete function takes the variable's handle as an input, so it reads and updates the
// Variable passed at each call.
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../lib/backend.ts";
import { tfFunction } from "../lib/function.ts";
import { GradientTape } from "../lib/tape.ts";
import { assignAdd } from "../lib/variables.ts";
import { DisposedTensorError } from "../lib/v1/mod.ts";

await initBackend();

const value = (t: unknown): number[] => Array.from((t as tf.Tensor).dataSync());
const run = (f: () => unknown): number[] => tf.tidy(() => value(f()));

Deno.test("tf.function: a Variable argument is traced by its VariableSpec (shape, dtype), so a second Variable of the same spec reuses the trace and is the one read", () => {
  const f = tfFunction((v: tf.Variable, x: tf.Tensor) => v.mul(x).sum());
  const v = tf.variable(tf.tensor([1, 2])), w = tf.variable(tf.tensor([3, 4]));
  const x = tf.tensor([1, 10]);
  assert.deepEqual(run(() => f(v, x)), [21]);
  assert.deepEqual(run(() => f(w, x)), [43]); // w's value, not v's
  assert.equal(f.traceCount, 1); // experimental_get_tracing_count() == 1
  w.assign(tf.tensor([5, 6]));
  assert.deepEqual(run(() => f(w, x)), [65]); // read at the call
  assert.equal(f.traceCount, 1);
  assert.match(f.concreteFunctions[0].signature, /VariableSpec\(shape=\(2,\), dtype=float32/);
  f.dispose();
  tf.dispose([v, w, x]);
});

Deno.test("tf.function: a Variable argument of another shape, dtype or trainability retraces (VariableSpec fields)", () => {
  const f = tfFunction((v: tf.Variable) => v.add(v));
  const vs = [
    tf.variable(tf.tensor([1, 2])),
    tf.variable(tf.tensor([1, 2, 3])), // shape
    tf.variable(tf.tensor([1, 2], undefined, "int32")), // dtype
    tf.variable(tf.tensor([1, 2]), false), // trainable=False
  ];
  const out = vs.map((v) => run(() => f(v)));
  assert.deepEqual(out, [[2, 4], [2, 4, 6], [2, 4], [2, 4]]);
  assert.equal(f.traceCount, 4);
  vs.forEach((v) => run(() => f(v))); // each spec now has its trace
  assert.equal(f.traceCount, 4);
  f.dispose();
  tf.dispose(vs);
});

Deno.test("tf.function: the same Variable passed twice traces apart from two different Variables (VariableSpec alias_id), and each trace is reused by any Variables aliased alike", () => {
  // Adds 1 to a, then reads b: when a and b are one variable the read sees the write.
  const f = tfFunction((a: tf.Variable, b: tf.Variable) => {
    assignAdd(a, 1);
    return b.add(0);
  });
  const [v, w, u, z] = [0, 10, 20, 30].map((k) => tf.variable(tf.scalar(k)));
  assert.deepEqual(run(() => f(v, v)), [1]); // aliased: the read follows the write
  assert.deepEqual(run(() => f(v, w)), [10]);
  assert.equal(f.traceCount, 2);
  assert.deepEqual(run(() => f(u, u)), [21]); // reuses f(v, v)'s trace, on u
  assert.deepEqual(run(() => f(u, z)), [30]); // reuses f(v, w)'s trace, on u and z
  assert.equal(f.traceCount, 2);
  assert.deepEqual([v, w, u, z].map((t) => value(t)[0]), [2, 10, 22, 30]);
  f.dispose();
  tf.dispose([v, w, u, z]);
});

Deno.test("tf.function: an assign inside the traced function updates the Variable passed at that call, not the one seen at trace time", () => {
  const f = tfFunction((v: tf.Variable, x: tf.Tensor) => {
    v.assign(v.mul(x));
    assignAdd(v, x);
    return v.add(0);
  });
  const v = tf.variable(tf.tensor([1, 2])), w = tf.variable(tf.tensor([3, 4]));
  const x = tf.tensor([2, 2]);
  assert.deepEqual(run(() => f(v, x)), [4, 6]);
  assert.deepEqual(run(() => f(w, x)), [8, 10]);
  assert.deepEqual(run(() => f(w, x)), [18, 22]);
  assert.equal(f.traceCount, 1);
  assert.deepEqual([value(v), value(w)], [[4, 6], [18, 22]]); // v untouched by w's calls
  const cf = f.getConcreteFunction(v, x); // the concrete function, called directly
  tf.dispose(cf.call(v, x) as tf.Tensor);
  assert.deepEqual([value(v), value(w)], [[10, 14], [18, 22]]);
  f.dispose();
  tf.dispose([v, w, x]);
});

Deno.test("tf.function: a nested tf.function taking a Variable updates the caller's Variable at each call site", () => {
  const inc = tfFunction((v: tf.Variable) => {
    assignAdd(v, 1);
    return v.add(0);
  });
  const outer = tfFunction((a: tf.Variable, b: tf.Variable) => inc(a).add(inc(b)).add(inc(b)));
  const [v, w, u, z] = [0, 10, 20, 30].map((k) => tf.variable(tf.scalar(k)));
  assert.deepEqual(run(() => outer(v, w)), [1 + 11 + 12]);
  assert.deepEqual(run(() => outer(u, z)), [21 + 31 + 32]); // outer's trace on u and z
  assert.equal(outer.traceCount, 1);
  assert.equal(inc.traceCount, 1); // one trace of inc serves a and b
  assert.deepEqual([v, w, u, z].map((t) => value(t)[0]), [1, 12, 21, 32]);
  outer.dispose();
  inc.dispose();
  tf.dispose([v, w, u, z]);
});

Deno.test("tf.function: a training step taking the Variable as an argument (tape + SGD) trains whichever Variable is passed", () => {
  const opt = tf.train.sgd(0.5);
  const step = tfFunction((w: tf.Variable, target: tf.Tensor) => {
    const tape = new GradientTape();
    const loss = tape.record(() => w.sub(target).square().sum());
    const [dw] = tape.gradient(loss, [w]) as tf.Tensor[];
    opt.applyGradients({ [w.name]: dw });
    return loss;
  });
  const v = tf.variable(tf.tensor([0, 0])), w = tf.variable(tf.tensor([4, 4]));
  const t = tf.tensor([1, 2]);
  assert.deepEqual(run(() => step(v, t)), [5]);
  assert.deepEqual(value(v), [1, 2]); // w - 0.5 · 2(w - t) = t
  assert.deepEqual(run(() => step(w, t)), [13]);
  assert.deepEqual(value(w), [1, 2]);
  assert.equal(step.traceCount, 1);
  step.dispose();
  tf.dispose([v, w, t]);
});

Deno.test("tf.function: tf.memory is flat across calls alternating Variable arguments, and a disposed Variable argument raises", () => {
  const f = tfFunction((v: tf.Variable, x: tf.Tensor) => {
    assignAdd(v, x);
    return v.square();
  });
  const v = tf.variable(tf.scalar(1)), w = tf.variable(tf.scalar(2));
  const x = tf.scalar(1);
  const gone = tf.variable(tf.scalar(0));
  gone.dispose();
  tf.dispose(f(v, x)); // traced
  const before = tf.memory().numTensors;
  for (let i = 0; i < 4; i++) tf.dispose(f(i % 2 ? v : w, x));
  assert.equal(tf.memory().numTensors, before);
  assert.throws(() => f(gone, x), DisposedTensorError);
  assert.equal(tf.memory().numTensors, before);
  assert.equal(f.traceCount, 1);
  f.dispose();
  tf.dispose([v, w, x]);
});

Deno.test("tf.function: a GradientTape around the call differentiates with respect to the Variable passed, as the guide's add(v, 1.0) (one trace for two Variables)", () => {
  const f = tfFunction((a: tf.Variable, b: tf.Tensor) => a.square().mul(b));
  const [v, w] = [tf.variable(tf.scalar(1)), tf.variable(tf.scalar(4))];
  const b = tf.scalar(3);
  for (const [u, expected] of [[v, 6], [w, 24]] as const) { // d(3u²)/du = 6u
    const tape = new GradientTape();
    const y = tape.record(() => f(u, b));
    const g = tape.gradient(y, u) as tf.Tensor;
    assert.deepEqual(value(g), [expected]);
    tf.dispose([y, g]);
  }
  assert.equal(f.traceCount, 1);
  f.dispose();
  tf.dispose([v, w, b]);
});
