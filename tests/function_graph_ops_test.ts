// tfjs's functional ops inside traced functions, written from TensorFlow's guides "Better
// performance with tf.function" and "Introduction to graphs and tf.function" (every TensorFlow
// op called while tracing is deferred into the graph) and the gradients of math_grad.py and
// array_grad.py. Each op is checked against the same op run eagerly.
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../lib/backend.ts";
import { tensorSpec, tfFunction } from "../lib/function.ts";
import { GradientTape } from "../lib/tape.ts";
import * as v1 from "../lib/v1/mod.ts";
import { opTypes, sameAsEager, value } from "./_graph_ops.ts";

await initBackend();

Deno.test("tf.function: the guides' examples trace with their tf.* ops as graph ops — my_relu (tf.maximum), get_MSE (tf.pow, tf.mean), next_collatz (tf.where) — and match eager", () => {
  const xs = [tf.tensor([5.5, -1, 0]), tf.tensor([-3, 3, 2])];
  sameAsEager("my_relu", (x) => tf.maximum(0, x), "Maximum", xs);
  sameAsEager("get_MSE", (x) => tf.mean(tf.pow(tf.sub(x, tf.tensor([1, 2, 3])), 2)), "Pow", xs);
  // input_signature=(tf.TensorSpec(shape=[3], dtype=tf.int32),): tfjs's tf.where broadcasts
  // its operands' static shapes before its kernel runs, so here the length must be known.
  const collatz = (x: tf.Tensor) =>
    tf.where(tf.equal(tf.mod(x, 2), 0), tf.floorDiv(x, 2), tf.add(tf.mul(x, 3), 1));
  const f = tfFunction(collatz, { inputSignature: [tensorSpec([3], "int32")] });
  for (
    const x of [tf.tensor([1, 2, 3], undefined, "int32"), tf.tensor([7, 8, 9], undefined, "int32")]
  ) {
    const r = f(x) as tf.Tensor;
    const eager = tf.tidy(() => collatz(x));
    assert.deepEqual(value(r), value(eager));
    tf.dispose([r, x, eager]);
  }
  assert.equal(f.traceCount, 1);
  assert.ok(opTypes(f).includes("SelectV2"));
  f.dispose();
  tf.dispose(xs);
});

