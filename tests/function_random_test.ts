// Random ops inside traced functions, written from TensorFlow's guides ("Better performance with
// tf.function", "Random number generation") and API docs (tf.random.uniform, tf.random.normal,
// tf.random.truncated_normal, tf.random.gamma, tf.nn.dropout, tf.random.set_seed,
// tf.keras.layers.Dropout): a stateful random op in a tf.function draws anew at every call, from
// the right distribution, with no gradient through the draw; tfjs's own random ops, which draw
// once in JavaScript, are refused loudly instead of being frozen into the graph.
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../lib/backend.ts";
import { RandomOpInTraceError, tfFunction } from "../lib/function.ts";
import { GradientTape } from "../lib/tape.ts";
import * as v1 from "../lib/v1/mod.ts";
import { seededDropout } from "../lib/models/seeded_dropout.ts";

await initBackend();

const values = (t: unknown): number[] => Array.from((t as tf.Tensor).dataSync());
const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;
const std = (xs: number[]): number => {
  const m = mean(xs);
  return Math.sqrt(xs.reduce((a, b) => a + (b - m) ** 2, 0) / (xs.length - 1));
};

Deno.test("tf.function: a random op in a traced function draws anew at every call (TF's stateful random ops), from one trace", () => {
  const f = tfFunction((x: tf.Tensor) => tf.add(x, v1.randomUniform([4, 3]) as never));
  const x = tf.zeros([4, 3]);
  const [a, b] = [f(x), f(x)] as tf.Tensor[];
  assert.equal(f.traceCount, 1);
  assert.notDeepEqual(values(a), values(b));
  for (const v of [...values(a), ...values(b)]) assert.ok(v >= 0 && v < 1, `${v} in [0, 1)`);
  tf.dispose([a, b, x]);
  f.dispose();
});

Deno.test("tf.random.uniform, normal, truncated_normal, gamma and uniform int32 in a traced function follow their distributions (mean and standard deviation over 20000 samples)", () => {
  const n = 20000;
  const f = tfFunction((x: tf.Tensor) => ({
    uniform: tf.add(x, v1.randomUniform([n], 2, 5) as never), // mean 3.5, std 3/√12
    normal: v1.randomNormal([n], 1, 2), // mean 1, std 2
    truncated: v1.truncatedNormal([n], 0, 1), // within ±2, std 0.8796
    gamma: v1.randomGamma([n], 3, 2), // mean α/β = 1.5, std √α/β = 0.866
    ints: v1.randomUniform([n], -3, 3, "int32"), // -3..2, mean -0.5, std √(35/12)
  }));
  const x = tf.zeros([n]);
  const r = f(x) as unknown as Record<string, tf.Tensor>;
  const check = (name: string, want: [number, number]) => {
    const xs = values(r[name]);
    const tol = 0.05 * want[1]; // about 7 standard errors of the mean
    assert.ok(Math.abs(mean(xs) - want[0]) < tol, `${name} mean ${mean(xs)} ≈ ${want[0]}`);
    assert.ok(Math.abs(std(xs) - want[1]) < 0.05 * want[1], `${name} std ${std(xs)} ≈ ${want[1]}`);
    return xs;
  };
  const u = check("uniform", [3.5, 3 / Math.sqrt(12)]);
  assert.ok(u.every((v) => v >= 2 && v < 5));
  check("normal", [1, 2]);
  assert.ok(check("truncated", [0, 0.8796]).every((v) => Math.abs(v) <= 2));
  check("gamma", [1.5, Math.sqrt(3) / 2]);
  const ints = check("ints", [-0.5, Math.sqrt(35 / 12)]);
  assert.equal(r.ints.dtype, "int32");
  assert.deepEqual([...new Set(ints)].sort((p, q) => p - q), [-3, -2, -1, 0, 1, 2]);
  tf.dispose([...Object.values(r), x]);
  f.dispose();
});

