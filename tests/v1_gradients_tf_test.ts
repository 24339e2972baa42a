/**
 * `v1.gradients` as TensorFlow's `tf.compat.v1.gradients` behaves: through
 * `cond` and `while_loop` (TF differentiates both), with run-time shapes when
 * static dimensions are unknown, `None` where TF gives None, `stop_gradient`,
 * TF's values at ties and at 0, and graphs too deep for recursion.
 */
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../lib/backend.ts";
import { GradientTape } from "../lib/tape.ts";
import * as v1 from "../lib/v1/mod.ts";

await initBackend();

type G = v1.SymbolicTensor;

function close(actual: unknown, expected: ArrayLike<number>, what: string, tol = 1e-3): void {
  const a = [actual].flat(4) as number[];
  assert.equal(a.length, expected.length, `${what}: length`);
  a.forEach((x, i) =>
    assert.ok(
      Math.abs(x - expected[i]) <= tol * Math.max(1, Math.abs(expected[i])),
      `${what}[${i}]: ${x} vs ${expected[i]}`,
    )
  );
}

/** Builds a graph, runs `fetch` with `feeds`, frees everything. */
function runGraph(
  build: () => { fetch: G[]; feeds: [G, v1.FeedValue][] },
): unknown[] {
  const g = new v1.Graph();
  const { fetch, feeds } = g.asDefault(build);
  const sess = new v1.Session(g);
  try {
    return sess.run(fetch, new Map(feeds)) as unknown[];
  } finally {
    sess.close();
    g.dispose();
  }
}

/** Central differences of a scalar JS function of a vector. */
function numeric(f: (x: number[]) => number, x: number[], h = 1e-2): number[] {
  return x.map((_, i) => {
    const p = [...x], m = [...x];
    p[i] += h;
    m[i] -= h;
    return (f(p) - f(m)) / (2 * h);
  });
}

Deno.test("tf.gradients through tf.cond: only the taken branch's gradient (6x for x > 0, eˣ otherwise)", () => {
  const before = tf.memory().numTensors;
  for (const at of [2, -1]) {
    const [y, dy] = runGraph(() => {
      const x = v1.placeholder("float32", [], "x");
      const y = v1.cond(
        v1.greater(x, 0),
        () => v1.mul(v1.square(x), 3),
        () => v1.exp(x),
      );
      const [dx] = v1.gradients(y, x);
      assert.ok(dx !== null);
      return { fetch: [y, dx!], feeds: [[x, at]] };
    }) as number[];
    close(y, [at > 0 ? 3 * at * at : Math.exp(at)], "y");
    close(dy, [at > 0 ? 6 * at : Math.exp(at)], `dy/dx at ${at}`);
  }
  assert.equal(tf.memory().numTensors, before, "no tensors left behind");
});

Deno.test("tf.gradients through tf.cond with list outputs and captured tensors matches the eager tape", () => {
  const xv = [[0.5, -1.2], [2, 0.3]];
  const wv = [[1, -0.5], [0.25, 2]];
  for (const flag of [true, false]) {
    const got = runGraph(() => {
      const x = v1.placeholder("float32", [2, 2], "x");
      const w = v1.placeholder("float32", [2, 2], "w");
      const p = v1.placeholder("bool", [], "p");
      const [a, b] = v1.cond(
        p,
        () => [v1.tanh(v1.matMul(x, w)), v1.reduceSum(v1.square(w))],
        () => [v1.sigmoid(x), v1.constant(1)],
      );
      const loss = v1.add(v1.reduceSum(v1.mul(a, a)), b);
      const grads = v1.gradients(loss, [x, w]).map((d) => d!);
      return { fetch: grads, feeds: [[x, xv], [w, wv], [p, flag]] };
    });
    const x = tf.tensor2d(xv), w = tf.tensor2d(wv);
    const tape = new GradientTape();
    tape.watch([x, w]);
    const loss = tape.record(() => {
      const [a, b] = flag
        ? [tf.tanh(x.matMul(w)), w.square().sum()]
        : [tf.sigmoid(x), tf.scalar(1)];
      return a.mul(a).sum().add(b);
    });
    const want = tape.gradient(loss, [x, w], { unconnectedGradients: "zero" });
    close(got[0], want[0].dataSync(), `d/dx (${flag})`);
    close(got[1], want[1].dataSync(), `d/dw (${flag})`);
    tf.dispose([x, w, loss, ...want]);
  }
});