Deno.test("tf.function: common tf.* ops (concat, stack, split, unstack, slice, pad, tile, reverse, gather, oneHot, clipByValue, minimum, squaredDifference, floor, ceil, round, rsqrt, reciprocal, sin, cos, softplus, elu, leakyRelu, min, losses.meanSquaredError) are graph ops run at every call, matching eager", () => {
  const xs = [tf.tensor([[1, -2, 0.5], [3, 0, -1.5]]), tf.tensor([[-4, 2.5, 1], [0.25, 7, -1]])];
  const idx = tf.tensor1d([1, 1, 0], "int32");
  const cases: [string, (x: tf.Tensor) => tf.Tensor, string][] = [
    ["tf.concat", (x) => tf.concat([x, tf.square(x)], 1), "ConcatV2"],
    ["tf.concat axis -1", (x) => tf.concat([x, x], -1), "ConcatV2"],
    ["tf.stack", (x) => tf.stack([x, tf.sin(x)], 1), "ConcatV2"],
    ["tf.slice", (x) => tf.slice(x, [0, 1], [2, 2]), "Slice"],
    ["tf.slice to the end", (x) => tf.slice(x, 1), "Slice"],
    ["tf.pad", (x) => tf.pad(x, [[1, 0], [0, 2]], 5), "PadV2"],
    ["tf.tile", (x) => tf.tile(x, [2, 3]), "Tile"],
    ["tf.gather rows", (x) => tf.gather(x, idx), "GatherV2"],
    [
      "tf.gather axis 1",
      (x) => tf.gather(x, tf.tensor2d([[2, 0], [1, 1]], undefined, "int32"), 1),
      "GatherV2",
    ],
    ["tf.oneHot", (x) => tf.oneHot(tf.reshape(tf.cast(tf.abs(x), "int32"), [-1]), 8), "OneHot"],
    [
      "tf.oneHot on/off values",
      (x) => tf.oneHot(tf.reshape(tf.cast(tf.abs(x), "int32"), [-1]), 8, 2, -1),
      "OneHot",
    ],
    ["tf.clipByValue", (x) => tf.clipByValue(x, -1, 1), "Minimum"],
    ["tf.minimum", (x) => tf.minimum(x, tf.tensor([0, 1, 2])), "Minimum"],
    ["tf.squaredDifference", (x) => tf.squaredDifference(x, 1), "SquaredDifference"],
    ["tf.floor", (x) => tf.floor(x), "Floor"],
    ["tf.ceil", (x) => tf.ceil(x), "Ceil"],
    ["tf.round", (x) => tf.round(x), "Round"],
    ["tf.rsqrt", (x) => tf.rsqrt(tf.abs(x)), "Rsqrt"],
    ["tf.reciprocal", (x) => tf.reciprocal(x), "Reciprocal"],
    ["tf.sin", (x) => tf.sin(x), "Sin"],
    ["tf.cos", (x) => tf.cos(x), "Cos"],
    ["tf.softplus", (x) => tf.softplus(x), "Softplus"],
    ["tf.elu", (x) => tf.elu(x), "Elu"],
    ["tf.leakyRelu", (x) => tf.leakyRelu(x, 0.1), "LeakyRelu"],
    ["tf.reverse", (x) => tf.reverse(x, 1), "ReverseV2"],
    ["tf.reverse (all axes)", (x) => tf.reverse(x), "ReverseV2"],
    ["tf.split", (x) => tf.split(x, [1, -1], 1)[1], "Slice"],
    ["tf.split in equal parts", (x) => tf.split(x, 3, 1)[2], "Slice"],
    ["tf.unstack", (x) => tf.unstack(x, 1)[2], "Slice"],
    ["tf.min", (x) => tf.min(x, 1), "Max"],
    [
      "tf.losses.meanSquaredError",
      (x) => tf.losses.meanSquaredError(x, tf.onesLike(x)),
      "SquaredDifference",
    ],
  ];
  for (const [label, fn, type] of cases) sameAsEager(label, fn, type, xs);
  tf.dispose([...xs, idx]);
});

Deno.test("tf.function: tf.Tensor's methods on a traced tensor are its tf.* ops (every op called while tf.function traces is a graph op): x.pow, x.maximum, x.min, x.prod, x.squeeze, x.flatten, x.gather, x.where, x.toFloat, x.argMax and v1.argMax (axis 0 by default, as tf.math.argmax), ..., matching eager", () => {
  const xs = [tf.tensor([[1, -2, 0.5], [3, 0, -1.5]]), tf.tensor([[-4, 2.5, 1], [0.25, 7, -1]])];
  const cases: [string, (x: tf.Tensor) => tf.Tensor, string][] = [
    ["x.pow", (x) => x.pow(2), "Pow"],
    ["x.maximum", (x) => x.maximum(0), "Maximum"],
    ["x.minimum", (x) => x.minimum(tf.tensor([0, 1, 2])), "Minimum"],
    ["x.min", (x) => x.min(1), "Max"],
    ["x.prod", (x) => x.prod(), "Prod"],
    ["x.clipByValue", (x) => x.clipByValue(-1, 1), "Minimum"],
    ["x.squeeze", (x) => x.reshape([1, 6, 1]).squeeze(), "Reshape"],
    ["x.flatten", (x) => x.flatten(), "Reshape"],
    ["x.as1D", (x) => x.as1D(), "Reshape"],
    ["x.asScalar", (x) => x.sum().reshape([1, 1]).asScalar(), "Reshape"],
    ["x.reshapeAs", (x) => x.reshapeAs(tf.zeros([3, 2])), "Reshape"],
    ["x.sin", (x) => x.sin(), "Sin"],
    ["x.floor", (x) => x.floor(), "Floor"],
    ["x.squaredDifference", (x) => x.squaredDifference(1), "SquaredDifference"],
    ["x.mod", (x) => x.mod(2), "FloorMod"],
    ["x.tile", (x) => x.tile([2, 1]), "Tile"],
    ["x.slice", (x) => x.slice([0, 1], [2, 2]), "Slice"],
    ["x.concat", (x) => x.concat(x.neg(), 1), "ConcatV2"],
    ["x.gather", (x) => x.gather([1, 0, 1]), "GatherV2"],
    ["x.cumsum", (x) => x.cumsum(1), "Cumsum"],
    ["x.where", (x) => x.where(x.greater(0), x.mul(3)), "SelectV2"],
    ["x.toFloat", (x) => x.greaterEqual(0.5).toFloat(), "Cast"],
    ["x.argMin", (x) => x.argMin(1), "ArgMin"],
    ["x.argMax()", (x) => x.argMax(), "ArgMax"],
    ["x.logSumExp", (x) => x.logSumExp(1), "Exp"],
    ["x.norm", (x) => x.norm(), "Sqrt"],
    ["x.dot", (x) => x.dot(tf.tensor([[1, 0], [2, 1], [0, -1]])), "MatMul"],
    ["x.clone", (x) => x.clone(), "Identity"],
  ];
  for (const [label, fn, type] of cases) sameAsEager(label, fn, type, xs);
  // v1.argMax too: axis 0 by default (tf.math.argmax's axis=None).
  const f = tfFunction((t: tf.Tensor) => v1.argMax(t) as unknown as tf.Tensor, {
    autograph: false,
  });
  for (const x of xs) {
    const [traced, eager] = [f(x) as tf.Tensor, tf.argMax(x)];
    assert.deepEqual(value(traced), value(eager));
    tf.dispose([traced, eager]);
  }
  f.dispose();
  tf.dispose(xs);
});

