// State in traced functions, written from TensorFlow's guides "Introduction to graphs and
// tf.function", "Better performance with tf.function" and "Introduction to Variables".
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../lib/backend.ts";
import { tfFunction, VariableCreationError } from "../lib/function.ts";
import { GradientTape } from "../lib/tape.ts";
import { assignAdd, assignSub } from "../lib/variables.ts";
import * as v1 from "../lib/v1/mod.ts";

await initBackend();

const value = (t: unknown): number[] => Array.from((t as tf.Tensor).dataSync());

Deno.test("tf.function: a Variable assignAdd in a traced function runs at every call (TF2 automatic control dependencies)", () => {
  const v = tf.variable(tf.scalar(0));
  const inc = tfFunction(() => {
    assignAdd(v, 1);
    return v.add(0); // a read after the write sees it
  });
  const seen = [1, 2, 3].map(() => {
    const r = inc() as tf.Tensor;
    const x = r.dataSync()[0];
    r.dispose();
    return x;
  });
  assert.deepEqual(seen, [1, 2, 3]);
  assert.equal(v.dataSync()[0], 3);
  assert.equal(inc.traceCount, 1);
  const types = inc.concreteFunctions[0].graph.operations.map((op) => op.type);
  assert.ok(types.includes("AssignAddVariableOp"));
  inc.dispose();
  v.dispose();
});

Deno.test("tf.function: stateful ops run in program order; a read before a write sees the old value", () => {
  const v = tf.variable(tf.tensor([1, 2]));
  const f = tfFunction((x: tf.Tensor) => {
    const before = v.mul(1);
    v.assign(before.add(x)); // Variable.assign in a trace is an AssignVariableOp
    assignSub(v, x.mul(0.5)); // then v -= x/2
    const after = v.mul(1);
    return [before, after];
  });
  const x = tf.tensor([10, 20]);
  const [b1, a1] = f(x) as tf.Tensor[];
  const [b2, a2] = f(x) as tf.Tensor[];
  assert.deepEqual(value(b1), [1, 2]);
  assert.deepEqual(value(a1), [6, 12]);
  assert.deepEqual(value(b2), [6, 12]);
  assert.deepEqual(value(a2), [11, 22]);
  assert.deepEqual(value(v), [11, 22]);
  assert.equal(f.traceCount, 1);
  tf.dispose([x, b1, a1, b2, a2, v]);
  f.dispose();
});

Deno.test("tf.function: assign checks dtype and shape when the trace is built (as TF's assign)", () => {
  const v = tf.variable(tf.zeros([2]));
  const wrongShape = tfFunction((x: tf.Tensor) => v.assign(x) as unknown as tf.Tensor);
  const x3 = tf.ones([3]);
  assert.throws(() => wrongShape(x3), v1.ShapeError);
  const wrongDtype = tfFunction((x: tf.Tensor) => {
    assignAdd(v, x);
  });
  const xi = tf.tensor([1, 2], undefined, "int32");
  assert.throws(() => wrongDtype(xi), v1.DTypeError);
  tf.dispose([v, x3, xi]);
});

Deno.test("tf.function: closed-over Variables are read at every call, not baked in at trace time", () => {
  const w = tf.variable(tf.tensor([1, 2]));
  const f = tfFunction((x: tf.Tensor) => w.mul(x).sum()); // a method called on the variable
  const x = tf.tensor([1, 1]);
  const r1 = f(x);
  w.assign(tf.tensor([5, 5]));
  const r2 = f(x);
  assert.deepEqual([value(r1)[0], value(r2)[0]], [3, 10]);
  assert.equal(f.traceCount, 1);
  tf.dispose([w, x, r1, r2]);
  f.dispose();
});

function regression(
  makeOpt: () => tf.Optimizer,
  traced: boolean,
  steps: number,
): {
  w: number[];
  b: number[];
  losses: number[];
  traceCount: number;
  leaked: number;
  iterations: number;
} {
  const xs = tf.tensor([[1, 2], [2, 1], [3, 0], [0, 3], [1, 1]]);
  const ys = tf.tensor([[5], [4], [3], [6], [3]]); // y = x1 + 2 x2
  const w = tf.variable(tf.zeros([2, 1]));
  const b = tf.variable(tf.zeros([1]));
  const opt = makeOpt();
  const trainStep = (x: tf.Tensor, y: tf.Tensor) => {
    const tape = new GradientTape();
    const loss = tape.record(() => x.matMul(w).add(b).sub(y).square().mean());
    const [dw, db] = tape.gradient(loss, [w, b]);
    opt.applyGradients({ [w.name]: dw!, [b.name]: db! });
    if (!traced) tf.dispose([dw!, db!]);
    return loss;
  };
  const step = traced ? tfFunction(trainStep) : trainStep;
  const losses: number[] = [];
  let steady = 0;
  for (let i = 0; i < steps; i++) {
    const loss = step(xs, ys) as tf.Tensor;
    losses.push(loss.dataSync()[0]);
    loss.dispose();
    if (i === 1) steady = tf.memory().numTensors;
  }
  const leaked = tf.memory().numTensors - steady;
  const result = {
    w: value(w),
    b: value(b),
    losses,
    traceCount: traced ? (step as ReturnType<typeof tfFunction>).traceCount : 0,
    leaked,
    iterations: opt.iterations,
  };
  if (traced) (step as ReturnType<typeof tfFunction>).dispose();
  opt.dispose();
  tf.dispose([xs, ys, w, b]);
  return result;
}

