/**
 * `model_to_estimator`'s idea: a Keras model driven by an Estimator. The
 * Keras model supplies the architecture and the initial weights; the
 * Estimator owns the variables (checkpointed by layer name, as
 * `tf.keras.estimator.model_to_estimator` named them after the Keras
 * weights), the training loop, evaluation and prediction.
 *
 * `kerasModelFn(model)` turns a Sequential model of `Flatten`, `Dense` and
 * `Dropout` layers (the MLP of chapter 5) into a {@linkcode ModelFn}: each
 * Dense layer's kernel and bias become `ctx.getVariable("<layer>/kernel")`
 * and `"<layer>/bias"`, initialised from the Keras model's current weights;
 * the loss is softmax cross-entropy on the last layer's logits, and the
 * optimizer Adam with `params.learningRate` (default 1e-3).
 *
 * `tf.estimator` (and `model_to_estimator` with it) was removed in
 * TensorFlow 2.16; Keras' `fit` with `tf.distribute` and
 * `tf.train.Checkpoint` replaced it.
 *
 * @example
 * ```ts
 * import { Estimator } from "./estimator.ts";
 * import { kerasModelFn } from "./keras_estimator.ts";
 * import { mlp } from "../models/sequential.ts";
 * const keras = mlp({ units: 16, dropout: 0, seed: 1 });
 * const est = new Estimator({ modelFn: kerasModelFn(keras), modelDir: await Deno.makeTempDir() });
 * console.log(typeof est.train); // "function"
 * est.dispose();
 * keras.dispose();
 * ```
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import type { ModelFn } from "./estimator.ts";

/** A Keras model with a layer `kerasModelFn` cannot translate. */
export class ModelToEstimatorError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ModelToEstimatorError";
  }
}

const ACTIVATIONS: Record<string, (x: tf.Tensor) => tf.Tensor> = {
  linear: (x) => x,
  relu: (x) => tf.relu(x),
  sigmoid: (x) => tf.sigmoid(x),
  tanh: (x) => tf.tanh(x),
};

interface Step {
  kind: "flatten" | "dense" | "dropout";
  name: string;
  activation?: string;
  rate?: number;
  kernel?: tf.Tensor;
  bias?: tf.Tensor;
}

/** A {@linkcode ModelFn} that runs `model`'s layers with Estimator-owned variables. */
export function kerasModelFn(model: tf.LayersModel): ModelFn {
  const steps: Step[] = [];
  for (const layer of model.layers) {
    const cls = layer.getClassName();
    const config = layer.getConfig();
    if (cls === "InputLayer") continue;
    if (cls === "Flatten") steps.push({ kind: "flatten", name: layer.name });
    else if (cls === "Dropout") {
      steps.push({ kind: "dropout", name: layer.name, rate: Number(config.rate ?? 0) });
    } else if (cls === "Dense") {
      const activation = String(config.activation ?? "linear");
      if (!(activation in ACTIVATIONS) && activation !== "softmax") {
        throw new ModelToEstimatorError(
          `kerasModelFn: layer "${layer.name}" has activation "${activation}"; ` +
            `use one of ${[...Object.keys(ACTIVATIONS), "softmax"].join(", ")}`,
        );
      }
      if (config.useBias === false) {
        throw new ModelToEstimatorError(
          `kerasModelFn: layer "${layer.name}" has no bias; give it one`,
        );
      }
      const [kernel, bias] = layer.getWeights();
      steps.push({ kind: "dense", name: layer.name, activation, kernel, bias });
    } else {
      throw new ModelToEstimatorError(
        `kerasModelFn: layer "${layer.name}" is a ${cls}; only Flatten, Dense and Dropout ` +
          "layers translate (build the model from those, as mlp() does)",
      );
    }
  }
  const last = steps.findLast((s) => s.kind === "dense");
  if (!last) throw new ModelToEstimatorError("kerasModelFn: the model has no Dense layer");
  return (features, labels, mode, ctx) => {
    let x = features;
    for (const s of steps) {
      if (s.kind === "flatten") x = x.reshape([x.shape[0], -1]);
      else if (s.kind === "dropout") {
        if (mode === "train" && s.rate! > 0) x = tf.dropout(x, s.rate!);
      } else {
        const w = ctx.getVariable(`${s.name}/kernel`, s.kernel!.shape, () => s.kernel!.clone());
        const b = ctx.getVariable(`${s.name}/bias`, s.bias!.shape, () => s.bias!.clone());
        x = x.matMul(w).add(b);
        if (s !== last || s.activation !== "softmax") {
          x = s.activation === "softmax" ? tf.softmax(x) : ACTIVATIONS[s.activation!](x);
        }
      }
    }
    const logits = x;
    const predictions = { classes: logits.argMax(1), probabilities: tf.softmax(logits) };
    if (mode === "infer") return { predictions };
    const loss = tf.losses.softmaxCrossEntropy(labels!, logits) as tf.Scalar;
    const accuracy = tf.metrics.categoricalAccuracy(labels!, logits).mean() as tf.Scalar;
    const lr = Number(ctx.params.learningRate ?? 1e-3);
    return { predictions, loss, optimizer: () => tf.train.adam(lr), evalMetrics: { accuracy } };
  };
}
