/**
 * Fuzzing every file reader with seeded random mutations of valid files:
 * IDX (raw and gzip), `model.json` + weights, checkpoint files and the
 * Estimator's `checkpoint` index. Each mutation is a byte flip, a truncation,
 * an insertion, or (for the JSON parts) a field replaced by a hostile value
 * (a path out of the folder, a huge dimension, a wrong type...). Every case
 * must either load or throw the reader's typed error (`IdxFormatError`,
 * `ModelFileError`, `CheckpointError`, `EstimatorError`); none may change a
 * file (the folder is hashed before and after), leak a tensor, or grow the
 * process's memory by more than a bound. Counts are sized so the file runs in
 * about 20 s on this project's 2-core machine; `FUZZ_SCALE=10` runs ten times more.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../lib/backend.ts";
import { encodeIdx, IdxFormatError, readIdx } from "../lib/data/mod.ts";
import { loadModel, ModelFileError, saveModel } from "../lib/io/mod.ts";
import { Estimator, EstimatorError, type ModelFn } from "../lib/ecosystem/mod.ts";
import {
  CheckpointError,
  readCheckpoint,
  restoreVariables,
  saveVariables,
} from "../lib/variables.ts";
import { crc32 } from "node:zlib";

await initBackend({ prefer: "cpu" });

const SCALE = Number(Deno.env.get("FUZZ_SCALE") ?? 1);
/** Memory a whole fuzz run may add to the process (resident set). */
const RSS_BOUND = 300e6;

/** mulberry32: a small seeded PRNG. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

/** One random byte-level mutation: flips, a truncation, an insertion, or an overwrite. */
function mutateBytes(b: Uint8Array, r: () => number): Uint8Array {
  const out = b.slice();
  const pick = r();
  const at = Math.floor(r() * Math.max(1, b.length));
  if (pick < 0.4) {
    const flips = 1 + Math.floor(r() * 4);
    for (let i = 0; i < flips; i++) out[Math.floor(r() * out.length)] ^= 1 << Math.floor(r() * 8);
    return out;
  }
  if (pick < 0.6) return out.slice(0, at);
  if (pick < 0.8) {
    const extra = Uint8Array.from({ length: 1 + Math.floor(r() * 16) }, () => r() * 256);
    const grown = new Uint8Array(out.length + extra.length);
    grown.set(out.subarray(0, at));
    grown.set(extra, at);
    grown.set(out.subarray(at), at + extra.length);
    return grown;
  }
  const n = 1 + Math.floor(r() * 8);
  for (let i = 0; i < n && at + i < out.length; i++) {
    out[at + i] = [0, 0xff, 0x7f, 0x80][Math.floor(r() * 4)];
  }
  return out;
}

const HOSTILE: unknown[] = [
  -1,
  0,
  1.5,
  2 ** 31,
  1e12,
  "",
  "../outside.bin",
  "/etc/passwd",
  "/dev/zero",
  "sub/../../x",
  null,
  [],
  {},
  true,
  "string",
  "float64",
  [1e6, 1e6],
  [-3],
  "model.json",
];

/** Replaces a random field of a JSON value (or deletes it, or duplicates an array item). */
function mutateJson(json: unknown, r: () => number): unknown {
  const copy = structuredClone(json);
  const slots: [Record<string, unknown> | unknown[], string | number][] = [];
  const walk = (v: unknown) => {
    if (Array.isArray(v)) v.forEach((x, i) => (slots.push([v, i]), walk(x)));
    else if (v !== null && typeof v === "object") {
      for (const [k, x] of Object.entries(v)) {
        slots.push([v as Record<string, unknown>, k]), walk(x);
      }
    }
  };
  walk(copy);
  if (slots.length === 0) return copy;
  const [parent, key] = slots[Math.floor(r() * slots.length)];
  const what = r();
  if (what < 0.15 && !Array.isArray(parent)) delete (parent as Record<string, unknown>)[key];
  else if (what < 0.25 && Array.isArray(parent)) {
    parent.push(structuredClone(parent[key as number]));
  } else {
    (parent as Record<string | number, unknown>)[key] = HOSTILE[Math.floor(r() * HOSTILE.length)];
  }
  return copy;
}

/** SHA-256 over every file's name and bytes under `dir` (symlinks by target). */
function hashTree(dir: string): string {
  const h = createHash("sha256");
  const walk = (d: string) => {
    for (const e of [...Deno.readDirSync(d)].sort((a, b) => a.name < b.name ? -1 : 1)) {
      const p = `${d}/${e.name}`;
      h.update(p);
      if (e.isSymlink) h.update(Deno.readLinkSync(p));
      else if (e.isDirectory) walk(p);
      else h.update(Deno.readFileSync(p));
    }
  };
  walk(dir);
  return h.digest("hex");
}