for (
  const [label, make] of [
    ["SGD", () => tf.train.sgd(0.05)],
    ["Adam", () => tf.train.adam(0.1)],
    ["momentum", () => tf.train.momentum(0.02, 0.9)],
  ] as [string, () => tf.Optimizer][]
) {
  Deno.test(`tf.function: a traced train_step (GradientTape + applyGradients, ${label}) traces once (twice on the first call when it creates slot Variables) and trains exactly like the eager loop`, () => {
    const eager = regression(make, false, 40);
    const traced = regression(make, true, 40);
    // TF's experimental_get_tracing_count counts both traces of a first call that creates
    // Variables (Adam's and momentum's slots): one that creates them, one that may not.
    assert.equal(traced.traceCount, label === "SGD" ? 1 : 2);
    assert.equal(traced.leaked, 0, "memory flat across traced steps");
    eager.losses.forEach((l, i) => assert.ok(Math.abs(l - traced.losses[i]) <= 1e-5, `step ${i}`));
    [...eager.w, ...eager.b].forEach((p, i) =>
      assert.ok(Math.abs(p - [...traced.w, ...traced.b][i]) <= 1e-5)
    );
    assert.ok(traced.losses.at(-1)! < traced.losses[0] / 10, "it trains");
  });

  Deno.test(`tf.function: optimizer.iterations advances once per call of a traced train_step (${label}; TF: apply_gradients runs iterations.assign_add(1) in the graph)`, () => {
    const eager = regression(make, false, 7);
    const traced = regression(make, true, 7);
    assert.equal(eager.iterations, 7);
    assert.equal(traced.iterations, 7);
  });
}

Deno.test("tf.function: tape.gradient with respect to a captured Variable inside a trace (closed form 2·x²·w)", () => {
  const w = tf.variable(tf.scalar(3));
  const grad = tfFunction((x: tf.Tensor) => {
    const tape = new GradientTape();
    const y = tape.record(() => x.mul(w).square());
    return tape.gradient(y, w) as unknown as tf.Tensor;
  });
  for (const x of [2, -1, 0.5]) {
    const t = tf.scalar(x);
    const g = grad(t);
    assert.ok(Math.abs(g.dataSync()[0] - 2 * x * x * 3) < 1e-5);
    tf.dispose([t, g]);
  }
  assert.equal(grad.traceCount, 1);
  // An unwatched tensor gets null (TF's None), or zeros with unconnectedGradients "zero".
  const none = tfFunction((x: tf.Tensor) => {
    const tape = new GradientTape({ persistent: true });
    const y = tape.record(() => x.square());
    const a = tape.gradient(y, x as unknown as tf.Tensor);
    const b = tape.gradient(y, x as unknown as tf.Tensor, { unconnectedGradients: "zero" });
    tape.watch(x as unknown as tf.Tensor);
    return { a: a === null ? "None" : "tensor", b };
  });
  const x = tf.tensor([1, 2]);
  const r = none(x) as unknown as { a: string; b: tf.Tensor };
  assert.equal(r.a, "None");
  assert.deepEqual(value(r.b), [0, 0]);
  tf.dispose([w, x, r.b]);
});

Deno.test("tf.function: optimizer.minimize inside a traced function updates at every call", () => {
  const w = tf.variable(tf.scalar(0));
  const opt = tf.train.sgd(0.1);
  const step = tfFunction(() => opt.minimize(() => w.sub(3).square() as tf.Scalar, true)!);
  for (let i = 0; i < 60; i++) step().dispose();
  assert.ok(Math.abs(w.dataSync()[0] - 3) < 1e-3);
  assert.equal(step.traceCount, 1);
  step.dispose();
  opt.dispose();
  w.dispose();
});

