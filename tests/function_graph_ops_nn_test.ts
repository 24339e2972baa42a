// tfjs's normalization, depthwise-convolution, PReLU, resize and LRN ops inside traced functions,
// written from TensorFlow's API docs (tf.nn.batch_normalization, tf.keras.layers.BatchNormalization
// and its training argument, tf.nn.depthwise_conv2d, tf.image.resize, tf.nn.local_response_normalization)
// and the gradients of nn_grad.py and image_grad.py (DepthwiseConv2dNativeBackpropInput/Filter,
// ResizeBilinearGrad, LRNGrad). Each op traced equals the same op run eagerly, exactly; the gradient
// of a GradientTape inside the trace equals the eager tape's, or TF's closed form.
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../lib/backend.ts";
import { tensorSpec, tfFunction } from "../lib/function.ts";
import { GradientTape } from "../lib/tape.ts";
import { GraphError } from "../lib/v1/mod.ts";
import { opTypes, sameAsEager, value } from "./_graph_ops.ts";

await initBackend();

function assertClose(got: number[], want: number[], label: string, tol = 1e-5): void {
  const close = (v: number, i: number) => Math.abs(v - want[i]) <= tol * (1 + Math.abs(want[i]));
  assert.ok(got.length === want.length && got.every(close), `${label}: ${got} vs ${want}`);
}

/** The gradients of `sum(fn(...xs) · c)` to every input, from a tape inside a trace. */
function tracedGrads(fn: (...xs: tf.Tensor[]) => tf.Tensor, xs: tf.Tensor[], c: tf.Tensor) {
  const f = tfFunction((...ts: tf.Tensor[]) => {
    const tape = new GradientTape();
    ts.forEach((t) => tape.watch(t));
    const y = tape.record(() => tf.sum(tf.mul(fn(...ts), c)));
    return tape.gradient(y, ts) as tf.Tensor[];
  }, { autograph: false });
  const gs = f(...xs) as tf.Tensor[];
  const values = gs.map(value);
  tf.dispose(gs);
  f.dispose();
  return values;
}

/** The same gradients from tfjs's eager tape. */
const eagerGrads = (fn: (...xs: tf.Tensor[]) => tf.Tensor, xs: tf.Tensor[], c: tf.Tensor) =>
  tf.tidy(() => tf.grads((...ts: tf.Tensor[]) => tf.sum(tf.mul(fn(...ts), c)))(xs).map(value));

/** Asserts a traced `fn` and its gradients leave tf.memory flat across three more calls. */
function flatMemory(fn: (...xs: tf.Tensor[]) => tf.Tensor, xs: tf.Tensor[]): void {
  const f = tfFunction((...ts: tf.Tensor[]) => {
    const tape = new GradientTape();
    ts.forEach((t) => tape.watch(t));
    const y = tape.record(() => fn(...ts));
    return [y, ...tape.gradient(tf.sum(y), ts) as tf.Tensor[]];
  }, { autograph: false });
  tf.dispose(f(...xs) as tf.Tensor[]);
  const before = tf.memory().numTensors;
  for (let i = 0; i < 3; i++) tf.dispose(f(...xs) as tf.Tensor[]);
  assert.equal(tf.memory().numTensors, before);
  f.dispose();
}

const normal = (shape: number[], seed: number) => tf.randomNormal(shape, 0, 1, "float32", seed);

Deno.test("tf.function: tf.batchNorm is a FusedBatchNorm graph op (tf.nn.batch_normalization: scale·(x - mean)/sqrt(variance + ε) + offset, per-channel statistics of the last axis, offset and scale optional) matching eager for rank 2 to 4 and an unknown batch size", () => {
  const imgs = [normal([2, 4, 5, 3], 1), normal([2, 4, 5, 3], 2)];
  const [mean, variance] = [tf.tensor([0.5, -1, 2]), tf.tensor([1, 0.25, 4])];
  const [offset, scale] = [tf.tensor([1, 0, -1]), tf.tensor([2, 1, 0.5])];
  sameAsEager(
    "all four",
    (t) => tf.batchNorm(t, mean, variance, offset, scale, 0.01),
    "FusedBatchNorm",
    imgs,
  );
  sameAsEager(
    "no offset, no scale",
    (t) => tf.batchNorm(t, mean, variance),
    "FusedBatchNorm",
    imgs,
  );
  sameAsEager(
    "scale only",
    (t) => tf.batchNorm(t, mean, variance, undefined, scale),
    "FusedBatchNorm",
    imgs,
  );
  sameAsEager(
    "rank 2",
    (t) => tf.batchNorm(tf.reshape(t, [-1, 3]), mean, variance, offset, scale),
    "FusedBatchNorm",
    imgs,
  );
  sameAsEager(
    "rank 3, statistics of rank 3",
    (t) =>
      tf.batchNorm(
        tf.reshape(t, [-1, 5, 3]),
        tf.reshape(mean, [1, 1, 3]),
        variance.reshape([1, 1, 3]),
      ),
    "FusedBatchNorm",
    imgs,
  );
  // One trace for any batch size (an inputSignature with null for the batch).
  const fn = (t: tf.Tensor) => tf.batchNorm(t, mean, variance, offset, scale);
  const f = tfFunction(fn, { inputSignature: [tensorSpec([null, 3])] });
  for (const n of [2, 7]) {
    const x = normal([n, 3], n);
    const [traced, eager] = [f(x) as tf.Tensor, tf.tidy(() => fn(x))];
    assert.deepEqual(traced.shape, [n, 3]);
    assert.deepEqual(value(traced), value(eager));
    tf.dispose([x, traced, eager]);
  }
  assert.equal(f.traceCount, 1);
  f.dispose();
  tf.dispose([...imgs, mean, variance, offset, scale]);
});

