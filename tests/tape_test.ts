import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../lib/backend.ts";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { GradientTape, GradientTapeError, stopGradient } from "../lib/tape.ts";

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

/** Central differences of a scalar function of one input, computed independently of any tape. */
function numericGrad(f: (x: tf.Tensor) => tf.Tensor, x: tf.Tensor, h = 1e-2): Float32Array {
  const base = x.dataSync().slice();
  const out = new Float32Array(base.length);
  for (let i = 0; i < base.length; i++) {
    const at = (d: number) =>
      tf.tidy(() => {
        const v = base.slice();
        v[i] += d;
        return f(tf.tensor(v, x.shape)).sum().dataSync()[0];
      });
    out[i] = (at(h) - at(-h)) / (2 * h);
  }
  return out;
}

Deno.test("gradient w.r.t. a record of variables has the analytic values", () => {
  const w = tf.variable(tf.tensor1d([1, -2, 3]));
  const b = tf.variable(tf.scalar(0.5));
  const tape = new GradientTape();
  const loss = tape.record(() => w.square().sum().add(b.mul(b).mul(3)));
  assert.deepEqual(tape.operations(), ["Square", "Sum", "Multiply", "Multiply", "Add"]);
  const grads = tape.gradient(loss, { w, b });
  assert.deepEqual(Object.keys(grads), ["w", "b"]);
  close(grads.w!.dataSync(), [2, -4, 6]);
  close(grads.b!.dataSync(), [3]); // d/db 3b² = 6b = 3
  tf.dispose([loss, grads.w!, grads.b!, w, b]);
  tape.dispose();
});

Deno.test("sources as a list and as a single tensor keep their structure", () => {
  const x = tf.variable(tf.tensor2d([[1, 2], [3, 4]]));
  const y = tf.variable(tf.tensor2d([[0.5], [-1]]));
  const tape = new GradientTape({ persistent: true });
  const z = tape.record(() => x.matMul(y).sum());
  const list = tape.gradient(z, [x, y]);
  assert.ok(Array.isArray(list));
  assert.equal(list.length, 2);
  close(list[0]!.dataSync(), [0.5, -1, 0.5, -1]); // dz/dx = 1·yᵀ
  close(list[1]!.dataSync(), [4, 6]); // dz/dy = column sums of x
  const single = tape.gradient(z, y);
  assert.ok(single instanceof tf.Tensor);
  assert.deepEqual(single!.shape, [2, 1]);
  close(single!.dataSync(), [4, 6]);
  tf.dispose([z, list[0]!, list[1]!, single!, x, y]);
  tape.dispose();
});

Deno.test("tape gradients agree with finite differences on several functions", () => {
  const cases: { name: string; f: (x: tf.Tensor) => tf.Tensor; x: tf.Tensor }[] = [
    {
      name: "sigmoid(xW)",
      f: (x) => tf.sigmoid(x.reshape([2, 3]).matMul(tf.tensor2d([[1, -1], [0.5, 2], [-0.3, 0.2]]))),
      x: tf.tensor1d([0.1, -0.4, 0.7, 1.2, -0.9, 0.3]),
    },
    {
      name: "softmax cross-entropy",
      f: (x) => tf.losses.softmaxCrossEntropy(tf.tensor2d([[0, 1, 0], [1, 0, 0]]), x),
      x: tf.tensor2d([[0.2, -1, 0.4], [1.5, 0.3, -0.7]]),
    },
    {
      name: "tanh(x)·exp(x/2) / (1 + x²)",
      f: (x) => x.tanh().mul(x.div(2).exp()).div(x.square().add(1)),
      x: tf.tensor1d([-1.3, -0.2, 0.4, 1.1]),
    },
    {
      name: "log-sum-exp with broadcasting and slicing",
      f: (x) =>
        tf.logSumExp(x.add(tf.tensor1d([1, 2, 3])), 1).mul(x.slice([0, 0], [2, 1]).squeeze()),
      x: tf.tensor2d([[0.3, -0.6, 0.9], [-1.1, 0.2, 0.5]]),
    },
  ];
  for (const { name, f, x } of cases) {
    const tape = new GradientTape();
    tape.watch(x);
    const y = tape.record(() => f(x).sum());
    const g = tape.gradient(y, x)!;
    const numeric = numericGrad(f, x);
    const analytic = g.dataSync();
    for (let i = 0; i < numeric.length; i++) {
      const err = Math.abs(analytic[i] - numeric[i]);
      assert.ok(
        err <= 2e-3 + 2e-2 * Math.abs(numeric[i]),
        `${name}[${i}]: ${analytic[i]} vs ${numeric[i]}`,
      );
    }
    tf.dispose([x, y, g]);
  }
});

