import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../lib/backend.ts";
import {
  cnn,
  customLayerMlp,
  DigitNet,
  functionalCnn,
  mlp,
  ModelOptionError,
  residualCnn,
  SeededDropout,
  seededDropout,
  SimpleDense,
  simpleDense,
  summary,
} from "../lib/models/mod.ts";

await initBackend();

/** Params per layer, hand-computed the way Keras counts them. */
const dense = (inputs: number, units: number) => inputs * units + units;
const conv = (k: number, inC: number, filters: number) => k * k * inC * filters + filters;

function layerParams(model: tf.LayersModel): number[] {
  return model.layers.map((l) => l.countParams());
}

function dispose(...models: { dispose(): unknown }[]): void {
  for (const m of models) m.dispose();
}

Deno.test("mlp: Keras' layer shapes and parameter counts", () => {
  const before = tf.memory().numTensors;
  const m = mlp({ seed: 1 });
  assert.deepEqual(m.inputs[0].shape, [null, 28, 28, 1]);
  assert.deepEqual(m.outputs[0].shape, [null, 10]);
  assert.deepEqual(m.layers.map((l) => l.getClassName()), ["Flatten", "Dense", "Dropout", "Dense"]);
  assert.deepEqual(layerParams(m), [0, dense(784, 128), 0, dense(128, 10)]);
  assert.equal(m.countParams(), 101_770); // Keras prints "Total params: 101,770"
  const small = mlp({ units: 64, dropout: 0 });
  assert.equal(small.countParams(), dense(784, 64) + dense(64, 10));
  assert.equal(small.layers.length, 3);
  dispose(m, small);
  assert.equal(tf.memory().numTensors, before);
});

Deno.test("mlp and cnn: output is a 10-way softmax over [b, 28, 28, 1] images", () => {
  const before = tf.memory().numTensors;
  for (const m of [mlp({ seed: 3 }), cnn({ seed: 3 })]) {
    tf.tidy(() => {
      const p = m.predict(tf.randomUniform([5, 28, 28, 1], 0, 1, "float32", 7)) as tf.Tensor;
      assert.deepEqual(p.shape, [5, 10]);
      const sums = p.sum(1).dataSync();
      for (const s of sums) assert.ok(Math.abs(s - 1) < 1e-5, `row sums to ${s}`);
      assert.ok(p.min().dataSync()[0] >= 0);
    });
    m.dispose();
  }
  assert.equal(tf.memory().numTensors, before);
});

Deno.test("cnn: Keras' layer shapes and parameter counts", () => {
  const m = cnn({ seed: 1 });
  assert.deepEqual(
    m.layers.map((l) => l.outputShape),
    [
      [null, 26, 26, 16],
      [null, 13, 13, 16],
      [null, 11, 11, 32],
      [null, 5, 5, 32],
      [null, 800],
      [
        null,
        128,
      ],
      [null, 128],
      [null, 10],
    ],
  );
  assert.deepEqual(layerParams(m), [
    conv(3, 1, 16),
    0,
    conv(3, 16, 32),
    0,
    0,
    dense(800, 128),
    0,
    dense(128, 10),
  ]);
  assert.equal(m.countParams(), 108_618);
  const other = cnn({ filters: [8, 16], denseUnits: 64, kernelSize: 5, dropout: 0 });
  // 5x5 valid: 28→24→pool 12→8→pool 4: 4*4*16 = 256 features
  assert.equal(
    other.countParams(),
    conv(5, 1, 8) + conv(5, 8, 16) + dense(256, 64) + dense(64, 10),
  );
  dispose(m, other);
});

Deno.test("builders reject options that cannot make a model", () => {
  assert.throws(() => mlp({ units: 0 }), ModelOptionError);
  assert.throws(() => mlp({ dropout: 1 }), /dropout is 1/);
  assert.throws(() => cnn({ filters: [16, 2.5] }), /filters\[1\] is 2.5/);
  assert.throws(() => cnn({ kernelSize: 9 }), ModelOptionError);
});

