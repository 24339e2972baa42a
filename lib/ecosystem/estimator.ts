/**
 * An Estimator in the spirit of `tf.estimator.Estimator`: a `modelFn` that
 * builds the model for a mode, an `inputFn` that feeds batches, and a model
 * directory that holds checkpoints and TensorBoard summaries.
 *
 * - `train(inputFn, { steps })` runs `steps` more optimizer steps, writing
 *   `model.ckpt-<globalStep>` every `saveCheckpointsSteps` and at the end,
 *   and a `checkpoint` index file naming the latest (TensorFlow's own text
 *   format). A new Estimator on the same `modelDir` resumes from it: the
 *   weights and the global step continue.
 * - `evaluate(inputFn)` restores the latest checkpoint and averages the loss
 *   and the `evalMetrics` over the batches (weighted by batch size).
 * - `predict(inputFn)` restores it and returns one record per example.
 *
 * Variables are created by the modelFn through `ctx.getVariable(name, shape,
 * init)` (TF1's `tf.compat.v1.get_variable`): the first call creates them,
 * later calls return the same ones, and a restored checkpoint provides their
 * values by name. Checkpoints use `saveVariables` / `readCheckpoint` of
 * `lib/variables.ts`: the model variables by name, the optimizer's weights
 * (its step count and slots such as Adam's moments) as `optimizer/<i>`, and
 * the global step in the metadata, so a resumed run continues exactly where
 * the interrupted one stopped.
 *
 * Training reports through {@linkcode TrainingCallback}s (one "epoch" per
 * `train` call, `steps` batches) and writes `loss` every `saveSummarySteps`
 * global steps to `modelDir` and evaluation metrics to `modelDir/eval`, so
 * `tensorboard --logdir <modelDir>` shows both, as with TensorFlow.
 *
 * @example A linear classifier
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { Estimator, type ModelFn } from "./estimator.ts";
 *
 * const modelFn: ModelFn = (features, labels, mode, ctx) => {
 *   const w = ctx.getVariable("dense/kernel", [2, 2], "glorotUniform");
 *   const b = ctx.getVariable("dense/bias", [2], "zeros");
 *   const logits = features.matMul(w).add(b);
 *   const predictions = { classes: logits.argMax(1) };
 *   if (mode === "infer") return { predictions };
 *   const loss = tf.losses.softmaxCrossEntropy(labels!, logits) as tf.Scalar;
 *   return { predictions, loss, optimizer: () => tf.train.sgd(0.5) };
 * };
 * const est = new Estimator({ modelFn, modelDir: await Deno.makeTempDir() });
 * const inputFn = () => [{ features: tf.tensor2d([[1, 0], [0, 1]]), labels: tf.tensor2d([[1, 0], [0, 1]]) }];
 * await est.train(inputFn, { steps: 20 });
 * console.log(await est.evaluate(inputFn));
 * est.dispose();
 * ```
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import type { Logs, TrainingCallback } from "../training/callbacks.ts";
import { writeFileAtomic } from "../io/atomic.ts";
import { readCheckpoint, saveVariables } from "../variables.ts";
import { summaryFileWriter } from "./tensorboard/summary_writer.ts";

/** `tf.estimator.ModeKeys`: TRAIN, EVAL, PREDICT. */
export type Mode = "train" | "eval" | "infer";

/** How a variable starts when no checkpoint provides it. */
export type Initializer =
  | "zeros"
  | "ones"
  | "glorotUniform"
  | "glorotNormal"
  | "heNormal"
  | number
  | ((shape: number[]) => tf.Tensor);

/** What the modelFn gets besides features, labels and mode. */
export interface ModelFnContext {
  /** `params` given to the Estimator. */
  params: Record<string, unknown>;
  /** The global step (optimizer steps taken so far, across resumes). */
  globalStep: number;
  /** Get or create the variable `name` (float32). */
  getVariable(
    name: string,
    shape: number[],
    init?: Initializer,
    opts?: { trainable?: boolean },
  ): tf.Variable;
}

/** What the modelFn returns (`tf.estimator.EstimatorSpec`). */
export interface EstimatorSpec {
  /** Model outputs, by name (or one tensor, named "predictions"). */
  predictions?: tf.Tensor | Record<string, tf.Tensor>;
  /** Required in train and eval modes. */
  loss?: tf.Scalar;
  /**
   * The optimizer that minimizes `loss` (TF's `train_op`). A factory is
   * called once; an instance should be the same object on every call.
   */
  optimizer?: tf.Optimizer | (() => tf.Optimizer);
  /** Scalars averaged over the evaluation batches (e.g. `{ accuracy }`). */
  evalMetrics?: Record<string, tf.Scalar>;
}

