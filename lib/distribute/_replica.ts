/**
 * One replica of data-parallel training: a model built from a spec, the loss
 * gradient of a slice of the global batch, and the optimizer step. The Worker
 * (`_worker.ts`) runs one; {@linkcode MirroredStrategy} with `inProcess: true`
 * runs one in the calling thread, which is the single-replica reference.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { buildModel, type ModelSpec } from "./models.ts";

/** Optimizer settings every replica applies identically. */
export interface OptimizerSpec {
  name: "adam" | "sgd";
  learningRate: number;
}

/** Gradients of one replica's slice: summed loss (not yet divided), and counts. */
export interface ReplicaGradients {
  /** All trainable weights' gradients, concatenated in `trainableWeights` order. */
  flat: Float32Array;
  /** Σ cross-entropy over this slice (the mean is taken over the global batch). */
  lossSum: number;
  correct: number;
  count: number;
}

/** Pixels per MNIST-format image. */
export const PIXELS = 784;

/** Bytes (0..255) → a float [n, 28, 28, 1] tensor in [0, 1]. */
export function imagesTensor(images: Uint8Array, count: number): tf.Tensor4D {
  const f = new Float32Array(count * PIXELS);
  for (let i = 0; i < f.length; i++) f[i] = images[i] / 255;
  return tf.tensor4d(f, [count, 28, 28, 1]);
}

/** A model, its optimizer, and the step functions. */
export class ReplicaTrainer {
  readonly model: tf.Sequential;
  readonly optimizer: tf.Optimizer;
  readonly shapes: number[][];
  readonly size: number;

  constructor(spec: ModelSpec, optimizer: OptimizerSpec) {
    this.model = buildModel(spec);
    this.optimizer = optimizer.name === "sgd"
      ? tf.train.sgd(optimizer.learningRate)
      : tf.train.adam(optimizer.learningRate);
    this.shapes = this.model.trainableWeights.map((w) => w.shape as number[]);
    this.size = this.shapes.reduce((a, s) => a + s.reduce((p, q) => p * q, 1), 0);
  }

  /**
   * Gradients of Σ loss / `globalBatch` over this slice, so that the replicas'
   * gradients SUM to the gradient of the global batch's mean loss.
   */
  gradients(images: Uint8Array, labels: Uint8Array, globalBatch: number): ReplicaGradients {
    const count = labels.length;
    if (count === 0) return { flat: new Float32Array(this.size), lossSum: 0, correct: 0, count };
    const vars = this.model.trainableWeights.map((w) => w.read() as tf.Variable);
    const out = tf.tidy(() => {
      const xs = imagesTensor(images, count);
      const ys = tf.oneHot(tf.tensor1d(labels, "int32"), 10);
      let logits: tf.Tensor | undefined;
      const { value, grads } = tf.variableGrads(() => {
        logits = tf.keep(this.model.apply(xs, { training: true }) as tf.Tensor);
        return tf.losses.softmaxCrossEntropy(ys, logits, undefined, undefined, tf.Reduction.SUM)
          .div(globalBatch) as tf.Scalar;
      }, vars);
      const correct = tf.equal(tf.argMax(logits!, 1), tf.argMax(ys, 1)).sum();
      logits!.dispose();
      const flat = tf.concat(vars.map((v) => grads[v.name].reshape([-1])));
      return { value, correct, flat };
    });
    const flat = out.flat.dataSync() as Float32Array;
    const lossSum = out.value.dataSync()[0] * globalBatch;
    const correct = out.correct.dataSync()[0];
    tf.dispose([out.value, out.correct, out.flat]);
    return { flat: new Float32Array(flat), lossSum, correct, count };
  }

  /** Apply one (already averaged) flat gradient with the optimizer. */
  apply(flat: Float32Array): void {
    const vars = this.model.trainableWeights.map((w) => w.read() as tf.Variable);
    tf.tidy(() => {
      let offset = 0;
      const named = vars.map((v, i) => {
        const n = this.shapes[i].reduce((p, q) => p * q, 1);
        const tensor = tf.tensor(flat.subarray(offset, offset + n), this.shapes[i]);
        offset += n;
        return { name: v.name, tensor };
      });
      this.optimizer.applyGradients(named);
    });
  }

  /** Σ loss and correct predictions over a set, in inference mode (batches of 1000). */
  evaluate(images: Uint8Array, labels: Uint8Array): { lossSum: number; correct: number } {
    let lossSum = 0, correct = 0;
    for (let i = 0; i < labels.length; i += 1000) {
      const n = Math.min(1000, labels.length - i);
      const [l, c] = tf.tidy(() => {
        const xs = imagesTensor(images.subarray(i * PIXELS, (i + n) * PIXELS), n);
        const ys = tf.oneHot(tf.tensor1d(labels.subarray(i, i + n), "int32"), 10);
        const logits = this.model.predict(xs) as tf.Tensor;
        return [
          tf.losses.softmaxCrossEntropy(ys, logits, undefined, undefined, tf.Reduction.SUM),
          tf.equal(tf.argMax(logits, 1), tf.argMax(ys, 1)).sum(),
        ];
      });
      lossSum += l.dataSync()[0];
      correct += c.dataSync()[0];
      tf.dispose([l, c]);
    }
    return { lossSum, correct };
  }

  /** All trainable weights, concatenated (a copy). */
  weights(): Float32Array {
    const out = new Float32Array(this.size);
    let offset = 0;
    for (const w of this.model.trainableWeights) {
      const v = w.read().dataSync() as Float32Array;
      out.set(v, offset);
      offset += v.length;
    }
    return out;
  }

  dispose(): void {
    this.model.dispose();
    this.optimizer.dispose();
  }
}
