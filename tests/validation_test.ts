/** Data validation: every planted anomaly is found, and none in clean data. */
import assert from "node:assert/strict";
import { loadFashionMnist, loadMnist } from "../lib/data/mod.ts";
import {
  type Anomaly,
  computeStatistics,
  type DatasetLike,
  inferSchema,
  jsDivergence,
  validate,
} from "../lib/ecosystem/mod.ts";

const mnist = await loadMnist();
const trainStats = computeStatistics(mnist.train);
const schema = inferSchema(trainStats);

/** A copy of `n` MNIST test examples as a plain batch we can corrupt. */
function batch(n: number, offset = 0): DatasetLike & { images: Uint8Array; labels: Uint8Array } {
  return {
    name: `batch of ${n}`,
    count: n,
    images: mnist.test.images.slice(offset * 784, (offset + n) * 784),
    labels: mnist.test.labels.slice(offset, offset + n),
  };
}

const kinds = (a: Anomaly[]): string[] => a.map((x) => x.kind).sort();

Deno.test("statistics of MNIST train match the well-known figures", () => {
  assert.equal(trainStats.count, 60000);
  assert.deepEqual(trainStats.imageShape, [28, 28, 1]);
  assert.ok(Math.abs(trainStats.pixelMean - 0.1307) < 1e-3, `mean ${trainStats.pixelMean}`);
  assert.ok(Math.abs(trainStats.pixelStd - 0.3081) < 1e-3, `std ${trainStats.pixelStd}`);
  assert.deepEqual(trainStats.classCounts, mnist.train.classCounts());
  assert.equal(trainStats.classCounts.reduce((a, b) => a + b, 0), 60000);
  assert.deepEqual(schema.labelDomain, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  assert.equal(schema.dtype, "uint8");
  assert.ok(Math.abs(schema.classDistribution.reduce((a, b) => a + b, 0) - 1) < 1e-9);
});

Deno.test("clean data has no anomalies: MNIST test (10k) and small test batches", () => {
  assert.deepEqual(validate(mnist.test, schema), []);
  for (const [n, off] of [[64, 0], [500, 1000], [2000, 5000]]) {
    assert.deepEqual(validate(batch(n, off), schema), [], `batch of ${n} at ${off}`);
  }
});

Deno.test("every planted anomaly is found", () => {
  const n = 500;
  const blank = batch(n);
  for (const i of [3, 50, 77]) blank.images.fill(0, i * 784, (i + 1) * 784);
  const a1 = validate(blank, schema);
  assert.deepEqual(kinds(a1), ["blank_images"]);
  assert.equal(a1[0].count, 3);
  assert.deepEqual(a1[0].examples, [3, 50, 77]);

  const saturated = batch(n);
  for (const i of [10, 11]) saturated.images.fill(255, i * 784, (i + 1) * 784);
  const a2 = validate(saturated, schema);
  assert.deepEqual(kinds(a2), ["saturated_images"]);
  assert.deepEqual(a2[0].examples, [10, 11]);

  const dup = batch(n);
  for (const [from, to] of [[0, 100], [1, 200], [2, 300]]) {
    dup.images.copyWithin(to * 784, from * 784, (from + 1) * 784);
  }
  const a3 = validate(dup, schema);
  assert.deepEqual(kinds(a3), ["duplicates"]);
  assert.deepEqual(a3[0].examples, [100, 200, 300]);

  const labels = batch(n);
  labels.labels[5] = 10;
  labels.labels[6] = 255;
  const a4 = validate(labels, schema);
  assert.deepEqual(kinds(a4), ["label_domain"]);
  assert.equal(a4[0].severity, "error");
  assert.equal(a4[0].count, 2);

  const shape: DatasetLike = {
    count: 20,
    images: new Uint8Array(20 * 32 * 32).fill(40),
    labels: new Uint8Array(20).fill(3),
  };
  const a5 = validate(shape, schema);
  assert.ok(kinds(a5).includes("shape"), kinds(a5).join());
  assert.match(a5.find((a) => a.kind === "shape")!.description, /\[32,32,1\]/);

  const skew = batch(n);
  for (let i = 0; i < 250; i++) {
    const src = mnist.test.labels.indexOf(1, i * 3 + 10);
    skew.images.set(mnist.test.images.subarray(src * 784, (src + 1) * 784), i * 784);
    skew.labels[i] = 1;
  }
  const a6 = validate(skew, schema);
  assert.ok(kinds(a6).includes("class_distribution"), kinds(a6).join());
  assert.match(a6.find((a) => a.kind === "class_distribution")!.description, /1: /);

  const floats: DatasetLike = {
    count: 10,
    images: Float32Array.from(batch(10).images, (v) => (v / 255) * 2), // wrong scale: 0..2
    labels: batch(10).labels,
  };
  assert.deepEqual(
    kinds(validate(floats, schema)).filter((k) => k === "dtype" || k === "value_range"),
    [
      "dtype",
      "value_range",
    ],
  );
});

Deno.test("Fashion-MNIST drifts from the MNIST schema; identical histograms have JS divergence 0", async () => {
  const fashion = await loadFashionMnist();
  const a = validate(fashion.test, schema);
  const k = kinds(a);
  for (const expected of ["brightness_distribution", "pixel_mean"]) {
    assert.ok(k.includes(expected), `${expected} in ${k.join(", ")}`);
  }
  assert.ok(a.every((x) => x.description.length > 10));
  assert.equal(jsDivergence([0.5, 0.5], [0.5, 0.5]), 0);
  assert.ok(Math.abs(jsDivergence([1, 0], [0, 1]) - 1) < 1e-12);
});
