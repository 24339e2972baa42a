import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { join } from "node:path";
import { initBackend } from "../lib/backend.ts";
import {
  fileSystem,
  loadModel,
  ModelFileError,
  saveModel,
  writeFileAtomic,
} from "../lib/io/mod.ts";
import { cnn, customLayerMlp, functionalCnn, mlp, residualCnn } from "../lib/models/mod.ts";

await initBackend();

const x = tf.randomUniform([4, 28, 28, 1], 0, 1, "float32", 17);

async function predictions(model: tf.LayersModel): Promise<Float32Array> {
  const y = model.predict(x) as tf.Tensor;
  const data = (await y.data()) as Float32Array;
  y.dispose();
  return data;
}

async function saved(model: tf.LayersModel): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "model_io_test_" });
  await saveModel(model, dir);
  return dir;
}

const kinds: [string, () => tf.LayersModel][] = [
  ["Sequential MLP", () => mlp({ seed: 1 })],
  ["Sequential CNN", () => cnn({ seed: 2 })],
  ["functional CNN", () => functionalCnn({ seed: 3 })],
  ["functional residual CNN", () => residualCnn({ seed: 4 })],
  ["custom-layer MLP", () => customLayerMlp({ seed: 5 })],
];

for (const [kind, build] of kinds) {
  Deno.test(`save/load round trip: ${kind} predicts exactly the same`, async () => {
    const model = build();
    const dir = await saved(model);
    const before = tf.memory().numTensors;
    const again = await loadModel(dir);
    assert.deepEqual(await predictions(again), await predictions(model));
    assert.equal(again.countParams(), model.countParams());
    assert.deepEqual(
      again.layers.map((l) => l.getClassName()),
      model.layers.map((l) => l.getClassName()),
    );
    again.dispose();
    assert.equal(tf.memory().numTensors, before, "loading and disposing leaks nothing");
    model.dispose();
    await Deno.remove(dir, { recursive: true });
  });
}

Deno.test("saveModel writes tfjs's own layers-model format, atomically", async () => {
  const model = mlp({ seed: 1 });
  const dir = join(await Deno.makeTempDir(), "nested", "mlp");
  const result = await saveModel(model, dir);
  const names = [...Deno.readDirSync(dir)].map((e) => e.name).sort();
  assert.deepEqual(names, ["model.json", "weights.bin"], "no temporary files left behind");
  const json = JSON.parse(await Deno.readTextFile(join(dir, "model.json")));
  assert.equal(json.format, "layers-model");
  assert.match(json.generatedBy, /^TensorFlow\.js tfjs-layers v4\.22\.0$/);
  assert.equal(json.convertedBy, null);
  assert.equal(json.modelTopology.class_name, "Sequential");
  assert.equal(json.modelTopology.config.layers[2].class_name, "Dropout");
  assert.deepEqual(json.weightsManifest[0].paths, ["weights.bin"]);
  assert.deepEqual(
    json.weightsManifest[0].weights.map((w: { shape: number[] }) => w.shape),
    [[784, 128], [128], [128, 10], [10]],
  );
  const bytes = (await Deno.stat(join(dir, "weights.bin"))).size;
  assert.equal(bytes, 4 * 101_770);
  assert.equal(result.modelArtifactsInfo.weightDataBytes, bytes);
  // The weights are the model's, float32 little-endian in manifest order.
  const w = new Float32Array((await Deno.readFile(join(dir, "weights.bin"))).buffer, 0, 5);
  assert.deepEqual(Array.from(w), Array.from(model.getWeights()[0].dataSync().slice(0, 5)));
  // Saving again replaces the pair (atomically: see the crash-consistency test), and leaves
  // the same two files.
  const other = mlp({ seed: 2 });
  await saveModel(other, dir);
  const again = await loadModel(dir);
  assert.deepEqual(await predictions(again), await predictions(other));
  assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name).sort(), names);
  tf.dispose([model, other, again] as unknown as tf.Tensor[]);
});

Deno.test("includeOptimizer: a compiled model resumes training exactly", async () => {
  const model = mlp({ seed: 1, dropout: 0 });
  model.compile({
    optimizer: tf.train.adam(0.01),
    loss: "categoricalCrossentropy",
    metrics: ["accuracy"],
  });
  const ys = tf.oneHot(tf.tensor1d([1, 2, 3, 4], "int32"), 10);
  await model.trainOnBatch(x, ys);
  const dir = await Deno.makeTempDir();
  await saveModel(model, dir, { includeOptimizer: true });
  const json = JSON.parse(await Deno.readTextFile(join(dir, "model.json")));
  assert.equal(json.trainingConfig.optimizer_config.class_name, "Adam");
  const again = await loadModel(dir);
  assert.equal(again.optimizer.getClassName(), "Adam");
  const [a, b] = [await model.trainOnBatch(x, ys), await again.trainOnBatch(x, ys)];
  assert.deepEqual(b, a, "the same next step: same weights, same optimizer state");
  assert.deepEqual(await predictions(again), await predictions(model));
  ys.dispose();
  model.dispose();
  again.dispose();
});

