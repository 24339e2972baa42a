/**
 * One replica of data-parallel training: a model built from a spec, the loss
 * gradient of a slice of the global batch, and the optimizer step. The Worker
 * (`_worker.ts`) runs one; {@linkcode MirroredStrategy} with `inProcess: true`
 * runs one in the calling thread, which is the single-replica reference.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { buildModel, type ModelSpec, ModelSpecError } from "./models.ts";

/**
 * Any tfjs layers model, serialised: its topology (`model.toJSON(null, false)`)
 * and its weights, so that every replica starts from exactly these values.
 */
export interface SerializedModel {
  topology: object;
  weights: { shape: number[]; values: Float32Array }[];
}

/** What a replica builds: a benchmark model by name, or a serialised model. */
export type ReplicaModel = ModelSpec | SerializedModel;

async function materialise(spec: ReplicaModel): Promise<tf.LayersModel> {
  if (!("topology" in spec)) return buildModel(spec);
  const model = await tf.models.modelFromJSON({ modelTopology: spec.topology } as tf.io.ModelJSON);
  tf.tidy(() => model.setWeights(spec.weights.map((w) => tf.tensor(w.values, w.shape))));
  return model;
}

/** Optimizer settings every replica applies identically. */
export interface OptimizerSpec {
  name: "adam" | "sgd";
  learningRate: number;
}

/** What one {@linkcode ReplicaTrainer.step} reports: the slice's loss sum and hits. */
export interface ReplicaStep {
  lossSum: number;
  correct: number;
  count: number;
}

/** Gradients of one replica's slice (before the all-reduce): summed loss, and counts. */
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

let scratch = new Float32Array(0);

/** Bytes (0..255) → a float [n, 28, 28, 1] tensor in [0, 1]. */
export function imagesTensor(images: Uint8Array, count: number): tf.Tensor4D {
  // WASM copies the values into its heap, so one scratch array serves every batch
  // (less garbage, fewer collector pauses); the CPU backend keeps the array it is given.
  const reuse = tf.getBackend() === "wasm";
  if (reuse && scratch.length < count * PIXELS) scratch = new Float32Array(count * PIXELS);
  const f = reuse ? scratch.subarray(0, count * PIXELS) : new Float32Array(count * PIXELS);
  for (let i = 0; i < f.length; i++) f[i] = images[i] / 255;
  return tf.tensor4d(f, [count, 28, 28, 1]);
}

/** How many rows of `scores` (labels.length × classes) have their first maximum at the label. */
export function countCorrect(scores: Float32Array, labels: Uint8Array): number {
  const classes = scores.length / labels.length;
  let correct = 0;
  for (let r = 0; r < labels.length; r++) {
    let best = 0;
    for (let c = 1; c < classes; c++) {
      if (scores[r * classes + c] > scores[r * classes + best]) best = c;
    }
    if (best === labels[r]) correct++;
  }
  return correct;
}

/** Copy `t`'s values into `dst` at `offset` (a view of the WASM heap where possible); the end. */
function copyInto(t: tf.Tensor, dst: Float32Array, offset: number): number {
  const backend = tf.backend() as Partial<{ typedArrayFromHeap(t: tf.TensorInfo): Float32Array }>;
  const values = backend.typedArrayFromHeap && t.dtype === "float32"
    ? backend.typedArrayFromHeap(t)
    : t.dataSync() as Float32Array;
  dst.set(values, offset);
  return offset + values.length;
}

/** A model, its optimizer, and the step functions. */
export class ReplicaTrainer {
  readonly model: tf.LayersModel;
  readonly optimizer: tf.Optimizer;
  readonly shapes: number[][];
  readonly size: number;
  /** The model ends in a softmax: its outputs are probabilities, not logits. */
  readonly probabilities: boolean;
  /** The model's input shape for one example (e.g. [28, 28, 1] or [784]). */
  readonly inputShape: number[];
  #flat: Float32Array | undefined;

  /** Build the model of `spec` and the optimizer. */
  static async create(spec: ReplicaModel, optimizer: OptimizerSpec): Promise<ReplicaTrainer> {
    return new ReplicaTrainer(await materialise(spec), optimizer);
  }

  private constructor(model: tf.LayersModel, optimizer: OptimizerSpec) {
    this.model = model;
    const last = model.layers[model.layers.length - 1]?.getConfig() as { activation?: string };
    this.probabilities = last?.activation === "softmax";
    this.inputShape = (model.inputs[0].shape as (number | null)[]).slice(1) as number[];
    if (this.inputShape.reduce((a, b) => a * b, 1) !== PIXELS) {
      throw new ModelSpecError(
        `the model takes inputs of shape [${this.inputShape}], but mirrored training feeds ` +
          `28x28 images (${PIXELS} values): give it inputShape [28, 28, 1] or [784]`,
      );
    }
    this.optimizer = optimizer.name === "sgd"
      ? tf.train.sgd(optimizer.learningRate)
      : tf.train.adam(optimizer.learningRate);
    this.shapes = this.model.trainableWeights.map((w) => w.shape as number[]);
    this.size = this.shapes.reduce((a, s) => a + s.reduce((p, q) => p * q, 1), 0);
  }

