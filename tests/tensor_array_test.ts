// tf.TensorArray, from its API doc (the three examples, the arguments, the methods) and TF's
// implementation of it (eager: `_EagerTensorArray`; in tf.function: `_GraphTensorArrayV2`, the
// TensorList ops), eagerly and inside traced functions, gradients included.
// deno-lint-ignore-file no-explicit-any
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../lib/backend.ts";
import { TensorArray, TensorArrayError } from "../lib/tensor_array.ts";
import { TensorSpec, tfFunction } from "../lib/function.ts";
import { range } from "../lib/autograph/mod.ts";
import { GradientTape } from "../lib/tape.ts";
import { gradientCheck, hessianVectorCheck } from "../lib/gradient_check.ts";
import { assignAdd } from "../lib/variables.ts";
import * as v1 from "../lib/v1/mod.ts";
import { opTypesOf as opTypes, throwsWith, value } from "./_graph_ops.ts";

await initBackend();

const int = (n: number) => tf.scalar(n, "int32");

// ---------------------------------------------------------------- eager

Deno.test('tf.TensorArray API doc, Example 1 "Plain reading and writing" (eager): write returns the array, read gives each value, stack gives [10, 20, 30]', () => {
  const before = tf.memory().numTensors;
  tf.tidy(() => {
    let ta = new TensorArray("float32", { size: 0, dynamicSize: true, clearAfterRead: false });
    const same = ta;
    ta = ta.write(0, 10);
    ta = ta.write(1, 20);
    ta = ta.write(2, 30);
    assert.equal(ta, same, "eagerly, write updates the array and returns it");
    assert.deepEqual([ta.read(0), ta.read(1), ta.read(2)].map(value), [[10], [20], [30]]);
    assert.deepEqual(ta.read(0).shape, []);
    const s = ta.stack();
    assert.deepEqual([s.shape, value(s)], [[3], [10, 20, 30]]);
    assert.equal(ta.dtype, "float32");
    assert.equal(ta.dynamicSize, true);
    assert.deepEqual(ta.elementShape, []);
    assert.deepEqual(value(ta.size()), [3]);
  });
  assert.equal(tf.memory().numTensors, before);
});

Deno.test("tf.TensorArray (eager): an index past size without dynamic_size, a negative index, a wrong dtype and an element of another shape raise TF's errors; size is required", () => {
  const [x, ints, three] = [
    tf.tensor([1, 2]),
    tf.tensor([1, 2], undefined, "int32"),
    tf.tensor([1, 2, 3]),
  ];
  const before = tf.memory().numTensors;
  const ta = new TensorArray("float32", { size: 2 });
  throwsWith(
    () => ta.write(2, x),
    TensorArrayError,
    /Tried to write to index 2 but array is not resizeable and size is: 2/,
  );
  throwsWith(() => ta.write(-1, x), TensorArrayError, /Writing to negative indices \(index -1\)/);
  throwsWith(
    () => ta.write(0, ints),
    TensorArrayError,
    /TensorArray dtype is float32 but Op is trying to write dtype int32/,
  );
  ta.write(0, x);
  assert.deepEqual(ta.elementShape, [2], "the element shape is inferred from the first write");
  throwsWith(
    () => ta.write(1, three),
    TensorArrayError,
    /Incompatible shape for value \(3,\), expected \(2,\)/,
  );
  throwsWith(() => ta.read(2), TensorArrayError, /Tried to read from index 2 but array size is: 2/);
  throwsWith(() => new TensorArray("float32"), TensorArrayError, /size must be given/);
  throwsWith(
    () => new TensorArray("float32", { size: 1 }).unstack([1, 2]),
    TensorArrayError,
    /Cannot unstack 2 tensors into a TensorArray of static size 1/,
  );
  const fixed = new TensorArray("float32", { size: 1, elementShape: [3] });
  throwsWith(() => fixed.write(0, x), TensorArrayError, /expected \(3,\)/);
  throwsWith(() => ta.write(5, [1, 2]), TensorArrayError, /not resizeable/);
  throwsWith(() => ta.write(1, [1, 2, 3]), TensorArrayError, /Incompatible shape/);
  ta.close();
  fixed.close();
  assert.equal(tf.memory().numTensors, before, "failed calls keep no tensor");
  tf.dispose([x, ints, three]);
});

