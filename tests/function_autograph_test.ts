// tfFunction runs AutoGraph as tf.function does ("Better performance with tf.function":
// "tf.function applies a library called AutoGraph ... by default"), with the options
// `autograph: false` (tf.function(autograph=False)) and `scope`, and TF's fallback when a
// function cannot be transformed ("AutoGraph could not transform ... and will run it as-is").
import * as tf from "@tensorflow/tfjs";
import assert from "node:assert/strict";
import { tfFunction } from "../lib/function.ts";
import { OperatorNotAllowedInGraphError, range, toCode } from "../lib/autograph/mod.ts";
import * as fx from "./_autograph_functions.js";

type Fn = (...args: never[]) => unknown;
const opTypes = (f: { concreteFunctions: { graph: { operations: { type: string }[] } }[] }) =>
  f.concreteFunctions[0].graph.operations.map((op) => op.type);
const call = (f: Fn, ...args: unknown[]): number[] => {
  const r = (f as (...a: unknown[]) => tf.Tensor)(...args);
  const v = Array.from(r.dataSync());
  r.dispose();
  return v;
};

Deno.test("tf.function applies AutoGraph by default: a tensor-dependent if becomes one If op with both branches", () => {
  const f = tfFunction(fx.signFlip as Fn, { scope: { tf, range } });
  const [pos, neg] = [tf.tensor([1, 2]), tf.tensor([-3, 1])];
  assert.deepEqual(call(f, pos), [2, 4]);
  assert.deepEqual(call(f, neg), [3, -1]);
  assert.equal(f.traceCount, 1, "one trace serves both branches");
  assert.equal(opTypes(f).filter((t) => t === "StatelessIf").length, 1);
  f.dispose();
  tf.dispose([pos, neg]);
});

Deno.test("tf.function(autograph=False): a JavaScript comparison on a symbolic tensor raises OperatorNotAllowedInGraphError", () => {
  const f = tfFunction(fx.signFlip as Fn, { autograph: false });
  const x = tf.tensor([1, 2]);
  const before = tf.memory().numTensors;
  for (let i = 0; i < 3; i++) {
    assert.throws(() => f(x as never), OperatorNotAllowedInGraphError);
  }
  assert.equal(tf.memory().numTensors, before, "failed traces leak nothing");
  x.dispose();
});

Deno.test("AutoGraph could not transform a function (a closure it cannot see): it runs as-is with TF's warning, and the error names the variable", () => {
  const k = tf.scalar(0);
  // `k` is a closure variable of this module: the converted code cannot see it.
  const f = (
    x: tf.Tensor,
  ): tf.Tensor => ((x.sum() as unknown as number) > (k as unknown as number) ? x : x.neg());
  const warnings: string[] = [];
  const warn = console.warn;
  console.warn = (...a: unknown[]) => warnings.push(a.join(" "));
  try {
    const traced = tfFunction(f);
    const x = tf.tensor([1, 2]);
    let message = "";
    try {
      traced(x as never);
    } catch (err) {
      assert.ok(err instanceof OperatorNotAllowedInGraphError);
      message = err.message;
    }
    assert.match(message, /cannot see 'k'/);
    assert.match(message, /\{ scope: \{ k \} \}/);
    assert.equal(warnings.length, 1, "warned once");
    assert.match(warnings[0], /AutoGraph could not transform .* and will run it as-is/);
    // With the name passed, the same function converts and runs.
    const ok = tfFunction(f, { scope: { k } });
    assert.deepEqual(call(ok as Fn, x), [1, 2]);
    ok.dispose();
    x.dispose();
  } finally {
    console.warn = warn;
    k.dispose();
  }
});

Deno.test("tf.autograph.to_code: toCode shows the converted source of a tfFunction's body", () => {
  const code = toCode(fx.signFlip as Fn);
  assert.match(code, /ag__\.ifStmt\(ag__\.gt\(x\.sum\(\), 0\)/);
  assert.match(code, /ag__\.mul\(x, 2\)/);
});

Deno.test("tf.autograph.to_code(f.python_function): toCode of a tfFunction shows its body's conversion", () => {
  const f = tfFunction(fx.signFlip as Fn, { scope: { tf, range } });
  assert.equal(f.pythonFunction, fx.signFlip);
  assert.equal(toCode(f), toCode(fx.signFlip as Fn));
});