interface FuzzStats {
  loaded: number;
  refused: number;
  ms: number;
}

/**
 * Runs `cases` mutations: `prepare(i, r)` writes the mutated files, `read()`
 * must resolve or throw one of `errors`; the folder is unchanged by `read`.
 */
async function fuzz(
  name: string,
  root: string,
  cases: number,
  seed: number,
  prepare: (r: () => number) => Promise<void>,
  read: () => Promise<unknown>,
  errors: (new (...a: never[]) => Error)[],
): Promise<FuzzStats> {
  const r = rng(seed);
  const stats: FuzzStats = { loaded: 0, refused: 0, ms: 0 };
  const t0 = performance.now();
  const rss = Deno.memoryUsage().rss;
  for (let i = 0; i < cases; i++) {
    await prepare(r);
    const before = hashTree(root);
    const t1 = tf.memory().numTensors;
    try {
      await read();
      stats.loaded++;
    } catch (e) {
      if (!errors.some((E) => e instanceof E)) {
        throw new Error(`${name}, case ${i} (seed ${seed}): an untyped error: ${e}`, { cause: e });
      }
      stats.refused++;
    }
    assert.equal(tf.memory().numTensors, t1, `${name}, case ${i}: no tensor leaked`);
    assert.equal(hashTree(root), before, `${name}, case ${i}: the reader changed a file`);
  }
  stats.ms = Math.round(performance.now() - t0);
  const grown = Deno.memoryUsage().rss - rss;
  assert.ok(grown < RSS_BOUND, `${name}: memory grew by ${grown} bytes`);
  console.log(
    `${name}: ${cases} cases, ${stats.loaded} loaded, ${stats.refused} refused, ${stats.ms} ms`,
  );
  assert.ok(stats.refused > 0, `${name}: the mutations reach the checks`);
  return stats;
}

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "fuzz_" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

// ---------------------------------------------------------------------------

const idx = encodeIdx({
  dims: [3, 5, 7],
  data: Uint8Array.from({ length: 105 }, (_, i) => (i * 37) % 256),
});

/** Mutations of an IDX file, some aimed at the header (dims, type, ndim). */
function mutateIdx(raw: Uint8Array, r: () => number): Uint8Array {
  if (r() < 0.3) {
    const out = raw.slice();
    const view = new DataView(out.buffer);
    const at = Math.floor(r() * 4);
    if (at === 0) out[3] = Math.floor(r() * 256); // ndim
    else {view.setUint32(
        4 * at,
        [0, 1, 2 ** 31, 2 ** 32 - 1, Math.floor(r() * 100)][Math.floor(r() * 5)],
      );}
    return out;
  }
  return mutateBytes(raw, r);
}

Deno.test("fuzz: IDX raw files load or raise IdxFormatError, in bounded memory, changing no file", async () => {
  await withDir(async (dir) => {
    const path = `${dir}/x-idx3-ubyte`;
    await fuzz(
      "IDX raw",
      dir,
      2000 * SCALE,
      1,
      (r) => Deno.writeFile(path, mutateIdx(idx, r)),
      () => readIdx(path),
      [IdxFormatError],
    );
  });
});

Deno.test("fuzz: IDX gzip files (compressed bytes and the IDX inside) load or raise IdxFormatError", async () => {
  const stream = new Blob([idx as Uint8Array<ArrayBuffer>]).stream().pipeThrough(
    new CompressionStream("gzip"),
  );
  const gz = new Uint8Array(await new Response(stream).arrayBuffer());
  const zip = async (b: Uint8Array) =>
    new Uint8Array(
      await new Response(
        new Blob([b as Uint8Array<ArrayBuffer>]).stream().pipeThrough(
          new CompressionStream("gzip"),
        ),
      ).arrayBuffer(),
    );
  await withDir(async (dir) => {
    const path = `${dir}/x-idx3-ubyte.gz`;
    await fuzz(
      "IDX gzip",
      dir,
      1500 * SCALE,
      2,
      // Half damage the compressed bytes, half compress a damaged IDX.
      async (r) =>
        Deno.writeFile(path, r() < 0.5 ? mutateBytes(gz, r) : await zip(mutateIdx(idx, r))),
      () => readIdx(path),
      [IdxFormatError],
    );
  });
});

