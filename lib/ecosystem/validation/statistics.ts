/**
 * Descriptive statistics of an image dataset, the first step of TFX-style
 * data validation (TensorFlow Data Validation's `generate_statistics_...`):
 * per-class counts, pixel mean and standard deviation, per-image brightness,
 * blank and saturated images, and exact duplicates found by hashing.
 *
 * Pixel statistics are on the [0, 1] scale (bytes divided by 255), whatever
 * the storage dtype.
 *
 * @example
 * ```ts
 * import { computeStatistics } from "./statistics.ts";
 * const images = new Uint8Array(3 * 784);
 * images.fill(255, 784, 2 * 784); // one blank, one saturated, one blank duplicate
 * const stats = computeStatistics({ count: 3, images, labels: new Uint8Array([0, 1, 1]) });
 * console.log(stats.blank.count, stats.saturated.count, stats.duplicates.count);
 * ```
 *
 * @module
 */

/** What {@linkcode computeStatistics} reads: a `Dataset` of `lib/data`, or a plain batch. */
export interface DatasetLike {
  count: number;
  /** `count` images back to back: bytes 0..255, or floats in [0, 1]. */
  images: Uint8Array | Float32Array;
  labels: ArrayLike<number>;
  /** Shape of one image (e.g. [28, 28, 1]); inferred as a square [s, s, 1] when absent. */
  imageShape?: readonly number[];
  classNames?: readonly string[];
  /** Name for messages. */
  name?: string;
}

/** Images that matched a check, with the first few indices as examples. */
export interface FlaggedImages {
  count: number;
  fraction: number;
  examples: number[];
}

/** The statistics of one dataset. */
export interface DatasetStatistics {
  name: string;
  count: number;
  dtype: "uint8" | "float32";
  /** Shape of one image. */
  imageShape: number[];
  pixelsPerImage: number;
  /** Examples per label value, for every value seen (keys may fall outside 0..9). */
  labelCounts: Record<number, number>;
  /** `labelCounts` as an array over 0..max label (0 where unseen). */
  classCounts: number[];
  classNames?: string[];
  pixelMin: number;
  pixelMax: number;
  pixelMean: number;
  pixelStd: number;
  /** Mean brightness of each image (for histograms). */
  imageMeans: Float32Array;
  /** Standard deviation of the per-image means. */
  imageMeanStd: number;
  /** Non-finite pixels (NaN, ±Infinity) in float data. */
  nonFinite: number;
  /** Images whose brightest pixel is at most `blankThreshold`. */
  blank: FlaggedImages;
  /** Images with at least `saturatedFraction` of their pixels at `saturatedLevel` or above. */
  saturated: FlaggedImages;
  /** Images identical to an earlier one (examples are the later copies); blank and saturated ones are not counted again here. */
  duplicates: FlaggedImages;
}

/** Thresholds for {@linkcode computeStatistics}. */
export interface StatisticsOptions {
  /** An image is blank if no pixel exceeds this (0..1). Default 0.02. */
  blankThreshold?: number;
  /** A pixel counts as saturated at or above this (0..1). Default 0.98. */
  saturatedLevel?: number;
  /** An image is saturated if at least this fraction of its pixels is. Default 0.5. */
  saturatedFraction?: number;
  /** How many example indices to keep per check. Default 10. */
  maxExamples?: number;
}

/** Thrown when the input is not a dataset of images and labels. */
export class StatisticsError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "StatisticsError";
  }
}

/** FNV-1a over the image's bytes, two 32-bit lanes (collisions are checked byte by byte). */
function hashImage(px: Uint8Array | Float32Array, start: number, len: number): string {
  const bytes = px instanceof Uint8Array
    ? px.subarray(start, start + len)
    : new Uint8Array(px.buffer, px.byteOffset + start * 4, len * 4);
  let h1 = 0x811c9dc5, h2 = 0x01000193 ^ len;
  for (let i = 0; i < bytes.length; i++) {
    h1 = Math.imul(h1 ^ bytes[i], 0x01000193);
    h2 = Math.imul(h2 ^ bytes[i], 0x5bd1e995) ^ (h2 >>> 15);
  }
  return `${(h1 >>> 0).toString(36)}:${(h2 >>> 0).toString(36)}`;
}

function sameImage(px: Uint8Array | Float32Array, a: number, b: number, len: number): boolean {
  for (let i = 0; i < len; i++) if (px[a + i] !== px[b + i]) return false;
  return true;
}