Deno.test("nested tapes give second and third derivatives", () => {
  const x = tf.tensor1d([-2, 0.5, 3]);
  // d/dx x³ = 3x², d²/dx² = 6x
  const outer = new GradientTape();
  outer.watch(x);
  const first = outer.record(() => {
    const inner = new GradientTape();
    inner.watch(x);
    const y = inner.record(() => x.pow(3));
    return inner.gradient(y, x)!;
  });
  close(first.dataSync(), [12, 0.75, 27]);
  const second = outer.gradient(first, x)!;
  close(second.dataSync(), [-12, 3, 18]);

  // d³/dx³ x⁴ = 24x, three tapes deep
  const t3 = new GradientTape();
  t3.watch(x);
  const d2 = t3.record(() => {
    const t2 = new GradientTape();
    t2.watch(x);
    const d1 = t2.record(() => {
      const t1 = new GradientTape();
      t1.watch(x);
      const y = t1.record(() => x.pow(4));
      return t1.gradient(y, x)!;
    });
    return t2.gradient(d1, x)!;
  });
  close(d2.dataSync(), [48, 3, 108]); // 12x²
  const d3 = t3.gradient(d2, x)!;
  close(d3.dataSync(), [-48, 12, 72]); // 24x

  // second derivative of sin is −sin, with a variable
  const v = tf.variable(tf.tensor1d([0.3, 1.2]));
  const o = new GradientTape();
  const dsin = o.record(() => {
    const i = new GradientTape();
    const y = i.record(() => v.sin());
    return i.gradient(y, v)!;
  });
  const dd = o.gradient(dsin, v)!;
  close(dd.dataSync(), [-Math.sin(0.3), -Math.sin(1.2)]);
  tf.dispose([x, first, second, d2, d3, v, dsin, dd]);
});

Deno.test("a non-persistent tape allows one gradient; a persistent one several", () => {
  const x = tf.variable(tf.scalar(3));
  const tape = new GradientTape();
  const y = tape.record(() => x.square());
  const g = tape.gradient(y, x)!;
  close(g.dataSync(), [6]);
  assert.throws(() => tape.gradient(y, x), GradientTapeError);
  assert.throws(() => tape.record(() => x.mul(2)), GradientTapeError);

  const p = new GradientTape({ persistent: true });
  const [y2, y3] = p.record(() => [x.square(), x.pow(3)]);
  const g2 = p.gradient(y2, x)!;
  const g3 = p.gradient(y3, x)!;
  const g2again = p.gradient(y2, x)!;
  close(g2.dataSync(), [6]);
  close(g3.dataSync(), [27]);
  close(g2again.dataSync(), [6]);
  p.dispose();
  assert.throws(() => p.gradient(y2, x), /disposed/);
  tf.dispose([x, y, g, y2, y3, g2, g3, g2again]);
});