Deno.test('tf.TensorArray (eager): clear_after_read (default True) clears an element when read, so a second read raises TF\'s "Could not read index 0 twice"; with clear_after_read=False it reads again', () => {
  const x = tf.scalar(5);
  const cleared = new TensorArray("float32", { size: 1 }).write(0, x);
  assert.equal(cleared.read(0), x, "the element is the tensor written");
  throwsWith(
    () => cleared.read(0),
    TensorArrayError,
    /Could not read index 0 twice because it was cleared/,
  );
  const kept = new TensorArray("float32", { size: 1, clearAfterRead: false }).write(0, x);
  assert.deepEqual([value(kept.read(0)), value(kept.read(0))], [[5], [5]]);
  x.dispose();
});

Deno.test("tf.TensorArray (eager): elements never written read, stack and gather as zeros when the element shape is fully known (TF's _maybe_zero), and raise when it is not", () => {
  const before = tf.memory().numTensors;
  const ta = new TensorArray("float32", { size: 3, elementShape: [2], clearAfterRead: false });
  ta.write(1, [1, 2]);
  assert.deepEqual(value(ta.read(0)), [0, 0]);
  const s = ta.stack();
  assert.deepEqual([s.shape, value(s)], [[3, 2], [0, 0, 1, 2, 0, 0]]);
  const g = ta.gather([2, 1]);
  assert.deepEqual(value(g), [0, 0, 1, 2]);
  const unknown = new TensorArray("float32", { size: 2, elementShape: [null] });
  throwsWith(() => unknown.read(0), TensorArrayError, /never written.*not fully known/);
  const empty = new TensorArray("float32", { size: 0, elementShape: [4] }).stack();
  assert.deepEqual(empty.shape, [0, 4], "an empty array stacks to shape (0, 4)");
  tf.dispose([s, g, empty]);
  ta.close(); // frees the zeros and the [1, 2] it made
  assert.equal(tf.memory().numTensors, before);
});

Deno.test("tf.TensorArray (eager): unstack, scatter, gather, concat and size; an index written twice keeps the last value", () => {
  tf.tidy(() => {
    const ta = new TensorArray("float32", { size: 0, dynamicSize: true, clearAfterRead: false });
    ta.unstack(tf.tensor2d([[1, 2], [3, 4]]));
    ta.scatter([3, 2], tf.tensor2d([[7, 8], [5, 6]]));
    assert.deepEqual(value(ta.size()), [4]);
    ta.write(3, [9, 9]); // eagerly too, an element may be written again
    ta.write(3, [7, 8]);
    assert.deepEqual(value(ta.stack()), [1, 2, 3, 4, 5, 6, 7, 8]);
    assert.deepEqual(value(ta.gather(tf.tensor1d([3, 0], "int32"))), [7, 8, 1, 2]);
    const c = ta.concat();
    assert.deepEqual([c.shape, value(c)], [[8], [1, 2, 3, 4, 5, 6, 7, 8]]);
    const scalars = new TensorArray("float32", { size: 1 }).write(0, 1);
    throwsWith(() => scalars.concat(), TensorArrayError, /Concat saw a scalar shape at index 0/);
  });
});

Deno.test("tf.TensorArray (eager) with GradientTape: gradients flow through write, read and stack (the guide's RNN step, eagerly), matching finite differences", () => {
  const rnnStep = (inp: tf.Tensor, state: tf.Tensor) => tf.tanh(tf.add(inp, tf.mul(state, state)));
  const x = tf.randomNormal([3, 2], 0, 1, "float32", 1);
  const s0 = tf.randomNormal([2], 0, 0.5, "float32", 2);
  const w = tf.randomNormal([3, 2], 0, 1, "float32", 3);
  const f = (x: tf.Tensor, s0: tf.Tensor) => {
    const inputs = new TensorArray("float32", { size: 3 }).unstack(x);
    const states = new TensorArray("float32", { size: 3, clearAfterRead: false });
    let state = s0;
    for (let i = 0; i < 3; i++) {
      state = rnnStep(inputs.read(i), state);
      states.write(i, state);
    }
    return tf.add(tf.sum(tf.mul(states.stack(), w)), tf.sum(states.read(1)));
  };
  const before = tf.memory().numTensors;
  const r = gradientCheck((a, b) => tf.tidy(() => f(a, b)), [x, s0]);
  assert.ok(r.ok, r.toString());
  assert.equal(tf.memory().numTensors, before);
  tf.dispose([x, s0, w]);
});

