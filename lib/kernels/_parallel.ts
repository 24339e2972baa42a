/**
 * lib/kernels' SIMD loops on two cores: a helper thread on the WASM heap.
 *
 * With tfjs's threaded build the heap is a shared `WebAssembly.Memory`, so a
 * second thread can run the same assembled loops on it in place. The kernels
 * describe their work as two {@linkcode Rows} parts (calls of one exported
 * function whose arguments step with the batch index `n` and the row `y`);
 * {@linkcode runParts} runs the first on this thread and the second on the
 * helper at the same time, or both here, in order, when there is no helper
 * (single-threaded build, or `TFJS_WASM_THREADS=1`). A kernel splits its work
 * the same way whether or not a helper runs, so results do not depend on the
 * thread count. The helper is a `node:worker_threads` Worker (`unref`'d, so it
 * never keeps a script alive) that sleeps in `Atomics.wait` between jobs.
 *
 * @example
 * ```ts
 * import { kernelThreads } from "./_parallel.ts";
 * console.log(kernelThreads()); // 2 once the threaded WASM build runs, else 1
 * ```
 *
 * @module
 */
import { Worker } from "node:worker_threads";
import { sharedBytes } from "./_wasm.ts";

/** Calls `fn(...base + n·stepN + y·stepY)` for n in [0, n), y in [0, y). */
export interface Rows {
  base: number[];
  stepN: number[];
  stepY: number[];
  n: number;
  y: number;
}

/**
 * Work (output elements) from which a kernel splits: below it, handing half to
 * the helper (tens of microseconds to wake it) costs more than it saves.
 */
export const SPLIT_MIN = 1 << 16;

/** Where a batch of `n` images, `work` output elements, splits: ⌈n/2⌉, or n (no split). */
export function splitAt(n: number, work: number): number {
  return work >= SPLIT_MIN ? Math.ceil(n / 2) : n;
}

const MAX_ARGS = 32;
const STAGING = 1 << 20;
// ctrl: job seq, done seq, module id, function index, n, y, argc, bytes to load, error
const [SEQ, DONE, MOD, FN, N, Y, ARGC, LOAD, ERROR, READY] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9];

interface Helper {
  memory: WebAssembly.Memory;
  ctrl: Int32Array;
  args: Float64Array;
  staging: Uint8Array;
  modules: Map<Uint8Array, number>;
  seq: number;
}

let helper: Helper | undefined;
let helperFailed = "";
let paused = false;

/**
 * Pause (or resume) the helper: the loops then run on this thread, split the
 * same way (same numbers). For measuring one against the other in one process.
 */
export function pauseKernelHelper(pause: boolean): void {
  paused = pause;
}

/** Threads lib/kernels' split loops run on: 2 with a helper on the shared heap, else 1. */
export function kernelThreads(): number {
  return helper && !helperFailed ? 2 : 1;
}

/**
 * Start the helper thread on `memory` (a shared memory) and wait until it runs;
 * "" when it does, else why not (the loops then run on this thread).
 */
export async function startKernelHelper(memory: WebAssembly.Memory): Promise<string> {
  if (helper?.memory === memory) return "";
  if (!(memory.buffer instanceof SharedArrayBuffer)) return "the heap is not shared";
  try {
    const ctrl = new Int32Array(new SharedArrayBuffer(16 * 4));
    const args = new Float64Array(new SharedArrayBuffer(3 * MAX_ARGS * 8));
    const staging = new Uint8Array(new SharedArrayBuffer(STAGING));
    const worker = new Worker(new URL("./_kernel_worker.ts", import.meta.url), {
      workerData: { memory, ctrl: ctrl.buffer, args: args.buffer, staging: staging.buffer },
    });
    worker.unref();
    worker.on("error", (e: Error) => {
      helperFailed = `the kernel helper thread failed: ${e.message}`;
      console.warn(`lib/kernels: ${helperFailed}; the SIMD loops run on one thread`);
    });
    // It starts while this thread's event loop runs: wait for its signal here, not in a kernel.
    const t0 = performance.now();
    while (!Atomics.load(ctrl, READY) && !helperFailed) {
      if (performance.now() - t0 > 10_000) {
        worker.terminate();
        return "the kernel helper thread did not start within 10 s";
      }
      await new Promise((r) => setTimeout(r, 2));
    }
    if (helperFailed) return helperFailed;
    helper = { memory, ctrl, args, staging, modules: new Map(), seq: 0 };
    return "";
  } catch (e) {
    return `no kernel helper thread: ${(e as Error).message}`;
  }
}

