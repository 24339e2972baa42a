import * as tf from "@tensorflow/tfjs";
import assertNode from "node:assert/strict";
import {
  AutoGraphError,
  convert,
  doNotConvert,
  OperatorNotAllowedInGraphError,
  range,
  toCode,
} from "../lib/autograph/mod.ts";
import { tfFunction } from "../lib/function.ts";
import * as v1 from "../lib/v1/mod.ts";
import * as fx from "./_autograph_functions.js";

// deno-lint-ignore no-explicit-any
type Fn = (...args: any[]) => any;
const assert = (ok: unknown, message = "assertion failed") => assertNode.ok(ok, message);
const assertEquals = <T>(a: T, b: T) => assertNode.deepEqual(a, b);
const assertStringIncludes = (s: string, part: string) =>
  assertNode.ok(s.includes(part), `${JSON.stringify(part)} not in ${JSON.stringify(s)}`);
/** Runs `fn`, which must throw (an instance of `type`, with `part` in its message); returns the error. */
function assertThrows(
  fn: () => unknown,
  type: new (...a: never[]) => Error = Error,
  part = "",
): Error {
  try {
    fn();
  } catch (e) {
    assertNode.ok(e instanceof type, `expected ${type.name}, got ${e}`);
    assertStringIncludes((e as Error).message, part);
    return e as Error;
  }
  throw new assertNode.AssertionError({ message: "expected an error" });
}
const scope = { tf, range };
/** `tf.function` with AutoGraph: trace the converted function. */
const traced = (fn: Fn) => tfFunction(convert(fn, { scope }));
const opTypes = (f: { concreteFunctions: { graph: v1.Graph }[] }, i = 0): string[] =>
  f.concreteFunctions[i].graph.operations.map((op) => op.type);
const values = (t: unknown): number[] => Array.from((t as tf.Tensor).dataSync());
/** Calls `f`, reads and frees its result. */
const run = (f: Fn, ...args: unknown[]): number[] => {
  const r = f(...args) as tf.Tensor;
  const out = values(r);
  r.dispose();
  return out;
};
const close = (a: number[], b: number[]) =>
  assert(a.length === b.length && a.every((v, i) => Math.abs(v - b[i]) < 1e-5), `${a} vs ${b}`);

Deno.test("AutoGraph: an if on a tensor becomes one If op with both branches traced (tf.cond)", () => {
  const f = traced(fx.signFlip);
  const x = tf.tensor([1, 2]), y = tf.tensor([-1, -2]);
  close(run(f, x), [2, 4]);
  close(run(f, y), [1, 2]);
  assertEquals(f.traceCount, 1); // one trace serves both branches
  const ifOp = f.concreteFunctions[0].graph.operations.find((op) => op.type === "StatelessIf")!;
  assert(ifOp, "the graph has an If op");
  const branchTypes = (g: v1.Graph) => g.operations.map((op) => op.type);
  assert(branchTypes(ifOp.subgraphs!.then).includes("Mul"), "the then branch was traced");
  assert(branchTypes(ifOp.subgraphs!.else).includes("Neg"), "the else branch was traced");
  // Same results as the eager computation.
  close(run(f, x), values(tf.tidy(() => x.mul(2))));
  f.dispose();
  tf.dispose([x, y]);
});

Deno.test("AutoGraph: an if on a JavaScript value runs at trace time (no If op)", () => {
  const f = traced(fx.scaleIf);
  const x = tf.tensor([1, 2]);
  close(run(f, x, true), [2, 4]);
  close(run(f, x, false), [3, 6]);
  assertEquals(f.traceCount, 2); // a JavaScript argument is part of the signature
  for (const i of [0, 1]) assert(!opTypes(f, i).some((t) => t.endsWith("If")));
  f.dispose();
  x.dispose();
});

Deno.test("AutoGraph: a loop over range(n) with a number n unrolls; a tensor bound is one While op", () => {
  const f = traced(fx.sumRange);
  const x = tf.scalar(0);
  close(run(f, x, 3), [3]);
  close(run(f, x, 6), [15]);
  const [small, big] = [opTypes(f, 0), opTypes(f, 1)];
  assert(
    !small.some((t) => t.endsWith("While")) && big.length > small.length,
    "the op count grows with n",
  );
  const n3 = tf.scalar(3), n6 = tf.scalar(6);
  const g = traced(fx.sumRange);
  close(run(g, x, n3), [3]);
  close(run(g, x, n6), [15]);
  assertEquals(g.traceCount, 1); // one graph for every n
  assertEquals(opTypes(g).filter((t) => t === "StatelessWhile").length, 1);
  assert(!opTypes(g).includes("AddV2"), "the additions are inside the While body");
  f.dispose();
  g.dispose();
  tf.dispose([x, n3, n6]);
});

