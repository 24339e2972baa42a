/**
 * Validation of a split or a batch against a {@linkcode Schema}, listing
 * anomalies (TensorFlow Data Validation's `validate_statistics`).
 *
 * Checks, each one anomaly kind:
 * - `empty` (error): no examples.
 * - `dtype`, `shape` (error): storage type or image shape differ from the schema.
 * - `value_range` (error): pixels outside the schema's range, or NaN/Infinity.
 * - `label_domain` (error): labels outside the training label set.
 * - `class_distribution` (warning): a class fraction differs from training by
 *   more than the tolerance plus 4 standard errors of a sample of this size.
 * - `pixel_mean`, `pixel_std` (warning): beyond the relative tolerance (plus
 *   4 standard errors for the mean).
 * - `brightness_distribution` (warning): Jensen–Shannon divergence of the
 *   per-image brightness histogram from training's above the bound plus the
 *   small-sample bias allowance (bins / n).
 * - `blank_images`, `saturated_images`, `duplicates` (warning): a higher rate
 *   than the schema allows.
 *
 * @example
 * ```ts
 * import { computeStatistics, inferSchema, validate } from "./mod.ts";
 * const clean = { count: 2, images: Uint8Array.from({ length: 2 * 784 }, (_, i) => i % 200), labels: [0, 1] };
 * const schema = inferSchema(computeStatistics(clean));
 * const bad = { count: 2, images: new Uint8Array(2 * 784), labels: [0, 7] };
 * console.log(validate(bad, schema).map((a) => a.kind));
 * ```
 *
 * @module
 */
import { BRIGHTNESS_BINS, brightnessHistogram, type Schema } from "./schema.ts";
import {
  computeStatistics,
  type DatasetLike,
  type DatasetStatistics,
  type StatisticsOptions,
} from "./statistics.ts";

/** The kinds of anomaly {@linkcode validate} reports. */
export type AnomalyKind =
  | "empty"
  | "dtype"
  | "shape"
  | "value_range"
  | "label_domain"
  | "class_distribution"
  | "pixel_mean"
  | "pixel_std"
  | "brightness_distribution"
  | "blank_images"
  | "saturated_images"
  | "duplicates";

/** One finding. */
export interface Anomaly {
  kind: AnomalyKind;
  severity: "error" | "warning";
  /** "image" or "label". */
  feature: "image" | "label";
  /** One sentence: what was found, against what was expected. */
  description: string;
  /** Examples affected, when countable. */
  count?: number;
  /** Indices of a few affected examples, when known. */
  examples?: number[];
}

const f3 = (x: number): string => x.toFixed(3);
const pct = (x: number): string => `${(100 * x).toFixed(1)}%`;

/** Jensen–Shannon divergence in bits between two distributions. */
export function jsDivergence(p: readonly number[], q: readonly number[]): number {
  let d = 0;
  for (let i = 0; i < p.length; i++) {
    const m = (p[i] + q[i]) / 2;
    if (p[i] > 0) d += 0.5 * p[i] * Math.log2(p[i] / m);
    if (q[i] > 0) d += 0.5 * q[i] * Math.log2(q[i] / m);
  }
  return d;
}

function isStats(x: DatasetStatistics | DatasetLike): x is DatasetStatistics {
  return "labelCounts" in x && "imageMeans" in x;
}

