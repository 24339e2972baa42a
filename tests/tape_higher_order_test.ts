/**
 * Higher-order gradients through nested GradientTapes ("Advanced automatic
 * differentiation": higher-order gradients, Hessian-vector products), for every
 * differentiable op the notebooks and models use. Each Hessian-vector product
 * is checked against central finite differences of the first derivative and,
 * for the ops v1 graphs have, against `v1.gradients` of `v1.gradients`.
 */
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../lib/backend.ts";
import { GradientTape } from "../lib/tape.ts";
import * as v1 from "../lib/v1/mod.ts";

await initBackend();

type E = tf.Tensor;
type G = v1.SymbolicTensor;

function close(actual: ArrayLike<number>, expected: ArrayLike<number>, what: string, tol = 2e-2) {
  assert.equal(actual.length, expected.length, `${what}: length`);
  for (let i = 0; i < expected.length; i++) {
    const scale = Math.max(1, Math.abs(expected[i]));
    assert.ok(
      Math.abs(actual[i] - expected[i]) <= tol * scale,
      `${what}[${i}]: ${actual[i]} vs ${expected[i]}`,
    );
  }
}

/** d/dx of `f` at `x` by nested tapes: returns [f'(x), f''(x)] for a scalar x. */
function firstAndSecond(f: (x: E) => E, at: number): [number, number] {
  const x = tf.scalar(at);
  const outer = new GradientTape();
  outer.watch(x);
  const d1 = outer.record(() => {
    const inner = new GradientTape();
    inner.watch(x);
    const y = inner.record(() => f(x));
    return inner.gradient(y, x)!;
  });
  const d2 = outer.gradient(d1, x);
  assert.ok(d2 !== null, "the second derivative is not None (TensorFlow gives a value)");
  const out: [number, number] = [d1.dataSync()[0], d2.dataSync()[0]];
  tf.dispose([x, d1, d2]);
  return out;
}

const sigma = (x: number) => 1 / (1 + Math.exp(-x));

Deno.test("nested tapes: d²/dx² eˣ = eˣ (TF's higher-order gradients; exp's gradient reuses its output)", () => {
  for (const at of [-1, 0, 1.5]) {
    const [d1, d2] = firstAndSecond((x) => x.exp(), at);
    close([d1, d2], [Math.exp(at), Math.exp(at)], `exp at ${at}`, 1e-4);
  }
});

Deno.test("nested tapes: d²/dx² sin(x)·eˣ = 2cos(x)·eˣ (closed form)", () => {
  for (const at of [-0.7, 0.3, 1]) {
    const [d1, d2] = firstAndSecond((x) => x.sin().mul(x.exp()), at);
    const e = Math.exp(at);
    close([d1, d2], [(Math.sin(at) + Math.cos(at)) * e, 2 * Math.cos(at) * e], `at ${at}`, 1e-4);
  }
});

Deno.test("nested tapes: softplus'' = σ(x)(1 − σ(x)) > 0, sigmoid'' = σ(1−σ)(1−2σ), tanh'' = −2 tanh·(1 − tanh²)", () => {
  for (const at of [-2, -0.5, 0.8]) {
    const s = sigma(at), t = Math.tanh(at);
    close(firstAndSecond((x) => tf.softplus(x), at), [s, s * (1 - s)], `softplus ${at}`, 1e-4);
    close(
      firstAndSecond((x) => x.sigmoid(), at),
      [s * (1 - s), s * (1 - s) * (1 - 2 * s)],
      `sigmoid ${at}`,
      1e-4,
    );
    close(
      firstAndSecond((x) => x.tanh(), at),
      [1 - t * t, -2 * t * (1 - t * t)],
      `tanh ${at}`,
      1e-4,
    );
  }
});

Deno.test("nested tapes: log'' = −1/x², sqrt'' = −x^(−3/2)/4, (x^2.5)'' = 3.75·x^0.5 (pow reuses its output)", () => {
  for (const at of [0.5, 2]) {
    close(firstAndSecond((x) => x.log(), at), [1 / at, -1 / (at * at)], `log ${at}`, 1e-4);
    close(
      firstAndSecond((x) => x.sqrt(), at),
      [0.5 / Math.sqrt(at), -0.25 * at ** -1.5],
      `sqrt ${at}`,
      1e-4,
    );
    close(
      firstAndSecond((x) => x.pow(tf.scalar(2.5)), at),
      [2.5 * at ** 1.5, 3.75 * at ** 0.5],
      `pow ${at}`,
      1e-4,
    );
    // d²/dy² 2^y = ln(2)² 2^y: the exponent's gradient uses pow's output.
    close(
      firstAndSecond((y) => tf.pow(tf.scalar(2), y), at),
      [Math.LN2 * 2 ** at, Math.LN2 ** 2 * 2 ** at],
      `2^y ${at}`,
      1e-4,
    );
  }
});

