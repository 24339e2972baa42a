/**
 * lib/kernels' SIMD loops on two cores: a helper thread on the WASM heap.
 *
 * With tfjs's threaded build the heap is a shared `WebAssembly.Memory`, so a
 * second thread can run the same assembled loops on it in place. A kernel
 * describes its work as a list of independent {@linkcode Rows} parts (calls of
 * one exported function whose arguments step with the batch index `n` and the
 * row `y`); {@linkcode runParts} lets this thread and the helper take parts
 * from the list until none is left, or runs them all here, in order, when there
 * is no helper (single-threaded build, or `TFJS_WASM_THREADS=1`). A part
 * computes the same numbers whichever thread runs it, so results do not depend
 * on the thread count; and a helper that starts late (its core busy with
 * something else) takes fewer parts instead of holding this thread up.
 *
 * The helper is a `node:worker_threads` Worker (`unref`'d, so it never keeps a
 * script alive). After a job it spins for the next one a little while (see
 * {@linkcode setKernelHelperSpin}), then sleeps in `Atomics.wait`.
 *
 * @example
 * ```ts
 * import { kernelThreads } from "./_parallel.ts";
 * console.log(kernelThreads()); // 2 once the threaded WASM build runs, else 1
 * ```
 *
 * @module
 */
import { MessageChannel, type MessagePort, Worker } from "node:worker_threads";
import { moduleOf } from "./_wasm.ts";

/** Calls `fn(...base + n·stepN + y·stepY)` for n in [0, n), y in [0, y). */
export interface Rows {
  base: number[];
  stepN: number[];
  stepY: number[];
  n: number;
  y: number;
}

/**
 * Work (output elements) from which a kernel splits: below it, sharing it with
 * the helper costs more than it saves.
 */
export const SPLIT_MIN = 1 << 16;

/** One call of `fn(...args)` as {@linkcode Rows}, or none when `run` is false (an empty part). */
export function once(args: number[], run = true): Rows {
  return { base: args, stepN: args.map(() => 0), stepY: args.map(() => 0), n: 1, y: run ? 1 : 0 };
}

/**
 * `units` of work in `count` nearly equal parts (fewer when there are fewer units):
 * `part(u0, u1)` describes units [u0, u1).
 */
export function chunks(
  units: number,
  count: number,
  part: (u0: number, u1: number) => Rows,
): Rows[] {
  const n = Math.max(1, Math.min(count, units));
  return Array.from(
    { length: n },
    (_, i) => part(Math.floor(units * i / n), Math.floor(units * (i + 1) / n)),
  );
}

/**
 * An element-wise loop over `floats` float32 values (a multiple of 4) at each of
 * `ptrs` (byte offsets) in `count` parts: calls `fn(...ptrs + offset, bytes, ...extra)`.
 */
export function floatParts(
  ptrs: number[],
  floats: number,
  count: number,
  extra: number[] = [],
): Rows[] {
  return chunks(
    floats / 4,
    count,
    (g0, g1) => once([...ptrs.map((p) => p + g0 * 16), (g1 - g0) * 16, ...extra]),
  );
}

/** The shared control block and job layout (the helper, `_kernel_worker.ts`, reads the same). */
export const LAYOUT = {
  MAX_ARGS: 16,
  MAX_PARTS: 64,
  // ctrl (Int32Array) slots: job sequence, module id, function index, argument count,
  // part count, claim word (job tag | next part), parts finished, error, ready, spin (µs).
  SEQ: 0,
  MOD: 1,
  FN: 2,
  ARGC: 3,
  PARTS: 4,
  CLAIM: 5,
  FINISHED: 6,
  ERROR: 7,
  READY: 8,
  SPIN: 9,
  /** A claim word: the job's tag in the high bits, the next unclaimed part in the low 20. */
  claim: (seq: number, next: number): number => ((seq & 0x7ff) << 20) | next,
  /** Float64 slots per part: base, stepN, stepY (MAX_ARGS each), n, y. */
  partSize: (maxArgs: number): number => 3 * maxArgs + 2,
} as const;
const { MAX_ARGS, MAX_PARTS, SEQ, MOD, FN, ARGC, PARTS, CLAIM, FINISHED, ERROR, READY, SPIN } =
  LAYOUT;
const PART = LAYOUT.partSize(MAX_ARGS);
const CLOSED = 0xfffff;

interface Helper {
  memory: WebAssembly.Memory;
  ctrl: Int32Array;
  jobs: Float64Array;
  port: MessagePort;
  modules: Map<Uint8Array, number>;
  seq: number;
}

let helper: Helper | undefined;
let helperFailed = "";
let paused = false;
let spinMicros = 5000;

/**
 * How long the helper thread spins for its next job before it sleeps, in µs
 * (default 5000; like OpenMP's `KMP_BLOCKTIME`, 200 ms there). A sleeping thread
 * takes tens to hundreds of microseconds to wake, and some gaps between a training
 * step's jobs are longer than 1 ms: the small CNN's one-epoch training loop
 * (`tools/_bench_train.ts`, seven processes each) averaged 19.5k samples/s with 5 ms
 * against 18.1k with 1 ms. Returns the previous value.
 */
