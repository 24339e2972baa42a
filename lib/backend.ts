/**
 * Backend selection: WebGPU on a hardware adapter, then WASM (SIMD), then CPU.
 *
 * TensorFlow.js runs the same ops on several backends. {@linkcode initBackend}
 * probes each one, picks the fastest that works here and returns a report of
 * what it chose and why, so a notebook can show it.
 *
 * A software WebGPU adapter (Mesa's llvmpipe, which is what a machine without a
 * GPU offers) is slower than WASM by an order of magnitude, so it is skipped
 * unless asked for by name.
 * WebGPU is also skipped, unless asked for, where tfjs cannot read its tensors
 * synchronously: in Deno (no 2D `OffscreenCanvas`) `dataSync()` on a WebGPU
 * tensor throws, and TF1 sessions and other code here use it.
 *
 * On two cores or more, WASM starts tfjs's threaded SIMD build (threads inside
 * each op) when it starts and passes a check, else single-threaded with the
 * reason in the report; `TFJS_WASM_THREADS=1` asks for one thread
 * (`kernels/wasm_threads.ts`).
 *
 * Importing this module also registers TensorFlow's gradients where tfjs's
 * differ (`_tf_gradients.ts`), so that every backend it starts differentiates alike.
 *
 * @example Pick the best backend and show why
 * ```ts
 * import { initBackend } from "./backend.ts";
 * const report = await initBackend();
 * console.log(report.backend, report.reason);
 * ```
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { setWasmPaths } from "@tensorflow/tfjs-backend-wasm";
import "@tensorflow/tfjs-backend-webgpu";
import { createRequire } from "node:module";
import "./_tf_gradients.ts";
import { installKernels } from "./kernels/mod.ts";
import { webGpuSyncReadSupported } from "./kernels/webgpu_guard.ts";
import {
  startWasm,
  type WasmKernelPath,
  wasmKernelPaths,
  type WasmRuntime,
  wasmRuntime,
} from "./kernels/wasm_threads.ts";

/** The backends this project knows, fastest first. */
export type BackendName = "webgpu" | "wasm" | "cpu";

/** The backends in the order {@linkcode initBackend} tries them. */
export const BACKEND_ORDER: readonly BackendName[] = ["webgpu", "wasm", "cpu"];

/** One backend that {@linkcode initBackend} tried. */
export interface BackendAttempt {
  name: BackendName;
  ok: boolean;
  /** Why it was skipped or failed; empty when it was chosen. */
  reason: string;
  /** Milliseconds spent probing and initialising it. */
  ms: number;
}

/** What {@linkcode initBackend} chose, and what it found on the way. */
export interface BackendReport {
  backend: BackendName;
  /** One sentence: why this backend. */
  reason: string;
  webgpu: {
    /** The adapter's description (e.g. "llvmpipe (LLVM 15.0.6, 256 bits)"), or null when none. */
    adapter: string | null;
    /** True for a software (fallback) adapter. Null when there is no adapter. */
    isFallback: boolean | null;
  };
  wasm: {
    /** Whether the WASM backend runs its SIMD build. Null when WASM was not initialised. */
    simd: boolean | null;
    /** Threads inside each WASM op: 2 or more with tfjs's threaded build, else 1. */
    threads: number;
    /** How the WASM backend was started (wasm_threads.ts); null when WASM was not initialised. */
    runtime: WasmRuntime | null;
    /** Where lib/kernels' SIMD loops run (SIMD or JavaScript) and on how many threads. */
    kernels: WasmKernelPath[];
  };
  attempts: BackendAttempt[];
}

/** Options for {@linkcode initBackend}. */
export interface InitBackendOptions {
  /**
   * Try this backend first (a software WebGPU adapter is accepted when named
   * here). Falls back in the usual order when it fails. Defaults to the
   * `TFJS_BACKEND` environment variable, if set.
   */
  prefer?: BackendName;
  /** Give up on a backend whose probe takes longer than this. Default 10 s. */
  timeoutMs?: number;
  /**
   * Threads inside each WASM op, used when WASM first starts in this process (later calls
   * report what runs). Default: the `TFJS_WASM_THREADS` environment variable, else 2 on
   * two cores or more (measured faster; `kernels/wasm_threads.ts`), else 1. 2 or more
   * starts tfjs's threaded build, 1 its single-threaded one.
   */
  wasmThreads?: number;
}

/** Thrown when `prefer` or `TFJS_BACKEND` names a backend that does not exist. */
export class BackendError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "BackendError";
  }
}

let wasmPathsSet = false;