  /**
   * Train `steps` global batches taken in turn from `order` (indices into
   * `data`); this replica takes share `index` of `replicas` of each batch and
   * reports every step to `onStep`.
   */
  runEpoch(
    data: { images: Uint8Array; labels: Uint8Array },
    order: Uint32Array,
    batchSize: number,
    steps: number,
    share: { index: number; replicas: number },
    allReduce: (flat: Float32Array) => Float32Array,
    onStep: (step: number, result: ReplicaStep) => void,
  ): void {
    const most = Math.ceil(batchSize / share.replicas);
    const imageBuffer = new Uint8Array(most * PIXELS), labelBuffer = new Uint8Array(most);
    for (let s = 0; s < steps; s++) {
      const start = s * batchSize, n = Math.min(batchSize, order.length - start);
      const from = start + Math.floor((share.index * n) / share.replicas);
      const to = start + Math.floor(((share.index + 1) * n) / share.replicas);
      const images = imageBuffer.subarray(0, (to - from) * PIXELS);
      const labels = labelBuffer.subarray(0, to - from);
      for (let i = from; i < to; i++) {
        const j = order[i];
        images.set(data.images.subarray(j * PIXELS, (j + 1) * PIXELS), (i - from) * PIXELS);
        labels[i - from] = data.labels[j];
      }
      onStep(s, this.step(images, labels, n, allReduce));
    }
  }

  /**
   * One training step on this replica's slice of a global batch: the gradient
   * of Σloss / globalBatch, summed over all replicas by `allReduce`, then
   * applied with this replica's optimizer. Every replica gets the same sum, so
   * they stay identical.
   */
  step(
    images: Uint8Array,
    labels: Uint8Array,
    globalBatch: number,
    allReduce: (flat: Float32Array) => Float32Array,
  ): ReplicaStep {
    const g = this.#gradients(images, labels, globalBatch);
    this.#apply(allReduce(g.flat));
    return { lossSum: g.lossSum, correct: g.correct, count: g.count };
  }

  /**
   * Gradients of Σ loss / `globalBatch` over this slice, so that the replicas'
   * gradients SUM to the gradient of the global batch's mean loss.
   */
  #gradients(images: Uint8Array, labels: Uint8Array, globalBatch: number): ReplicaGradients {
    const count = labels.length;
    if (count === 0) return { flat: new Float32Array(this.size), lossSum: 0, correct: 0, count };
    const vars = this.model.trainableWeights.map((w) => w.read() as tf.Variable);
    const { value, grads, logits } = tf.tidy(() => {
      const xs = imagesTensor(images, count).reshape([count, ...this.inputShape]);
      const ys = tf.oneHot(tf.tensor1d(labels, "int32"), 10);
      let logits: tf.Tensor | undefined;
      const { value, grads } = tf.variableGrads(() => {
        logits = tf.keep(this.model.apply(xs, { training: true }) as tf.Tensor);
        return this.#lossSum(ys, logits).div(globalBatch) as tf.Scalar;
      }, vars);
      return { value, grads, logits: logits! };
    });
    // Copy the gradients straight into one reused flat array: no concat kernel, and on
    // WASM no intermediate copies either (garbage here means collector pauses, and in
    // lockstep training one replica's pause stalls them all).
    const flat = this.#flat ??= new Float32Array(this.size);
    let offset = 0;
    for (const v of vars) offset = copyInto(grads[v.name], flat, offset);
    const lossSum = value.dataSync()[0] * globalBatch;
    const correct = countCorrect(logits.dataSync() as Float32Array, labels);
    tf.dispose([value, logits, ...Object.values(grads)]);
    return { flat, lossSum, correct, count };
  }

  #lossSum(ys: tf.Tensor, out: tf.Tensor): tf.Tensor {
    return this.probabilities
      ? tf.metrics.categoricalCrossentropy(ys, out).sum()
      : tf.losses.softmaxCrossEntropy(ys, out, undefined, undefined, tf.Reduction.SUM);
  }

  #apply(flat: Float32Array): void {
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

  evaluate(images: Uint8Array, labels: Uint8Array): { lossSum: number; correct: number } {
    let lossSum = 0, correct = 0;
    for (let i = 0; i < labels.length; i += 1000) {
      const n = Math.min(1000, labels.length - i);
      const [l, c] = tf.tidy(() => {
        const xs = imagesTensor(images.subarray(i * PIXELS, (i + n) * PIXELS), n)
          .reshape([n, ...this.inputShape]);
        const ys = tf.oneHot(tf.tensor1d(labels.subarray(i, i + n), "int32"), 10);
        const logits = this.model.predict(xs) as tf.Tensor;
        return [
          this.#lossSum(ys, logits),
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
