/**
 * tf.function's argument binding and input names, as TensorFlow's
 * `FunctionSpec`/`FunctionType` do it: defaults are bound before the trace
 * cache is keyed; a concrete function's placeholders are named after the
 * parameters (`x`, `x_1` for the tensors of a nested argument; a TensorSpec's
 * name overrides), and `structured_input_signature` names each spec by path.
 */
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../lib/backend.ts";
import { SignatureError, TensorSpec, tfFunction } from "../lib/function.ts";
import { literal, parseParameters } from "../lib/_function_params.ts";
import { value } from "./_graph_ops.ts";

await initBackend();

Deno.test("tf.function binds a parameter's default before keying the trace (FunctionSpec canonicalizes the arguments): f(x), f(x, 2) and f(x, undefined) of (x, y = 2) share one trace; f(x, 3) traces again", () => {
  const f = tfFunction((x: tf.Tensor, y: number = 2) => x.mul(y));
  const x = tf.tensor([1, 2]);
  const outs = [f(x), f(x, 2), f(x, undefined), f(x)];
  assert.deepEqual(outs.map(value), [[2, 4], [2, 4], [2, 4], [2, 4]]);
  assert.equal(f.traceCount, 1);
  outs.push(f(x, 3));
  assert.deepEqual(value(outs[4]), [3, 6]);
  assert.equal(f.traceCount, 2);
  tf.dispose(outs);
  const before = tf.memory().numTensors; // the traces' constants are the graphs'
  for (let i = 0; i < 20; i++) f(x).dispose(); // a cached call keeps nothing
  for (let i = 0; i < 20; i++) f(x, 2).dispose();
  assert.equal(tf.memory().numTensors, before);
  x.dispose();
  f.dispose();
});

Deno.test("tf.function binds the defaults of an options object ({ scale = 2, shift = 0 } = {}), as Python keyword defaults: f(x), f(x, {}), f(x, { scale: 2 }) share a trace; another value retraces", () => {
  const f = tfFunction((x: tf.Tensor, { scale = 2, shift = 0 } = {}) => x.mul(scale).add(shift));
  const x = tf.tensor([1, 2]);
  const outs = [f(x), f(x, {}), f(x, { scale: 2 }), f(x, { shift: 0, scale: 2 })];
  assert.deepEqual(outs.map(value), [[2, 4], [2, 4], [2, 4], [2, 4]]);
  assert.equal(f.traceCount, 1);
  outs.push(f(x, { shift: 1 }));
  assert.deepEqual(value(outs[4]), [3, 5]);
  assert.equal(f.traceCount, 2);
  tf.dispose([x, ...outs]);
  f.dispose();
});

Deno.test("tf.function with a default that is not a literal (an expression) falls back: the default still applies (JavaScript's), f(x) and f(x, undefined) share a trace", () => {
  const base = 3;
  const f = tfFunction((x: tf.Tensor, y: number = base * 2) => x.mul(y), { autograph: false });
  const x = tf.tensor([1]);
  const outs = [f(x), f(x, undefined)];
  assert.deepEqual(outs.map(value), [[6], [6]]);
  assert.equal(f.traceCount, 1);
  tf.dispose([x, ...outs]);
  f.dispose();
});

Deno.test("tf.function: a concrete function's signature shows the parameter's default (f(x, y=2)) and its bound value (Literal[2])", () => {
  const f = tfFunction(function f(x: tf.Tensor, y: number = 2) {
    return x.mul(y);
  });
  const cf = f.getConcreteFunction(new TensorSpec([2]));
  const text = String(cf);
  assert.match(text, /^ConcreteFunction f\(x, y=2\)/);
  assert.match(text, /y: Literal\[2\]/);
  assert.equal(f.getConcreteFunction(new TensorSpec([2]), 2), cf, "the default is the same trace");
  f.dispose();
});

Deno.test("tf.function: too many arguments for a function with defaults is TF's TypeError (a SignatureError naming the count)", () => {
  const f = tfFunction((x: tf.Tensor, y: number = 2) => x.mul(y));
  const x = tf.tensor([1]);
  assert.throws(
    () => (f as unknown as (...a: unknown[]) => unknown)(x, 2, 3),
    (e) => e instanceof SignatureError && /1-2/.test(e.message),
  );
  x.dispose();
});

Deno.test("ConcreteFunction.inputs are placeholders named after the parameters (x:0, y:0), not arg0, arg1", () => {
  const f = tfFunction((x: tf.Tensor, y: tf.Tensor) => x.add(y));
  const cf = f.getConcreteFunction(new TensorSpec([2]), new TensorSpec([2]));
  assert.deepEqual(cf.inputs.map((t) => t.name), ["x:0", "y:0"]);
  assert.deepEqual(cf.graph.inputs.map((t) => t.op.type), ["Placeholder", "Placeholder"]);
  f.dispose();
});

Deno.test("ConcreteFunction: the tensors of a nested argument are placeholders x, x_1, ... (TF uniquifies the parameter's name); structured_input_signature names them by path (x/0, x/1, p/a)", () => {
  const f = tfFunction((x: tf.Tensor[], p: { a: tf.Tensor; b: tf.Tensor }) =>
    x[0].add(x[1]).add(p.a).add(p.b)
  );
  const s = new TensorSpec([]);
  const cf = f.getConcreteFunction([s, s], { a: s, b: s });
  assert.deepEqual(cf.inputs.map((t) => t.name), ["x:0", "x_1:0", "p:0", "p_1:0"]);
  const [xs, p] = cf.structuredInputSignature as [TensorSpec[], Record<string, TensorSpec>];
  assert.deepEqual(xs.map((t) => t.name), ["x/0", "x/1"]);
  assert.deepEqual([p.a.name, p.b.name], ["p/a", "p/b"]);
  f.dispose();
});

