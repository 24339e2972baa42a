/**
 * TensorBoard event files: decoded with an INDEPENDENT decoder (protobufjs
 * loading TensorFlow's own .proto definitions from tests/protos/), every
 * record's framing and CRCs checked by code in this file.
 */
import assert from "node:assert/strict";
import protobuf from "protobufjs";
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../lib/backend.ts";
import { crc32 } from "node:zlib";
import {
  crc32c,
  encodeTfRecord,
  eventFileSummary,
  makeHistogram,
  maskCrc32c,
  MAX_HISTOGRAM_BUCKETS,
  readEventFile,
  readScalars,
  readTfRecords,
  scanEventFile,
  scanTfRecords,
  summaryFileWriter,
  SummaryWriterError,
  tensorBoard,
  TfRecordError,
  toGraphDef,
  unmaskCrc32c,
} from "../lib/ecosystem/mod.ts";

const PROTOS = new URL("./protos/", import.meta.url).pathname;
const root = protobuf.loadSync([`${PROTOS}event.proto`, `${PROTOS}graph.proto`]);
const Event = root.lookupType("tensorflow.Event");
const GraphDef = root.lookupType("tensorflow.GraphDef");

// deno-lint-ignore no-explicit-any
type Obj = any;

/** Split a TFRecord file by hand, asserting both masked CRC-32Cs of every record. */
function records(bytes: Uint8Array): Uint8Array[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out: Uint8Array[] = [];
  let pos = 0;
  while (pos < bytes.length) {
    const len = Number(view.getBigUint64(pos, true));
    assert.equal(view.getUint32(pos + 8, true), maskCrc32c(crc32c(bytes.subarray(pos, pos + 8))));
    const data = bytes.subarray(pos + 12, pos + 12 + len);
    assert.equal(data.length, len, "record truncated");
    assert.equal(view.getUint32(pos + 12 + len, true), maskCrc32c(crc32c(data)));
    out.push(data);
    pos += 16 + len;
  }
  assert.equal(pos, bytes.length);
  return out;
}

function decodeFile(path: string): Obj[] {
  return records(Deno.readFileSync(path)).map((r) =>
    Event.toObject(Event.decode(r), { longs: Number, bytes: Uint8Array, defaults: false })
  );
}

function eventFiles(dir: string): string[] {
  return [...Deno.readDirSync(dir)].filter((e) => e.name.includes("tfevents")).map((e) =>
    `${dir}/${e.name}`
  );
}

