import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../lib/backend.ts";
import { Dataset, DatasetError, IMAGE_SIZE } from "../lib/data/mod.ts";

/** `n` images, image i tagged by pixel 0 = i % 256, pixel 1 = i >> 8, the rest pseudo-random. */
function synthetic(n: number, classes = 10): Dataset {
  const images = new Uint8Array(n * IMAGE_SIZE);
  let s = 12345;
  for (let p = 0; p < images.length; p++) {
    s = (s * 1103515245 + 12345) >>> 0;
    images[p] = s >>> 24;
  }
  const labels = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    images[i * IMAGE_SIZE] = i % 256;
    images[i * IMAGE_SIZE + 1] = i >> 8;
    labels[i] = (i * 3) % classes;
  }
  return new Dataset(images, labels, { name: "synthetic" });
}

function tagsOf(xs: Float32Array | Int32Array | Uint8Array, size: number): number[] {
  return Array.from(
    { length: size },
    (_, b) => Math.round(xs[b * IMAGE_SIZE] * 255) + 256 * Math.round(xs[b * IMAGE_SIZE + 1] * 255),
  );
}

/** Run one epoch of batches, returning the visited tags and disposing each batch. */
function epochTags(ds: Dataset, batchSize: number, shuffle: boolean, seed?: number): number[] {
  const out: number[] = [];
  for (const b of ds.batches(batchSize, { shuffle, seed })) {
    out.push(...tagsOf(b.xs.dataSync() as Float32Array, b.size));
    b.xs.dispose();
    b.ys.dispose();
  }
  return out;
}

for (const backend of ["wasm", "cpu"] as const) {
  Deno.test(`Dataset.batches on ${backend}: shapes, values, one-hot labels, last batch`, async () => {
    const report = await initBackend({ prefer: backend });
    assert.equal(report.backend, backend);
    const ds = synthetic(70);
    assert.equal(ds.count, 70);
    assert.equal(ds.numBatches(32), 3);
    assert.equal(ds.numBatches(32, { dropRemainder: true }), 2);
    const sizes: number[] = [];
    let seen = 0;
    for (const { xs, ys, labels, size } of ds.batches(32)) {
      sizes.push(size);
      assert.deepEqual(xs.shape, [size, 28, 28, 1]);
      assert.equal(xs.dtype, "float32");
      assert.deepEqual(ys.shape, [size, 10]);
      assert.equal(ys.dtype, "float32");
      const x = xs.dataSync();
      const y = ys.dataSync();
      for (let b = 0; b < size; b++) {
        const i = seen + b; // unshuffled: the original order
        assert.equal(labels[b], ds.labels[i]);
        for (let c = 0; c < 10; c++) assert.equal(y[b * 10 + c], c === ds.labels[i] ? 1 : 0);
        for (let p = 0; p < IMAGE_SIZE; p += 97) {
          assert.ok(Math.abs(x[b * IMAGE_SIZE + p] - ds.images[i * IMAGE_SIZE + p] / 255) < 1e-7);
        }
      }
      seen += size;
      xs.dispose();
      ys.dispose();
    }
    assert.deepEqual(sizes, [32, 32, 6]);
    const dropped = [...ds.batches(32, { dropRemainder: true })];
    assert.deepEqual(dropped.map((b) => b.size), [32, 32]);
    for (const b of dropped) tf.dispose([b.xs, b.ys]);
  });

  Deno.test(`Dataset.batches on ${backend}: earlier batches keep their values`, async () => {
    await initBackend({ prefer: backend });
    const ds = synthetic(40);
    const held = [...ds.batches(10, { shuffle: true, seed: 9 })];
    const order = epochTags(ds, 10, true, 9);
    assert.deepEqual(held.flatMap((b) => tagsOf(b.xs.dataSync() as Float32Array, b.size)), order);
    for (const b of held) tf.dispose([b.xs, b.ys]);
  });
}

Deno.test("Dataset.batches: seeded shuffles are deterministic, each example once", async () => {
  await initBackend({ prefer: "wasm" });
  const ds = synthetic(300);
  const inOrder = epochTags(ds, 64, false);
  assert.deepEqual(inOrder, Array.from({ length: 300 }, (_, i) => i));
  const a = epochTags(ds, 64, true, 7);
  const b = epochTags(ds, 64, true, 7);
  const c = epochTags(ds, 64, true, 8);
  assert.deepEqual(a, b, "same seed, same order");
  assert.notDeepEqual(a, c, "another seed, another order");
  assert.notDeepEqual(a, inOrder, "shuffled");
  assert.deepEqual([...a].sort((x, y) => x - y), inOrder, "a permutation: each example once");
  const unseeded1 = epochTags(ds, 64, true);
  const unseeded2 = epochTags(ds, 64, true);
  assert.notDeepEqual(unseeded1, unseeded2, "no seed: a fresh random order");
});