Deno.test("tf.function: tf.squeeze, x.flatten and tf.fused.matMul on a tensor of unknown batch size trace once and serve every batch size (TF's reshape infers the one unknown dimension)", () => {
  const w = tf.tensor([[1, 0], [2, 1], [0, -1]]);
  const fns: [string, (x: tf.Tensor) => tf.Tensor][] = [
    ["tf.squeeze", (x) => tf.squeeze(tf.expandDims(x, 2), [2])],
    ["x.flatten", (x) => x.flatten()],
    ["tf.fused.matMul", (x) => tf.fused.matMul({ a: x, b: w, bias: tf.ones([2]) })],
  ];
  for (const [label, fn] of fns) {
    const f = tfFunction(fn, { inputSignature: [tensorSpec([null, 3])] });
    for (const n of [1, 4]) {
      const x = tf.randomNormal([n, 3], 0, 1, "float32", n);
      const [traced, eager] = [f(x) as tf.Tensor, tf.tidy(() => fn(x))];
      assert.deepEqual(traced.shape, eager.shape, `${label} on ${n}`);
      assert.deepEqual(value(traced), value(eager), `${label} on ${n}`);
      tf.dispose([x, traced, eager]);
    }
    assert.equal(f.traceCount, 1, label);
    f.dispose();
  }
  w.dispose();
});

Deno.test("tf.function: reading a traced tensor's value (x.dataSync(), x.arraySync(), x.data()) raises OperatorNotAllowedInGraphError (TF: a symbolic Tensor has no .numpy()); x.print() prints at every call as tf.print does; x.dispose() leaves the graph whole", () => {
  const x = tf.tensor([1, 2]);
  for (const read of [(t: tf.Tensor) => t.dataSync(), (t: tf.Tensor) => t.arraySync()]) {
    const f = tfFunction((t: tf.Tensor) => tf.tensor(read(t.square()) as number[]), {
      autograph: false,
    });
    const before = tf.memory().numTensors;
    for (let i = 0; i < 2; i++) {
      assert.throws(() => f(x), (e: Error) => e instanceof v1.OperatorNotAllowedInGraphError);
    }
    assert.equal(tf.memory().numTensors, before, "failing calls leak nothing");
    f.dispose();
  }
  const asyncRead = tfFunction((t: tf.Tensor) => t.data(), { autograph: false });
  assert.throws(() => asyncRead(x), v1.OperatorNotAllowedInGraphError);
  asyncRead.dispose();
  // print: at every call, with the call's values; dispose: nothing lost (eagerly it frees y).
  const lines: string[] = [];
  const log = console.log;
  console.log = (...a: unknown[]) => void lines.push(a.map(String).join(" "));
  const shown = (t: tf.Tensor) => {
    const y = t.mul(2);
    y.print();
    const z = y.add(1);
    y.dispose();
    return z;
  };
  const f = tfFunction(shown, { autograph: false });
  try {
    for (const v of [[1, 2], [5, 6]]) {
      const input = tf.tensor(v);
      const r = f(input) as tf.Tensor;
      assert.deepEqual(value(r), [2 * v[0] + 1, 2 * v[1] + 1]);
      tf.dispose([r, input]);
    }
  } finally {
    console.log = log;
  }
  assert.equal(f.traceCount, 1);
  assert.ok(lines.some((l) => l.includes("[2, 4]")), lines.join("\n"));
  assert.ok(lines.some((l) => l.includes("[10, 12]")), lines.join("\n"));
  f.dispose();
  x.dispose();
});