Deno.test("tf.function: FusedBatchNorm takes tf.nn.batch_normalization's general shapes, statistics of x's rank with 1 on the normalized dimensions (tf.nn.moments(keepdims=True)) and channels not last, broadcast as TF does", () => {
  const x = normal([2, 3, 2, 2], 3); // channels on axis 1
  const mean = tf.tensor([0.5, -1, 2]).reshape([1, 3, 1, 1]);
  const variance = tf.tensor([1, 0.25, 4]).reshape([1, 3, 1, 1]);
  const scale = tf.tensor([2, 1, 0.5]).reshape([1, 3, 1, 1]);
  const f = tfFunction((t: tf.Tensor) => tf.batchNorm(t, mean, variance, undefined, scale, 0.001), {
    autograph: false,
  });
  const traced = f(x) as tf.Tensor;
  const want = tf.tidy(() => x.sub(mean).mul(scale).div(tf.sqrt(variance.add(0.001))));
  assertClose(value(traced), value(want), "channels on axis 1");
  tf.dispose([x, mean, variance, scale, traced, want]);
  f.dispose();
});

Deno.test("tf.function: the gradients of tf.batchNorm in a trace go to x, mean, variance, offset and scale as TF's (d/dx = scale·r, d/dmean = -Σ scale·r·dy, d/dvariance = -½ Σ scale·(x - mean)·r³·dy, d/doffset = Σ dy, d/dscale = Σ (x - mean)·r·dy, r = 1/sqrt(variance + ε)), equal to the eager tape's", () => {
  const x = normal([2, 3, 4, 3], 4);
  const params = [
    tf.tensor([0.5, -1, 2]),
    tf.tensor([1, 0.25, 4]),
    tf.tensor([1, 0, -1]),
    tf.tensor([2, 1, 0.5]),
  ];
  const c = normal([2, 3, 4, 3], 5); // L = Σ c·y weighs each output differently
  const bn = (t: tf.Tensor, m: tf.Tensor, v: tf.Tensor, o: tf.Tensor, s: tf.Tensor) =>
    tf.batchNorm(t, m, v, o, s, 0.01);
  const traced = tracedGrads(bn as never, [x, ...params], c);
  const eager = eagerGrads(bn as never, [x, ...params], c);
  ["x", "mean", "variance", "offset", "scale"].forEach((name, i) =>
    assertClose(traced[i], eager[i], `d/d${name}`, 1e-4)
  );
  // The closed forms, for the rank-2 statistics of x [n, C] (the eager tape fails on these).
  const x2 = normal([5, 3], 6), c2 = normal([5, 3], 7);
  const [m, v, o, s] = params.map((p) => p.reshape([1, 3]));
  const got = tracedGrads(
    (t, mm, vv, oo, ss) => tf.batchNorm(t, mm, vv, oo, ss, 0.01),
    [x2, m, v, o, s],
    c2,
  );
  const want = tf.tidy(() => {
    const r = tf.rsqrt(v.add(0.01));
    const centered = x2.sub(m);
    return [
      c2.mul(s).mul(r),
      c2.mul(s).mul(r).sum(0, true).neg(),
      c2.mul(centered).mul(s).mul(r.pow(3)).sum(0, true).mul(-0.5),
      c2.sum(0, true),
      c2.mul(centered).mul(r).sum(0, true),
    ].map(value);
  });
  ["x", "mean", "variance", "offset", "scale"].forEach((name, i) =>
    assertClose(got[i], want[i], `rank 2: d/d${name}`, 1e-4)
  );
  flatMemory((t) => tf.batchNorm(t, params[0], params[1], params[2], params[3]), [x]);
  tf.dispose([x, c, x2, c2, ...params, m, v, o, s]);
});

