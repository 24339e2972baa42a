/**
 * The Worker side of {@linkcode MirroredStrategy}: one replica with its own
 * tfjs backend. Messages are handled strictly in order, so the main thread can
 * queue the next step before this one finishes; the replicas meet only in the
 * shared-memory all-reduce of each step.
 *
 * @module
 */
/// <reference lib="deno.worker" />
import { initBackend } from "../backend.ts";
import { ReplicaTrainer } from "./_replica.ts";
import type { ToWorker } from "./_protocol.ts";
import { abortAllReduce, type AllReduceBuffers, allReducer } from "./_all_reduce.ts";

let replica: ReplicaTrainer | undefined;
let shared: AllReduceBuffers | undefined;
// One replica alone needs no all-reduce: its gradient is the sum.
let allReduce = (flat: Float32Array): Float32Array => flat;
let queue: Promise<void> = Promise.resolve();

async function handle(msg: ToWorker): Promise<void> {
  switch (msg.type) {
    case "init": {
      const report = await initBackend({ prefer: msg.backend });
      replica = await ReplicaTrainer.create(msg.model, msg.optimizer);
      const w = replica.weights();
      self.postMessage({ type: "ready", backend: report.backend, size: replica.size, weights: w }, [
        w.buffer as ArrayBuffer,
      ]);
      return;
    }
    case "share":
      shared = msg.buffers;
      allReduce = allReducer(msg.buffers, msg.index);
      return;
    case "step": {
      const r = replica!.step(msg.images, msg.labels, msg.globalBatch, allReduce);
      self.postMessage({ type: "stepped", ...r });
      return;
    }
    case "evaluate": {
      const r = replica!.evaluate(msg.images, msg.labels);
      self.postMessage({ type: "evaluated", ...r });
      return;
    }
    case "weights": {
      const w = replica!.weights();
      self.postMessage({ type: "weights", weights: w }, [w.buffer as ArrayBuffer]);
      return;
    }
    case "close":
      replica?.dispose();
      self.close();
      return;
  }
}

self.onmessage = (e: MessageEvent<ToWorker>) => {
  queue = queue.then(() => handle(e.data)).catch((err) => {
    if (shared) abortAllReduce(shared); // the other replicas must not wait for this one
    self.postMessage({ type: "error", message: (err as Error)?.stack ?? String(err) });
  });
};
