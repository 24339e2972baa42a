/**
 * Threads: the one place that knows how the WASM backend was started.
 *
 * tfjs-backend-wasm 4.22 ships a threaded SIMD build (XNNPACK on a pthread
 * pool over a shared `WebAssembly.Memory`) but never starts it where it sees
 * Node, and Deno looks like Node (tfjs issue 3830). {@linkcode startWasm}
 * starts it from outside the package, patching nothing under `node_modules/`:
 *
 * - the multithreading flag is set, and the thread count asked for;
 * - while the backend starts, `globalThis.Worker` is a `node:worker_threads`
 *   Worker that runs `_pthread_worker.cjs` (Emscripten's worker code with the
 *   CommonJS globals and the writable `location` it expects) and loads the
 *   package's unbundled `wasm-out/tfjs-backend-wasm-threaded-simd.js` (which
 *   matches the shipped `.wasm`) instead of the `Blob` that Deno refuses;
 * - the pthread workers are `unref`'d and never `ref`'d again, so a script
 *   that finishes exits by itself; of Emscripten's pool of 8, only the
 *   threads − 1 that XNNPACK takes start a thread (each is a V8 isolate with
 *   its own copy of the code), the spares only say they loaded;
 * - every global it touched (`Worker`, `process` listeners) is restored, also
 *   when the start fails.
 *
 * The threaded start is then checked (a matrix product and a convolution
 * against a float64 reference); when it fails to start or to pass, the backend
 * is started again single-threaded and the reason kept. Kernels ask
 * {@linkcode wasmRuntime} (threads, shared memory) and
 * {@linkcode wasmHeapMemory} (the memory they run on) instead of guessing.
 *
 * The threaded build is the default on two cores or more ({@linkcode defaultWasmThreads},
 * chosen by measurement; `TFJS_WASM_THREADS=1` or `initBackend({ wasmThreads: 1 })` asks
 * for the single-threaded one). Its shared heap lets lib/kernels split its loops (GEMM,
 * convolutions, pooling, ReLU, bias add, Adam) with a helper thread; XNNPACK's own pool keeps one thread
 * ({@linkcode DEFAULT_XNNPACK_THREADS}; `TFJS_XNNPACK_THREADS=2` gives it two).
 * `TFJS_KERNEL_THREADS=1` keeps the threaded build but runs lib/kernels' own loops on one
 * thread (no helper). Workers (the replicas of `fitDataset`) start it
 * single-threaded too: threads in every replica would oversubscribe the cores.
 *
 * @example
 * ```ts
 * import { initBackend } from "../backend.ts";
 * import { wasmRuntime } from "./wasm_threads.ts";
 * await initBackend({ prefer: "wasm" });
 * console.log(wasmRuntime()); // { build: "threaded-simd", threads: 2, ... } or the fallback's reason
 * ```
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { setThreadsCount } from "@tensorflow/tfjs-backend-wasm";
import { createRequire } from "node:module";
import { Worker as NodeWorker } from "node:worker_threads";
import process from "node:process";
import os from "node:os";
import { wasmHeapMemory } from "./_wasm.ts";
import { kernelThreads, startKernelHelper } from "./_parallel.ts";

export { wasmHeapMemory };

/** How the WASM backend runs. */
export interface WasmRuntime {
  /** Which of the package's builds runs. */
  build: "threaded-simd" | "simd" | "plain";
  /** Threads inside each op: lib/kernels' and XNNPACK's, the larger (1 without the threaded build). */
  threads: number;
  /** Threads of XNNPACK's pool, which runs the tfjs kernels lib/kernels does not replace. */
  xnnpackThreads: number;
  /** Whether the heap is a `SharedArrayBuffer` (the threaded build). */
  sharedMemory: boolean;
  /** Why the threaded build is not running; empty when it is. */
  fallback: string;
  /** lib/kernels' helper thread: "running", or why not (see `_parallel.ts`). */
  kernelHelper: string;
  /** Milliseconds `tf.setBackend("wasm")` took, the check included. */
  startMs: number;
}