Deno.test("tf.nn.dropout in a traced function: a new mask at every call, kept elements scaled by 1/(1 - rate), about rate of them zeroed, for any batch size (noise_shape None dims from x)", () => {
  const f = tfFunction((x: tf.Tensor) => v1.dropout(x, 0.25), {
    inputSignature: [{ shape: [null, 1000] }],
  });
  const masks: number[][] = [];
  for (const batch of [2, 3]) {
    const x = tf.ones([batch, 1000]);
    const y = f(x) as tf.Tensor;
    assert.deepEqual(y.shape, [batch, 1000]);
    const ys = values(y);
    assert.ok(ys.every((v) => v === 0 || Math.abs(v - 4 / 3) < 1e-6), "0 or 1/(1 - rate)");
    const dropped = ys.filter((v) => v === 0).length / ys.length;
    assert.ok(Math.abs(dropped - 0.25) < 0.04, `dropped ${dropped} ≈ 0.25`);
    masks.push(ys.slice(0, 1000));
    tf.dispose([x, y]);
  }
  assert.notDeepEqual(masks[0], masks[1]);
  assert.equal(f.traceCount, 1);
  // noise_shape [null, 1]: one draw per row, shared along the row (TF's noise_shape broadcast).
  const rows = tfFunction((x: tf.Tensor) => v1.dropout(x, 0.5, [null, 1]), {
    inputSignature: [{ shape: [null, 8] }],
  });
  const x = tf.ones([64, 8]);
  const y = rows(x) as tf.Tensor;
  const ys = y.arraySync() as number[][];
  assert.ok(ys.every((row) => row.every((v) => v === row[0])), "one mask value per row");
  assert.ok(ys.some((row) => row[0] === 0) && ys.some((row) => row[0] === 2));
  tf.dispose([x, y]);
  f.dispose();
  rows.dispose();
});

Deno.test("tf.function: gradients flow around, not through, a random draw: d/dx of sum(dropout(x)) is that call's scaled mask, d/dmean and d/dstddev of mean + stddev·z are n and Σz (random ops have no gradient)", () => {
  const mu = tf.variable(tf.scalar(1));
  const sigma = tf.variable(tf.scalar(2));
  const f = tfFunction((x: tf.Tensor) => {
    const tape = new GradientTape({ persistent: true });
    tape.watch(x);
    // The sums are taken inside record: TF's tape records only the ops run inside it.
    const [y, z, sy, sz] = tape.record(() => {
      const y = v1.dropout(x, 0.5) as unknown as tf.Tensor;
      const z = v1.randomNormal([50], mu as never, sigma as never) as unknown as tf.Tensor;
      return [y, z, tf.sum(y), tf.sum(z)];
    });
    const dx = tape.gradient(sy, x) as tf.Tensor;
    const [dmu, dsigma] = tape.gradient(sz, [mu, sigma]) as tf.Tensor[];
    return { y, dx, z, dmu, dsigma };
  });
  const x = tf.fill([200], 3);
  for (let call = 0; call < 2; call++) {
    const r = f(x) as unknown as Record<string, tf.Tensor>;
    // y = 3·mask·2 and dy/dx = mask·2: the mask of the same call.
    assert.deepEqual(values(r.dx), values(r.y).map((v) => v / 3));
    assert.ok(values(r.dx).some((v) => v === 0) && values(r.dx).some((v) => v === 2));
    assert.equal(values(r.dmu)[0], 50);
    const zs = values(r.z).map((v) => (v - 1) / 2); // the standard normal draws
    assert.ok(Math.abs(values(r.dsigma)[0] - zs.reduce((a, b) => a + b, 0)) < 1e-3);
    tf.dispose(Object.values(r));
  }
  // The draws themselves are not differentiable (TF registers no gradient): gradients stop there.
  for (
    const type of ["RandomUniform", "RandomUniformInt", "RandomStandardNormal", "TruncatedNormal"]
  ) {
    assert.equal(v1.gradFns[type], null, type);
  }
  tf.dispose([x, mu, sigma]);
  f.dispose();
});

Deno.test("tf.random op seeds without a global seed (tf.random.set_seed's rule 3): a seeded op in a traced function gives new values at every call, and a new trace gives the same sequence again", () => {
  const make = () =>
    tfFunction((x: tf.Tensor) => tf.add(x, v1.randomNormal([5], 0, 1, "float32", 7) as never));
  const [f, g] = [make(), make()];
  const x = tf.zeros([5]);
  const seq = (h: typeof f) =>
    [0, 1, 2].map(() => {
      const y = h(x) as tf.Tensor;
      const v = values(y);
      y.dispose();
      return v;
    });
  const [a, b] = [seq(f), seq(g)];
  assert.deepEqual(a, b);
  assert.notDeepEqual(a[0], a[1]);
  assert.notDeepEqual(a[1], a[2]);
  tf.dispose(x);
  f.dispose();
  g.dispose();
});

Deno.test("tf.keras.layers.Dropout in a tf.function: with training true a new mask at every call; with training false (the default) the identity", () => {
  const model = tf.sequential({
    layers: [
      tf.layers.dense({ units: 400, inputShape: [3], kernelInitializer: "ones", useBias: false }),
      tf.layers.dropout({ rate: 0.5 }),
    ],
  });
  const train = tfFunction((x: tf.Tensor) => model.apply(x, { training: true }) as tf.Tensor, {
    inputSignature: [{ shape: [null, 3] }],
  });
  const infer = tfFunction((x: tf.Tensor) => model.apply(x) as tf.Tensor);
  const x = tf.ones([2, 3]);
  const [a, b, c] = [train(x), train(x), infer(x)] as tf.Tensor[];
  assert.notDeepEqual(values(a), values(b));
  for (const y of [a, b]) {
    assert.ok(values(y).every((v) => v === 0 || Math.abs(v - 6) < 1e-5), "0 or 3·2");
    const dropped = values(y).filter((v) => v === 0).length / 800;
    assert.ok(Math.abs(dropped - 0.5) < 0.1, `dropped ${dropped}`);
  }
  assert.ok(values(c).every((v) => v === 3));
  assert.equal(train.traceCount, 1);
  tf.dispose([a, b, c, x]);
  train.dispose();
  infer.dispose();
  model.dispose();
});

