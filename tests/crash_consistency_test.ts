/**
 * Crash consistency of every multi-file (and single-file) write: `saveModel`
 * (model.json + weights), the Estimator's checkpoint + `checkpoint` index,
 * `saveVariables` and `writeIdx`. Through `atomicFs` (lib/io/atomic.ts) each
 * write, rename, removal and directory sync is, in turn:
 *
 * - failed once (the writer's cleanup runs): the writer throws a typed error
 *   unless the commit had already happened, and a reader sees the whole old
 *   state or the whole new one, with no temporary file left before the commit;
 * - the point of a crash (it and every later call fail, so no cleanup runs):
 *   a reader sees the whole old state or the whole new one;
 * - and in a run that succeeds, a reader is run before every call: what a
 *   concurrent reader can see is only ever the old state or the new one.
 *
 * TensorFlow's own checkpoints give the same guarantee: `CheckpointManager`
 * writes the data, then rewrites the `checkpoint` index last (atomically, via
 * a temporary file and a rename).
 */
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../lib/backend.ts";
import { atomicFs, isTempName, loadModel, ModelFileError, saveModel } from "../lib/io/mod.ts";
import { Estimator, EstimatorError, type ModelFn } from "../lib/ecosystem/mod.ts";
import { CheckpointError, readCheckpoint, saveVariables } from "../lib/variables.ts";
import { IdxFormatError, readIdx, writeIdx } from "../lib/data/mod.ts";

await initBackend({ prefer: "cpu" });

type Op = "write" | "rename" | "remove" | "syncDir";
type Hook = (op: Op, path: string) => Promise<void>;

/** Runs `fn` with every atomicFs call first passing through `hook` (which may throw). */
async function hooked<T>(hook: Hook, fn: () => Promise<T>): Promise<T> {
  const saved = { ...atomicFs };
  atomicFs.write = async (p, d) => (await hook("write", p), await saved.write(p, d));
  atomicFs.rename = async (a, b) => (await hook("rename", b), await saved.rename(a, b));
  atomicFs.remove = async (p) => (await hook("remove", p), await saved.remove(p));
  atomicFs.syncDir = async (p) => (await hook("syncDir", p), await saved.syncDir(p));
  try {
    return await fn();
  } finally {
    Object.assign(atomicFs, saved);
  }
}

/** One multi-file write under test. */
interface Case<S> {
  name: string;
  /** Puts the old state in `dir`; returns what a reader should see of it. */
  setup(dir: string): Promise<S>;
  /** The write (from the old state to the new one). */
  write(dir: string): Promise<unknown>;
  /** What a reader sees now (a value to compare) . */
  read(dir: string): Promise<S>;
  /** The new state, as read. */
  expected: () => S | Promise<S>;
  /** The typed errors the write may throw. */
  errors: (new (...a: never[]) => Error)[];
}

const injected = () => new Error("injected failure");

function tempsIn(dir: string): string[] {
  const out: string[] = [];
  for (const e of Deno.readDirSync(dir)) {
    if (isTempName(e.name)) out.push(e.name);
    if (e.isDirectory) out.push(...tempsIn(`${dir}/${e.name}`).map((n) => `${e.name}/${n}`));
  }
  return out;
}

async function check<S>(c: Case<S>): Promise<{ ops: number }> {
  const oldDir = await Deno.makeTempDir({ prefix: "crash_" });
  const before = await c.setup(oldDir);
  const after = await c.expected();
  assert.notDeepEqual(after, before, `${c.name}: the old and new states differ`);
  const isWhole = async (dir: string, where: string) => {
    const seen = await c.read(dir);
    assert.ok(
      JSON.stringify(seen) === JSON.stringify(before) ||
        JSON.stringify(seen) === JSON.stringify(after),
      `${c.name}, ${where}: the reader saw a mix: ${JSON.stringify(seen).slice(0, 200)}`,
    );
    return JSON.stringify(seen) === JSON.stringify(after) ? "new" : "old";
  };
  // A successful run, with a reader before every file-system call.
  const ops: string[] = [];
  await hooked(async (op, path) => {
    ops.push(`${op} ${path.slice(oldDir.length)}`);
    await isWhole(oldDir, `a concurrent read before ${op} ${path}`);
  }, () => c.write(oldDir));
  assert.equal(await isWhole(oldDir, "after the write"), "new");
  assert.deepEqual(tempsIn(oldDir), [], "no temporary file left");
  await Deno.remove(oldDir, { recursive: true });
  // Each call failed once, then each call the point of a crash.
  for (const mode of ["fail", "crash"] as const) {
    for (let k = 0; k < ops.length; k++) {
      const dir = await Deno.makeTempDir({ prefix: "crash_" });
      await c.setup(dir);
      let n = 0;
      let threw: unknown = null;
      try {
        await hooked(() => {
          const i = n++;
          if (i === k || (mode === "crash" && i > k)) return Promise.reject(injected());
          return Promise.resolve();
        }, () => c.write(dir));
      } catch (e) {
        threw = e;
      }
      const where = `${mode} at ${ops[k]}`;
      const state = await isWhole(dir, where);
      if (threw !== null) {
        assert.ok(
          c.errors.some((E) => threw instanceof E),
          `${c.name}, ${where}: a typed error, got ${threw}`,
        );
      } else {
        assert.equal(state, "new", `${c.name}, ${where}: no error means the new state`);
      }
      if (mode === "fail" && state === "old") {
        assert.deepEqual(tempsIn(dir), [], `${c.name}, ${where}: temporaries cleaned up`);
      }
      await Deno.remove(dir, { recursive: true });
    }
  }
  return { ops: ops.length };
}

// ---------------------------------------------------------------------------