let runtime: WasmRuntime | undefined;

/** One kernel of lib/kernels that runs as a SIMD loop on the backend's heap. */
export interface WasmKernelPath {
  kernel: string;
  /** "simd", or "javascript" when the heap's memory was not found (slower; see the warning). */
  path: "simd" | "javascript";
  threads: number;
}

/** lib/kernels' SIMD loops (the cases they take; everything else runs tfjs's own kernels). */
const SIMD_KERNELS = [
  "BatchMatMul, _FusedMatMul (GEMM, float32)",
  "Conv2D, Conv2DBackpropFilter (GEMM, 4+ input channels)",
  "Conv2DBackpropInput (GEMM and scatter, input channels a multiple of 4)",
  "AdamUpdate",
  "Add (per-channel bias)",
  "MaxPool, MaxPoolGrad (2x2/2, channels of 4)",
  "Relu, ReluGrad (float32)",
  "Conv2D (one input channel)",
  "Conv2DBackpropFilter (up to 16 input channels)",
  "Conv2DBackpropInput (valid: scatter)",
];

/**
 * Where lib/kernels' SIMD loops run on the active WASM backend, and on how many
 * threads; the last row is tfjs's XNNPACK kernels (the matMul and convolution cases our
 * GEMM leaves to them).
 */
export function wasmKernelPaths(backend: unknown): WasmKernelPath[] {
  const simd = wasmHeapMemory(backend) ? "simd" : "javascript";
  return [
    ...SIMD_KERNELS.map((kernel) => ({
      kernel,
      path: simd,
      threads: kernelThreads(),
    } as WasmKernelPath)),
    {
      kernel: "XNNPACK (tfjs's other matMul and convolution cases)",
      path: "simd",
      threads: runtime?.xnnpackThreads ?? 1,
    },
  ];
}

/** How the WASM backend was started, or undefined before {@linkcode startWasm} ran. */
export function wasmRuntime(): WasmRuntime | undefined {
  return runtime;
}

const require = createRequire(import.meta.url);
const packageDir = require.resolve("@tensorflow/tfjs-backend-wasm/package.json")
  .slice(0, -"package.json".length);
const WORKER_DATA = {
  factory: packageDir + "wasm-out/tfjs-backend-wasm-threaded-simd.js",
  contents: packageDir + "wasm-out/tfjs-backend-wasm-threaded-simd.worker.js",
};
const WORKER_SCRIPT = new URL("./_pthread_worker.cjs", import.meta.url);

/** Set when a pthread worker fails while the threaded build starts. */
let rejectStart: ((e: Error) => void) | undefined;

// deno-lint-ignore no-explicit-any
type Listener = (...args: any[]) => void;

/** The pthread workers made during the current start, in the order Emscripten made them. */
const made: PthreadWorker[] = [];
/** How many of them become real threads (the pool keeps 8; XNNPACK takes threads − 1). */
let realThreads = 0;

/**
 * Emscripten's pthread worker. Emscripten makes a pool of 8 and loads the
 * module into each, but XNNPACK takes only threads − 1 of them, the last ones
 * made (`unusedWorkers.pop()`): those become `node:worker_threads` Workers that
 * Deno runs; the others answer "loaded" without a thread (a spare asked to run
 * a thread throws, which fails the start instead of hanging it).
 */
