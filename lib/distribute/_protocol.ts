/**
 * Messages between {@linkcode MirroredStrategy} and its Workers.
 *
 * @module
 */
import type { BackendName } from "../backend.ts";
import type { AllReduceBuffers } from "./_all_reduce.ts";
import type { OptimizerSpec, ReplicaModel } from "./_replica.ts";

/** Main thread → Worker. */
export type ToWorker =
  | { type: "init"; model: ReplicaModel; optimizer: OptimizerSpec; backend: BackendName }
  | { type: "share"; buffers: AllReduceBuffers; index: number }
  | { type: "step"; images: Uint8Array; labels: Uint8Array; globalBatch: number }
  | { type: "evaluate"; images: Uint8Array; labels: Uint8Array }
  | { type: "weights" }
  | { type: "close" };

/** Worker → main thread. */
export type FromWorker =
  | { type: "ready"; backend: BackendName; size: number; weights: Float32Array }
  | { type: "stepped"; lossSum: number; correct: number; count: number }
  | { type: "evaluated"; lossSum: number; correct: number }
  | { type: "weights"; weights: Float32Array }
  | { type: "error"; message: string };