Deno.test("tf.gradients through tf.while_loop: repeated squaring x^(2^3) gives 8x^7", () => {
  const before = tf.memory().numTensors;
  const [y, dx] = runGraph(() => {
    const x = v1.placeholder("float32", [], "x");
    const [, v] = v1.whileLoop(
      (i) => v1.less(i, 3),
      (i, v) => [v1.add(i, 1), v1.mul(v, v)],
      [v1.constant(0, "int32"), x],
    );
    const [d] = v1.gradients(v, x);
    return { fetch: [v, d!], feeds: [[x, 1.1]] };
  }) as number[];
  close(y, [1.1 ** 8], "x^8");
  close(dx, [8 * 1.1 ** 7], "8x^7");
  assert.equal(tf.memory().numTensors, before, "no tensors left behind");
});

Deno.test("tf.gradients through tf.while_loop (an RNN-like loop with a captured weight) matches the unrolled eager computation and finite differences", () => {
  const wv = [[0.4, -0.3], [0.2, 0.5]];
  const h0v = [[0.1, -0.7]];
  const uv = [[0.3, 0.1]];
  const steps = 4;
  const got = runGraph(() => {
    const w = v1.placeholder("float32", [2, 2], "w");
    const h0 = v1.placeholder("float32", [1, 2], "h0");
    const u = v1.placeholder("float32", [1, 2], "u");
    const [, h] = v1.whileLoop(
      (i) => v1.less(i, steps),
      (i, h) => [v1.add(i, 1), v1.tanh(v1.add(v1.matMul(h, w), u))],
      [v1.constant(0, "int32"), h0],
    );
    const loss = v1.reduceSum(v1.square(h));
    const grads = v1.gradients(loss, [w, h0, u]).map((d) => d!);
    return { fetch: [loss, ...grads], feeds: [[w, wv], [h0, h0v], [u, uv]] };
  });
  // The same loop unrolled eagerly on a tape.
  const w = tf.tensor2d(wv), h0 = tf.tensor2d(h0v), u = tf.tensor2d(uv);
  const tape = new GradientTape();
  tape.watch([w, h0, u]);
  const loss = tape.record(() => {
    let h = h0;
    for (let i = 0; i < steps; i++) h = tf.tanh(h.matMul(w).add(u));
    return h.square().sum();
  });
  const want = tape.gradient(loss, [w, h0, u]);
  close(got[0], loss.dataSync(), "loss");
  want.forEach((g, k) => close(got[k + 1], g!.dataSync(), `gradient ${k} vs unrolled`));
  // Finite differences of the loop w.r.t. w.
  const f = (flat: number[]) =>
    tf.tidy(() => {
      const W = tf.tensor2d(flat, [2, 2]);
      let h: tf.Tensor = h0;
      for (let i = 0; i < steps; i++) h = tf.tanh(h.matMul(W).add(u));
      return h.square().sum().dataSync()[0];
    });
  close(got[1], numeric(f, wv.flat()), "d/dw vs finite differences", 2e-2);
  tf.dispose([w, h0, u, loss, ...want.map((g) => g!)]);
});

Deno.test("tf.gradients through tf.while_loop stops at maximum_iterations and data-dependent exits", () => {
  const [y, dx] = runGraph(() => {
    const x = v1.placeholder("float32", [], "x");
    // doubles until above 100, but at most 3 times
    const [v] = v1.whileLoop((v) => v1.less(v, 100), (v) => [v1.mul(v, 2)], [x], {
      maximumIterations: 3,
    });
    return { fetch: [v, v1.gradients(v, x)[0]!], feeds: [[x, 1.5]] };
  }) as number[];
  close(y, [12], "1.5·2³");
  close(dx, [8], "d/dx = 2³");
  const [y2, dx2] = runGraph(() => {
    const x = v1.placeholder("float32", [], "x");
    const [v] = v1.whileLoop((v) => v1.less(v, 100), (v) => [v1.mul(v, 2)], [x]);
    return { fetch: [v, v1.gradients(v, x)[0]!], feeds: [[x, 30]] };
  }) as number[];
  close(y2, [120], "30·2²");
  close(dx2, [4], "d/dx = 2² (two iterations ran)");
});

