// GradientTape and Variables checked behaviour by behaviour against TensorFlow's guides
// "Introduction to gradients and automatic differentiation" (guide/autodiff), "Advanced
// automatic differentiation" (guide/advanced_autodiff), "Introduction to Variables"
// (guide/variable) and the API docs of tf.GradientTape, tf.UnconnectedGradients, tf.Variable
// and tf.custom_gradient. Each test names the behaviour and quotes the text it comes from; the
// expected numbers are the guides' printed results or closed forms. Behaviours that
// tests/tape_test.ts, tape_recording_test.ts and tape_higher_order_test.ts already check are
// not repeated here.
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../lib/backend.ts";
import { tfFunction } from "../lib/function.ts";
import {
  GradientTape,
  GradientTapeError,
  stopGradient,
  UnconnectedGradients,
} from "../lib/tape.ts";
import {
  assign,
  assignAdd,
  assignSub,
  readValue,
  variable,
  VariableError,
} from "../lib/variables.ts";

await initBackend();

function close(actual: ArrayLike<number>, expected: ArrayLike<number>, tol = 1e-4): void {
  assert.equal(actual.length, expected.length, "length");
  for (let i = 0; i < expected.length; i++) {
    assert.ok(
      Math.abs(actual[i] - expected[i]) <= tol * Math.max(1, Math.abs(expected[i])),
      `entry ${i}: ${actual[i]} vs ${expected[i]}`,
    );
  }
}

type Grads = (tf.Tensor | null)[];
type Values = (number[] | null)[];

function read(gs: Grads): Values {
  const out = gs.map((g) => g === null ? null : Array.from(g.dataSync()));
  tf.dispose(gs.filter((g): g is tf.Tensor => g !== null));
  return out;
}

/** `body` run eagerly and in a traced function (tfFunction): both give `expected` (null = None). */
function eagerAndTraced(body: () => Grads, expected: Values): void {
  assert.deepEqual(read(body()), expected, "eager");
  const f = tfFunction(() => body(), { autograph: false });
  assert.deepEqual(read(f() as unknown as Grads), expected, "traced");
  f.dispose();
}

// ---------------------------------------------------------------------------
// guide/autodiff

Deno.test("autodiff guide, control flow: 'The gradient only connects to the variable that was used' — result = v0 gives dv0 = 1, dv1 = None, and dx (used only in the if) None, eager and traced", () => {
  const v0 = variable(2);
  const v1 = variable(2);
  const x = tf.scalar(1);
  const positive = x.dataSync()[0] > 0; // Python's `if x > 0.0` reads the value too
  eagerAndTraced(() => {
    const tape = new GradientTape({ persistent: true });
    tape.watch(x);
    // The JavaScript `if` runs once, as Python's does under the tape: the target *is* v0.
    const result = tape.record(() => (positive ? v0 : v1.square()));
    const [dv0, dv1] = tape.gradient(result, [v0, v1]);
    const dx = tape.gradient(result, x);
    tape.dispose();
    return [dv0, dv1, dx];
  }, [[1], null, null]);
  tf.dispose([v0, v1, x]);
});

Deno.test("autodiff guide, non-scalar targets: 'if you ask for the gradient of multiple targets, the result for each source is the gradient of the sum' — a record {y0: x², y1: 1/x} at x = 2 gives 4 − 1/4 = 3.75, eager and traced", () => {
  const x = variable(2);
  eagerAndTraced(() => {
    const tape = new GradientTape();
    const targets = tape.record(() => ({ y0: x.square(), y1: tf.scalar(1).div(x) }));
    return [tape.gradient(targets, x)];
  }, [[3.75]]);
  // outputGradients given in the targets' structure weight each target.
  const tape = new GradientTape();
  const targets = tape.record(() => ({ y0: x.square(), y1: tf.scalar(1).div(x) }));
  const w = { y0: tf.scalar(2), y1: tf.scalar(4) };
  const g = tape.gradient(targets, x, { outputGradients: w })!;
  close(g.dataSync(), [2 * 4 + 4 * -0.25]);
  tf.dispose([x, g, w.y0, w.y1, targets.y0, targets.y1]);
});

