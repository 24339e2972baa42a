/**
 * The Worker side of {@linkcode MirroredStrategy}: one replica with its own
 * tfjs backend. Messages are handled strictly in order, so a gradient request
 * that arrives after an `apply` sees the updated weights.
 *
 * @module
 */
/// <reference lib="deno.worker" />
import { initBackend } from "../backend.ts";
import { ReplicaTrainer } from "./_replica.ts";
import type { ToWorker } from "./_protocol.ts";

let replica: ReplicaTrainer | undefined;
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
    case "grads": {
      const g = replica!.gradients(msg.images, msg.labels, msg.globalBatch);
      self.postMessage({ type: "grads", ...g }, [g.flat.buffer as ArrayBuffer]);
      return;
    }
    case "apply":
      replica!.apply(msg.flat);
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
    self.postMessage({ type: "error", message: (err as Error)?.stack ?? String(err) });
  });
};
