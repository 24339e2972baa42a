/**
 * Data-parallel training on every core: a `MirroredStrategy`-like trainer.
 *
 * N replicas run in Deno Workers, each with its own tfjs backend (WASM runs
 * one thread per Worker, so two Workers use both cores of this machine). Every
 * replica builds the same model — a benchmark model from a {@linkcode ModelSpec}
 * with a seed, or any layers model sent as topology plus weights — so they
 * start identical. `fit` puts the training set in shared memory once and sends
 * each replica the epoch's sample order; every replica then walks the same
 * global batches by itself, takes its share of each, computes its gradient of
 * Σloss / global batch, and the replicas all-reduce the gradients in shared
 * memory (each writes its slot of a `SharedArrayBuffer`, waits at a barrier,
 * then sums all slots in replica order). Every replica applies the same sum
 * with the same optimizer, so all replicas stay bitwise identical (checked by
 * {@linkcode MirroredStrategy.replicasInSync}). The main thread only listens:
 * each replica reports every step, and callbacks run once all have.
 *
 * Compared with one replica on the whole batch the result differs only in
 * float32 summation order (the two half-batch gradients are added after being
 * summed separately), a relative difference around 1e-7 per step.
 * Layers that draw random numbers (dropout) draw them per replica, so such
 * models match single-replica training in distribution only.
 *
 * How TensorFlow does it at scale:
 * - `tf.distribute.MirroredStrategy`: one replica per GPU of one machine, variables
 *   mirrored on each, gradients all-reduced every step (NCCL ring all-reduce
 *   between GPUs) — what this class does with Workers and an all-reduce in
 *   shared memory.
 * - `MultiWorkerMirroredStrategy`: the same across machines; the all-reduce is a
 *   collective over the network (ring or NCCL), each worker holds full copies.
 * - Parameter servers (`ParameterServerStrategy`): variables live on server tasks;
 *   workers fetch them, compute gradients and push updates asynchronously, so
 *   replicas need not move in lockstep (faster with stragglers, but stale gradients).
 *
 * On one machine, the speedup is bounded by free cores: the main thread only
 * splits batches, the Workers compute.
 *
 * @example Train the small CNN on two Workers
 * ```ts
 * import { MirroredStrategy } from "./mirrored.ts";
 * const images = new Uint8Array(512 * 784).map((_, i) => (i * 7) % 256);
 * const labels = new Uint8Array(512).map((_, i) => i % 10);
 * const strategy = await MirroredStrategy.create({ model: { name: "small_cnn" }, replicas: 2 });
 * const result = await strategy.fit({ images, labels }, { epochs: 1, batchSize: 128 });
 * console.log(result.history.loss, result.samplesPerSecond);
 * await strategy.close();
 * ```
 *
 * @example Any layers model (built-in layers) works too
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { MirroredStrategy } from "./mirrored.ts";
 * const model = tf.sequential({
 *   layers: [
 *     tf.layers.flatten({ inputShape: [28, 28, 1] }),
 *     tf.layers.dense({ units: 64, activation: "relu" }),
 *     tf.layers.dense({ units: 10, activation: "softmax" }),
 *   ],
 * });
 * const strategy = await MirroredStrategy.create({ model, replicas: 2 });
 * console.log(strategy.replicas, strategy.parameters); // 2 50890
 * await strategy.close();
 * ```
 *
 * @module
 */
import type { BackendName } from "../backend.ts";
import type { Logs, TrainingCallback } from "../training/callbacks.ts";
import type { ModelSpec } from "./models.ts";
import * as tf from "@tensorflow/tfjs";
import { type OptimizerSpec, PIXELS, ReplicaTrainer, type SerializedModel } from "./_replica.ts";
import type { FromWorker, ToWorker } from "./_protocol.ts";
import { permutation } from "../_random.ts";
import { abortAllReduce, type AllReduceBuffers, allReduceBuffers } from "./_all_reduce.ts";

