/**
 * A set of 28×28 grey-scale images with integer labels, kept as bytes
 * (`Uint8Array`) until a batch needs floats. Batches are built one at a time
 * from the byte store in a seeded order, so a training loop never rebuilds
 * large JavaScript arrays and the same seed always gives the same batches.
 *
 * @example Iterate over shuffled batches (the caller disposes each batch's tensors)
 * ```ts
 * import { Dataset } from "./dataset.ts";
 * const ds = new Dataset(new Uint8Array(4 * 784), new Uint8Array([0, 1, 2, 3]));
 * for (const { xs, ys, size } of ds.batches(3, { shuffle: true, seed: 1 })) {
 *   console.log(size, xs.shape, ys.shape); // 3 [3,28,28,1] [3,10], then 1 [1,28,28,1] [1,10]
 *   xs.dispose();
 *   ys.dispose();
 * }
 * ```
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { permutation, randomSeed } from "../_random.ts";

/** Image side in pixels. */
export const IMAGE_SIDE = 28;
/** Pixels per image (28 × 28). */
export const IMAGE_SIZE: number = IMAGE_SIDE * IMAGE_SIDE;

/** The class names of MNIST: the digits "0" to "9". */
export const MNIST_CLASS_NAMES: readonly string[] = Object.freeze(
  Array.from({ length: 10 }, (_, i) => String(i)),
);

/** One batch: the caller disposes `xs` and `ys`. */
export interface Batch {
  /** Images `[size, 28, 28, 1]`, float32 in [0, 1]. */
  xs: tf.Tensor4D;
  /** One-hot labels `[size, numClasses]`, float32. */
  ys: tf.Tensor2D;
  /** The integer labels of this batch. */
  labels: Uint8Array;
  /** Examples in this batch (the last batch may be smaller). */
  size: number;
}

/** Options for {@linkcode Dataset.batches}. */
export interface BatchOptions {
  /** Visit the examples in a random order (default false: in order). */
  shuffle?: boolean;
  /** Seed of the shuffle; the same seed gives the same order. Random when omitted. */
  seed?: number;
  /** Skip the last batch when it is smaller than `batchSize` (default false). */
  dropRemainder?: boolean;
}

/** Options for the {@linkcode Dataset} constructor. */
export interface DatasetOptions {
  /** One name per class (default: the digits "0".."9"). Labels must be below its length. */
  classNames?: readonly string[];
  /** A short name used in error messages and `toString()` (e.g. "MNIST train"). */
  name?: string;
}

/** Thrown for invalid arguments to a {@linkcode Dataset} method or constructor. */
export class DatasetError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "DatasetError";
  }
}

/** 0..255 → 0..1, looked up rather than divided per pixel. */
const TO_UNIT = Float32Array.from({ length: 256 }, (_, i) => i / 255);

/** Backends whose `write` copies the values out of the array: a batch buffer can be reused. */
const COPYING_BACKENDS = new Set(["wasm"]);

/** Labelled 28×28 grey-scale images, stored as bytes. */
export class Dataset {
  /** `count × 784` pixels, row-major, 0..255. */
  readonly images: Uint8Array;
  /** `count` labels, each below `classNames.length`. */
  readonly labels: Uint8Array;
  /** One name per class. */
  readonly classNames: string[];
  /** Name for messages, e.g. "MNIST train". */
  readonly name: string;