Deno.test("tf.function: tf.dispose of graph tensors inside a trace (as tfjs code and tf.layers' own intermediate results do) frees nothing of the graph: captured Variables and constants survive and every later call runs (the graph owns its tensors)", () => {
  const w = tf.variable(tf.tensor([2, 3]));
  const c = tf.tensor([10, 20]);
  const f = tfFunction((x: tf.Tensor) => {
    const a = tf.mul(x, w);
    const b = tf.add(a, c);
    const out = tf.sum(b);
    tf.dispose([a, b, { nested: [a] }]);
    a.dispose();
    return out;
  }, { autograph: false });
  for (let i = 0; i < 3; i++) {
    const r = f(tf.tensor([1, 1])) as tf.Tensor;
    assert.deepEqual(value(r), [35]);
    r.dispose();
  }
  assert.ok(!w.isDisposed && !c.isDisposed);
  assert.ok(tf.engine().registeredVariables[w.name] === w, "the Variable is still registered");
  assert.equal(f.traceCount, 1);
  f.dispose();
  tf.dispose([w, c]);
});

Deno.test("tf.function: tf.losses.absoluteDifference, huberLoss, logLoss, hingeLoss, sigmoidCrossEntropy and cosineDistance trace with every reduction, match eager, and their gradients in a trace equal the eager tape's; with weights they raise GraphError", () => {
  const xs = [tf.tensor([[1, -2, 0.5], [3, 0, -1.5]]), tf.tensor([[-4, 2.5, 1], [0.25, 7, -1]])];
  const labels = tf.tensor([[1, 0, 1], [0, 0, 1]]);
  const R = tf.Reduction;
  const losses: [string, (x: tf.Tensor, r: tf.Reduction) => tf.Tensor, string][] = [
    ["absoluteDifference", (x, r) => tf.losses.absoluteDifference(labels, x, undefined, r), "Abs"],
    ["huberLoss", (x, r) => tf.losses.huberLoss(labels, x, undefined, 1.5, r), "Minimum"],
    ["logLoss", (x, r) => tf.losses.logLoss(labels, tf.sigmoid(x), undefined, 1e-7, r), "Log"],
    ["hingeLoss", (x, r) => tf.losses.hingeLoss(labels, x, undefined, r), "Relu"],
    [
      "sigmoidCrossEntropy",
      (x, r) => tf.losses.sigmoidCrossEntropy(labels, x, undefined, 0.1, r),
      "Log1p",
    ],
    ["cosineDistance", (x, r) => tf.losses.cosineDistance(labels, x, 1, undefined, r), "Sum"],
  ];
  for (const [name, loss, type] of losses) {
    for (const r of [R.NONE, R.SUM, R.MEAN, R.SUM_BY_NONZERO_WEIGHTS]) {
      sameAsEager(`${name} reduction ${r}`, (x) => loss(x, r), type, xs);
    }
    const traced = tfFunction((t: tf.Tensor) => {
      const tape = new GradientTape();
      tape.watch(t);
      const y = tape.record(() => loss(t, R.SUM_BY_NONZERO_WEIGHTS));
      return tape.gradient(y, t) as tf.Tensor;
    }, { autograph: false });
    const got = traced(xs[1]) as tf.Tensor;
    const want = tf.tidy(() => tf.grad((t) => loss(t, R.SUM_BY_NONZERO_WEIGHTS))(xs[1]));
    const [g, w] = [value(got), value(want)];
    assert.ok(g.every((v, i) => Math.abs(v - w[i]) <= 1e-5 * (1 + Math.abs(w[i]))), `${name}`);
    tf.dispose([got, want]);
    traced.dispose();
  }
  const weighted = tfFunction(
    (t: tf.Tensor) => tf.losses.absoluteDifference(labels, t, tf.scalar(2)),
    { autograph: false },
  );
  assert.throws(() => weighted(xs[0]), (e: Error) => e instanceof v1.GraphError);
  weighted.dispose();
  tf.dispose([...xs, labels]);
});

