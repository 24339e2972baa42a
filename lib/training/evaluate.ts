/**
 * Evaluating a trained classifier on a {@linkcode Dataset}: loss and
 * accuracy, the confusion matrix, per-class precision / recall / F1 and the
 * most confidently wrong examples, ready for `table`, `confusionMatrixPlot`
 * and `imageGrid` from `lib/display`.
 *
 * @example
 * ```ts
 * import { Dataset } from "../data/dataset.ts";
 * import { mlp } from "../models/sequential.ts";
 * import { evaluateModel } from "./evaluate.ts";
 * const labels = Uint8Array.from({ length: 20 }, (_, i) => i % 10);
 * const test = new Dataset(new Uint8Array(20 * 784).fill(128), labels);
 * const ev = await evaluateModel(mlp({ seed: 1 }), test); // untrained: about 10% right
 * console.log(ev.accuracy, ev.loss, ev.confusion.length); // ..., ..., 10
 * console.log(ev.report()[10].class, ev.mistakes(3).length); // "macro avg" 3
 * ```
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import type { Dataset } from "../data/dataset.ts";
import {
  classificationReport,
  type ClassMetrics,
  confidentMistakes,
  confusionMatrix,
  type Mistake,
} from "./metrics.ts";

/** Anything with a `predict` that maps images to class probabilities (a LayersModel does). */
export interface Predictor {
  predict(x: tf.Tensor): tf.Tensor | tf.Tensor[];
}

/** The examples of a set of mistakes, shaped for `imageGrid(images, { labels, predictions })`. */
export interface MistakeImages {
  /** `k × 784` pixels. */
  images: Uint8Array;
  labels: Uint8Array;
  predictions: Uint8Array;
  /** Confidence of each wrong prediction. */
  confidences: number[];
  /** Indices into the evaluated dataset. */
  indices: number[];
}

/** The result of {@linkcode evaluateModel}. */
export interface Evaluation {
  /** Mean categorical cross-entropy (probabilities clipped at 1e-7, as Keras does). */
  loss: number;
  /** Fraction of examples whose most probable class is the label. */
  accuracy: number;
  /** Examples evaluated. */
  count: number;
  /** Predicted class per example. */
  predictions: Uint8Array;
  /** Probability of the predicted class per example. */
  confidences: Float32Array;
  /** True labels (the dataset's). */
  labels: Uint8Array;
  /** `confusion[true][predicted]` counts. */
  confusion: number[][];
  classNames: string[];
  /** Precision, recall, F1 and support per class, then macro and weighted averages. */
  report(): ClassMetrics[];
  /** The `k` most confidently wrong predictions. */
  mistakes(k: number): Mistake[];
  /** The same, with their images, for `imageGrid`. */
  mistakeImages(k: number): MistakeImages;
}

/** Thrown when a model's output does not fit the dataset. */
export class EvaluationError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "EvaluationError";
  }
}

/**
 * Runs `model.predict` over `data` in batches (Keras: `model.evaluate` plus
 * `model.predict` and `argmax`) and gathers everything the evaluation chapter
 * shows. The model must output one probability per class.
 */
export async function evaluateModel(
  model: Predictor,
  data: Dataset,
  options: { batchSize?: number } = {},
): Promise<Evaluation> {
  const batchSize = options.batchSize ?? 500;
  const numClasses = data.classNames.length;
  const predictions = new Uint8Array(data.count);
  const confidences = new Float32Array(data.count);
  let lossSum = 0;
  let correct = 0;
  let offset = 0;
  for (const batch of data.batches(batchSize)) {
    let probs: Float32Array;
    try {
      const out = tf.tidy(() => {
        const y = model.predict(batch.xs);
        return Array.isArray(y) ? y[0] : y;
      });
      if (out.shape.length !== 2 || out.shape[1] !== numClasses) {
        out.dispose();
        throw new EvaluationError(
          `evaluateModel: the model outputs shape [${out.shape}], the dataset has ${numClasses} classes; ` +
            `the model must end in a ${numClasses}-way softmax`,
        );
      }
      probs = (await out.data()) as Float32Array;
      out.dispose();
    } finally {
      tf.dispose([batch.xs, batch.ys]);
    }
    for (let b = 0; b < batch.size; b++) {
      let best = 0;
      for (let c = 1; c < numClasses; c++) {
        if (probs[b * numClasses + c] > probs[b * numClasses + best]) best = c;
      }
      const label = batch.labels[b];
      predictions[offset + b] = best;
      confidences[offset + b] = probs[b * numClasses + best];
      lossSum -= Math.log(Math.min(1 - 1e-7, Math.max(1e-7, probs[b * numClasses + label])));
      if (best === label) correct++;
    }
    offset += batch.size;
  }
  const labels = data.labels;
  const confusion = confusionMatrix(labels, predictions, numClasses);
  const classNames = [...data.classNames];
  const mistakes = (k: number): Mistake[] => confidentMistakes(labels, predictions, confidences, k);
  return {
    loss: lossSum / data.count,
    accuracy: correct / data.count,
    count: data.count,
    predictions,
    confidences,
    labels,
    confusion,
    classNames,
    report: () => classificationReport(confusion, classNames),
    mistakes,
    mistakeImages: (k) => {
      const ms = mistakes(k);
      const size = data.images.length / data.count;
      const images = new Uint8Array(ms.length * size);
      ms.forEach((m, j) =>
        images.set(data.images.subarray(m.index * size, (m.index + 1) * size), j * size)
      );
      return {
        images,
        labels: Uint8Array.from(ms, (m) => m.label),
        predictions: Uint8Array.from(ms, (m) => m.predicted),
        confidences: ms.map((m) => m.confidence),
        indices: ms.map((m) => m.index),
      };
    },
  };
}