  constructor(images: Uint8Array, labels: Uint8Array, options: DatasetOptions = {}) {
    this.name = options.name ?? "dataset";
    this.classNames = [...(options.classNames ?? MNIST_CLASS_NAMES)];
    if (!(images instanceof Uint8Array) || !(labels instanceof Uint8Array)) {
      throw new DatasetError(`${this.name}: images and labels must be Uint8Arrays`);
    }
    if (images.length !== labels.length * IMAGE_SIZE) {
      throw new DatasetError(
        `${this.name}: ${labels.length} labels need ${labels.length * IMAGE_SIZE} pixels ` +
          `(${IMAGE_SIDE}×${IMAGE_SIDE} each), images has ${images.length}`,
      );
    }
    if (this.classNames.length < 2) {
      throw new DatasetError(`${this.name}: classNames must name at least 2 classes`);
    }
    const n = this.classNames.length;
    for (let i = 0; i < labels.length; i++) {
      if (labels[i] >= n) {
        throw new DatasetError(
          `${this.name}: label ${labels[i]} at index ${i} is out of range: there are ${n} classes`,
        );
      }
    }
    this.images = images;
    this.labels = labels;
  }

  /** Number of examples. */
  get count(): number {
    return this.labels.length;
  }

  /** Number of classes (`classNames.length`). */
  get numClasses(): number {
    return this.classNames.length;
  }

  /** Shape of one image as a tensor: `[28, 28, 1]`. */
  get imageShape(): [number, number, number] {
    return [IMAGE_SIDE, IMAGE_SIDE, 1];
  }

  /** The pixels of image `i` (a view, no copy). */
  image(i: number): Uint8Array {
    this.#checkIndex(i, "image");
    return this.images.subarray(i * IMAGE_SIZE, (i + 1) * IMAGE_SIZE);
  }

  /** How many examples each class has, indexed by label. */
  classCounts(): number[] {
    const counts = new Array<number>(this.numClasses).fill(0);
    for (const l of this.labels) counts[l]++;
    return counts;
  }

  /** Batches per pass over the data (the last one may be smaller unless dropped). */
  numBatches(batchSize: number, options: { dropRemainder?: boolean } = {}): number {
    this.#checkBatchSize(batchSize);
    return options.dropRemainder
      ? Math.floor(this.count / batchSize)
      : Math.ceil(this.count / batchSize);
  }

  /**
   * One pass over the data in batches of `batchSize`, as tensors made from the
   * byte store one batch at a time. The caller disposes each batch's `xs` and
   * `ys`. With `shuffle`, the order is a seeded permutation.
   */
  batches(batchSize: number, options: BatchOptions = {}): Generator<Batch> {
    this.#checkBatchSize(batchSize); // now, not at the first next()
    return this.#batches(batchSize, options);
  }