Deno.test("broadcasting gradients use run-time shapes when static dimensions are unknown (TF's BroadcastGradientArgs)", () => {
  const av = [[1, 2, 3]];
  const bv = [[1, 0, 2], [3, 1, 1], [0.5, 0.5, 0.5], [2, 2, 2]];
  const [da, db] = runGraph(() => {
    const a = v1.placeholder("float32", [null, 3], "a"); // fed [1, 3]
    const b = v1.placeholder("float32", [null, 3], "b"); // fed [4, 3]
    const grads = v1.gradients(v1.reduceSum(v1.mul(a, b)), [a, b]).map((d) => d!);
    return { fetch: grads, feeds: [[a, av], [b, bv]] };
  });
  // d/da sums b over the broadcast rows; d/db is a broadcast to b's shape.
  close(da, [6.5, 3.5, 5.5], "d/da");
  assert.equal((da as number[][]).length, 1, "d/da has a's run-time shape [1, 3]");
  close(db, bv.flatMap(() => av[0]), "d/db");
  const [dc] = runGraph(() => {
    const c = v1.placeholder("float32", [null, null], "c"); // fed [2, 1]
    const d = v1.placeholder("float32", [3], "d");
    return {
      fetch: [v1.gradients(v1.reduceSum(v1.add(c, d)), c)[0]!],
      feeds: [[c, [[1], [2]]], [d, [1, 2, 3]]],
    };
  });
  assert.deepEqual(dc, [[3], [3]]);
});

Deno.test("v1.stopGradient: same value, gradient None through it (tf.stop_gradient)", () => {
  const [y, dx] = runGraph(() => {
    const x = v1.placeholder("float32", [2], "x");
    const sq = v1.square(x);
    const y = v1.reduceSum(v1.add(sq, v1.stopGradient(sq)));
    assert.equal(v1.gradients(v1.reduceSum(v1.stopGradient(x)), x)[0], null);
    return { fetch: [y, v1.gradients(y, x)[0]!], feeds: [[x, [1, 3]]] };
  }) as number[][];
  close(y, [20], "value");
  close(dx, [2, 6], "only the recorded path: 2x");
});

Deno.test("v1.gradients gives None through integer casts, argMax and comparisons, and for integer sources", () => {
  const g = new v1.Graph();
  g.asDefault(() => {
    const x = v1.placeholder("float32", [3], "x");
    const n = v1.placeholder("int32", [3], "n");
    const viaInt = v1.reduceSum(v1.cast(v1.cast(x, "int32"), "float32"));
    const viaGreater = v1.reduceSum(v1.cast(v1.greater(x, 0), "float32"));
    const viaArgMax = v1.cast(v1.argMax(x), "float32");
    for (const y of [viaInt, viaGreater, viaArgMax]) assert.equal(v1.gradients(y, x)[0], null);
    assert.equal(v1.gradients(v1.reduceSum(v1.mul(n, n)), n)[0], null);
  });
  g.dispose();
});

Deno.test("v1.gradients: d|x|/dx = 0 at 0, and reduce_max splits the gradient between ties", () => {
  const [dabs, dmax] = runGraph(() => {
    const x = v1.placeholder("float32", [3], "x");
    const m = v1.placeholder("float32", [2, 3], "m");
    return {
      fetch: [
        v1.gradients(v1.reduceSum(v1.abs(x)), x)[0]!,
        v1.gradients(v1.reduceSum(v1.reduceMax(m, 1)), m)[0]!,
      ],
      feeds: [[x, [-2, 0, 3]], [m, [[1, 3, 3], [2, 2, 2]]]],
    };
  });
  close(dabs, [-1, 0, 1], "sign");
  close(dmax, [0, 0.5, 0.5, 1 / 3, 1 / 3, 1 / 3], "ties");
});

Deno.test("v1.gradients on a 100,000-op chain does not overflow the stack (iterative walks)", () => {
  const g = new v1.Graph();
  const n = 100_000;
  g.asDefault(() => {
    const x = v1.placeholder("float32", [], "x");
    let t = x;
    for (let i = 0; i < n; i++) t = v1.neg(t, `n${i}`);
    const [d] = v1.gradients(t, x);
    assert.ok(d !== null);
    // the gradient is the chain of n Negs walked back: one op per forward op, plus the seed
    let steps = 0;
    for (let op = d!.op; op.type === "Neg"; op = op.inputs[0].op) steps++;
    assert.equal(steps, n);
  });
  g.dispose();
});