Deno.test("tf.function: tf.batchNorm's gradient differentiates again in a trace (tf.nn.batch_normalization is built of differentiable ops): d²/dvariance² of Σ c·y is ¾ Σ c·scale·(x - mean)·r⁵", () => {
  const x = normal([4, 3], 8), c = normal([4, 3], 9);
  const [mean, scale] = [tf.tensor([0.5, -1, 2]), tf.tensor([2, 1, 0.5])];
  const variance = tf.tensor([1, 0.25, 4]);
  const f = tfFunction((v: tf.Tensor) => {
    const outer = new GradientTape();
    outer.watch(v);
    const dv = outer.record(() => {
      const inner = new GradientTape();
      inner.watch(v);
      const y = inner.record(() => tf.sum(tf.mul(tf.batchNorm(x, mean, v, undefined, scale), c)));
      return tf.sum(inner.gradient(y, v) as tf.Tensor);
    });
    return outer.gradient(dv, v) as tf.Tensor;
  }, { autograph: false });
  const got = f(variance) as tf.Tensor;
  const want = tf.tidy(() =>
    c.mul(scale).mul(x.sub(mean)).mul(tf.pow(variance.add(0.001), -2.5)).sum(0).mul(0.75)
  );
  assertClose(value(got), value(want), "d²/dvariance²", 1e-4);
  tf.dispose([x, c, mean, scale, variance, got, want]);
  f.dispose();
});

/** Two BatchNormalization models with the same weights, one for eager calls and one to trace. */
function batchNormModels(inputShape: number[], momentum: number) {
  const make = () =>
    tf.sequential({
      layers: [tf.layers.batchNormalization({
        inputShape,
        momentum,
        epsilon: 0.01,
        betaInitializer: tf.initializers.constant({ value: 0.5 }),
        gammaInitializer: tf.initializers.constant({ value: 2 }),
        movingMeanInitializer: tf.initializers.constant({ value: 0.25 }),
        movingVarianceInitializer: tf.initializers.constant({ value: 3 }),
      })],
    });
  return [make(), make()];
}

/** The layer's weights: gamma, beta, moving mean, moving variance. */
const weightsOf = (m: tf.LayersModel): number[][] => m.getWeights().map(value);

Deno.test("tf.function: a Keras BatchNormalization layer in a traced model.apply with training: false normalizes by the moving statistics (gamma·(x - moving_mean)/sqrt(moving_var + ε) + beta) and changes no variable, as eager", () => {
  const [eagerModel, tracedModel] = batchNormModels([2, 2, 3], 0.9);
  const f = tfFunction((t: tf.Tensor) => tracedModel.apply(t, { training: false }) as tf.Tensor, {
    inputSignature: [tensorSpec([null, 2, 2, 3])],
  });
  for (const n of [2, 5]) {
    const x = normal([n, 2, 2, 3], n);
    const traced = f(x) as tf.Tensor;
    const eager = eagerModel.apply(x, { training: false }) as tf.Tensor;
    assert.deepEqual(value(traced), value(eager));
    const want = tf.tidy(() => x.sub(0.25).div(tf.sqrt(tf.scalar(3.01))).mul(2).add(0.5));
    assertClose(value(traced), value(want), "the formula");
    tf.dispose([x, traced, eager, want]);
  }
  assert.equal(f.traceCount, 1);
  assert.deepEqual(weightsOf(tracedModel), weightsOf(eagerModel), "nothing updated");
  assert.ok(!opTypes(f).includes("AssignVariableOp"));
  f.dispose();
  [eagerModel, tracedModel].forEach((m) => m.dispose());
});

Deno.test("tf.function: a Keras BatchNormalization layer in a traced model.apply with training: true normalizes by the batch's statistics and updates moving_mean = moving_mean·momentum + batch_mean·(1 - momentum) (and moving_variance) at every call, as N eager calls do (the update is a graph op, TF2's automatic control dependencies), without leaking", () => {
  const momentum = 0.8;
  const [eagerModel, tracedModel] = batchNormModels([3], momentum);
  const f = tfFunction((t: tf.Tensor) => tracedModel.apply(t, { training: true }) as tf.Tensor, {
    inputSignature: [tensorSpec([null, 3])],
  });
  const batches = [4, 6, 4, 5].map((n, i) => tf.mul(normal([n, 3], 10 + i), tf.tensor([1, 2, 3])));
  let movingMean = [0.25, 0.25, 0.25];
  let before = 0;
  batches.forEach((x, i) => {
    const traced = f(x) as tf.Tensor;
    const eager = eagerModel.apply(x, { training: true }) as tf.Tensor;
    assertClose(value(traced), value(eager), `output of call ${i}`);
    const batchMean = tf.tidy(() => value(tf.mean(x, 0)));
    movingMean = movingMean.map((m, j) => m * momentum + batchMean[j] * (1 - momentum));
    const [, , mean, variance] = weightsOf(tracedModel);
    assertClose(mean, movingMean, `moving mean after call ${i + 1}`);
    assertClose(mean, weightsOf(eagerModel)[2], `moving mean: traced and eager, call ${i + 1}`);
    assertClose(variance, weightsOf(eagerModel)[3], `moving variance, call ${i + 1}`);
    tf.dispose([traced, eager]);
    if (i === 1) before = tf.memory().numTensors;
  });
  assert.equal(tf.memory().numTensors, before, "calls leak nothing");
  assert.equal(f.traceCount, 1);
  assert.ok(opTypes(f).includes("AssignVariableOp") && opTypes(f).includes("FusedBatchNorm"));
  // After training, inference uses the moving statistics the traced calls left.
  const x = batches[0];
  const [ti, ei] = [tracedModel.predict(x) as tf.Tensor, eagerModel.predict(x) as tf.Tensor];
  assertClose(value(ti), value(ei), "inference after training");
  tf.dispose([...batches, ti, ei]);
  f.dispose();
  [eagerModel, tracedModel].forEach((m) => m.dispose());
});