/** Images as bytes (count·784, row-major 28x28) and labels 0..9: a `Dataset` fits. */
export interface ByteData {
  images: Uint8Array;
  labels: Uint8Array;
}

/** Options for {@linkcode MirroredStrategy.create}. */
export interface MirroredOptions {
  /**
   * A benchmark model by name (`{ name: "small_cnn", seed: 1 }`), or any tfjs
   * layers model taking 28x28 images (`[28, 28, 1]` or `[784]`) and giving 10
   * logits (or softmax probabilities): it is sent to every replica as topology
   * plus its current weights. Custom layers must be registered in the Worker
   * too, so only built-in layers work.
   */
  model: ModelSpec | tf.LayersModel;
  /** Number of replicas (Workers). Default: `navigator.hardwareConcurrency`. */
  replicas?: number;
  /** The backend each replica initialises. Default "wasm". */
  backend?: BackendName;
  /** Default `{ name: "adam", learningRate: 1e-3 }`. */
  optimizer?: Partial<OptimizerSpec>;
  /**
   * Run the one replica in this thread instead of a Worker (the reference
   * single-replica trainer; `replicas` must be 1). Sets this thread's backend.
   */
  inProcess?: boolean;
}

/** Options for {@linkcode MirroredStrategy.fit}. */
export interface MirroredFitOptions {
  epochs?: number;
  /** The GLOBAL batch size, split across replicas. Default 128. */
  batchSize?: number;
  /** Shuffle seed (epoch e uses seed + e). Default 0. */
  seed?: number;
  /** Default true. */
  shuffle?: boolean;
  callbacks?: TrainingCallback | TrainingCallback[];
  validationData?: ByteData;
  /** Stop after this many steps in total (benchmarks). */
  maxSteps?: number;
}

/** What {@linkcode MirroredStrategy.fit} returns. */
export interface MirroredResult {
  /** Per epoch: loss, acc (and val_loss, val_acc with validation data). */
  history: Record<string, number[]>;
  /** Training samples per second over all steps (Worker start-up excluded). */
  samplesPerSecond: number;
  seconds: number;
  steps: number;
}

/** Thrown for bad options or data, or when a replica fails. */
export class MirroredError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "MirroredError";
  }
}

type Stepped = Extract<FromWorker, { type: "stepped" }>;

interface Replica {
  request(msg: ToWorker, transfer?: Transferable[]): Promise<FromWorker>;
  send(msg: ToWorker, transfer?: Transferable[]): void;
  /** Run one epoch message; `onStep` hears each step; resolves when the epoch is done. */
  epoch(msg: Extract<ToWorker, { type: "epoch" }>, onStep: (s: Stepped) => void): Promise<void>;
  close(): Promise<void>;
}

class WorkerReplica implements Replica {
  #worker: Worker;
  #pending: { resolve: (m: FromWorker) => void; reject: (e: Error) => void }[] = [];
  #onStep: ((s: Stepped) => void) | undefined;
  #failed: Error | undefined;
  /** Set once the replicas share an all-reduce; a crash must release the others. */
  shared: AllReduceBuffers | undefined;

  constructor(index: number) {
    this.#worker = new Worker(new URL("./_worker.ts", import.meta.url).href, { type: "module" });
    this.#worker.onmessage = (e: MessageEvent<FromWorker>) => {
      if (e.data.type === "stepped") return this.#onStep?.(e.data);
      const head = this.#pending.shift();
      if (e.data.type === "error") {
        const err = new MirroredError(`replica ${index} failed: ${e.data.message}`);
        this.#failed = err;
        head?.reject(err);
        for (const p of this.#pending.splice(0)) p.reject(err);
      } else head?.resolve(e.data);
    };
    this.#worker.onerror = (e: ErrorEvent) => {
      e.preventDefault();
      const err = new MirroredError(`replica ${index} crashed: ${e.message}`);
      this.#failed = err;
      if (this.shared) abortAllReduce(this.shared);
      for (const p of this.#pending.splice(0)) p.reject(err);
    };
  }