Deno.test("watching: constants need watch(); unwatched sources give null or zeros", () => {
  const c = tf.tensor1d([1, 2]);
  const unwatched = tf.tensor1d([5, 6]);
  const tape = new GradientTape({ persistent: true });
  tape.watch(c);
  const y = tape.record(() => c.square().add(unwatched).sum());
  const { c: dc, u } = tape.gradient(y, { c, u: unwatched });
  close(dc!.dataSync(), [2, 4]);
  assert.equal(u, null); // TF gives None for an unwatched tensor
  const [dcz, uz] = tape.gradient(y, [c, unwatched], { unconnectedGradients: "zero" });
  close(dcz.dataSync(), [2, 4]);
  close(uz.dataSync(), [0, 0]);
  // a watched tensor the target does not depend on: null
  const other = tf.scalar(1);
  tape.watch(other);
  assert.equal(tape.gradient(y, other), null);
  tape.dispose();
  tf.dispose([c, unwatched, y, dc!, dcz, uz, other]);
});

Deno.test("trainable variables are watched automatically; others only when asked", () => {
  const train = tf.variable(tf.scalar(2), true);
  const frozen = tf.variable(tf.scalar(3), false);
  const t1 = new GradientTape({ persistent: true });
  const y = t1.record(() => train.mul(frozen));
  const g = t1.gradient(y, { train, frozen });
  close(g.train!.dataSync(), [3]);
  assert.equal(g.frozen, null);
  assert.deepEqual(t1.watchedVariables().map((v) => v.name), [train.name]);
  t1.dispose();

  const t2 = new GradientTape({ watchAccessedVariables: false });
  t2.watch(frozen);
  const y2 = t2.record(() => train.mul(frozen));
  const g2 = t2.gradient(y2, [train, frozen]);
  assert.equal(g2[0], null);
  close(g2[1]!.dataSync(), [2]);
  tf.dispose([train, frozen, y, g.train!, y2, g2[1]!]);
});

Deno.test("gradients w.r.t. intermediate tensors, several targets, outputGradients", () => {
  const x = tf.variable(tf.tensor1d([1, 2]));
  const tape = new GradientTape({ persistent: true });
  const { y, z } = tape.record(() => {
    const y = x.mul(3);
    return { y, z: y.square().sum() };
  });
  close(tape.gradient(z, y)!.dataSync(), [6, 12]); // 2y
  close(tape.gradient([z, y], x)!.dataSync(), [18 + 3, 36 + 3]); // 18x + 3
  const dy = tf.tensor1d([1, -1]);
  close(tape.gradient(y, x, { outputGradients: dy })!.dataSync(), [3, -3]);
  assert.throws(() => tape.gradient(y, x, { outputGradients: tf.scalar(1) }), GradientTapeError);
  tape.dispose();
  tf.dispose([x, y, z, dy]);
});

Deno.test("misuse gives GradientTapeError", () => {
  const x = tf.variable(tf.scalar(1));
  const tape = new GradientTape({ persistent: true });
  const asyncBlock = async () => {
    await null;
    return x.square();
  };
  assert.throws(() => tape.record(asyncBlock as never), /synchronous/);
  assert.throws(() => tape.record(() => Promise.resolve(1)), /synchronous/);
  assert.throws(() => tape.gradient(x, [x, 3 as never]), /source 1 is not a tf.Tensor/);
  tape.dispose();
  x.dispose();
});

Deno.test("a tape inside tf.grad works and leaves nothing behind", () => {
  const before = tf.memory().numTensors;
  const x = tf.scalar(1.5);
  const d2 = tf.grad((x: tf.Tensor) => {
    const t = new GradientTape();
    t.watch(x);
    const y = t.record(() => x.pow(3));
    return t.gradient(y, x)!;
  })(x);
  close(d2.dataSync(), [9]); // 6x
  tf.dispose([x, d2]);
  assert.equal(tf.memory().numTensors, before);
});

