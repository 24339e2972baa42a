// Arguments, signatures and the trace cache of tfFunction, written from TensorFlow's guides
// "Introduction to graphs and tf.function" and "Better performance with tf.function" (rules of
// tracing, input_signature, reduce_retracing, run_functions_eagerly, nested tf.function).
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../lib/backend.ts";
import {
  runFunctionsEagerly,
  SignatureError,
  TensorSpec,
  tensorSpec,
  tfFunction,
} from "../lib/function.ts";
import * as v1 from "../lib/v1/mod.ts";

await initBackend();

const value = (t: unknown): number[] => Array.from((t as tf.Tensor).dataSync());

function captureWarn<T>(fn: () => T): { result: T; lines: string[] } {
  const lines: string[] = [];
  const orig = console.warn;
  console.warn = (...a: unknown[]) => void lines.push(a.map(String).join(" "));
  try {
    return { result: fn(), lines };
  } finally {
    console.warn = orig;
  }
}

Deno.test("tf.function: tensors inside lists and dicts are inputs (nest flattening), not constants", () => {
  const f = tfFunction((d: { a: tf.Tensor; rest: tf.Tensor[] }) =>
    d.a.add(d.rest[0]).mul(d.rest[1])
  );
  const args = (k: number) => ({ a: tf.tensor([k]), rest: [tf.tensor([1]), tf.tensor([2])] });
  const [x, y] = [args(1), args(5)];
  const r1 = f(x), r2 = f(y);
  assert.deepEqual([value(r1), value(r2)], [[4], [12]]);
  assert.equal(f.traceCount, 1);
  const types = f.concreteFunctions[0].graph.operations.map((op) => op.type);
  assert.equal(types.filter((t) => t === "Placeholder").length, 3);
  assert.ok(!types.includes("Const"));
  tf.dispose([r1, r2, x.a, ...x.rest, y.a, ...y.rest]);
});

Deno.test("tf.function: Python-value arguments key the cache by value, with NaN, ±Infinity, null, undefined and -0 apart", () => {
  const f = tfFunction((x: tf.Tensor, k: unknown) => x.mul(typeof k === "number" ? k : 7));
  const x = tf.tensor([1]);
  const keys = [NaN, Infinity, -Infinity, null, undefined, 0, -0, "1", 1, true, "true"];
  const out = captureWarn(() => keys.map((k) => tf.tidy(() => value(f(x, k))[0]))).result;
  assert.equal(f.traceCount, keys.length); // each value its own trace
  assert.ok(Number.isNaN(out[0]));
  assert.deepEqual(out.slice(1), [Infinity, -Infinity, 7, 7, 0, -0, 7, 1, 7, 7]);
  assert.ok(Object.is(out[6], -0));
  tf.tidy(() => void f(x, NaN)); // same value: cache hit
  tf.tidy(() => void f(x, -0));
  assert.equal(f.traceCount, keys.length);
  x.dispose();
});

Deno.test("tf.function: functions and objects as arguments key the cache by identity", () => {
  const f = tfFunction((x: tf.Tensor, g: (t: tf.Tensor) => tf.Tensor) => g(x));
  const x = tf.tensor([2]);
  const double = (t: tf.Tensor) => t.mul(2);
  const square = (t: tf.Tensor) => t.square();
  const r = [double, square, double].map((g) => value(tf.tidy(() => f(x, g)))[0]);
  assert.deepEqual(r, [4, 4, 4].map((_, i) => [4, 4, 4][i])); // 2*2 = 2² = 4
  assert.equal(f.traceCount, 2);
  const cube = (t: tf.Tensor) => t.mul(t).mul(t);
  assert.equal(value(tf.tidy(() => f(x, cube)))[0], 8); // not the cached result of another function
  class Scale {
    constructor(readonly k: number) {}
  }
  const h = tfFunction((t: tf.Tensor, s: Scale) => t.mul(s.k));
  const [s2, s3] = [new Scale(2), new Scale(3)];
  assert.deepEqual([value(tf.tidy(() => h(x, s2))), value(tf.tidy(() => h(x, s3)))], [[4], [6]]);
  assert.equal(h.traceCount, 2);
  x.dispose();
});

Deno.test("tf.function: an object with a shape field is not a TensorSpec unless it is one", () => {
  const f = tfFunction((o: { shape: number[] }, x: tf.Tensor) => x.mul(o.shape.length));
  const x = tf.tensor([1, 2]);
  const r = f({ shape: [5, 5, 5] }, x);
  assert.deepEqual(value(r), [3, 6]);
  const spec = tensorSpec([null], "float32");
  assert.ok(spec instanceof TensorSpec);
  const g = tfFunction((t: tf.Tensor) => t.add(1));
  const cf = g.getConcreteFunction(spec);
  assert.deepEqual(cf.graph.inputs[0].shape, [null]);
  assert.equal(String(spec), "TensorSpec(shape=(?,), dtype=float32)");
  tf.dispose([x, r]);
});