function flagged(indices: number[], count: number, max: number): FlaggedImages {
  return {
    count: indices.length,
    fraction: count === 0 ? 0 : indices.length / count,
    examples: indices.slice(0, max),
  };
}

/** Statistics of `data` (one pass over the pixels, plus hashing for duplicates). */
export function computeStatistics(
  data: DatasetLike,
  opts: StatisticsOptions = {},
): DatasetStatistics {
  const name = data.name ?? "dataset";
  const { count, images, labels } = data;
  if (!Number.isInteger(count) || count < 0 || labels.length !== count) {
    throw new StatisticsError(
      `computeStatistics(${name}): count ${count} must equal the number of labels (${labels.length})`,
    );
  }
  if (count > 0 && images.length % count !== 0) {
    throw new StatisticsError(
      `computeStatistics(${name}): ${images.length} pixels do not split into ${count} equal images`,
    );
  }
  const ppi = count === 0 ? 0 : images.length / count;
  const side = Math.round(Math.sqrt(ppi));
  const imageShape = data.imageShape
    ? [...data.imageShape]
    : side * side === ppi
    ? [side, side, 1]
    : [ppi];
  const scale = images instanceof Uint8Array ? 1 / 255 : 1;
  const blankThreshold = opts.blankThreshold ?? 0.02;
  const satLevel = opts.saturatedLevel ?? 0.98;
  const satFraction = opts.saturatedFraction ?? 0.5;
  const maxExamples = opts.maxExamples ?? 10;

  const labelCounts: Record<number, number> = {};
  for (let i = 0; i < count; i++) labelCounts[labels[i]] = (labelCounts[labels[i]] ?? 0) + 1;
  const maxLabel = Math.max(-1, ...Object.keys(labelCounts).map(Number).filter((l) => l >= 0));
  const classCounts = Array.from({ length: maxLabel + 1 }, (_, l) => labelCounts[l] ?? 0);

  let sum = 0, sumSq = 0, min = Infinity, max = -Infinity, nonFinite = 0;
  const imageMeans = new Float32Array(count);
  const blank: number[] = [], saturated: number[] = [], duplicates: number[] = [];
  const seen = new Map<string, number[]>();
  for (let i = 0; i < count; i++) {
    const start = i * ppi;
    let s = 0, imgMax = -Infinity, sat = 0;
    for (let j = start; j < start + ppi; j++) {
      const v = images[j] * scale;
      if (!Number.isFinite(v)) {
        nonFinite++;
        continue;
      }
      s += v;
      sumSq += v * v;
      if (v > imgMax) imgMax = v;
      if (v < min) min = v;
      if (v >= satLevel) sat++;
    }
    sum += s;
    if (imgMax > max) max = imgMax;
    imageMeans[i] = s / ppi;
    const isBlank = imgMax <= blankThreshold, isSaturated = sat >= satFraction * ppi;
    if (isBlank) blank.push(i);
    if (isSaturated) saturated.push(i);
    if (isBlank || isSaturated) continue; // reported as such, not again as duplicates of each other
    const h = hashImage(images, start, ppi);
    const prior = seen.get(h);
    if (prior?.some((p) => sameImage(images, p * ppi, start, ppi))) duplicates.push(i);
    else if (prior) prior.push(i);
    else seen.set(h, [i]);
  }
  const n = count * ppi - nonFinite;
  const mean = n > 0 ? sum / n : 0;
  let mSum = 0, mSq = 0;
  for (const m of imageMeans) {
    mSum += m;
    mSq += m * m;
  }
  const mMean = count > 0 ? mSum / count : 0;
  return {
    name,
    count,
    dtype: images instanceof Uint8Array ? "uint8" : "float32",
    imageShape,
    pixelsPerImage: ppi,
    labelCounts,
    classCounts,
    classNames: data.classNames ? [...data.classNames] : undefined,
    pixelMin: n > 0 ? min : 0,
    pixelMax: n > 0 ? max : 0,
    pixelMean: mean,
    pixelStd: n > 0 ? Math.sqrt(Math.max(0, sumSq / n - mean * mean)) : 0,
    imageMeans,
    imageMeanStd: count > 0 ? Math.sqrt(Math.max(0, mSq / count - mMean * mMean)) : 0,
    nonFinite,
    blank: flagged(blank, count, maxExamples),
    saturated: flagged(saturated, count, maxExamples),
    duplicates: flagged(duplicates, count, maxExamples),
  };
}
