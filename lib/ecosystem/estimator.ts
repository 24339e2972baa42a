/**
 * An Estimator in the spirit of `tf.estimator.Estimator`: a `modelFn` that
 * builds the model for a mode, an `inputFn` that feeds batches, and a model
 * directory that holds checkpoints and TensorBoard summaries.
 *
 * - `train(inputFn, { steps })` runs `steps` more optimizer steps, writing
 *   `model.ckpt-<globalStep>` every `saveCheckpointsSteps` and at the end,
 *   and a `checkpoint` index file naming the latest (TensorFlow's own text
 *   format), the two committed as one atomic write (`commitFiles`: the
 *   checkpoint first, the index renamed last), then removing checkpoints
 *   beyond `keepCheckpointMax` (0 keeps all). A new Estimator on the same
 *   `modelDir` resumes from it: the weights, the optimizer state, the global
 *   step and the input position continue.
 * - The input position is the pass over the data (`epoch`, handed to the
 *   inputFn, which seeds its shuffle with it) and the batches of that pass
 *   already trained on, which a resumed run skips. So a resumed run trains on
 *   exactly the batches an uninterrupted one would, and ends with the same
 *   weights. (TensorFlow's `estimator.train` calls `input_fn` afresh on each
 *   call and restarts the data; resuming the position is what checkpointing a
 *   `tf.data` iterator, `tf.train.Checkpoint(iterator=it)`, does.)
 * - Only this Estimator's own files are read or deleted: names from the index
 *   must be `model.ckpt-<step>` in `modelDir` (an absolute path is accepted
 *   when it names such a file there, as TensorFlow writes them); a latest
 *   entry that is anything else is an {@linkcode EstimatorError}, other
 *   entries are ignored, and a checkpoint that is a symlink out of `modelDir`
 *   is refused.
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
 * the global step and the input position in the metadata, so a resumed run
 * continues exactly where the interrupted one stopped.
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
import { isAbsolute, join, resolve } from "node:path";
import { commitFiles } from "../io/atomic.ts";
import { describeFsError, readAtMost, resolveInside, statRegularFile } from "../io/safe_path.ts";
import { CheckpointError, encodeCheckpoint, readCheckpoint } from "../variables.ts";
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

/** What the Estimator tells an inputFn: which pass over the data this is. */
export interface InputContext {
  /**
   * The pass (epoch) over the data, counted from 0 across resumes: seed a
   * shuffle with it (`ds.batches(64, { shuffle: true, seed: 1 + epoch })`) to
   * reshuffle each pass and still resume exactly. 0 for evaluate and predict.
   */
  epoch: number;
}

/**
 * Returns the batches of one pass (called again when they run out during
 * training). It must give the same batches for the same `ctx.epoch`: a
 * resumed run skips the batches of the current pass already trained on.
 */
export type InputFn = (
  ctx: InputContext,
) => Iterable<InputBatch> | AsyncIterable<InputBatch>;

/** `tf.estimator.RunConfig`. */
export interface RunConfig {
  /** Save a checkpoint every this many global steps (and always at the end). Default 100. */
  saveCheckpointsSteps?: number;
  /**
   * Keep this many recent checkpoints; older ones are deleted. Default 5; 0
   * keeps all (TensorFlow's `keep_checkpoint_max=0` or `None`).
   */
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

/**
 * Thrown for a bad modelFn result, an empty input, a missing checkpoint, a bad
 * `config` value, a `modelDir` that is a file, or a `checkpoint` index whose
 * latest entry is not one of this Estimator's own checkpoints.
 */
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

async function* iterate(fn: InputFn, ctx: InputContext): AsyncGenerator<InputBatch> {
  yield* fn(ctx) as AsyncIterable<InputBatch>;
}

/** The index file's name (TensorFlow's). */
const INDEX = "checkpoint";
/** The largest index file read: it holds a few names. */
const MAX_INDEX_BYTES = 1 << 20;
/** The names of this Estimator's checkpoint files. */
const OWN_CHECKPOINT = /^model\.ckpt-(\d{1,15})$/;

/** Parse TensorFlow's `checkpoint` index file (text proto) for the latest path. */
function parseIndex(text: string): { latest: string | null; all: string[] } {
  const latest = /^model_checkpoint_path:\s*"([^"]*)"/m.exec(text)?.[1] ?? null;
  const all = [...text.matchAll(/^all_model_checkpoint_paths:\s*"([^"]*)"/gm)].map((m) => m[1]);
  return { latest, all };
}

