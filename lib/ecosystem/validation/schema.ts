/**
 * A schema inferred from a training split's statistics, as TensorFlow Data
 * Validation's `infer_schema`: what later data must look like (dtype, image
 * shape, value range, label domain) and how far its distributions may drift
 * (class balance, pixel mean and standard deviation, the histogram of
 * per-image brightness, rates of blank, saturated and duplicate images).
 *
 * It is plain JSON: save it next to the model and review it like code.
 *
 * @example
 * ```ts
 * import { computeStatistics } from "./statistics.ts";
 * import { inferSchema } from "./schema.ts";
 * const images = Uint8Array.from({ length: 4 * 784 }, (_, i) => (i * 7) % 256);
 * const schema = inferSchema(computeStatistics({ count: 4, images, labels: [0, 1, 0, 1] }));
 * console.log(schema.labelDomain, schema.imageShape);
 * ```
 *
 * @module
 */
import type { DatasetStatistics } from "./statistics.ts";

/** Number of bins of the per-image mean brightness histogram over [0, 1]. */
export const BRIGHTNESS_BINS = 20;

/** What data must satisfy; see {@linkcode inferSchema}. */
export interface Schema {
  dtype: "uint8" | "float32";
  imageShape: number[];
  /** Allowed pixel values on the [0, 1] scale. */
  valueRange: [number, number];
  /** Label values allowed (those seen in training). */
  labelDomain: number[];
  classNames?: string[];
  /** Expected fraction of each label in `labelDomain` (same order). */
  classDistribution: number[];
  /** A class fraction may differ from the expected by this much (plus sampling noise). */
  classDistributionTolerance: number;
  /** Expected mean pixel value and allowed relative deviation. */
  pixelMean: { value: number; relativeTolerance: number };
  /** Expected pixel standard deviation and allowed relative deviation. */
  pixelStd: { value: number; relativeTolerance: number };
  /** Standard deviation of per-image means in training (sets the sampling noise allowance). */
  imageMeanStd: number;
  /** Fractions of images per brightness bin (`BRIGHTNESS_BINS` equal bins over [0, 1]). */
  brightnessHistogram: number[];
  /** Largest Jensen–Shannon divergence (bits) from `brightnessHistogram`, before sampling noise. */
  maxBrightnessDivergence: number;
  maxBlankFraction: number;
  maxSaturatedFraction: number;
  maxDuplicateFraction: number;
}

/** Tolerances for {@linkcode inferSchema}. */
export interface InferSchemaOptions {
  /** Default 0.05. */
  classDistributionTolerance?: number;
  /** Relative tolerance on pixel mean and std. Default 0.2. */
  relativeTolerance?: number;
  /** Default 0.05 bits. */
  maxBrightnessDivergence?: number;
}

/** Fractions per brightness bin of `imageMeans`. */
export function brightnessHistogram(imageMeans: ArrayLike<number>): number[] {
  const h = new Array<number>(BRIGHTNESS_BINS).fill(0);
  if (imageMeans.length === 0) return h;
  for (let i = 0; i < imageMeans.length; i++) {
    const m = Math.min(1, Math.max(0, imageMeans[i]));
    h[Math.min(BRIGHTNESS_BINS - 1, Math.floor(m * BRIGHTNESS_BINS))]++;
  }
  return h.map((c) => c / imageMeans.length);
}

/** Infer a {@linkcode Schema} from a (training) split's statistics. */
export function inferSchema(stats: DatasetStatistics, opts: InferSchemaOptions = {}): Schema {
  const domain = Object.keys(stats.labelCounts).map(Number).sort((a, b) => a - b);
  const rel = opts.relativeTolerance ?? 0.2;
  const rate = (f: number): number => Math.max(0.001, 2 * f);
  return {
    dtype: stats.dtype,
    imageShape: [...stats.imageShape],
    valueRange: [Math.min(0, stats.pixelMin), Math.max(1, stats.pixelMax)],
    labelDomain: domain,
    classNames: stats.classNames,
    classDistribution: domain.map((l) => stats.labelCounts[l] / Math.max(1, stats.count)),
    classDistributionTolerance: opts.classDistributionTolerance ?? 0.05,
    pixelMean: { value: stats.pixelMean, relativeTolerance: rel },
    pixelStd: { value: stats.pixelStd, relativeTolerance: rel },
    imageMeanStd: stats.imageMeanStd,
    brightnessHistogram: brightnessHistogram(stats.imageMeans),
    maxBrightnessDivergence: opts.maxBrightnessDivergence ?? 0.05,
    maxBlankFraction: rate(stats.blank.fraction),
    maxSaturatedFraction: rate(stats.saturated.fraction),
    maxDuplicateFraction: rate(stats.duplicates.fraction),
  };
}