Deno.test("tf.function: tfjs's tf.randomUniform, randomNormal, truncatedNormal, randomGamma, randomStandardNormal and tf.dropout inside a trace raise RandomOpInTraceError naming the op and its v1 graph op (they would draw only once), leaving no tensors and the engine as it was", () => {
  const eng = tf.engine() as unknown as Record<string, unknown>;
  const hooks = [eng.startScope, eng.endScope, eng.runKernel];
  const cases: [string, string, (x: tf.Tensor) => tf.Tensor][] = [
    ["tf.randomUniform", "v1.randomUniform", (x) => x.add(tf.randomUniform([3]))],
    ["tf.randomNormal", "v1.randomNormal", (x) => x.mul(tf.randomNormal([3], 0, 2))],
    ["tf.truncatedNormal", "v1.truncatedNormal", (x) => x.sub(tf.truncatedNormal([3]))],
    ["tf.randomGamma", "v1.randomGamma", (x) => x.add(tf.randomGamma([3], 2))],
    [
      "tf.randomStandardNormal",
      "v1.randomStandardNormal",
      (x) => x.add(tf.randomStandardNormal([3]).mul(2)),
    ],
    ["tf.dropout", "v1.dropout", (x) => tf.dropout(x, 0.5)],
  ];
  const x = tf.ones([3]);
  const before = tf.memory().numTensors;
  for (const [op, instead, fn] of cases) {
    const f = tfFunction(fn);
    for (let i = 0; i < 2; i++) {
      assert.throws(() => f(x), (e: Error) => {
        assert.ok(e instanceof RandomOpInTraceError && e instanceof v1.GraphError, e.message);
        assert.equal((e as RandomOpInTraceError).op, op);
        assert.ok(e.message.includes(instead) && e.message.includes("pass the tensor in"));
        return true;
      });
    }
    assert.equal(tf.memory().numTensors, before, `${op}: no tensors left`);
  }
  // A draw returned as it is, or assigned to a Variable, would be a constant of the graph too.
  const v = tf.variable(tf.zeros([3]));
  const returned = tfFunction((t: tf.Tensor) => [t.add(1), tf.randomNormal([3])]);
  const assigned = tfFunction((t: tf.Tensor) => {
    v.assign(tf.randomNormal([3]));
    return t.add(v);
  });
  for (const f of [returned, assigned]) assert.throws(() => f(x), RandomOpInTraceError);
  v.dispose();
  // An unknown batch size: tf.dropout cannot even draw its mask, and says so.
  const g = tfFunction((t: tf.Tensor) => tf.dropout(t, 0.5), {
    inputSignature: [{ shape: [null, 3] }],
  });
  const x23 = tf.ones([2, 3]);
  assert.throws(() => g(x23), RandomOpInTraceError);
  // Keras's other noise layers draw with tfjs's ops: refused in training mode.
  const noisy = tf.sequential({
    layers: [tf.layers.gaussianNoise({ stddev: 1, inputShape: [3] })],
  });
  const h = tfFunction((t: tf.Tensor) => noisy.apply(t, { training: true }) as tf.Tensor);
  assert.throws(() => h(x23), RandomOpInTraceError);
  assert.deepEqual([eng.startScope, eng.endScope, eng.runKernel], hooks);
  tf.dispose([x, x23]);
  noisy.dispose();
});

Deno.test("tf.function: a tfjs random draw that only initializes a tf.Variable created by the first trace is allowed (TF runs variable initializers once), and the variable keeps its value across calls", () => {
  let w: tf.Variable | undefined;
  const f = tfFunction((x: tf.Tensor) => {
    w ??= tf.variable(tf.randomNormal([3], 0, 1, "float32", 5));
    return x.mul(w);
  });
  const x = tf.ones([3]);
  const [a, b] = [f(x), f(x)] as tf.Tensor[];
  assert.deepEqual(values(a), values(b));
  assert.deepEqual(values(a), values(w));
  tf.dispose([a, b, x, w!]);
  f.dispose();
});