async function inflate(bytes: Uint8Array): Promise<Uint8Array> {
  const stream = new Blob([bytes.slice()]).stream().pipeThrough(new DecompressionStream("deflate"));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

/** Parse a PNG: check signature and every chunk CRC, return IHDR fields and inflated rows. */
async function readPng(png: Uint8Array): Promise<{ w: number; h: number; pixels: Uint8Array }> {
  assert.deepEqual([...png.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  const view = new DataView(png.buffer, png.byteOffset, png.byteLength);
  let pos = 8, w = 0, h = 0;
  const idat: number[] = [];
  const types: string[] = [];
  while (pos < png.length) {
    const len = view.getUint32(pos);
    const type = new TextDecoder().decode(png.subarray(pos + 4, pos + 8));
    types.push(type);
    assert.equal(view.getUint32(pos + 8 + len), crc32(png.subarray(pos + 4, pos + 8 + len)));
    if (type === "IHDR") {
      w = view.getUint32(pos + 8);
      h = view.getUint32(pos + 12);
      assert.equal(png[pos + 16], 8, "bit depth");
      assert.equal(png[pos + 17], 0, "grayscale");
    }
    if (type === "IDAT") idat.push(...png.subarray(pos + 8, pos + 8 + len));
    pos += 12 + len;
  }
  assert.deepEqual(types, ["IHDR", "IDAT", "IEND"]);
  const raw = await inflate(new Uint8Array(idat));
  assert.equal(raw.length, h * (w + 1));
  const pixels = new Uint8Array(w * h);
  for (let y = 0; y < h; y++) {
    assert.equal(raw[y * (w + 1)], 0, "filter byte");
    pixels.set(raw.subarray(y * (w + 1) + 1, (y + 1) * (w + 1)), y * w);
  }
  return { w, h, pixels };
}

Deno.test("crc32c matches RFC 3720 B.4 test vectors and the check value", () => {
  assert.equal(crc32c(new Uint8Array(32)), 0x8a9136aa);
  assert.equal(crc32c(new Uint8Array(32).fill(0xff)), 0x62a8ab43);
  assert.equal(crc32c(Uint8Array.from({ length: 32 }, (_, i) => i)), 0x46dd794e);
  assert.equal(crc32c(new TextEncoder().encode("123456789")), 0xe3069283);
  assert.equal(crc32(new TextEncoder().encode("123456789")), 0xcbf43926);
  for (const c of [0, 1, 0x8a9136aa, 0xffffffff, 0x12345678]) {
    assert.equal(unmaskCrc32c(maskCrc32c(c)), c);
  }
  assert.notEqual(maskCrc32c(0x12345678), 0x12345678);
});

Deno.test("TFRecord framing round-trips and detects corruption", () => {
  const payloads = [new Uint8Array([1, 2, 3]), new Uint8Array(0), new Uint8Array(300).fill(7)];
  const file = new Uint8Array(payloads.reduce((n, p) => n + p.length + 16, 0));
  let off = 0;
  for (const p of payloads) {
    const r = encodeTfRecord(p);
    file.set(r, off);
    off += r.length;
  }
  assert.deepEqual(records(file), payloads);
  assert.deepEqual(readTfRecords(file), payloads);
  const bad = file.slice();
  bad[14] ^= 1; // a payload byte of the first record
  assert.throws(() => readTfRecords(bad, "bad.tfevents"), TfRecordError);
  assert.throws(() => readTfRecords(file.subarray(0, file.length - 2)), TfRecordError);
});

Deno.test("summaryFileWriter writes scalars, histograms, images and graphs TensorBoard's protos decode", async () => {
  await initBackend();
  const dir = await Deno.makeTempDir({ prefix: "tb_test_" });
  try {
    const t0 = Date.now() / 1000;
    const w = summaryFileWriter(`${dir}/run`);
    assert.equal(summaryFileWriter(`${dir}/run`), w, "same writer for the same logdir");
    const losses = [2.5, 1.25, 0.7, 0.0, 0.3];
    losses.forEach((v, i) => w.scalar("loss", v, i * 10));
    const before = tf.memory().numTensors;
    const weights = tf.tensor1d([0.5, -1, 2, 2, 3.5, -0.25]);
    w.histogram("weights", weights, 7, 4);
    const lrTensor = tf.scalar(0.01);
    w.scalar("lr", lrTensor, 7);
    weights.dispose();
    lrTensor.dispose();
    const img = new Uint8Array(2 * 28 * 28);
    for (let i = 0; i < img.length; i++) img[i] = (i * 37) % 256;
    w.image("digits", img, 8, { maxOutputs: 2 });
    w.graph([
      { name: "x", type: "Placeholder", inputs: [], dtype: "float32", shape: [null, 784] },
      { name: "w", type: "VariableV2", inputs: [], dtype: "float32", shape: [784, 10] },
      { name: "logits", type: "MatMul", inputs: ["x", "w"], dtype: "float32", shape: [null, 10] },
    ]);
    w.close();
    w.close(); // idempotent
    assert.throws(() => w.scalar("loss", 1, 99), /closed/);

    const files = eventFiles(`${dir}/run`);
    assert.equal(files.length, 1);
    assert.match(files[0], /events\.out\.tfevents\.\d+\.[^/]+$/);
    const events = decodeFile(files[0]);
    assert.equal(events[0].fileVersion, "brain.Event:2");
    for (const e of events) assert.ok(e.wallTime >= t0 - 1 && e.wallTime <= Date.now() / 1000 + 1);

    const scalars = events.filter((e) => e.summary?.value?.[0]?.tag === "loss");
    assert.deepEqual(scalars.map((e) => e.step ?? 0), [0, 10, 20, 30, 40]);
    assert.deepEqual(
      scalars.map((e) => e.summary.value[0].simpleValue ?? 0),
      losses.map((v) => Math.fround(v)),
    );
    const lr = events.find((e) => e.summary?.value?.[0]?.tag === "lr");
    assert.equal(lr.summary.value[0].simpleValue, Math.fround(0.01));

    const h = events.find((e) => e.summary?.value?.[0]?.tag === "weights").summary.value[0].histo;
    assert.equal(h.min, -1);
    assert.equal(h.max, 3.5);
    assert.equal(h.num, 6);
    assert.equal(h.sum, 6.75);
    assert.equal(h.sumSquares, 0.25 + 1 + 4 + 4 + 12.25 + 0.0625);
    assert.equal(h.bucketLimit.length, 4);
    assert.equal(h.bucketLimit.at(-1), 3.5);
    assert.deepEqual(h.bucket, [2, 1, 2, 1]); // edges -1, 0.125, 1.25, 2.375, 3.5

    const imgEvent = events.find((e) => e.summary?.value?.[0]?.image);
    assert.equal(imgEvent.step, 8);
    assert.deepEqual(imgEvent.summary.value.map((v: Obj) => v.tag), [
      "digits/image/0",
      "digits/image/1",
    ]);
    for (let k = 0; k < 2; k++) {
      const im = imgEvent.summary.value[k].image;
      assert.equal(im.height, 28);
      assert.equal(im.width, 28);
      assert.equal(im.colorspace, 1);
      const png = await readPng(im.encodedImageString);
      assert.equal(png.w, 28);
      assert.deepEqual(png.pixels, img.subarray(k * 784, (k + 1) * 784));
    }

    const g = events.find((e) => e.graphDef);
    const gd = GraphDef.toObject(GraphDef.decode(g.graphDef), { longs: Number, enums: String });
    assert.deepEqual(gd.node.map((n: Obj) => n.name), ["x", "w", "logits"]);
    assert.deepEqual(gd.node.map((n: Obj) => n.op), ["Placeholder", "VariableV2", "MatMul"]);
    assert.deepEqual(gd.node[2].input, ["x", "w"]);
    assert.equal(gd.node[0].attr.dtype.type, "DT_FLOAT");
    assert.equal(gd.node[2].attr.T.type, "DT_FLOAT");
    assert.deepEqual(gd.node[0].attr.shape.shape.dim.map((d: Obj) => d.size), [-1, 784]);
    assert.deepEqual(
      gd.node[2].attr._output_shapes.list.shape[0].dim.map((d: Obj) => d.size),
      [-1, 10],
    );
    assert.equal(tf.memory().numTensors, before, "no tensors leaked by the writer");

    // Our own reader agrees with protobufjs.
    const ours = await readScalars(dir);
    assert.deepEqual(ours["run/loss"].steps, [0, 10, 20, 30, 40]);
    assert.deepEqual(ours["run/loss"].values, losses.map((v) => Math.fround(v)));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("toGraphDef: attrs, control inputs, output indices and bad graphs", () => {
  const bytes = toGraphDef({
    operations: [
      { name: "a", type: "Const", inputs: [], dtype: "int32", shape: [], attrs: { value: null } },
      {
        name: "split",
        type: "Split",
        inputs: ["a"],
        dtype: "float32",
        shape: null,
        attrs: { num_split: 2, ratio: 0.5, keep: true, perm: [1, 0], names: ["p", "q"] },
      },
      {
        name: "y",
        type: "AddV2",
        inputs: [{ op: { name: "split" }, index: 1 }, "split"],
        controlInputs: ["a"],
      },
    ],
  });
  const gd = GraphDef.toObject(GraphDef.decode(bytes), { longs: Number, enums: String });
  assert.equal(gd.node[0].attr.dtype.type, "DT_INT32");
  assert.equal(gd.node[0].attr._output_shapes.list.shape[0].dim, undefined); // scalar: rank 0
  assert.equal(gd.node[1].attr._output_shapes.list.shape[0].unknownRank, true);
  assert.equal(gd.node[1].attr.num_split.i, 2);
  assert.equal(gd.node[1].attr.ratio.f, 0.5);
  assert.equal(gd.node[1].attr.keep.b, true);
  assert.deepEqual(gd.node[1].attr.perm.list.i, [1, 0]);
  assert.deepEqual(
    gd.node[1].attr.names.list.s.map((s: Uint8Array) => new TextDecoder().decode(s)),
    ["p", "q"],
  );
  assert.deepEqual(gd.node[2].input, ["split:1", "split", "^a"]);
  assert.throws(() => toGraphDef([{ name: "b", type: "Neg", inputs: ["nope"] }]), /nope/);
  assert.throws(() => toGraphDef([{ name: "bad name", type: "Neg", inputs: [] }]), /node name/);
});

Deno.test("tensorBoard callback logs batch and epoch scalars to train/ and validation/", async () => {
  const dir = await Deno.makeTempDir({ prefix: "tb_cb_" });
  try {
    const cb = tensorBoard(dir, { updateFreq: "batch" });
    await cb.onTrainBegin?.({ epochs: 2, stepsPerEpoch: 3 });
    for (let epoch = 0; epoch < 2; epoch++) {
      await cb.onEpochBegin?.(epoch);
      for (let s = 0; s < 3; s++) {
        await cb.onBatchEnd?.(s, { loss: 1 / (epoch * 3 + s + 1), size: 8 });
      }
      await cb.onEpochEnd?.(epoch, {
        loss: 0.5 - epoch * 0.1,
        acc: 0.7 + epoch * 0.1,
        val_loss: 0.6,
      });
    }
    await cb.onTrainEnd?.({});
    const s = await readScalars(dir);
    assert.deepEqual(Object.keys(s).sort(), [
      "train/batch_loss",
      "train/epoch_acc",
      "train/epoch_loss",
      "validation/epoch_loss",
    ]);
    assert.deepEqual(s["train/batch_loss"].steps, [0, 1, 2, 3, 4, 5]);
    assert.equal(s["train/batch_loss"].values[5], Math.fround(1 / 6));
    assert.deepEqual(s["train/epoch_acc"].values, [0.7, 0.8].map(Math.fround));
    assert.deepEqual(s["validation/epoch_loss"].steps, [0, 1]);
    const summary = await eventFileSummary(dir);
    assert.deepEqual(summary.map((r) => r.file.split("/")[0]), ["train", "validation"]);
    assert.equal(summary[0].records, 1 + 6 + 4); // file_version, 6 batch_loss, 2 x (loss, acc)
    assert.equal(summary[0].tags, "batch_loss, epoch_loss, epoch_acc");
    assert.equal(summary[1].bytes, Deno.statSync(`${dir}/${summary[1].file}`).size);
    // Each event file also decodes with protobufjs, every CRC checked.
    for (const sub of ["train", "validation"]) {
      for (const f of eventFiles(`${dir}/${sub}`)) {
        assert.equal(decodeFile(f)[0].fileVersion, "brain.Event:2");
      }
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a real v1 Graph becomes a GraphDef with every op, input and dtype", async () => {
  await initBackend();
  const v1 = await import("../lib/v1/mod.ts");
  const g = new v1.Graph();
  g.asDefault(() => {
    const x = v1.placeholder("float32", [null, 2], "x");
    const w = new v1.Variable(tf.ones([2, 1]), { name: "w" });
    return v1.matMul(x, w);
  });
  const gd = GraphDef.toObject(GraphDef.decode(toGraphDef(g)), { longs: Number, enums: String });
  assert.equal(gd.node.length, g.operations.length);
  g.operations.forEach((op, i) => {
    const node = gd.node[i];
    assert.equal(node.name, op.name);
    assert.equal(node.op, op.type);
    assert.deepEqual(node.input ?? [], op.toJSON().inputs);
    if (op.outputs.length > 0) {
      const shapes = node.attr._output_shapes.list.shape;
      assert.equal(shapes.length, op.outputs.length);
      assert.deepEqual(
        (shapes[0].dim ?? []).map((d: Obj) => d.size),
        op.outputs[0].shape.map((d) => d ?? -1),
      );
    }
  });
  const x = gd.node.find((n: Obj) => n.name === "x");
  assert.equal(x.op, "Placeholder");
  assert.equal(x.attr.dtype.type, "DT_FLOAT");
  assert.ok(gd.node.some((n: Obj) => n.op === "MatMul"));
  const init = gd.node.find((n: Obj) => n.op === "Const");
  assert.equal(init.attr.value.tensor.dtype, "DT_FLOAT");
  assert.deepEqual(init.attr.value.tensor.floatVal, [1, 1]);
  assert.deepEqual(init.attr.value.tensor.tensorShape.dim.map((d: Obj) => d.size), [2, 1]);
  g.dispose();
});

Deno.test("a tfFunction trace is written as a graph event and decodes", async () => {
  await initBackend();
  const { tfFunction } = await import("../lib/function.ts");
  const w = tf.variable(tf.ones([3, 2]), true, "tb_test_w");
  const f = tfFunction((x: tf.Tensor) => x.matMul(w).relu().sum());
  const x = tf.ones([4, 3]);
  const cf = f.getConcreteFunction(x);
  const dir = await Deno.makeTempDir({ prefix: "tb_fn_" });
  try {
    const writer = summaryFileWriter(dir);
    writer.graph(cf.graph, 1);
    writer.close();
    const events = decodeFile(eventFiles(dir)[0]);
    const g = events.find((e) => e.graphDef);
    assert.equal(g.step, 1);
    const gd = GraphDef.toObject(GraphDef.decode(g.graphDef), { longs: Number, enums: String });
    assert.deepEqual(gd.node.map((n: Obj) => n.name), cf.graph.operations.map((o) => o.name));
    for (const type of ["MatMul", "Relu"]) {
      assert.ok(
        gd.node.some((n: Obj) => n.op === type),
        `${type} in ${gd.node.map((n: Obj) => n.op)}`,
      );
    }
  } finally {
    x.dispose();
    w.dispose();
    await Deno.remove(dir, { recursive: true });
  }
});

const protoc = (() => {
  try {
    return new Deno.Command("protoc", { args: ["--version"], stdout: "null", stderr: "null" })
      .outputSync().success;
  } catch {
    return false;
  }
})();

Deno.test({
  name: "protoc (Google's reference protobuf, when installed) decodes our events",
  ignore: !protoc,
  fn: async () => {
    const dir = await Deno.makeTempDir({ prefix: "tb_protoc_" });
    try {
      const w = summaryFileWriter(dir);
      w.scalar("loss", 0.25, 3);
      w.histogram("w", [1, 2, 3, 4], 5, 2);
      w.close();
      const texts = [];
      for (const rec of records(Deno.readFileSync(eventFiles(dir)[0]))) {
        const child = new Deno.Command("protoc", {
          args: ["--decode=tensorflow.Event", `-I${PROTOS}`, "event.proto"],
          stdin: "piped",
          stdout: "piped",
          stderr: "piped",
        }).spawn();
        const writer = child.stdin.getWriter();
        await writer.write(rec);
        await writer.close();
        const out = await child.output();
        assert.ok(out.success, new TextDecoder().decode(out.stderr));
        texts.push(new TextDecoder().decode(out.stdout));
      }
      assert.match(texts[0], /file_version: "brain.Event:2"/);
      assert.match(texts[1], /step: 3\s+summary \{\s+value \{\s+tag: "loss"\s+simple_value: 0.25/);
      assert.match(texts[2], /histo \{\s+min: 1\s+max: 4\s+num: 4\s+sum: 10\s+sum_squares: 30/);
      assert.match(texts[2], /bucket_limit: 2.5\s+bucket_limit: 4\s+bucket: 2\s+bucket: 2/);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

// ---- Hostile arguments and damaged files (issue 12) -------------------------------------------

/** A writer on a fresh temp logdir; `fn` gets it, its file is read back after close. */
async function withWriter(
  fn: (w: ReturnType<typeof summaryFileWriter>, dir: string) => void | Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "tb_args_" });
  try {
    const w = summaryFileWriter(dir, { maxQueue: 1 });
    try {
      await fn(w, dir);
    } finally {
      w.close();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** The file's size and event count now (everything written so far is flushed: maxQueue 1). */
function fileState(w: ReturnType<typeof summaryFileWriter>): string {
  const bytes = Deno.readFileSync(w.path);
  return `${bytes.length} bytes, ${records(bytes).length} records`;
}

Deno.test("tf.summary.histogram: buckets must be a positive int (TF default 30); 0, -1, 2.5, NaN, Infinity, 1e7 and '5' are refused naming buckets, before anything is written", async () => {
  await initBackend();
  await withWriter((w) => {
    const before = fileState(w);
    const t = tf.tensor1d([1, 2, 3]);
    const n0 = tf.memory().numTensors;
    for (const buckets of [0, -1, 2.5, NaN, Infinity, 1e7, MAX_HISTOGRAM_BUCKETS + 1, "5"]) {
      for (const arg of [buckets, { buckets }]) {
        assert.throws(
          () => w.histogram("h", t, 1, arg as number),
          (e: unknown) =>
            e instanceof SummaryWriterError && /histogram\("h"\): buckets is/.test(e.message),
          `buckets ${String(buckets)}`,
        );
      }
      assert.throws(() => makeHistogram([1, 2], buckets as number), SummaryWriterError);
    }
    assert.equal(tf.memory().numTensors, n0, "no tensor left by a refused call");
    t.dispose();
    assert.equal(fileState(w), before, "nothing written");
    // The bounds themselves are accepted; the default is TF's 30.
    assert.equal(makeHistogram([0, 1]).bucket.length, 30);
    assert.equal(makeHistogram([0, 1], 1).bucket.length, 1);
    assert.equal(makeHistogram([0, 1], MAX_HISTOGRAM_BUCKETS).bucket.length, MAX_HISTOGRAM_BUCKETS);
    w.histogram("h", [0, 1, 2, 3], 2, { buckets: 2 });
    assert.deepEqual(decodeFile(w.path).at(-1).summary.value[0].histo.bucket, [2, 2]);
  });
});

Deno.test("tf.summary.histogram: [-1e308, 0, 1e308] counts all 3 values (max - min overflows a double; the buckets must not)", async () => {
  const h = makeHistogram([-1e308, 0, 1e308]);
  assert.equal(h.num, 3);
  assert.equal(h.bucket.reduce((a, b) => a + b, 0), 3);
  assert.equal(h.bucket.length, 30);
  // -1e308 is the left edge (bucket 0), 0 the middle (bucket 15 of 30), 1e308 the last.
  assert.equal(h.bucket[0], 1);
  assert.equal(h.bucket[15], 1);
  assert.equal(h.bucket[29], 1);
  assert.ok(h.bucketLimit.every(Number.isFinite), "finite bucket limits");
  for (let i = 1; i < 30; i++) assert.ok(h.bucketLimit[i] > h.bucketLimit[i - 1], `limit ${i}`);
  assert.equal(h.bucketLimit[29], 1e308);
  // Limits are min + (i+1)·(max-min)/30: the 15th is the midpoint, 0.
  assert.ok(Math.abs(h.bucketLimit[14]) < 1e293, `limit 14 is ${h.bucketLimit[14]}`);
  assert.deepEqual([h.min, h.max, h.sum], [-1e308, 1e308, 0]);
  // The same through the writer, decoded by protobufjs from TensorFlow's own proto.
  await withWriter((w) => {
    w.histogram("wide", [-1e308, 0, 1e308], 1, { buckets: 2 });
    const histo = decodeFile(w.path).at(-1).summary.value[0].histo;
    // 0 is the edge between the two buckets; as in TF2's summary_v2 (bucket = floor((x - min) / width)) it goes right.
    assert.deepEqual(histo.bucket, [1, 2]);
    assert.equal(histo.num, 3);
  });
});

Deno.test("tf.summary.histogram: NaN and ±Infinity are refused as TF's HistogramSummary op refuses them (InvalidArgument 'Nan/Infinity in summary histogram'), naming the tag and the value; nothing is written", async () => {
  await initBackend();
  await withWriter((w) => {
    const before = fileState(w);
    for (
      const [values, kind, index] of [
        [[1, NaN, 2], "NaN", 1],
        [[Infinity], "Infinity", 0],
        [[0, 0, -Infinity], "-Infinity", 2],
      ] as const
    ) {
      assert.throws(
        () => w.histogram("acts", values, 3),
        (e: unknown) =>
          e instanceof SummaryWriterError &&
          e.message.includes(`histogram("acts"): value ${index} of ${values.length} is ${kind}`) &&
          /not finite/.test(e.message),
      );
    }
    const t = tf.tensor1d([0.5, NaN]);
    assert.throws(() => w.histogram("acts", t, 3), /value 1 of 2 is NaN/);
    t.dispose();
    assert.equal(fileState(w), before);
  });
});

Deno.test("tf.summary.histogram: no data gives no buckets, equal values one bucket (tf.summary.histogram's two edge cases)", () => {
  const empty = makeHistogram([]);
  assert.deepEqual([empty.num, empty.bucket, empty.bucketLimit], [0, [], []]);
  const same = makeHistogram([4, 4, 4], 30);
  assert.deepEqual([same.num, same.bucket, same.bucketLimit, same.min, same.max], [
    3,
    [3],
    [4],
    4,
    4,
  ]);
});

Deno.test("tf.summary.scalar: a tensor that is not rank 0 ([5,6], [1]) is refused as TF refuses it (ValueError: wrong shape); numbers and rank-0 tensors are logged", async () => {
  await initBackend();
  await withWriter((w) => {
    const before = fileState(w);
    const n0 = tf.memory().numTensors;
    const pair = tf.tensor1d([5, 6]);
    const one = tf.tensor1d([5]);
    const words = tf.scalar("five");
    assert.throws(
      () => w.scalar("loss", pair as unknown as tf.Scalar, 1),
      (e: unknown) =>
        e instanceof SummaryWriterError &&
        /scalar\("loss"\): the tensor has shape \[2\]/.test(e.message),
    );
    assert.throws(
      () => w.scalar("loss", one as unknown as tf.Scalar, 1),
      /shape \[1\], not a scalar/,
    );
    assert.throws(() => w.scalar("loss", words, 1), /string tensor is not a real number/);
    assert.throws(() => w.scalar("loss", [5] as unknown as number, 1), SummaryWriterError);
    assert.throws(() => w.scalar("loss", null as unknown as number, 1), /got null/);
    tf.dispose([pair, one, words]);
    assert.equal(tf.memory().numTensors, n0);
    assert.equal(fileState(w), before, "nothing written");
    const s = tf.scalar(0.5);
    w.scalar("loss", s, 2);
    s.dispose();
    w.scalar("loss", 0.25, 3);
    const values = decodeFile(w.path).slice(-2).map((
      e,
    ) => [e.step, e.summary.value[0].simpleValue]);
    assert.deepEqual(values, [[2, 0.5], [3, 0.25]]);
  });
});

Deno.test("tf.summary.image: a width or height of 0, negative or fractional (and a bad maxOutputs) is refused naming it, instead of writing an empty summary", async () => {
  await initBackend();
  await withWriter((w) => {
    const before = fileState(w);
    const px = new Uint8Array(784);
    for (
      const [opts, name] of [
        [{ width: -28, height: -28 }, "width"],
        [{ width: -1 }, "width"],
        [{ width: 0 }, "width"],
        [{ height: 0 }, "height"],
        [{ width: 27.5 }, "width"],
        [{ height: NaN }, "height"],
        [{ maxOutputs: 0 }, "maxOutputs"],
      ] as const
    ) {
      assert.throws(
        () => w.image("digit", px, 1, opts),
        (e: unknown) =>
          e instanceof SummaryWriterError &&
          e.message.startsWith(`image("digit"): ${name} is`),
        JSON.stringify(opts),
      );
    }
    // tf.summary.image takes [k, h, w, c]; this writer logs grayscale only and checks h, w.
    const rgb = tf.zeros([1, 28, 28, 3]);
    assert.throws(() => w.image("digit", rgb, 1), /3 channels/);
    const small = tf.zeros([2, 8, 8, 1]);
    assert.throws(() => w.image("digit", small, 1), /pass \{ width: 8, height: 8 \}/);
    w.image("digit", small, 1, { width: 8, height: 8 });
    tf.dispose([rgb, small]);
    assert.notEqual(fileState(w), before);
    const last = decodeFile(w.path).at(-1);
    assert.deepEqual(last.summary.value.map((v: Obj) => [v.tag, v.image.width]), [
      ["digit/image/0", 8],
      ["digit/image/1", 8],
    ]);
  });
});

Deno.test("summaryFileWriter: a logdir that cannot be created (a file, or a folder under a file) is a SummaryWriterError naming the path", async () => {
  const dir = await Deno.makeTempDir({ prefix: "tb_logdir_" });
  try {
    const file = `${dir}/a_file`;
    await Deno.writeTextFile(file, "x");
    for (const logdir of [file, `${file}/run`]) {
      assert.throws(
        () => summaryFileWriter(logdir),
        (e: unknown) =>
          e instanceof SummaryWriterError &&
          e.message.startsWith(`logdir ${logdir}: cannot create`),
      );
    }
    assert.equal(await Deno.readTextFile(file), "x", "the file is untouched");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

/** An event file of `n` scalar events (plus the file_version record) and its record offsets. */
async function eventFile(dir: string, n: number): Promise<{ path: string; offsets: number[] }> {
  const w = summaryFileWriter(`${dir}/run`);
  for (let i = 0; i < n; i++) w.scalar("loss", 1 / (i + 1), i);
  w.close();
  const path = eventFiles(`${dir}/run`)[0];
  const bytes = await Deno.readFile(path);
  const offsets: number[] = [];
  const view = new DataView(bytes.buffer);
  for (let pos = 0; pos < bytes.length; pos += 16 + Number(view.getBigUint64(pos, true))) {
    offsets.push(pos);
  }
  return { path, offsets };
}

Deno.test("event file reader: a last record cut short yields the whole records and reports the rest; readEventFile raises 'truncated record at N' as TF's RecordReader (DataLossError)", async () => {
  const dir = await Deno.makeTempDir({ prefix: "tb_trunc_" });
  try {
    const { path, offsets } = await eventFile(dir, 4); // 5 records
    const whole = await Deno.readFile(path);
    const last = offsets[4];
    const cutPath = `${dir}/events.out.tfevents.cut`;
    // Every cut inside the last record: in its header, its data, its footer.
    for (let keep = last + 1; keep < whole.length; keep++) {
      await Deno.writeFile(cutPath, whole.subarray(0, keep));
      const scan = await scanEventFile(cutPath);
      assert.equal(scan.events.length, 4, `cut at ${keep}`);
      assert.deepEqual([scan.truncatedAt, scan.truncatedBytes], [last, keep - last]);
      assert.deepEqual(scan.events.slice(1).map((e) => e.step), [0, 1, 2]);
      await assert.rejects(
        () => readEventFile(cutPath),
        (e: unknown) =>
          e instanceof TfRecordError && e.problem === "truncated" && e.offset === last &&
          e.source === cutPath &&
          e.message.startsWith(`${cutPath}: truncated record at byte ${last}`),
      );
    }
    // A whole file reports nothing cut; readScalars reads what is whole, as TensorBoard does.
    const ok = await scanEventFile(path);
    assert.deepEqual([ok.events.length, ok.truncatedAt, ok.truncatedBytes], [5, null, 0]);
    await Deno.writeFile(cutPath, whole.subarray(0, last + 20));
    await Deno.remove(path);
    const scalars = await readScalars(dir);
    assert.deepEqual(Object.keys(scalars), ["./loss"]);
    assert.deepEqual(scalars["./loss"].steps, [0, 1, 2]);
    const summary = await eventFileSummary(dir);
    assert.deepEqual(summary.map((r) => [r.records, r.truncatedBytes]), [[4, 20]]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("event file reader: a bad CRC is a TfRecordError naming the file and the record's byte offset (TF: 'corrupted record at N')", async () => {
  const dir = await Deno.makeTempDir({ prefix: "tb_crc_" });
  try {
    const { path, offsets } = await eventFile(dir, 4);
    const whole = await Deno.readFile(path);
    const bad = `${dir}/events.out.tfevents.bad`;
    for (
      const [at, what] of [
        [offsets[2] + 3, "length"], // the length field of record 2
        [offsets[2] + 9, "length"], // its length CRC
        [offsets[3] + 14, "data"], // a data byte of record 3
        [offsets[4] - 1, "data"], // the data CRC of record 3
      ] as const
    ) {
      const b = whole.slice();
      b[at] ^= 0x40;
      await Deno.writeFile(bad, b);
      const record = at < offsets[3] ? offsets[2] : offsets[3];
      for (const read of [readEventFile, scanEventFile]) {
        await assert.rejects(
          () => read(bad),
          (e: unknown) =>
            e instanceof TfRecordError && e.problem === "corrupted" && e.offset === record &&
            e.source === bad &&
            e.message.startsWith(`${bad}: corrupted record at byte ${record}: its ${what} CRC`),
          `byte ${at}`,
        );
      }
      assert.throws(() => scanTfRecords(b, "x"), /corrupted record/);
    }
    assert.deepEqual(await Deno.readFile(path), whole, "the original is untouched");
    // Not a regular file: refused by name, never read.
    await assert.rejects(() => readEventFile(dir), /not a regular file/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