// ---------------------------------------------------------------- traced

Deno.test('tf.TensorArray API doc, Example 2 "Fibonacci sequence" in tf.function: writes in a loop over range(2, n) then stack; a number n unrolls, a tensor n is one While op; clear_after_read is ignored (read twice)', () => {
  const fibonacci = tfFunction((n: any) => {
    let ta = new TensorArray("float32", { size: 0, dynamicSize: true });
    ta = ta.unstack([0, 1]);
    for (const i of range(2, n)) {
      ta = ta.write(i, (ta.read(i - 1) as any) + ta.read(i - 2));
    }
    return ta.stack();
  }, { scope: { TensorArray, range } });
  const a = fibonacci(7);
  assert.deepEqual([a.shape, value(a)], [[7], [0, 1, 1, 2, 3, 5, 8]]);
  assert.ok(!opTypes(fibonacci, 0).some((t) => t.endsWith("While")), "a number n unrolls");
  const seven = int(7);
  const b = fibonacci(seven);
  assert.deepEqual(value(b), [0, 1, 1, 2, 3, 5, 8]);
  assert.ok(opTypes(fibonacci, 1).includes("StatelessWhile"), "a tensor n is a graph loop");
  const out = fibonacci.concreteFunctions[1].graph.outputs[0];
  assert.deepEqual(out.shape, [null], "the number of elements is unknown when traced");
  const ten = int(10);
  const c = fibonacci(ten);
  assert.deepEqual(value(c), [0, 1, 1, 2, 3, 5, 8, 13, 21, 34]);
  assert.equal(fibonacci.traceCount, 2);
  tf.dispose([a, b, c, seven, ten]);
  fibonacci.dispose();
});

Deno.test('tf.TensorArray API doc, Example 3 "A simple loop interacting with a tf.Variable": v.assign_add(i) then ta.write(i, v) in a tf.range loop gives [1, 2, 4, 7, 11]', () => {
  const v = tf.variable(int(1));
  const f = tfFunction((x: any) => {
    let ta = new TensorArray("int32", { size: 0, dynamicSize: true });
    for (const i of range(x)) {
      assignAdd(v, i);
      ta = ta.write(i, v);
    }
    return ta.stack();
  }, { scope: { TensorArray, range, assignAdd, v } });
  const five = int(5);
  const r = f(five);
  assert.deepEqual(value(r), [1, 2, 4, 7, 11]);
  assert.deepEqual(value(v), [11]);
  tf.dispose([v, five, r]);
  f.dispose();
});

Deno.test("tf.TensorArray in tf.function: a write in a loop that is not known to end in range (a while loop) grows a dynamic_size array; a fixed size keeps a known leading dimension; unwritten elements stack as zeros", () => {
  const grow = tfFunction((x: any) => {
    let ta = new TensorArray("float32", { size: 0, dynamicSize: true });
    let i: any = tf.scalar(0, "int32");
    while (x > 1) {
      ta = ta.write(i, x);
      x = x / 2;
      i = i + 1;
    }
    return ta.stack();
  }, { scope: { TensorArray, tf } });
  const eight = tf.scalar(8);
  const a = grow(eight);
  assert.deepEqual(value(a), [8, 4, 2]);
  const fixed = tfFunction((x: any) => {
    let ta = new TensorArray("float32", { size: 4 });
    for (const i of range(tf.scalar(1, "int32"), x.shape[0] as any)) {
      ta = ta.write(i, tf.gather(x, i));
    }
    return ta.stack();
  }, { scope: { TensorArray, range, tf } });
  const x = tf.tensor2d([[1, 2], [3, 4], [5, 6]]);
  const b = fixed(x);
  assert.deepEqual([b.shape, value(b)], [[4, 2], [0, 0, 3, 4, 5, 6, 0, 0]]);
  assert.deepEqual(fixed.concreteFunctions[0].graph.outputs[0].shape, [4, 2]);
  tf.dispose([eight, a, x, b]);
  [grow, fixed].forEach((f) => f.dispose());
});