Deno.test("tf.function: a concrete function refuses an incompatible shape or dtype", () => {
  const f = tfFunction((x: tf.Tensor) => x.add(1));
  const a = tf.ones([2]), b = tf.ones([3]), c = tf.ones([2], "int32");
  const cf = f.getConcreteFunction(a);
  const r = cf.call(a) as tf.Tensor;
  assert.deepEqual(value(r), [2, 2]);
  assert.throws(
    () => cf.call(b),
    (e: Error) => e instanceof SignatureError && /\(3,\)/.test(e.message),
  );
  assert.throws(() => cf.call(c), SignatureError);
  assert.throws(() => cf.call(a, a), SignatureError);
  assert.throws(() => cf.call(), SignatureError);
  tf.dispose([a, b, c, r]);
});

Deno.test("tf.function: inputSignature converts numbers and arrays; getConcreteFunction() needs no arguments", () => {
  const f = tfFunction((x: tf.Tensor) => x.mul(2), {
    inputSignature: [{ shape: [null], dtype: "float32" }],
  });
  const cf = f.getConcreteFunction();
  assert.deepEqual(cf.graph.inputs[0].shape, [null]);
  const before = tf.memory().numTensors;
  const r = f([1, 2, 3] as unknown as tf.Tensor);
  assert.deepEqual(value(r), [2, 4, 6]);
  r.dispose();
  assert.equal(tf.memory().numTensors, before); // the converted argument is freed
  assert.equal(f.traceCount, 1);
  const s = tfFunction((x: tf.Tensor) => x.add(1), {
    inputSignature: [new TensorSpec([], "int32")],
  });
  const r2 = s(41 as unknown as tf.Tensor);
  assert.equal(r2.dtype, "int32");
  assert.equal(value(r2)[0], 42);
  assert.throws(() => f(5 as unknown as tf.Tensor), SignatureError); // a scalar is not (?,)
  assert.throws(() => (f as unknown as () => tf.Tensor)(), SignatureError); // wrong number of arguments
  r2.dispose();
});

Deno.test("tf.function: a tf.function called inside another is traced as its own function and counts its trace", () => {
  const inner = tfFunction((x: tf.Tensor) => x.square());
  const outer = tfFunction((x: tf.Tensor) => inner(x).add(1));
  const x = tf.tensor([1, 2, 3]);
  const r1 = outer(x), r2 = outer(x);
  assert.deepEqual(value(r2), [2, 5, 10]);
  assert.equal(outer.traceCount, 1);
  assert.equal(inner.traceCount, 1);
  const r3 = inner(x); // same signature: the inner function's own cache is used
  assert.equal(inner.traceCount, 1);
  const types = outer.concreteFunctions[0].graph.operations.map((op) => op.type);
  assert.ok(types.includes("PartitionedCall") && !types.includes("Square"));
  tf.dispose([x, r1, r2, r3]);
});

Deno.test("tf.function: reduceRetracing generalises to null dimensions after a retrace on a new shape", () => {
  const f = tfFunction((x: tf.Tensor) => x.sum(), { reduceRetracing: true });
  for (const n of [2, 3, 4, 5, 6]) tf.tidy(() => f(tf.ones([n])));
  assert.equal(f.traceCount, 2);
  assert.deepEqual(f.concreteFunctions[1].graph.inputs[0].shape, [null]);
  const g = tfFunction((x: tf.Tensor) => x.sum());
  for (const n of [2, 3, 4]) tf.tidy(() => g(tf.ones([n])));
  assert.equal(g.traceCount, 3); // without it, each shape traces
  f.dispose();
  g.dispose();
});

Deno.test("tf.config.run_functions_eagerly: the JavaScript runs at every call, without tracing", () => {
  let runs = 0;
  const f = tfFunction((x: tf.Tensor) => {
    runs++;
    return x.mul(3);
  });
  const x = tf.tensor([1, 2]);
  runFunctionsEagerly(true);
  try {
    const a = f(x), b = f(x);
    assert.deepEqual(value(b), [3, 6]);
    assert.equal(runs, 2);
    assert.equal(f.traceCount, 0);
    tf.dispose([a, b]);
  } finally {
    runFunctionsEagerly(false);
  }
  tf.dispose([f(x), f(x)]);
  assert.equal(runs, 3);
  assert.equal(f.traceCount, 1);
  x.dispose();
});

Deno.test("tf.function: the trace cache is bounded; evicted graphs are freed", () => {
  const c = tf.tensor([1]);
  const f = tfFunction((x: tf.Tensor) => x.add(c), { maxConcreteFunctions: 3 });
  const before = tf.memory().numTensors;
  captureWarn(() => {
    for (let n = 1; n <= 10; n++) tf.tidy(() => void f(tf.ones([n])));
  });
  assert.equal(f.traceCount, 10);
  assert.equal(f.concreteFunctions.length, 3);
  assert.equal(tf.memory().numTensors, before + 3); // one captured constant per kept graph
  f.dispose();
  assert.equal(tf.memory().numTensors, before);
  c.dispose();
});