Deno.test("fileSystem() is an ordinary tfjs IOHandler", async () => {
  const model = cnn({ seed: 9 });
  const dir = await Deno.makeTempDir();
  await model.save(fileSystem(dir));
  const again = await tf.loadLayersModel(fileSystem(dir));
  assert.deepEqual(await predictions(again), await predictions(model));
  model.dispose();
  again.dispose();
});

Deno.test("writeFileAtomic replaces a file and leaves no temporary behind", async () => {
  const dir = await Deno.makeTempDir();
  const path = join(dir, "a.txt");
  await writeFileAtomic(path, new TextEncoder().encode("one"));
  await writeFileAtomic(path, new TextEncoder().encode("two"));
  assert.equal(await Deno.readTextFile(path), "two");
  assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name), ["a.txt"]);
  await assert.rejects(writeFileAtomic(join(dir, "no", "such", "dir.txt"), new Uint8Array(1)));
  assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name), ["a.txt"]);
});

/** Saves a fresh MLP, lets `damage` change the files, expects a ModelFileError. */
async function damaged(
  damage: (dir: string) => Promise<void>,
  file: "model.json" | "weights.bin",
  message: RegExp,
): Promise<void> {
  const model = mlp({ seed: 1 });
  const dir = await saved(model);
  model.dispose();
  await damage(dir);
  const before = tf.memory().numTensors;
  await assert.rejects(loadModel(dir), (e: unknown) => {
    assert.ok(e instanceof ModelFileError, `a ModelFileError, got ${e}`);
    assert.equal(e.file, join(dir, file));
    assert.ok(e.message.startsWith(join(dir, file)), e.message);
    assert.match(e.message, message);
    return true;
  });
  assert.equal(tf.memory().numTensors, before, "a failed load leaks nothing");
  await Deno.remove(dir, { recursive: true });
}

/** The parts of model.json the damage tests edit. */
interface ModelJsonShape {
  format?: string;
  weightsManifest?: { weights: { name: string; shape: number[] }[] }[];
  modelTopology: { config: { layers: { class_name: string; config: { units?: number } }[] } };
}

const editJson = (dir: string, edit: (json: ModelJsonShape) => void) => async () => {
  const path = join(dir, "model.json");
  const json = JSON.parse(await Deno.readTextFile(path));
  edit(json);
  await Deno.writeTextFile(path, JSON.stringify(json));
};

Deno.test("bad files: missing directory or model.json", async () => {
  const nowhere = join(await Deno.makeTempDir(), "nothing-here");
  await assert.rejects(loadModel(nowhere), /nothing-here does not exist/);
  await damaged((d) => Deno.remove(join(d, "model.json")), "model.json", /not found/);
});

Deno.test("bad files: model.json that is not JSON, or not a layers model", async () => {
  await damaged(
    (d) => Deno.writeTextFile(join(d, "model.json"), '{"modelTopology": {'),
    "model.json",
    /not valid JSON/,
  );
  await damaged(
    (d) => Deno.writeTextFile(join(d, "model.json"), "[1, 2]"),
    "model.json",
    /not an object/,
  );
  await damaged(
    (d) => editJson(d, (j) => delete j.weightsManifest)(),
    "model.json",
    /weightsManifest/,
  );
  await damaged((d) => editJson(d, (j) => j.format = "graph-model")(), "model.json", /graph-model/);
});

Deno.test("bad files: missing weight file", async () => {
  await damaged((d) => Deno.remove(join(d, "weights.bin")), "weights.bin", /missing/);
});

Deno.test("bad files: truncated or oversized weight file (size against the manifest)", async () => {
  await damaged(
    async (d) => {
      const p = join(d, "weights.bin");
      const data = await Deno.readFile(p);
      await Deno.writeFile(p, data.subarray(0, data.length - 100));
    },
    "weights.bin",
    /truncated: 406980 bytes, but model.json's weightsManifest needs 407080/,
  );
  await damaged(
    async (d) => {
      const p = join(d, "weights.bin");
      await Deno.writeFile(p, new Uint8Array(8), { append: true });
    },
    "weights.bin",
    /do not belong to this model.json/,
  );
});