Deno.test("AutoGraph: while (i < n) { s = s + i; i = i + 1 } on tensors is one While op (tf.while_loop)", () => {
  const f = traced(fx.sumBelow);
  for (const n of [0, 1, 5, 10]) {
    const t = tf.scalar(n);
    close(run(f, t), [n * (n - 1) / 2]);
    t.dispose();
  }
  assertEquals(f.traceCount, 1);
  assert(opTypes(f).includes("StatelessWhile"));
  f.dispose();
});

Deno.test("AutoGraph: for (let i = 0; i < n; i++) with a tensor n is a While op", () => {
  const f = traced(fx.countedSquares);
  const n = tf.scalar(4);
  close(run(f, n), [0 + 1 + 4 + 9]);
  assert(opTypes(f).includes("StatelessWhile"));
  close(run(convert(fx.countedSquares, { scope }), 4), [14]); // numbers: plain JavaScript
  f.dispose();
  n.dispose();
});

Deno.test("AutoGraph: break and continue inside a loop over a tensor's rows", () => {
  const f = traced(fx.sumRowsUntilLarge);
  const rows = [[1, 2], [-5, -5], [3, 4], [500, 0], [7, 7]];
  const x = tf.tensor(rows);
  close(run(f, x), fx.sumRowsUntilLargeJs(rows));
  assert(opTypes(f).includes("StatelessWhile"));
  const noBreak = [[1, 1], [-1, -2], [2, 2]];
  const y = tf.tensor(noBreak);
  close(run(f, y), fx.sumRowsUntilLargeJs(noBreak));
  assertEquals(f.traceCount, 2); // a new shape
  f.dispose();
  tf.dispose([x, y]);
});

Deno.test("AutoGraph: nested tensor loops with break and continue equal the eager computation", () => {
  const x = tf.tensor([[1, 2], [-1, -1], [3, 0]]);
  const n = tf.scalar(5);
  const eager = tf.tidy(() => values(convert(fx.nestedLoops, { scope })(x, n)));
  const f = traced(fx.nestedLoops);
  close(run(f, x, n), eager);
  close(eager, [3 * 1 + 3 * 2 + 3 * 1 + 3 * 2]); // j = 1, 2 for each row of sum >= 0
  f.dispose();
  tf.dispose([x, n]);
});

Deno.test("AutoGraph: a variable first assigned inside a tensor loop is carried (zeros on entry, as TF)", () => {
  const f = traced(fx.lastSeen);
  const n = tf.scalar(4);
  close(run(f, n), [30]);
  assert(opTypes(f).includes("StatelessWhile"));
  f.dispose();
  n.dispose();
});

Deno.test("AutoGraph: return inside a tensor loop stops it and returns the value", () => {
  const f = traced(fx.firstRowAbove);
  const x = tf.tensor([[1, 1], [5, 6], [9, 9]]);
  close(run(f, x, 10), [10, 12]);
  close(run(f, x, 100), [0, 0]); // no row passes: the return after the loop
  assert(opTypes(f).includes("StatelessWhile"));
  f.dispose();
  x.dispose();
});

Deno.test("AutoGraph: && || ! on tensors build LogicalAnd, LogicalOr, LogicalNot", () => {
  const f = traced(fx.inBand);
  const x = tf.tensor([1, 2]);
  close(run(f, x, 0, 5), [1]);
  close(run(f, x, 5, 9), [0]);
  const types = opTypes(f);
  assert(types.includes("LogicalAnd") && types.includes("LogicalOr"), types.join(" "));
  const g = traced(fx.notPositive);
  close(run(g, x), [0]);
  assert(opTypes(g).includes("LogicalNot"));
  f.dispose();
  g.dispose();
  x.dispose();
});

Deno.test("AutoGraph: && short-circuits on JavaScript values", () => {
  let calls = 0;
  const onCall = () => ++calls;
  const f = convert(fx.lazyAnd);
  assertEquals(f(false, onCall), false);
  assertEquals(calls, 0);
  assertEquals(f(true, onCall), 1);
  assertEquals(calls, 1);
});

