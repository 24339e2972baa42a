/** TFMA-style sliced metrics: accuracy per class and per brightness band. */
import assert from "node:assert/strict";
import {
  bandNames,
  brightnessBands,
  sliceAccuracy,
  SliceError,
} from "../lib/training/sliced_evaluation.ts";

Deno.test("tfma slicing by a feature: one accuracy per slice value, counts summing to the whole", () => {
  const predictions = [0, 1, 1, 2, 2, 2, 0];
  const labels = [0, 1, 2, 2, 2, 0, 0];
  const rows = sliceAccuracy(predictions, labels, (i) => String(labels[i]), "label");
  assert.deepEqual(rows, [
    { feature: "label", slice: "0", count: 3, accuracy: 2 / 3 },
    { feature: "label", slice: "1", count: 1, accuracy: 1 },
    { feature: "label", slice: "2", count: 3, accuracy: 2 / 3 },
  ]);
  assert.equal(rows.reduce((a, r) => a + r.count, 0), labels.length);
  const overall = predictions.filter((p, i) => p === labels[i]).length / labels.length;
  const weighted = rows.reduce((a, r) => a + r.accuracy * r.count, 0) / labels.length;
  assert.ok(Math.abs(overall - weighted) < 1e-12);
});

Deno.test("brightness bands: images fall in the band of their mean pixel, edges inclusive below", () => {
  const img = (v: number) => new Uint8Array(784).fill(v);
  const images = new Uint8Array([...img(10), ...img(51), ...img(200)]);
  // means: 10/255 = 0.039, 51/255 = 0.2 exactly, 200/255 = 0.78
  assert.deepEqual(brightnessBands(images, [0.1, 0.2]), ["< 0.10", "≥ 0.20", "≥ 0.20"]);
  assert.deepEqual(brightnessBands(images, [0.1, 0.5]), ["< 0.10", "0.10–0.50", "≥ 0.50"]);
});

Deno.test("sliced evaluation: mismatched inputs are SliceErrors naming the problem", () => {
  assert.throws(() => sliceAccuracy([1, 2], [1], () => "a", "x"), SliceError);
  assert.throws(() => brightnessBands(new Uint8Array(10), [0.5]), /whole number/);
  assert.throws(() => brightnessBands(new Uint8Array(784), [0.5, 0.2]), /ascending/);
});

Deno.test("sliced evaluation: slices come in the order given (band order), unknown names last", () => {
  const labels = [0, 0, 0, 0];
  const names = ["≥ 0.20", "< 0.10", "0.10–0.20", "other"];
  const rows = sliceAccuracy(
    [0, 1, 0, 0],
    labels,
    (i) => names[i],
    "brightness",
    bandNames([0.1, 0.2]),
  );
  assert.deepEqual(rows.map((r) => r.slice), ["< 0.10", "0.10–0.20", "≥ 0.20", "other"]);
  assert.deepEqual(rows.map((r) => r.accuracy), [0, 1, 1, 1]);
});