Deno.test("bad files: model.json that does not match its weights", async () => {
  // The weights of another architecture with the same byte count: the shapes disagree.
  await damaged(
    (d) =>
      editJson(d, (j) => {
        j.weightsManifest![0].weights[0].shape = [128, 784];
      })(),
    "model.json",
    /does not match its weights/,
  );
  // The topology says 64 units where the weights have 128.
  await damaged(
    (d) =>
      editJson(d, (j) => {
        j.modelTopology.config.layers[1].config.units = 64;
      })(),
    "model.json",
    /does not match its weights/,
  );
  // A weight name that no layer has.
  await damaged(
    (d) =>
      editJson(d, (j) => {
        j.weightsManifest![0].weights[0].name = "nowhere/kernel";
      })(),
    "model.json",
    /does not match its weights/,
  );
  // model.json of the CNN next to the MLP's weights.
  await damaged(
    async (d) => {
      const c = cnn({ seed: 1 });
      const other = await saved(c);
      c.dispose();
      await Deno.copyFile(join(other, "model.json"), join(d, "model.json"));
    },
    "weights.bin",
    /needs 434472/,
  );
});

Deno.test("bad files: a layer class nobody registered", async () => {
  await damaged(
    (d) =>
      editJson(d, (j) => {
        j.modelTopology.config.layers[1].class_name = "MyUnknownLayer";
      })(),
    "model.json",
    /registerClass/,
  );
});

Deno.test("bad files: an unknown layer class after a built Dense layer leaks nothing", async () => {
  // Layer 2 (Dropout) renamed: the Dense layer before it has already made its 2 weights.
  await damaged(
    (d) =>
      editJson(d, (j) => {
        j.modelTopology.config.layers[2].class_name = "MyUnknownLayer";
      })(),
    "model.json",
    /registerClass/,
  );
});

/** loadModel(dir) must throw a ModelFileError whose message matches `pattern` (and names `file`). */
async function refused(dir: string, pattern: RegExp, file?: string): Promise<ModelFileError> {
  const before = tf.memory().numTensors;
  let err: ModelFileError | undefined;
  await assert.rejects(loadModel(dir), (e: unknown) => {
    assert.ok(e instanceof ModelFileError, `a ModelFileError, got ${e}`);
    assert.match(e.message, pattern);
    if (file !== undefined) assert.equal(e.file, file);
    err = e;
    return true;
  });
  assert.equal(tf.memory().numTensors, before, "a refused load leaks nothing");
  return err!;
}

/** A saved MLP whose manifest names `paths` instead of weights.bin. */
async function withPaths(paths: string[]): Promise<string> {
  const model = mlp({ seed: 1 });
  const dir = await saved(model);
  model.dispose();
  const p = join(dir, "model.json");
  const json = JSON.parse(await Deno.readTextFile(p));
  json.weightsManifest[0].paths = paths;
  await Deno.writeTextFile(p, JSON.stringify(json));
  return dir;
}

