/**
 * `deno task train`: the command-line smoke job. Picks a backend, loads MNIST
 * (the full 60,000 training digits, or a 10,000-digit subset with `QUICK=1`),
 * trains a small MLP with `model.fitDataset` on seeded, shuffled batches from
 * the byte-backed `Dataset`, and prints the backend report, loss and accuracy
 * per epoch and the accuracy on the 10,000 test digits.
 *
 * @example
 * ```sh
 * deno task train                          # full MNIST, 2 epochs, best backend
 * QUICK=1 deno task train                  # 10,000 training digits
 * deno task train --epochs 1 --limit 5000 --backend cpu
 * ```
 *
 * @module
 */
import { parseArgs } from "node:util";
import * as tf from "@tensorflow/tfjs";
import { type BackendName, initBackend } from "../lib/backend.ts";
import { type Dataset, loadMnist } from "../lib/data/mod.ts";
import { quick } from "../lib/mode.ts";

const USAGE = `usage: deno task train [--epochs N] [--limit N] [--batch-size N] [--seed N]
                       [--backend webgpu|wasm|cpu]
  --epochs      passes over the training set (default 2)
  --limit       training digits to use (default: all 60,000; 10,000 with QUICK=1)
  --batch-size  digits per step (default 128)
  --seed        seed of the subset, the shuffles and the initial weights (default 1)
  --backend     force a backend (default: the best available; also TFJS_BACKEND)`;

/** Options of {@linkcode train}. */
export interface TrainOptions {
  epochs: number;
  limit?: number;
  batchSize: number;
  seed: number;
  backend?: BackendName;
  /** Where lines go (default console.log). */
  log?: (line: string) => void;
}

/** What {@linkcode train} measured. */
export interface TrainResult {
  backend: BackendName;
  trainCount: number;
  testAccuracy: number;
  epochs: { loss: number; acc: number; seconds: number }[];
  loadSeconds: number;
}

/** Thrown for a bad command-line flag. */
export class UsageError extends Error {
  /** True when the user asked for `--help` (not an error: exit 0). */
  readonly help: boolean;
  constructor(message: string, help = false) {
    super(`${message}\n${USAGE}`);
    this.name = "UsageError";
    this.help = help;
  }
}

function positiveInt(name: string, value: string | undefined, fallback?: number): number {
  if (value === undefined) {
    if (fallback === undefined) throw new UsageError(`--${name} needs a value`);
    return fallback;
  }
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) {
    throw new UsageError(`--${name} ${value}: expected a positive whole number`);
  }
  return n;
}

function seedOf(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) {
    throw new UsageError(`--seed ${value}: expected a whole number, 0 or more`);
  }
  return n;
}