Deno.test("tf.TensorArray in tf.function: nested tf.range loops, the inner array stacked into the outer one, give an (n, m) tensor of unknown shape when traced", () => {
  const f = tfFunction((n: any, m: any) => {
    let rows = new TensorArray("float32", { size: 0, dynamicSize: true });
    for (const i of range(n)) {
      let row = new TensorArray("float32", { size: m, elementShape: [] });
      for (const j of range(m)) row = row.write(j, tf.cast(i * 10 + j, "float32"));
      rows = rows.write(i, row.stack());
    }
    return rows.stack();
  }, { scope: { TensorArray, range, tf } });
  const [two, three] = [int(2), int(3)];
  const r = f(two, three);
  assert.deepEqual([r.shape, value(r)], [[2, 3], [0, 1, 2, 10, 11, 12]]);
  assert.deepEqual(f.concreteFunctions[0].graph.outputs[0].shape, [null, null]);
  tf.dispose([two, three, r]);
  f.dispose();
});

Deno.test("tf.TensorArray in tf.function: elements whose shape is partly unknown when traced (input_signature [3, None]) are written in a While loop, run with any width, and differentiate", () => {
  const f = tfFunction((x: any) => {
    const xs = new TensorArray("float32", { size: 3 }).unstack(x);
    let ta = new TensorArray("float32", { size: 3 });
    let s: any = tf.zerosLike(xs.read(0));
    for (const i of range(v1.constant(3, "int32"))) {
      s = tf.sin(s) + xs.read(i);
      ta = ta.write(i, s);
    }
    return ta.stack();
  }, { scope: { TensorArray, range, tf, v1 }, inputSignature: [new TensorSpec([3, null])] });
  assert.deepEqual(f.getConcreteFunction().outputs[0].shape, [3, null]);
  const [wide, narrow] = [tf.tensor2d([[1, 2], [3, 4], [5, 6]]), tf.tensor2d([[1], [3], [5]])];
  const [a, b] = [f(wide), f(narrow)];
  // s_0 = x_0, s_i = sin(s_{i-1}) + x_i, one column at a time
  const s1 = Math.sin(1) + 3;
  const expected = [1, s1, Math.sin(s1) + 5];
  assert.deepEqual(a.shape, [3, 2]);
  assert.deepEqual(b.shape, [3, 1]);
  value(b).forEach((v, i) => assert.ok(Math.abs(v - expected[i]) < 1e-5, `element ${i}`));
  assert.ok(opTypes(f).includes("StatelessWhile")); // TensorList ops are stateless, as in TF2
  const x = tf.tensor2d([[0.1, 0.2], [0.3, -0.4], [0.5, 0.6]]);
  const r = gradientCheck((x) => tf.sum(tf.square(f(x))), [x]);
  assert.ok(r.ok, r.toString());
  tf.dispose([wide, narrow, a, b, x]);
  f.dispose();
});

Deno.test("tf.TensorArray in tf.function: an element of another shape or dtype raises when traced (TF's \"Inconsistent shapes\"/dtype errors); a write past a fixed size raises when the function runs (TF's TensorListSetItem error), keeping no tensor", () => {
  const shapes = tfFunction((x: any) => {
    let ta = new TensorArray("float32", { size: 2 });
    ta = ta.write(0, x);
    return ta.write(1, tf.concat([x, x])).stack();
  }, { scope: { TensorArray, tf } });
  const dtypes = tfFunction((x: any) => {
    const ta = new TensorArray("int32", { size: 2 });
    return ta.write(0, x).stack();
  }, { scope: { TensorArray } });
  const past = tfFunction((n: any) => {
    let ta = new TensorArray("float32", { size: 2 });
    for (const i of range(n)) ta = ta.write(i, tf.cast(i, "float32"));
    return ta.stack();
  }, { scope: { TensorArray, range, tf } });
  const x = tf.tensor([1, 2]);
  throwsWith(
    () => shapes(x),
    TensorArrayError,
    /Inconsistent shapes: saw \(4,\) but expected \(2,\)/,
  );
  throwsWith(
    () => dtypes(x),
    TensorArrayError,
    /dtype is int32 but Op is trying to write dtype float32/,
  );
  const [two, three] = [int(2), int(3)];
  const ok = past(two);
  assert.deepEqual(value(ok), [0, 1]);
  ok.dispose();
  const before = tf.memory().numTensors;
  for (let k = 0; k < 3; k++) {
    throwsWith(
      () => past(three),
      TensorArrayError,
      /Trying to modify element 2 in a list with 2 elements/,
    );
    tf.dispose(past(two));
  }
  assert.equal(tf.memory().numTensors, before, "failing calls keep no tensor");
  tf.dispose([x, two, three]);
  [shapes, dtypes, past].forEach((f) => f.dispose());
});