/** A small MLP 4-`hidden`-2; the old and new models differ in architecture, so a mix shows. */
function tinyModel(seed: number, hidden: number): tf.LayersModel {
  return tf.sequential({
    layers: [
      tf.layers.dense({
        units: hidden,
        inputShape: [4],
        kernelInitializer: tf.initializers.glorotUniform({ seed }),
        biasInitializer: tf.initializers.randomNormal({ seed: seed + 100 }),
      }),
      tf.layers.dense({ units: 2, kernelInitializer: tf.initializers.glorotUniform({ seed }) }),
    ],
  });
}

async function modelState(dir: string): Promise<number[][] | string> {
  try {
    const m = await loadModel(dir);
    const w = m.getWeights().map((t) => Array.from(t.dataSync()));
    m.dispose();
    return w;
  } catch (e) {
    if (e instanceof ModelFileError) return "no model";
    throw e;
  }
}

Deno.test("crash consistency: saveModel over a saved model (model.json + weights) is old or new, never a mix", async () => {
  const oldModel = tinyModel(1, 3);
  const newModel = tinyModel(2, 5);
  const model = (d: string) => `${d}/m`;
  const r = await check({
    name: "saveModel",
    setup: async (d) => (await saveModel(oldModel, model(d)), await modelState(model(d))),
    write: (d) => saveModel(newModel, model(d)),
    read: (d) => modelState(model(d)),
    expected: () => newModel.getWeights().map((t) => Array.from(t.dataSync())),
    errors: [ModelFileError],
  });
  assert.ok(r.ops >= 5, `writes, renames, sync and the old weights' removal (${r.ops})`);
  // Into a fresh folder: no model, or the whole new one.
  await check({
    name: "saveModel (fresh folder)",
    setup: async (d) => (await Deno.mkdir(model(d)), "no model"),
    write: (d) => saveModel(newModel, model(d)),
    read: (d) => modelState(model(d)),
    expected: () => newModel.getWeights().map((t) => Array.from(t.dataSync())),
    errors: [ModelFileError],
  });
  oldModel.dispose();
  newModel.dispose();
});

const modelFn: ModelFn = (features, labels, mode, ctx) => {
  const w = ctx.getVariable("w", [2, 2], "glorotUniform");
  const logits = features.matMul(w);
  if (mode === "infer") return { predictions: logits };
  return {
    loss: tf.losses.meanSquaredError(labels!, logits) as tf.Scalar,
    optimizer: () => tf.train.sgd(0.1),
  };
};
const inputFn =
  () => [{ features: tf.tensor2d([[1, 2], [3, 4]]), labels: tf.tensor2d([[1, 0], [0, 1]]) }];

/** What a reader of modelDir sees: the latest checkpoint's step and w, from the index. */
async function estimatorState(dir: string): Promise<{ step: number; w: number[] } | string> {
  const e = new Estimator({ modelFn, modelDir: dir });
  try {
    const latest = await e.latestCheckpoint();
    if (latest === null) return "none";
    const ckpt = await readCheckpoint(latest);
    return { step: Number(ckpt.metadata.globalStep), w: Array.from(ckpt.values.get("w")!) };
  } finally {
    e.dispose();
  }
}

Deno.test("crash consistency: the Estimator's checkpoint + index (and the pruning of old ones) is old or new", async () => {
  const config = { keepCheckpointMax: 1, saveSummarySteps: 1000 };
  let expected: { step: number; w: number[] } | string = "";
  {
    const d = await Deno.makeTempDir();
    const e = new Estimator({ modelFn, modelDir: d, config });
    await e.train(inputFn, { steps: 2 });
    await e.train(inputFn, { steps: 1 });
    e.dispose();
    expected = await estimatorState(d);
    await Deno.remove(d, { recursive: true });
  }
  const r = await check({
    name: "Estimator checkpoint",
    setup: async (d) => {
      const e = new Estimator({ modelFn, modelDir: d, config });
      await e.train(inputFn, { steps: 2 });
      e.dispose();
      return await estimatorState(d);
    },
    write: async (d) => {
      const e = new Estimator({ modelFn, modelDir: d, config });
      try {
        await e.train(inputFn, { steps: 1 });
      } finally {
        e.dispose();
      }
    },
    read: estimatorState,
    expected: () => expected,
    errors: [CheckpointError, EstimatorError],
  });
  assert.ok(r.ops >= 5, `checkpoint, index, sync, removal of model.ckpt-2 (${r.ops})`);
});

Deno.test("crash consistency: saveVariables and writeIdx replace one file whole", async () => {
  const v = tf.variable(tf.tensor1d([1, 2, 3]));
  await check({
    name: "saveVariables",
    setup: async (d) => (await saveVariables(`${d}/c.ckpt`, { v }), [1, 2, 3]),
    write: async (d) => {
      const w = tf.variable(tf.tensor1d([4, 5, 6]));
      try {
        await saveVariables(`${d}/c.ckpt`, { v: w });
      } finally {
        w.dispose();
      }
    },
    read: async (d) => Array.from((await readCheckpoint(`${d}/c.ckpt`)).values.get("v")!),
    expected: () => [4, 5, 6],
    errors: [CheckpointError],
  });
  v.dispose();
  await check({
    name: "writeIdx",
    setup: async (
      d,
    ) => (await writeIdx(`${d}/x.gz`, { dims: [2], data: new Uint8Array([1, 2]) }), [1, 2]),
    write: (d) => writeIdx(`${d}/x.gz`, { dims: [3], data: new Uint8Array([7, 8, 9]) }),
    read: async (d) => Array.from((await readIdx(`${d}/x.gz`)).data),
    expected: () => [7, 8, 9],
    errors: [IdxFormatError],
  });
});