  request(msg: ToWorker, transfer: Transferable[] = []): Promise<FromWorker> {
    if (this.#failed) return Promise.reject(this.#failed);
    return new Promise((resolve, reject) => {
      this.#pending.push({ resolve, reject });
      this.#worker.postMessage(msg, transfer);
    });
  }

  send(msg: ToWorker, transfer: Transferable[] = []): void {
    if (this.#failed) throw this.#failed;
    this.#worker.postMessage(msg, transfer);
  }

  async epoch(msg: Extract<ToWorker, { type: "epoch" }>, onStep: (s: Stepped) => void) {
    this.#onStep = onStep;
    try {
      await this.request(msg); // answered by "epochDone"
    } finally {
      this.#onStep = undefined;
    }
  }

  close(): Promise<void> {
    this.#worker.terminate();
    for (const p of this.#pending.splice(0)) p.reject(new MirroredError("strategy closed"));
    return Promise.resolve();
  }
}

class LocalReplica implements Replica {
  #trainer: ReplicaTrainer | undefined;
  #data: ByteData | undefined;

  async request(msg: ToWorker): Promise<FromWorker> {
    if (msg.type === "init") {
      const { initBackend } = await import("../backend.ts");
      const report = await initBackend({ prefer: msg.backend });
      this.#trainer = await ReplicaTrainer.create(msg.model, msg.optimizer);
      return {
        type: "ready",
        backend: report.backend,
        size: this.#trainer.size,
        weights: this.#trainer.weights(),
      };
    }
    const t = this.#trainer!;
    switch (msg.type) {
      case "evaluate":
        return { type: "evaluated", ...t.evaluate(msg.images, msg.labels) };
      case "weights":
        return { type: "weights", weights: t.weights() };
      default:
        throw new MirroredError(`message ${msg.type} expects no reply`);
    }
  }

  send(msg: ToWorker): void {
    if (msg.type === "data") this.#data = { images: msg.images, labels: msg.labels };
  }

  epoch(msg: Extract<ToWorker, { type: "epoch" }>, onStep: (s: Stepped) => void): Promise<void> {
    const { order, batchSize, steps } = msg;
    const one = { index: 0, replicas: 1 };
    this.#trainer!.runEpoch(this.#data!, order, batchSize, steps, one, (f) => f, (step, r) => {
      onStep({ type: "stepped", step, ...r });
    });
    return Promise.resolve();
  }

  close(): Promise<void> {
    this.#trainer?.dispose();
    this.#trainer = undefined;
    return Promise.resolve();
  }
}

/**
 * The sample order of one epoch: a seeded Fisher–Yates shuffle (the same one
 * `Dataset.batches` uses), or 0..n−1.
 */
export function epochOrder(count: number, seed: number, shuffle = true): Uint32Array {
  return shuffle ? permutation(count, seed) : new Uint32Array(count).map((_, i) => i);
}

function checkData(data: ByteData, what: string): number {
  const n = data.labels?.length;
  if (!(data.images instanceof Uint8Array) || !(data.labels instanceof Uint8Array)) {
    throw new MirroredError(`${what}: images and labels must be Uint8Arrays (a Dataset fits)`);
  }
  if (data.images.length !== n * PIXELS) {
    throw new MirroredError(
      `${what}: images hold ${data.images.length} bytes, expected ${n} labels × ${PIXELS}`,
    );
  }
  return n;
}

/** N model replicas in lockstep; see the module documentation. */
export class MirroredStrategy {
  /** Number of replicas. */
  readonly replicas: number;
  /** The backend each replica runs. */
  readonly backend: BackendName;
  /** Trainable parameters per replica. */
  readonly parameters: number;
  #replicas: Replica[];

  private constructor(replicas: Replica[], backend: BackendName, parameters: number) {
    this.#replicas = replicas;
    this.replicas = replicas.length;
    this.backend = backend;
    this.parameters = parameters;
  }

