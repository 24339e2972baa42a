/**
 * Rich display for notebooks: plotly figures, tables, image grids, live
 * training progress, and the kernel detection they share. Everything here
 * renders richly in Deno's Jupyter kernel and as text under `deno run`.
 *
 * @example
 * ```ts
 * import { barChart, inJupyter, table } from "./mod.ts";
 * console.log(inJupyter(), String(table([{ a: 1 }])), String(barChart(["x"], [1])));
 * ```
 *
 * @module
 */
export { type Displayable, DisplayInputError, html, svg } from "./displayable.ts";
export { display } from "./display.ts";
export { inJupyter } from "./jupyter.ts";
export { plot } from "./plot.ts";
export { table } from "./table.ts";
export { historyPlot } from "./history_plot.ts";
export { imageGrid, type ImageGridOptions } from "./image_grid.ts";
export { confusionMatrixPlot } from "./confusion_matrix_plot.ts";
export { barChart } from "./bar_chart.ts";
export { histogramPlot } from "./histogram_plot.ts";
export { progress, ProgressCallback, type ProgressOptions } from "./progress.ts";
export { encodeGrayPng } from "./png.ts";
export { headline, HEADLINE_MIME } from "./headline.ts";