Deno.test("tf.function: a traced training step of a model with conv2d and BatchNormalization (GradientTape over model.apply(x, {training: true}), optimizer.applyGradients) trains gamma, beta and the kernels and moves the statistics exactly as the eager step does (TF's custom training loop under tf.function)", () => {
  const make = () =>
    tf.sequential({
      layers: [
        tf.layers.conv2d({
          inputShape: [5, 5, 2],
          filters: 3,
          kernelSize: 3,
          kernelInitializer: tf.initializers.glorotNormal({ seed: 3 }),
        }),
        tf.layers.batchNormalization({ momentum: 0.5 }),
        tf.layers.flatten(),
        tf.layers.dense({ units: 2, kernelInitializer: tf.initializers.glorotNormal({ seed: 4 }) }),
      ],
    });
  const [eagerModel, tracedModel] = [make(), make()];
  tracedModel.setWeights(eagerModel.getWeights());
  const stepOf = (model: tf.Sequential, opt: tf.Optimizer) => (x: tf.Tensor, y: tf.Tensor) => {
    const vars = model.trainableWeights.map((w) =>
      (w as unknown as { read(): tf.Variable }).read()
    );
    const tape = new GradientTape();
    const loss = tape.record(() =>
      tf.losses.meanSquaredError(y, model.apply(x, { training: true }) as tf.Tensor)
    );
    const grads = tape.gradient(loss, vars) as tf.Tensor[];
    opt.applyGradients(vars.map((v, i) => ({ name: v.name, tensor: grads[i] })));
    return loss;
  };
  const [optE, optT] = [tf.train.sgd(0.1), tf.train.sgd(0.1)];
  const eagerStep = stepOf(eagerModel, optE);
  const tracedStep = tfFunction(stepOf(tracedModel, optT), { autograph: false });
  const x = normal([4, 5, 5, 2], 20), y = normal([4, 2], 21);
  for (let i = 0; i < 3; i++) {
    const le = tf.tidy(() => eagerStep(x, y));
    const lt = tracedStep(x, y) as tf.Tensor;
    assertClose(value(lt), value(le), `loss at step ${i}`, 1e-4);
    tf.dispose([le, lt]);
  }
  assert.equal(tracedStep.traceCount, 1);
  const [we, wt] = [weightsOf(eagerModel), weightsOf(tracedModel)];
  we.forEach((w, i) => assertClose(wt[i], w, `weight ${i} after training`, 1e-4));
  tracedStep.dispose();
  tf.dispose([x, y]);
  [optE, optT].forEach((o) => o.dispose());
  [eagerModel, tracedModel].forEach((m) => m.dispose());
});

Deno.test("tf.function: a Keras BatchNormalization layer with axis 1 (channels first) in a trace with training: true normalizes each channel to mean 0 and variance var/(var + ε), broadcasting [1, C, 1, 1] statistics as TF does (tfjs's eager WASM kernel reads them along the last axis instead), and updates the same moving mean as eager", () => {
  const x = tf.tidy(() =>
    normal([2, 3, 4, 4], 90).mul(tf.tensor([1, 5, 10]).reshape([1, 3, 1, 1]))
      .add(tf.tensor([0, 3, -2]).reshape([1, 3, 1, 1]))
  );
  const make = () =>
    tf.sequential({
      layers: [tf.layers.batchNormalization({ inputShape: [3, 4, 4], axis: 1, epsilon: 0.001 })],
    });
  const [eagerModel, tracedModel] = [make(), make()];
  const f = tfFunction((t: tf.Tensor) => tracedModel.apply(t, { training: true }) as tf.Tensor, {
    autograph: false,
  });
  const y = f(x) as tf.Tensor;
  const eager = eagerModel.apply(x, { training: true }) as tf.Tensor;
  const [mean, variance] = tf.tidy(() => {
    const m = tf.moments(y, [0, 2, 3]);
    return [value(m.mean), value(m.variance)];
  });
  const batchVariance = tf.tidy(() => value(tf.moments(x, [0, 2, 3]).variance));
  assertClose(mean, [0, 0, 0], "per-channel mean", 1e-5);
  assertClose(variance, batchVariance.map((v) => v / (v + 0.001)), "per-channel variance", 1e-4);
  assertClose(weightsOf(tracedModel)[2], weightsOf(eagerModel)[2], "moving mean");
  tf.dispose([x, y, eager]);
  f.dispose();
  [eagerModel, tracedModel].forEach((m) => m.dispose());
});

