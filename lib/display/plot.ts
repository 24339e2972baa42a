/**
 * Plotly figures as Jupyter display objects.
 *
 * One mime bundle per figure: `application/vnd.plotly.v1+json` (`{ data,
 * layout }`, rendered natively by VS Code and JupyterLab's plotly renderer),
 * `text/html` that draws the figure with plotly.js embedded in the page (no
 * network: nbconvert's HTML reports work offline), and a `text/plain` summary.
 *
 * @example
 * ```ts
 * import { plot } from "./plot.ts";
 * const fig = plot([{ type: "scatter", x: [1, 2, 3], y: [2, 4, 8] }], { title: { text: "growth" } });
 * console.log(String(fig)); // plotly figure "growth": 1 trace (scatter, 3 points)
 * ```
 *
 * @module
 */
import { type Displayable, displayable, DisplayInputError, escapeHtml } from "./displayable.ts";
import { takePlotlyLibrary } from "./_plotly_library.ts";

/** The mime type of a plotly figure (`{ data, layout }`). */
export const PLOTLY_MIME = "application/vnd.plotly.v1+json";

let figureCounter = 0;

/**
 * plotly.js's config for the figures in HTML: resizes with the page, and a
 * short toolbar (zoom, pan, reset, save as PNG) that leaves room for the title.
 */
export const PLOTLY_CONFIG = {
  responsive: true,
  displaylogo: false,
  modeBarButtonsToRemove: ["select2d", "lasso2d", "zoomIn2d", "zoomOut2d", "autoScale2d"],
};

/**
 * Where a title goes unless the layout says: left-aligned over the plot area,
 * away from plotly's toolbar (top right), which a centred title runs into.
 */
export const TITLE_PLACEMENT = { x: 0, xref: "paper", xanchor: "left" };

/** JSON that is safe inside an HTML <script> element. */
export function scriptJson(value: unknown): string {
  return JSON.stringify(value)
    .replace(/</g, "\\u003c")
    .replace(/>/g, "\\u003e")
    .replace(/\u2028/g, "\\u2028")
    .replace(/\u2029/g, "\\u2029");
}

function titleOf(layout: Record<string, unknown>): string | undefined {
  const t = layout.title;
  if (typeof t === "string") return t;
  if (t && typeof t === "object" && typeof (t as { text?: unknown }).text === "string") {
    return (t as { text: string }).text;
  }
  return undefined;
}

function pointsOf(trace: Record<string, unknown>): number | undefined {
  for (const key of ["y", "x", "z", "values"]) {
    const v = trace[key];
    if (Array.isArray(v) || ArrayBuffer.isView(v)) return (v as ArrayLike<unknown>).length;
  }
  return undefined;
}

/** A one-line text summary of a figure. */
export function figureSummary(
  data: Record<string, unknown>[],
  layout: Record<string, unknown>,
): string {
  const title = titleOf(layout);
  const traces = data.map((t) => {
    const n = pointsOf(t);
    const kind = typeof t.type === "string" ? t.type : "scatter";
    const name = typeof t.name === "string" ? `${t.name}: ` : "";
    return `${name}${kind}${n === undefined ? "" : `, ${n} points`}`;
  });
  return `plotly figure${title ? ` "${title}"` : ""}: ${data.length} trace${
    data.length === 1 ? "" : "s"
  } (${traces.join("; ")})`;
}

/** `title` as plotly.js 3 wants it: a string (plotly.js 1-2's form) becomes `{ text }`. */
function titleObject(title: unknown): unknown {
  if (typeof title === "string" || typeof title === "number") return { text: String(title) };
  return title;
}

const AXIS = /^([xyz]axis\d*|radialaxis|angularaxis|aaxis|baxis|caxis)$/;

/**
 * The layout with every `title` given as a plain string (the layout's, each
 * axis's, each 3-D scene axis's, the legend's and colour bars') turned into
 * `{ text }`: plotly.js 3 ignores plain-string titles silently.
 */
