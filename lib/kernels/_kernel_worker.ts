/**
 * The helper thread of `_parallel.ts`: instantiates lib/kernels' assembled
 * loops (compiled modules sent by the main thread) on the WASM backend's shared
 * memory and takes parts of each job until none is left; between jobs it spins
 * a little while, then sleeps in `Atomics.wait`.
 *
 * @module
 */
import { type MessagePort, receiveMessageOnPort, workerData } from "node:worker_threads";
import { LAYOUT, runRows } from "./_parallel.ts";

const { MAX_ARGS, SEQ, MOD, FN, ARGC, PARTS, CLAIM, FINISHED, ERROR, READY, SPIN } = LAYOUT;
const PART = LAYOUT.partSize(MAX_ARGS);
const { memory } = workerData as { memory: WebAssembly.Memory };
const ctrl = new Int32Array(workerData.ctrl as SharedArrayBuffer);
const jobs = new Float64Array(workerData.jobs as SharedArrayBuffer);
const port = workerData.port as MessagePort;
const modules: ((...a: number[]) => void)[][] = [];

/** The functions of module `id`, reading the modules sent so far until it is there. */
function functions(id: number): ((...a: number[]) => void)[] {
  while (!modules[id]) {
    const message = receiveMessageOnPort(port)?.message as
      | { id: number; module: WebAssembly.Module }
      | undefined;
    if (!message) throw new Error(`module ${id} was never sent`);
    const exports = new WebAssembly.Instance(message.module, { env: { memory } }).exports;
    modules[message.id] = Object.values(exports) as ((...a: number[]) => void)[];
  }
  return modules[id];
}

let last = Atomics.load(ctrl, SEQ);
Atomics.store(ctrl, READY, 1);
while (true) {
  // Spin a while (the next job of a training step usually comes within it), then sleep.
  const t0 = performance.now(), spin = ctrl[SPIN] / 1000;
  while (Atomics.load(ctrl, SEQ) === last && performance.now() - t0 < spin);
  Atomics.wait(ctrl, SEQ, last);
  const seq = last = Atomics.load(ctrl, SEQ);
  let fn: ((...a: number[]) => void) | undefined;
  const argc = ctrl[ARGC], parts = ctrl[PARTS];
  while (true) {
    const cur = Atomics.load(ctrl, CLAIM), i = cur & 0xfffff;
    // Another job's tag, or no part left: this job is over for this thread.
    if (cur !== LAYOUT.claim(seq, i) || i >= parts) break;
    if (Atomics.compareExchange(ctrl, CLAIM, cur, cur + 1) !== cur) continue;
    try {
      fn ??= functions(ctrl[MOD])[ctrl[FN]];
      const at = i * PART, n = jobs[at + 3 * MAX_ARGS], y = jobs[at + 3 * MAX_ARGS + 1];
      const arg = (from: number) => jobs.subarray(at + from, at + from + argc);
      runRows(fn, arg(0), arg(MAX_ARGS), arg(2 * MAX_ARGS), n, y);
    } catch (e) {
      ctrl[ERROR] = 1;
      console.error(`lib/kernels helper thread: ${(e as Error).message}`);
    } finally {
      Atomics.add(ctrl, FINISHED, 1);
      Atomics.notify(ctrl, FINISHED);
    }
  }
}
