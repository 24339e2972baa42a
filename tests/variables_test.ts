import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../lib/backend.ts";
import {
  assignAdd,
  assignSub,
  CheckpointError,
  listCheckpoint,
  readCheckpoint,
  restoreVariables,
  saveVariables,
  variable,
  VariableError,
} from "../lib/variables.ts";

await initBackend();

const dir = await Deno.makeTempDir({ prefix: "variables_test_" });
addEventListener("unload", () => {
  try {
    Deno.removeSync(dir, { recursive: true });
  } catch { /* already gone */ }
});

let counter = 0;
const uniq = (base: string) => `${base}_${counter++}_${crypto.randomUUID().slice(0, 6)}`;

function snapshot(vars: Record<string, tf.Variable>): Record<string, number[]> {
  return Object.fromEntries(Object.entries(vars).map(([k, v]) => [k, Array.from(v.dataSync())]));
}

Deno.test("variable(): names, trainable, dtype; duplicate names are a VariableError", () => {
  const name = uniq("w");
  const t = tf.tensor1d([1, 2]);
  const v = variable(t, { name });
  assert.equal(v.name, name);
  assert.equal(v.trainable, true);
  t.dispose(); // the variable holds its own copy
  assert.deepEqual(Array.from(v.dataSync()), [1, 2]);
  const frozen = variable([[1, 2]], { trainable: false, dtype: "int32" });
  assert.equal(frozen.trainable, false);
  assert.equal(frozen.dtype, "int32");
  assert.deepEqual(frozen.shape, [1, 2]);
  assert.throws(() => variable([1], { name }), VariableError);
  tf.dispose([v, frozen]);
});

Deno.test("assignAdd / assignSub update in place, keep dtype, leak nothing", () => {
  const v = variable([1, 2, 3]);
  const step = variable(tf.scalar(0, "int32"), { trainable: false });
  const one = tf.ones([3]);
  const before = tf.memory().numTensors;
  for (let i = 0; i < 5; i++) {
    assignAdd(v, one);
    assignSub(v, [0.5, 0.5, 0.5]); // TF: same shape, no broadcasting
    assignAdd(step, 1);
  }
  assert.equal(tf.memory().numTensors, before);
  assert.deepEqual(Array.from(v.dataSync()), [3.5, 4.5, 5.5]);
  assert.equal(step.dtype, "int32");
  assert.equal(step.dataSync()[0], 5);
  assert.equal(assignAdd(v, [0, 0, 0]), v);
  assert.throws(() => assignAdd(v, tf.ones([2, 3])), /shape/);
  tf.dispose([v, step, one]);
});

Deno.test("save and restore round trip: record, list, dtypes, metadata", async () => {
  const w = variable(tf.randomNormal([3, 4], 0, 1, "float32", 7));
  const b = variable([0.25, -1.5, 1e-8, 3e7]);
  const step = variable(tf.scalar(1234, "int32"), { trainable: false });
  const mask = tf.variable(tf.tensor1d([true, false, true], "bool"));
  const path = `${dir}/model.ckpt`;
  const info = await saveVariables(path, { w, b, step, mask }, { metadata: { epoch: 3 } });
  assert.deepEqual(info.names, ["w", "b", "step", "mask"]);
  assert.equal(info.bytes, (await Deno.stat(path)).size);
  const listed = await listCheckpoint(path);
  assert.deepEqual(listed.map((e) => [e.name, e.shape, e.dtype]), [
    ["w", [3, 4], "float32"],
    ["b", [4], "float32"],
    ["step", [], "int32"],
    ["mask", [3], "bool"],
  ]);
  const saved = snapshot({ w, b, step, mask });
  tf.tidy(() => {
    w.assign(tf.zerosLike(w));
    b.assign(tf.onesLike(b));
    step.assign(tf.scalar(0, "int32"));
    mask.assign(tf.tensor1d([false, false, false], "bool"));
  });
  const before = tf.memory().numTensors;
  const restored = await restoreVariables(path, { w, b, step, mask });
  assert.equal(tf.memory().numTensors, before);
  assert.deepEqual(snapshot({ w, b, step, mask }), saved); // bit-exact
  assert.deepEqual(restored.metadata, { epoch: 3 });
  assert.deepEqual(restored.unused, []);

  // a list is saved under each variable's own name
  const a = variable([1, 2], { name: uniq("a") });
  const listPath = `${dir}/list.ckpt`;
  await saveVariables(listPath, [a]);
  assert.deepEqual((await listCheckpoint(listPath)).map((e) => e.name), [a.name]);
  assignAdd(a, [5, 5]);
  await restoreVariables(listPath, [a]);
  assert.deepEqual(Array.from(a.dataSync()), [1, 2]);

  // partial restore: unused entries are reported, or refused when asked
  const partial = await restoreVariables(path, { w });
  assert.deepEqual(partial.unused, ["b", "step", "mask"]);
  await assert.rejects(restoreVariables(path, { w }, { allowUnused: false }), CheckpointError);
  tf.dispose([w, b, step, mask, a]);
});

Deno.test("saving is atomic: no temporary files left, an existing file replaced whole", async () => {
  const sub = `${dir}/nested/deeper`;
  const path = `${sub}/ckpt.bin`;
  const v = variable(tf.ones([100]));
  await saveVariables(path, { v }); // creates the directories
  assignAdd(v, new Array(100).fill(1));
  await saveVariables(path, { v });
  const names = [...Deno.readDirSync(sub)].map((e) => e.name);
  assert.deepEqual(names, ["ckpt.bin"]);
  const ckpt = await readCheckpoint(path);
  assert.deepEqual(Array.from(ckpt.values.get("v")!).slice(0, 3), [2, 2, 2]);
  // a failed write (target is a directory) leaves no temp file and throws CheckpointError
  await Deno.mkdir(`${sub}/adir`);
  await assert.rejects(saveVariables(`${sub}/adir`, { v }), CheckpointError);
  assert.deepEqual([...Deno.readDirSync(sub)].map((e) => e.name).sort(), ["adir", "ckpt.bin"]);
  v.dispose();
});