export function normalizeTitles(layout: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...layout };
  if ("title" in out) out.title = titleObject(out.title);
  for (const [key, value] of Object.entries(out)) {
    if (!value || typeof value !== "object" || Array.isArray(value)) continue;
    if (AXIS.test(key) || key === "legend" || key === "coloraxis") {
      const v = { ...(value as Record<string, unknown>) };
      if ("title" in v) v.title = titleObject(v.title);
      out[key] = v;
    } else if (/^(scene|polar|ternary)\d*$/.test(key)) {
      out[key] = normalizeTitles(value as Record<string, unknown>);
    }
  }
  return out;
}

/** Typed arrays → plain arrays, so the JSON is what plotly expects. */
function plain(value: unknown): unknown {
  if (ArrayBuffer.isView(value) && !(value instanceof DataView)) {
    return Array.from(value as unknown as ArrayLike<number>);
  }
  if (Array.isArray(value)) return value.map(plain);
  if (value && typeof value === "object") {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = plain(v);
    return out;
  }
  if (typeof value === "number" && !Number.isFinite(value)) return null;
  return value;
}

/** The HTML for one figure; `library` is the plotly.js script for the first figure, else "". */
export function figureHtml(
  spec: { data: unknown[]; layout: Record<string, unknown> },
  library: string,
  summary: string,
): string {
  const id = `tfjs-nb-plot-${Date.now().toString(36)}-${(++figureCounter).toString(36)}`;
  const height = typeof spec.layout.height === "number" ? spec.layout.height : 420;
  return `${library}<div id="${id}" class="tfjs-nb-plotly" style="width:100%;min-height:${height}px" ` +
    `aria-label="${escapeHtml(summary)}"></div>\n<script type="text/javascript">(function () {\n` +
    `  var spec = ${scriptJson(spec)};\n` +
    `  var tries = 0;\n` +
    `  function draw() {\n` +
    `    var el = document.getElementById(${JSON.stringify(id)});\n` +
    `    if (!el) return;\n` +
    `    if (window.Plotly && window.Plotly.newPlot) {\n` +
    `      window.Plotly.newPlot(el, spec.data, spec.layout, ${JSON.stringify(PLOTLY_CONFIG)});\n` +
    `    } else if (window.__tfjsNbPlotlyError) {\n` +
    `      el.textContent = window.__tfjsNbPlotlyError;\n` +
    `    } else if (tries++ < 600) {\n` +
    `      setTimeout(draw, 50);\n` +
    `    } else {\n` +
    `      el.textContent = "plotly.js is not loaded on this page: re-run the notebook from the top (the first figure carries the library).";\n` +
    `    }\n` +
    `  }\n` +
    `  draw();\n` +
    `})();</script>`;
}

/**
 * Any plotly figure: `traces` are plotly.js trace objects, `layout` its layout.
 * Typed arrays are accepted and sent as plain arrays; non-finite numbers as null.
 * Titles may be strings or `{ text }` objects ({@linkcode normalizeTitles}).
 */
export function plot(traces: object[], layout: object = {}): Displayable {
  if (!Array.isArray(traces)) {
    throw new DisplayInputError(
      "plot(traces, layout): traces must be an array of plotly trace objects, e.g. [{ type: 'bar', x, y }]",
    );
  }
  traces.forEach((t, i) => {
    if (!t || typeof t !== "object" || Array.isArray(t)) {
      throw new DisplayInputError(`plot(traces): traces[${i}] is not a plotly trace object`);
    }
  });
  const data = plain(traces) as Record<string, unknown>[];
  const lay = normalizeTitles({
    margin: { t: 50, r: 20, b: 50, l: 60 },
    ...(plain(layout) as Record<string, unknown>),
  });
  const title = lay.title as Record<string, unknown> | undefined;
  if (title && typeof title === "object" && !("x" in title) && !("xanchor" in title)) {
    lay.title = { ...TITLE_PLACEMENT, ...title };
  }
  const summary = figureSummary(data, lay);
  return displayable(() => ({
    [PLOTLY_MIME]: { data, layout: lay },
    "text/html": figureHtml({ data, layout: lay }, takePlotlyLibrary(), summary),
    "text/plain": summary,
  }), summary);
}