Deno.test("Dataset: no tensor leaks across epochs, toTensors and abandoned generators", async () => {
  await initBackend({ prefer: "wasm" });
  const ds = synthetic(100);
  epochTags(ds, 16, true, 1); // warm up
  const before = tf.memory().numTensors;
  const counts: number[] = [];
  for (let epoch = 0; epoch < 3; epoch++) {
    epochTags(ds, 16, true, epoch);
    counts.push(tf.memory().numTensors);
  }
  assert.deepEqual(counts, [before, before, before]);
  // Stopping an epoch early leaks nothing: tensors are made one batch at a time.
  const gen = ds.batches(16, { shuffle: true, seed: 2 });
  const first = gen.next().value!;
  tf.dispose([first.xs, first.ys]);
  gen.return(undefined);
  assert.equal(tf.memory().numTensors, before);
  const { xs, ys } = ds.toTensors();
  assert.equal(tf.memory().numTensors, before + 2);
  tf.dispose([xs, ys]);
  assert.equal(tf.memory().numTensors, before);
});

Deno.test("Dataset.toTensors: the whole set, scaled and one-hot", async () => {
  await initBackend({ prefer: "wasm" });
  const ds = synthetic(12);
  const { xs, ys } = ds.toTensors();
  assert.deepEqual(xs.shape, [12, 28, 28, 1]);
  assert.deepEqual(ys.shape, [12, 10]);
  const x = xs.dataSync();
  for (let p = 0; p < x.length; p += 31) assert.ok(Math.abs(x[p] - ds.images[p] / 255) < 1e-7);
  assert.deepEqual([...(tf.tidy(() => ys.argMax(1).dataSync()))], [...ds.labels]);
  tf.dispose([xs, ys]);
});

Deno.test("Dataset.subset, slice and split: seeded, disjoint, labels kept with images", () => {
  const ds = synthetic(200);
  const tag = (d: Dataset) =>
    Array.from({ length: d.count }, (_, i) => d.image(i)[0] + 256 * d.image(i)[1]);
  const s1 = ds.subset(50, 5);
  const s2 = ds.subset(50, 5);
  const s3 = ds.subset(50, 6);
  assert.equal(s1.count, 50);
  assert.deepEqual(s1.images, s2.images);
  assert.notDeepEqual(tag(s1), tag(s3));
  const t1 = tag(s1);
  assert.deepEqual(t1, [...t1].sort((a, b) => a - b), "original order kept");
  assert.equal(new Set(t1).size, 50);
  t1.forEach((t, i) => assert.equal(s1.labels[i], (t * 3) % 10));
  assert.equal(ds.subset(200).count, 200);

  const sl = ds.slice(10, 20);
  assert.equal(sl.count, 10);
  assert.deepEqual(tag(sl), Array.from({ length: 10 }, (_, i) => 10 + i));
  assert.equal(sl.images.buffer, ds.images.buffer, "a view, no copy");

  const [rest, held] = ds.split(0.25, 1);
  assert.equal(rest.count, 150);
  assert.equal(held.count, 50);
  const all = new Set([...tag(rest), ...tag(held)]);
  assert.equal(all.size, 200);
  assert.deepEqual(ds.classCounts().reduce((a, b) => a + b), 200);
  assert.deepEqual(
    rest.classCounts().map((c, k) => c + held.classCounts()[k]),
    ds.classCounts(),
  );
});

Deno.test("Dataset: bad input throws DatasetError", () => {
  assert.throws(() => new Dataset(new Uint8Array(784 * 2), new Uint8Array(3)), {
    name: "DatasetError",
    message: /3 labels need 2352 pixels .*images has 1568/,
  });
  assert.throws(() => new Dataset(new Uint8Array(784), new Uint8Array([10])), {
    name: "DatasetError",
    message: /label 10 at index 0 is out of range: there are 10 classes/,
  });
  const ds = synthetic(10);
  assert.throws(() => ds.subset(11), DatasetError);
  assert.throws(() => ds.subset(-1), DatasetError);
  assert.throws(() => ds.batches(0), /batch size 0 must be a positive integer/);
  assert.throws(() => ds.numBatches(1.5), DatasetError);
  assert.throws(() => ds.split(1), /split fraction 1/);
  assert.throws(() => ds.image(10), /out of range/);
  assert.throws(() => ds.slice(5, 11), DatasetError);
  assert.match(String(ds), /Dataset "synthetic": 10 images 28×28, 10 classes/);
});