Deno.test("tf.function: a Variable created on the first trace is fine; creating one on a retrace raises (singleton tf.Variables)", () => {
  let v: tf.Variable | undefined;
  const ok = tfFunction((x: tf.Tensor) => {
    v ??= tf.variable(tf.scalar(2)); // created once, on the first call, as TF's guide recommends
    return x.mul(v);
  });
  const a = tf.tensor([1, 2]), b = tf.tensor([1, 2, 3]);
  tf.dispose([ok(a), ok(b)]);
  assert.equal(ok.traceCount, 3); // the first call traces twice (creating, then not), as TF

  // A Variable created at every call: TF's second trace of the first call creates one again.
  const bad = tfFunction((x: tf.Tensor) => x.mul(tf.variable(tf.scalar(2))));
  const vars = Object.keys(tf.engine().registeredVariables).length;
  const before = tf.memory().numTensors;
  for (const x of [a, b]) {
    assert.throws(
      () => bad(x),
      (e: Error) =>
        e instanceof VariableCreationError && e instanceof v1.GraphError &&
        /singleton tf\.Variables created on the first call/.test(e.message),
    );
  }
  assert.equal(Object.keys(tf.engine().registeredVariables).length, vars);
  assert.equal(tf.memory().numTensors, before);
  tf.dispose([a, b, v!]);
  ok.dispose();
  bad.dispose();
});

Deno.test("tf.function: a failed trace leaves no tensors (tf.memory flat across repeated failing calls)", () => {
  const c = tf.tensor([1, 2, 3]);
  const f = tfFunction((x: tf.Tensor) => {
    const y = x.add(c).mul(tf.scalar(2)); // constants made, then a shape error
    return v1.matMul(y, tf.ones([4, 4]));
  });
  const x = tf.tensor([[1, 2, 3]]);
  assert.throws(() => f(x), v1.ShapeError);
  const before = tf.memory().numTensors;
  for (let i = 0; i < 20; i++) assert.throws(() => f(x), v1.ShapeError);
  assert.equal(tf.memory().numTensors, before);
  tf.dispose([c, x]);
});

Deno.test("tf.function: a step that returns nothing runs for its side effects (returns undefined)", () => {
  const v = tf.variable(tf.zeros([2]));
  const f = tfFunction((x: tf.Tensor) => {
    assignAdd(v, x);
  });
  const x = tf.tensor([1, 2]);
  assert.equal(f(x), undefined);
  f(x);
  assert.deepEqual(value(v), [2, 4]);
  tf.dispose([v, x]);
});

Deno.test("tf.function: a closed-over tf.Tensor used as the receiver (c.mul(x)) becomes a constant of the trace", () => {
  const c = tf.tensor([1, 2]);
  const f = tfFunction((x: tf.Tensor) => c.mul(x).add(c));
  const x = tf.tensor([3, 4]);
  const r = f(x);
  assert.deepEqual(value(r), [4, 10]);
  const types = f.concreteFunctions[0].graph.operations.map((op) => op.type);
  assert.ok(types.includes("Const") && types.includes("Mul"));
  tf.dispose([c, x, r]);
  f.dispose();
});

Deno.test("tf.function: a Variable updated inside a cond branch is ordered with the updates and reads around it", () => {
  const v = tf.variable(tf.scalar(0));
  const f = tfFunction((x: tf.Tensor) => {
    assignAdd(v, 1);
    const r = v1.cond(v1.greater(x, 0), () => {
      assignAdd(v, 10);
      return v.mul(1);
    }, () => v.mul(-1));
    return [r, v.mul(1)];
  });
  const seen = [1, -1, 1].map((k) => {
    const x = tf.scalar(k);
    const out = f(x) as tf.Tensor[];
    const vals = out.map((t) => t.dataSync()[0]);
    tf.dispose([x, ...out]);
    return vals;
  });
  assert.deepEqual(seen, [[11, 11], [-12, 12], [23, 23]]);
  assert.equal(f.traceCount, 1);
  v.dispose();
  f.dispose();
});

Deno.test("tf.function API doc: v.assign_add(i) in a loop over tf.range(x) runs at every iteration of every call", () => {
  // `for i in tf.range(x): v.assign_add(i)` is what AutoGraph makes a whileLoop of.
  const v = tf.variable(tf.scalar(1, "int32"));
  const f = tfFunction((x: tf.Tensor) => {
    v1.whileLoop((i) => v1.less(i, x), (i) => {
      assignAdd(v, i);
      return v1.add(i, 1);
    }, [v1.constant(0, "int32")]);
  });
  const x = tf.scalar(3, "int32");
  f(x);
  assert.equal(v.dataSync()[0], 4); // the doc's result
  f(x);
  assert.equal(v.dataSync()[0], 7);
  assert.equal(f.traceCount, 1);
  tf.dispose([v, x]);
  f.dispose();
});