Deno.test("a seed fixes the initial weights; another seed changes them", () => {
  const a = cnn({ seed: 11 });
  const b = cnn({ seed: 11 });
  const c = cnn({ seed: 12 });
  const wa = a.getWeights().map((w) => Array.from(w.dataSync()));
  const wb = b.getWeights().map((w) => Array.from(w.dataSync()));
  const wc = c.getWeights().map((w) => Array.from(w.dataSync()));
  assert.deepEqual(wa, wb);
  assert.notDeepEqual(wa[0], wc[0]);
  // Each layer gets its own seed: two same-shape kernels are not copies.
  const m = mlp({ seed: 5, units: 10, classes: 10 });
  assert.notDeepEqual(
    Array.from(m.getWeights()[2].dataSync()).slice(0, 10),
    Array.from(m.getWeights()[0].dataSync()).slice(0, 10),
  );
  dispose(a, b, c, m);
});

Deno.test("functional CNN equals the Sequential one in layers and parameters", () => {
  const s = cnn({ seed: 2 });
  const f = functionalCnn({ seed: 2 });
  assert.equal(f.countParams(), s.countParams());
  // The functional model lists its InputLayer; the rest match one to one.
  assert.equal(f.layers[0].getClassName(), "InputLayer");
  assert.deepEqual(layerParams(f).slice(1), layerParams(s));
  assert.deepEqual(f.layers.slice(1).map((l) => l.outputShape), s.layers.map((l) => l.outputShape));
  // Same seed, same initial weights: the two are the same function.
  const x = tf.randomUniform([3, 28, 28, 1], 0, 1, "float32", 3);
  const ps = s.predict(x) as tf.Tensor;
  const pf = f.predict(x) as tf.Tensor;
  assert.deepEqual(Array.from(pf.dataSync()), Array.from(ps.dataSync()));
  tf.dispose([x, ps, pf]);
  dispose(s, f);
});

Deno.test("residual CNN: a skip connection, with Keras' parameter counts", () => {
  const m = residualCnn({ seed: 1 });
  const add = m.getLayer("skip_add");
  assert.equal(add.getClassName(), "Add");
  const inbound = (add as unknown as { inboundNodes: { inboundLayers: tf.layers.Layer[] }[] })
    .inboundNodes[0].inboundLayers.map((l) => l.name);
  assert.deepEqual(inbound, ["stem", "block_conv2"]);
  assert.equal(
    m.countParams(),
    conv(3, 1, 8) + 2 * conv(3, 8, 8) + conv(3, 8, 16) + dense(7 * 7 * 16, 10),
  );
  const wide = residualCnn({ filters: 16 });
  assert.equal(
    wide.countParams(),
    conv(3, 1, 16) + 2 * conv(3, 16, 16) + conv(3, 16, 32) + dense(7 * 7 * 32, 10),
  );
  wide.dispose();
  tf.tidy(() => {
    const p = m.predict(tf.zeros([2, 28, 28, 1])) as tf.Tensor;
    assert.deepEqual(p.shape, [2, 10]);
  });
  m.dispose();
});