function wasmDistDir(): string {
  const require = createRequire(import.meta.url);
  const pkg = require.resolve("@tensorflow/tfjs-backend-wasm/package.json");
  return pkg.slice(0, -"package.json".length) + "dist/";
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let id: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    id = setTimeout(() => reject(new Error(`${what} took longer than ${ms} ms`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(id));
}

interface GpuAdapterLike {
  info?: { description?: string; vendor?: string; isFallbackAdapter?: boolean };
  isFallbackAdapter?: boolean;
}

async function probeWebGpu(
  timeoutMs: number,
): Promise<{ adapter: string | null; isFallback: boolean | null; error?: string }> {
  const gpu = (globalThis.navigator as { gpu?: { requestAdapter(): Promise<unknown> } })?.gpu;
  if (!gpu) return { adapter: null, isFallback: null, error: "navigator.gpu is missing" };
  try {
    const adapter = await withTimeout(gpu.requestAdapter(), timeoutMs, "requestAdapter()") as
      | GpuAdapterLike
      | null;
    if (!adapter) return { adapter: null, isFallback: null, error: "no WebGPU adapter found" };
    const description = adapter.info?.description || adapter.info?.vendor || "unknown adapter";
    const isFallback = Boolean(adapter.info?.isFallbackAdapter ?? adapter.isFallbackAdapter);
    return { adapter: description, isFallback };
  } catch (e) {
    return { adapter: null, isFallback: null, error: (e as Error).message };
  }
}

async function trySet(name: BackendName, timeoutMs: number, wasmThreads?: number): Promise<string> {
  if (name === "wasm" && !wasmPathsSet) {
    setWasmPaths(wasmDistDir());
    wasmPathsSet = true;
  }
  try {
    if (name === "wasm") {
      // Threaded when it starts and passes its check, else single-threaded (wasm_threads.ts).
      // The threaded start has its own bound (then the single-threaded build starts).
      const why = await withTimeout(
        startWasm(wasmThreads, timeoutMs),
        2 * timeoutMs + 1000,
        `starting WASM`,
      );
      if (why) return why;
    } else {
      const ok = await withTimeout(tf.setBackend(name), timeoutMs, `tf.setBackend("${name}")`);
      if (!ok) return `tf.setBackend("${name}") returned false`;
    }
    await tf.ready();
    // A tiny op proves the backend really computes.
    const probe = tf.tidy(() => tf.add(tf.tensor1d([1, 2]), 1).dataSync());
    if (probe[0] !== 2 || probe[1] !== 3) return `a test op gave [${probe}] instead of [2,3]`;
    return "";
  } catch (e) {
    return (e as Error).message;
  }
}

/**
 * Initialise TensorFlow.js on the best backend available and report the choice.
 *
 * Never throws for a missing backend (it falls back and says why in
 * `attempts`), never hangs (each probe has a timeout), and keeps the tfjs
 * "install tfjs-node" banner quiet. Throws {@linkcode BackendError} only for a
 * `prefer` (or `TFJS_BACKEND`) that names no backend at all.
 */
export async function initBackend(options: InitBackendOptions = {}): Promise<BackendReport> {
  const timeoutMs = options.timeoutMs ?? 10_000;
  const fromEnv = Deno.env.get("TFJS_BACKEND")?.trim().toLowerCase() || undefined;
  const prefer = options.prefer ?? fromEnv;
  if (prefer !== undefined && !BACKEND_ORDER.includes(prefer as BackendName)) {
    const source = options.prefer ? "initBackend({ prefer })" : "TFJS_BACKEND";
    throw new BackendError(
      `${source} is "${prefer}", which is not a backend: use one of ${BACKEND_ORDER.join(", ")}`,
    );
  }
  // The CPU backend prints an "install tfjs-node" banner when it sees Node's
  // `process`; tfjs keeps warnings quiet in production mode.
  tf.env().set("PROD", true);

  const order: BackendName[] = prefer
    ? [prefer as BackendName, ...BACKEND_ORDER.filter((b) => b !== prefer)]
    : [...BACKEND_ORDER];
  const attempts: BackendAttempt[] = [];
  let gpuInfo: { adapter: string | null; isFallback: boolean | null } = {
    adapter: null,
    isFallback: null,
  };
  let chosen: BackendName | undefined;
  let reason = "";

  for (const name of order) {
    const t0 = performance.now();
    let why = "";
    if (name === "webgpu") {
      const probe = await probeWebGpu(timeoutMs);
      gpuInfo = { adapter: probe.adapter, isFallback: probe.isFallback };
      if (probe.error) why = probe.error;
      else if (probe.isFallback && prefer !== "webgpu") {
        why = `software adapter (${probe.adapter}) is slower than WASM; ` +
          `ask for it with prefer: "webgpu" or TFJS_BACKEND=webgpu`;
      } else if (prefer !== "webgpu" && !webGpuSyncReadSupported()) {
        why = `adapter ${probe.adapter} found, but tfjs cannot read WebGPU tensors synchronously ` +
          `here (dataSync/arraySync need a 2D OffscreenCanvas, which Deno lacks); ` +
          `ask for it with prefer: "webgpu" or TFJS_BACKEND=webgpu`;
      }
    }
    if (!why) why = await trySet(name, timeoutMs, options.wasmThreads);
    attempts.push({ name, ok: !why, reason: why, ms: Math.round(performance.now() - t0) });
    if (!why) {
      chosen = name;
      reason = name === prefer
        ? `${name} was asked for${options.prefer ? "" : " (TFJS_BACKEND)"}`
        : attempts.length === 1
        ? `${name} is the fastest backend available`
        : `${name} is the fastest backend that works here (${
          attempts.filter((a) => !a.ok).map((a) => `${a.name}: ${a.reason}`).join("; ")
        })`;
      const fallback = name === "wasm" ? wasmRuntime()?.fallback : "";
      if (fallback) reason += `; single-threaded: ${fallback}`;
      break;
    }
  }
  if (!chosen) {
    // The CPU backend is plain JavaScript and always registers; reaching this
    // line means tfjs itself is broken.
    throw new BackendError(
      `no backend could be initialised: ${
        attempts.map((a) => `${a.name}: ${a.reason}`).join("; ")
      }`,
    );
  }
  installKernels(chosen);
  const wasmReady = attempts.some((a) => a.name === "wasm" && a.ok);
  return {
    backend: chosen,
    reason,
    webgpu: gpuInfo,
    wasm: {
      simd: wasmReady ? tf.env().getBool("WASM_HAS_SIMD_SUPPORT") : null,
      threads: wasmReady ? wasmRuntime()?.threads ?? 1 : 1,
      runtime: wasmReady ? wasmRuntime() ?? null : null,
      kernels: wasmReady ? wasmKernelPaths(tf.findBackend("wasm")) : [],
    },
    attempts,
  };
}