/** The model function: `(features, labels, mode, ctx) → EstimatorSpec`. */
export type ModelFn = (
  features: tf.Tensor,
  labels: tf.Tensor | undefined,
  mode: Mode,
  ctx: ModelFnContext,
) => EstimatorSpec;

/**
 * One batch from an inputFn: `{ features, labels }`, or a `Batch` of
 * `lib/data` (`{ xs, ys }`). The Estimator disposes the tensors after use.
 */
export type InputBatch =
  | { features: tf.Tensor; labels?: tf.Tensor }
  | { xs: tf.Tensor; ys?: tf.Tensor };

/** Returns the batches of one pass (called again when they run out during training). */
export type InputFn = () => Iterable<InputBatch> | AsyncIterable<InputBatch>;

/** `tf.estimator.RunConfig`. */
export interface RunConfig {
  /** Save a checkpoint every this many global steps (and always at the end). Default 100. */
  saveCheckpointsSteps?: number;
  /** Keep this many recent checkpoints; older ones are deleted. Default 5. */
  keepCheckpointMax?: number;
  /** Write the training loss to TensorBoard every this many global steps. Default 10. */
  saveSummarySteps?: number;
  /** Seed for variable initializers. Default 42. */
  seed?: number;
}

/** Options for {@linkcode Estimator}. */
export interface EstimatorOptions {
  modelFn: ModelFn;
  /** Where checkpoints and summaries go (created if missing). */
  modelDir: string;
  params?: Record<string, unknown>;
  config?: RunConfig;
}

/** Thrown for a bad modelFn result, an empty input, or a missing checkpoint. */
export class EstimatorError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "EstimatorError";
  }
}

let nextId = 0;

/** Checkpoint keys of the optimizer's weights: `optimizer/0`, `optimizer/1`, ... */
const OPTIMIZER_PREFIX = "optimizer/";

function unpack(b: InputBatch): { features: tf.Tensor; labels?: tf.Tensor } {
  return "features" in b ? b : { features: b.xs, labels: b.ys };
}

function disposeBatch(b: InputBatch): void {
  const u = unpack(b);
  u.features.dispose();
  u.labels?.dispose();
}

async function* iterate(fn: InputFn): AsyncGenerator<InputBatch> {
  yield* fn() as AsyncIterable<InputBatch>;
}

/** Parse TensorFlow's `checkpoint` index file (text proto) for the latest path. */
function parseIndex(text: string): { latest: string | null; all: string[] } {
  const latest = /^model_checkpoint_path:\s*"([^"]*)"/m.exec(text)?.[1] ?? null;
  const all = [...text.matchAll(/^all_model_checkpoint_paths:\s*"([^"]*)"/gm)].map((m) => m[1]);
  return { latest, all };
}