Deno.test("fuzz: model.json + weights load or raise ModelFileError, leaking no tensor", async () => {
  await withDir(async (root) => {
    const dir = `${root}/model`;
    // A file beside the model folder that no load may read or touch.
    await Deno.writeFile(`${root}/outside.bin`, new Uint8Array(76).fill(1));
    const model = tf.sequential({
      layers: [
        tf.layers.dense({ units: 3, inputShape: [4], name: "hidden" }),
        tf.layers.dense({ units: 2, name: "out" }),
      ],
    });
    await saveModel(model, dir);
    model.dispose();
    const json = JSON.parse(await Deno.readTextFile(`${dir}/model.json`));
    const weights = await Deno.readFile(`${dir}/weights.bin`);
    await fuzz(
      "model.json + weights",
      root,
      1200 * SCALE,
      3,
      async (r) => {
        const which = r();
        let text = JSON.stringify(which < 0.6 ? mutateJson(json, r) : json);
        if (which >= 0.6 && which < 0.75) {
          text = new TextDecoder().decode(mutateBytes(new TextEncoder().encode(text), r));
        }
        await Deno.writeTextFile(`${dir}/model.json`, text);
        await Deno.writeFile(
          `${dir}/weights.bin`,
          which >= 0.75 ? mutateBytes(weights, r) : weights,
        );
      },
      async () => (await loadModel(dir)).dispose(),
      [ModelFileError],
    );
  });
});

/** The checkpoint's header, mutated as JSON, re-encoded with valid CRCs (to get past them). */
function mutateCheckpointHeader(file: Uint8Array, r: () => number): Uint8Array {
  const view = new DataView(file.buffer, file.byteOffset, file.byteLength);
  const h = view.getUint32(12, true);
  const header = JSON.parse(new TextDecoder().decode(file.subarray(16, 16 + h)));
  const text = new TextEncoder().encode(JSON.stringify(mutateJson(header, r)));
  const padded = new Uint8Array(text.length + ((8 - ((16 + text.length) % 8)) % 8)).fill(0x20);
  padded.set(text);
  const data = file.subarray(16 + h, file.length - 4);
  const out = new Uint8Array(16 + padded.length + data.length + 4);
  out.set(file.subarray(0, 12));
  new DataView(out.buffer).setUint32(12, padded.length, true);
  out.set(padded, 16);
  out.set(data, 16 + padded.length);
  new DataView(out.buffer).setUint32(out.length - 4, crc32(out.subarray(0, out.length - 4)), true);
  return out;
}

