// Layers and models, behaviour by behaviour, from TensorFlow's Keras guides "The Sequential
// model" (guide/keras/sequential_model), "The Functional API" (guide/keras/functional_api),
// "Making new layers and models via subclassing" (guide/keras/making_new_layers_and_models_via_
// subclassing), "Save, serialize, and export models" (guide/keras/serialization_and_saving) and the
// API docs of tf.keras.layers.Layer, tf.keras.Model and tf.keras.Sequential, checked on what
// lib/models and lib/io/model_files expose. Where tfjs differs on purpose, the test says so in its
// name and asserts the documented difference.
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../lib/backend.ts";
import {
  cnn,
  CountingDense,
  customLayerMlp,
  DigitNet,
  functionalCnn,
  mlp,
  ModelNotBuiltError,
  residualCnn,
  seededDropout,
  SimpleDense,
  simpleDense,
  summary,
} from "../lib/models/mod.ts";
import { loadModel, ModelFileError, saveModel } from "../lib/io/model_files.ts";

await initBackend();

const values = (t: tf.Tensor): number[] => Array.from(t.dataSync());
const names = (ws: tf.LayerVariable[]): string[] =>
  ws.map((w) => w.originalName.slice(w.originalName.lastIndexOf("/") + 1));
/** `fn` run inside tf.tidy, its result read out as numbers. */
const run = (fn: () => tf.Tensor): number[] => tf.tidy(() => values(fn()));
const sameValues = (a: number[], b: number[]): boolean =>
  a.length === b.length && a.every((v, i) => v === b[i]);
/** Calls `layer` on ones of `shape` (eagerly), freeing all but the weights it creates; the output's shape. */
const call = (layer: tf.layers.Layer, shape: number[], kwargs = {}): number[] =>
  tf.tidy(() => (layer.apply(tf.ones(shape), kwargs) as tf.Tensor).shape as number[]);
/** Keras' `from_config`: a new layer of the registered class `className`, from `config`. */
function fromConfig(className: string, config: tf.serialization.ConfigDict): tf.layers.Layer {
  const [cls, make] = tf.serialization.SerializationMap.getMap().classNameMap[className];
  return make(cls, config) as unknown as tf.layers.Layer;
}

// ---------------------------------------------------------------- tf.keras.layers.Layer

Deno.test("Layer API: build() runs lazily at the first __call__ with the input's shape (no weights before; a [5, 3] kernel after a [2, 5] call); a second call does not rebuild", () => {
  const layer = simpleDense({ units: 3, seed: 1 });
  assert.equal(layer.built, false);
  assert.equal(layer.weights.length, 0);
  call(layer, [2, 5]);
  assert.equal(layer.built, true);
  assert.deepEqual(layer.weights.map((w) => w.shape), [[5, 3], [3]]);
  const kernel = layer.weights[0];
  call(layer, [7, 5]);
  assert.equal(layer.weights[0], kernel, "the same variable, not a new one");
  layer.dispose();
});

Deno.test("Layer API: count_params() on a layer that is not built raises (it has no weights yet)", () => {
  const layer = simpleDense({ units: 3 });
  assert.throws(() => layer.countParams(), /not built/);
  call(layer, [1, 4]);
  assert.equal(layer.countParams(), 4 * 3 + 3);
  layer.dispose();
});

Deno.test('Layer API: "weights: the concatenation of trainable_weights and non_trainable_weights (in this order)": CountingDense has kernel, bias | seen', () => {
  const layer = new CountingDense({ units: 2, seed: 1 });
  call(layer, [3, 4]);
  assert.deepEqual(names(layer.trainableWeights), ["kernel", "bias"]);
  assert.deepEqual(names(layer.nonTrainableWeights), ["seen"]);
  assert.deepEqual(names(layer.weights), ["kernel", "bias", "seen"]);
  layer.dispose();
});

Deno.test('subclassing guide: "layer.trainable = False" moves every weight to non_trainable_weights (kernel, bias, seen, in that order); trainable = True moves them back', () => {
  const layer = new CountingDense({ units: 2, seed: 1 });
  call(layer, [3, 4]);
  layer.trainable = false;
  assert.deepEqual(layer.trainableWeights, []);
  assert.deepEqual(names(layer.nonTrainableWeights), ["kernel", "bias", "seen"]);
  layer.trainable = true;
  assert.deepEqual(names(layer.trainableWeights), ["kernel", "bias"]);
  layer.dispose();
});

