// Gradients through control flow in traced functions: Variables read inside a cond branch or a
// loop body, and a tf.function called inside another one when it holds control flow,
// written from TensorFlow's guide "Better performance with tf.function" (a Function is like a
// core op: "you can compute gradients", also of Functions used inside other Functions) and
// "Introduction to gradients and automatic differentiation" (control flow is differentiated
// along the path taken at run time).
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../lib/backend.ts";
import { tfFunction } from "../lib/function.ts";
import { GradientTape } from "../lib/tape.ts";
import { assignAdd } from "../lib/variables.ts";
import * as v1 from "../lib/v1/mod.ts";

await initBackend();

const value = (t: unknown): number[] => Array.from((t as tf.Tensor).dataSync());

/** A traced `x ↦ d(sum(inner(x)))/d[x, ...sources]`, the tape inside the trace. */
function gradOf(inner: (x: tf.Tensor) => unknown, sources: tf.Variable[] = []) {
  return tfFunction((x: tf.Tensor) => {
    const tape = new GradientTape();
    tape.watch(x);
    const y = tape.record(() => tf.sum(inner(x) as tf.Tensor));
    return tape.gradient(y, [x, ...sources]) as tf.Tensor[];
  }, { autograph: false });
}

Deno.test("tf.function: gradients flow through a nested tf.function holding a tf.cond (AutoGraph if), along the branch taken at each call, to its argument and a captured Variable", () => {
  const w = tf.variable(tf.scalar(3));
  // s = x·w; sum(s) > 0 ? s² : -s
  const inner = tfFunction((x: tf.Tensor) => {
    const s = x.mul(w);
    if (s.sum().greater(0)) return s.square();
    return s.neg();
  }, { scope: { w } });
  const grads = gradOf(inner, [w]);
  const cases: [number[], number[], number][] = [
    [[1, 2], [18, 36], 30], // d(Σx²w²)/dx = 2xw², d/dw = 2wΣx²
    [[-1, -2], [-3, -3], 3], // d(-Σxw)/dx = -w, d/dw = -Σx
  ];
  for (const [x0, dx, dw] of cases) {
    const x = tf.tensor(x0);
    const [gx, gw] = grads(x) as tf.Tensor[];
    assert.deepEqual(value(gx), dx);
    assert.deepEqual(value(gw), [dw]);
    tf.dispose([x, gx, gw]);
  }
  assert.equal(grads.traceCount, 1); // one trace: the branch is chosen at run time
  assert.equal(inner.traceCount, 1);
  grads.dispose();
  inner.dispose();
  w.dispose();
});

Deno.test("tf.function: gradients flow through a nested tf.function holding a tf.while_loop with a data-dependent trip count (repeated squaring: d x^(2^n)/dx = 2^n·x^(2^n-1))", () => {
  const inner = tfFunction((x: tf.Tensor, k: tf.Tensor) =>
    v1.whileLoop(
      (i) => v1.less(i, k as unknown as v1.SymbolicTensor),
      (i, v) => [v1.add(i, 1), v1.mul(v, v)],
      [v1.constant(0, "int32"), x as unknown as v1.SymbolicTensor],
    )[1], { autograph: false });
  const grads = tfFunction((x: tf.Tensor, k: tf.Tensor) => {
    const tape = new GradientTape();
    tape.watch(x);
    const y = tape.record(() => inner(x, k) as unknown as tf.Tensor);
    return tape.gradient(y, x) as tf.Tensor;
  }, { autograph: false });
  const x = tf.scalar(1.5);
  for (const [steps, expected] of [[2, 4 * 1.5 ** 3], [3, 8 * 1.5 ** 7]]) {
    const k = tf.scalar(steps, "int32");
    const g = grads(x, k);
    assert.ok(Math.abs(value(g)[0] - expected) < 1e-4 * expected, `${steps}: ${value(g)}`);
    tf.dispose([k, g]);
  }
  assert.equal(grads.traceCount, 1);
  grads.dispose();
  inner.dispose();
  x.dispose();
});