Deno.test("autodiff guide: 'if the target(s) are not scalar the gradient of the sum is calculated' — y = x·[3, 4] at x = 2 gives 7, eager and traced", () => {
  const x = variable(2);
  eagerAndTraced(() => {
    const tape = new GradientTape();
    const y = tape.record(() => x.mul(tf.tensor1d([3, 4])));
    return [tape.gradient(y, x)];
  }, [[7]]);
  x.dispose();
});

Deno.test("autodiff guide: 'The tape is flexible about how sources are passed and will accept any nested combination of lists or dictionaries and return the gradient structured the same way'", () => {
  const w = variable([[1, 2], [3, 4]]);
  const b = variable([0.5, -1]);
  const c = variable(3);
  const tape = new GradientTape({ persistent: true });
  const loss = tape.record(() => tf.tensor2d([[1, 1]]).matMul(w).add(b).sum().mul(c));
  const g = tape.gradient(loss, [{ w, inner: [b] }, c]);
  assert.ok(Array.isArray(g) && g.length === 2);
  const [first, dc] = g as [{ w: tf.Tensor; inner: tf.Tensor[] }, tf.Tensor];
  assert.deepEqual(Object.keys(first), ["w", "inner"]);
  assert.ok(Array.isArray(first.inner) && first.inner.length === 1);
  close(first.w.dataSync(), [3, 3, 3, 3]); // c · 1
  close(first.inner[0].dataSync(), [3, 3]);
  close(dc.dataSync(), [1 + 3 + 2 + 4 + 0.5 - 1]); // the sum before × c
  // The same structures work for jacobian, and watch takes them too.
  const j = tape.jacobian(loss, { p: [c] }) as { p: tf.Tensor[] };
  close(j.p[0].dataSync(), dc.dataSync());
  const k = tf.scalar(2);
  const t2 = new GradientTape();
  t2.watch({ a: [k] });
  const y = t2.record(() => k.square());
  const dk = t2.gradient(y, k)!;
  close(dk.dataSync(), [4]);
  tape.dispose();
  tf.dispose([w, b, c, loss, first.w, first.inner[0], dc, j.p[0], k, y, dk]);
});

Deno.test("autodiff guide, 'Gradients with respect to a model': tape.gradient(loss, layer.trainable_variables) — a Dense layer's trainableWeights as sources give gradients of the kernel's and bias's shapes, equal to the closed form, eager and traced", () => {
  const layer = tf.layers.dense({
    units: 2,
    inputShape: [3],
    kernelInitializer: tf.initializers.glorotNormal({ seed: 5 }),
    biasInitializer: "ones",
  });
  const x = tf.tensor2d([[1, 2, 3]]);
  layer.apply(x); // builds the weights
  const body = () => {
    const tape = new GradientTape();
    const loss = tape.record(() => (layer.apply(x) as tf.Tensor).square().mean());
    return tape.gradient(loss, layer.trainableWeights);
  };
  const check = ([dk, db]: (tf.Tensor | null)[]) => {
    assert.deepEqual(dk!.shape, [3, 2]);
    assert.deepEqual(db!.shape, [2]);
    // loss = mean(y²) over 2 units: dloss/dy = y; dk = xᵀ·y, db = y
    const y = tf.tidy(() => (layer.apply(x) as tf.Tensor).dataSync());
    close(db!.dataSync(), Array.from(y));
    close(dk!.dataSync(), [1, 2, 3].flatMap((xi) => Array.from(y, (yj) => xi * yj)));
  };
  const eager = body();
  check(eager);
  const f = tfFunction(() => body(), { autograph: false });
  const traced = f() as unknown as (tf.Tensor | null)[];
  check(traced);
  f.dispose();
  tf.dispose([x, ...eager as tf.Tensor[], ...traced as tf.Tensor[]]);
  layer.dispose();
});

Deno.test("autodiff guide, 'Replaced a variable with a tensor': x = x + 1 (not x.assign_add(1)) makes x a plain tensor, and its gradient None on the next epoch", () => {
  let x: tf.Tensor = variable(2);
  const grads: (number[] | null)[] = [];
  for (let epoch = 0; epoch < 2; epoch++) {
    const tape = new GradientTape();
    const xs = x;
    const y = tape.record(() => xs.add(1));
    const g = tape.gradient(y, xs);
    grads.push(g === null ? null : Array.from(g.dataSync()));
    tf.dispose([y, g ?? []]);
    const next = x.add(1); // This should be assignAdd(x, 1)
    x.dispose();
    x = next;
  }
  assert.deepEqual(grads, [[1], null]);
  x.dispose();
});

