import assert from "node:assert/strict";
import {
  accuracyFromMatrix,
  classificationReport,
  confidentMistakes,
  confusionMatrix,
  MetricsError,
} from "../lib/training/metrics.ts";

Deno.test("confusionMatrix: rows are true classes, columns predictions", () => {
  const m = confusionMatrix([0, 0, 1, 2, 2, 2], [0, 1, 1, 2, 0, 2], 3);
  assert.deepEqual(m, [[1, 1, 0], [0, 1, 0], [1, 0, 2]]);
  assert.equal(accuracyFromMatrix(m), 4 / 6);
  assert.deepEqual(confusionMatrix([], [], 2), [[0, 0], [0, 0]]);
  assert.ok(Number.isNaN(accuracyFromMatrix([[0]])));
});

Deno.test("confusionMatrix: mismatched lengths and out-of-range classes are errors", () => {
  assert.throws(() => confusionMatrix([0, 1], [0], 2), MetricsError);
  assert.throws(() => confusionMatrix([0, 3], [0, 1], 3), /example 1 has label 3/);
  assert.throws(() => confusionMatrix([0], [0.5], 2), /whole numbers/);
  assert.throws(() => confusionMatrix([0], [0], 0), /numClasses/);
});

Deno.test("classificationReport: precision, recall, F1 and averages by hand", () => {
  // class 0: tp 1, predicted 2, support 2 -> p .5 r .5 f1 .5
  // class 1: tp 1, predicted 2, support 1 -> p .5 r 1 f1 .667
  // class 2: tp 2, predicted 2, support 3 -> p 1 r .667 f1 .8
  const m = [[1, 1, 0], [0, 1, 0], [1, 0, 2]];
  const r = classificationReport(m, ["zero", "one", "two"]);
  assert.deepEqual(r[0], { class: "zero", precision: 0.5, recall: 0.5, f1: 0.5, support: 2 });
  assert.deepEqual(r[1], { class: "one", precision: 0.5, recall: 1, f1: 0.667, support: 1 });
  assert.deepEqual(r[2], { class: "two", precision: 1, recall: 0.667, f1: 0.8, support: 3 });
  assert.equal(r[3].class, "macro avg");
  assert.equal(r[3].precision, Math.round(((0.5 + 0.5 + 1) / 3) * 1000) / 1000);
  assert.equal(r[3].support, 6);
  assert.equal(r[4].class, "weighted avg");
  assert.equal(r[4].recall, Math.round(((0.5 * 2 + 1 * 1 + (2 / 3) * 3) / 6) * 1000) / 1000);
  // A class never predicted has precision 0, not NaN.
  const never = classificationReport([[2, 0], [1, 0]]);
  assert.equal(never[1].precision, 0);
  assert.equal(never[1].f1, 0);
  assert.throws(() => classificationReport([[1, 0]]), /square/);
  assert.throws(() => classificationReport([[1]], ["a", "b"]), /2 class names for 1 classes/);
});

Deno.test("confidentMistakes: wrong predictions only, most confident first", () => {
  const labels = [0, 1, 2, 3, 4];
  const preds = [0, 2, 2, 1, 0];
  const conf = [0.99, 0.6, 0.9, 0.95, 0.6];
  const ms = confidentMistakes(labels, preds, conf, 10);
  assert.deepEqual(ms.map((m) => m.index), [3, 1, 4]);
  assert.deepEqual(ms[0], { index: 3, label: 3, predicted: 1, confidence: 0.95 });
  assert.equal(confidentMistakes(labels, preds, conf, 1).length, 1);
  assert.throws(() => confidentMistakes([0], [0, 1], [1], 1), MetricsError);
});