class PthreadWorker {
  #listeners: [string | symbol, Listener][] = [];
  #real: NodeWorker | undefined;
  #spare = false;
  constructor(_url: string) {
    made.push(this);
  }
  on(event: string | symbol, listener: Listener): this {
    // Emscripten rethrows a worker's error, which would end the process: fail the start instead.
    const wrapped = event !== "error" ? listener : (e: Error) => {
      if (rejectStart) rejectStart(new Error(`a pthread worker failed: ${e?.message ?? e}`));
      else console.error(`tfjs-backend-wasm: a pthread worker failed: ${e?.message ?? e}`);
    };
    this.#listeners.push([event, wrapped]);
    this.#real?.on(event, wrapped);
    return this;
  }
  // deno-lint-ignore no-explicit-any
  postMessage(message: unknown, transfer?: readonly any[]): void {
    const m = message as { cmd?: string };
    if (m?.cmd === "load" && !this.#real) {
      if (made.indexOf(this) < made.length - realThreads) {
        this.#spare = true;
        setTimeout(() => this.#emit("message", { cmd: "loaded" }), 0);
        return;
      }
      this.#real = new NodeWorker(WORKER_SCRIPT, { workerData: WORKER_DATA });
      this.#real.unref();
      for (const [event, listener] of this.#listeners) this.#real.on(event, listener);
      // The factory as a file the worker can read (tfjs sends a Blob, which Deno cannot load).
      message = { ...m, urlOrBlob: WORKER_DATA.factory };
    }
    if (this.#spare) {
      throw new Error("a spare pthread worker was asked to run a thread (pool order changed?)");
    }
    this.#real!.postMessage(message, transfer as never);
  }
  #emit(event: string, data: unknown): void {
    for (const [e, listener] of this.#listeners) if (e === event) listener(data);
  }
  terminate(): Promise<number> | undefined {
    return this.#real?.terminate();
  }
  /** Running pthreads must not keep the process alive: a finished script exits. */
  ref(): void {}
  unref(): void {
    this.#real?.unref();
  }
}

interface EmscriptenModule {
  PThread?: { unusedWorkers: { terminate(): unknown }[] };
}

/** Run `start` with the globals the threaded build needs, and restore them all afterwards. */
async function withThreadedGlobals<T>(
  threads: number,
  timeoutMs: number,
  start: () => Promise<T>,
): Promise<T> {
  const workerDescriptor = Object.getOwnPropertyDescriptor(globalThis, "Worker");
  // Emscripten adds process listeners that rethrow every uncaught error: remove them after.
  const events = ["uncaughtException", "unhandledRejection"];
  const proc = process as unknown as {
    listeners(e: string): unknown[];
    removeListener(e: string, l: unknown): void;
  };
  const listeners = events.map((e) => proc.listeners(e));
  Object.defineProperty(globalThis, "Worker", {
    configurable: true,
    get: () => PthreadWorker,
    set: () => {}, // Emscripten assigns worker_threads' Worker here: keep ours
  });
  tf.env().set("WASM_HAS_MULTITHREAD_SUPPORT", true);
  setThreadsCount(threads);
  made.length = 0;
  realThreads = threads - 1;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const failed = new Promise<never>((_, reject) => {
    rejectStart = reject;
    timer = setTimeout(() => reject(new Error(`it took longer than ${timeoutMs} ms`)), timeoutMs);
  });
  // backend.cc caps the pool at emscripten_num_logical_cores() / 2, which Emscripten reads
  // from os.cpus() where it sees Node: show it twice the threads asked for while it starts.
  const cpus = os.cpus;
  const cpusDescriptor = Object.getOwnPropertyDescriptor(os, "cpus");
  os.cpus = () => {
    const list = cpus();
    while (list.length < 2 * threads) list.push(list[0]);
    return list;
  };
  try {
    return await Promise.race([start(), failed]);
  } finally {
    rejectStart = undefined;
    clearTimeout(timer);
    if (cpusDescriptor) Object.defineProperty(os, "cpus", cpusDescriptor);
    if (workerDescriptor) Object.defineProperty(globalThis, "Worker", workerDescriptor);
    else delete (globalThis as { Worker?: unknown }).Worker;
    events.forEach((e, i) => {
      for (const l of proc.listeners(e)) {
        if (!listeners[i].includes(l)) proc.removeListener(e, l);
      }
    });
  }
}

/** Run `f` with tfjs's warnings collected instead of printed (it logs why a backend failed). */
async function quietly<T>(f: () => Promise<T>): Promise<{ value: T; warning: string }> {
  const prod = tf.env().getBool("PROD");
  const warn = console.warn;
  const warnings: string[] = [];
  tf.env().set("PROD", false);
  console.warn = (...args: unknown[]) => warnings.push(args.join(" "));
  try {
    return { value: await f(), warning: warnings.slice(1).join(" ").split("\n")[0] };
  } finally {
    console.warn = warn;
    tf.env().set("PROD", prod);
  }
}

/** A product and a convolution on the active backend against float64 loops. */
function checkThreaded(): string {
  const rand = (n: number, seed: number) =>
    Float32Array.from({ length: n }, (_, i) => Math.sin(i * 12.9898 + seed) * 0.5);
  const [m, k, n] = [96, 160, 72];
  const a = rand(m * k, 1), b = rand(k * n, 2);
  const got = tf.tidy(() => tf.matMul(tf.tensor2d(a, [m, k]), tf.tensor2d(b, [k, n])).dataSync());
  let worst = 0;
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let p = 0; p < k; p++) s += a[i * k + p] * b[p * n + j];
      worst = Math.max(worst, Math.abs(got[i * n + j] - s));
    }
  }
  if (!(worst < 1e-3)) return `its matMul is off by ${worst}`;
  const [h, c, o] = [20, 8, 16];
  const x = rand(4 * h * h * c, 3), w = rand(3 * 3 * c * o, 4);
  const conv = tf.tidy(() =>
    tf.conv2d(tf.tensor4d(x, [4, h, h, c]), tf.tensor4d(w, [3, 3, c, o]), 1, "valid").dataSync()
  );
  const oh = h - 2;
  worst = 0;
  for (let q = 0; q < 4 * oh * oh * o; q++) {
    const ch = q % o, col = Math.floor(q / o) % oh, row = Math.floor(q / o / oh) % oh;
    const img = Math.floor(q / o / oh / oh);
    let s = 0;
    for (let i = 0; i < 3; i++) {
      for (let j = 0; j < 3; j++) {
        for (let ci = 0; ci < c; ci++) {
          s += x[((img * h + row + i) * h + col + j) * c + ci] * w[((i * 3 + j) * c + ci) * o + ch];
        }
      }
    }
    worst = Math.max(worst, Math.abs(conv[q] - s));
  }
  return worst < 1e-3 ? "" : `its conv2d is off by ${worst}`;
}