Deno.test("tf.io weight paths are relative to model.json: a path out of the folder is refused before any read", async () => {
  const root = await Deno.makeTempDir({ prefix: "model_io_escape_" });
  try {
    await Deno.mkdir(join(root, "outside"));
    // The right size: today's loader would read it as weights.
    await Deno.writeFile(join(root, "outside", "secret.bin"), new Uint8Array(407_080).fill(7));
    const dir = await withPaths(["../outside/secret.bin"]);
    await refused(dir, /"\.\.\/outside\/secret\.bin" leads out of the folder/);
    // An absolute path: refused without its size in the message.
    const abs = await withPaths(["/etc/passwd"]);
    const e = await refused(abs, /"\/etc\/passwd" is an absolute path/);
    assert.doesNotMatch(e.message, /\d+ bytes/);
    // /dev/zero would be read until memory runs out.
    await refused(await withPaths(["/dev/zero"]), /absolute path/);
    // A symlink inside the folder that leads out of it, to a file or to a device.
    const linked = await withPaths(["w.bin"]);
    await Deno.symlink(join(root, "outside", "secret.bin"), join(linked, "w.bin"));
    await refused(
      linked,
      /"w\.bin" is a symlink that leads out of the folder/,
      join(linked, "w.bin"),
    );
    const dev = await withPaths(["zero.bin"]);
    await Deno.symlink("/dev/zero", join(dev, "zero.bin"));
    await refused(dev, /leads out of the folder/);
    // A symlink that stays inside is followed.
    const inside = await withPaths(["alias.bin"]);
    await Deno.symlink("weights.bin", join(inside, "alias.bin"));
    const m = await loadModel(inside);
    m.dispose();
    for (const d of [dir, abs, linked, dev, inside]) await Deno.remove(d, { recursive: true });
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("a FIFO as weights or model.json is refused (regular files only) instead of blocking", async () => {
  const dir = await withPaths(["pipe.bin"]);
  const mkfifo = new Deno.Command("mkfifo", { args: [join(dir, "pipe.bin")] });
  assert.equal((await mkfifo.output()).code, 0);
  await refused(dir, /is a FIFO \(named pipe\), not a regular file/, join(dir, "pipe.bin"));
  await Deno.remove(join(dir, "model.json"));
  await Deno.rename(join(dir, "pipe.bin"), join(dir, "model.json"));
  await refused(dir, /FIFO/, join(dir, "model.json"));
  await Deno.remove(dir, { recursive: true });
});

Deno.test("typed errors: a symlink loop, a non-UTF-8 folder name, paths: [], saveModel onto a file", async () => {
  const root = await Deno.makeTempDir({ prefix: "model_io_typed_" });
  try {
    const loop = join(root, "loop");
    await Deno.mkdir(loop);
    await Deno.symlink(join(loop, "model.json"), join(loop, "model.json"));
    await refused(loop, /symlink loop/, join(loop, "model.json"));
    // A folder whose name is not UTF-8 (made by Python with bytes): Deno sees U+FFFD.
    const py = new Deno.Command("/usr/bin/python3", {
      args: ["-c", `import os; os.makedirs(os.fsencode(${JSON.stringify(root)}) + b"/bad\\xff")`],
    });
    assert.equal((await py.output()).code, 0);
    const bad = [...Deno.readDirSync(root)].find((e) => e.name.startsWith("bad"))!.name;
    await refused(join(root, bad), /not valid UTF-8/);
    const empty = await withPaths([]);
    await refused(empty, /"paths": \[\]/, join(empty, "model.json"));
    await Deno.remove(empty, { recursive: true });
    // saveModel onto a file: a ModelFileError naming it; the file is untouched.
    const file = join(root, "a-file");
    await Deno.writeTextFile(file, "keep");
    const model = mlp({ seed: 1 });
    await assert.rejects(saveModel(model, file), (e: unknown) => {
      assert.ok(e instanceof ModelFileError, String(e));
      assert.equal(e.file, file);
      assert.match(e.message, /is a file, not a folder/);
      return true;
    });
    assert.equal(await Deno.readTextFile(file), "keep");
    model.dispose();
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("a topology far larger than its weights is refused before its layers allocate", async () => {
  const model = mlp({ seed: 1 });
  const dir = await saved(model);
  model.dispose();
  // 784 × 2,000,000 float32 = 6.3 GB if built; the file holds 407,080 bytes.
  await editJson(dir, (j) => {
    j.modelTopology.config.layers[1].config.units = 2_000_000;
  })();
  const rss = Deno.memoryUsage().rss;
  await refused(
    dir,
    /does not match its weights: .* a weight "kernel" of shape \[784,2000000\] \(float32\), which its weightsManifest does not list/,
  );
  assert.ok(Deno.memoryUsage().rss - rss < 200e6, "no large allocation");
  await Deno.remove(dir, { recursive: true });
});

Deno.test("saveModel over a folder whose model.json names files outside it removes none of them", async () => {
  const root = await Deno.makeTempDir({ prefix: "model_io_victim_" });
  try {
    const victim = join(root, "victim.txt");
    await Deno.writeTextFile(victim, "precious");
    const dir = join(root, "m");
    await Deno.mkdir(dir);
    await Deno.writeTextFile(
      join(dir, "model.json"),
      JSON.stringify({
        modelTopology: {},
        weightsManifest: [{ paths: ["../victim.txt", victim], weights: [] }],
      }),
    );
    const model = mlp({ seed: 1 });
    await saveModel(model, dir);
    model.dispose();
    assert.equal(await Deno.readTextFile(victim), "precious");
    const again = await loadModel(dir);
    again.dispose();
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("a reader concurrent with saves of two different models always loads one of them whole", async () => {
  const dir = await Deno.makeTempDir({ prefix: "model_io_concurrent_" });
  const small = tf.sequential({ layers: [tf.layers.dense({ units: 3, inputShape: [4] })] });
  const large = tf.sequential({ layers: [tf.layers.dense({ units: 7, inputShape: [4] })] });
  await saveModel(small, dir);
  let saving = true;
  const writer = (async () => {
    for (let i = 0; i < 60; i++) await saveModel(i % 2 ? small : large, dir);
    saving = false;
  })();
  let loads = 0;
  const units = new Set<number>();
  while (saving) {
    const m = await loadModel(dir); // throws on a mix
    units.add(m.outputs[0].shape[1]!);
    m.dispose();
    loads++;
  }
  await writer;
  assert.ok(loads > 0);
  assert.deepEqual([...units].every((u) => u === 3 || u === 7), true);
  console.log(`${loads} loads during 60 saves, all whole`);
  tf.dispose([small, large] as unknown as tf.Tensor[]);
  await Deno.remove(dir, { recursive: true });
});