/** Parse the command line into {@linkcode TrainOptions}. */
export function parseTrainArgs(args: string[]): TrainOptions {
  let values;
  try {
    ({ values } = parseArgs({
      args,
      options: {
        epochs: { type: "string" },
        limit: { type: "string" },
        "batch-size": { type: "string" },
        seed: { type: "string" },
        backend: { type: "string" },
        help: { type: "boolean", short: "h" },
      },
    }));
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  if (values.help) {
    throw new UsageError("deno task train: train and evaluate an MLP on MNIST", true);
  }
  const backend = values.backend as BackendName | undefined;
  if (backend !== undefined && !["webgpu", "wasm", "cpu"].includes(backend)) {
    throw new UsageError(`--backend ${backend}: expected webgpu, wasm or cpu`);
  }
  return {
    epochs: positiveInt("epochs", values.epochs, 2),
    limit: values.limit !== undefined
      ? positiveInt("limit", values.limit)
      : (quick ? 10_000 : undefined),
    batchSize: positiveInt("batch-size", values["batch-size"], 128),
    seed: values.seed !== undefined ? seedOf(values.seed) : 1,
    backend,
  };
}

/**
 * The smoke job's model: an MLP 784-128-10 (Glorot-uniform kernels seeded
 * with `seeds`), compiled with Adam(0.002) and categorical cross-entropy. The
 * optimizer is returned too: the model does not own it, so dispose both.
 */
export function compiledMlp(
  seeds: [number, number],
): { model: tf.Sequential; optimizer: tf.Optimizer } {
  const init = (seed: number) => tf.initializers.glorotUniform({ seed });
  const model = tf.sequential({
    layers: [
      tf.layers.flatten({ inputShape: [28, 28, 1] }),
      tf.layers.dense({ units: 128, activation: "relu", kernelInitializer: init(seeds[0]) }),
      tf.layers.dense({ units: 10, activation: "softmax", kernelInitializer: init(seeds[1]) }),
    ],
  });
  const optimizer = tf.train.adam(0.002);
  model.compile({ optimizer, loss: "categoricalCrossentropy", metrics: ["acc"] });
  return { model, optimizer };
}

/** A tf.data dataset over `ds`'s batches, reshuffled (seed `seed + epoch`) on each pass. */
export function shuffledBatches(
  ds: Dataset,
  batchSize: number,
  seed: number,
): tf.data.Dataset<{ xs: tf.Tensor; ys: tf.Tensor }> {
  let epoch = 0;
  return tf.data.generator(function* () {
    for (const { xs, ys } of ds.batches(batchSize, { shuffle: true, seed: seed + epoch })) {
      yield { xs, ys };
    }
    epoch++;
  });
}

/** The fraction of `ds` that `model` classifies right, in batches of 1000 (no tensors left). */
export function accuracy(model: tf.LayersModel, ds: Dataset): number {
  let correct = 0;
  for (const { xs, ys, labels, size } of ds.batches(1000)) {
    const predicted = tf.tidy(() => (model.predict(xs) as tf.Tensor).argMax(1).dataSync());
    for (let i = 0; i < size; i++) if (predicted[i] === labels[i]) correct++;
    tf.dispose([xs, ys]);
  }
  return correct / ds.count;
}

/** Train and evaluate the MLP; prints as it goes. */
export async function train(options: TrainOptions): Promise<TrainResult> {
  const log = options.log ?? console.log;
  const report = await initBackend(options.backend ? { prefer: options.backend } : {});
  log(`backend: ${report.backend} (${report.reason})`);
  for (const a of report.attempts) {
    log(`  ${a.name.padEnd(6)} ${a.ok ? "ok" : "no"}  ${a.reason} [${a.ms.toFixed(0)} ms]`);
  }
  if (report.wasm.simd !== null) {
    log(`  wasm: simd ${report.wasm.simd}, ${report.wasm.threads} thread(s)`);
  }

  const t0 = performance.now();
  const { train, test, source } = await loadMnist({ limit: options.limit, seed: options.seed });
  const loadSeconds = (performance.now() - t0) / 1000;
  log(
    `data: ${train.count} training and ${test.count} test digits from ${source} ` +
      `in ${loadSeconds.toFixed(2)} s`,
  );

  const { model, optimizer } = compiledMlp([options.seed * 100 + 1, options.seed * 100 + 2]);
  log(
    `model: MLP 784-128-10, ${model.countParams()} parameters, ` +
      `batch ${options.batchSize}, ${options.epochs} epoch(s)`,
  );

  const data = shuffledBatches(train, options.batchSize, options.seed * 1000);
  const epochs: TrainResult["epochs"] = [];
  let epochStart = 0;
  await model.fitDataset(data, {
    epochs: options.epochs,
    verbose: 0,
    callbacks: {
      onEpochBegin: () => {
        epochStart = performance.now();
      },
      onEpochEnd: (e, logs) => {
        const seconds = (performance.now() - epochStart) / 1000;
        const loss = logs?.loss ?? NaN;
        const acc = logs?.acc ?? NaN;
        epochs.push({ loss, acc, seconds });
        log(
          `epoch ${e + 1}/${options.epochs}: loss ${loss.toFixed(4)}, acc ${acc.toFixed(4)}, ` +
            `${seconds.toFixed(1)} s (${(train.count / seconds).toFixed(0)} digits/s), ` +
            `tensors ${tf.memory().numTensors}`,
        );
      },
    },
  });
  const testAccuracy = accuracy(model, test);
  log(`test accuracy: ${(testAccuracy * 100).toFixed(2)}% on ${test.count} digits`);
  model.dispose();
  optimizer.dispose();
  return { backend: report.backend, trainCount: train.count, testAccuracy, epochs, loadSeconds };
}

if (import.meta.main) {
  try {
    await train(parseTrainArgs(Deno.args));
  } catch (e) {
    if (e instanceof UsageError) {
      if (e.help) {
        console.log(e.message);
        Deno.exit(0);
      }
      console.error(e.message);
      Deno.exit(2);
    }
    throw e;
  }
}