Deno.test("no tensor leaks across many record/gradient cycles and after dispose", () => {
  const w = tf.variable(tf.randomNormal([4, 3], 0, 1, "float32", 1));
  const b = tf.variable(tf.zeros([3]));
  const xs = tf.randomNormal([8, 4], 0, 1, "float32", 2);
  const ys = tf.oneHot(tf.tensor1d([0, 1, 2, 0, 1, 2, 0, 1], "int32"), 3);
  const step = () => {
    const tape = new GradientTape();
    const loss = tape.record(() => tf.losses.softmaxCrossEntropy(ys, xs.matMul(w).add(b)));
    const g = tape.gradient(loss, { w, b });
    tf.tidy(() => {
      w.assign(w.sub(g.w!.mul(0.1)));
      b.assign(b.sub(g.b!.mul(0.1)));
    });
    const value = loss.dataSync()[0];
    tf.dispose([loss, g.w!, g.b!]);
    return value;
  };
  const first = step();
  const base = tf.memory().numTensors;
  let last = first;
  for (let i = 0; i < 30; i++) {
    last = step();
    assert.equal(tf.memory().numTensors, base, `step ${i}`);
  }
  assert.ok(last < first, `loss went down: ${first} -> ${last}`);

  // persistent tape: saved tensors live until dispose(), then go
  const p = new GradientTape({ persistent: true });
  const loss = p.record(() => tf.losses.softmaxCrossEntropy(ys, xs.matMul(w).add(b)));
  const held = tf.memory().numTensors;
  assert.ok(held > base + 1, "the tape keeps tensors for backprop");
  tf.dispose(p.gradient(loss, [w, b]) as tf.Tensor[]);
  p.dispose();
  loss.dispose();
  assert.equal(tf.memory().numTensors, base);

  // nested tapes, many times
  const x = tf.scalar(0.7);
  const nestedBase = tf.memory().numTensors;
  for (let i = 0; i < 10; i++) {
    const o = new GradientTape();
    o.watch(x);
    const d1 = o.record(() => {
      const t = new GradientTape();
      t.watch(x);
      const y = t.record(() => x.pow(3).add(x.sin()));
      return t.gradient(y, x)!;
    });
    const d2 = o.gradient(d1, x)!;
    tf.dispose([d1, d2]);
    assert.equal(tf.memory().numTensors, nestedBase, `nested cycle ${i}`);
  }
  tf.dispose([w, b, xs, ys, x]);
});

Deno.test("ops on unwatched tensors are not kept on the tape", () => {
  const w = tf.variable(tf.scalar(2));
  const c = tf.tensor1d([1, 2, 3]);
  const tape = new GradientTape({ persistent: true });
  const y = tape.record(() => {
    const k = c.square().sum().sqrt(); // depends on nothing watched: dropped
    return w.mul(k);
  });
  assert.deepEqual(tape.operations(), ["Multiply"]);
  assert.ok(tape.size >= 1);
  close(tape.gradient(y, w)!.dataSync(), [Math.sqrt(14)]);
  tape.dispose();
  tf.dispose([w, c, y]);
});

Deno.test("the block runs once: gradient() never re-runs it", () => {
  const w = tf.variable(tf.scalar(2));
  let runs = 0;
  const tape = new GradientTape({ persistent: true });
  const y = tape.record(() => {
    runs++;
    return w.square();
  });
  const g1 = tape.gradient(y, w)!;
  const g2 = tape.gradient(y, w)!;
  assert.equal(runs, 1);
  close(g1.dataSync(), [4]);
  close(g2.dataSync(), [4]);
  tape.dispose();
  tf.dispose([w, y, g1, g2]);
});

