/** TF-Transform-style normalisation: analyse on train, apply the same constants at serving. */
import assert from "node:assert/strict";
import {
  analyzeNormalization,
  normalizationTransform,
  perRequestNormalization,
  TransformError,
} from "../lib/ecosystem/transform.ts";

const pixels = Uint8Array.from({ length: 3 * 784 }, (_, i) => (i * 37) % 256);

Deno.test("tft.scale_to_z_score: the analysed mean and std are the population moments on [0, 1]", () => {
  const s = analyzeNormalization(pixels);
  const xs = Array.from(pixels, (v) => v / 255);
  const mean = xs.reduce((a, b) => a + b) / xs.length;
  const std = Math.sqrt(xs.reduce((a, b) => a + (b - mean) ** 2, 0) / xs.length);
  assert.ok(Math.abs(s.mean - mean) < 1e-9 && Math.abs(s.std - std) < 1e-9);
  assert.equal(s.count, pixels.length);
  const z = normalizationTransform(s)(pixels);
  const zMean = z.reduce((a, b) => a + b) / z.length;
  const zVar = z.reduce((a, b) => a + (b - zMean) ** 2, 0) / z.length;
  assert.ok(Math.abs(zMean) < 1e-5 && Math.abs(zVar - 1) < 1e-4, `${zMean} ${zVar}`);
});

Deno.test("tf.Transform: one example transformed at serving equals its row of the training batch", () => {
  const s = analyzeNormalization(pixels);
  const batch = normalizationTransform(s)(pixels);
  const one = normalizationTransform(s)(pixels.subarray(784, 2 * 784));
  assert.deepEqual(Array.from(one), Array.from(batch.subarray(784, 2 * 784)));
  // The skew it prevents: normalising the request by its own statistics gives other inputs.
  const skewed = perRequestNormalization(pixels.subarray(784, 2 * 784));
  assert.ok(skewed.some((v, i) => Math.abs(v - one[i]) > 1e-3));
});

Deno.test("tf.Transform: bytes and [0, 1] floats give the same statistics", () => {
  const a = analyzeNormalization(pixels);
  const b = analyzeNormalization(Float32Array.from(pixels, (v) => v / 255));
  assert.ok(Math.abs(a.mean - b.mean) < 1e-6 && Math.abs(a.std - b.std) < 1e-6);
});

Deno.test("tf.Transform: empty, constant or non-finite data is a TransformError", () => {
  assert.throws(() => analyzeNormalization(new Uint8Array(0)), TransformError);
  assert.throws(() => analyzeNormalization(new Uint8Array(10).fill(7)), /standard deviation 0/);
  assert.throws(() => analyzeNormalization(Float32Array.of(0, NaN)), /pixel 1/);
  assert.throws(() => normalizationTransform({ mean: 0, std: 0, count: 1 }), TransformError);
});
