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
 * Arguments are checked as TensorFlow checks them, with a
 * {@linkcode SummaryWriterError} naming the argument: `scalar` takes a number
 * or a rank-0 tensor (`tf.summary.scalar` raises `ValueError` for a tensor of
 * the wrong shape); `histogram` refuses NaN and ±Infinity (TF's
 * `HistogramSummary` op: "reports an InvalidArgument error if any value is not
 * finite") and bucket counts that are not whole numbers from 1 to
 * {@linkcode MAX_HISTOGRAM_BUCKETS}; `image` refuses sizes below 1 pixel; a
 * logdir that cannot be created or written is named in the error.
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

/** Thrown on a write to a closed writer, an unwritable logdir, or an argument that cannot be logged. */
export class SummaryWriterError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "SummaryWriterError";
  }
}

/** TensorFlow's default bucket count for `tf.summary.histogram`. */
export const DEFAULT_HISTOGRAM_BUCKETS = 30;

/**
 * The most buckets {@linkcode makeHistogram} accepts (this project's bound, not
 * TensorFlow's: TensorBoard draws 30 by default, and 10,000 buckets are 160 kB
 * per histogram in the event file).
 */
export const MAX_HISTOGRAM_BUCKETS = 10_000;

/** Options of {@linkcode SummaryFileWriter.histogram}. */
export interface HistogramOptions {
  /** Number of equal-width buckets, a whole number from 1 to 10,000. Default 30 (as TF). */
  buckets?: number;
}

type Numbers = ArrayLike<number> | tf.Tensor;

function toArray(values: Numbers, what: string): ArrayLike<number> {
  if (values == null || typeof values !== "object") {
    throw new SummaryWriterError(`${what}: expected numbers or a tensor, got ${values}`);
  }
  return "dataSync" in values ? (values.dataSync() as ArrayLike<number>) : values;
}

function checkBuckets(buckets: unknown, what: string): number {
  if (
    typeof buckets !== "number" || !Number.isInteger(buckets) || buckets < 1 ||
    buckets > MAX_HISTOGRAM_BUCKETS
  ) {
    throw new SummaryWriterError(
      `${what}: buckets is ${String(buckets)}; use a whole number from 1 to ` +
        `${MAX_HISTOGRAM_BUCKETS} (tf.summary.histogram takes a positive int, default ` +
        `${DEFAULT_HISTOGRAM_BUCKETS})`,
    );
  }
  return buckets;
}

/**
 * Equal-width buckets over [min, max] as a `HistogramProto` (the layout of
 * TF2's `tf.summary.histogram`: no data, no buckets; all values equal, one
 * bucket). The first bucket starts at `min` (TensorBoard takes `min` as its
 * left edge). Every value is counted, also when `max - min` overflows a double
 * (`[-1e308, 1e308]`). NaN and ±Infinity throw {@linkcode SummaryWriterError}:
 * TensorFlow's `HistogramSummary` op refuses values that are not finite.
 * `what` names the caller in errors.
 */