Deno.test("Hessian-vector product of tanh(Wx) summed, nested tapes (Advanced autodiff: Hessian-vector products)", () => {
  const W = tf.tensor2d([[0.5, -1, 0.3], [1.2, 0.1, -0.4]]);
  const x = tf.tensor1d([0.2, -0.3, 0.9]);
  const v = tf.tensor1d([1, 0.5, -2]);
  const before = tf.memory().numTensors;
  const outer = new GradientTape();
  outer.watch(x);
  const g = outer.record(() => {
    const inner = new GradientTape();
    inner.watch(x);
    const y = inner.record(() => W.matMul(x.reshape([3, 1])).tanh().sum());
    return inner.gradient(y, x)!;
  });
  const hv = outer.gradient(g, x, { outputGradients: v })!;
  // Closed form: H = Wᵀ diag(−2 t (1 − t²)) W with t = tanh(Wx).
  const Wa = W.arraySync() as number[][],
    xa = x.arraySync() as number[],
    va = v.arraySync() as number[];
  const z = Wa.map((row) => row.reduce((s, w, j) => s + w * xa[j], 0));
  const d = z.map((zi) => -2 * Math.tanh(zi) * (1 - Math.tanh(zi) ** 2));
  const Wv = Wa.map((row) => row.reduce((s, w, j) => s + w * va[j], 0));
  const want = [0, 1, 2].map((j) => Wa.reduce((s, row, i) => s + row[j] * d[i] * Wv[i], 0));
  close(hv.dataSync(), want, "Hv", 1e-4);
  tf.dispose([g, hv]);
  assert.equal(tf.memory().numTensors, before, "no tensors left behind");
  tf.dispose([W, x, v]);
});

/** One op under test: eager and (where v1 has the op) graph versions of the same function. */
interface Case {
  name: string;
  shapes: number[][];
  positive?: boolean;
  eager: (...xs: E[]) => E;
  graph?: (...xs: G[]) => G;
}

const labels = tf.tensor2d([[0, 1, 0], [0.2, 0.3, 0.5]]);
const binary = tf.tensor2d([[0, 1, 1], [1, 0, 1]]);