Deno.test("tf.function: frequent retracing warns as TF's '5 out of the last 5 calls ... triggered tf.function retracing', at most twice", () => {
  const f = tfFunction((x: tf.Tensor) => x.sum(), { name: "f" });
  const { lines } = captureWarn(() => {
    for (let n = 1; n <= 8; n++) tf.tidy(() => f(tf.ones([n])));
  });
  assert.equal(lines.length, 2); // TF's FREQUENT_TRACING_WARNING_MAX_WARNING_PER_DETECTOR
  assert.match(lines[0], /5 out of the last 5 calls to f triggered tf\.function retracing/);
  assert.match(lines[1], /6 out of the last 6 calls to f/);
  const g = tfFunction((x: tf.Tensor) => x.mean());
  const quiet = captureWarn(() => {
    for (let i = 0; i < 8; i++) tf.tidy(() => g(tf.ones([i % 2 + 1])));
  });
  assert.equal(quiet.lines.length, 0);
  f.dispose();
  g.dispose();
});

Deno.test("tf.function: typed errors for a disposed tensor and a wrong number of arguments; no leaks", () => {
  const f = tfFunction((x: tf.Tensor, y: tf.Tensor) => x.add(y));
  const x = tf.tensor([1]);
  const dead = tf.tensor([2]);
  dead.dispose();
  const before = tf.memory().numTensors;
  for (let i = 0; i < 5; i++) {
    assert.throws(
      () => f(x, dead),
      (e: Error) => e instanceof v1.DisposedTensorError && /argument 1/.test(e.message),
    );
    assert.throws(
      () => (f as unknown as (a: tf.Tensor) => tf.Tensor)(x),
      (e: Error) => e instanceof SignatureError && /expects 2 arguments, got 1/.test(e.message),
    );
    assert.throws(
      () => (f as unknown as (...a: tf.Tensor[]) => tf.Tensor)(x, x, x),
      (e: Error) => e instanceof SignatureError && /expects 2 arguments, got 3/.test(e.message),
    );
  }
  assert.equal(tf.memory().numTensors, before);
  x.dispose();
});

Deno.test("tf.function: results are plain values where the function returns JavaScript values", () => {
  const f = tfFunction((x: tf.Tensor) => ({
    y: x.add(1),
    label: "sum",
    n: 3,
    nested: { value: [x] },
  }));
  const x = tf.tensor([1]);
  const r = f(x);
  assert.equal(r.label, "sum");
  assert.equal(r.n, 3);
  assert.deepEqual(value(r.y), [2]);
  assert.deepEqual(value(r.nested.value[0]), [1]);
  tf.dispose([x, r.y, r.nested.value[0]]);
});

Deno.test("tf.function: gradients flow through a nested tf.function, to its arguments and captured Variables", async () => {
  const { GradientTape } = await import("../lib/tape.ts");
  const w = tf.variable(tf.tensor([[2], [3]]));
  const model = tfFunction((x: tf.Tensor) => x.matMul(w).tanh());
  const grads = tfFunction((x: tf.Tensor) => {
    const tape = new GradientTape();
    tape.watch(x);
    const y = tape.record(() => model(x).square().sum());
    return tape.gradient(y, { x, w }) as unknown as { x: tf.Tensor; w: tf.Tensor };
  });
  const x = tf.tensor([[0.1, 0.2]]);
  const traced = grads(x);
  const eager = new GradientTape();
  eager.watch(x);
  const y = eager.record(() => x.matMul(w).tanh().square().sum());
  const expected = eager.gradient(y, { x, w });
  for (const k of ["x", "w"] as const) {
    const [a, b] = [value(traced[k]), value(expected[k]!)];
    a.forEach((v, i) => assert.ok(Math.abs(v - b[i]) < 1e-6, `${k}: ${v} vs ${b[i]}`));
  }
  assert.equal(model.traceCount, 1);
  tf.dispose([w, x, y, traced.x, traced.w, expected.x!, expected.w!]);
});

Deno.test("tf.function: an op failing on run-time values raises InvalidArgumentError naming the node; no leaks", () => {
  const f = tfFunction((x: tf.Tensor) => x.mul(2).reshape([2, 2]), {
    inputSignature: [new TensorSpec([null])],
  });
  const ok = tf.tensor([1, 2, 3, 4]);
  const bad = tf.tensor([1, 2, 3]);
  f(ok).dispose();
  const before = tf.memory().numTensors;
  for (let i = 0; i < 5; i++) {
    assert.throws(
      () => f(bad),
      (e: Error) => e instanceof v1.InvalidArgumentError && /node Reshape/.test(e.message),
    );
  }
  assert.equal(tf.memory().numTensors, before);
  tf.dispose([ok, bad]);
  f.dispose();
});