export function makeHistogram(
  values: ArrayLike<number>,
  buckets: number = DEFAULT_HISTOGRAM_BUCKETS,
  what = "makeHistogram",
): Histogram {
  checkBuckets(buckets, what);
  let min = Infinity, max = -Infinity, sum = 0, sumSquares = 0, n = 0;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (!Number.isFinite(v)) {
      if (typeof v !== "number") {
        throw new SummaryWriterError(`${what}: value ${i} is a ${typeof v}, not a number`);
      }
      const kind = Number.isNaN(v) ? "NaN" : v > 0 ? "Infinity" : "-Infinity";
      throw new SummaryWriterError(
        `${what}: value ${i} of ${values.length} is ${kind}; TensorFlow's histogram summary ` +
          `refuses values that are not finite (InvalidArgument "${
            kind === "NaN" ? "Nan" : "Infinity"
          } in summary histogram"): find where it comes from (a NaN often means training ` +
          `diverged) or drop such values before logging`,
      );
    }
    n++;
    sum += v;
    sumSquares += v * v;
    if (v < min) min = v;
    if (v > max) max = v;
  }
  if (n === 0) {
    return { min: 0, max: 0, num: 0, sum: 0, sumSquares: 0, bucketLimit: [], bucket: [] };
  }
  const k = min === max ? 1 : buckets;
  const width = (max - min) / k;
  // When max - min overflows (values near ±1.8e308), work in halves: each
  // bucket is 2 × half wide, and v/2 - min/2 cannot overflow.
  const half = Number.isFinite(width) ? 0 : (max / 2 - min / 2) / k;
  const bucketLimit = Array.from(
    { length: k },
    (_, i) =>
      i === k - 1 ? max : half ? min + half * (i + 1) + half * (i + 1) : min + width * (i + 1),
  );
  const bucket = new Array<number>(k).fill(0);
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    const at = half ? (v / 2 - min / 2) / half : (v - min) / width;
    const b = width === 0 ? 0 : Math.min(k - 1, Math.floor(at));
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
    try {
      Deno.mkdirSync(logdir, { recursive: true });
    } catch (e) {
      throw new SummaryWriterError(
        `logdir ${logdir}: cannot create it (${(e as Error).message}); ` +
          `pass a folder you can write to`,
        { cause: e },
      );
    }
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

  /**
   * Log one scalar (TensorBoard's Scalars dashboard): a number or a rank-0
   * tensor. A tensor of any other shape throws, as `tf.summary.scalar` does.
   */
  scalar(tag: string, value: number | tf.Scalar, step: number): void {
    let v: number;
    if (typeof value === "number") v = value;
    else if (value != null && typeof value === "object" && "dataSync" in value) {
      const t = value as tf.Tensor;
      if (t.shape.length !== 0) {
        throw new SummaryWriterError(
          `scalar("${tag}"): the tensor has shape [${t.shape.join(", ")}], not a scalar; ` +
            `tf.summary.scalar takes a rank-0 tensor (ValueError otherwise): reduce it ` +
            `first (tf.mean, tf.sum) or log one element`,
        );
      }
      if (t.dtype === "string" || t.dtype === "complex64") {
        throw new SummaryWriterError(`scalar("${tag}"): a ${t.dtype} tensor is not a real number`);
      }
      v = t.dataSync()[0];
    } else {
      throw new SummaryWriterError(
        `scalar("${tag}"): expected a number or a scalar tensor, got ${
          value === null ? "null" : typeof value
        }`,
      );
    }
    this.#write({ step, summary: [{ tag, simpleValue: v }] });
  }

  /**
   * Log the distribution of `values` (Histograms and Distributions dashboards)
   * in `buckets` equal-width buckets (default 30, as `tf.summary.histogram`;
   * a plain number is read as the bucket count). NaN or ±Infinity among the
   * values throws {@linkcode SummaryWriterError}, as TensorFlow's op does.
   */
  histogram(
    tag: string,
    values: Numbers,
    step: number,
    options: HistogramOptions | number = {},
  ): void {
    const what = `histogram("${tag}")`;
    const buckets = options !== null && typeof options === "object"
      ? options.buckets ?? DEFAULT_HISTOGRAM_BUCKETS
      : options;
    checkBuckets(buckets, what); // before reading a tensor
    this.#write({
      step,
      summary: [{ tag, histo: makeHistogram(toArray(values, what), buckets, what) }],
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
    const maxOutputs = opts.maxOutputs ?? 3;
    for (const [name, v] of [["width", width], ["height", height], ["maxOutputs", maxOutputs]]) {
      if (typeof v !== "number" || !Number.isInteger(v) || v < 1) {
        throw new SummaryWriterError(
          `image("${tag}"): ${name} is ${String(v)}; use a whole number, 1 or more`,
        );
      }
    }
    if (images != null && typeof images === "object" && "shape" in images) {
      const shape = (images as tf.Tensor).shape;
      const channels = shape.length === 4 ? shape[3] : 1;
      if (channels !== 1) {
        throw new SummaryWriterError(
          `image("${tag}"): the tensor has shape [${shape.join(", ")}] with ${channels} ` +
            `channels; this writer logs grayscale images ([n, h, w, 1] or [n, h, w])`,
        );
      }
      if (
        (shape.length === 3 || shape.length === 4) &&
        (shape[1] !== height || shape[2] !== width)
      ) {
        throw new SummaryWriterError(
          `image("${tag}"): the tensor's images are ${shape[2]}x${shape[1]} but ` +
            `width/height say ${width}x${height}; pass { width: ${shape[2]}, height: ${shape[1]} }`,
        );
      }
    }
    const px = toArray(images, `image("${tag}")`);
    const size = width * height;
    if (px.length === 0 || px.length % size !== 0) {
      throw new SummaryWriterError(
        `image("${tag}"): ${px.length} values is not a whole number of ${width}x${height} images; ` +
          `pass width/height in the options`,
      );
    }
    const n = Math.min(px.length / size, maxOutputs);
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
    try {
      const file = Deno.openSync(this.path, { append: true, create: true });
      try {
        for (let done = 0; done < buf.length;) done += file.writeSync(buf.subarray(done));
        file.syncDataSync();
      } finally {
        file.close();
      }
    } catch (e) {
      throw new SummaryWriterError(
        `cannot write the event file ${this.path} in logdir ${this.logdir} ` +
          `(${(e as Error).message}); pass a folder you can write to`,
        { cause: e },
      );
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
