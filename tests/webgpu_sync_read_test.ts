/**
 * WebGPU in Deno: synchronous reads (`dataSync`, `arraySync`, TensorFlow's
 * `Tensor.numpy()` in eager mode) cannot work, because tfjs reads WebGPU data
 * synchronously through a 2D OffscreenCanvas and Deno has none. Seen on Mesa's
 * llvmpipe here and on an NVIDIA H200. These tests check that the failure is
 * typed and that `initBackend()` does not pick WebGPU on its own there.
 */
import assert from "node:assert/strict";
import { initBackend } from "../lib/backend.ts";
import { webGpuSyncReadSupported } from "../lib/kernels/webgpu_guard.ts";

const gpu = (navigator as unknown as { gpu?: { requestAdapter(): Promise<unknown> } }).gpu;
// Asked in a child process too: no WebGPU adapter or device is made in the test process.
const hasAdapter = gpu !== undefined && (await new Deno.Command(Deno.execPath(), {
      args: ["eval", "Deno.exit((await navigator.gpu.requestAdapter()) ? 0 : 1)"],
      stdout: "null",
      stderr: "null",
    }).output()).code === 0;

// The read runs in a child process: a second WebGPU device in the test process made Deno
// abort at exit now and then ("corrupted size vs. prev_size", SIGABRT after every test passed),
// in Mesa's llvmpipe teardown. The child prints one JSON line of what it saw.
const CHILD = `
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "${new URL("../lib/backend.ts", import.meta.url).href}";
import { WebGpuSyncReadError } from "${
  new URL("../lib/kernels/webgpu_guard.ts", import.meta.url).href
}";
const r = await initBackend({ prefer: "webgpu" });
const before = tf.memory().numTensors;
// 2000 values: above tfjs's CPU hand-off threshold (1000), so it lives on the GPU.
const x = tf.tidy(() => tf.range(0, 2000).mul(2));
const s = tf.tidy(() => x.sum());
const errors = [];
for (const read of [() => x.dataSync(), () => s.arraySync()]) {
  try { read(); errors.push(null); }
  catch (e) { errors.push({ typed: e instanceof WebGpuSyncReadError, message: String(e.message) }); }
}
const last = (await x.data())[1999];
const sum = (await s.data())[0];
tf.dispose([x, s]);
console.log("RESULT " + JSON.stringify({ backend: r.backend, errors, last, sum, leaked: tf.memory().numTensors - before }));
`;

Deno.test({
  name: "webgpu: dataSync()/arraySync() of a GPU tensor throws WebGpuSyncReadError naming " +
    "await data() (TF eager reads a tensor's value on demand; here only the async read works)",
  ignore: !hasAdapter || webGpuSyncReadSupported(),
  fn: async () => {
    const dir = await Deno.makeTempDir({ prefix: "webgpu_read_" });
    try {
      await Deno.writeTextFile(`${dir}/child.ts`, CHILD);
      const config = new URL("../deno.json", import.meta.url).pathname;
      const out = await new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", "--config", config, `${dir}/child.ts`],
        stdout: "piped",
        stderr: "piped",
      }).output();
      const line = new TextDecoder().decode(out.stdout).split("\n").find((l) =>
        l.startsWith("RESULT ")
      );
      assert.ok(line, `no result from the child: ${new TextDecoder().decode(out.stderr)}`);
      const r = JSON.parse(line.slice("RESULT ".length));
      assert.equal(r.backend, "webgpu");
      assert.equal(r.errors.length, 2);
      for (const e of r.errors) {
        assert.ok(e?.typed, `a sync read gave ${JSON.stringify(e)}, not WebGpuSyncReadError`);
        assert.match(e.message, /await tensor\.data\(\)/);
        assert.match(e.message, /TFJS_BACKEND=wasm/);
      }
      // The asynchronous read of the same tensors still works after the failures.
      assert.equal(r.last, 3998);
      assert.equal(r.sum, 2 * (1999 * 2000) / 2);
      assert.equal(r.leaked, 0);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
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