const cases: Case[] = [
  { name: "exp", shapes: [[5]], eager: (x) => x.exp(), graph: (x) => v1.exp(x) },
  { name: "log", shapes: [[5]], positive: true, eager: (x) => x.log(), graph: (x) => v1.log(x) },
  { name: "tanh", shapes: [[5]], eager: (x) => x.tanh(), graph: (x) => v1.tanh(x) },
  { name: "sigmoid", shapes: [[5]], eager: (x) => x.sigmoid(), graph: (x) => v1.sigmoid(x) },
  { name: "softplus", shapes: [[5]], eager: (x) => tf.softplus(x) },
  {
    name: "softmax",
    shapes: [[2, 3]],
    eager: (x) => tf.softmax(x),
    graph: (x) => v1.softmax(x),
  },
  {
    name: "logSoftmax",
    shapes: [[2, 3]],
    eager: (x) => tf.logSoftmax(x),
    graph: (x) => v1.logSoftmax(x),
  },
  { name: "relu", shapes: [[6]], eager: (x) => x.relu(), graph: (x) => v1.relu(x) },
  { name: "sqrt", shapes: [[5]], positive: true, eager: (x) => x.sqrt(), graph: (x) => v1.sqrt(x) },
  { name: "square", shapes: [[5]], eager: (x) => x.square(), graph: (x) => v1.square(x) },
  {
    name: "pow (base and exponent)",
    shapes: [[4], [4]],
    positive: true,
    eager: (a, b) => tf.pow(a, b),
  },
  {
    name: "matMul",
    shapes: [[2, 3], [3, 2]],
    eager: (a, b) => tf.matMul(a, b),
    graph: (a, b) => v1.matMul(a, b),
  },
  {
    name: "fused matMul + bias + relu (tf.fused.matMul, a custom-gradient op)",
    shapes: [[2, 3], [3, 4], [4]],
    eager: (a, b, bias) => tf.fused.matMul({ a, b, bias, activation: "relu" }),
  },
  {
    name: "conv2d (input and filter)",
    shapes: [[1, 4, 4, 2], [2, 2, 2, 3]],
    eager: (x, w) => tf.conv2d(x as tf.Tensor4D, w as tf.Tensor4D, 1, "same"),
  },
  {
    name: "conv2d stride 2",
    shapes: [[1, 5, 5, 1], [3, 3, 1, 2]],
    eager: (x, w) => tf.conv2d(x as tf.Tensor4D, w as tf.Tensor4D, 2, "valid"),
  },
  {
    name: "maxPool",
    shapes: [[1, 4, 4, 2]],
    eager: (x) => tf.maxPool(x as tf.Tensor4D, 2, 2, "valid"),
  },
  {
    name: "maxPool 3×3, stride 1, same padding (overlapping windows)",
    shapes: [[1, 4, 5, 2]],
    eager: (x) => tf.maxPool(x as tf.Tensor4D, 3, 1, "same"),
  },
  {
    name: "avgPool 3×3, stride 2, same padding",
    shapes: [[1, 5, 5, 2]],
    eager: (x) => tf.avgPool(x as tf.Tensor4D, 3, 2, "same"),
  },
  {
    name: "avgPool",
    shapes: [[1, 4, 4, 2]],
    eager: (x) => tf.avgPool(x as tf.Tensor4D, 2, 2, "valid"),
  },
  { name: "sum", shapes: [[3, 4]], eager: (x) => x.sum(1), graph: (x) => v1.reduceSum(x, 1) },
  { name: "mean", shapes: [[3, 4]], eager: (x) => x.mean(0), graph: (x) => v1.reduceMean(x, 0) },
  { name: "max", shapes: [[3, 4]], eager: (x) => x.max(1), graph: (x) => v1.reduceMax(x, 1) },
  {
    name: "softmaxCrossEntropy loss",
    shapes: [[2, 3]],
    eager: (x) => tf.losses.softmaxCrossEntropy(labels, x),
    graph: (x) => v1.reduceMean(v1.softmaxCrossEntropyWithLogits(v1.constant(labels), x)),
  },
  {
    name: "sigmoidCrossEntropy loss",
    shapes: [[2, 3]],
    eager: (x) => tf.losses.sigmoidCrossEntropy(binary, x),
  },
  {
    name: "meanSquaredError loss",
    shapes: [[2, 3]],
    eager: (x) => tf.losses.meanSquaredError(labels, x),
  },
  {
    name: "huberLoss",
    shapes: [[2, 3]],
    eager: (x) => tf.losses.huberLoss(labels, x, undefined, 0.5),
  },
  {
    name: "logLoss",
    shapes: [[2, 3]],
    eager: (x) => tf.losses.logLoss(binary, x.sigmoid()),
  },
];

/** F(xs) = Σ w·f(xs) + ½ Σ f(xs)²: both the op's second derivative and its gradient's `dy` path matter. */
function objective(f: E, w: E): E {
  return tf.add(tf.sum(tf.mul(w, f)), tf.mul(0.5, tf.sum(tf.square(f))));
}

function firstGrad(c: Case, xs: E[], w: E): Float32Array[] {
  const tape = new GradientTape();
  tape.watch(xs);
  const y = tape.record(() => objective(c.eager(...xs), w));
  const gs = tape.gradient(y, xs);
  const out = gs.map((g) => Float32Array.from(g!.dataSync()));
  tf.dispose([y, ...gs.map((g) => g!)]);
  return out;
}

function hvpByTapes(c: Case, xs: E[], w: E, vs: E[]): Float32Array[] {
  const outer = new GradientTape();
  outer.watch(xs);
  const gs = outer.record(() => {
    const inner = new GradientTape();
    inner.watch(xs);
    const y = inner.record(() => objective(c.eager(...xs), w));
    return inner.gradient(y, xs).map((g) => g!);
  });
  const hv = outer.gradient(gs, xs, { outputGradients: vs });
  const out = hv.map((h, i) => {
    assert.ok(h !== null, `${c.name}: second derivative w.r.t. input ${i} is not None`);
    return Float32Array.from(h.dataSync());
  });
  tf.dispose([...gs, ...hv.map((h) => h!)]);
  return out;
}

function hvpByFiniteDifferences(c: Case, xs: E[], w: E, vs: E[], h: number): Float32Array[] {
  const shifted = (s: number) => {
    const moved = xs.map((x, i) => tf.add(x, tf.mul(vs[i], s)));
    const g = firstGrad(c, moved, w);
    tf.dispose(moved);
    return g;
  };
  const plus = shifted(h), minus = shifted(-h);
  return plus.map((p, i) => p.map((pv, j) => (pv - minus[i][j]) / (2 * h)));
}

