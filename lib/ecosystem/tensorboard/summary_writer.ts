/**
 * A summary writer that writes real TensorFlow event files
 * (`events.out.tfevents.<secs>.<host>`), which TensorBoard reads:
 * `tensorboard --logdir data/runs`.
 *
 * Names mirror tfjs-node's `tf.node.summaryFileWriter` so code moves between
 * them. Records are buffered and appended (then `fdatasync`ed) on `flush()`,
 * when `maxQueue` records are waiting, or when `flushMillis` have passed since
 * the last flush. An append-only log is never rewritten: a crash loses at most
 * the unflushed records, and a reader sees whole records only up to the last
 * flush.
 *
 * @example Log a scalar, a histogram and an image
 * ```ts
 * import { summaryFileWriter } from "./summary_writer.ts";
 * const w = summaryFileWriter("data/runs/demo");
 * for (let step = 0; step < 10; step++) w.scalar("loss", 1 / (step + 1), step);
 * w.histogram("weights", [0.1, -0.3, 0.2, 0.05], 9);
 * w.image("digit", new Uint8Array(28 * 28).fill(200), 9);
 * w.close();
 * ```
 *
 * @module
 */
import type * as tf from "@tensorflow/tfjs";
import { encodeEvent, type EventRecord, FILE_VERSION, type Histogram } from "./event.ts";
import { type GraphLike, toGraphDef } from "./graph_def.ts";
import { encodeGrayPng } from "../../display/png.ts";
import { encodeTfRecord } from "./tfrecord.ts";

/** Options for {@linkcode summaryFileWriter}. */
export interface SummaryWriterOptions {
  /** Flush once this many records are waiting. Default 10 (as tfjs-node). */
  maxQueue?: number;
  /** Flush on the next write once this many ms have passed since the last flush. Default 2000. */
  flushMillis?: number;
  /** Appended to the file name (TF's `filename_suffix`). */
  filenameSuffix?: string;
}

/** Options for {@linkcode SummaryFileWriter.image}. */
export interface ImageOptions {
  /** Image width, default 28. */
  width?: number;
  /** Image height, default 28. */
  height?: number;
  /** Write at most this many images of the batch (TF's `max_outputs`), default 3. */
  maxOutputs?: number;
}

/** Thrown on a write to a closed writer, or on an argument that cannot be logged. */
export class SummaryWriterError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "SummaryWriterError";
  }
}

type Numbers = ArrayLike<number> | tf.Tensor;

function toArray(values: Numbers, what: string): ArrayLike<number> {
  if (values == null || typeof values !== "object") {
    throw new SummaryWriterError(`${what}: expected numbers or a tensor, got ${values}`);
  }
  return "dataSync" in values ? (values.dataSync() as ArrayLike<number>) : values;
}

/**
 * Equal-width buckets over [min, max] as a `HistogramProto`. The first bucket
 * starts at `min` (TensorBoard takes `min` as its left edge).
 */
export function makeHistogram(values: ArrayLike<number>, buckets = 30): Histogram {
  let min = Infinity, max = -Infinity, sum = 0, sumSquares = 0, n = 0;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (!Number.isFinite(v)) continue;
    n++;
    sum += v;
    sumSquares += v * v;
    if (v < min) min = v;
    if (v > max) max = v;
  }
  if (n === 0) {
    return { min: 0, max: 0, num: 0, sum: 0, sumSquares: 0, bucketLimit: [], bucket: [] };
  }
  const k = min === max ? 1 : Math.max(1, Math.floor(buckets));
  const width = (max - min) / k;
  const bucketLimit = Array.from(
    { length: k },
    (_, i) => (i === k - 1 ? max : min + width * (i + 1)),
  );
  const bucket = new Array<number>(k).fill(0);
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (!Number.isFinite(v)) continue;
    const b = width === 0 ? 0 : Math.min(k - 1, Math.floor((v - min) / width));
    bucket[b]++;
  }
  return { min, max, num: n, sum, sumSquares, bucketLimit, bucket };
}

/** Writes one event file. Get one with {@linkcode summaryFileWriter}. */
export class SummaryFileWriter {
  /** The folder this writer logs to. */
  readonly logdir: string;
  /** The event file's path. */
  readonly path: string;
  #queue: Uint8Array[] = [];
  #maxQueue: number;
  #flushMillis: number;
  #lastFlush = Date.now();
  #closed = false;
  #onClose: () => void;