function startHelper(memory: WebAssembly.Memory): Helper | undefined {
  return helper?.memory === memory && !helperFailed && !paused ? helper : undefined;
}

/** One call of `fn(...args)`, as {@linkcode Rows}. */
export function once(args: number[]): Rows {
  return { base: args, stepN: args.map(() => 0), stepY: args.map(() => 0), n: 1, y: 1 };
}

function each(fn: (...a: number[]) => void, rows: Rows): void {
  const args = rows.base.slice();
  for (let n = 0; n < rows.n; n++) {
    for (let y = 0; y < rows.y; y++) {
      for (let k = 0; k < args.length; k++) {
        args[k] = rows.base[k] + n * rows.stepN[k] + y * rows.stepY[k];
      }
      fn(...args);
    }
  }
}

/** Wait until the helper has finished job `seq` (it sets DONE); throws if it failed. */
function waitFor(h: Helper, seq: number): void {
  const t0 = performance.now();
  while (Atomics.load(h.ctrl, DONE) !== seq) {
    Atomics.wait(h.ctrl, DONE, Atomics.load(h.ctrl, DONE), 50);
    if (helperFailed || performance.now() - t0 > 60_000) {
      helperFailed ||= "the kernel helper thread stopped answering";
      throw new Error(`lib/kernels: ${helperFailed}`);
    }
  }
  if (h.ctrl[ERROR]) {
    helperFailed = "a loop failed on the kernel helper thread";
    throw new Error(`lib/kernels: ${helperFailed}`);
  }
}

/**
 * Run `parts[0]` here and `parts[1]` on the helper thread, or both here in
 * order. `exports` is `bytes` instantiated on `memory` (see `instantiate`).
 */
export function runParts(
  bytes: Uint8Array,
  memory: WebAssembly.Memory,
  exports: WebAssembly.Exports,
  name: string,
  parts: [Rows, Rows],
): void {
  const fn = exports[name] as (...a: number[]) => void;
  const h = startHelper(memory);
  if (!h || parts[1].n * parts[1].y === 0) {
    for (const p of parts) each(fn, p);
    return;
  }
  const [, job] = parts;
  if (job.base.length > MAX_ARGS) throw new Error(`runParts: more than ${MAX_ARGS} arguments`);
  let id = h.modules.get(bytes);
  const load = id === undefined;
  if (load) {
    const code = sharedBytes(bytes);
    if (code.length > STAGING) throw new Error(`runParts: a module over ${STAGING} bytes`);
    h.staging.set(code);
    id = h.modules.size;
    h.modules.set(bytes, id);
    h.ctrl[LOAD] = code.length;
  } else h.ctrl[LOAD] = 0;
  h.ctrl[MOD] = id!;
  h.ctrl[FN] = Object.keys(exports).indexOf(name);
  [h.ctrl[N], h.ctrl[Y], h.ctrl[ARGC]] = [job.n, job.y, job.base.length];
  h.args.set(job.base, 0);
  h.args.set(job.stepN, MAX_ARGS);
  h.args.set(job.stepY, 2 * MAX_ARGS);
  const seq = ++h.seq;
  Atomics.store(h.ctrl, SEQ, seq);
  Atomics.notify(h.ctrl, SEQ);
  try {
    each(fn, parts[0]);
  } finally {
    waitFor(h, seq);
  }
}
