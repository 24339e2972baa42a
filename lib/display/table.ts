/**
 * Tables of records as HTML (in the notebook) and aligned text (outside).
 *
 * @example
 * ```ts
 * import { table } from "./table.ts";
 * console.log(String(table([{ backend: "wasm", ms: 25.1 }, { backend: "cpu", ms: 410 }])));
 * ```
 *
 * @module
 */
import { type Displayable, displayable, DisplayInputError, escapeHtml } from "./displayable.ts";

/** A cell value as text: numbers to 4 significant digits, objects as JSON. */
export function formatCell(v: unknown): string {
  if (v === null || v === undefined) return "";
  if (typeof v === "number") {
    if (Number.isInteger(v)) return String(v);
    if (!Number.isFinite(v)) return String(v);
    const a = Math.abs(v);
    if (a !== 0 && (a < 1e-3 || a >= 1e6)) return v.toExponential(3);
    return a >= 1000 ? v.toFixed(1) : String(Number(v.toPrecision(4)));
  }
  if (typeof v === "string") return v;
  if (typeof v === "boolean" || typeof v === "bigint") return String(v);
  if (Array.isArray(v) && v.every((x) => typeof x !== "object")) return `[${v.join(", ")}]`;
  try {
    return JSON.stringify(v) ?? String(v);
  } catch {
    return String(v);
  }
}

/** Columns in first-seen order across all rows. */
function columnsOf(rows: Record<string, unknown>[]): string[] {
  const cols: string[] = [];
  for (const r of rows) for (const k of Object.keys(r)) if (!cols.includes(k)) cols.push(k);
  return cols;
}

/** Aligned plain-text rendering (numbers right-aligned). */
export function tableText(rows: Record<string, unknown>[], title?: string): string {
  const cols = columnsOf(rows);
  const cells = rows.map((r) => cols.map((c) => formatCell(r[c])));
  const widths = cols.map((c, j) => Math.max(c.length, ...cells.map((row) => row[j].length)));
  const numeric = cols.map((c) =>
    rows.every((r) => r[c] === undefined || typeof r[c] === "number")
  );
  const line = (vals: string[]) =>
    vals.map((v, j) => (numeric[j] ? v.padStart(widths[j]) : v.padEnd(widths[j]))).join("  ")
      .trimEnd();
  const out = [line(cols), widths.map((w) => "-".repeat(w)).join("  "), ...cells.map(line)];
  if (title) out.unshift(title);
  return out.join("\n");
}

/** An HTML table of `rows` (one column per key, in first-seen order). */
export function table(
  rows: Record<string, unknown>[],
  opts: { title?: string } = {},
): Displayable {
  if (!Array.isArray(rows) || rows.some((r) => !r || typeof r !== "object")) {
    throw new DisplayInputError(
      "table(rows): expected an array of plain objects, e.g. [{ name: 'a', value: 1 }]",
    );
  }
  const cols = columnsOf(rows);
  const numeric = cols.map((c) =>
    rows.every((r) => r[c] === undefined || typeof r[c] === "number")
  );
  const th = cols.map((c, j) =>
    `<th style="text-align:${numeric[j] ? "right" : "left"};padding:2px 10px">${escapeHtml(c)}</th>`
  ).join("");
  const body = rows.map((r) =>
    "<tr>" + cols.map((c, j) =>
      `<td style="text-align:${numeric[j] ? "right" : "left"};padding:2px 10px">${
        escapeHtml(formatCell(r[c]))
      }</td>`
    ).join("") + "</tr>"
  ).join("\n");
  const caption = opts.title
    ? `<caption style="caption-side:top;text-align:left;font-weight:bold">${
      escapeHtml(opts.title)
    }</caption>`
    : "";
  const markup = `<table class="tfjs-nb-table" style="border-collapse:collapse">${caption}` +
    `<thead><tr>${th}</tr></thead>\n<tbody>\n${body}\n</tbody></table>`;
  const text = tableText(rows, opts.title);
  return displayable(() => ({ "text/html": markup, "text/plain": text }), text);
}