/**
 * Threads inside each op unless `TFJS_WASM_THREADS` or `wasmThreads` says otherwise: two
 * where there are two cores or more (this thread and lib/kernels' helper), else one.
 * Measured on two cores (README, "Figures measured"): training steps 1.41x (MLP), 1.55x
 * (small CNN) and 1.72x (Keras CNN) faster, and the chapters no slower (notebook 05 in quick
 * mode 22.4–22.8 s against 23.7–24.6 s, 00 12.1–12.9 s against 12.3–12.5 s).
 * `deno task report` running notebooks side by side starts each kernel on one thread.
 */
export function defaultWasmThreads(): number {
  return (navigator.hardwareConcurrency ?? 1) >= 2 ? 2 : 1;
}

/**
 * XNNPACK's threads in the threaded build unless `TFJS_XNNPACK_THREADS` says otherwise: one.
 * The large products and convolutions run in lib/kernels (GEMM, split with its own helper
 * thread); what is left to XNNPACK is small element-wise and pooling work, where its pool's
 * second thread spin-waits after every op and takes the core the helper needs.
 */
export const DEFAULT_XNNPACK_THREADS = 1;

/** Why this process should not start the threaded build, or "" to try it. */
function threadedRefusal(threads: number): string {
  if (threads <= 1) {
    return "one thread (asked for, or one core here)";
  }
  if (tf.engine().registry["wasm"]) {
    return "WASM was already started (tf.setBackend before initBackend)";
  }
  if ("WorkerGlobalScope" in globalThis) {
    return "inside a Worker (a replica): threads in every replica would oversubscribe the cores";
  }
  if (typeof SharedArrayBuffer === "undefined") return "no SharedArrayBuffer here";
  return "";
}

