/**
 * tfjs's threaded WASM build in Deno (lib/kernels/wasm_threads.ts). Each case
 * runs in its own `deno run` process, since the build is chosen once per
 * process: the threaded and single-threaded builds must compute the same
 * numbers, a script must exit by itself, and a failed threaded start must fall
 * back to the single-threaded build and say why.
 */
import { strict as assert } from "node:assert";
import { backendMemory } from "../lib/kernels/_wasm.ts";
import { wasmKernelPaths } from "../lib/kernels/wasm_threads.ts";

const probe = new URL("./_threads_probe.ts", import.meta.url).pathname;
const CORES = navigator.hardwareConcurrency;

interface ProbeOutput {
  wasm: {
    threads: number;
    runtime: {
      build: string;
      threads: number;
      xnnpackThreads: number;
      sharedMemory: boolean;
      fallback: string;
      kernelHelper: string;
    };
    kernels: { kernel: string; path: string; threads: number }[];
  };
  reason: string;
  results: Record<string, number[]>;
}

/** Run a script with `deno run -A`; kill it after `timeoutMs` (a hang is a failure). */
async function runScript(
  args: string[],
  env: Record<string, string>,
  timeoutMs = 120_000,
): Promise<{ code: number; stderr: string; timedOut: boolean }> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", ...args],
    env,
    stdout: "null",
    stderr: "piped",
  }).spawn();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    child.kill("SIGKILL");
  }, timeoutMs);
  const out = await child.output();
  clearTimeout(timer);
  return { code: out.code, stderr: new TextDecoder().decode(out.stderr), timedOut };
}

async function runProbe(env: Record<string, string>): Promise<ProbeOutput> {
  const dir = await Deno.makeTempDir({ prefix: "threads_test_" });
  try {
    const r = await runScript([probe, `${dir}/out.json`], env);
    assert.equal(r.timedOut, false, `the probe did not exit by itself within 120 s\n${r.stderr}`);
    assert.equal(r.code, 0, r.stderr);
    return JSON.parse(await Deno.readTextFile(`${dir}/out.json`));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test({
  name: "WASM threads: the threaded build computes every registered kernel (forward, gradients) " +
    "and three training steps of each benchmark model exactly as the single-threaded build",
  ignore: CORES < 2,
  async fn() {
    const [single, threaded, xnn2] = await Promise.all([
      runProbe({ TFJS_WASM_THREADS: "1" }),
      runProbe({ TFJS_WASM_THREADS: "2" }),
      runProbe({ TFJS_WASM_THREADS: "2", TFJS_XNNPACK_THREADS: "2" }),
    ]);
    assert.equal(single.wasm.runtime.build, "simd");
    assert.equal(single.wasm.threads, 1);
    assert.equal(threaded.wasm.runtime.build, "threaded-simd", threaded.wasm.runtime.fallback);
    assert.equal(threaded.wasm.threads, 2);
    assert.equal(threaded.wasm.runtime.sharedMemory, true);
    // The SIMD loops found the shared memory (none fell back to JavaScript) and run on two
    // threads: lib/kernels' helper thread shares the heap.
    assert.equal(threaded.wasm.runtime.kernelHelper, "running");
    for (const k of threaded.wasm.kernels) {
      assert.equal(k.path, "simd", k.kernel);
      // XNNPACK's pool keeps one thread unless TFJS_XNNPACK_THREADS asks for more.
      assert.equal(k.threads, k.kernel.startsWith("XNNPACK") ? 1 : 2, k.kernel);
    }
    assert.equal(threaded.wasm.runtime.xnnpackThreads, 1);
    assert.equal(xnn2.wasm.runtime.xnnpackThreads, 2);
    for (const k of single.wasm.kernels) assert.equal(k.threads, 1, k.kernel);
    const names = Object.keys(single.results);
    assert.deepEqual(Object.keys(threaded.results), names);
    for (const m of ["mlp", "small_cnn", "keras_cnn"]) {
      assert.ok(names.some((n) => n.startsWith(`${m} `)), `${m} trained`);
    }
    for (
      const [label, other] of [["threaded", threaded], ["XNNPACK on 2 threads", xnn2]] as const
    ) {
      for (const name of names) {
        const a = single.results[name], b = other.results[name];
        assert.equal(b.length, a.length, name);
        const bad = a.findIndex((v, i) => !Object.is(v, b[i]));
        assert.equal(bad, -1, `${name}[${bad}]: single-threaded ${a[bad]}, ${label} ${b[bad]}`);
      }
    }
  },
});

Deno.test({
  name: "WASM threads: a script that initialises the threaded backend exits by itself",
  ignore: CORES < 2,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "threads_exit_" });
    try {
      const script = `${dir}/script.ts`;
      const backend = new URL("../lib/backend.ts", import.meta.url).href;
      await Deno.writeTextFile(
        script,
        `import * as tf from "@tensorflow/tfjs";
import { initBackend } from "${backend}";
const r = await initBackend({ prefer: "wasm", wasmThreads: 2 });
if (r.wasm.runtime?.build !== "threaded-simd") throw new Error("not threaded: " + r.reason);
tf.matMul(tf.ones([256, 256]), tf.ones([256, 256])).dataSync();
`,
      );
      const config = new URL("../deno.json", import.meta.url).pathname;
      const r = await runScript(["--config", config, script], {}, 60_000);
      assert.equal(r.timedOut, false, "the script kept running after its last line");
      assert.equal(r.code, 0, r.stderr);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "WASM threads: when the threaded start fails, initBackend runs the single-threaded " +
    "build and says why",
  ignore: CORES < 2,
  async fn() {
    const out = await runProbe({ TFJS_WASM_THREADS: "2", THREADS_PROBE_BREAK: "shared-memory" });
    assert.equal(out.wasm.runtime.build, "simd");
    assert.equal(out.wasm.threads, 1);
    assert.match(out.wasm.runtime.fallback, /threaded build/);
    assert.match(out.reason, /single-threaded: /);
    // Everything still computes, on the single-threaded build's own memory.
    for (const k of out.wasm.kernels) assert.equal(k.path, "simd", k.kernel);
    assert.ok(Object.keys(out.results).length > 30);
  },
});

Deno.test("WASM threads: when the heap's memory cannot be found, the fallback to JavaScript loops is loud", () => {
  const warn = console.warn;
  const warned: string[] = [];
  console.warn = (...a: unknown[]) => warned.push(a.join(" "));
  try {
    const backend = { wasm: { asm: {} } }; // a WASM backend without a memory we can reach
    assert.equal(backendMemory(backend), undefined);
    assert.equal(backendMemory(backend), undefined);
  } finally {
    console.warn = warn;
  }
  assert.equal(warned.length, 1, "said once");
  assert.match(warned[0], /memory was not found.*JavaScript/);
  const paths = wasmKernelPaths({ wasm: { asm: {} } });
  assert.ok(paths.length >= 6);
  for (const k of paths.filter((k) => !k.kernel.startsWith("XNNPACK"))) {
    assert.equal(k.path, "javascript", k.kernel);
  }
});