Deno.test("autodiff guide, 'Did calculations outside of TensorFlow': a value read out (numpy in Python, dataSync here) and made a tensor again gives None", () => {
  const x = variable([[1, 2], [3, 4]]);
  const tape = new GradientTape();
  const y = tape.record(() => {
    const x2 = x.square();
    const outside = x2.arraySync() as number[][]; // computed outside the tape's ops
    const mean = outside[0].map((v, i) => (v + outside[1][i]) / 2);
    return tf.tensor1d(mean).mean();
  });
  assert.equal(tape.gradient(y, x), null);
  tf.dispose([x, y]);
});

Deno.test("autodiff guide, 'Took gradients through a stateful object': x1.assign_add(x0) inside the tape, then y = x1**2 — dy/dx0 is None ('State stops gradients'), dy/dx1 = 2·x1 = 6", () => {
  const x0 = variable(3);
  const x1 = variable(0);
  const tape = new GradientTape({ persistent: true });
  const y = tape.record(() => {
    assignAdd(x1, x0);
    return x1.square();
  });
  assert.equal(tape.gradient(y, x0), null);
  const d1 = tape.gradient(y, x1)!;
  close(d1.dataSync(), [6]);
  tape.dispose();
  tf.dispose([x0, x1, y, d1]);
});

Deno.test("autodiff guide, 'No gradient registered': 'the tape will throw an error instead of silently returning None' (a tfjs op without a gradient, TopK, raises a typed GradientTapeError naming it)", () => {
  const image = variable([0.5, 0, 0.25, 1]);
  const tape = new GradientTape();
  const out = tape.record(() => tf.topk(image, 2).values);
  assert.throws(
    () => tape.gradient(out, image),
    (e: Error) => e instanceof GradientTapeError && /TopK/.test(e.message),
  );
  tf.dispose([image, out]);
});

Deno.test("autodiff guide, 'Zeros instead of None': unconnected_gradients=tf.UnconnectedGradients.ZERO gives [0, 0] for x = Variable([2., 2.]) when z = y**2; an unknown value is an error (TF: ValueError)", () => {
  const x = variable([2, 2]);
  const y = variable(3);
  const tape = new GradientTape({ persistent: true });
  const z = tape.record(() => y.square());
  const g = tape.gradient(z, x, { unconnectedGradients: UnconnectedGradients.ZERO });
  close(g.dataSync(), [0, 0]);
  assert.equal(tape.gradient(z, x, { unconnectedGradients: UnconnectedGradients.NONE }), null);
  assert.throws(
    () => tape.gradient(z, x, { unconnectedGradients: "zeros" as never }),
    (e: Error) => e instanceof GradientTapeError && /unconnectedGradients/.test(e.message),
  );
  assert.throws(() => tape.jacobian(z, x, { unconnectedGradients: 0 as never }), GradientTapeError);
  tape.dispose();
  tf.dispose([x, y, z, g]);
});

Deno.test("tf.GradientTape.watched_variables: 'Returns variables watched by this tape in order of construction', eager and traced", () => {
  const a = variable(1, { name: "guide_a" });
  const b = variable(2, { name: "guide_b" });
  const frozen = variable(3, { name: "guide_frozen", trainable: false });
  const names = (vs: tf.Variable[]) => vs.map((v) => v.name);
  const t = new GradientTape();
  t.record(() => frozen.mul(b).mul(a)); // b used before a
  assert.deepEqual(names(t.watchedVariables()), ["guide_a", "guide_b"]);
  t.dispose();
  let traced: string[] = [];
  const f = tfFunction(() => {
    const tape = new GradientTape();
    const y = tape.record(() => frozen.mul(b).mul(a));
    traced = names(tape.watchedVariables());
    return y;
  }, { autograph: false });
  f();
  assert.deepEqual(traced, ["guide_a", "guide_b"]);
  f.dispose();
  tf.dispose([a, b, frozen]);
});

// ---------------------------------------------------------------------------
// guide/advanced_autodiff

Deno.test("advanced autodiff guide, reset: 'Throw out all the tape recorded so far' — y*y recorded before t.reset() gives dz/dy None, dz/dx = 2x = 4, eager and traced", () => {
  const x = variable(2);
  const y = variable(3);
  eagerAndTraced(() => {
    const t = new GradientTape();
    const z = t.record(() => {
      const ySq = y.mul(y);
      t.reset();
      return x.mul(x).add(ySq);
    });
    const g = t.gradient(z, { x, y });
    return [g.x, g.y];
  }, [[4], null]);
  tf.dispose([x, y]);
});