  /** Start the replicas and check they begin with identical weights. */
  static async create(options: MirroredOptions): Promise<MirroredStrategy> {
    const n = options.replicas ?? navigator.hardwareConcurrency ?? 1;
    if (!Number.isInteger(n) || n < 1) {
      throw new MirroredError(`replicas is ${n}: give a whole number ≥ 1`);
    }
    if (options.inProcess && n !== 1) {
      throw new MirroredError(`inProcess runs exactly one replica, but replicas is ${n}`);
    }
    const optimizer: OptimizerSpec = {
      name: options.optimizer?.name ?? "adam",
      learningRate: options.optimizer?.learningRate ?? 1e-3,
    };
    const backend = options.backend ?? "wasm";
    const model = options.model instanceof tf.LayersModel
      ? serialize(options.model)
      : options.model;
    const replicas: Replica[] = options.inProcess
      ? [new LocalReplica()]
      : Array.from({ length: n }, (_, i) => new WorkerReplica(i));
    try {
      const ready = await Promise.all(
        replicas.map((r) => r.request({ type: "init", model, optimizer, backend })),
      ) as Extract<FromWorker, { type: "ready" }>[];
      for (const r of ready.slice(1)) {
        if (r.backend !== ready[0].backend || !sameBits(r.weights, ready[0].weights)) {
          throw new MirroredError(
            `replicas did not start identical (backends ${ready.map((x) => x.backend)}); ` +
              `give the model spec a fixed seed`,
          );
        }
      }
      if (n > 1) {
        const buffers = allReduceBuffers(n, ready[0].size);
        replicas.forEach((r, index) => {
          (r as WorkerReplica).shared = buffers;
          r.send({ type: "share", buffers, index });
        });
      }
      return new MirroredStrategy(replicas, ready[0].backend, ready[0].size);
    } catch (e) {
      await Promise.all(replicas.map((r) => r.close()));
      throw e;
    }
  }