Deno.test("agrees with tfjs's own tf.variableGrads on a Keras model", () => {
  const model = tf.sequential({
    layers: [
      tf.layers.dense({
        inputShape: [4],
        units: 5,
        activation: "tanh",
        kernelInitializer: tf.initializers.glorotNormal({ seed: 1 }),
      }),
      tf.layers.dense({ units: 3, kernelInitializer: tf.initializers.glorotNormal({ seed: 2 }) }),
    ],
  });
  const xs = tf.randomNormal([6, 4], 0, 1, "float32", 3);
  const ys = tf.oneHot(tf.tensor1d([0, 1, 2, 0, 1, 2], "int32"), 3);
  const lossFn = () => tf.losses.softmaxCrossEntropy(ys, model.apply(xs) as tf.Tensor) as tf.Scalar;
  const vars = model.trainableWeights.map((w) => w.read() as tf.Variable);
  const reference = tf.variableGrads(lossFn, vars);
  const tape = new GradientTape();
  const loss = tape.record(lossFn);
  const grads = tape.gradient(loss, vars);
  close(loss.dataSync(), reference.value.dataSync());
  vars.forEach((v, i) => close(grads[i]!.dataSync(), reference.grads[v.name].dataSync(), 1e-5));
  tf.dispose([
    xs,
    ys,
    loss,
    reference.value,
    ...Object.values(reference.grads),
    ...(grads as tf.Tensor[]),
  ]);
  model.dispose();
});

// ---------------------------------------------------------------------------
// TensorFlow's None cases ("Introduction to gradients and automatic
// differentiation": cases where gradient returns None; "Zeros instead of None").

Deno.test("None: an integer source (TF: 'Took gradients through an integer', dtype must be floating)", () => {
  const x = tf.scalar(10, "int32");
  const tape = new GradientTape({ persistent: true });
  tape.watch(x);
  const y = tape.record(() => x.mul(x));
  const z = tape.record(() => x.toFloat().mul(2));
  assert.equal(tape.gradient(y, x), null);
  assert.equal(tape.gradient(z, x), null);
  tape.dispose();
  tf.dispose([x, y, z]);
});

Deno.test("None: through a cast to an integer dtype (the path through int32 carries no gradient)", () => {
  const x = tf.tensor1d([1.4, 2.6]);
  const tape = new GradientTape({ persistent: true });
  tape.watch(x);
  const y = tape.record(() => x.toInt().toFloat().sum());
  const mixed = tape.record(() => x.toInt().toFloat().mul(x).sum());
  assert.equal(tape.gradient(y, x), null);
  // only the float path counts: d/dx (int(x)·x) = int(x)
  close(tape.gradient(mixed, x)!.dataSync(), [1, 2]);
  tape.dispose();
  tf.dispose([x, y, mixed]);
});

Deno.test("None: through argMax, argMin and comparisons (tf.greater, tf.equal); zeros with unconnectedGradients 'zero'", () => {
  const x = tf.tensor1d([0.5, -1, 2]);
  const tape = new GradientTape({ persistent: true });
  tape.watch(x);
  const targets = tape.record(() => [
    x.argMax().toFloat(),
    x.argMin().toFloat(),
    tf.greater(x, 0).toFloat().sum(),
    tf.equal(x, 2).toFloat().sum(),
    tf.lessEqual(x, 0).toFloat().sum(),
  ]);
  for (const [i, t] of targets.entries()) {
    assert.equal(tape.gradient(t, x), null, `target ${i}`);
    const z = tape.gradient(t, x, { unconnectedGradients: "zero" });
    assert.deepEqual(Array.from(z.dataSync()), [0, 0, 0]);
    z.dispose();
  }
  tape.dispose();
  tf.dispose([x, ...targets]);
});

Deno.test("None for an unconnected variable, zeros with unconnectedGradients 'zero' (TF guide: x, y Variables, z = y*y)", () => {
  const x = tf.variable(tf.scalar(2));
  const y = tf.variable(tf.scalar(3));
  const tape = new GradientTape({ persistent: true });
  const z = tape.record(() => y.mul(y));
  assert.equal(tape.gradient(z, x), null);
  const dz = tape.gradient(z, x, { unconnectedGradients: "zero" });
  assert.equal(dz.dataSync()[0], 0);
  tape.dispose();
  tf.dispose([x, y, z, dz]);
});