Deno.test("bad save arguments are CheckpointErrors", async () => {
  const v = variable([1]);
  const s = tf.variable(tf.tensor1d(["x"], "string"));
  await assert.rejects(saveVariables(`${dir}/x.ckpt`, [v, v]), /share this name/);
  await assert.rejects(saveVariables(`${dir}/x.ckpt`, { s }), /dtype string/);
  await assert.rejects(
    saveVariables(`${dir}/x.ckpt`, { t: tf.scalar(1) as never }),
    /not a tf.Variable/,
  );
  const cyclic: Record<string, unknown> = {};
  cyclic.self = cyclic;
  await assert.rejects(saveVariables(`${dir}/x.ckpt`, { v }, { metadata: cyclic }), /JSON/);
  tf.dispose([v, s]);
});

/** Restoring must fail with a CheckpointError naming `path` (and `variable`), changing nothing. */
async function assertRejectsUnchanged(
  path: string,
  vars: Record<string, tf.Variable>,
  pattern: RegExp,
  variable?: string,
): Promise<void> {
  const before = snapshot(vars);
  const tensors = tf.memory().numTensors;
  await assert.rejects(restoreVariables(path, vars), (e: unknown) => {
    assert.ok(e instanceof CheckpointError, `CheckpointError, got ${e}`);
    assert.equal(e.path, path);
    assert.ok(e.message.includes(path), e.message);
    assert.match(e.message, pattern);
    if (variable !== undefined) {
      assert.equal(e.variable, variable);
      assert.ok(e.message.includes(`"${variable}"`), e.message);
    }
    return true;
  });
  assert.deepEqual(snapshot(vars), before, "variables unchanged");
  assert.equal(tf.memory().numTensors, tensors, "no tensors leaked");
}

Deno.test("a mismatched or damaged checkpoint is refused and changes nothing", async () => {
  const w = variable(tf.randomNormal([4, 5], 0, 1, "float32", 1));
  const b = variable(tf.randomNormal([5], 0, 1, "float32", 2));
  const path = `${dir}/good.ckpt`;
  await saveVariables(path, { w, b });
  const good = await Deno.readFile(path);
  // the "live" variables hold different values, so a partial restore would show
  const w2 = variable(tf.zeros([4, 5]));
  const b2 = variable(tf.zeros([5]));

  await assertRejectsUnchanged(`${dir}/missing.ckpt`, { w: w2 }, /not found/);
  // the first variable is fine, the second is missing: the first must not be assigned
  await assertRejectsUnchanged(path, { w: w2, c: b2 }, /not in the checkpoint/, "c");
  const wrongShape = variable(tf.zeros([5, 4]));
  await assertRejectsUnchanged(path, { b: b2, w: wrongShape }, /shape \[4,5\]/, "w");
  const wrongDtype = variable(tf.zeros([5], "int32"));
  await assertRejectsUnchanged(path, { w: w2, b: wrongDtype }, /dtype float32/, "b");

  const write = async (name: string, bytes: Uint8Array) => {
    const p = `${dir}/${name}`;
    await Deno.writeFile(p, bytes);
    return p;
  };
  // truncated in the data, in the header, and to almost nothing
  await assertRejectsUnchanged(
    await write("trunc.ckpt", good.slice(0, good.length - 30)),
    { w: w2, b: b2 },
    /truncated/,
  );
  await assertRejectsUnchanged(
    await write("trunc2.ckpt", good.slice(0, 40)),
    { w: w2 },
    /truncated/,
  );
  await assertRejectsUnchanged(await write("tiny.ckpt", good.slice(0, 5)), { w: w2 }, /truncated/);
  // one flipped bit in b's data: named by its own CRC
  const ckpt = await readCheckpoint(path);
  const dataStart = 16 + new DataView(good.buffer).getUint32(12, true);
  const bEntry = ckpt.entries.find((e) => e.name === "b")!;
  const flipped = good.slice();
  flipped[dataStart + bEntry.offset + 3] ^= 0x10;
  await assertRejectsUnchanged(await write("flip.ckpt", flipped), { w: w2, b: b2 }, /CRC/, "b");
  // a damaged byte in the header padding/JSON: caught by the file CRC or the JSON parse
  const header = good.slice();
  header[20] ^= 0x01;
  await assertRejectsUnchanged(await write("header.ckpt", header), { w: w2 }, /corrupt/);
  // wrong magic, wrong version, trailing garbage
  const magic = good.slice();
  magic[0] = 0x58;
  await assertRejectsUnchanged(await write("magic.ckpt", magic), { w: w2 }, /not a checkpoint/);
  const version = good.slice();
  new DataView(version.buffer).setUint32(8, 9, true);
  await assertRejectsUnchanged(await write("version.ckpt", version), { w: w2 }, /version 9/);
  const longer = new Uint8Array(good.length + 3);
  longer.set(good);
  await assertRejectsUnchanged(await write("long.ckpt", longer), { w: w2 }, /unexpected bytes/);

  // and the good file still restores
  await restoreVariables(path, { w: w2, b: b2 });
  assert.deepEqual(snapshot({ w: w2, b: b2 }), snapshot({ w, b }));
  tf.dispose([w, b, w2, b2, wrongShape, wrongDtype]);
});