Deno.test("tf.function with random ops: tf.memory().numTensors is flat across calls (draws, dropout layer, gradient)", () => {
  const model = tf.sequential({
    layers: [tf.layers.dense({ units: 8, inputShape: [4] }), tf.layers.dropout({ rate: 0.3 })],
  });
  const f = tfFunction((x: tf.Tensor) => {
    const tape = new GradientTape();
    const loss = tape.record(() =>
      tf.mean(
        tf.square(
          tf.add(
            model.apply(x, { training: true }) as tf.Tensor,
            v1.randomNormal([8], 0, 1, "float32", 1) as never,
          ),
        ),
      )
    );
    return tape.gradient(
      loss,
      model.trainableWeights.map((w) => (w as unknown as { read(): tf.Variable }).read()),
    ) as tf.Tensor[];
  });
  const x = tf.ones([5, 4]);
  tf.dispose(f(x) as tf.Tensor[]); // the trace
  const before = tf.memory().numTensors;
  for (let i = 0; i < 5; i++) tf.dispose(f(x) as tf.Tensor[]);
  assert.equal(tf.memory().numTensors, before);
  tf.dispose(x);
  f.dispose();
  model.dispose();
});

Deno.test("v1 random ops in a TF1 Session draw anew at every sess.run (TF1's tf.random.uniform without seeds)", () => {
  const g = new v1.Graph();
  const z = g.asDefault(() => v1.randomUniform([4], -1, 1));
  const sess = new v1.Session(g);
  const [a, b] = [sess.run(z), sess.run(z)] as unknown as number[][];
  assert.notDeepEqual(a, b);
  assert.ok([...a, ...b].every((v) => v >= -1 && v < 1));
  sess.close();
  g.dispose();
});

Deno.test("v1 random ops refuse what TF refuses: a bad shape, an int32 draw without integer bounds, a dropout rate outside [0, 1)", () => {
  const g = new v1.Graph();
  g.asDefault(() => {
    assert.throws(() => v1.randomUniform([2, -1]), v1.GraphError);
    assert.throws(() => v1.randomUniform([2], 0, 1.5, "int32"), v1.GraphError);
    assert.throws(() => v1.randomNormal([2], 0, 1, "int32"), v1.GraphError);
    assert.throws(() => v1.dropout(v1.placeholder("float32", [2]), 1), v1.GraphError);
  });
  g.dispose();
});

Deno.test("tf.function: differentiating a cond or a nested traced function that draws inside raises a GraphError (their gradients run them again, which would differentiate other draws than the forward pass's)", () => {
  const inner = tfFunction((x: tf.Tensor) => v1.dropout(x, 0.5) as unknown as tf.Tensor);
  const viaCall = tfFunction((x: tf.Tensor) => {
    const tape = new GradientTape();
    tape.watch(x);
    const y = tape.record(() => tf.sum(inner(x)));
    return tape.gradient(y, x) as tf.Tensor;
  }, { autograph: false });
  const viaCond = tfFunction((x: tf.Tensor) => {
    const tape = new GradientTape();
    tape.watch(x);
    const s = x as unknown as v1.SymbolicTensor;
    const y = tape.record(() =>
      v1.reduceSum(v1.cond(v1.greater(v1.reduceSum(s), 0), () => v1.dropout(s, 0.5), () => s))
    );
    return tape.gradient(y as unknown as tf.Tensor, x) as tf.Tensor;
  }, { autograph: false });
  const x = tf.ones([4]);
  tf.dispose(inner(x)); // traced once: its graph keeps its constants until inner.dispose()
  const before = tf.memory().numTensors;
  for (const f of [viaCall, viaCond, viaCall]) {
    assert.throws(
      () => f(x),
      (e: Error) =>
        e instanceof v1.GraphError && /draws random numbers .*RandomUniform/.test(e.message),
    );
  }
  assert.equal(tf.memory().numTensors, before);
  tf.dispose(x);
  inner.dispose();
});

Deno.test("tf.keras.layers.Dropout with a seed (the project's seededDropout) in a tf.function: a new mask at every call with training true, kept elements scaled by 1/(1 - rate)", () => {
  const layer = seededDropout({ rate: 0.5, seed: 3 });
  const train = tfFunction((x: tf.Tensor) => layer.apply(x, { training: true }) as tf.Tensor);
  const x = tf.ones([4, 200]);
  const [a, b] = [train(x), train(x)] as tf.Tensor[];
  assert.notDeepEqual(values(a), values(b));
  for (const y of [a, b]) {
    assert.ok(values(y).every((v) => v === 0 || v === 2), "0 or 1/(1 - 0.5)");
    const dropped = values(y).filter((v) => v === 0).length / 800;
    assert.ok(Math.abs(dropped - 0.5) < 0.1, `dropped ${dropped}`);
  }
  assert.equal(train.traceCount, 1);
  tf.dispose([a, b, x]);
  train.dispose();
});