export function setKernelHelperSpin(micros: number): number {
  const was = spinMicros;
  spinMicros = Math.max(0, Math.round(micros));
  if (helper) Atomics.store(helper.ctrl, SPIN, spinMicros);
  return was;
}

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
    ctrl[SPIN] = spinMicros;
    const jobs = new Float64Array(new SharedArrayBuffer(MAX_PARTS * PART * 8));
    // Compiled modules go to the helper through this port (it reads them synchronously).
    const { port1: port, port2 } = new MessageChannel();
    const worker = new Worker(new URL("./_kernel_worker.ts", import.meta.url), {
      workerData: { memory, ctrl: ctrl.buffer, jobs: jobs.buffer, port: port2 },
      transferList: [port2],
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
    port.unref();
    helper = { memory, ctrl, jobs, port, modules: new Map(), seq: 0 };
    return "";
  } catch (e) {
    return `no kernel helper thread: ${(e as Error).message}`;
  }
}

/**
 * Calls `fn(...base + n·stepN + y·stepY)` for n in [0, count), y in [0, rows): one part
 * of a job, on either thread. The arguments go in as sixteen explicit ones (a WASM
 * function takes those it declares and ignores the rest): a spread call took about
 * 21 ns against 8 (.scratch/spread.ts), and a training step makes thousands.
 */
export function runRows(
  fn: (...a: number[]) => void,
  base: ArrayLike<number>,
  stepN: ArrayLike<number>,
  stepY: ArrayLike<number>,
  count: number,
  rows: number,
): void {
  const argc = base.length;
  const a = new Array<number>(LAYOUT.MAX_ARGS).fill(0);
  for (let n = 0; n < count; n++) {
    for (let k = 0; k < argc; k++) a[k] = base[k] + n * stepN[k];
    for (let y = 0; y < rows; y++) {
      fn(
        a[0],
        a[1],
        a[2],
        a[3],
        a[4],
        a[5],
        a[6],
        a[7],
        a[8],
        a[9],
        a[10],
        a[11],
        a[12],
        a[13],
        a[14],
        a[15],
      );
      for (let k = 0; k < argc; k++) a[k] += stepY[k];
    }
  }
}

function each(fn: (...a: number[]) => void, rows: Rows): void {
  runRows(fn, rows.base, rows.stepN, rows.stepY, rows.n, rows.y);
}

/**
 * Run `parts` (independent calls of `exports[name]`, where `exports` is `bytes`
 * instantiated on `memory`; see `instantiate`): here and on the helper thread,
 * each thread taking the next part until none is left; or all here, in order.
 */
export function runParts(
  bytes: Uint8Array,
  memory: WebAssembly.Memory,
  exports: WebAssembly.Exports,
  name: string,
  parts: Rows[],
): void {
  const fn = exports[name] as (...a: number[]) => void;
  const work = parts.filter((p) => p.n * p.y > 0);
  const h = helper?.memory === memory && !helperFailed && !paused ? helper : undefined;
  if (!h || work.length < 2) {
    for (const p of work) each(fn, p);
    return;
  }
  if (work.length > MAX_PARTS) throw new Error(`runParts: more than ${MAX_PARTS} parts`);
  const argc = work[0].base.length;
  if (argc > MAX_ARGS) throw new Error(`runParts: more than ${MAX_ARGS} arguments`);
  let id = h.modules.get(bytes);
  if (id === undefined) {
    // The module compiled (and optimised) here, not its bytes: see moduleOf.
    h.modules.set(bytes, id = h.modules.size);
    h.port.postMessage({ id, module: moduleOf(exports) });
  }
  work.forEach((p, i) => {
    const at = i * PART;
    h.jobs.set(p.base, at);
    h.jobs.set(p.stepN, at + MAX_ARGS);
    h.jobs.set(p.stepY, at + 2 * MAX_ARGS);
    [h.jobs[at + 3 * MAX_ARGS], h.jobs[at + 3 * MAX_ARGS + 1]] = [p.n, p.y];
  });
  const c = h.ctrl, seq = ++h.seq;
  [c[MOD], c[FN], c[ARGC], c[PARTS], c[ERROR]] = [
    id,
    Object.keys(exports).indexOf(name),
    argc,
    work.length,
    0,
  ];
  Atomics.store(c, FINISHED, 0);
  Atomics.store(c, CLAIM, LAYOUT.claim(seq, 0));
  Atomics.store(c, SEQ, seq);
  Atomics.notify(c, SEQ);
  let failed: unknown;
  try {
    while (true) {
      const cur = Atomics.load(c, CLAIM), i = cur & CLOSED;
      if (i >= work.length) break;
      if (Atomics.compareExchange(c, CLAIM, cur, cur + 1) !== cur) continue;
      try {
        each(fn, work[i]);
      } finally {
        Atomics.add(c, FINISHED, 1);
      }
    }
  } catch (e) {
    failed = e;
  }
  closeJob(c, seq, work.length);
  if (failed) throw failed;
  if (c[ERROR]) {
    helperFailed = "a loop failed on the kernel helper thread";
    throw new Error(`lib/kernels: ${helperFailed}`);
  }
}

/** Close job `seq` (the helper can claim no more of its parts), then wait for those it took. */
function closeJob(c: Int32Array, seq: number, parts: number): void {
  const claimed = Math.min(Atomics.exchange(c, CLAIM, LAYOUT.claim(seq, CLOSED)) & CLOSED, parts);
  const t0 = performance.now();
  let done: number;
  // Spin first: the helper's last part usually ends within microseconds of ours.
  while ((done = Atomics.load(c, FINISHED)) < claimed) {
    if (performance.now() - t0 < 2) continue;
    Atomics.wait(c, FINISHED, done, 50);
    if (helperFailed || performance.now() - t0 > 60_000) {
      helperFailed ||= "the kernel helper thread stopped answering";
      throw new Error(`lib/kernels: ${helperFailed}`);
    }
  }
}