Deno.test("tf.function: Keras PReLU, DepthwiseConv2D, SeparableConv2D and UpSampling2D (bilinear) layers in a traced model.apply match eager, and a traced training step of a model with PReLU and bilinear upsampling trains as the eager step does", () => {
  const x = normal([2, 6, 6, 3], 91);
  const layers = [
    () => tf.layers.prelu({ alphaInitializer: tf.initializers.constant({ value: 0.2 }) }),
    () => tf.layers.depthwiseConv2d({ kernelSize: 3, depthMultiplier: 2, padding: "same" }),
    () => tf.layers.separableConv2d({ kernelSize: 3, filters: 4, strides: 2 }),
    () => tf.layers.upSampling2d({ size: [2, 2], interpolation: "bilinear" }),
  ];
  for (const layer of layers) {
    const model = tf.sequential({
      layers: [tf.layers.inputLayer({ inputShape: [6, 6, 3] }), layer()],
    });
    const f = tfFunction((t: tf.Tensor) => model.apply(t) as tf.Tensor, { autograph: false });
    const [traced, eager] = [f(x) as tf.Tensor, model.apply(x) as tf.Tensor];
    assertClose(value(traced), value(eager), model.layers[0].getClassName());
    tf.dispose([traced, eager]);
    f.dispose();
    model.dispose();
  }
  const make = () =>
    tf.sequential({
      layers: [
        tf.layers.conv2d({
          inputShape: [6, 6, 3],
          filters: 2,
          kernelSize: 3,
          kernelInitializer: tf.initializers.glorotNormal({ seed: 5 }),
        }),
        tf.layers.prelu({ alphaInitializer: tf.initializers.constant({ value: 0.25 }) }),
        tf.layers.upSampling2d({ size: [2, 2], interpolation: "bilinear" }),
        tf.layers.flatten(),
        tf.layers.dense({ units: 1, kernelInitializer: tf.initializers.glorotNormal({ seed: 6 }) }),
      ],
    });
  const [eagerModel, tracedModel] = [make(), make()];
  tracedModel.setWeights(eagerModel.getWeights());
  const stepOf = (model: tf.Sequential, opt: tf.Optimizer) => (t: tf.Tensor, y: tf.Tensor) => {
    const vars = model.trainableWeights.map((w) =>
      (w as unknown as { read(): tf.Variable }).read()
    );
    const tape = new GradientTape();
    const loss = tape.record(() => tf.losses.meanSquaredError(y, model.apply(t) as tf.Tensor));
    const grads = tape.gradient(loss, vars) as tf.Tensor[];
    opt.applyGradients(vars.map((v, i) => ({ name: v.name, tensor: grads[i] })));
    return loss;
  };
  const [optE, optT] = [tf.train.sgd(0.05), tf.train.sgd(0.05)];
  const eagerStep = stepOf(eagerModel, optE);
  const tracedStep = tfFunction(stepOf(tracedModel, optT), { autograph: false });
  const y = tf.tensor([[1], [-1]]);
  for (let i = 0; i < 3; i++) {
    const le = tf.tidy(() => eagerStep(x, y));
    const lt = tracedStep(x, y) as tf.Tensor;
    assertClose(value(lt), value(le), `loss at step ${i}`, 1e-4);
    tf.dispose([le, lt]);
  }
  const [we, wt] = [weightsOf(eagerModel), weightsOf(tracedModel)];
  we.forEach((w, i) => assertClose(wt[i], w, `weight ${i} after training`, 1e-4));
  assert.ok(
    opTypes(tracedStep).includes("Prelu") && opTypes(tracedStep).includes("ResizeBilinear"),
  );
  tracedStep.dispose();
  tf.dispose([x, y]);
  [optE, optT].forEach((o) => o.dispose());
  [eagerModel, tracedModel].forEach((m) => m.dispose());
});