Deno.test("tf.function: a tf.Sequential model called inside a trace (model.apply) is graph ops (tf.layers.dense runs tf.fused.matMul: MatMul, bias, activation) matching eager for any batch size, and a traced training step (GradientTape over model.apply, optimizer.applyGradients) trains as the eager step does (TF's custom training loop under tf.function)", () => {
  const init = () => tf.initializers.randomNormal({ seed: 7 });
  const make = () =>
    tf.sequential({
      layers: [
        tf.layers.dense({
          units: 5,
          inputShape: [4],
          activation: "elu",
          kernelInitializer: init(),
        }),
        tf.layers.dense({ units: 3, activation: "relu", kernelInitializer: init() }),
        tf.layers.dense({ units: 2, activation: "sigmoid", kernelInitializer: init() }),
      ],
    });
  const [eagerModel, tracedModel] = [make(), make()];
  tracedModel.setWeights(eagerModel.getWeights());
  const close = (a: number[], b: number[], label: string) =>
    assert.ok(a.every((v, i) => Math.abs(v - b[i]) <= 1e-5 * (1 + Math.abs(b[i]))), label);
  // model(x) (apply; TF's guides call the model, not predict, inside tf.function) with an
  // unknown batch size: one trace for batches of 3 and 5.
  const apply = tfFunction((t: tf.Tensor) => tracedModel.apply(t) as tf.Tensor, {
    inputSignature: [tensorSpec([null, 4])],
  });
  for (const n of [3, 5]) {
    const x = tf.randomNormal([n, 4], 0, 1, "float32", n);
    const [traced, eager] = [apply(x) as tf.Tensor, eagerModel.predict(x) as tf.Tensor];
    assert.deepEqual(traced.shape, [n, 2]);
    close(value(traced), value(eager), `apply on ${n}`);
    tf.dispose([x, traced, eager]);
  }
  assert.equal(apply.traceCount, 1);
  assert.ok(opTypes(apply).includes("MatMul"));
  apply.dispose();
  // A training step, eager and traced.
  const stepOf = (model: tf.Sequential, opt: tf.Optimizer) => (x: tf.Tensor, y: tf.Tensor) => {
    const vars = model.trainableWeights.map((w) =>
      (w as unknown as { read(): tf.Variable }).read()
    );
    const tape = new GradientTape();
    const loss = tape.record(() => tf.losses.meanSquaredError(y, model.apply(x) as tf.Tensor));
    const grads = tape.gradient(loss, vars) as tf.Tensor[];
    opt.applyGradients(vars.map((v, i) => ({ name: v.name, tensor: grads[i] })));
    return loss;
  };
  const [optE, optT] = [tf.train.adam(0.05), tf.train.adam(0.05)];
  const eagerStep = stepOf(eagerModel, optE);
  const tracedStep = tfFunction(stepOf(tracedModel, optT), { autograph: false });
  const x = tf.tensor([[1, -2, 0.5, 3], [0.1, 0.2, -0.3, 0.4], [2, 1, 0, -1]]);
  const y = tf.tensor([[1, 0], [0, 1], [1, 1]]);
  let before = 0;
  for (let i = 0; i < 4; i++) {
    const le = tf.tidy(() => eagerStep(x, y));
    const lt = tracedStep(x, y) as tf.Tensor;
    close(value(lt), value(le), `loss at step ${i}`);
    tf.dispose([le, lt]);
    if (i === 1) before = tf.memory().numTensors;
  }
  assert.equal(tf.memory().numTensors, before, "traced steps leak nothing");
  assert.equal(tracedStep.traceCount, 2); // the first call creates Adam's slots: traced twice, as TF
  const [we, wt] = [eagerModel.getWeights(), tracedModel.getWeights()];
  we.forEach((w, i) => close(value(wt[i]), value(w), `weight ${i} after training`));
  const fresh = make();
  assert.ok(value(we[0]).some((v, i) => v !== value(fresh.getWeights()[0])[i]), "it trained");
  fresh.dispose();
  tracedStep.dispose();
  tf.dispose([x, y]);
  [optE, optT].forEach((o) => o.dispose());
  [eagerModel, tracedModel].forEach((m) => m.dispose());
});