Deno.test("Layer API: trainable=False given to the constructor is in get_config() and survives from_config() (SimpleDense, CountingDense)", () => {
  for (
    const layer of [
      new SimpleDense({ units: 2, trainable: false }),
      new CountingDense({ units: 2, trainable: false }),
    ]
  ) {
    assert.equal(layer.trainable, false);
    assert.equal(layer.getConfig().trainable, false);
    const Cls = layer.constructor as typeof SimpleDense;
    const again = fromConfig(Cls.className, layer.getConfig());
    assert.equal(again.trainable, false, `${Cls.className} from_config`);
    call(again, [1, 3]);
    assert.deepEqual(again.trainableWeights, [], `${Cls.className}: no trainable weight`);
  }
});

Deno.test("Layer API: from_config(get_config()) gives a layer with the same config (SimpleDense, CountingDense, seeded Dropout as Keras' Dropout)", () => {
  const layers: tf.layers.Layer[] = [
    simpleDense({ units: 3, activation: "tanh", seed: 7, name: "sd" }),
    new CountingDense({ units: 4, l2: 0.5, seed: 2, name: "cd" }),
    seededDropout({ rate: 0.3, seed: 5, name: "drop" }),
  ];
  for (const layer of layers) {
    const again = fromConfig(layer.getClassName(), layer.getConfig());
    assert.deepEqual(again.getConfig(), layer.getConfig(), layer.getClassName());
  }
});

Deno.test("Layer API: a custom first layer's input shape (batch_input_shape in its config) survives from_config, so a Sequential rebuilt from its config is built and has the same weights' shapes", () => {
  const model = tf.sequential({
    layers: [
      simpleDense({ units: 3, inputShape: [4], seed: 1, name: "first" }),
      new CountingDense({ units: 2, seed: 2, name: "second" }),
    ],
  });
  assert.deepEqual(model.layers[0].getConfig().batchInputShape, [null, 4]);
  const again = tf.Sequential.fromConfig(
    tf.Sequential,
    model.getConfig() as unknown as tf.serialization.ConfigDict,
  ) as tf.Sequential;
  assert.deepEqual(again.inputs[0].shape, [null, 4]);
  assert.deepEqual(again.weights.map((w) => w.shape), model.weights.map((w) => w.shape));
  model.dispose();
  again.dispose();
});

Deno.test("Layer API: compute_output_shape() agrees with the shape call() returns (SimpleDense, CountingDense, seeded Dropout)", () => {
  const layers: tf.layers.Layer[] = [
    simpleDense({ units: 3 }),
    new CountingDense({ units: 5 }),
    seededDropout({ rate: 0.5, seed: 1 }),
  ];
  for (const layer of layers) {
    const y = tf.tidy(() => (layer.apply(tf.ones([2, 4]), { training: true }) as tf.Tensor).shape);
    assert.deepEqual(layer.computeOutputShape([2, 4]), y, layer.getClassName());
    assert.deepEqual(layer.computeOutputShape([null, 4]), [null, y[1]], layer.getClassName());
  }
  for (const l of layers) l.dispose();
});

Deno.test('Layer API: input_spec: a built SimpleDense called on another feature size raises ("is incompatible with the layer", naming the axis) instead of a matMul error; nothing leaks', () => {
  const layer = simpleDense({ units: 3, seed: 1, name: "sd_spec" });
  call(layer, [2, 4]);
  const before = tf.memory().numTensors;
  for (let i = 0; i < 2; i++) {
    assert.throws(
      () => call(layer, [2, 5]),
      /incompatible with layer sd_spec: expected axis -1 of input shape to have value 4/,
    );
    assert.throws(() => call(layer, [4]), /incompatible with layer/);
  }
  assert.equal(tf.memory().numTensors, before);
  layer.dispose();
});

