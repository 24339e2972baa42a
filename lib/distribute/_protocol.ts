/**
 * Messages between {@linkcode MirroredStrategy} and its Workers.
 *
 * @module
 */
import type { BackendName } from "../backend.ts";
import type { OptimizerSpec, ReplicaModel } from "./_replica.ts";

/** Main thread → Worker. */
export type ToWorker =
  | { type: "init"; model: ReplicaModel; optimizer: OptimizerSpec; backend: BackendName }
  | { type: "grads"; images: Uint8Array; labels: Uint8Array; globalBatch: number }
  | { type: "apply"; flat: Float32Array }
  | { type: "evaluate"; images: Uint8Array; labels: Uint8Array }
  | { type: "weights" }
  | { type: "close" };

/** Worker → main thread. */
export type FromWorker =
  | { type: "ready"; backend: BackendName; size: number; weights: Float32Array }
  | { type: "grads"; flat: Float32Array; lossSum: number; correct: number; count: number }
  | { type: "evaluated"; lossSum: number; correct: number }
  | { type: "weights"; weights: Float32Array }
  | { type: "error"; message: string };