Deno.test("tf.function: a GradientTape inside the trace differentiates these ops as the eager tape does (TF's math_grad/array_grad: ties of maximum/minimum and clipByValue's bounds pass the gradient)", () => {
  // Ties and bounds on purpose: 0 for maximum(x, 0), 0.5 for minimum(x, 0.5), ±1 for clipByValue.
  const x = tf.tensor([[1, -2, 0.5], [3, 0, -1]]);
  const x0 = x.clone();
  const idx = tf.tensor1d([2, 0, 2], "int32");
  // The eager reference of a gather is a product with one-hot rows: the wasm backend has no
  // UnsortedSegmentSum kernel for tfjs's own gather gradient.
  const rows = (i: number[], n: number) => tf.oneHot(tf.tensor1d(i, "int32"), n).cast("float32");
  const cases: [string, (x: tf.Tensor) => tf.Tensor, ((x: tf.Tensor) => tf.Tensor)?][] = [
    ["tf.maximum", (x) => tf.maximum(x, 0)],
    ["tf.minimum", (x) => tf.minimum(x, 0.5)],
    ["tf.pow (base)", (x) => tf.pow(x, 3)],
    ["tf.pow (exponent)", (x) => tf.pow(tf.tensor([[2, 0.5, 1], [3, -2, 4]]), x)],
    ["tf.squaredDifference", (x) => tf.squaredDifference(tf.tensor([1, 0, 2]), x)],
    // The condition from a constant: tfjs's eager tape cannot pass a comparison.
    ["tf.where", (x) => tf.where(tf.greater(x0, 0), x, tf.mul(x, 3))],
    ["tf.concat", (x) => tf.concat([x, tf.square(x)], 1)],
    ["tf.stack", (x) => tf.stack([x, tf.mul(x, 2)], 1)],
    ["tf.slice", (x) => tf.slice(x, [0, 1], [2, 2])],
    ["tf.pad", (x) => tf.pad(x, [[1, 0], [0, 2]], 5)],
    ["tf.tile", (x) => tf.tile(x, [2, 3])],
    [
      "tf.gather rows (repeated)",
      (x) => tf.gather(x, tf.tensor1d([1, 1, 0], "int32")),
      (x) => tf.matMul(rows([1, 1, 0], 2), x),
    ],
    [
      "tf.gather axis 1",
      (x) => tf.gather(x, idx, 1),
      (x) => tf.matMul(x, rows([2, 0, 2], 3), false, true),
    ],
    ["tf.clipByValue", (x) => tf.clipByValue(x, -1, 1)],
    ["tf.rsqrt", (x) => tf.rsqrt(tf.add(tf.abs(x), 1))],
    ["tf.reciprocal", (x) => tf.reciprocal(tf.add(x, 5))],
    ["tf.sin", (x) => tf.sin(x)],
    ["tf.cos", (x) => tf.cos(x)],
    ["tf.softplus", (x) => tf.softplus(x)],
    ["tf.elu", (x) => tf.elu(x)],
    ["tf.leakyRelu", (x) => tf.leakyRelu(x, 0.1)],
    ["tf.reverse", (x) => tf.mul(tf.reverse(x, 1), tf.tensor([1, 2, 3]))],
    ["tf.split", (x) => tf.split(x, [1, 2], 1)[1]],
    ["tf.unstack", (x) => tf.mul(tf.unstack(x)[1], 3)],
    ["tf.min", (x) => tf.min(x, 1)],
    ["tf.losses.meanSquaredError", (x) => tf.losses.meanSquaredError(tf.zerosLike(x), x)],
  ];
  for (const [label, fn, reference] of cases) {
    // A non-uniform upstream gradient: the loss squares the op's result.
    const lossOf = (g: (t: tf.Tensor) => tf.Tensor) => (t: tf.Tensor) => tf.sum(tf.square(g(t)));
    const loss = lossOf(fn);
    const traced = tfFunction((t: tf.Tensor) => {
      const tape = new GradientTape();
      tape.watch(t);
      const y = tape.record(() => loss(t));
      return tape.gradient(y, t) as tf.Tensor;
    }, { autograph: false });
    const got = traced(x) as tf.Tensor;
    const want = tf.tidy(() => tf.grad(lossOf(reference ?? fn))(x));
    const [g, w] = [value(got), value(want)];
    const close = (v: number, i: number) =>
      Math.abs(v - w[i]) <= 1e-5 * (1 + Math.abs(w[i])) || (Number.isNaN(v) && Number.isNaN(w[i]));
    assert.ok(g.length === w.length && g.every(close), `${label}: ${g} vs ${w}`);
    tf.dispose([got, want]);
    traced.dispose();
  }
  tf.dispose([x, x0, idx]);
});