Deno.test("advanced autodiff guide, reset: 'Equivalent to exiting and reentering the tape context manager with a new tape' — what was watched before is forgotten; reset outside the block is an error (TF: 'Tape is not recording')", () => {
  const c = tf.scalar(5);
  const t = new GradientTape({ persistent: true });
  t.watch(c);
  const out = t.record(() => {
    const before = c.square();
    t.reset();
    return { before, after: c.mul(3) };
  });
  assert.equal(t.gradient(out.before, c), null);
  assert.equal(t.gradient(out.after, c), null); // c is no longer watched
  assert.deepEqual(t.watchedVariables(), []);
  assert.throws(
    () => t.reset(),
    (e: Error) => e instanceof GradientTapeError && /not recording/.test(e.message),
  );
  t.dispose();
  tf.dispose([c, out.before, out.after]);
});

Deno.test("advanced autodiff guide, stop_gradient inside a tf.function: z = x**2 + tf.stop_gradient(y**2) gives dz/dx = 4, dz/dy None (the StopGradient op of the trace), eager and traced", () => {
  const x = variable(2);
  const y = variable(3);
  eagerAndTraced(() => {
    const t = new GradientTape();
    const z = t.record(() => x.square().add(stopGradient(y.square())));
    const g = t.gradient(z, { x, y });
    return [g.x, g.y];
  }, [[4], null]);
  // Traced, the stopped value is still read at every call (not frozen at trace time).
  const f = tfFunction(() => stopGradient(y.square()), { autograph: false });
  close((f() as tf.Tensor).dataSync(), [9]);
  assign(y, 4);
  close((f() as tf.Tensor).dataSync(), [16]);
  f.dispose();
  tf.dispose([x, y]);
});

Deno.test("advanced autodiff guide, custom gradients: clip_gradients (identity forward, tf.clip_by_norm(dy, 0.5) backward) of v*v at v = 2 gives 'backward, which clips 4 to 2'", () => {
  type CustomFn = Parameters<typeof tf.customGrad>[0];
  const clip = tf.customGrad(
    ((y: tf.Tensor) => ({
      value: y.clone(),
      gradFunc: (dy: tf.Tensor) => {
        const norm = dy.norm();
        return dy.mul(tf.minimum(1, tf.scalar(0.5).div(norm)));
      },
    })) as unknown as CustomFn,
  );
  const v = variable(2);
  const t = new GradientTape();
  const output = t.record(() => clip(v.mul(v)));
  const g = t.gradient(output, v)!;
  close(g.dataSync(), [2]); // 0.5 · 2v, not 1 · 2v = 4
  tf.dispose([v, output, g]);
});

Deno.test("tf.custom_gradient doc: log1pexp with grad upstream·(1 − 1/(1 + e)) is 1.0 at x = 100 (the naive gradient would be NaN)", () => {
  type CustomFn = Parameters<typeof tf.customGrad>[0];
  const log1pexp = tf.customGrad(
    ((x: tf.Tensor, save: tf.GradSaveFunc) => {
      const e = x.exp();
      save([e]);
      return {
        value: e.add(1).log(),
        gradFunc: (dy: tf.Tensor, [saved]: tf.Tensor[]) =>
          dy.mul(tf.scalar(1).sub(tf.scalar(1).div(saved.add(1)))),
      };
    }) as unknown as CustomFn,
  );
  const x = tf.scalar(100);
  const t = new GradientTape();
  t.watch(x);
  const y = t.record(() => log1pexp(x));
  const g = t.gradient(y, x)!;
  close(g.dataSync(), [1]);
  tf.dispose([x, y, g]);
});

Deno.test("advanced autodiff guide, multiple tapes: 'Multiple tapes interact seamlessly' — tape0 watches x0, tape1 x1: cos(0) = 1 and sigmoid'(0) = 0.25", () => {
  const x0 = tf.scalar(0);
  const x1 = tf.scalar(0);
  const tape0 = new GradientTape();
  const tape1 = new GradientTape();
  tape0.watch(x0);
  tape1.watch(x1);
  const ys = tape0.record(() => tape1.record(() => x0.sin().add(x1.sigmoid()).sum()));
  const g0 = tape0.gradient(ys, x0)!;
  const g1 = tape1.gradient(ys, x1)!;
  close(g0.dataSync(), [1]);
  close(g1.dataSync(), [0.25]);
  // each tape sees only what it watched
  assert.deepEqual(tape0.watchedVariables(), []);
  tf.dispose([x0, x1, ys, g0, g1]);
});