Deno.test("d|x|/dx = sign(x): 0 at x = 0, as TensorFlow (tfjs alone gives -1)", () => {
  const x = tf.tensor1d([-2, 0, 3]);
  const tape = new GradientTape();
  tape.watch(x);
  const y = tape.record(() => x.abs().sum());
  const g = tape.gradient(y, x)!;
  assert.deepEqual(Array.from(g.dataSync()), [-1, 0, 1]);
  tf.dispose([x, y, g]);
});

Deno.test("reduce_max / reduce_min gradients split between ties equally (TF's reduce_max gradient)", () => {
  const x = tf.tensor2d([[1, 3, 3], [2, 0, 0]]);
  const tape = new GradientTape({ persistent: true });
  tape.watch(x);
  const [mx, mn, all] = tape.record(() => [x.max(1).sum(), x.min(1).sum(), x.max()]);
  close(tape.gradient(mx, x)!.dataSync(), [0, 0.5, 0.5, 1, 0, 0]);
  close(tape.gradient(mn, x)!.dataSync(), [1, 0, 0, 0, 0.5, 0.5]);
  close(tape.gradient(all, x)!.dataSync(), [0, 0.5, 0.5, 0, 0, 0]);
  tape.dispose();
  tf.dispose([x, mx, mn, all]);
});

// ---------------------------------------------------------------------------
// stop_recording, stop_gradient, jacobian, batch_jacobian.

Deno.test("stopRecording: ops inside are not recorded (TF guide: dz/dx = 4, dz/dy = None)", () => {
  const x = tf.scalar(2);
  const y = tf.scalar(3);
  const tape = new GradientTape();
  tape.watch([x, y]);
  const z = tape.record(() => {
    const y2 = tape.stopRecording(() => y.mul(y));
    return x.mul(x).add(y2);
  });
  const [dx, dy] = tape.gradient(z, [x, y]);
  assert.equal(dx!.dataSync()[0], 4);
  assert.equal(dy, null);
  assert.throws(() => tape.stopRecording(() => 1), /not recording/);
  tf.dispose([x, y, z, dx!]);
});

Deno.test("stopRecording pauses this tape only: an enclosing tape still records", () => {
  const x = tf.scalar(3);
  const outer = new GradientTape();
  outer.watch(x);
  const inner = new GradientTape();
  inner.watch(x);
  const y = outer.record(() => inner.record(() => inner.stopRecording(() => x.square())));
  assert.equal(inner.gradient(y, x), null);
  assert.equal(outer.gradient(y, x)!.dataSync()[0], 6);
  tf.dispose([x, y]);
});

Deno.test("stopGradient: the same value, no gradient through it (TF: x**2 + stop_gradient(y**2))", () => {
  const x = tf.scalar(2);
  const y = tf.scalar(3);
  const tape = new GradientTape();
  tape.watch([x, y]);
  const z = tape.record(() => x.square().add(stopGradient(y.square())));
  assert.equal(z.dataSync()[0], 13);
  const [dx, dy] = tape.gradient(z, [x, y]);
  assert.equal(dx!.dataSync()[0], 4);
  assert.equal(dy, null);
  assert.throws(() => stopGradient(3 as never), GradientTapeError);
  tf.dispose([x, y, z, dx!]);
});

Deno.test("jacobian: tf.GradientTape.jacobian doc example, y = x*x at [1, 2] gives [[2, 0], [0, 4]]", () => {
  const x = tf.tensor1d([1, 2]);
  const tape = new GradientTape();
  tape.watch(x);
  const y = tape.record(() => x.mul(x));
  const j = tape.jacobian(y, x)!;
  assert.deepEqual(j.shape, [2, 2]);
  assert.deepEqual(j.arraySync(), [[2, 0], [0, 4]]);
  assert.throws(() => tape.jacobian(y, x), /only be called once/);
  tf.dispose([x, y, j]);
});

