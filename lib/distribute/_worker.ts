/**
 * The Worker side of {@linkcode MirroredStrategy}: one replica with its own
 * tfjs backend. It receives the training set once (shared memory) and then one
 * message per epoch: it walks the epoch's batches by itself, meeting the other
 * replicas only in each step's shared-memory all-reduce, and reports each step.
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
let share = { index: 0, replicas: 1 };
let data: { images: Uint8Array; labels: Uint8Array } | undefined;
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
      share = { index: msg.index, replicas: msg.buffers.replicas };
      allReduce = allReducer(msg.buffers, msg.index);
      return;
    case "data":
      data = { images: msg.images, labels: msg.labels };
      return;
    case "epoch":
      replica!.runEpoch(data!, msg.order, msg.batchSize, msg.steps, share, allReduce, (step, r) => {
        self.postMessage({ type: "stepped", step, ...r });
      });
      self.postMessage({ type: "epochDone" });
      return;
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