Deno.test("advanced autodiff guide, input gradient regularization: an inner tape (watch_accessed_variables=False) takes d out/dx, the outer tape differentiates its norm with respect to the layer's variables — shapes [5, 10] and [10], values equal to finite differences", () => {
  const x = tf.randomNormal([7, 5], 0, 1, "float32", 11);
  const kernel = variable(tf.randomNormal([5, 10], 0, 0.5, "float32", 12));
  const bias = variable(tf.randomNormal([10], 0, 0.5, "float32", 13));
  const layer = (inp: tf.Tensor, k: tf.Tensor, b: tf.Tensor) => inp.matMul(k).add(b).tanh();
  const gradNorm = (k: tf.Tensor, b: tf.Tensor): tf.Tensor => {
    const t1 = new GradientTape({ watchAccessedVariables: false });
    t1.watch(x);
    const out = t1.record(() => layer(x, k, b).square().sum());
    const g1 = t1.gradient(out, x)!;
    const n = g1.norm();
    tf.dispose([out, g1]);
    return n;
  };
  const t2 = new GradientTape();
  const g1Mag = t2.record(() => gradNorm(kernel, bias));
  const [dk, db] = t2.gradient(g1Mag, [kernel, bias]);
  assert.deepEqual(dk!.shape, [5, 10]);
  assert.deepEqual(db!.shape, [10]);
  // central differences of ‖d out/dx‖ in a few kernel and bias entries
  const h = 1e-2;
  const kv = kernel.dataSync().slice();
  const bv = bias.dataSync().slice();
  const fd = (which: "k" | "b", i: number) => {
    const at = (d: number) =>
      tf.tidy(() => {
        const k2 = kv.slice();
        const b2 = bv.slice();
        (which === "k" ? k2 : b2)[i] += d;
        return gradNorm(tf.tensor(k2, [5, 10]), tf.tensor(b2, [10])).dataSync()[0];
      });
    return (at(h) - at(-h)) / (2 * h);
  };
  for (const i of [0, 13, 27, 49]) {
    const num = fd("k", i);
    assert.ok(
      Math.abs(dk!.dataSync()[i] - num) <= 2e-2 * Math.max(1, Math.abs(num)),
      `kernel ${i}`,
    );
  }
  for (const i of [0, 4, 9]) {
    const num = fd("b", i);
    assert.ok(Math.abs(db!.dataSync()[i] - num) <= 2e-2 * Math.max(1, Math.abs(num)), `bias ${i}`);
  }
  tf.dispose([x, kernel, bias, g1Mag, dk!, db!]);
});

Deno.test("tf.GradientTape.batch_jacobian: an unconnected source gives zeros of shape [b, y…, x…] whatever unconnected_gradients says (TF 'returning zeros … to maintain compatibility'), eager and traced", () => {
  const x = tf.ones([2, 3]);
  const eager = () => {
    const t = new GradientTape();
    t.watch(x);
    const y = t.record(() => tf.ones([2, 4]).mul(3));
    const jb = t.batchJacobian(y, x);
    y.dispose();
    return jb;
  };
  const jb = eager();
  assert.deepEqual(jb.shape, [2, 4, 3]);
  assert.ok(jb.dataSync().every((v) => v === 0));
  const f = tfFunction((xs: tf.Tensor) => {
    const t = new GradientTape();
    t.watch(xs);
    const y = t.record(() => tf.ones([2, 4]).mul(3));
    return t.batchJacobian(y, xs);
  }, { autograph: false });
  const traced = f(x) as tf.Tensor;
  assert.deepEqual(traced.shape, [2, 4, 3]);
  assert.ok(traced.dataSync().every((v) => v === 0));
  f.dispose();
  tf.dispose([x, jb, traced]);
});

