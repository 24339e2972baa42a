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
 * The text on each bar: integers in full ("5923"), other values with 3
 * significant digits, or as many more as it takes for different values to read
 * differently (5.9231 and 5.9182 read "5.923" and "5.918", not both "5.92").
 * Non-finite values get no label.
 */
export function barLabels(values: ArrayLike<number>): string[] {
  const vs = Array.from(values, Number);
  const format = (v: number, digits: number): string => {
    if (!Number.isFinite(v)) return "";
    if (Number.isInteger(v) && Math.abs(v) < 1e21) return String(v);
    return String(Number(v.toPrecision(digits)));
  };
  for (let digits = 3; digits < 17; digits++) {
    const labels = vs.map((v) => format(v, digits));
    const seen = new Map<string, number>();
    const clash = vs.some((v, i) => {
      if (!Number.isFinite(v)) return false;
      const other = seen.get(labels[i]);
      seen.set(labels[i], v);
      return other !== undefined && other !== v;
    });
    if (!clash) return labels;
  }
  return vs.map((v) => format(v, 17));
}

/**
 * Bars `labels[i]` → `values[i]`, each bar labelled with its value ({@linkcode barLabels}).
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
    text: barLabels(ys),
    textposition: "auto",
    marker: { color: "#1f77b4" },
  }], {
    title: { text: opts.title ?? "" },
    height: 360,
    yaxis: { title: { text: opts.yTitle ?? "" }, type: opts.logY ? "log" : "linear" },
  });
}
