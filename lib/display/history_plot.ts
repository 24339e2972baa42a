/**
 * Training history as curves per epoch: losses on the left, other metrics on
 * the right, validation curves dashed in the same colour as their training curve.
 *
 * @example
 * ```ts
 * import { historyPlot } from "./history_plot.ts";
 * const fig = historyPlot({ loss: [0.9, 0.5, 0.3], val_loss: [1.0, 0.6, 0.4], acc: [0.7, 0.85, 0.9] });
 * console.log(String(fig));
 * ```
 *
 * @module
 */
import { type Displayable, DisplayInputError } from "./displayable.ts";
import { plot } from "./plot.ts";

const COLORS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2"];

/**
 * One curve per key of `history` (e.g. `loss`, `acc`, `val_loss`, `val_acc`, as
 * `model.fit`'s `history.history` holds them), x = epoch 1..n.
 */
export function historyPlot(
  history: Record<string, number[]>,
  opts: { title?: string } = {},
): Displayable {
  if (!history || typeof history !== "object") {
    throw new DisplayInputError(
      "historyPlot(history): expected an object of per-epoch arrays, e.g. { loss: [...], acc: [...] }",
    );
  }
  const keys = Object.keys(history).filter((k) => {
    const v = history[k];
    if (!Array.isArray(v) && !ArrayBuffer.isView(v)) {
      throw new DisplayInputError(`historyPlot(history): history.${k} is not an array of numbers`);
    }
    return (v as ArrayLike<number>).length > 0;
  });
  if (keys.length === 0) {
    throw new DisplayInputError("historyPlot(history): no metric has any epochs to plot");
  }
  const base = (k: string) => k.replace(/^val_/, "");
  const isLoss = (k: string) => /loss|error|mse|mae/i.test(base(k));
  const losses = keys.filter(isLoss);
  const metrics = keys.filter((k) => !isLoss(k));
  const twoPanels = losses.length > 0 && metrics.length > 0;
  const bases = [...new Set(keys.map(base))];
  const traces = keys.map((k) => {
    const ys = Array.from(history[k] as ArrayLike<number>, Number);
    const onRight = twoPanels && !isLoss(k);
    return {
      type: "scatter",
      mode: ys.length > 30 ? "lines" : "lines+markers",
      name: k,
      x: ys.map((_, i) => i + 1),
      y: ys,
      xaxis: onRight ? "x2" : "x",
      yaxis: onRight ? "y2" : "y",
      line: {
        color: COLORS[bases.indexOf(base(k)) % COLORS.length],
        dash: k.startsWith("val_") ? "dash" : "solid",
      },
    };
  });
  const layout: Record<string, unknown> = {
    title: { text: opts.title ?? "Training history" },
    height: 380,
    legend: { orientation: "h", y: -0.2 },
    xaxis: { title: { text: "epoch" }, domain: twoPanels ? [0, 0.45] : [0, 1], dtick: 1 },
    yaxis: { title: { text: losses.length ? "loss" : "metric" } },
  };
  if (twoPanels) {
    layout.xaxis2 = { title: { text: "epoch" }, domain: [0.55, 1], anchor: "y2", dtick: 1 };
    layout.yaxis2 = { title: { text: "metric" }, anchor: "x2" };
  }
  return plot(traces, layout);
}