Deno.test("SimpleDense: own weights in build, config round trip, registered class", () => {
  const before = tf.memory().numTensors;
  const layer = simpleDense({ units: 3, activation: "relu", seed: 4 });
  assert.equal(layer.built, false);
  const ones = tf.ones([2, 5]);
  const y = layer.apply(ones) as tf.Tensor;
  assert.equal(layer.built, true);
  assert.deepEqual(y.shape, [2, 3]);
  assert.deepEqual(layer.getWeights().map((w) => w.shape), [[5, 3], [3]]);
  assert.equal(layer.countParams(), dense(5, 3));
  assert.deepEqual(layer.computeOutputShape([null, 7, 5]), [null, 7, 3]);
  // Same math as a stock Dense with the same weights.
  const d = tf.layers.dense({ units: 3, activation: "relu", inputShape: [5] });
  tf.tidy(() => {
    d.apply(tf.zeros([1, 5]));
  });
  d.setWeights(layer.getWeights());
  const x = tf.randomNormal([4, 5], 0, 1, "float32", 9);
  const a = layer.apply(x) as tf.Tensor;
  const b = d.apply(x) as tf.Tensor;
  assert.deepEqual(Array.from(a.dataSync()), Array.from(b.dataSync()));
  const config = layer.getConfig();
  assert.equal(config.units, 3);
  assert.equal(config.activation, "relu");
  const copy = SimpleDense.fromConfig(SimpleDense, config) as SimpleDense;
  assert.equal(copy.units, 3);
  assert.equal(copy.activation, "relu");
  const map = tf.serialization.SerializationMap.getMap().classNameMap;
  assert.ok(map["SimpleDense"], "SimpleDense is registered for deserialization");
  assert.throws(
    () => simpleDense({ units: 2, activation: "gelu" as "relu" }),
    /unknown activation/,
  );
  tf.dispose([ones, y, x, a, b]);
  layer.dispose();
  d.dispose();
  assert.equal(tf.memory().numTensors, before);
});

Deno.test("customLayerMlp: the MLP with SimpleDense layers, same counts", () => {
  const m = customLayerMlp({ seed: 1 });
  assert.deepEqual(m.layers.map((l) => l.getClassName()), [
    "Flatten",
    "SimpleDense",
    "Dropout",
    "SimpleDense",
  ]);
  assert.equal(m.countParams(), 101_770);
  m.dispose();
});

Deno.test("DigitNet (subclassed): built on construction, logits and probabilities", () => {
  const before = tf.memory().numTensors;
  const net = new DigitNet({ seed: 1 });
  assert.equal(net.countParams(), 108_618);
  assert.equal(net.trainableVariables.length, 8);
  tf.tidy(() => {
    const x = tf.randomUniform([3, 28, 28, 1], 0, 1, "float32", 2);
    assert.deepEqual(net.call(x).shape, [3, 10]);
    const p = net.predict(x);
    for (const s of p.sum(1).dataSync()) assert.ok(Math.abs(s - 1) < 1e-5);
  });
  // get/set weights round trip
  const zeros = net.getWeights().map((w) => tf.zerosLike(w));
  net.setWeights(zeros);
  assert.equal(tf.tidy(() => net.getWeights()[0].abs().sum().dataSync()[0]), 0);
  tf.dispose(zeros);
  assert.throws(() => net.setWeights([]), /expected 8 tensors/);
  net.dispose();
  assert.equal(tf.memory().numTensors, before);
});

Deno.test("seededDropout: Keras Dropout on disk, reproducible masks that change per batch", () => {
  const before = tf.memory().numTensors;
  const mask = (layer: SeededDropout) =>
    tf.tidy(() =>
      Array.from((layer.apply(tf.ones([1, 64]), { training: true }) as tf.Tensor).dataSync())
    );
  const a = seededDropout({ rate: 0.5, seed: 3 });
  const b = seededDropout({ rate: 0.5, seed: 3 });
  const a1 = mask(a);
  const a2 = mask(a);
  assert.deepEqual(mask(b), a1, "same seed, same first mask");
  assert.deepEqual(mask(b), a2, "same seed, same second mask");
  assert.notDeepEqual(a1, a2, "a new mask for each training call");
  assert.ok(a1.some((v) => v === 0) && a1.some((v) => v === 2), "kept units scaled by 1/(1-rate)");
  tf.tidy(() => {
    const y = a.apply(tf.ones([1, 8])) as tf.Tensor;
    assert.deepEqual(Array.from(y.dataSync()), new Array(8).fill(1), "identity at inference");
  });
  assert.equal(a.getClassName(), "Dropout");
  assert.deepEqual(
    { rate: a.getConfig().rate, seed: a.getConfig().seed, noiseShape: a.getConfig().noiseShape },
    { rate: 0.5, seed: 3, noiseShape: null },
  );
  assert.throws(() => seededDropout({ rate: 1.5 }), RangeError);
  assert.equal(tf.memory().numTensors, before);
});