Deno.test("AutoGraph: operators on tensors become ops; strings and numbers stay JavaScript", () => {
  const f = convert(fx.arithmetic);
  const g = new v1.Graph();
  const [x, y] = [tf.tensor([-7, 1, 8]), tf.tensor([3, 1, 2])];
  const outs = g.asDefault(() => {
    const px = v1.placeholder("float32", [3], "x"), py = v1.placeholder("float32", [3], "y");
    return { px, py, r: f(px, py) as unknown[] };
  });
  assertEquals(outs.r[6], "x1"); // string + number: concatenation
  const types = g.operations.map((op) => op.type);
  for (const t of ["Mul", "AddV2", "Sub", "RealDiv", "FloorMod", "Neg", "GreaterEqual"]) {
    assert(types.includes(t), `${t} in ${types.join(" ")}`);
  }
  const sess = new v1.Session(g);
  const got = sess.run(
    outs.r.slice(0, 6) as v1.SymbolicTensor[],
    new Map([[outs.px, x], [
      outs.py,
      y,
    ]]),
  ) as number[][];
  // Eager: the converted function on eager tensors runs tf ops.
  const eagerOut = (f(x, y) as unknown as tf.Tensor[]).slice(0, 6);
  const eager = eagerOut.map((t) => values(t));
  tf.dispose(eagerOut);
  got.forEach((v, i) => close(v.flat().map(Number), eager[i]));
  close(eager[0], [-7 * 2 + 1 - 3 / 4, 2 + 1 - 0.25, 17 - 0.5]);
  close(eager[1], [2, 1, 2]); // % on tensors is floorMod, as Python's %: -7 % 3 = 2
  close(eager[3], [0, 1, 1]);
  sess.close();
  g.dispose();
  tf.dispose([x, y]);
});

Deno.test("AutoGraph: ?: on a tensor becomes a cond", () => {
  const f = traced(fx.clipSign);
  const [a, b] = [tf.tensor([1, 2]), tf.tensor([-3, 1])];
  close(run(f, a), [1, 2]);
  close(run(f, b), [0, 0]);
  assert(opTypes(f).includes("StatelessIf"));
  f.dispose();
  tf.dispose([a, b]);
});

Deno.test("AutoGraph: a converted function runs eagerly, reading tensor conditions (eager mode)", () => {
  const x = tf.tensor([[1, 2], [-5, -5], [3, 4], [500, 0]]);
  const f = convert(fx.sumRowsUntilLarge, { scope });
  const got = tf.tidy(() => values(f(x)));
  close(got, fx.sumRowsUntilLargeJs(x.arraySync() as number[][]));
  const n = tf.scalar(5);
  close(tf.tidy(() => values(convert(fx.sumBelow, { scope })(n))), [10]);
  tf.dispose([x, n]);
});

Deno.test("AutoGraph: arrow functions, default and rest parameters, destructuring, nested functions", () => {
  const f = traced(fx.arrowStyle);
  const x = tf.tensor([1, 2]);
  close(run(f, x, { scale: 3 }, 1), [10]);
  close(run(f, x), [6]);
  assert(opTypes(f, 0).includes("StatelessIf")); // the nested arrow's ?: on a tensor
  f.dispose();
  x.dispose();
});

Deno.test("AutoGraph: toCode shows the generated ag__ calls (tf.autograph.to_code)", () => {
  const code = toCode(fx.sumBelow);
  assertStringIncludes(code, "ag__.whileStmt(() => ag__.lt(i, n)");
  assertStringIncludes(code, "s = ag__.add(s, i)");
  assertStringIncludes(code, '["i", "s"]');
  assertStringIncludes(toCode(fx.signFlip), "ag__.ifStmt(ag__.gt(x.sum(), 0)");
  assertStringIncludes(toCode(fx.sumRowsUntilLarge), "break_ = true");
  assertEquals(toCode(convert(fx.signFlip)), toCode(fx.signFlip));
});

Deno.test("AutoGraph: convert is cached per function and idempotent; doNotConvert opts out", () => {
  const f = convert(fx.lazyAnd);
  assertEquals(convert(fx.lazyAnd), f);
  assertEquals(convert(f), f);
  // Nothing to convert: the function itself, closure and all (no scope needed).
  const w = tf.scalar(2);
  const plain = (x: tf.Tensor) => x.mul(w).sum();
  assertEquals(convert(plain), plain);
  w.dispose();
  // do_not_convert: returned as it is, even with free variables AutoGraph could not see.
  const marked = doNotConvert((x: number) => (x > 0 ? fx.tf.scalar(x) : null));
  assertEquals(convert(marked), marked);
});

Deno.test("AutoGraph: a variable defined in one branch of a tensor if is an error (limitations)", () => {
  const f = traced(fx.oneBranchOnly);
  const x = tf.tensor([1]);
  assertThrows(() => f(x), AutoGraphError, "'y' must also be initialized in the else branch");
  x.dispose();
});

