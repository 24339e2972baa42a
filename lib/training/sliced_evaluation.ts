/**
 * TFMA-style sliced evaluation: one accuracy per *slice* of the evaluation set
 * (per true class, per brightness band, ...) instead of one number for all. A
 * model at 98% overall can be at 90% on faint digits; slicing finds it.
 * TensorFlow Model Analysis does this with `tfma.SlicingSpec(feature_keys=[...])`.
 *
 * @example
 * ```ts
 * import { brightnessBands, sliceAccuracy } from "./sliced_evaluation.ts";
 * const predictions = [1, 2, 2, 0], labels = [1, 2, 0, 0];
 * console.log(sliceAccuracy(predictions, labels, (i) => `class ${labels[i]}`, "label"));
 * // [{ feature: "label", slice: "class 0", count: 2, accuracy: 0.5 }, ...]
 * const bands = brightnessBands(new Uint8Array(2 * 784).fill(30), [0.1, 0.2]);
 * console.log(bands); // ["0.10–0.20", "0.10–0.20"]: the mean pixel is 30 / 255 = 0.118
 * ```
 *
 * @module
 */

/** Accuracy on one slice. */
export interface SliceMetrics {
  /** The feature the slices are cut by (e.g. "label", "brightness"). */
  feature: string;
  /** The slice's value (e.g. "7", "0.10–0.15"). */
  slice: string;
  count: number;
  accuracy: number;
}

/** Inputs that do not line up (lengths, labels). */
export class SliceError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "SliceError";
  }
}

/**
 * Accuracy per slice: `sliceOf(i)` names example `i`'s slice. Slices come in
 * `order` when given (names missing from it last), else sorted by name with
 * numbers in numeric order ("2" before "10").
 */
export function sliceAccuracy(
  predictions: ArrayLike<number>,
  labels: ArrayLike<number>,
  sliceOf: (index: number) => string,
  feature: string,
  order: readonly string[] = [],
): SliceMetrics[] {
  if (predictions.length !== labels.length) {
    throw new SliceError(
      `sliceAccuracy: ${predictions.length} predictions for ${labels.length} labels; pass one per example`,
    );
  }
  const counts = new Map<string, { count: number; correct: number }>();
  for (let i = 0; i < labels.length; i++) {
    const s = sliceOf(i);
    const c = counts.get(s) ?? { count: 0, correct: 0 };
    c.count++;
    if (predictions[i] === labels[i]) c.correct++;
    counts.set(s, c);
  }
  const rank = (s: string): number => {
    const i = order.indexOf(s);
    return i === -1 ? order.length : i;
  };
  return [...counts.entries()]
    .sort(([a], [b]) => rank(a) - rank(b) || a.localeCompare(b, "en", { numeric: true }))
    .map(([slice, c]) => ({ feature, slice, count: c.count, accuracy: c.correct / c.count }));
}

/** The names of the bands that `edges` cut, lowest first: "< 0.10", "0.10–0.20", "≥ 0.20". */
export function bandNames(edges: readonly number[]): string[] {
  const f = (x: number) => x.toFixed(2);
  return [
    `< ${f(edges[0])}`,
    ...edges.slice(1).map((e, i) => `${f(edges[i])}–${f(e)}`),
    `≥ ${f(edges.at(-1)!)}`,
  ];
}

/**
 * The brightness band of each image (its mean pixel on [0, 1]) given the
 * ascending band edges: `[0.1, 0.2]` gives "< 0.10", "0.10–0.20" and "≥ 0.20".
 */
export function brightnessBands(
  images: Uint8Array,
  edges: readonly number[],
  pixelsPerImage = 784,
): string[] {
  if (images.length % pixelsPerImage !== 0) {
    throw new SliceError(
      `brightnessBands: ${images.length} pixels is not a whole number of ${pixelsPerImage}-pixel images`,
    );
  }
  if (
    edges.length === 0 || edges.some((e, i) => !Number.isFinite(e) || (i > 0 && e <= edges[i - 1]))
  ) {
    throw new SliceError(`brightnessBands: edges [${edges}] must be finite and strictly ascending`);
  }
  const f = (x: number) => x.toFixed(2);
  const names = [
    `< ${f(edges[0])}`,
    ...edges.slice(1).map((e, i) => `${f(edges[i])}–${f(e)}`),
    `≥ ${f(edges.at(-1)!)}`,
  ];
  const out: string[] = [];
  for (let i = 0; i < images.length / pixelsPerImage; i++) {
    let sum = 0;
    for (let p = i * pixelsPerImage; p < (i + 1) * pixelsPerImage; p++) sum += images[p];
    const mean = sum / pixelsPerImage / 255;
    let band = edges.findIndex((e) => mean < e);
    if (band === -1) band = edges.length;
    out.push(names[band]);
  }
  return out;
}