function hvpByGraph(c: Case, xs: E[], w: E, vs: E[]): Float32Array[] {
  const g = new v1.Graph();
  const { ps, hv } = g.asDefault(() => {
    const ps = xs.map((x, i) => v1.placeholder("float32", x.shape, `x${i}`));
    const f = c.graph!(...ps);
    const F = v1.add(
      v1.reduceSum(v1.mul(v1.constant(w), f)),
      v1.mul(v1.constant(0.5), v1.reduceSum(v1.square(f))),
    );
    const gs = v1.gradients(F, ps).map((d) => d!);
    const dot = v1.addN(gs.map((d, i) => v1.reduceSum(v1.mul(d, v1.constant(vs[i])))));
    return { ps, hv: v1.gradients(dot, ps).map((d) => d!) };
  });
  const sess = new v1.Session(g);
  const got = sess.run(hv, new Map(ps.map((p, i) => [p, xs[i]]))) as unknown[];
  sess.close();
  g.dispose();
  return got.map((a) => Float32Array.from([a].flat(4) as number[]));
}

for (const [k, c] of cases.entries()) {
  Deno.test(
    `Hessian-vector product through ${c.name} by nested tapes matches finite differences of the gradient${
      c.graph ? " and v1.gradients of v1.gradients" : ""
    }`,
    () => {
      const xs = c.shapes.map((s, i) =>
        c.positive
          ? tf.randomUniform(s, 0.5, 2, "float32", 10 * k + i)
          : tf.randomNormal(s, 0, 1, "float32", 10 * k + i)
      );
      const vs = c.shapes.map((s, i) => tf.randomNormal(s, 0, 1, "float32", 1000 + 10 * k + i));
      const w = tf.randomNormal(tf.tidy(() => c.eager(...xs).shape), 0, 1, "float32", 77 + k);
      const before = tf.memory().numTensors;
      const byTapes = hvpByTapes(c, xs, w, vs);
      assert.equal(tf.memory().numTensors, before, `${c.name}: nested tapes leave no tensors`);
      const byFd = hvpByFiniteDifferences(c, xs, w, vs, 1e-3);
      byTapes.forEach((h, i) =>
        close(h, byFd[i], `${c.name} Hv (input ${i}) vs finite differences`)
      );
      if (c.graph) {
        const byGraph = hvpByGraph(c, xs, w, vs);
        byTapes.forEach((h, i) => close(h, byGraph[i], `${c.name} Hv (input ${i}) vs v1`, 1e-3));
      }
      tf.dispose([...xs, ...vs, w]);
    },
  );
}

Deno.test("a user's tf.customGrad keeps its own gradient inside nested tapes (tf.custom_gradient)", () => {
  const square = tf.customGrad(
    ((x: E, save: tf.GradSaveFunc) => {
      save([x]);
      // a deliberately different gradient: 10·x instead of 2x
      return { value: x.square(), gradFunc: (dy: E, [s]: E[]) => dy.mul(s).mul(10) };
    }) as unknown as Parameters<typeof tf.customGrad>[0],
  );
  const x = tf.scalar(3);
  const outer = new GradientTape();
  outer.watch(x);
  const g = outer.record(() => {
    const inner = new GradientTape();
    inner.watch(x);
    const y = inner.record(() => square(x) as E);
    return inner.gradient(y, x)!;
  });
  assert.equal(g.dataSync()[0], 30);
  const h = outer.gradient(g, x)!;
  assert.equal(h.dataSync()[0], 10); // d/dx of the custom gradient 10·x
  tf.dispose([x, g, h]);
});

Deno.test("Hessian as the jacobian of a gradient (Advanced autodiff: Hessian): f = Σx³ + x₀x₁ gives diag(6x) + the x₀x₁ coupling", () => {
  const x = tf.tensor1d([1, -2, 0.5]);
  const before = tf.memory().numTensors;
  const outer = new GradientTape();
  outer.watch(x);
  const g = outer.record(() => {
    const inner = new GradientTape();
    inner.watch(x);
    const f = inner.record(() =>
      x.pow(tf.scalar(3)).sum().add(x.slice(0, 1).mul(x.slice(1, 1)).sum())
    );
    return inner.gradient(f, x)!;
  });
  const h = outer.jacobian(g, x)!;
  assert.deepEqual(h.shape, [3, 3]);
  close(h.dataSync(), [6, 1, 0, 1, -12, 0, 0, 0, 3], "Hessian", 1e-4);
  tf.dispose([g, h]);
  assert.equal(tf.memory().numTensors, before);
  x.dispose();
});
