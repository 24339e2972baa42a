import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { BACKEND_ORDER, BackendError, type BackendName, initBackend } from "../lib/backend.ts";

/** A small computation that exercises matMul, conv2d, softmax and a reduction. */
async function parityProbe(): Promise<Float32Array> {
  const out = tf.tidy(() => {
    const a = tf.tensor2d(Array.from({ length: 48 }, (_, i) => Math.sin(i)), [6, 8]);
    const b = tf.tensor2d(Array.from({ length: 40 }, (_, i) => Math.cos(i)), [8, 5]);
    const img = tf.tensor4d(Array.from({ length: 2 * 7 * 7 * 3 }, (_, i) => (i % 11) / 11), [
      2,
      7,
      7,
      3,
    ]);
    const filt = tf.tensor4d(Array.from({ length: 3 * 3 * 3 * 4 }, (_, i) => ((i % 5) - 2) / 5), [
      3,
      3,
      3,
      4,
    ]);
    const mm = tf.softmax(tf.matMul(a, b));
    const conv = tf.conv2d(img, filt, 2, "same").sum([1, 2]);
    return tf.concat([mm.flatten(), conv.flatten()]);
  });
  // data(), not dataSync(): WebGPU cannot read synchronously.
  const values = await out.data() as Float32Array;
  out.dispose();
  return values;
}

// First test: the banner is printed on the CPU backend's first use only.
Deno.test("the tfjs-node banner is not printed", async () => {
  const warned: string[] = [];
  const original = console.warn;
  const originalLog = console.log;
  console.warn = (...args: unknown[]) => warned.push(args.join(" "));
  console.log = (...args: unknown[]) => warned.push(args.join(" "));
  try {
    await initBackend({ prefer: "cpu" });
    tf.tidy(() => tf.add(tf.ones([4]), tf.ones([4])).dataSync());
  } finally {
    console.warn = original;
    console.log = originalLog;
    await initBackend();
  }
  assert.deepEqual(warned.filter((w) => /tfjs-node/.test(w)), []);
});

Deno.test("initBackend picks WASM over a software WebGPU adapter by default", async () => {
  const report = await initBackend();
  assert.equal(tf.getBackend(), report.backend);
  assert.ok(report.attempts.length >= 1);
  assert.equal(report.attempts.at(-1)!.ok, true);
  if (report.webgpu.isFallback) {
    // This machine has only Mesa's llvmpipe: it must be skipped, with the reason said.
    assert.notEqual(report.backend, "webgpu");
    assert.match(report.attempts[0].reason, /software adapter/);
  }
  if (report.backend === "wasm") assert.equal(typeof report.wasm.simd, "boolean");
});

Deno.test("every backend this machine has computes the same numbers", async (t) => {
  const results: Partial<Record<BackendName, Float32Array>> = {};
  for (const name of BACKEND_ORDER) {
    const report = await initBackend({ prefer: name });
    if (report.backend !== name) {
      await t.step({
        name: `${name} (not available: ${report.attempts[0].reason})`,
        ignore: true,
        fn() {},
      });
      continue;
    }
    await t.step(name, async () => {
      const before = tf.memory().numTensors;
      results[name] = await parityProbe();
      assert.equal(tf.memory().numTensors, before, "the probe leaked tensors");
    });
  }
  const cpu = results.cpu!;
  assert.ok(cpu, "the CPU backend must always be available");
  for (const [name, values] of Object.entries(results)) {
    for (let i = 0; i < cpu.length; i++) {
      assert.ok(
        Math.abs(values[i] - cpu[i]) <= 1e-4 * Math.max(1, Math.abs(cpu[i])),
        `${name}[${i}] = ${values[i]} but cpu gives ${cpu[i]}`,
      );
    }
  }
});

Deno.test("initBackend rejects a backend name that does not exist", async () => {
  await assert.rejects(
    () => initBackend({ prefer: "tpu" as BackendName }),
    (e: unknown) => e instanceof BackendError && /"tpu".*webgpu, wasm, cpu/.test(e.message),
  );
});

Deno.test("TFJS_BACKEND overrides the default order", async () => {
  const saved = Deno.env.get("TFJS_BACKEND");
  try {
    Deno.env.set("TFJS_BACKEND", "cpu");
    const report = await initBackend();
    assert.equal(report.backend, "cpu");
    assert.match(report.reason, /TFJS_BACKEND/);
    Deno.env.set("TFJS_BACKEND", "gpu");
    await assert.rejects(() => initBackend(), BackendError);
  } finally {
    if (saved === undefined) Deno.env.delete("TFJS_BACKEND");
    else Deno.env.set("TFJS_BACKEND", saved);
    await initBackend();
  }
});