Deno.test("subclassing guide, add_loss(): a penalty CountingDense adds is in layer.losses once however many calls (they do not pile up), its value following the current kernel; tfjs (documented difference): model.losses lists only losses added to the model itself, model.calculateLosses() gathers its layers' (Keras: model.losses)", () => {
  const layer = new CountingDense({ units: 2, l2: 0.5, seed: 1 });
  const model = tf.sequential({ layers: [tf.layers.dense({ units: 4, inputShape: [3] }), layer] });
  for (let i = 0; i < 3; i++) call(model, [2, 3]);
  assert.equal(layer.losses.length, 1);
  assert.equal(model.losses.length, 0);
  tf.dispose(model.calculateLosses().map((l, _, all) => (assert.equal(all.length, 1), l)));
  const kernelPenalty = () => tf.tidy(() => layer.weights[0].read().square().sum().mul(0.5));
  const [penalty] = model.calculateLosses();
  const expected = kernelPenalty();
  assert.ok(Math.abs(penalty.dataSync()[0] - expected.dataSync()[0]) < 1e-6);
  tf.dispose([penalty, expected]);
  // The weights change: so does the loss (it is computed from them, like a kernel regularizer).
  layer.weights[0].write(tf.tidy(() => layer.weights[0].read().mul(2)));
  const [after] = model.calculateLosses();
  const expected2 = kernelPenalty();
  assert.ok(Math.abs(after.dataSync()[0] - expected2.dataSync()[0]) < 1e-5);
  tf.dispose([after, expected2]);
  model.dispose();
});

Deno.test('subclassing guide, "the training argument in call()": CountingDense counts examples and seeded Dropout drops only with training=True; predict() runs in inference mode', () => {
  const counting = new CountingDense({ units: 2, seed: 1 });
  const drop = seededDropout({ rate: 0.5, seed: 3 });
  const model = tf.sequential({
    layers: [tf.layers.inputLayer({ inputShape: [4] }), drop, counting],
  });
  const x = tf.ones([6, 4]);
  const inference = run(() => model.predict(x) as tf.Tensor);
  assert.equal(counting.seenCount(), 0);
  assert.ok(sameValues(run(() => drop.apply(x) as tf.Tensor), values(x)));
  const dropped = run(() => drop.apply(x, { training: true }) as tf.Tensor);
  assert.ok(
    dropped.some((v) => v === 0) && dropped.some((v) => v === 2),
    "kept units scaled by 1/(1-rate)",
  );
  run(() => model.apply(x, { training: true }) as tf.Tensor);
  assert.equal(counting.seenCount(), 6);
  assert.ok(sameValues(run(() => model.predict(x) as tf.Tensor), inference));
  x.dispose();
  model.dispose();
});

// ---------------------------------------------------------------- Model.summary / count_params

Deno.test("Model.summary(): the model's name, one row per layer with its name and class, output shapes with a None batch, Keras' parameter counts, and total / trainable / non-trainable totals", () => {
  const m = mlp({ seed: 1 });
  const s = summary(m);
  const text = String(s);
  assert.match(text, /^Model: "mlp"/);
  assert.deepEqual(
    s.rows.map((r) => [`${r.name} (${r.type})`, r.outputShape, r.params]),
    [
      ["flatten (Flatten)", "(None, 784)", 0],
      ["hidden (Dense)", "(None, 128)", 784 * 128 + 128],
      ["dropout (Dropout)", "(None, 128)", 0],
      ["output (Dense)", "(None, 10)", 128 * 10 + 10],
    ],
  );
  assert.match(text, /hidden \(Dense\) +\(None, 128\) +100,480/);
  assert.match(text, /Total params: 101,770\nTrainable params: 101,770\nNon-trainable params: 0/);
  assert.equal(m.countParams(), s.totalParams);
  m.dispose();
});

Deno.test("Model.summary(): a Sequential model lists no InputLayer; a Functional one lists its InputLayer first, with 0 parameters; model.layers is the same list", () => {
  const seq = cnn({ seed: 1 });
  const fun = functionalCnn({ seed: 1 });
  assert.equal(summary(seq).rows[0].type, "Conv2D");
  const first = summary(fun).rows[0];
  assert.deepEqual([first.name, first.type, first.outputShape, first.params], [
    "image",
    "InputLayer",
    "(None, 28, 28, 1)",
    0,
  ]);
  assert.deepEqual(summary(fun).rows.map((r) => r.name), fun.layers.map((l) => l.name));
  seq.dispose();
  fun.dispose();
});