  constructor(logdir: string, opts: SummaryWriterOptions = {}, onClose: () => void = () => {}) {
    this.logdir = logdir;
    this.#maxQueue = opts.maxQueue ?? 10;
    this.#flushMillis = opts.flushMillis ?? 2000;
    this.#onClose = onClose;
    Deno.mkdirSync(logdir, { recursive: true });
    const now = Date.now() / 1000;
    const host = Deno.hostname().replace(/[^A-Za-z0-9._-]/g, "_");
    const base = `${logdir}/events.out.tfevents.${Math.floor(now)}.${host}`;
    let path = `${base}${opts.filenameSuffix ?? ""}`;
    for (let n = 1; exists(path); n++) {
      path = `${base}.${Deno.pid}.${n}${opts.filenameSuffix ?? ""}`;
    }
    this.path = path;
    // The first record names the format; written at once so TensorBoard sees the run.
    this.#queue.push(
      encodeTfRecord(encodeEvent({ wallTime: now, step: 0, fileVersion: FILE_VERSION })),
    );
    this.flush();
  }

  /** Whether {@linkcode close} was called. */
  get closed(): boolean {
    return this.#closed;
  }

  #write(e: Omit<EventRecord, "wallTime">): void {
    if (this.#closed) {
      throw new SummaryWriterError(
        `summary writer for ${this.logdir} is closed; call summaryFileWriter(logdir) for a new one`,
      );
    }
    if (!Number.isInteger(e.step)) {
      throw new SummaryWriterError(`step must be an integer, got ${e.step} (${this.logdir})`);
    }
    this.#queue.push(encodeTfRecord(encodeEvent({ wallTime: Date.now() / 1000, ...e })));
    if (this.#queue.length >= this.#maxQueue || Date.now() - this.#lastFlush >= this.#flushMillis) {
      this.flush();
    }
  }

  /** Log one scalar (TensorBoard's Scalars dashboard). */
  scalar(tag: string, value: number | tf.Scalar, step: number): void {
    const v = typeof value === "number" ? value : value.dataSync()[0];
    this.#write({ step, summary: [{ tag, simpleValue: v }] });
  }

  /** Log the distribution of `values` (Histograms and Distributions dashboards). */
  histogram(tag: string, values: Numbers, step: number, buckets = 30): void {
    this.#write({
      step,
      summary: [{ tag, histo: makeHistogram(toArray(values, `histogram("${tag}")`), buckets) }],
    });
  }

  /**
   * Log grayscale images as PNGs (Images dashboard). `images` holds one or
   * more `height*width` images back to back: bytes 0..255, or floats in
   * [0, 1] (a tensor [n, h, w, 1] or [n, h, w] works too). Tags follow TF1:
   * `tag/image` for one image, `tag/image/<i>` for several.
   */
  image(tag: string, images: Numbers, step: number, opts: ImageOptions = {}): void {
    const width = opts.width ?? 28, height = opts.height ?? 28;
    const px = toArray(images, `image("${tag}")`);
    const size = width * height;
    if (px.length === 0 || px.length % size !== 0) {
      throw new SummaryWriterError(
        `image("${tag}"): ${px.length} values is not a whole number of ${width}x${height} images; ` +
          `pass width/height in the options`,
      );
    }
    const n = Math.min(px.length / size, opts.maxOutputs ?? 3);
    const summary = [];
    for (let i = 0; i < n; i++) {
      const one = px instanceof Uint8Array
        ? px.subarray(i * size, (i + 1) * size)
        : Array.prototype.slice.call(px, i * size, (i + 1) * size) as number[];
      summary.push({
        tag: n === 1 ? `${tag}/image` : `${tag}/image/${i}`,
        image: { height, width, colorspace: 1, encodedImage: encodeGrayPng(one, width, height) },
      });
    }
    this.#write({ step, summary });
  }

  /** Log a graph (a v1 Graph, a trace, or GraphDef bytes) for the Graphs dashboard. */
  graph(graph: GraphLike | Uint8Array, step = 0): void {
    this.#write({ step, graphDef: graph instanceof Uint8Array ? graph : toGraphDef(graph) });
  }

  /** Append the waiting records to the file and `fdatasync` it. */
  flush(): void {
    if (this.#queue.length === 0) return;
    const total = this.#queue.reduce((n, r) => n + r.length, 0);
    const buf = new Uint8Array(total);
    let off = 0;
    for (const r of this.#queue) {
      buf.set(r, off);
      off += r.length;
    }
    const file = Deno.openSync(this.path, { append: true, create: true });
    try {
      for (let done = 0; done < buf.length;) done += file.writeSync(buf.subarray(done));
      file.syncDataSync();
    } finally {
      file.close();
    }
    this.#queue = [];
    this.#lastFlush = Date.now();
  }

  /** Flush and close. Calling it again does nothing. */
  close(): void {
    if (this.#closed) return;
    this.flush();
    this.#closed = true;
    this.#onClose();
  }
}

function exists(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
}

const writers = new Map<string, SummaryFileWriter>();

/**
 * The summary writer for `logdir`: created on first use, then the same
 * writer until it is closed (as tfjs-node's `summaryFileWriter`).
 */
export function summaryFileWriter(
  logdir: string,
  opts: SummaryWriterOptions = {},
): SummaryFileWriter {
  const key = logdir.replace(/\/+$/, "");
  const existing = writers.get(key);
  if (existing && !existing.closed) return existing;
  const w = new SummaryFileWriter(key, opts, () => {
    if (writers.get(key) === w) writers.delete(key);
  });
  writers.set(key, w);
  return w;
}