Deno.test("tf.GradientTape.jacobian: with experimental_use_pfor=False 'GradientTape must be created with persistent=True' (RuntimeError); a persistent tape computes it", () => {
  const x = tf.tensor1d([1, 2]);
  const t = new GradientTape();
  t.watch(x);
  const y = t.record(() => x.mul(x));
  assert.throws(
    () => t.jacobian(y, x, { experimentalUsePfor: false }),
    (e: Error) => e instanceof GradientTapeError && /persistent/.test(e.message),
  );
  assert.throws(
    () => t.batchJacobian(y.reshape([2, 1]), x.reshape([2, 1]), { experimentalUsePfor: false }),
    GradientTapeError,
  );
  const p = new GradientTape({ persistent: true });
  p.watch(x);
  const y2 = p.record(() => x.mul(x));
  const j = p.jacobian(y2, x, { experimentalUsePfor: false, parallelIterations: 4 })!;
  close(j.dataSync(), [2, 0, 0, 4]); // the doc's [[2, 0], [0, 4]]
  p.dispose();
  t.dispose();
  tf.dispose([x, y, y2, j]);
});

Deno.test("tf.GradientTape.jacobian of a scalar target has the shape target + source = the source's (it is the gradient); batch_jacobian of a [b, 1] target gives [b, 1, x…], eager and traced", () => {
  const x = tf.tensor2d([[1, 2], [3, 4]]);
  const body = (xs: tf.Tensor) => {
    const t = new GradientTape({ persistent: true });
    t.watch(xs);
    const { s, col } = t.record(() => ({ s: xs.square().sum(), col: xs.prod(1, true) }));
    const j = t.jacobian(s, xs)!;
    const jb = t.batchJacobian(col, xs);
    t.dispose();
    return [j, jb];
  };
  const check = (j: tf.Tensor, jb: tf.Tensor) => {
    assert.deepEqual(j.shape, [2, 2]);
    close(j.dataSync(), [2, 4, 6, 8]); // 2x
    assert.deepEqual(jb.shape, [2, 1, 2]);
    close(jb.dataSync(), [2, 1, 4, 3]); // d(x0·x1) = (x1, x0) per row
  };
  const [j, jb] = body(x);
  check(j, jb);
  const f = tfFunction((xs: tf.Tensor) => body(xs), { autograph: false });
  const [tj, tjb] = f(x) as unknown as tf.Tensor[];
  check(tj, tjb);
  f.dispose();
  tf.dispose([x, j, jb, tj, tjb]);
});

// ---------------------------------------------------------------------------
// tf.Variable (API doc) and guide/variable

Deno.test("tf.Variable doc: 'tf.GradientTape watches trainable variables by default' — variables created inside the tape: d(trainable·2) = 2, the non-trainable one None", () => {
  const tape = new GradientTape({ persistent: true });
  const { trainable, nonTrainable, x1, x2 } = tape.record(() => {
    const trainable = variable(1);
    const nonTrainable = variable(2, { trainable: false });
    return { trainable, nonTrainable, x1: trainable.mul(2), x2: nonTrainable.mul(3) };
  });
  const g = tape.gradient(x1, trainable)!;
  close(g.dataSync(), [2]);
  assert.equal(tape.gradient(x2, nonTrainable), null);
  tape.dispose();
  tf.dispose([trainable, nonTrainable, x1, x2, g]);
});

Deno.test("variable guide: 'a.assign([1, 2])' keeps the float32 dtype; 'Not allowed as it resizes the variable' is a VariableError; v.assign(2.); v.assign_add(0.5) gives 2.5 (tf.Variable doc)", () => {
  const a = variable([2, 3]);
  assert.equal(assign(a, [1, 2]), a);
  assert.equal(a.dtype, "float32");
  close(a.dataSync(), [1, 2]);
  assert.throws(
    () => assign(a, [1, 2, 3]),
    (e: Error) =>
      e instanceof VariableError && /shape \[2\]/.test(e.message) && /\[3\]/.test(e.message),
  );
  assert.throws(() => assign(a, tf.tensor1d([1, 2], "int32")), VariableError); // no implicit cast
  close(a.dataSync(), [1, 2]); // unchanged by the refused assignments
  const v = variable(1);
  assign(v, 2);
  close(assignAdd(v, 0.5).dataSync(), [2.5]);
  tf.dispose([a, v]);
});