Deno.test("Model.summary(): weights of a frozen layer (trainable = False) are counted as Non-trainable params; CountingDense's counter is non-trainable too", () => {
  const m = cnn({ seed: 1 });
  m.getLayer("conv1").trainable = false;
  const s = summary(m);
  assert.equal(s.nonTrainableParams, 3 * 3 * 1 * 16 + 16);
  assert.equal(s.trainableParams + s.nonTrainableParams, s.totalParams);
  const counting = tf.sequential({
    layers: [new CountingDense({ units: 2, inputShape: [3], seed: 1 })],
  });
  assert.deepEqual(
    [summary(counting).trainableParams, summary(counting).nonTrainableParams],
    [3 * 2 + 2, 1],
  );
  m.dispose();
  counting.dispose();
});

Deno.test('Model.summary(): a graph that branches gets a "Connected to" column naming each input as layer[node_index][tensor_index] (the Add of the skip connection receives stem[0][0] and block_conv2[0][0])', () => {
  const r = residualCnn({ seed: 1 });
  const s = summary(r);
  assert.deepEqual(s.rows.find((row) => row.name === "skip_add")?.connectedTo, [
    "stem[0][0]",
    "block_conv2[0][0]",
  ]);
  assert.deepEqual(s.rows.find((row) => row.name === "stem")?.connectedTo, ["image[0][0]"]);
  assert.match(String(s), /\nimage \(InputLayer\) +\(None, 28, 28, 1\) +0 +-\n/);
  assert.match(
    String(s),
    /skip_add \(Add\) +\(None, 28, 28, 8\) +0 +stem\[0\]\[0\], block_conv2\[0\]\[0\]/,
  );
  r.dispose();
});

Deno.test("Model.summary(): a layer shared by two calls is connected to both inputs (layer[1][0] is its second node); only nodes of the summarized model are listed", () => {
  const a = tf.input({ shape: [4], name: "a" });
  const b = tf.input({ shape: [4], name: "b" });
  const shared = tf.layers.dense({ units: 2, name: "shared" });
  const ya = shared.apply(a) as tf.SymbolicTensor;
  const yb = shared.apply(b) as tf.SymbolicTensor;
  const both = tf.layers.concatenate({ name: "both" }).apply([ya, yb]) as tf.SymbolicTensor;
  const model = tf.model({ inputs: [a, b], outputs: both });
  const s = summary(model);
  assert.deepEqual(s.rows.find((r) => r.name === "shared")?.connectedTo, ["a[0][0]", "b[0][0]"]);
  assert.deepEqual(s.rows.find((r) => r.name === "both")?.connectedTo, [
    "shared[0][0]",
    "shared[1][0]",
  ]);
  assert.equal(
    s.rows.find((r) => r.name === "shared")?.params,
    4 * 2 + 2,
    "shared weights counted once",
  );
  // A model over only the first branch does not list the other call of the shared layer.
  const left = tf.model({ inputs: a, outputs: ya });
  const c = tf.input({ shape: [4], name: "c" });
  tf.model({ inputs: [a, c], outputs: [ya, shared.apply(c) as tf.SymbolicTensor] });
  const ls = summary(left);
  assert.deepEqual(ls.rows.find((r) => r.name === "shared")?.connectedTo, ["a[0][0]"]);
  model.dispose();
});

Deno.test('Model.summary() of a model that is not built raises ModelNotBuiltError ("This model has not yet been built"), naming the model and the layer', () => {
  const unbuilt = { name: "my_net", layers: [simpleDense({ units: 3, name: "d" })] };
  assert.throws(() => summary(unbuilt), (e: Error) => {
    assert.ok(e instanceof ModelNotBuiltError);
    assert.match(e.message, /my_net/);
    assert.match(e.message, /has not yet been built/);
    assert.match(e.message, /"d"/);
    return true;
  });
  call(unbuilt.layers[0], [1, 2]);
  assert.equal(summary(unbuilt).totalParams, 2 * 3 + 3);
  unbuilt.layers[0].dispose();
});