/** Train, evaluate and predict with a modelFn, checkpointing to `modelDir`. */
export class Estimator {
  readonly modelDir: string;
  readonly params: Record<string, unknown>;
  readonly config: Required<RunConfig>;
  #modelFn: ModelFn;
  #id = nextId++;
  #vars = new Map<string, tf.Variable>();
  #pending = new Map<string, { values: Float32Array | Int32Array | Uint8Array; shape: number[] }>();
  #optimizer: tf.Optimizer | null = null;
  /** Optimizer state read from a checkpoint, applied when the optimizer is created. */
  #pendingOptimizer: {
    name: string;
    values: Float32Array | Int32Array | Uint8Array;
    shape: number[];
    dtype: string;
  }[] | null = null;
  #globalStep = 0;
  #restoredFrom: string | null = null;

  constructor(opts: EstimatorOptions) {
    if (typeof opts.modelFn !== "function") {
      throw new EstimatorError(
        "Estimator: modelFn must be a function (features, labels, mode, ctx)",
      );
    }
    if (!opts.modelDir) throw new EstimatorError("Estimator: modelDir is required");
    this.#modelFn = opts.modelFn;
    this.modelDir = opts.modelDir.replace(/\/+$/, "");
    this.params = opts.params ?? {};
    this.config = {
      saveCheckpointsSteps: opts.config?.saveCheckpointsSteps ?? 100,
      keepCheckpointMax: opts.config?.keepCheckpointMax ?? 5,
      saveSummarySteps: opts.config?.saveSummarySteps ?? 10,
      seed: opts.config?.seed ?? 42,
    };
  }

  /** Optimizer steps taken so far (restored from the latest checkpoint on the next call). */
  get globalStep(): number {
    return this.#globalStep;
  }

  /** The variables the modelFn created, by name. */
  get variables(): ReadonlyMap<string, tf.Variable> {
    return this.#vars;
  }

  /** The path of the latest checkpoint in `modelDir`, or null. */
  async latestCheckpoint(): Promise<string | null> {
    let text: string;
    try {
      text = await Deno.readTextFile(`${this.modelDir}/checkpoint`);
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) return null;
      throw e;
    }
    const { latest } = parseIndex(text);
    if (!latest) return null;
    return latest.startsWith("/") ? latest : `${this.modelDir}/${latest}`;
  }

  #context(): ModelFnContext {
    return {
      params: this.params,
      globalStep: this.#globalStep,
      getVariable: (name, shape, init = "glorotUniform", opts = {}) => {
        const have = this.#vars.get(name);
        if (have) {
          if (!tf.util.arraysEqual(have.shape, shape)) {
            throw new EstimatorError(
              `getVariable("${name}"): exists with shape [${have.shape}], asked for [${shape}]`,
            );
          }
          return have;
        }
        const seed = this.config.seed + this.#vars.size;
        const v = tf.tidy(() => {
          const p = this.#pending.get(name);
          let value: tf.Tensor;
          if (p) {
            if (!tf.util.arraysEqual(p.shape, shape)) {
              throw new EstimatorError(
                `getVariable("${name}"): the checkpoint holds shape [${p.shape}], the modelFn ` +
                  `asks for [${shape}]; use a new modelDir for a different model`,
              );
            }
            value = tf.tensor(p.values as Float32Array, shape, "float32");
          } else if (typeof init === "number") value = tf.fill(shape, init);
          else if (typeof init === "function") value = init(shape);
          else if (init === "zeros") value = tf.zeros(shape);
          else if (init === "ones") value = tf.ones(shape);
          else if (init === "glorotNormal") {
            value = tf.initializers.glorotNormal({ seed }).apply(shape);
          } else if (init === "heNormal") value = tf.initializers.heNormal({ seed }).apply(shape);
          else value = tf.initializers.glorotUniform({ seed }).apply(shape);
          return tf.variable(value, opts.trainable ?? true, `estimator${this.#id}/${name}`);
        });
        this.#pending.delete(name);
        this.#vars.set(name, v);
        return v;
      },
    };
  }

  /** Load the latest checkpoint (if any): values for existing variables now, others on creation. */
  async #restore(required: boolean): Promise<void> {
    const path = await this.latestCheckpoint();
    if (!path) {
      if (required) {
        throw new EstimatorError(
          `no checkpoint in ${this.modelDir}: train first (evaluate and predict read the latest one)`,
        );
      }
      return;
    }
    if (path === this.#restoredFrom) return;
    const ckpt = await readCheckpoint(path);
    this.#pending.clear();
    const optNames = (ckpt.metadata.optimizerWeights ?? []) as string[];
    this.#pendingOptimizer = this.#optimizer || optNames.length === 0
      ? null
      : optNames.map((name, i) => {
        const e = ckpt.entries.find((x) => x.name === `${OPTIMIZER_PREFIX}${i}`);
        if (!e) throw new EstimatorError(`${path}: optimizer weight ${i} (${name}) is missing`);
        return { name, values: ckpt.values.get(e.name)!, shape: e.shape, dtype: e.dtype };
      });
    tf.tidy(() => {
      for (const [name, values] of ckpt.values) {
        if (name.startsWith(OPTIMIZER_PREFIX)) continue;
        const entry = ckpt.entries.find((e) => e.name === name)!;
        const v = this.#vars.get(name);
        if (v) v.assign(tf.tensor(values as Float32Array, entry.shape, "float32"));
        else this.#pending.set(name, { values, shape: entry.shape });
      }
    });
    this.#globalStep = Number(ckpt.metadata.globalStep ?? 0);
    this.#restoredFrom = path;
  }

  async #save(): Promise<string> {
    await Deno.mkdir(this.modelDir, { recursive: true });
    const name = `model.ckpt-${this.#globalStep}`;
    const path = `${this.modelDir}/${name}`;
    // The optimizer's slots (Adam's moments, its step count) go in too, by position, with
    // their names (engine prefix stripped) in the metadata.
    const optWeights = this.#optimizer ? await this.#optimizer.getWeights() : [];
    const prefix = `estimator${this.#id}/`;
    const temps = optWeights.map((w, i) =>
      tf.variable(w.tensor, false, `${prefix}${OPTIMIZER_PREFIX}${i}#${Date.now()}`)
    );
    try {
      await saveVariables(path, {
        ...Object.fromEntries(this.#vars),
        ...Object.fromEntries(temps.map((t, i) => [`${OPTIMIZER_PREFIX}${i}`, t])),
      }, {
        metadata: {
          globalStep: this.#globalStep,
          savedAt: new Date().toISOString(),
          optimizerWeights: optWeights.map((w) => w.name.replace(prefix, "")),
        },
      });
    } finally {
      tf.dispose(temps);
      // getWeights returns a fresh scalar for the iteration count; the rest are the slots themselves.
      if (optWeights[0]?.name === "iter") optWeights[0].tensor.dispose();
    }
    let all: string[] = [];
    try {
      all = parseIndex(await Deno.readTextFile(`${this.modelDir}/checkpoint`)).all;
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
    }
    all = [...all.filter((p) => p !== name), name];
    const drop = all.slice(0, Math.max(0, all.length - this.config.keepCheckpointMax));
    all = all.slice(drop.length);
    const index = `model_checkpoint_path: "${name}"\n` +
      all.map((p) => `all_model_checkpoint_paths: "${p}"\n`).join("");
    await writeFileAtomic(`${this.modelDir}/checkpoint`, index);
    for (const p of drop) await Deno.remove(`${this.modelDir}/${p}`).catch(() => {});
    this.#restoredFrom = path;
    return path;
  }

  #call(b: InputBatch, mode: Mode): EstimatorSpec {
    const { features, labels } = unpack(b);
    const spec = this.#modelFn(features, labels, mode, this.#context());
    if (mode !== "infer" && !(spec.loss instanceof tf.Tensor && spec.loss.rank === 0)) {
      throw new EstimatorError(`modelFn returned no scalar loss in mode "${mode}"`);
    }
    return spec;
  }

  /**
   * Run `steps` more training steps (TF: `estimator.train(input_fn, steps=...)`),
   * resuming from the latest checkpoint in `modelDir`. Returns the final
   * global step and the mean loss of this call.
   */
  async train(
    inputFn: InputFn,
    opts: { steps: number; callbacks?: TrainingCallback[] },
  ): Promise<{ globalStep: number; loss: number; checkpoint: string }> {
    const steps = opts.steps;
    if (!(Number.isInteger(steps) && steps > 0)) {
      throw new EstimatorError(`train: steps must be a positive integer, got ${steps}`);
    }
    await this.#restore(false);
    const callbacks = opts.callbacks ?? [];
    const writer = summaryFileWriter(this.modelDir);
    for (const cb of callbacks) await cb.onTrainBegin?.({ epochs: 1, stepsPerEpoch: steps });
    for (const cb of callbacks) await cb.onEpochBegin?.(0);
    let done = 0, lossSum = 0, samples = 0, lastLoss = NaN;
    const t0 = performance.now();
    while (done < steps) {
      let yielded = 0;
      for await (const batch of iterate(inputFn)) {
        yielded++;
        try {
          if (this.#vars.size === 0) tf.tidy(() => void this.#call(batch, "train")); // build
          let spec: EstimatorSpec | undefined;
          const trainable = [...this.#vars.values()].filter((v) => v.trainable);
          const { value, grads } = tf.variableGrads(() => {
            spec = this.#call(batch, "train");
            return spec.loss!;
          }, trainable);
          if (!this.#optimizer) {
            const o = spec?.optimizer;
            if (!o) throw new EstimatorError('modelFn returned no optimizer in mode "train"');
            this.#optimizer = typeof o === "function" ? o() : o;
            if (this.#pendingOptimizer) {
              const prefix = `estimator${this.#id}/`;
              const named = this.#pendingOptimizer.map((w) => ({
                name: w.name === "iter" ? w.name : `${prefix}${w.name}`,
                tensor: tf.tensor(w.values as Float32Array, w.shape, w.dtype as "float32"),
              }));
              await this.#optimizer.setWeights(named);
              tf.dispose(named.map((n) => n.tensor));
              this.#pendingOptimizer = null;
            }
          }
          this.#optimizer.applyGradients(grads);
          tf.dispose(grads);
          lastLoss = (await value.data())[0];
          value.dispose();
        } finally {
          disposeBatch(batch);
        }
        const size = unpack(batch).features.shape[0] ?? 1;
        this.#globalStep++;
        lossSum += lastLoss * size;
        samples += size;
        if (this.#globalStep % this.config.saveSummarySteps === 0) {
          writer.scalar("loss", lastLoss, this.#globalStep);
          const secs = (performance.now() - t0) / 1000;
          writer.scalar("global_step/sec", (done + 1) / secs, this.#globalStep);
        }
        for (const cb of callbacks) await cb.onBatchEnd?.(done, { loss: lastLoss, size });
        done++;
        if (this.#globalStep % this.config.saveCheckpointsSteps === 0 && done < steps) {
          await this.#save();
        }
        if (done >= steps) break;
      }
      if (yielded === 0) throw new EstimatorError("train: inputFn yielded no batches");
    }
    const checkpoint = await this.#save();
    writer.flush();
    const logs: Logs = { loss: lossSum / samples };
    for (const cb of callbacks) await cb.onEpochEnd?.(0, logs);
    for (const cb of callbacks) await cb.onTrainEnd?.(logs);
    return { globalStep: this.#globalStep, loss: logs.loss, checkpoint };
  }

  /**
   * Evaluate the latest checkpoint: mean loss and `evalMetrics` over the
   * batches (at most `steps` of them), written to `modelDir/eval`.
   */
  async evaluate(
    inputFn: InputFn,
    opts: { steps?: number } = {},
  ): Promise<Record<string, number> & { loss: number; globalStep: number }> {
    await this.#restore(true);
    const sums: Record<string, number> = {};
    let n = 0, batches = 0;
    for await (const batch of iterate(inputFn)) {
      if (opts.steps !== undefined && batches >= opts.steps) {
        disposeBatch(batch);
        break;
      }
      try {
        const size = unpack(batch).features.shape[0] ?? 1;
        const values = tf.tidy(() => {
          const spec = this.#call(batch, "eval");
          const named: Record<string, tf.Scalar> = {
            loss: spec.loss!,
            ...(spec.evalMetrics ?? {}),
          };
          const keys = Object.keys(named);
          return { keys, stacked: tf.stack(keys.map((k) => named[k].toFloat())) };
        });
        const data = await values.stacked.data();
        values.stacked.dispose();
        values.keys.forEach((k, i) => (sums[k] = (sums[k] ?? 0) + data[i] * size));
        n += size;
        batches++;
      } finally {
        disposeBatch(batch);
      }
    }
    if (n === 0) throw new EstimatorError("evaluate: inputFn yielded no batches");
    const result: Record<string, number> = {};
    for (const [k, s] of Object.entries(sums)) result[k] = s / n;
    const w = summaryFileWriter(`${this.modelDir}/eval`);
    for (const [k, v] of Object.entries(result)) w.scalar(k, v, this.#globalStep);
    w.flush();
    return { ...result, loss: result.loss, globalStep: this.#globalStep };
  }

  /** Predictions of the latest checkpoint, one record per example (at most `limit`). */
  async predict(
    inputFn: InputFn,
    opts: { limit?: number } = {},
  ): Promise<Record<string, number | number[]>[]> {
    await this.#restore(true);
    const out: Record<string, number | number[]>[] = [];
    const limit = opts.limit ?? Infinity;
    for await (const batch of iterate(inputFn)) {
      if (out.length >= limit) {
        disposeBatch(batch);
        break;
      }
      try {
        const preds = tf.tidy(() => {
          const p = this.#call(batch, "infer").predictions;
          if (!p) throw new EstimatorError('modelFn returned no predictions in mode "infer"');
          return p instanceof tf.Tensor ? { predictions: p } : { ...p };
        });
        const arrays: Record<string, { data: ArrayLike<number>; per: number }> = {};
        for (const [k, t] of Object.entries(preds)) {
          arrays[k] = { data: await t.data() as ArrayLike<number>, per: t.size / t.shape[0] };
          t.dispose();
        }
        const count = unpack(batch).features.shape[0] ?? 1;
        for (let i = 0; i < count && out.length < limit; i++) {
          const rec: Record<string, number | number[]> = {};
          for (const [k, { data, per }] of Object.entries(arrays)) {
            rec[k] = per === 1 ? data[i] : Array.from({ length: per }, (_, j) => data[i * per + j]);
          }
          out.push(rec);
        }
      } finally {
        disposeBatch(batch);
      }
    }
    return out;
  }

  /** Free the variables and the optimizer. */
  dispose(): void {
    for (const v of this.#vars.values()) v.dispose();
    this.#vars.clear();
    this.#optimizer?.dispose();
    this.#optimizer = null;
    this.#pendingOptimizer = null;
    this.#restoredFrom = null;
  }
}