Deno.test("jacobian shapes (Advanced autodiff guide): scalar source [201]; Dense kernel [7, 10, 5, 10]", () => {
  const x = tf.linspace(-10, 10, 201);
  const delta = tf.variable(tf.scalar(0));
  const t1 = new GradientTape();
  const y = t1.record(() => tf.sigmoid(x.add(delta)));
  const dydx = t1.jacobian(y, delta)!;
  assert.deepEqual(dydx.shape, [201]);
  const s = y.dataSync();
  close(dydx.dataSync(), Array.from(s, (v) => v * (1 - v)));

  const xs = tf.randomNormal([7, 5], 0, 1, "float32", 3);
  const kernel = tf.variable(tf.randomNormal([5, 10], 0, 1, "float32", 4));
  const t2 = new GradientTape({ persistent: true });
  const out = t2.record(() => xs.matMul(kernel).relu());
  const j = t2.jacobian(out, kernel)!;
  assert.deepEqual(j.shape, [7, 10, 5, 10]);
  // Summed over the target's dimensions, the Jacobian is the gradient of the sum.
  const g = t2.gradient(out, kernel)!;
  close(j.sum([0, 1]).dataSync(), g.dataSync());
  const { a, b } = t2.jacobian(out, { a: kernel, b: delta });
  assert.deepEqual(a!.shape, [7, 10, 5, 10]);
  assert.equal(b, null);
  const bz = t2.jacobian(out, delta, { unconnectedGradients: "zero" });
  assert.deepEqual(bz.shape, [7, 10]);
  t2.dispose();
  tf.dispose([x, delta, y, dydx, xs, kernel, out, j, g, a!, bz]);
});

Deno.test("batchJacobian: doc example y = x³ per row gives [[[48, 0], [0, 12]], [[3, 0], [0, 27]]]", () => {
  const x = tf.tensor2d([[4, 2], [1, 3]]);
  const tape = new GradientTape();
  tape.watch(x);
  const y = tape.record(() => x.mul(x).mul(x));
  const jb = tape.batchJacobian(y, x)!;
  assert.deepEqual(jb.shape, [2, 2, 2]);
  assert.deepEqual(jb.arraySync(), [[[48, 0], [0, 12]], [[3, 0], [0, 27]]]);
  tf.dispose([x, y, jb]);
});

Deno.test("batchJacobian is the jacobian's per-example diagonal (guide: two elu layers, [7,6,7,5] vs [7,6,5])", () => {
  const x = tf.randomNormal([7, 5], 0, 1, "float32", 5);
  const w1 = tf.variable(tf.randomNormal([5, 8], 0, 0.5, "float32", 6));
  const w2 = tf.variable(tf.randomNormal([8, 6], 0, 0.5, "float32", 7));
  const tape = new GradientTape({ persistent: true });
  tape.watch(x);
  const y = tape.record(() => x.matMul(w1).elu().matMul(w2).elu());
  const j = tape.jacobian(y, x)!;
  const jb = tape.batchJacobian(y, x)!;
  assert.deepEqual(j.shape, [7, 6, 7, 5]);
  assert.deepEqual(jb.shape, [7, 6, 5]);
  const ja = j.arraySync() as number[][][][];
  const diag = ja.map((rows, i) => rows.map((r) => r[i]));
  close(jb.dataSync(), diag.flat(2));
  assert.throws(() => tape.batchJacobian(y.sum(1), x), /rank >= 2/);
  assert.throws(() => tape.batchJacobian(y, x.transpose()), /batch/);
  tape.dispose();
  tf.dispose([x, w1, w2, y, j, jb]);
});

