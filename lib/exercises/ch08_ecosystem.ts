/**
 * Checks for the exercises of chapter 8 (the ecosystem).
 *
 * @example
 * ```ts
 * import { checkReplicaLoss } from "./ch08_ecosystem.ts";
 * console.log(checkReplicaLoss((l, n) => l.sum().div(n)).passed); // true
 * ```
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import {
  analyzeNormalization,
  type NormalizationStats,
  normalizationTransform,
} from "../ecosystem/transform.ts";
import type { Schema } from "../ecosystem/validation/schema.ts";
import type { DatasetLike } from "../ecosystem/validation/statistics.ts";
import { validate } from "../ecosystem/validation/validate.ts";
import { GradientTape } from "../tape.ts";
import { answered, attempt, type CheckResult, pass, Wrong } from "./check.ts";

/** 8.1: corrupt a copy of a clean batch (in place) so that validation reports exactly two anomalies. */
export function checkTwoAnomalies(
  corrupt: (images: Uint8Array, labels: Uint8Array) => void,
  schema: Schema,
  clean: DatasetLike,
): CheckResult {
  return attempt("8.1", () => {
    const images = Uint8Array.from(clean.images as Uint8Array);
    const labels = Uint8Array.from(clean.labels);
    corrupt(images, labels);
    const anomalies = validate({ name: "your batch", count: clean.count, images, labels }, schema);
    const kinds = anomalies.map((a) => a.kind).join(", ");
    if (anomalies.length === 0) {
      throw new Wrong(
        "Validation found nothing wrong: the batch is still clean.",
        "change the data: blank two images (images.fill(0, i * 784, (i + 1) * 784)) and put a label out of the domain (labels[k] = 10).",
      );
    }
    if (anomalies.length !== 2) {
      throw new Wrong(
        `Validation reported ${anomalies.length} anomalies (${kinds}), not 2.`,
        anomalies.length > 2
          ? "each kind of fault is one anomaly, and heavy changes move the batch's statistics too (pixel mean, brightness distribution): corrupt only a few examples in two different ways."
          : "add a second kind of fault (a blank image, a saturated one, a duplicate, a label out of the domain).",
      );
    }
    return pass(
      "8.1",
      `Exactly two anomalies: ${anomalies.map((a) => `${a.kind} (${a.description})`).join("; ")}.`,
    );
  });
}

/** 8.2: the per-replica loss whose gradients, summed over replicas, equal the single-device gradient. */
export function checkReplicaLoss(
  replicaLoss: (perExampleLoss: tf.Tensor, globalBatchSize: number) => tf.Tensor | undefined,
): CheckResult {
  return attempt("8.2", () => {
    const x = tf.randomNormal([8, 3], 0, 1, "float32", 11);
    const y = tf.randomNormal([8], 0, 1, "float32", 12);
    const w = tf.tidy(() => tf.variable(tf.tensor1d([0.5, -0.2, 0.1])));
    const perExample = (xs: tf.Tensor, ys: tf.Tensor) =>
      xs.matMul(w.reshape([3, 1])).reshape([-1]).sub(ys).square();
    const grad = (loss: () => tf.Tensor): Float32Array => {
      const tape = new GradientTape();
      const l = tape.record(loss);
      const g = tape.gradient(l, w)!;
      const v = g.dataSync() as Float32Array;
      tf.dispose([l, g]);
      return v;
    };
    try {
      const single = grad(() => perExample(x, y).mean());
      const replicas = [0, 4].map((start) =>
        grad(() => {
          const l = answered(
            replicaLoss(perExample(x.slice(start, 4), y.slice(start, 4)), 8),
            "replicaLoss(...)",
            "divide the sum of the per-example losses by the global batch size.",
          );
          if (l.size !== 1) {
            throw new Wrong(
              `Your loss has shape [${l.shape}], not a scalar.`,
              "reduce it to one number: perExampleLoss.sum().div(globalBatchSize).",
            );
          }
          return l;
        })
      );
      const summed = single.map((_, i) => replicas[0][i] + replicas[1][i]);
      const ratio = summed[0] / single[0];
      if (Math.abs(ratio - 1) > 1e-4) {
        throw new Wrong(
          `Summed over 2 replicas (the all-reduce), your loss gives ${
            ratio.toFixed(2)
          }× the single-device gradient.`,
          ratio > 1.5
            ? "a per-replica mean divides by the replica's batch (4), not the global one (8): divide the sum by the global batch size (tf.nn.compute_average_loss)."
            : "divide the sum of the per-example losses by the global batch size, no more, no less.",
        );
      }
      return pass(
        "8.2",
        "Two replicas' gradients sum to exactly the single-device gradient: each replica divides its sum of losses by the global batch (8), not its own (4).",
      );
    } finally {
      tf.dispose([x, y, w]);
    }
  });
}

/** 8.3: normalise one serving request exactly as training normalised it. */
export function checkServingTransform(
  serve: (stats: NormalizationStats, image: Uint8Array) => Float32Array | undefined,
  trainImages: Uint8Array,
): CheckResult {
  return attempt("8.3", () => {
    const stats = analyzeNormalization(trainImages);
    const training = normalizationTransform(stats)(trainImages);
    let worst = 0;
    for (const i of [0, 1, 2]) {
      const image = trainImages.slice(i * 784, (i + 1) * 784);
      const got = answered(
        serve(stats, image),
        "serveNormalize(stats, image)",
        "return normalizationTransform(stats)(image).",
      );
      if (got.length !== 784) {
        throw new Wrong(
          `You returned ${got.length} values for one 784-pixel image.`,
          "transform the pixels one for one.",
        );
      }
      for (let p = 0; p < 784; p++) {
        worst = Math.max(worst, Math.abs(got[p] - training[i * 784 + p]));
      }
    }
    if (!(worst < 1e-5)) {
      throw new Wrong(
        `Serving differs from training by up to ${
          worst.toFixed(2)
        } per pixel: training/serving skew.`,
        `use the constants analysed on the training set (mean ${stats.mean.toFixed(4)}, std ${
          stats.std.toFixed(4)
        }), not the request's own: normalizationTransform(stats)(image).`,
      );
    }
    return pass(
      "8.3",
      `Each request is normalised with the training set's mean ${stats.mean.toFixed(4)} and std ${
        stats.std.toFixed(4)
      }, so the model sees at serving exactly what it saw in training.`,
    );
  });
}
