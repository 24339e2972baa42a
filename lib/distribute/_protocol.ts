/**
 * Messages between {@linkcode MirroredStrategy} and its Workers.
 *
 * @module
 */
import type { BackendName } from "../backend.ts";
import type { AllReduceBuffers } from "./_all_reduce.ts";
import type { OptimizerSpec, ReplicaModel, ReplicaStep } from "./_replica.ts";

/** Main thread → Worker. */
export type ToWorker =
  | { type: "init"; model: ReplicaModel; optimizer: OptimizerSpec; backend: BackendName }
  | { type: "share"; buffers: AllReduceBuffers; index: number }
  /** The training set, in `SharedArrayBuffer`s: sent once, read by every replica. */
  | { type: "data"; images: Uint8Array; labels: Uint8Array }
  /** Train `steps` global batches of `order`, each replica taking its share of each. */
  | { type: "epoch"; order: Uint32Array; batchSize: number; steps: number }
  | { type: "evaluate"; images: Uint8Array; labels: Uint8Array }
  | { type: "weights" }
  | { type: "close" };

/** Worker → main thread. */
export type FromWorker =
  | { type: "ready"; backend: BackendName; size: number; weights: Float32Array }
  | ({ type: "stepped"; step: number } & ReplicaStep)
  | { type: "epochDone" }
  | { type: "evaluated"; lossSum: number; correct: number }
  | { type: "weights"; weights: Float32Array }
  | { type: "error"; message: string };