Deno.test("fuzz: checkpoint files read and restore or raise CheckpointError, leaving the variables whole", async () => {
  await withDir(async (dir) => {
    const path = `${dir}/model.ckpt`;
    const w = tf.variable(tf.tensor2d([[1, 2, 3], [4, 5, 6]]), true, "fuzz_w");
    const step = tf.variable(tf.scalar(7, "int32"), false, "fuzz_step");
    await saveVariables(path, { w, step }, { metadata: { epoch: 2 } });
    const good = await Deno.readFile(path);
    await fuzz(
      "checkpoint",
      dir,
      1500 * SCALE,
      4,
      (r) =>
        Deno.writeFile(path, r() < 0.5 ? mutateBytes(good, r) : mutateCheckpointHeader(good, r)),
      async () => {
        await readCheckpoint(path);
        const before = [Array.from(w.dataSync()), Array.from(step.dataSync())];
        try {
          await restoreVariables(path, { w, step });
        } catch (e) {
          assert.deepEqual([Array.from(w.dataSync()), Array.from(step.dataSync())], before);
          throw e;
        }
      },
      [CheckpointError],
    );
    tf.dispose([w, step]);
  });
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

Deno.test("fuzz: the checkpoint index makes the Estimator read its own checkpoints or raise a typed error, and delete nothing else", async () => {
  await withDir(async (root) => {
    const dir = `${root}/model`;
    await Deno.writeTextFile(`${root}/victim.txt`, "precious");
    const e0 = new Estimator({ modelFn, modelDir: dir, config: { keepCheckpointMax: 0 } });
    await e0.train(inputFn, { steps: 1 });
    await e0.train(inputFn, { steps: 1 });
    e0.dispose();
    await Deno.writeTextFile(`${dir}/notes.txt`, "mine");
    const good = await Deno.readTextFile(`${dir}/checkpoint`);
    const lines = [
      'model_checkpoint_path: "../victim.txt"',
      `model_checkpoint_path: "${root}/victim.txt"`,
      `model_checkpoint_path: "${dir}/model.ckpt-1"`,
      'all_model_checkpoint_paths: "../victim.txt"',
      'all_model_checkpoint_paths: "notes.txt"',
      `all_model_checkpoint_paths: "${root}/victim.txt"`,
      'model_checkpoint_path: "model.ckpt-99"',
      'model_checkpoint_path: "model.ckpt-1/../../victim.txt"',
      'model_checkpoint_path: "checkpoint"',
    ];
    const mutateIndex = (r: () => number) => {
      if (r() < 0.5) return mutateBytes(new TextEncoder().encode(good), r);
      const all = good.split("\n");
      all.splice(
        Math.floor(r() * all.length),
        r() < 0.5 ? 1 : 0,
        lines[Math.floor(r() * lines.length)],
      );
      return new TextEncoder().encode(all.join("\n"));
    };
    // Reading (latestCheckpoint, predict) changes no file at all.
    await fuzz(
      "checkpoint index (read)",
      root,
      400 * SCALE,
      5,
      (r) => Deno.writeFile(`${dir}/checkpoint`, mutateIndex(r)),
      async () => {
        const e = new Estimator({ modelFn, modelDir: dir });
        try {
          await e.latestCheckpoint();
          await e.predict(inputFn);
        } finally {
          e.dispose();
        }
      },
      [EstimatorError, CheckpointError],
    );
    // Training (which prunes old checkpoints) deletes only model.ckpt-* files in modelDir.
    const r = rng(6);
    const tensors = tf.memory().numTensors;
    for (let i = 0; i < 60 * SCALE; i++) {
      await Deno.writeFile(`${dir}/checkpoint`, mutateIndex(r));
      const e = new Estimator({ modelFn, modelDir: dir, config: { keepCheckpointMax: 1 } });
      try {
        await e.train(inputFn, { steps: 1 });
      } catch (err) {
        assert.ok(err instanceof EstimatorError || err instanceof CheckpointError, String(err));
      } finally {
        e.dispose();
      }
      assert.equal(await Deno.readTextFile(`${root}/victim.txt`), "precious", `case ${i}`);
      assert.equal(await Deno.readTextFile(`${dir}/notes.txt`), "mine", `case ${i}`);
      // Put the two checkpoints back for the next case.
      for (const f of Deno.readDirSync(dir)) {
        if (f.name.startsWith("model.ckpt-")) await Deno.remove(`${dir}/${f.name}`);
      }
      const e1 = new Estimator({ modelFn, modelDir: `${root}/fresh${i}` });
      await e1.train(inputFn, { steps: 2 });
      e1.dispose();
      for (const n of ["model.ckpt-2"]) {
        await Deno.copyFile(`${root}/fresh${i}/${n}`, `${dir}/${n}`);
      }
      await Deno.copyFile(`${root}/fresh${i}/model.ckpt-2`, `${dir}/model.ckpt-1`);
      await Deno.remove(`${root}/fresh${i}`, { recursive: true });
    }
    assert.equal(tf.memory().numTensors, tensors, "no tensor leaked");
  });
});

const adamFn: ModelFn = (features, labels, mode, ctx) => ({
  ...modelFn(features, labels, mode, ctx),
  optimizer: () => tf.train.adam(0.01),
});

Deno.test("fuzz: an Estimator resuming from a damaged checkpoint (Adam state, input position) trains or raises a typed error", async () => {
  await withDir(async (root) => {
    const dir = `${root}/model`;
    const e0 = new Estimator({ modelFn: adamFn, modelDir: dir });
    await e0.train(inputFn, { steps: 2 });
    e0.dispose();
    const good = await Deno.readFile(`${dir}/model.ckpt-2`);
    const index = await Deno.readTextFile(`${dir}/checkpoint`);
    const r = rng(7);
    let trained = 0, refused = 0;
    const tensors = tf.memory().numTensors;
    for (let i = 0; i < 150 * SCALE; i++) {
      for (const f of Deno.readDirSync(dir)) {
        if (f.name.startsWith("model.ckpt-")) await Deno.remove(`${dir}/${f.name}`);
      }
      await Deno.writeFile(
        `${dir}/model.ckpt-2`,
        r() < 0.3 ? mutateBytes(good, r) : mutateCheckpointHeader(good, r),
      );
      await Deno.writeTextFile(`${dir}/checkpoint`, index);
      const e = new Estimator({ modelFn: adamFn, modelDir: dir });
      try {
        await e.train(inputFn, { steps: 1 });
        trained++;
      } catch (err) {
        assert.ok(
          err instanceof EstimatorError || err instanceof CheckpointError,
          `case ${i}: a typed error, got ${err}`,
        );
        refused++;
      } finally {
        e.dispose();
      }
      assert.equal(tf.memory().numTensors, tensors, `case ${i}: no tensor leaked`);
    }
    console.log(`Estimator resume: ${150 * SCALE} cases, ${trained} trained, ${refused} refused`);
    assert.ok(refused > 0);
  });
});