Deno.test("ConcreteFunction: a TensorSpec's name overrides the parameter's (tf.TensorSpec(name=...)), in get_concrete_function and in an input_signature", () => {
  const f = tfFunction((x: tf.Tensor, y: tf.Tensor) => x.sub(y));
  const cf = f.getConcreteFunction(new TensorSpec([], "float32", "first"), new TensorSpec([]));
  assert.deepEqual(cf.inputs.map((t) => t.name), ["first:0", "y:0"]);
  assert.deepEqual((cf.structuredInputSignature as TensorSpec[]).map((t) => t.name), [
    "first",
    "y",
  ]);
  const g = tfFunction((a: tf.Tensor) => a.neg(), {
    inputSignature: [new TensorSpec([null], "float32", "images")],
  });
  assert.deepEqual(g.getConcreteFunction().inputs.map((t) => t.name), ["images:0"]);
  f.dispose();
  g.dispose();
});

Deno.test("ConcreteFunction: parameters whose names the source does not give (destructuring) fall back to arg<i>", () => {
  const f = tfFunction(([a, b]: tf.Tensor[]) => a.add(b));
  const s = new TensorSpec([]);
  assert.deepEqual(f.getConcreteFunction([s, s]).inputs.map((t) => t.name), [
    "arg0:0",
    "arg0_1:0",
  ]);
  f.dispose();
});

Deno.test("parseParameters reads names and literal defaults from the source (what Python's inspect.signature gives TF), skipping strings, comments and brackets", () => {
  const cases: [(...a: never[]) => unknown, unknown[]][] = [
    [(x: number, y = 2) => x + y, [["x", false], ["y", true, 2]]],
    [function named(a: string, b = "a, (b)", c = [1, 2]) {
      return a + b + c;
    }, [["a", false], ["b", true, "a, (b)"], ["c", true, [1, 2]]]],
    [(x: number, /* , z */ y = -1.5e3 /* ) */) => x + y, [["x", false], ["y", true, -1500]]],
    [(x: number) => x, [["x", false]]],
    // deno-lint-ignore require-await
    [async (x: number, y = null) => x ?? y, [["x", false], ["y", true, null]]],
    [(x: number, ...rest: number[]) => x + rest.length, [["x", false], ["rest", false]]],
    [(x = Math.PI) => x, [["x", true, undefined]]], // not a literal: unknown
    [(x = "it's") => x, [["x", true, "it's"]]],
  ];
  for (const [fn, want] of cases) {
    const got = parseParameters(fn)!.map((p) =>
      p.hasDefault ? [p.name, true, p.defaultValue?.value] : [p.name, false]
    );
    assert.deepEqual(got, want, String(fn));
  }
  const obj = {
    method(a: number, b = true) {
      return a && b;
    },
  };
  assert.deepEqual(parseParameters(obj.method)!.map((p) => p.name), ["a", "b"]);
  const withOptions = (x: number, { k = 1, s = "v", e = x } = {}) => x + k + s + e;
  const opts = parseParameters(withOptions)!;
  assert.deepEqual([opts[1].name, opts[1].keyDefaults], [null, { k: 1, s: "v" }]);
});

Deno.test("parseParameters falls back to null where the source cannot be read (built-in and bound functions), and literal() rejects expressions", () => {
  assert.equal(parseParameters(Math.max), null);
  assert.equal(parseParameters(((x: number) => x).bind(null)), null);
  assert.deepEqual(literal("0x10"), { value: 16 });
  assert.deepEqual(literal("undefined"), { value: undefined });
  assert.equal(literal("a + 1"), undefined);
  assert.equal(literal("f()"), undefined);
});

Deno.test("tf.function with an input_signature binds the defaults it covers: (x, y = 2) with two specs called as f(x) converts the default to the spec's tensor; one spec leaves y to its default", () => {
  const both = tfFunction((x: tf.Tensor, y: number | tf.Tensor = 2) => x.mul(y), {
    inputSignature: [new TensorSpec([null]), new TensorSpec([])],
  });
  const first = tfFunction((x: tf.Tensor, y: number = 2) => x.mul(y), {
    inputSignature: [new TensorSpec([null])],
  });
  const x = tf.tensor([1, 2]);
  const three = tf.scalar(3);
  const outs = [both(x), both(x, three), first(x)];
  assert.deepEqual(outs.map(value), [[2, 4], [3, 6], [2, 4]]);
  assert.deepEqual([both.traceCount, first.traceCount], [1, 1]);
  tf.dispose([x, three, ...outs]);
  both.dispose();
  first.dispose();
});

Deno.test("tf.function called inside another traced function binds its defaults too: inner(x) and inner(x, 2) are one concrete function", () => {
  const inner = tfFunction((x: tf.Tensor, k: number = 2) => x.mul(k));
  const outer = tfFunction((x: tf.Tensor) => (inner(x) as tf.Tensor).add(inner(x, 2) as tf.Tensor));
  const x = tf.tensor([1, 2]);
  const r = outer(x);
  assert.deepEqual(value(r), [4, 8]);
  assert.equal(inner.traceCount, 1);
  tf.dispose([x, r]);
  outer.dispose();
  inner.dispose();
});