Deno.test("AutoGraph: a temporary set in one branch and not used after the if is no error (liveness)", () => {
  const f = traced(fx.branchTemporary);
  const [a, b] = [tf.tensor([1, 2]), tf.tensor([-1, -2])];
  close(run(f, a), [3, 5]);
  close(run(f, b), [-1, -2]);
  assert(!toCode(fx.branchTemporary).includes('"t"'), "t is not an output of the if");
  f.dispose();
  tf.dispose([a, b]);
});

Deno.test("AutoGraph: a return in only one branch of a tensor if is an error", () => {
  const f = traced(fx.returnInOneBranch);
  const x = tf.tensor([1]);
  assertThrows(() => f(x), AutoGraphError, "the else branch must also have a return statement");
  x.dispose();
});

Deno.test("AutoGraph: a loop variable whose dtype or shape changes in a tensor loop is an error", () => {
  const n = tf.scalar(3);
  assertThrows(
    () => traced(fx.dtypeChange)(n),
    AutoGraphError,
    "'i' has dtype int32 before the loop, but dtype float32 after one iteration",
  );
  assertThrows(
    () => traced(fx.shapeChange)(n),
    AutoGraphError,
    "'v' has shape (1,) before the loop, but shape (1, 1) after one iteration",
  );
  assertThrows(() => traced(fx.collectInArray)(n), AutoGraphError, "'seen' is an array");
  n.dispose();
});

Deno.test("AutoGraph: setLoopOptions shape invariants let a loop variable change shape (set_loop_options)", () => {
  const n = tf.scalar(3);
  assertThrows(
    () => traced(fx.transposeN)(n),
    AutoGraphError,
    "'v' has shape (1, 2) before the loop, but shape (2, 1) after one iteration. Use setLoopOptions",
  );
  const f = traced(fx.transposeNWithInvariant);
  const r = f(n) as tf.Tensor;
  assertEquals(r.shape, [2, 1]);
  close(values(r), [1, 2]);
  r.dispose();
  const two = tf.scalar(2);
  const r2 = f(two) as tf.Tensor;
  assertEquals(r2.shape, [1, 2]); // the same graph, another shape
  assertEquals(f.traceCount, 1);
  assert(!toCode(fx.transposeNWithInvariant).includes("setLoopOptions({"), "moved out of the body");
  tf.dispose([n, two, r2]);
  f.dispose();
});

Deno.test("AutoGraph: a tensor-dependent break in a loop over a JavaScript array is an error", () => {
  const x = tf.tensor([1]);
  assertThrows(
    () => traced(fx.breakInJsLoop)(x),
    AutoGraphError,
    "break and return statements which depend on a tensor condition are not supported",
  );
  x.dispose();
});

Deno.test("AutoGraph: a free variable the converted code cannot see names itself and { scope }", () => {
  const e = assertThrows(() => convert(fx.sumBelow), AutoGraphError);
  assertStringIncludes(e.message, "'tf'");
  assertStringIncludes(e.message, "{ scope: { tf } }");
  assertStringIncludes(e.message, "{ autograph: false }");
});

Deno.test("OperatorNotAllowedInGraphError: without AutoGraph a symbolic tensor in a comparison, arithmetic or template string throws", () => {
  const x = tf.tensor([1, 2]);
  // deno-lint-ignore no-explicit-any
  const cases: ((t: any) => unknown)[] = [
    (t) => t > 0,
    (t) => t * 2,
    (t) => `${t}`,
  ];
  for (const body of cases) {
    const f = tfFunction(body as (t: tf.Tensor) => tf.Tensor, { autograph: false });
    assertThrows(() => f(x), OperatorNotAllowedInGraphError, "is not allowed in graph execution");
  }
  // The library's own messages still describe symbolic tensors.
  const g = new v1.Graph();
  const err = assertThrows(() =>
    g.asDefault(() => v1.add(v1.placeholder("float32", [2]), v1.placeholder("int32", [2])))
  );
  assertStringIncludes((err as Error).message, 'Tensor("Placeholder:0"');
  g.dispose();
  x.dispose();
});

Deno.test("AutoGraph: no tensor leaks across repeated calls, failing conversions included", () => {
  const f = traced(fx.sumRowsUntilLarge);
  const x = tf.tensor([[1, 2], [3, 4]]);
  run(f, x);
  const before = tf.memory().numTensors;
  for (let i = 0; i < 3; i++) run(f, x);
  assertEquals(tf.memory().numTensors, before);
  f.dispose();
  // A conversion that fails inside a cond or a loop frees the branch graphs it had built.
  const start = tf.memory().numTensors;
  for (const fn of [fx.oneBranchOnly, fx.dtypeChange, fx.shapeChange]) {
    const g = new v1.Graph();
    // (tidy frees the eager tensors the function itself makes, e.g. `tf.scalar(0)`.)
    tf.tidy(() => {
      assertThrows(() => g.asDefault(() => convert(fn, { scope })(v1.placeholder("float32", []))));
    });
    g.dispose();
  }
  assertEquals(tf.memory().numTensors, start);
  x.dispose();
});