Deno.test("tf.TensorArray in tf.function: written in both branches of a tensor if, read, gathered, concatenated and sized in the graph", () => {
  const f = tfFunction((x: any) => {
    let ta = new TensorArray("float32", { size: 2, elementShape: [2] });
    if ((tf.sum(x) as any) > 0) {
      ta = ta.write(0, x);
    } else {
      ta = ta.write(0, -x);
    }
    ta = ta.write(1, x * 10);
    ta = ta.write(1, x * 2); // TF2 traced arrays may overwrite
    return [ta.read(0), ta.gather([1, 0]), ta.concat(), ta.size()];
  }, { scope: { TensorArray, tf } });
  const [pos, neg] = [tf.tensor([1, 2]), tf.tensor([-1, -2])];
  const a = f(pos) as tf.Tensor[];
  const b = f(neg) as tf.Tensor[];
  assert.deepEqual(a.map(value), [[1, 2], [2, 4, 1, 2], [1, 2, 2, 4], [2]]);
  assert.deepEqual(value(b[0]), [1, 2]);
  assert.equal(f.traceCount, 1);
  assert.ok(opTypes(f).includes("StatelessIf"));
  // Written in the else branch only, before any write gave the element shape: the branch is
  // traced once more first to learn it.
  const g = tfFunction((x: any) => {
    let ta = new TensorArray("float32", { size: 2 });
    if ((tf.sum(x) as any) > 0) {
      ta = ta.write(0, x);
    } else {
      ta = ta.write(1, x);
    }
    return ta.stack();
  }, { scope: { TensorArray, tf } });
  const [c, d] = [g(pos), g(neg)];
  assert.deepEqual([value(c), value(d)], [[1, 2, 0, 0], [0, 0, -1, -2]]);
  tf.dispose([pos, neg, ...a, ...b, c, d]);
  [f, g].forEach((fn) => fn.dispose());
});

Deno.test("tf.TensorArray in tf.function: gradients through write/read/stack in a While loop (the guide's dynamic_rnn with a nonlinear step) match finite differences, with the tape outside the call and inside a calling trace", () => {
  const rnnStep = (inp: any, state: any) => tf.tanh(tf.add(tf.mul(inp, 0.5), tf.mul(state, state)));
  const dynamicRnn = (inputData: any, initialState: any) => {
    inputData = tf.transpose(inputData, [1, 0, 2]);
    const maxSeqLen = inputData.shape[0];
    // TF's own dynamic_rnn reads its inputs from a TensorArray too (tfjs's eager gather has
    // no gradient on WASM, which the While loop's gradient runs).
    const inputs = new TensorArray("float32", { size: maxSeqLen }).unstack(inputData);
    let states = new TensorArray("float32", { size: maxSeqLen });
    let state = initialState;
    for (const i of range(v1.constant(maxSeqLen, "int32"))) {
      state = rnnStep(inputs.read(i), state);
      states = states.write(i, state);
    }
    return tf.transpose(states.stack(), [1, 0, 2]);
  };
  const scope = { tf, TensorArray, range, rnnStep, v1 };
  const traced = tfFunction(dynamicRnn, { scope });
  const x = tf.randomNormal([2, 3, 4], 0, 1, "float32", 1);
  const s0 = tf.randomNormal([2, 4], 0, 0.5, "float32", 2);
  const w = tf.randomNormal([2, 3, 4], 0, 1, "float32", 3);
  tf.dispose(traced(x, s0)); // the trace keeps its constants
  const before = tf.memory().numTensors;
  const r = gradientCheck((a, b) => tf.sum(tf.mul(traced(a, b), w)), [x, s0]);
  assert.ok(r.ok, r.toString());
  assert.ok(opTypes(traced).includes("StatelessWhile"));
  assert.equal(tf.memory().numTensors, before);
  // The tape inside the trace gives the same gradients.
  const inside = tfFunction((a: any, b: any) => {
    const tape = new GradientTape();
    tape.watch([a, b]);
    const y = tape.record(() => tf.sum(tf.mul(traced(a, b), w)));
    return tape.gradient(y, [a, b]);
  }, { scope: { tf, w, GradientTape, traced } });
  const tape = new GradientTape();
  tape.watch([x, s0]);
  const y = tape.record(() => tf.sum(tf.mul(traced(x, s0), w)));
  const outside = tape.gradient(y, [x, s0]) as tf.Tensor[];
  const got = inside(x, s0) as tf.Tensor[];
  got.forEach((g, k) => {
    const diff = tf.max(tf.abs(tf.sub(g, outside[k])));
    assert.ok(value(diff)[0] < 1e-5, `gradient ${k}`);
    diff.dispose();
  });
  tf.dispose([x, s0, w, y, ...outside, ...got]);
  tape.dispose();
  [traced, inside].forEach((f) => f.dispose());
});