/**
 * `tf.setBackend("wasm")`, threaded when this process allows it (see the
 * module doc), single-threaded otherwise or when the threaded start fails;
 * then {@linkcode wasmRuntime} says which. Resolves to "" when WASM runs, or to
 * the reason it does not. Later calls switch to the running backend.
 */
export async function startWasm(threads?: number, timeoutMs = 10_000): Promise<string> {
  if (runtime) return await tf.setBackend("wasm") ? "" : `tf.setBackend("wasm") returned false`;
  const t0 = performance.now();
  const fromEnv = Number(Deno.env.get("TFJS_WASM_THREADS") ?? NaN);
  const wanted = threads ??
    (Number.isInteger(fromEnv) && fromEnv > 0 ? fromEnv : defaultWasmThreads());
  let fallback = threadedRefusal(wanted);
  let helperNote = "";
  const xnnFromEnv = Number(Deno.env.get("TFJS_XNNPACK_THREADS") ?? NaN);
  const xnnpack = Number.isInteger(xnnFromEnv) && xnnFromEnv > 0
    ? Math.min(xnnFromEnv, wanted)
    : DEFAULT_XNNPACK_THREADS;
  if (!fallback) {
    const factory = tf.engine().registryFactory["wasm"];
    try {
      const ok = await quietly(() =>
        withThreadedGlobals(xnnpack, timeoutMs, () => tf.setBackend("wasm"))
      );
      if (!ok.value) {
        fallback = `the threaded build did not start (${ok.warning || "no reason given"})`;
      } else {
        const wasm = (tf.backend() as unknown as { wasm: EmscriptenModule }).wasm;
        // The pool pre-spawns 8 workers; XNNPACK took threads − 1 of them.
        for (const w of wasm.PThread?.unusedWorkers.splice(0) ?? []) w.terminate();
        fallback = checkThreaded();
        const memory = wasmHeapMemory(tf.backend());
        if (!fallback && !memory) fallback = "its memory could not be found";
        // lib/kernels' own loops: a helper thread on the same memory (_parallel.ts).
        if (!fallback && memory) {
          helperNote = Deno.env.get("TFJS_KERNEL_THREADS") === "1"
            ? "off (TFJS_KERNEL_THREADS=1)"
            : await startKernelHelper(memory);
        }
      }
    } catch (e) {
      fallback = `the threaded build failed to start: ${(e as Error).message ?? e}`;
    }
    if (fallback) {
      // Start over single-threaded: a fresh registration of the same factory.
      tf.env().set("WASM_HAS_MULTITHREAD_SUPPORT", false);
      setThreadsCount(1);
      if (tf.engine().registry["wasm"]) tf.removeBackend("wasm");
      if (!tf.engine().registryFactory["wasm"]) {
        tf.registerBackend("wasm", factory.factory, factory.priority);
      }
    }
  } else {
    tf.env().set("WASM_HAS_MULTITHREAD_SUPPORT", false);
  }
  if (fallback) {
    const ok = await tf.setBackend("wasm");
    if (!ok) return `tf.setBackend("wasm") returned false`;
  }
  const simd = await tf.env().getAsync("WASM_HAS_SIMD_SUPPORT") as boolean;
  const threaded = !fallback;
  const count = threaded
    ? (tf.backend() as unknown as { wasm: { tfjs: { getThreadsCount(): number } } }).wasm.tfjs
      .getThreadsCount()
    : 1;
  runtime = {
    build: threaded ? "threaded-simd" : simd ? "simd" : "plain",
    threads: Math.max(count, kernelThreads()),
    xnnpackThreads: count,
    sharedMemory: wasmHeapMemory(tf.backend())?.buffer instanceof SharedArrayBuffer,
    fallback,
    kernelHelper: threaded ? helperNote || "running" : "none (single-threaded build)",
    startMs: Math.round(performance.now() - t0),
  };
  return "";
}