// ---------------------------------------------------------------- the v1 ops AutoGraph adds

/** Builds `fn` on placeholders shaped like `inputs` and runs it in a session. */
function runGraph(
  inputs: number[][],
  fn: (...xs: v1.SymbolicTensor[]) => v1.SymbolicTensor[],
): number[][] {
  const g = new v1.Graph();
  const { ps, outs } = g.asDefault(() => {
    const ps = inputs.map((x, i) => v1.placeholder("float32", [x.length], `x${i}`));
    return { ps, outs: fn(...ps) };
  });
  const sess = new v1.Session(g);
  const got = sess.run(outs, new Map(ps.map((p, i) => [p, inputs[i]]))) as unknown[];
  sess.close();
  g.dispose();
  return got.map((v) => [v].flat().map(Number));
}

Deno.test("v1 comparison and logical ops (tf.math.less_equal, not_equal, logical_and...) match tf's", () => {
  const [a, b] = [[1, 2, 3], [2, 2, 2]];
  const got = runGraph([a, b], (x, y) => {
    const gt = v1.greater(x, y), le = v1.lessEqual(x, y);
    return [
      le,
      v1.greaterEqual(x, y),
      v1.notEqual(x, y),
      v1.logicalAnd(le, v1.notEqual(x, y)),
      v1.logicalOr(gt, v1.equal(x, y)),
      v1.logicalNot(gt),
    ];
  });
  const want = tf.tidy(() => {
    const [x, y] = [tf.tensor(a), tf.tensor(b)];
    return [
      tf.lessEqual(x, y),
      tf.greaterEqual(x, y),
      tf.notEqual(x, y),
      tf.logicalAnd(tf.lessEqual(x, y), tf.notEqual(x, y)),
      tf.logicalOr(tf.greater(x, y), tf.equal(x, y)),
      tf.logicalNot(tf.greater(x, y)),
    ].map(values);
  });
  assertEquals(got, want);
  const g = new v1.Graph();
  assertThrows(
    () => g.asDefault(() => v1.logicalAnd(v1.placeholder("float32", [1]), true)),
    v1.DTypeError,
    "LogicalAnd needs bool inputs",
  );
  g.dispose();
});

Deno.test("v1.floorMod: Python's % (sign of the divisor); gradient 1 and -floor(a / b) as TF's FloorMod", () => {
  const [a, b] = [[-7, 7, 5.5], [3, -3, 2]];
  const [mod, da, db] = runGraph([a, b], (x, y) => {
    const m = v1.floorMod(x, y);
    const [gx, gy] = v1.gradients(v1.reduceSum(m), [x, y]);
    return [m, gx!, gy!];
  });
  close(mod, a.map((x, i) => x - Math.floor(x / b[i]) * b[i]));
  close(mod, [2, -2, 1.5]);
  // Finite differences away from the jumps of floor.
  const h = 1e-2;
  const f = (x: number, y: number) => x - Math.floor(x / y) * y;
  close(da, a.map((x, i) => Number(((f(x + h, b[i]) - f(x - h, b[i])) / (2 * h)).toFixed(3))));
  close(db, b.map((y, i) => Number(((f(a[i], y + h) - f(a[i], y - h)) / (2 * h)).toFixed(3))));
});

Deno.test("v1.gather: one row of a tensor; its gradient is dy at that row and zeros elsewhere", () => {
  const g = new v1.Graph();
  const { x, row, dx } = g.asDefault(() => {
    const x = v1.placeholder("float32", [3, 2], "x");
    const row = v1.gather(x, v1.constant(1, "int32"));
    return { x, row, dx: v1.gradients(v1.reduceSum(v1.mul(row, [10, 20])), [x])[0]! };
  });
  assertEquals(row.shape, [2]);
  const sess = new v1.Session(g);
  const [r, d] = sess.run([row, dx], new Map([[x, [[1, 2], [3, 4], [5, 6]]]])) as number[][][];
  assertEquals(r, [3, 4] as unknown as number[][]);
  assertEquals(d, [[0, 0], [10, 20], [0, 0]]);
  sess.close();
  g.dispose();
});
