/**
 * A confusion matrix as a heatmap: true class down, predicted class across,
 * each cell annotated with its count.
 *
 * @example
 * ```ts
 * import { confusionMatrixPlot } from "./confusion_matrix_plot.ts";
 * console.log(String(confusionMatrixPlot([[5, 1], [0, 4]], { classNames: ["cat", "dog"] })));
 * ```
 *
 * @module
 */
import { type Displayable, DisplayInputError } from "./displayable.ts";
import { plot } from "./plot.ts";

/** `matrix[t][p]` = how many samples of true class t were predicted as p. */
export function confusionMatrixPlot(
  matrix: number[][],
  opts: { classNames?: string[]; title?: string } = {},
): Displayable {
  const n = matrix?.length ?? 0;
  if (n === 0 || !matrix.every((row) => Array.isArray(row) && row.length === n)) {
    throw new DisplayInputError(
      "confusionMatrixPlot(matrix): expected a square matrix (an array of n rows of n counts)",
    );
  }
  if (opts.classNames && opts.classNames.length !== n) {
    throw new DisplayInputError(
      `confusionMatrixPlot: ${opts.classNames.length} class names for a ${n}x${n} matrix`,
    );
  }
  const names = opts.classNames ?? Array.from({ length: n }, (_, i) => String(i));
  let total = 0, correct = 0;
  matrix.forEach((row, t) =>
    row.forEach((v, p) => {
      total += v;
      if (t === p) correct += v;
    })
  );
  const accuracy = total ? correct / total : 0;
  return plot([{
    type: "heatmap",
    z: matrix,
    x: names,
    y: names,
    colorscale: "Blues",
    texttemplate: "%{z}",
    hovertemplate: "true %{y}, predicted %{x}: %{z}<extra></extra>",
  }], {
    title: {
      text: `${opts.title ?? "Confusion matrix"} (accuracy ${(accuracy * 100).toFixed(2)}%)`,
    },
    height: Math.max(360, 40 * n + 140),
    // automargin: the margins grow to fit class names ("Ankle boot") instead of cutting them.
    xaxis: { title: { text: "predicted" }, type: "category", side: "bottom", automargin: true },
    yaxis: {
      title: { text: "true" },
      type: "category",
      autorange: "reversed",
      automargin: true,
    },
  });
}