Deno.test(
  "keras.layers.Dropout(seed): the n-th training mask comes from (seed, n), a stream no other seed uses (Keras SeedGenerator)",
  () => {
    const before = tf.memory().numTensors;
    const masks = (seed: number, calls: number) => {
      const layer = seededDropout({ rate: 0.5, seed });
      return Array.from(
        { length: calls },
        () =>
          tf.tidy(() =>
            Array.from((layer.apply(tf.ones([1, 256]), { training: true }) as tf.Tensor).dataSync())
          ),
      );
    };
    const three = masks(3, 3), four = masks(4, 3);
    // Keras counts calls apart from the seed: the layer seeded 4 does not replay the layer
    // seeded 3 one batch later (seed + n made call n of seed 4 equal call n + 1 of seed 3).
    for (let n = 0; n + 1 < 3; n++) {
      assert.notDeepEqual(four[n], three[n + 1], `seed 4 call ${n} repeats seed 3 call ${n + 1}`);
    }
    // Nor does a mask repeat the draws of an initializer seeded with another integer: the
    // units kept by call 1 of seed 3 are not those where randomUniform(seed 4) >= rate.
    const u = tf.tidy(() => Array.from(tf.randomUniform([256], 0, 1, "float32", 4).dataSync()));
    assert.notDeepEqual(three[1], u.map((x) => x >= 0.5 ? 2 : 0), "mask = another seed's draws");
    // Still a dropout mask: about half the units kept, each scaled by 1/(1 − rate).
    for (const m of [...three, ...four]) {
      const kept = m.filter((v) => v === 2).length;
      assert.equal(kept + m.filter((v) => v === 0).length, 256);
      assert.ok(kept > 96 && kept < 160, `${kept} of 256 kept at rate 0.5`);
    }
    assert.deepEqual(masks(3, 3), three, "the same seed gives the same masks");
    assert.equal(tf.memory().numTensors, before);
  },
);

Deno.test("summary: Keras' rows and totals, as text and as an HTML table", () => {
  const m = cnn({ seed: 1 });
  const s = summary(m);
  assert.equal(s.totalParams, 108_618);
  assert.equal(s.trainableParams, 108_618);
  assert.equal(s.nonTrainableParams, 0);
  assert.deepEqual(s.rows.map((r) => r.params), layerParams(m));
  assert.equal(s.rows[0].outputShape, "(None, 26, 26, 16)");
  assert.equal(s.rows[4].outputShape, "(None, 800)");
  const text = String(s);
  assert.match(text, /Total params: 108,618/);
  assert.match(text, /Trainable params: 108,618/);
  const bundle = (s[Symbol.for("Jupyter.display")] as () => Record<string, string>)();
  assert.match(bundle["text/html"], /<table/);
  assert.match(bundle["text/html"], /102,528/);
  assert.equal(bundle["text/plain"], text);
  // Functional graphs that branch get a "Connected to" column.
  const r = residualCnn();
  const rs = summary(r);
  assert.deepEqual(rs.rows.find((row) => row.name === "skip_add")?.connectedTo, [
    "stem[0][0]",
    "block_conv2[0][0]",
  ]);
  assert.match(String(rs), /Connected to/);
  // Frozen layers count as non-trainable.
  m.layers[0].trainable = false;
  const frozen = summary(m);
  assert.equal(frozen.nonTrainableParams, conv(3, 1, 16));
  // A subclassed model has no static shapes: Keras prints "multiple".
  const net = new DigitNet();
  const ns = summary(net);
  assert.equal(ns.totalParams, 108_618);
  assert.equal(ns.rows[0].outputShape, "multiple");
  dispose(m, r, net);
});