Deno.test("tf.function: differentiating a nested tf.function whose result depends on a side effect inside its cond raises a GraphError naming the op, and leaks nothing", () => {
  const v = tf.variable(tf.scalar(0));
  const inner = tfFunction((x: tf.Tensor) =>
    v1.cond(
      v1.greater(x as unknown as v1.SymbolicTensor, 0),
      () => v1.mul(v1.identity(assignAdd(v, 1) as unknown as v1.SymbolicTensor), x as never),
      () => v1.identity(x as never),
    ), { autograph: false });
  const grads = gradOf(inner);
  const x = tf.scalar(2);
  assert.throws(() => grads(x), v1.GraphError); // inner's trace (its constants) is kept
  const before = tf.memory().numTensors;
  for (let i = 0; i < 2; i++) {
    assert.throws(
      () => grads(x),
      (e: Error) =>
        e instanceof v1.GraphError && /side effect that would run again/.test(e.message) &&
        /If/.test(e.message),
    );
  }
  assert.equal(tf.memory().numTensors, before);
  grads.dispose();
  inner.dispose();
  tf.dispose([x, v]);
});

Deno.test("tf.function: tf.memory is flat across calls differentiating through a nested tf.function with control flow", () => {
  const inner = tfFunction((x: tf.Tensor) => {
    if (x.sum().greater(0)) return x.square();
    return x.mul(2);
  });
  const grads = gradOf(inner);
  const x = tf.tensor([1, -3]);
  tf.dispose(grads(x));
  const before = tf.memory().numTensors;
  for (let i = 0; i < 3; i++) tf.dispose(grads(x));
  assert.equal(tf.memory().numTensors, before);
  grads.dispose();
  inner.dispose();
  x.dispose();
});

Deno.test("tf.function: tape.gradient reaches a Variable read inside a tf.cond branch (TF2 makes its handle an input of If): 2·x·w on the branch taken, zero from the other", () => {
  const w = tf.variable(tf.scalar(3));
  const f = tfFunction((x: tf.Tensor) => {
    const tape = new GradientTape();
    const y = tape.record(() => {
      if (x.greater(0)) return x.mul(w).mul(w);
      return x.neg();
    });
    return tape.gradient(y, [w]) as tf.Tensor[];
  }, { scope: { w, GradientTape } });
  for (const [x0, dw] of [[2, 12], [-2, 0]]) {
    const x = tf.scalar(x0);
    const [g] = f(x);
    assert.deepEqual(value(g), [dw]);
    tf.dispose([x, g]);
  }
  assert.equal(f.traceCount, 1);
  f.dispose();
  w.dispose();
});

Deno.test("tf.function: tape.gradient reaches a Variable read inside a tf.while_loop body: d(x·w³)/dw = 3·x·w², also through a nested tf.function", () => {
  const w = tf.variable(tf.scalar(3));
  const cube = (x: tf.Tensor) =>
    v1.whileLoop(
      (i) => v1.less(i, 3),
      (i, v) => [v1.add(i, 1), v1.mul(v, w)],
      [v1.constant(0, "int32"), x as unknown as v1.SymbolicTensor],
    )[1] as unknown as tf.Tensor;
  const nested = tfFunction(cube, { autograph: false });
  for (const body of [cube, (x: tf.Tensor) => nested(x) as tf.Tensor]) {
    const f = tfFunction((x: tf.Tensor) => {
      const tape = new GradientTape();
      const y = tape.record(() => body(x));
      return tape.gradient(y, [w]) as tf.Tensor[];
    }, { autograph: false });
    const x = tf.scalar(2);
    const [g] = f(x);
    assert.deepEqual(value(g), [3 * 2 * 9]);
    tf.dispose([x, g]);
    f.dispose();
  }
  nested.dispose();
  w.dispose();
});