Deno.test("tf.function: tf.prelu is a Prelu graph op (x where x > 0, else alpha·x; alpha a scalar, per channel, or x's shape) matching eager, and its gradients to x (dy, or alpha·dy) and to alpha (Σ dy·x where x <= 0, over the broadcast dimensions) equal the eager tape's", () => {
  const xs = [normal([2, 3, 4], 30), normal([2, 3, 4], 31)];
  const alphas = [tf.scalar(0.1), tf.tensor([0.1, -0.2, 0.3, 0.5]), normal([3, 4], 32)];
  const c = normal([2, 3, 4], 33);
  for (const alpha of alphas) {
    const label = `alpha [${alpha.shape}]`;
    sameAsEager(label, (t) => tf.prelu(t, alpha), "Prelu", xs);
    const traced = tracedGrads((t, a) => tf.prelu(t, a), [xs[0], alpha], c);
    const eager = eagerGrads((t, a) => tf.prelu(t, a), [xs[0], alpha], c);
    assertClose(traced[0], eager[0], `${label}: d/dx`);
    assertClose(traced[1], eager[1], `${label}: d/dalpha`);
  }
  // The closed form for a scalar alpha: d/dalpha Σ prelu(x, alpha) = Σ of the negative x.
  const [, da] = tracedGrads((t, a) => tf.prelu(t, a), [xs[0], alphas[0]], tf.onesLike(xs[0]));
  const negatives = value(xs[0]).filter((v) => v <= 0).reduce((p, v) => p + v, 0);
  assertClose(da, [negatives], "d/dalpha closed form");
  flatMemory((t, a) => tf.prelu(t, a), [xs[0], alphas[1]]);
  tf.dispose([...xs, ...alphas, c]);
});

Deno.test("tf.function: tf.depthwiseConv2d is a DepthwiseConv2dNative graph op (tf.nn.depthwise_conv2d: each input channel convolved with its own channel_multiplier filters, NHWC, strides, SAME/VALID padding, dilations) matching eager, for an unknown batch size too", () => {
  const imgs = [normal([2, 7, 6, 3], 40), normal([2, 7, 6, 3], 41)];
  const [k1, k2] = [normal([3, 3, 3, 1], 42), normal([2, 3, 3, 2], 43)];
  const cases: [string, (t: tf.Tensor) => tf.Tensor][] = [
    ["same", (t) => tf.depthwiseConv2d(t as tf.Tensor4D, k1 as tf.Tensor4D, 1, "same")],
    ["valid", (t) => tf.depthwiseConv2d(t as tf.Tensor4D, k1 as tf.Tensor4D, 1, "valid")],
    ["stride 2, same", (t) => tf.depthwiseConv2d(t as tf.Tensor4D, k2 as tf.Tensor4D, 2, "same")],
    [
      "strides [2, 1], valid",
      (t) => tf.depthwiseConv2d(t as tf.Tensor4D, k2 as tf.Tensor4D, [2, 1], "valid"),
    ],
    [
      "dilations 2",
      (t) => tf.depthwiseConv2d(t as tf.Tensor4D, k1 as tf.Tensor4D, 1, "same", "NHWC", 2),
    ],
    [
      "rank 3",
      (t) =>
        tf.depthwiseConv2d(tf.reshape(t, [-1, 6, 3]) as tf.Tensor3D, k2 as tf.Tensor4D, 1, "same"),
    ],
  ];
  for (const [label, fn] of cases) sameAsEager(label, fn, "DepthwiseConv2dNative", imgs);
  const fn = (t: tf.Tensor) => tf.depthwiseConv2d(t as tf.Tensor4D, k2 as tf.Tensor4D, 2, "same");
  const f = tfFunction(fn, { inputSignature: [tensorSpec([null, 7, 6, 3])] });
  for (const n of [1, 3]) {
    const x = normal([n, 7, 6, 3], n);
    const [traced, eager] = [f(x) as tf.Tensor, tf.tidy(() => fn(x))];
    assert.deepEqual(traced.shape, [n, 4, 3, 6]);
    assert.deepEqual(value(traced), value(eager));
    tf.dispose([x, traced, eager]);
  }
  assert.equal(f.traceCount, 1);
  f.dispose();
  tf.dispose([...imgs, k1, k2]);
});

/**
 * tf.nn.depthwise_conv2d as a plain convolution: input channel k feeds output channels
 * k·m .. k·m + m - 1 only, through the filter [h, w, c, c·m] that is zero elsewhere.
 */
function asConv2d(x: tf.Tensor, w: tf.Tensor, stride: 1 | 2, pad: "same" | "valid"): tf.Tensor {
  const [h, wd, c, m] = w.shape;
  const eye = tf.reshape(tf.eye(c), [1, 1, c, c, 1]);
  const full = tf.reshape(tf.mul(tf.reshape(w, [h, wd, c, 1, m]), eye), [h, wd, c, c * m]);
  return tf.conv2d(x as tf.Tensor4D, full as tf.Tensor4D, stride, pad);
}