  /** Train; reports through the shared {@linkcode TrainingCallback} shape. */
  async fit(data: ByteData, options: MirroredFitOptions = {}): Promise<MirroredResult> {
    const count = checkData(data, "fit data");
    const epochs = options.epochs ?? 1;
    const batch = options.batchSize ?? 128;
    if (!Number.isInteger(batch) || batch < 1) {
      throw new MirroredError(`batchSize is ${batch}: give a whole number ≥ 1`);
    }
    const seed = options.seed ?? 0;
    const callbacks = options.callbacks === undefined
      ? []
      : Array.isArray(options.callbacks)
      ? options.callbacks
      : [options.callbacks];
    const stepsPerEpoch = Math.ceil(count / batch);
    const history: Record<string, number[]> = { loss: [], acc: [] };
    for (const c of callbacks) {
      await c.onTrainBegin?.({ epochs, stepsPerEpoch, samples: count, batchSize: batch });
    }
    let steps = 0, seen = 0, busy = 0;
    const maxSteps = options.maxSteps ?? Infinity;
    this.#share(data);
    const R = this.#replicas.length;
    for (let epoch = 0; epoch < epochs && steps < maxSteps; epoch++) {
      for (const c of callbacks) await c.onEpochBegin?.(epoch);
      const order = epochOrder(count, seed + epoch, options.shuffle ?? true);
      const epochSteps = Math.min(stepsPerEpoch, maxSteps - steps);
      let lossSum = 0, correct = 0, samples = 0;
      // Each step's reports from all replicas, summed; a step is logged once all arrived.
      const reported = new Map<
        number,
        { lossSum: number; correct: number; count: number; n: number }
      >();
      let logged = Promise.resolve();
      let callbackError: unknown;
      const onStep = (r: Stepped) => {
        const sum = reported.get(r.step) ?? { lossSum: 0, correct: 0, count: 0, n: 0 };
        reported.set(r.step, sum);
        sum.lossSum += r.lossSum;
        sum.correct += r.correct;
        sum.count += r.count;
        if (++sum.n < R) return;
        reported.delete(r.step);
        lossSum += sum.lossSum;
        correct += sum.correct;
        samples += sum.count;
        seen += sum.count;
        const logs: Logs = {
          loss: sum.lossSum / sum.count,
          acc: sum.correct / sum.count,
          size: sum.count,
        };
        logged = logged.then(async () => {
          for (const c of callbacks) await c.onBatchEnd?.(r.step, logs);
        }).catch((e) => {
          callbackError ??= e; // rethrown after the epoch, not left unhandled meanwhile
        });
      };
      const t0 = performance.now();
      const msg = { type: "epoch" as const, order, batchSize: batch, steps: epochSteps };
      await Promise.all(this.#replicas.map((replica) => replica.epoch(msg, onStep)));
      busy += performance.now() - t0;
      await logged;
      if (callbackError !== undefined) throw callbackError;
      steps += epochSteps;
      const logs: Logs = { loss: lossSum / samples, acc: correct / samples };
      if (options.validationData) {
        const v = await this.evaluate(options.validationData);
        logs.val_loss = v.loss;
        logs.val_acc = v.acc;
      }
      for (const [k, v] of Object.entries(logs)) (history[k] ??= []).push(v);
      for (const c of callbacks) await c.onEpochEnd?.(epoch, logs);
      if (callbacks.some((c) => c.stopTraining)) break;
    }
    const last: Logs = Object.fromEntries(
      Object.entries(history).map(([k, v]) => [k, v[v.length - 1]]),
    );
    for (const c of callbacks) await c.onTrainEnd?.(last);
    return { history, samplesPerSecond: seen / (busy / 1000), seconds: busy / 1000, steps };
  }

  /**
   * Send the training set to every replica, as one copy in shared memory that all
   * replicas read (copied at each `fit`, so later changes to `data` are seen).
   */
  #share(data: ByteData): void {
    const images = sharedCopy(data.images), labels = sharedCopy(data.labels);
    for (const replica of this.#replicas) replica.send({ type: "data", images, labels });
  }

  /** Mean loss and accuracy over `data`, on replica 0 (inference mode). */
  async evaluate(data: ByteData): Promise<{ loss: number; acc: number }> {
    const n = checkData(data, "evaluate data");
    const r = await this.#replicas[0].request({
      type: "evaluate",
      images: data.images,
      labels: data.labels,
    }) as Extract<FromWorker, { type: "evaluated" }>;
    return { loss: r.lossSum / n, acc: r.correct / n };
  }

  /** Replica `index`'s trainable weights, concatenated in layer order. */
  async weights(index = 0): Promise<Float32Array> {
    const r = await this.#replicas[index].request({ type: "weights" });
    return (r as Extract<FromWorker, { type: "weights" }>).weights;
  }

  /** True when every replica's weights are bitwise equal to replica 0's. */
  async replicasInSync(): Promise<boolean> {
    const all = await Promise.all(this.#replicas.map((_, i) => this.weights(i)));
    return all.every((w) => sameBits(w, all[0]));
  }

  /** Stop the Workers. */
  async close(): Promise<void> {
    for (const r of this.#replicas) {
      try {
        r.send({ type: "close" });
      } catch { /* already failed */ }
    }
    await Promise.all(this.#replicas.map((r) => r.close()));
  }
}

function serialize(model: tf.LayersModel): SerializedModel {
  const topology = model.toJSON(undefined, false) as object;
  const weights = model.getWeights().map((w) => ({
    shape: w.shape,
    values: new Float32Array(w.dataSync()),
  }));
  return { topology, weights };
}

/** `a` in a `SharedArrayBuffer` (Workers then read the same memory). */
function sharedCopy(a: Uint8Array): Uint8Array {
  const out = new Uint8Array(new SharedArrayBuffer(a.length));
  out.set(a);
  return out;
}

function sameBits(a: Float32Array, b: Float32Array): boolean {
  if (a.length !== b.length) return false;
  const x = new Uint32Array(a.buffer, a.byteOffset, a.length);
  const y = new Uint32Array(b.buffer, b.byteOffset, b.length);
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return false;
  return true;
}