  *#batches(batchSize: number, options: BatchOptions): Generator<Batch> {
    const order = options.shuffle ? permutation(this.count, options.seed ?? randomSeed()) : null;
    const steps = this.numBatches(batchSize, options);
    let buffer: Float32Array | null = null;
    for (let step = 0; step < steps; step++) {
      const start = step * batchSize;
      const size = Math.min(batchSize, this.count - start);
      // The WASM backend copies a tensor's values into its heap, so one buffer
      // serves every batch; other backends keep the array, so each batch gets its own.
      const reuse = COPYING_BACKENDS.has(tf.getBackend());
      if (!reuse || buffer === null || buffer.length !== size * IMAGE_SIZE) {
        buffer = new Float32Array(size * IMAGE_SIZE);
      }
      const labels = new Uint8Array(size);
      for (let b = 0; b < size; b++) {
        const i = order ? order[start + b] : start + b;
        labels[b] = this.labels[i];
        const src = i * IMAGE_SIZE;
        const dst = b * IMAGE_SIZE;
        for (let p = 0; p < IMAGE_SIZE; p++) buffer[dst + p] = TO_UNIT[this.images[src + p]];
      }
      const xs = tf.tensor4d(buffer, [size, IMAGE_SIDE, IMAGE_SIDE, 1], "float32");
      const ys = this.#oneHot(labels);
      yield { xs, ys, labels, size };
    }
  }

  /** The whole set as tensors (`[count, 28, 28, 1]` in [0, 1] and one-hot); the caller disposes. */
  toTensors(): { xs: tf.Tensor4D; ys: tf.Tensor2D } {
    const buffer = new Float32Array(this.images.length);
    for (let p = 0; p < buffer.length; p++) buffer[p] = TO_UNIT[this.images[p]];
    const xs = tf.tensor4d(buffer, [this.count, IMAGE_SIDE, IMAGE_SIDE, 1], "float32");
    return { xs, ys: this.#oneHot(this.labels) };
  }

  /**
   * A seeded random sample of `count` examples (kept in their original order).
   * The same seed gives the same sample.
   */
  subset(count: number, seed = 42): Dataset {
    if (!Number.isInteger(count) || count < 0 || count > this.count) {
      throw new DatasetError(
        `${this.name}: subset(${count}) needs a whole number from 0 to ${this.count}`,
      );
    }
    const picked = permutation(this.count, seed).subarray(0, count).sort();
    return this.#gather(picked, `${this.name} (subset of ${count})`);
  }

  /** Examples `start` (inclusive) to `end` (exclusive), sharing this set's memory. */
  slice(start: number, end: number = this.count): Dataset {
    if (!Number.isInteger(start) || !Number.isInteger(end) || start < 0 || end > this.count) {
      throw new DatasetError(
        `${this.name}: slice(${start}, ${end}) needs whole numbers within 0..${this.count}`,
      );
    }
    const e = Math.max(start, end);
    return new Dataset(
      this.images.subarray(start * IMAGE_SIZE, e * IMAGE_SIZE),
      this.labels.subarray(start, e),
      { classNames: this.classNames, name: `${this.name} [${start}:${e}]` },
    );
  }

  /**
   * Split into `[rest, held]`, `held` being a seeded random `fraction` of the
   * examples (e.g. a validation split). Both keep their original order.
   */
  split(fraction: number, seed = 42): [Dataset, Dataset] {
    if (!(fraction > 0 && fraction < 1)) {
      throw new DatasetError(`${this.name}: split fraction ${fraction} must be between 0 and 1`);
    }
    const held = Math.round(this.count * fraction);
    const order = permutation(this.count, seed);
    const keepIdx = order.slice(held).sort();
    const heldIdx = order.slice(0, held).sort();
    return [
      this.#gather(keepIdx, `${this.name} (train part)`),
      this.#gather(heldIdx, `${this.name} (held-out part)`),
    ];
  }

  /** A one-line summary, e.g. `Dataset "MNIST train": 60000 images 28×28, 10 classes`. */
  toString(): string {
    return `Dataset "${this.name}": ${this.count} images ${IMAGE_SIDE}×${IMAGE_SIDE}, ` +
      `${this.numClasses} classes`;
  }

  #gather(indices: Uint32Array, name: string): Dataset {
    const images = new Uint8Array(indices.length * IMAGE_SIZE);
    const labels = new Uint8Array(indices.length);
    for (let k = 0; k < indices.length; k++) {
      const i = indices[k];
      labels[k] = this.labels[i];
      images.set(this.images.subarray(i * IMAGE_SIZE, (i + 1) * IMAGE_SIZE), k * IMAGE_SIZE);
    }
    return new Dataset(images, labels, { classNames: this.classNames, name });
  }

  #oneHot(labels: Uint8Array): tf.Tensor2D {
    // One-hot in int32, then cast: tfjs-backend-wasm@4.22.0's OneHot ignores a
    // float32 `dtype` and writes int32 bits into a float32 tensor.
    return tf.tidy(() =>
      tf.cast(tf.oneHot(tf.tensor1d(Int32Array.from(labels), "int32"), this.numClasses), "float32")
    ) as tf.Tensor2D;
  }

  #checkBatchSize(batchSize: number): void {
    if (!Number.isInteger(batchSize) || batchSize < 1) {
      throw new DatasetError(`${this.name}: batch size ${batchSize} must be a positive integer`);
    }
  }

  #checkIndex(i: number, what: string): void {
    if (!Number.isInteger(i) || i < 0 || i >= this.count) {
      throw new DatasetError(`${this.name}: ${what}(${i}) is out of range 0..${this.count - 1}`);
    }
  }
}