Deno.test("tf.function: the gradients of tf.depthwiseConv2d in a trace are TF's DepthwiseConv2dNativeBackpropInput (to x) and DepthwiseConv2dNativeBackpropFilter (to the filter), equal to the eager tape's of the same convolution written as a Conv2D with a block-diagonal filter, for strides and paddings, and differentiate again: the Hessian of Σ conv² times v is 2·Kᵀ(K·v)", () => {
  const x = normal([2, 6, 5, 2], 50), c = normal([2, 6, 5, 4], 51);
  const k = normal([3, 3, 2, 2], 52);
  const cases: [string, 1 | 2, "same" | "valid"][] = [
    ["same", 1, "same"],
    ["valid", 1, "valid"],
    ["stride 2, same", 2, "same"],
    ["stride 2, valid", 2, "valid"],
  ];
  for (const [label, stride, pad] of cases) {
    const dw = (t: tf.Tensor, w: tf.Tensor) =>
      tf.depthwiseConv2d(t as tf.Tensor4D, w as tf.Tensor4D, stride, pad);
    const weights = tf.tidy(() => normal(dw(x, k).shape, 53)); // Σ c·y, c of y's shape
    const same = tf.tidy(() => value(tf.sub(dw(x, k), asConv2d(x, k, stride, pad)).abs().max()));
    assert.ok(same[0] < 1e-5, `${label}: the same convolution`);
    const traced = tracedGrads(dw, [x, k], weights);
    const eager = eagerGrads((t, w) => asConv2d(t, w, stride, pad), [x, k], weights);
    assertClose(traced[0], eager[0], `${label}: d/dx`, 1e-4);
    assertClose(traced[1], eager[1], `${label}: d/dfilter`, 1e-4);
    weights.dispose();
  }
  // Second order: for the linear x → K·x, d²(Σ (Kx)²)/dx² · v = 2·Kᵀ(K·v), Kᵀ from the eager tape.
  const v = normal([2, 6, 5, 2], 54);
  const conv = (t: tf.Tensor) => tf.depthwiseConv2d(t as tf.Tensor4D, k as tf.Tensor4D, 1, "same");
  const f = tfFunction((t: tf.Tensor) => {
    const outer = new GradientTape();
    outer.watch(t);
    const gv = outer.record(() => {
      const inner = new GradientTape();
      inner.watch(t);
      const y = inner.record(() => tf.sum(tf.square(conv(t))));
      return tf.sum(tf.mul(inner.gradient(y, t) as tf.Tensor, v));
    });
    return outer.gradient(gv, t) as tf.Tensor;
  }, { autograph: false });
  const hv = f(x) as tf.Tensor;
  const want = tf.tidy(() => {
    const kv = conv(v);
    return tf.mul(tf.grad((t: tf.Tensor) => tf.sum(tf.mul(asConv2d(t, k, 1, "same"), kv)))(x), 2);
  });
  assertClose(value(hv), value(want), "d²/dx² · v", 1e-4);
  flatMemory((t, w) => tf.depthwiseConv2d(t as tf.Tensor4D, w as tf.Tensor4D, 2, "same"), [x, k]);
  tf.dispose([x, c, k, v, hv, want]);
  f.dispose();
});

Deno.test("tf.function: tf.image.resizeBilinear is a ResizeBilinear graph op (tf.image.resize with method bilinear: up and down, half_pixel_centers as TF2, align_corners as TF1) matching eager, and its gradient is TF's ResizeBilinearGrad, equal to the eager tape's", () => {
  const imgs = [normal([2, 4, 5, 3], 60), normal([2, 4, 5, 3], 61)];
  const cases: [string, [number, number], boolean, boolean][] = [
    ["up", [8, 9], false, false],
    ["down", [3, 2], false, false],
    ["half pixel centers", [7, 3], false, true],
    ["align corners", [6, 10], true, false],
  ];
  for (const [label, size, alignCorners, halfPixel] of cases) {
    const fn = (t: tf.Tensor) =>
      tf.image.resizeBilinear(t as tf.Tensor4D, size, alignCorners, halfPixel);
    sameAsEager(label, fn, "ResizeBilinear", imgs);
    const c = normal([2, ...size, 3], 62);
    const traced = tracedGrads(fn, [imgs[0]], c);
    const eager = eagerGrads(fn, [imgs[0]], c);
    assertClose(traced[0], eager[0], `${label}: d/dimages`);
    c.dispose();
  }
  // Rank 3 and an unknown batch size.
  sameAsEager(
    "rank 3",
    (t) => tf.image.resizeBilinear(tf.reshape(t, [-1, 5, 3]) as tf.Tensor3D, [5, 4]),
    "ResizeBilinear",
    imgs,
  );
  const fn = (t: tf.Tensor) => tf.image.resizeBilinear(t as tf.Tensor4D, [6, 6], false, true);
  const f = tfFunction(fn, { inputSignature: [tensorSpec([null, 4, 5, 3])] });
  for (const n of [1, 3]) {
    const x = normal([n, 4, 5, 3], n);
    const [traced, eager] = [f(x) as tf.Tensor, tf.tidy(() => fn(x))];
    assert.deepEqual(traced.shape, [n, 6, 6, 3]);
    assert.deepEqual(value(traced), value(eager));
    tf.dispose([x, traced, eager]);
  }
  assert.equal(f.traceCount, 1);
  f.dispose();
  flatMemory((t) => tf.image.resizeBilinear(t as tf.Tensor4D, [7, 3], false, true), [imgs[0]]);
  tf.dispose(imgs);
});

