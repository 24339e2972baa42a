/**
 * A bar chart of labelled values (backend timings, per-class counts, ...).
 *
 * @example
 * ```ts
 * import { barChart } from "./bar_chart.ts";
 * console.log(String(barChart(["cpu", "wasm"], [120, 25], { yTitle: "ms" })));
 * ```
 *
 * @module
 */
import { type Displayable, DisplayInputError } from "./displayable.ts";
import { plot } from "./plot.ts";

/**
 * Bars `labels[i]` → `values[i]`, each bar labelled with its value.
 * `logY` uses a logarithmic value axis (for timings that differ by orders of magnitude).
 */
export function barChart(
  labels: string[],
  values: number[],
  opts: { title?: string; yTitle?: string; logY?: boolean } = {},
): Displayable {
  if (!Array.isArray(labels) || labels.length !== values?.length) {
    throw new DisplayInputError(
      `barChart(labels, values): need as many labels as values (got ${labels?.length} labels, ` +
        `${values?.length} values)`,
    );
  }
  const ys = Array.from(values, Number);
  return plot([{
    type: "bar",
    x: labels.map(String),
    y: ys,
    text: ys.map((v) => (Number.isFinite(v) ? Number(v.toPrecision(3)).toString() : "")),
    textposition: "auto",
    marker: { color: "#1f77b4" },
  }], {
    title: { text: opts.title ?? "" },
    height: 360,
    yaxis: { title: { text: opts.yTitle ?? "" }, type: opts.logY ? "log" : "linear" },
  });
}