Deno.test("variable guide: 'Creating new variables from existing variables duplicates the backing tensors' — b = Variable(a); a.assign([5, 6]) leaves b; assign_add([2, 3]) gives [7, 9], assign_sub([7, 9]) [0, 0]", () => {
  const a = variable([2, 3]);
  const b = variable(a);
  assign(a, [5, 6]);
  close(a.dataSync(), [5, 6]);
  close(b.dataSync(), [2, 3]);
  close(assignAdd(a, [2, 3]).dataSync(), [7, 9]);
  close(assignSub(a, [7, 9]).dataSync(), [0, 0]);
  tf.dispose([a, b]);
});

Deno.test("variable guide: 'The tf.Variable will have the same dtype as the initialization value' — a bool variable stays bool, a tensor's dtype is kept, dtype converts ('initial_value will be converted to the given type')", () => {
  const flags = variable([false, false, false, true]);
  assert.equal(flags.dtype, "bool");
  assign(flags, [true, false, false, false]);
  assert.deepEqual(Array.from(flags.dataSync()), [1, 0, 0, 0]);
  const ints = variable(tf.tensor1d([1, 2], "int32"));
  assert.equal(ints.dtype, "int32");
  const cast = variable(tf.tensor1d([1, 2], "int32"), { dtype: "float32" });
  assert.equal(cast.dtype, "float32");
  assert.throws(() => assignAdd(flags, [true, true, true, true] as never), VariableError);
  tf.dispose([flags, ints, cast]);
});

Deno.test("tf.Variable doc: 'initial_value … Can also be a callable with no argument that returns the initial value'; no initial value is an error (TF: ValueError)", () => {
  const v = variable(() => tf.ones([3]));
  assert.deepEqual(v.shape, [3]);
  close(v.dataSync(), [1, 1, 1]);
  assert.throws(() => variable(undefined as never), VariableError);
  v.dispose();
});

Deno.test("tf.Variable.read_value: 'Returns the value of this variable' — a snapshot a later assign does not change; read inside a tape it carries the gradient; traced, it reads at every call", () => {
  const v = variable([2, 3]);
  const snap = readValue(v);
  assign(v, [5, 6]);
  close(snap.dataSync(), [2, 3]);
  close(v.dataSync(), [5, 6]);
  const t = new GradientTape();
  const y = t.record(() => readValue(v).square().sum());
  const g = t.gradient(y, v)!;
  close(g.dataSync(), [10, 12]);
  const f = tfFunction(() => readValue(v), { autograph: false });
  close((f() as tf.Tensor).dataSync(), [5, 6]);
  assign(v, [7, 8]);
  close((f() as tf.Tensor).dataSync(), [7, 8]);
  f.dispose();
  assert.throws(() => readValue(snap as never), VariableError);
  tf.dispose([v, snap, y, g]);
});

Deno.test("assign inside a tf.function runs at every call (tf.Variable doc: variables 'captured and manipulated by tf.functions … works the same way the un-decorated function would')", () => {
  const v = variable(0);
  const f = tfFunction((x: tf.Tensor) => {
    assign(v, x);
    return readValue(v).mul(2);
  }, { autograph: false });
  close((f(tf.scalar(3)) as tf.Tensor).dataSync(), [6]);
  close((f(tf.scalar(4)) as tf.Tensor).dataSync(), [8]);
  close(v.dataSync(), [4]);
  f.dispose();
  v.dispose();
});

Deno.test("the new calls leak no tensors: reset, nested sources, Variable targets, batchJacobian zeros, assign and readValue, repeated", () => {
  const v = variable([1, 2]);
  const c = tf.tensor2d([[1, 2], [3, 4]]);
  const run = () => {
    const t = new GradientTape({ persistent: true });
    t.watch(c);
    const out = t.record(() => {
      v.square();
      t.reset();
      t.watch(c);
      return c.mul(v).sum();
    });
    const g = t.gradient({ a: out, b: [v] }, [{ v }, [c]]) as unknown as [
      { v: tf.Tensor },
      tf.Tensor[],
    ];
    const jb = tf.tidy(() => t.batchJacobian(c.square(), c));
    t.dispose();
    assign(v, [1, 2]);
    const r = readValue(v);
    tf.dispose([out, g[0].v, g[1][0], jb, r]);
  };
  run();
  const before = tf.memory().numTensors;
  for (let i = 0; i < 5; i++) run();
  assert.equal(tf.memory().numTensors, before);
  tf.dispose([v, c]);
});