Deno.test("tf.function: ResizeBilinearGrad differentiates again in a trace (resizing is linear, its gradient the transpose): the Hessian of Σ resize(x)² times v is 2·Rᵀ(R·v)", () => {
  const x = normal([1, 3, 4, 2], 63), v = normal([1, 3, 4, 2], 64);
  const resize = (t: tf.Tensor) => tf.image.resizeBilinear(t as tf.Tensor4D, [5, 7], false, true);
  const f = tfFunction((t: tf.Tensor) => {
    const outer = new GradientTape();
    outer.watch(t);
    const gv = outer.record(() => {
      const inner = new GradientTape();
      inner.watch(t);
      const y = inner.record(() => tf.sum(tf.square(resize(t))));
      return tf.sum(tf.mul(inner.gradient(y, t) as tf.Tensor, v));
    });
    return outer.gradient(gv, t) as tf.Tensor;
  }, { autograph: false });
  const hv = f(x) as tf.Tensor;
  const want = tf.tidy(() => {
    const rv = resize(v);
    return tf.mul(tf.grad((t: tf.Tensor) => tf.sum(tf.mul(resize(t), rv)))(x), 2);
  });
  assertClose(value(hv), value(want), "d²/dx² · v");
  assert.ok(value(hv).some((d) => d !== 0));
  tf.dispose([x, v, hv, want]);
  f.dispose();
});

Deno.test("tf.function: tf.localResponseNormalization is an LRN graph op (tf.nn.local_response_normalization: x / (bias + alpha·Σ x² over depth_radius channels each side)^beta) matching eager and TF's formula, and its gradient is TF's LRNGrad, equal to the eager tape's", () => {
  const imgs = [normal([2, 3, 3, 6], 70), normal([2, 3, 3, 6], 71)];
  const cases: [string, number, number, number, number][] = [
    ["defaults", 5, 1, 1, 0.5],
    ["radius 1", 1, 2, 0.5, 0.75],
    ["radius 2", 2, 1, 0.1, 1],
  ];
  for (const [label, radius, bias, alpha, beta] of cases) {
    const fn = (t: tf.Tensor) =>
      tf.localResponseNormalization(t as tf.Tensor4D, radius, bias, alpha, beta);
    sameAsEager(label, fn, "LRN", imgs);
    const c = normal([2, 3, 3, 6], 72);
    const traced = tracedGrads(fn, [imgs[0]], c);
    const eager = eagerGrads(fn, [imgs[0]], c);
    assertClose(traced[0], eager[0], `${label}: d/dx`, 1e-4);
    c.dispose();
  }
  // TF's formula, channel by channel, for radius 1.
  const f = tfFunction(
    (t: tf.Tensor) => tf.localResponseNormalization(t as tf.Tensor4D, 1, 2, 0.5, 0.75),
    {
      autograph: false,
    },
  );
  const got = value(f(imgs[1]));
  const x = value(imgs[1]);
  const want = x.map((v, i) => {
    const d = i % 6, base = i - d;
    let sq = 0;
    for (let j = Math.max(0, d - 1); j <= Math.min(5, d + 1); j++) sq += x[base + j] ** 2;
    return v / (2 + 0.5 * sq) ** 0.75;
  });
  assertClose(got, want, "the formula");
  f.dispose();
  flatMemory((t) => tf.localResponseNormalization(t as tf.Tensor4D, 2), [imgs[0]]);
  tf.dispose(imgs);
});

Deno.test("tf.function: these ops on a tensor of the wrong rank or with NCHW data raise errors while tracing (TF: shape inference fails when the function is traced), and leave tf.memory flat", () => {
  const x = normal([4, 5], 80);
  const before = tf.memory().numTensors;
  const bad: [string, (t: tf.Tensor) => tf.Tensor][] = [
    ["resizeBilinear of a matrix", (t) => tf.image.resizeBilinear(t as never, [2, 2])],
    [
      "batchNorm with statistics that do not broadcast",
      (t) => tf.batchNorm(t, tf.zeros([4]), tf.ones([4])),
    ],
    [
      "depthwiseConv2d NCHW",
      (t) =>
        tf.depthwiseConv2d(
          tf.reshape(t, [1, 1, 4, 5]) as tf.Tensor4D,
          tf.ones([1, 1, 1, 1]) as tf.Tensor4D,
          1,
          "same",
          "NCHW",
        ),
    ],
  ];
  for (const [label, fn] of bad) {
    const f = tfFunction(fn, { autograph: false });
    assert.throws(() => f(x), Error, label);
    f.dispose();
  }
  assert.equal(tf.memory().numTensors, before);
  const nchw = tfFunction(bad[2][1], { autograph: false });
  assert.throws(() => nchw(x), GraphError);
  nchw.dispose();
  x.dispose();
});
