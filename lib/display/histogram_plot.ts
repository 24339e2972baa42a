/**
 * A histogram of many values (weights, pixel intensities). The values are
 * binned here, so a million pixels make a figure of a few hundred bytes.
 *
 * @example
 * ```ts
 * import { binValues, histogramPlot } from "./histogram_plot.ts";
 * const values = Float32Array.from({ length: 1000 }, (_, i) => Math.sin(i));
 * console.log(binValues(values, 4).counts, String(histogramPlot(values, { bins: 20 })));
 * ```
 *
 * @module
 */
import { type Displayable, DisplayInputError } from "./displayable.ts";
import { plot } from "./plot.ts";

/** Bins of equal width over [min, max] of the finite values. */
export interface Bins {
  edges: number[];
  counts: number[];
  min: number;
  max: number;
  mean: number;
  /** Finite values counted. */
  n: number;
  /** NaN/Infinity values skipped. */
  skipped: number;
}

/** Counts `values` in `bins` equal-width bins (the last bin includes the maximum). */
export function binValues(values: ArrayLike<number>, bins = 30): Bins {
  if (!Number.isInteger(bins) || bins < 1) {
    throw new DisplayInputError(`histogram: bins must be a positive integer, got ${bins}`);
  }
  let min = Infinity, max = -Infinity, sum = 0, n = 0;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (!Number.isFinite(v)) continue;
    if (v < min) min = v;
    if (v > max) max = v;
    sum += v;
    n++;
  }
  if (n === 0) {
    throw new DisplayInputError(
      `histogram: no finite values to bin (${values.length} values given)`,
    );
  }
  const width = max > min ? (max - min) / bins : 1;
  const lo = max > min ? min : min - 0.5;
  const counts = new Array<number>(bins).fill(0);
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (!Number.isFinite(v)) continue;
    counts[Math.min(bins - 1, Math.floor((v - lo) / width))]++;
  }
  const edges = Array.from({ length: bins + 1 }, (_, i) => lo + i * width);
  return { edges, counts, min, max, mean: sum / n, n, skipped: values.length - n };
}

/** A histogram of `values` with `bins` bins (default 30). */
export function histogramPlot(
  values: ArrayLike<number>,
  opts: { title?: string; bins?: number } = {},
): Displayable {
  if (!values || typeof values.length !== "number") {
    throw new DisplayInputError(
      "histogramPlot(values): expected an array or typed array of numbers",
    );
  }
  const b = binValues(values, opts.bins ?? 30);
  const width = b.edges[1] - b.edges[0];
  const fmt = (v: number) => Number(v.toPrecision(4));
  return plot([{
    type: "bar",
    name: "count",
    x: b.counts.map((_, i) => b.edges[i] + width / 2),
    y: b.counts,
    width: b.counts.map(() => width),
    marker: { color: "#4c78a8", line: { color: "#ffffff", width: 0.5 } },
    hovertemplate: "%{x}: %{y}<extra></extra>",
  }], {
    // The statistics go on a second, smaller line, so that the title stays
    // short and clear of plotly's toolbar (top right).
    title: {
      text: `${opts.title ?? "Histogram"}<br><sup>n=${b.n}, min ${fmt(b.min)}, ` +
        `max ${fmt(b.max)}, mean ${fmt(b.mean)}</sup>`,
      y: 0.96,
      yanchor: "top",
    },
    margin: { t: 70, r: 20, b: 50, l: 60 },
    height: 360,
    bargap: 0,
    yaxis: { title: { text: "count" } },
  });
}