Deno.test('subclassed model (documented difference): DigitNet builds at construction (Keras builds a subclassed Model at its first call), and its summary prints "multiple" output shapes as Keras does for subclassed models', () => {
  const net = new DigitNet({ seed: 1 });
  assert.ok(net.layers.every((l) => l.built));
  const s = summary(net);
  assert.ok(s.rows.every((r) => r.outputShape === "multiple"));
  assert.equal(s.totalParams, net.countParams());
  assert.equal(s.totalParams, 108_618);
  net.dispose();
});

Deno.test("subclassed model: freezing a layer removes its weights from trainableVariables (Keras' model.trainable_variables) and counts them as non-trainable in the summary", () => {
  const net = new DigitNet({ seed: 1 });
  const all = net.trainableVariables.length;
  net.conv1.trainable = false;
  assert.equal(net.trainableVariables.length, all - 2);
  assert.equal(summary(net).nonTrainableParams, 3 * 3 * 1 * 16 + 16);
  net.dispose();
});

// ---------------------------------------------------------------- Sequential

Deno.test("Sequential (documented tfjs difference): the first layer must be given an input shape; Keras would defer building until the first call, tfjs refuses the layer", () => {
  const m = tf.sequential();
  assert.throws(
    () => m.add(tf.layers.dense({ units: 2 })),
    /first layer in a Sequential model must get an `inputShape`/,
  );
  m.add(tf.layers.dense({ units: 2, inputShape: [3] }));
  assert.equal(m.weights.length, 2, 'with an input shape "the model gets built continuously"');
  // input_shape excludes the batch axis: the model's input is (None, ...), as mlp()'s.
  assert.deepEqual(m.inputs[0].shape, [null, 3]);
  const built = mlp({ seed: 1 });
  assert.deepEqual(built.inputs[0].shape, [null, 28, 28, 1]);
  assert.equal(built.weights.length, 4);
  built.dispose();
  m.dispose();
});

Deno.test("Sequential: pop() removes the last layer, and the model's output becomes the previous layer's (mlp without its softmax head: (None, 128))", () => {
  const m = mlp({ seed: 1 });
  m.pop();
  assert.deepEqual(m.layers.map((l) => l.name), ["flatten", "hidden", "dropout"]);
  assert.deepEqual(m.outputs[0].shape, [null, 128]);
  assert.deepEqual(tf.tidy(() => (m.predict(tf.zeros([2, 28, 28, 1])) as tf.Tensor).shape), [
    2,
    128,
  ]);
  m.dispose();
});

Deno.test("Sequential guide, feature extraction: a Model(inputs=model.inputs, outputs=layer.output) shares the layers and weights of the Sequential model it comes from", () => {
  const m = cnn({ seed: 1 });
  const features = tf.model({
    inputs: m.inputs,
    outputs: m.getLayer("flatten").output as tf.SymbolicTensor,
  });
  assert.ok(features.layers.slice(1).every((l) => m.layers.includes(l)));
  assert.deepEqual(features.outputs[0].shape, [null, 800]);
  m.dispose();
});

// ---------------------------------------------------------------- Functional

Deno.test("Functional API: get_layer(name) returns the layer of that name; an unknown name raises", () => {
  const r = residualCnn({ seed: 1 });
  assert.equal(r.getLayer("skip_add").getClassName(), "Add");
  assert.equal(r.getLayer("stem"), r.layers[1]);
  assert.throws(() => r.getLayer("nope"), /No such layer: nope/);
  r.dispose();
});

Deno.test('Functional API, "Shared layers": one layer called on two inputs has one set of weights, so equal inputs give equal outputs', () => {
  const a = tf.input({ shape: [3] });
  const b = tf.input({ shape: [3] });
  const shared = simpleDense({ units: 2, seed: 1 });
  const model = tf.model({
    inputs: [a, b],
    outputs: [shared.apply(a) as tf.SymbolicTensor, shared.apply(b) as tf.SymbolicTensor],
  });
  assert.equal(model.countParams(), 3 * 2 + 2);
  assert.equal(model.weights.length, 2);
  const [ya, yb] = tf.tidy(() =>
    (model.predict([tf.ones([1, 3]), tf.ones([1, 3])]) as tf.Tensor[]).map(values)
  );
  assert.ok(sameValues(ya, yb));
  model.dispose();
});