function wholeAtLeast(name: string, v: unknown, min: number): number {
  if (!(typeof v === "number" && Number.isInteger(v) && v >= min)) {
    throw new EstimatorError(
      `Estimator: config.${name} must be a whole number >= ${min}, got ${String(v)}` +
        (name === "keepCheckpointMax"
          ? " (0 keeps every checkpoint, as TensorFlow's keep_checkpoint_max=0 or None)"
          : ""),
    );
  }
  return v;
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
  /** The input position: the pass over the data, and the batches of it already trained on. */
  #epoch = 0;
  #batchInEpoch = 0;
  #restoredFrom: string | null = null;

  constructor(opts: EstimatorOptions) {
    if (typeof opts.modelFn !== "function") {
      throw new EstimatorError(
        "Estimator: modelFn must be a function (features, labels, mode, ctx)",
      );
    }
    if (typeof opts.modelDir !== "string" || opts.modelDir === "") {
      throw new EstimatorError("Estimator: modelDir is required");
    }
    this.#modelFn = opts.modelFn;
    this.modelDir = opts.modelDir.length > 1 ? opts.modelDir.replace(/\/+$/, "") : opts.modelDir;
    this.params = opts.params ?? {};
    const c = opts.config ?? {};
    this.config = {
      saveCheckpointsSteps: wholeAtLeast("saveCheckpointsSteps", c.saveCheckpointsSteps ?? 100, 1),
      keepCheckpointMax: wholeAtLeast("keepCheckpointMax", c.keepCheckpointMax ?? 5, 0),
      saveSummarySteps: wholeAtLeast("saveSummarySteps", c.saveSummarySteps ?? 10, 1),
      seed: c.seed ?? 42,
    };
    try {
      if (!Deno.statSync(this.modelDir).isDirectory) {
        throw new EstimatorError(
          `Estimator: modelDir ${this.modelDir} is a file, not a folder; checkpoints and ` +
            "summaries go into a folder: choose another path",
        );
      }
    } catch (e) {
      if (e instanceof EstimatorError) throw e;
      const d = describeFsError(this.modelDir, e);
      if (d.fault !== "missing") {
        throw new EstimatorError(`Estimator: modelDir ${this.modelDir}: ${d.message}`);
      }
    }
  }

  /** Optimizer steps taken so far (restored from the latest checkpoint on the next call). */
  get globalStep(): number {
    return this.#globalStep;
  }

  /** The variables the modelFn created, by name. */
  get variables(): ReadonlyMap<string, tf.Variable> {
    return this.#vars;
  }

  /**
   * Reads the `checkpoint` index: the latest checkpoint's name and all listed
   * ones, keeping only names of this Estimator's own files in `modelDir`
   * (`model.ckpt-<step>`, relative, or absolute naming a file directly in
   * `modelDir`, as TensorFlow writes them); anything else is never read or
   * deleted. A latest entry that is not such a name is an EstimatorError.
   */
  async #readIndex(): Promise<{ latest: string | null; all: string[] }> {
    const path = join(this.modelDir, INDEX);
    const fail = (fault: string, message: string) =>
      fault === "missing"
        ? new Deno.errors.NotFound(message)
        : new EstimatorError(`${path}: ${message}`);
    let text: string;
    try {
      const info = await statRegularFile(path, fail);
      if (info.size > MAX_INDEX_BYTES) {
        throw new EstimatorError(`${path}: ${info.size} bytes is too large for a checkpoint index`);
      }
      text = new TextDecoder().decode(await readAtMost(path, info.size, fail));
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) return { latest: null, all: [] };
      throw e;
    }
    const { latest, all } = parseIndex(text);
    const own = (p: string): string | null => {
      let name = p;
      if (isAbsolute(p)) {
        if (resolve(p, "..") !== resolve(this.modelDir)) return null;
        name = p.slice(p.lastIndexOf("/") + 1);
      }
      return OWN_CHECKPOINT.test(name) ? name : null;
    };
    const latestName = latest ? own(latest) : null;
    if (latest && latestName === null) {
      throw new EstimatorError(
        `${path}: model_checkpoint_path "${latest}" is not a checkpoint of this Estimator ` +
          `(model.ckpt-<step> in ${this.modelDir}); it is not read. Fix or delete the index file`,
      );
    }
    const names = all.map(own).filter((n): n is string => n !== null);
    return { latest: latestName, all: [...new Set(names)] };
  }

  /** The path of the latest checkpoint in `modelDir`, or null. */
  async latestCheckpoint(): Promise<string | null> {
    const { latest } = await this.#readIndex();
    return latest === null ? null : `${this.modelDir}/${latest}`;
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
    // Inside modelDir, a regular file (no symlink out, no FIFO), before a byte is read.
    await resolveInside(
      this.modelDir,
      path.slice(this.modelDir.length + 1),
      (_fault, message) => new CheckpointError(path, message),
    );
    const ckpt = await readCheckpoint(path);
    const meta = ckpt.metadata;
    const globalStep = Number(meta.globalStep ?? 0);
    const input = (meta.input ?? { epoch: 0, batch: 0 }) as { epoch?: unknown; batch?: unknown };
    const optOk = meta.optimizerWeights === undefined ||
      (Array.isArray(meta.optimizerWeights) &&
        meta.optimizerWeights.every((n) => typeof n === "string"));
    if (
      !Number.isSafeInteger(globalStep) || globalStep < 0 || !optOk ||
      !Number.isSafeInteger(input.epoch) || (input.epoch as number) < 0 ||
      !Number.isSafeInteger(input.batch) || (input.batch as number) < 0
    ) {
      throw new CheckpointError(
        path,
        "metadata (globalStep, input position or optimizerWeights) is not what an Estimator writes",
      );
    }
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
    this.#globalStep = globalStep;
    this.#epoch = input.epoch as number;
    this.#batchInEpoch = input.batch as number;
    this.#restoredFrom = path;
  }

  /**
   * Writes `model.ckpt-<globalStep>` and the index naming it as one atomic
   * commit (the checkpoint first, the index renamed last), then removes the
   * checkpoints beyond `keepCheckpointMax`: only this Estimator's own files.
   */
  async #save(): Promise<string> {
    try {
      await Deno.mkdir(this.modelDir, { recursive: true });
    } catch (e) {
      throw new EstimatorError(
        `Estimator: cannot create modelDir ${this.modelDir}: ${
          describeFsError(this.modelDir, e).message
        }`,
      );
    }
    const name = `model.ckpt-${this.#globalStep}`;
    const path = `${this.modelDir}/${name}`;
    // The optimizer's slots (Adam's moments, its step count) go in too, by position, with
    // their names (engine prefix stripped) in the metadata.
    const optWeights = this.#optimizer ? await this.#optimizer.getWeights() : [];
    const prefix = `estimator${this.#id}/`;
    const temps = optWeights.map((w, i) =>
      tf.variable(w.tensor, false, `${prefix}${OPTIMIZER_PREFIX}${i}#${Date.now()}`)
    );
    let bytes: Uint8Array;
    try {
      bytes = (await encodeCheckpoint(path, {
        ...Object.fromEntries(this.#vars),
        ...Object.fromEntries(temps.map((t, i) => [`${OPTIMIZER_PREFIX}${i}`, t])),
      }, {
        metadata: {
          globalStep: this.#globalStep,
          // Where the input stands, so that a resumed run trains on the same next batch.
          input: { epoch: this.#epoch, batch: this.#batchInEpoch },
          savedAt: new Date().toISOString(),
          optimizerWeights: optWeights.map((w) => w.name.replace(prefix, "")),
        },
      })).bytes;
    } finally {
      tf.dispose(temps);
      // getWeights returns a fresh scalar for the iteration count; the rest are the slots themselves.
      if (optWeights[0]?.name === "iter") optWeights[0].tensor.dispose();
    }
    let all = (await this.#readIndex().catch(() => ({ all: [] as string[] }))).all;
    all = [...all.filter((p) => p !== name), name];
    const keep = this.config.keepCheckpointMax;
    const drop = keep === 0 ? [] : all.slice(0, Math.max(0, all.length - keep));
    all = all.slice(drop.length);
    const index = `model_checkpoint_path: "${name}"\n` +
      all.map((p) => `all_model_checkpoint_paths: "${p}"\n`).join("");
    try {
      await commitFiles(this.modelDir, {
        parts: [{ name, data: bytes }],
        manifest: { name: INDEX, data: index },
        obsolete: drop,
      });
    } catch (e) {
      throw new CheckpointError(path, `could not be written: ${(e as Error).message}`);
    }
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
      // Resume inside the pass: skip the batches of it already trained on.
      const skip = this.#batchInEpoch;
      let index = 0;
      let ended = true;
      for await (const batch of iterate(inputFn, { epoch: this.#epoch })) {
        index++;
        if (index <= skip) {
          disposeBatch(batch);
          continue;
        }
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
            if (!o) {
              tf.dispose([value, ...Object.values(grads)]);
              throw new EstimatorError('modelFn returned no optimizer in mode "train"');
            }
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
        this.#batchInEpoch = index;
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
        if (done >= steps) {
          ended = false;
          break;
        }
      }
      if (ended) {
        if (index === 0) throw new EstimatorError("train: inputFn yielded no batches");
        this.#epoch++;
        this.#batchInEpoch = 0;
      }
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
    for await (const batch of iterate(inputFn, { epoch: 0 })) {
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
    for await (const batch of iterate(inputFn, { epoch: 0 })) {
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
    this.#epoch = 0;
    this.#batchInEpoch = 0;
  }
}