Deno.test("typed errors: tape.gradient(3, x) and tape.watch(5) name the argument (GradientTapeError)", () => {
  const x = tf.scalar(1);
  const tape = new GradientTape({ persistent: true });
  assert.throws(
    () => tape.watch(5 as never),
    (e: Error) =>
      e instanceof GradientTapeError && /watch\(tensors\)/.test(e.message) &&
      /number 5/.test(e.message),
  );
  tape.watch(x);
  const y = tape.record(() => x.square());
  assert.throws(
    () => tape.gradient(3 as never, x),
    (e: Error) =>
      e instanceof GradientTapeError && /target must be a tf.Tensor/.test(e.message) &&
      /number 3/.test(e.message),
  );
  assert.throws(() => tape.gradient([] as never, x), GradientTapeError);
  assert.throws(
    () => tape.gradient(y, 7 as never),
    (e: Error) => e instanceof GradientTapeError && /sources/.test(e.message),
  );
  assert.throws(() => tape.jacobian([y] as never, x), GradientTapeError);
  tape.dispose();
  tf.dispose([x, y]);
});

// ---------------------------------------------------------------------------
// Memory: TF frees a tape's resources after gradient() on a non-persistent
// tape, or when the tape is garbage-collected.

Deno.test("failing calls leak nothing: a throwing block, bad targets, bad outputGradients, 50 times", () => {
  const x = tf.variable(tf.tensor1d([1, 2, 3]));
  const before = tf.memory().numTensors;
  for (let i = 0; i < 50; i++) {
    const tape = new GradientTape({ persistent: true });
    assert.throws(() =>
      tape.record(() => {
        x.square().exp();
        throw new Error("boom");
      }), /boom/);
    const y = tape.record(() => x.square().sum());
    assert.throws(() => tape.gradient(3 as never, x), GradientTapeError);
    assert.throws(
      () => tape.gradient(y, x, { outputGradients: tf.tensor1d([1, 2]) }),
      GradientTapeError,
    );
    assert.throws(() => tape.batchJacobian(y, x), GradientTapeError);
    tape.dispose();
    y.dispose();
  }
  // the wrong outputGradients tensors above are the caller's: only those remain
  assert.equal(tf.memory().numTensors, before + 50);
  x.dispose();
});

Deno.test("jacobian and batchJacobian leave no tensors behind", () => {
  const x = tf.randomNormal([3, 2], 0, 1, "float32", 8);
  const before = tf.memory().numTensors;
  for (let i = 0; i < 5; i++) {
    const tape = new GradientTape({ persistent: true });
    tape.watch(x);
    const y = tape.record(() => x.tanh().mul(x));
    tf.dispose([tape.jacobian(y, x)!, tape.batchJacobian(y, x)!]);
    tape.dispose();
    y.dispose();
  }
  assert.equal(tf.memory().numTensors, before);
  x.dispose();
});

Deno.test("record keeps only what gradients need: nothing for unwatched work, and a tape that is garbage-collected frees its tensors", async () => {
  setFlagsFromString("--expose-gc");
  const gc = runInNewContext("gc") as () => void;
  const x = tf.tensor1d([0.5, 1.5]);
  const before = tf.memory().numTensors;
  const abandon = (): void => {
    const tape = new GradientTape();
    tape.watch(x);
    const y = tape.record(() => {
      tf.ones([100]).exp().sum(); // depends on nothing watched: nothing kept
      return x.exp().mul(x.sigmoid()).sum();
    });
    assert.ok(tape.size > 0);
    y.dispose(); // never asks for a gradient, never disposes the tape
  };
  for (let i = 0; i < 20; i++) abandon();
  assert.ok(tf.memory().numTensors > before, "an unused tape holds its saved tensors");
  for (let i = 0; i < 5 && tf.memory().numTensors > before; i++) {
    gc();
    await new Promise((resolve) => setTimeout(resolve, 0));
  }
  assert.equal(tf.memory().numTensors, before, "the collected tapes' tensors were freed");
  x.dispose();
});