Deno.test('Functional API, "All models are callable, just like layers": functionalCnn called on a new Input reuses its weights (same predictions, no new parameters)', () => {
  const inner = functionalCnn({ seed: 1 });
  const x = tf.input({ shape: [28, 28, 1] });
  const outer = tf.model({ inputs: x, outputs: inner.apply(x) as tf.SymbolicTensor });
  assert.equal(outer.countParams(), inner.countParams());
  const img = tf.randomUniform([2, 28, 28, 1], 0, 1, "float32", 3);
  assert.ok(sameValues(
    run(() => inner.predict(img) as tf.Tensor),
    run(() => outer.predict(img) as tf.Tensor),
  ));
  img.dispose();
  inner.dispose();
});

Deno.test('Functional API: a model frozen as a whole (trainable = False) and used as a layer is one "(Functional)" row of the summary and contributes only non-trainable weights (transfer learning)', () => {
  const base = functionalCnn({ seed: 1 });
  base.trainable = false;
  const x = tf.input({ shape: [28, 28, 1] });
  const head = tf.layers.dense({ units: 3, name: "head" });
  const model = tf.model({ inputs: x, outputs: head.apply(base.apply(x)) as tf.SymbolicTensor });
  const s = summary(model);
  assert.deepEqual(s.rows.map((r) => r.type), ["InputLayer", "Functional", "Dense"]);
  assert.equal(s.rows[1].outputShape, "(None, 10)");
  assert.equal(s.trainableParams, 10 * 3 + 3);
  assert.equal(s.nonTrainableParams, base.countParams());
  model.dispose();
});

// ---------------------------------------------------------------- saving and loading

