/**
 * `fitDataset(model, train, { replicas: 2 })`: the same training loop, run
 * data-parallel by {@linkcode MirroredStrategy} on Deno Workers (one core
 * each), with the trained weights copied back into `model`.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import type { Dataset } from "../data/dataset.ts";
import { MirroredStrategy } from "../distribute/mirrored.ts";
import type { OptimizerSpec } from "../distribute/_replica.ts";
import type { History } from "./fit.ts";
import type { TrainingCallback } from "./callbacks.ts";
import type { ModelAwareCallback } from "./model_aware.ts";

/** The parts of `FitDatasetOptions` this path uses (declared here to avoid an import cycle). */
interface MirroredFitInput {
  epochs: number;
  batchSize: number;
  replicas?: number;
  validation?: Dataset;
  callbacks?: TrainingCallback[];
  seed?: number;
  shuffle?: boolean;
}

function optimizerSpec(
  model: tf.LayersModel,
  fail: (why: string) => Error,
): OptimizerSpec {
  const opt = model.optimizer as tf.Optimizer & { learningRate?: number };
  const name = opt.getClassName();
  const learningRate = opt.learningRate;
  if ((name !== "Adam" && name !== "SGD") || typeof learningRate !== "number") {
    throw fail(`replicas > 1 trains with Adam or SGD, but the model is compiled with ${name}`);
  }
  return { name: name === "Adam" ? "adam" : "sgd", learningRate };
}

/**
 * Trains `model` on `train` with `opts.replicas` Worker replicas and returns
 * the per-epoch history; `model`'s trainable weights hold the result.
 * `fail` builds the caller's error type.
 */
export async function fitMirrored(
  model: tf.LayersModel,
  train: Dataset,
  opts: MirroredFitInput,
  fail: (why: string) => Error,
): Promise<History> {
  const callbacks = opts.callbacks ?? [];
  if (callbacks.some((cb) => typeof (cb as Partial<ModelAwareCallback>).setModel === "function")) {
    throw fail(
      "callbacks that need the model (early stopping, learning-rate schedules) cannot reach " +
        "Worker replicas: drop them, or train with replicas: 1",
    );
  }
  const strategy = await MirroredStrategy.create({
    model,
    replicas: opts.replicas,
    optimizer: optimizerSpec(model, fail),
  });
  try {
    const { history } = await strategy.fit(train, {
      epochs: opts.epochs,
      batchSize: opts.batchSize,
      seed: opts.seed ?? 0,
      shuffle: opts.shuffle ?? true,
      callbacks,
      validationData: opts.validation,
    });
    // Replica 0's trainable weights, concatenated in `trainableWeights` order.
    const flat = await strategy.weights(0);
    let offset = 0;
    tf.tidy(() => {
      for (const w of model.trainableWeights) {
        const shape = w.shape as number[]; // a built layer's weights have full shapes
        const size = shape.reduce((a, b) => a * b, 1);
        w.write(tf.tensor(flat.subarray(offset, offset + size), shape));
        offset += size;
      }
    });
    return history;
  } finally {
    await strategy.close();
  }
}