Deno.test("tf.TensorArray in tf.function: a dynamic_size array read inside its own loop (x_i = sin(x_{i-1}) * v) differentiates to v, matching finite differences", () => {
  const f = tfFunction((v: any, n: any) => {
    let ta = new TensorArray("float32", { size: 0, dynamicSize: true });
    ta = ta.write(0, v);
    for (const i of range(1, n)) ta = ta.write(i, (tf.sin(ta.read(i - 1)) as any) * v);
    return ta.stack();
  }, { scope: { TensorArray, range, tf } });
  const v = tf.tensor([0.3, -0.7]);
  const n = int(4);
  const r = gradientCheck((a) => tf.sum(tf.square(f(a, n))), [v]);
  assert.ok(r.ok, r.toString());
  tf.dispose([v, n]);
  f.dispose();
});

Deno.test("tf.TensorArray in tf.function: second derivatives through write, read and stack (the TensorList ops' gradients are TensorList ops) match finite differences of the gradient", () => {
  const f = tfFunction((x: any) => {
    let ta = new TensorArray("float32", { size: 3 });
    ta = ta.write(0, tf.tanh(x));
    ta = ta.write(2, tf.mul(ta.read(0), x));
    return tf.sum(tf.square(ta.stack()));
  }, { scope: { TensorArray, tf } });
  const x = tf.tensor([0.4, -0.9, 1.3]);
  const r = hessianVectorCheck((a) => f(a), [x]);
  assert.ok(r.ok, r.toString());
  x.dispose();
  f.dispose();
});

Deno.test("tf.TensorArray in tf.function: an array of a trace used after the trace (returned from the function) raises InaccessibleTensorError, as a graph tensor kept outside does", () => {
  const f = tfFunction((x: any) => new TensorArray("float32", { size: 1 }).write(0, x), {
    scope: { TensorArray },
  });
  const x = tf.scalar(1);
  const ta = f(x) as unknown as TensorArray;
  throwsWith(() => ta.stack(), v1.InaccessibleTensorError, /cannot be used outside it/);
  x.dispose();
  f.dispose();
});

Deno.test("tf.TensorArray: repeated calls keep tf.memory().numTensors flat, eager and traced, failing calls included", () => {
  const traced = tfFunction((n: any) => {
    let ta = new TensorArray("float32", { size: 0, dynamicSize: true });
    for (const i of range(n)) ta = ta.write(i, tf.mul(tf.ones([2]), tf.cast(i, "float32")));
    return ta.stack();
  }, { scope: { TensorArray, range, tf } });
  const n = int(3);
  const eager = () =>
    tf.tidy(() => {
      const ta = new TensorArray("float32", { size: 2, elementShape: [2] });
      ta.write(0, [1, 2]);
      return ta.stack();
    });
  tf.dispose([traced(n), eager()]); // warm up: the first trace keeps its constants
  const before = tf.memory().numTensors;
  for (let k = 0; k < 3; k++) {
    tf.dispose([traced(n), eager()]);
    throwsWith(
      () => tf.tidy(() => void new TensorArray("float32", { size: 1 }).write(0, [1]).write(1, [2])),
      TensorArrayError,
      /not resizeable/,
    );
  }
  assert.equal(tf.memory().numTensors, before);
  n.dispose();
  traced.dispose();
});