/** Validate statistics (or a dataset, whose statistics are computed) against `schema`. */
export function validate(
  data: DatasetStatistics | DatasetLike,
  schema: Schema,
  opts: StatisticsOptions = {},
): Anomaly[] {
  const s = isStats(data) ? data : computeStatistics(data, opts);
  const out: Anomaly[] = [];
  const add = (a: Anomaly): void => void out.push(a);
  if (s.count === 0) {
    add({
      kind: "empty",
      severity: "error",
      feature: "image",
      description: `${s.name} has no examples`,
    });
    return out;
  }
  const n = s.count;
  if (s.dtype !== schema.dtype) {
    add({
      kind: "dtype",
      severity: "error",
      feature: "image",
      description: `pixels are ${s.dtype}, the schema expects ${schema.dtype}`,
    });
  }
  if (s.imageShape.join("x") !== schema.imageShape.join("x")) {
    add({
      kind: "shape",
      severity: "error",
      feature: "image",
      description: `images are [${s.imageShape}] (${s.pixelsPerImage} values), ` +
        `the schema expects [${schema.imageShape}]`,
      count: n,
    });
  }
  const [lo, hi] = schema.valueRange;
  if (s.pixelMin < lo - 1e-6 || s.pixelMax > hi + 1e-6 || s.nonFinite > 0) {
    add({
      kind: "value_range",
      severity: "error",
      feature: "image",
      description: `pixel values span [${f3(s.pixelMin)}, ${f3(s.pixelMax)}]` +
        `${
          s.nonFinite ? ` with ${s.nonFinite} NaN/Infinity` : ""
        }; the schema allows [${lo}, ${hi}]`,
    });
  }
  const domain = new Set(schema.labelDomain);
  const outside = Object.entries(s.labelCounts).filter(([l]) => !domain.has(Number(l)));
  if (outside.length > 0) {
    const count = outside.reduce((a, [, c]) => a + c, 0);
    add({
      kind: "label_domain",
      severity: "error",
      feature: "label",
      description: `${count} label(s) outside the domain {${schema.labelDomain.join(", ")}}: ` +
        outside.map(([l, c]) => `${l} (${c}x)`).join(", "),
      count,
    });
  }
  // Distributions: tolerances widen with the sampling noise of small batches.
  const skewed: string[] = [];
  schema.labelDomain.forEach((label, i) => {
    const p = schema.classDistribution[i];
    const q = (s.labelCounts[label] ?? 0) / n;
    const allowed = schema.classDistributionTolerance + 4 * Math.sqrt((p * (1 - p)) / n);
    if (Math.abs(q - p) > allowed) {
      const name = schema.classNames?.[label] ?? String(label);
      skewed.push(`${name}: ${pct(q)} vs ${pct(p)}`);
    }
  });
  if (skewed.length > 0) {
    add({
      kind: "class_distribution",
      severity: "warning",
      feature: "label",
      description: `class balance differs from training: ${skewed.join("; ")}`,
    });
  }
  const m = schema.pixelMean;
  const meanAllowed = m.relativeTolerance * m.value + 4 * schema.imageMeanStd / Math.sqrt(n);
  if (Math.abs(s.pixelMean - m.value) > meanAllowed) {
    add({
      kind: "pixel_mean",
      severity: "warning",
      feature: "image",
      description: `mean pixel ${f3(s.pixelMean)} vs ${f3(m.value)} in training ` +
        `(allowed ±${f3(meanAllowed)})`,
    });
  }
  const sd = schema.pixelStd;
  if (Math.abs(s.pixelStd - sd.value) > sd.relativeTolerance * sd.value) {
    add({
      kind: "pixel_std",
      severity: "warning",
      feature: "image",
      description: `pixel standard deviation ${f3(s.pixelStd)} vs ${f3(sd.value)} in training`,
    });
  }
  const jsd = jsDivergence(brightnessHistogram(s.imageMeans), schema.brightnessHistogram);
  const jsdAllowed = schema.maxBrightnessDivergence + BRIGHTNESS_BINS / n;
  if (jsd > jsdAllowed) {
    add({
      kind: "brightness_distribution",
      severity: "warning",
      feature: "image",
      description: `per-image brightness histogram drifted: JS divergence ${f3(jsd)} bits ` +
        `(allowed ${f3(jsdAllowed)})`,
    });
  }
  const rates: [AnomalyKind, string, DatasetStatistics["blank"], number][] = [
    ["blank_images", "blank images", s.blank, schema.maxBlankFraction],
    ["saturated_images", "saturated images", s.saturated, schema.maxSaturatedFraction],
    ["duplicates", "exact duplicate images", s.duplicates, schema.maxDuplicateFraction],
  ];
  for (const [kind, what, f, max] of rates) {
    if (f.count > 0 && f.fraction > max) {
      add({
        kind,
        severity: "warning",
        feature: "image",
        description: `${f.count} ${what} (${pct(f.fraction)}; at most ${pct(max)} expected), ` +
          `e.g. index ${f.examples.slice(0, 5).join(", ")}`,
        count: f.count,
        examples: f.examples,
      });
    }
  }
  return out;
}
