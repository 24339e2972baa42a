/**
 * The helper thread of `_parallel.ts`: instantiates lib/kernels' assembled
 * loops on the WASM backend's shared memory and runs the second part of each
 * job, sleeping in `Atomics.wait` in between.
 *
 * @module
 */
import { workerData } from "node:worker_threads";

const { memory } = workerData as { memory: WebAssembly.Memory };
const ctrl = new Int32Array(workerData.ctrl as SharedArrayBuffer);
const args = new Float64Array(workerData.args as SharedArrayBuffer);
const staging = new Uint8Array(workerData.staging as SharedArrayBuffer);
const MAX_ARGS = args.length / 3;
const [SEQ, DONE, MOD, FN, N, Y, ARGC, LOAD, ERROR, READY] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9];
const modules: ((...a: number[]) => void)[][] = [];

let last = Atomics.load(ctrl, SEQ);
Atomics.store(ctrl, READY, 1);
while (true) {
  Atomics.wait(ctrl, SEQ, last);
  last = Atomics.load(ctrl, SEQ);
  try {
    if (ctrl[LOAD]) {
      const module = new WebAssembly.Module(staging.slice(0, ctrl[LOAD]));
      const exports = new WebAssembly.Instance(module, { env: { memory } }).exports;
      modules[ctrl[MOD]] = Object.values(exports) as ((...a: number[]) => void)[];
    }
    const fn = modules[ctrl[MOD]][ctrl[FN]];
    const argc = ctrl[ARGC], call = new Array<number>(argc);
    for (let n = 0; n < ctrl[N]; n++) {
      for (let y = 0; y < ctrl[Y]; y++) {
        for (let k = 0; k < argc; k++) {
          call[k] = args[k] + n * args[MAX_ARGS + k] + y * args[2 * MAX_ARGS + k];
        }
        fn(...call);
      }
    }
    ctrl[ERROR] = 0;
  } catch (e) {
    ctrl[ERROR] = 1;
    console.error(`lib/kernels helper thread: ${(e as Error).message}`);
  }
  Atomics.store(ctrl, DONE, last);
  Atomics.notify(ctrl, DONE);
}