Deno.test("tf.function: tf.log1p, expm1, tan, asin, acos, atan, sinh, cosh, erf, relu6, selu, isNaN, isInf and isFinite are graph ops matching eager, and their first and second derivatives in a trace are math_grad.py's and nn_grad.py's closed forms (ReluGrad and Relu6Grad: 0 at 0 and 6, their own gradients zeros, not None; SeluGrad: scale at 0)", () => {
  const xs = [
    tf.tensor([[-0.5, 0.1, 0.7], [0.3, -0.9, 0]]),
    tf.tensor([[0.2, -0.2, 0.95], [-1, 1, 0.5]]),
  ];
  const [SCALE, ALPHA] = [1.0507009873554805, 1.6732632423543772];
  const e2 = (x: number) => Math.exp(-x * x) * 2 / Math.sqrt(Math.PI);
  // [label, op, graph op, inputs, f'(x), f''(x)]
  const cases: [
    string,
    (x: tf.Tensor) => tf.Tensor,
    string,
    number[],
    (x: number) => number,
    (
      x: number,
    ) => number,
  ][] = [
    ["log1p", tf.log1p, "Log1p", [-0.5, 0.1, 2], (x) => 1 / (1 + x), (x) => -1 / (1 + x) ** 2],
    ["expm1", tf.expm1, "Expm1", [-0.5, 0.1, 2], Math.exp, Math.exp],
    [
      "tan",
      tf.tan,
      "Tan",
      [-0.5, 0.1, 1.2],
      (x) => Math.cos(x) ** -2,
      (x) => 2 * Math.tan(x) * Math.cos(x) ** -2,
    ],
    [
      "asin",
      tf.asin,
      "Asin",
      [-0.5, 0.1, 0.7],
      (x) => (1 - x * x) ** -0.5,
      (x) => x * (1 - x * x) ** -1.5,
    ],
    [
      "acos",
      tf.acos,
      "Acos",
      [-0.5, 0.1, 0.7],
      (x) => -((1 - x * x) ** -0.5),
      (x) => -x * (1 - x * x) ** -1.5,
    ],
    [
      "atan",
      tf.atan,
      "Atan",
      [-2, 0.1, 3],
      (x) => 1 / (1 + x * x),
      (x) => -2 * x / (1 + x * x) ** 2,
    ],
    ["sinh", tf.sinh, "Sinh", [-2, 0.1, 1.5], Math.cosh, Math.sinh],
    ["cosh", tf.cosh, "Cosh", [-2, 0.1, 1.5], Math.sinh, Math.cosh],
    ["erf", tf.erf, "Erf", [-1, 0.1, 0.8], e2, (x) => -2 * x * e2(x)],
    ["relu", tf.relu, "Relu", [-1, 0, 3], (x) => x > 0 ? 1 : 0, () => 0],
    ["relu6", tf.relu6, "Relu6", [-1, 0, 3, 6, 7], (x) => x > 0 && x < 6 ? 1 : 0, () => 0],
    ["selu", tf.selu, "Selu", [-1, 0, 2], (x) => x < 0 ? SCALE * ALPHA * Math.exp(x) : SCALE, (
      x,
    ) => x < 0 ? SCALE * ALPHA * Math.exp(x) : 0],
  ];
  const near = (got: number[], want: number[], label: string) =>
    assert.ok(
      got.every((v, i) => Math.abs(v - want[i]) <= 1e-4 * (1 + Math.abs(want[i]))),
      `${label}: ${got} vs ${want}`,
    );
  for (const [label, op, type, at, d1, d2] of cases) {
    // Values: asin/acos and log1p kept inside their domains.
    sameAsEager(label, (x) => op(tf.mul(x, 0.5)), type, xs);
    const f = tfFunction((t: tf.Tensor) => {
      const outer = new GradientTape();
      outer.watch(t);
      const g = outer.record(() => {
        const inner = new GradientTape();
        inner.watch(t);
        const y = inner.record(() => tf.sum(op(t)));
        return inner.gradient(y, t) as tf.Tensor;
      });
      return [g, outer.gradient(g, t)] as tf.Tensor[];
    }, { autograph: false });
    const x = tf.tensor(at);
    const [g, h] = f(x) as tf.Tensor[];
    assert.ok(h !== null, `${label}: a second derivative`);
    near(value(g), at.map(d1), `${label}: first derivative`);
    near(value(h), at.map(d2), `${label}: second derivative`);
    // The eager tape's first derivative: TF's too (tfjs's relu6 and selu gradients differ at 6 and 0).
    const eagerFirst = tf.tidy(() => value(tf.grad((t) => tf.sum(op(t)))(x)));
    near(eagerFirst, at.map(d1), `${label}: eager first derivative`);
    tf.dispose([g, h, x]);
    f.dispose();
  }
  // isNaN, isInf, isFinite: bool results, no gradient.
  const special = tf.tensor([NaN, Infinity, -Infinity, 1]);
  sameAsEager("isNaN", (x) => tf.isNaN(x), "IsNan", [special]);
  sameAsEager("isInf", (x) => tf.isInf(x), "IsInf", [special]);
  sameAsEager("isFinite", (x) => tf.isFinite(x), "IsFinite", [special]);
  tf.dispose([...xs, special]);
});

