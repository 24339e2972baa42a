/**
 * WebGPU in Deno: synchronous reads (`dataSync`, `arraySync`, TensorFlow's
 * `Tensor.numpy()` in eager mode) cannot work, because tfjs reads WebGPU data
 * synchronously through a 2D OffscreenCanvas and Deno has none. Seen on Mesa's
 * llvmpipe here and on an NVIDIA H200. These tests check that the failure is
 * typed and that `initBackend()` does not pick WebGPU on its own there.
 */
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../lib/backend.ts";
import { WebGpuSyncReadError, webGpuSyncReadSupported } from "../lib/kernels/webgpu_guard.ts";

const gpu = (navigator as unknown as { gpu?: { requestAdapter(): Promise<unknown> } }).gpu;
const hasAdapter = gpu ? (await gpu.requestAdapter()) !== null : false;

Deno.test({
  name: "webgpu: dataSync()/arraySync() of a GPU tensor throws WebGpuSyncReadError naming " +
    "await data() (TF eager reads a tensor's value on demand; here only the async read works)",
  ignore: !hasAdapter || webGpuSyncReadSupported(),
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const r = await initBackend({ prefer: "webgpu" });
    assert.equal(r.backend, "webgpu");
    const before = tf.memory().numTensors;
    // 2000 values: above tfjs's CPU hand-off threshold (1000), so it lives on the GPU.
    const x = tf.tidy(() => tf.range(0, 2000).mul(2));
    const s = tf.tidy(() => x.sum());
    for (
      const [what, read] of [
        ["dataSync", () => x.dataSync()],
        ["arraySync", () => s.arraySync()],
      ] as const
    ) {
      assert.throws(read, (e: unknown) => {
        assert.ok(e instanceof WebGpuSyncReadError, `${what}: ${e}`);
        assert.match((e as Error).message, /await tensor\.data\(\)/);
        assert.match((e as Error).message, /TFJS_BACKEND=wasm/);
        return true;
      });
    }
    // The asynchronous read of the same tensors still works after the failures.
    const v = await x.data();
    assert.equal(v[1999], 3998);
    assert.equal((await s.data())[0], 2 * (1999 * 2000) / 2);
    tf.dispose([x, s]);
    assert.equal(tf.memory().numTensors, before);
  },
});

Deno.test({
  name: "initBackend: a hardware WebGPU adapter is not chosen by default where synchronous " +
    "reads fail; the report says why and how to ask for it",
  ignore: !gpu || webGpuSyncReadSupported(),
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const g = gpu as { requestAdapter(): Promise<unknown> };
    const real = g.requestAdapter;
    // A stand-in hardware adapter: the probe only reads its info.
    g.requestAdapter = () =>
      Promise.resolve({ info: { description: "Stand-in GPU", isFallbackAdapter: false } });
    const saved = Deno.env.get("TFJS_BACKEND");
    Deno.env.delete("TFJS_BACKEND");
    try {
      const r = await initBackend();
      assert.notEqual(r.backend, "webgpu");
      assert.equal(r.webgpu.adapter, "Stand-in GPU");
      assert.equal(r.webgpu.isFallback, false);
      const webgpu = r.attempts.find((a) => a.name === "webgpu")!;
      assert.equal(webgpu.ok, false);
      assert.match(webgpu.reason, /synchronously/);
      assert.match(webgpu.reason, /TFJS_BACKEND=webgpu/);
    } finally {
      g.requestAdapter = real;
      if (saved !== undefined) Deno.env.set("TFJS_BACKEND", saved);
    }
  },
});