Deno.test("saving guide: load_model reconstructs the architecture (same config, name and layer names) and the weights (identical predictions) of Sequential, Functional and custom-layer models", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const x = tf.randomUniform([3, 28, 28, 1], 0, 1, "float32", 5);
    for (const model of [mlp({ seed: 1 }), residualCnn({ seed: 2 }), customLayerMlp({ seed: 3 })]) {
      await saveModel(model, `${dir}/${model.name}`);
      const back = await loadModel(`${dir}/${model.name}`);
      assert.equal(back.name, model.name);
      assert.deepEqual(back.layers.map((l) => l.name), model.layers.map((l) => l.name));
      assert.deepEqual(back.getConfig(), model.getConfig());
      assert.ok(
        sameValues(
          run(() => model.predict(x) as tf.Tensor),
          run(() => back.predict(x) as tf.Tensor),
        ),
        model.name,
      );
      model.dispose();
      back.dispose();
    }
    x.dispose();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("saving guide: non-trainable state round-trips: a frozen layer is frozen after loading, and CountingDense's counter keeps its value", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const counting = new CountingDense({ units: 2, seed: 1, name: "counting" });
    const model = tf.sequential({
      layers: [tf.layers.dense({ units: 3, inputShape: [4], name: "frozen" }), counting],
    });
    model.getLayer("frozen").trainable = false;
    call(model, [5, 4], { training: true });
    await saveModel(model, dir);
    const back = await loadModel(dir);
    assert.equal(back.getLayer("frozen").trainable, false);
    assert.deepEqual(back.trainableWeights.map((w) => w.shape), [[3, 2], [2]]);
    assert.equal((back.getLayer("counting") as CountingDense).seenCount(), 5);
    model.dispose();
    back.dispose();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("saving guide (documented tfjs difference): the optimizer is saved only with includeOptimizer (Keras' model.save includes it by default; tfjs's save does not), so by default the loaded model is not compiled", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const model = mlp({ units: 8, seed: 1 });
    model.compile({ optimizer: tf.train.adam(1e-3), loss: "categoricalCrossentropy" });
    await saveModel(model, `${dir}/plain`);
    const plain = await loadModel(`${dir}/plain`);
    assert.equal(plain.optimizer, undefined);
    await saveModel(model, `${dir}/full`, { includeOptimizer: true });
    const full = await loadModel(`${dir}/full`);
    assert.equal(full.optimizer.getClassName(), "Adam");
    const json = JSON.parse(await Deno.readTextFile(`${dir}/plain/model.json`));
    assert.equal(json.trainingConfig, undefined);
    for (const m of [model, plain, full]) {
      m.optimizer?.dispose();
      m.dispose();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("saving guide, custom objects: a registered custom layer (Keras: register_keras_serializable) loads without more arguments; an unknown class raises ModelFileError naming model.json and the registration to do", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const model = customLayerMlp({ seed: 1 });
    await saveModel(model, dir);
    const back = await loadModel(dir);
    assert.ok(back.getLayer("hidden") instanceof SimpleDense);
    back.dispose();
    const file = `${dir}/model.json`;
    await Deno.writeTextFile(
      file,
      (await Deno.readTextFile(file)).replaceAll('"SimpleDense"', '"NoSuchDense"'),
    );
    await assert.rejects(() => loadModel(dir), (e: Error) => {
      assert.ok(e instanceof ModelFileError);
      assert.equal(e.file, file);
      assert.match(e.message, /NoSuchDense/);
      assert.match(e.message, /registerClass/);
      return true;
    });
    model.dispose();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

/** A custom layer nobody registers: loadable only through customObjects. */
class UnregisteredDense extends SimpleDense {
  static override className = "UnregisteredDense";
}

Deno.test('saving guide, custom objects: load_model(path, custom_objects={"UnregisteredDense": cls}) loads an unregistered custom layer for that load only; without it the class is unknown (ModelFileError), before and after', async () => {
  const dir = await Deno.makeTempDir();
  try {
    for (const seq of [true, false]) {
      const layer = new UnregisteredDense({ units: 2, seed: 1, name: "custom" });
      let model: tf.LayersModel;
      if (seq) {
        model = tf.sequential({
          layers: [tf.layers.dense({ units: 3, inputShape: [4] }), layer],
        });
      } else {
        const x = tf.input({ shape: [4] });
        model = tf.model({ inputs: x, outputs: layer.apply(x) as tf.SymbolicTensor });
      }
      await saveModel(model, dir);
      await assert.rejects(() => loadModel(dir), /UnregisteredDense/);
      const back = await loadModel(dir, { customObjects: { UnregisteredDense } });
      assert.ok(back.getLayer("custom") instanceof UnregisteredDense);
      const x = tf.ones([2, 4]);
      assert.ok(sameValues(
        run(() => model.predict(x) as tf.Tensor),
        run(() => back.predict(x) as tf.Tensor),
      ));
      x.dispose();
      await assert.rejects(() => loadModel(dir), ModelFileError, "registered for that load only");
      model.dispose();
      back.dispose();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

// ---------------------------------------------------------------- memory

Deno.test("no leaks: tf.memory().numTensors is flat across repeated build, call, summary, save, load (with customObjects) and failing calls (wrong input size, unbuilt summary, missing file, unknown class)", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const unknown = tf.sequential({
      layers: [new UnregisteredDense({ units: 2, inputShape: [3], name: "u" })],
    });
    await saveModel(unknown, `${dir}/unknown`);
    unknown.dispose();
    const round = async () => {
      const layer = simpleDense({ units: 3, seed: 1 });
      call(layer, [2, 4]);
      assert.throws(() => call(layer, [2, 5]));
      layer.dispose();
      assert.throws(() => summary({ name: "u", layers: [simpleDense({ units: 2 })] }));
      const model = customLayerMlp({ seed: 1 });
      summary(model);
      call(model, [1, 28, 28, 1]);
      await saveModel(model, dir);
      const back = await loadModel(dir);
      back.dispose();
      model.dispose();
      await assert.rejects(() => loadModel(`${dir}/missing`), ModelFileError);
      await assert.rejects(() => loadModel(`${dir}/unknown`), ModelFileError);
      (await loadModel(`${dir}/unknown`, { customObjects: { UnregisteredDense } })).dispose();
      const net = new DigitNet({ seed: 1 });
      net.dispose();
    };
    await round();
    const before = tf.memory().numTensors;
    for (let i = 0; i < 3; i++) await round();
    assert.equal(tf.memory().numTensors, before);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