Deno.test("tf.function: Floor, Ceil and Round have no gradient in a trace (TF registers None for them), so tape.gradient gives null", () => {
  for (const op of [tf.floor, tf.ceil, tf.round]) {
    const f = tfFunction((t: tf.Tensor) => {
      const tape = new GradientTape();
      tape.watch(t);
      const y = tape.record(() => tf.sum(op(t)));
      return [y, tape.gradient(y, t)];
    }, { autograph: false });
    const [y, g] = f(tf.tensor([1.5, -0.5])) as unknown as [tf.Tensor, null];
    assert.equal(g, null);
    tf.dispose(y);
    f.dispose();
  }
});

Deno.test("tf.function: tf.memory is flat across calls of traced functions using these ops, and across calls that fail", () => {
  const x = tf.tensor([[1, -2], [3, 4]]);
  const f = tfFunction((t: tf.Tensor) => {
    const tape = new GradientTape();
    tape.watch(t);
    const y = tape.record(() => tf.sum(tf.concat([tf.maximum(t, 0), tf.gather(t, [1, 0])], 0)));
    return tape.gradient(y, t) as tf.Tensor;
  }, { autograph: false });
  const failing = tfFunction((t: tf.Tensor) => tf.unique(tf.maximum(t, 0)).values, {
    autograph: false,
  });
  tf.dispose(f(x));
  const before = tf.memory().numTensors;
  for (let i = 0; i < 3; i++) {
    tf.dispose(f(x));
    assert.throws(() => failing(x), /the tfjs kernel Unique is not supported/);
  }
  assert.equal(tf.memory().numTensors, before);
  f.dispose();
  failing.dispose();
  x.dispose();
});
