/**
 * Rich display objects for Deno's Jupyter kernel.
 *
 * The kernel shows the last expression of a cell; when that value has a
 * `[Symbol.for("Jupyter.display")]()` method, the kernel sends the mime bundle
 * it returns (`text/html`, `text/plain`, ...) instead of printing the value.
 * Every figure and table in `lib/display/` is such a {@linkcode Displayable};
 * outside the kernel its `toString()` gives a short text summary.
 *
 * @example
 * ```ts
 * import { html, svg } from "./displayable.ts";
 * const badge = html("<b>ready</b>");
 * console.log(String(badge)); // "ready"
 * const dot = svg('<svg width="10" height="10"><circle cx="5" cy="5" r="4"/></svg>');
 * console.log(dot.toString());
 * ```
 *
 * @module
 */

/** The symbol Deno's Jupyter kernel looks for on a displayed value. */
export const DISPLAY: unique symbol = Symbol.for("Jupyter.display");

/** A mime bundle: mime type → content (`text/plain`, `text/html`, `application/json`, ...). */
export type MimeBundle = Record<string, unknown>;

/** A value the kernel renders richly; `toString()` is its plain-text summary. */
export interface Displayable {
  [DISPLAY](): MimeBundle;
  toString(): string;
}

/**
 * Makes a {@linkcode Displayable} from a bundle builder, called each time the
 * value is shown (so figures can decide then whether to embed plotly.js), and a
 * text summary.
 */
export function displayable(bundle: () => MimeBundle, summary: string): Displayable {
  return {
    [DISPLAY]: bundle,
    toString: () => summary,
    // Deno's console (and `deno run` output) shows the summary, not the internals.
    [Symbol.for("Deno.customInspect")]: () => summary,
  } as Displayable;
}

/** True when `x` has a Jupyter display method. */
export function isDisplayable(x: unknown): x is Displayable {
  return typeof x === "object" && x !== null &&
    typeof (x as Record<symbol, unknown>)[DISPLAY] === "function";
}

/** Escapes `&`, `<`, `>`, `"` and `'` for HTML text and attribute values. */
export function escapeHtml(text: string): string {
  return text.replace(
    /[&<>"']/g,
    (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]!,
  );
}

/** The text content of a fragment of markup, roughly: tags dropped, entities decoded, spaces collapsed. */
export function markupToText(markup: string): string {
  return markup
    .replace(/<(script|style)[\s\S]*?<\/\1>/gi, " ")
    .replace(/<[^>]*>/g, " ")
    .replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&quot;/g, '"').replace(/&#39;/g, "'")
    .replace(/&nbsp;/g, " ").replace(/&amp;/g, "&")
    .replace(/\s+/g, " ")
    .trim();
}

/** Thrown when a display helper gets input it cannot show; the message says what to pass. */
export class DisplayInputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "DisplayInputError";
  }
}

/** Shows HTML markup (rendered in the notebook; its text outside). */
export function html(markup: string): Displayable {
  if (typeof markup !== "string") {
    throw new DisplayInputError(`html(markup): expected a string of HTML, got ${typeof markup}`);
  }
  const text = markupToText(markup);
  return displayable(() => ({ "text/html": markup, "text/plain": text }), text);
}

/**
 * Shows an SVG image given as markup (`<svg ...>...</svg>`).
 *
 * The bundle carries the markup as `text/html` too: nbconvert's HTML export
 * (6.5+) passes `image/svg+xml` through an HTML sanitizer that strips every
 * SVG element but the root, so a report would show an empty box; `text/html`
 * ranks first there and in JupyterLab, and renders the same inline SVG.
 */
export function svg(markup: string): Displayable {
  if (typeof markup !== "string" || !/<svg[\s>]/i.test(markup)) {
    throw new DisplayInputError(
      "svg(markup): expected SVG markup starting with an <svg> element; for other HTML use html()",
    );
  }
  const w = /<svg[^>]*\swidth="([^"]+)"/i.exec(markup)?.[1];
  const h = /<svg[^>]*\sheight="([^"]+)"/i.exec(markup)?.[1];
  const summary = `SVG image${w && h ? ` ${w}x${h}` : ""}`;
  return displayable(
    () => ({ "text/html": markup, "image/svg+xml": markup, "text/plain": summary }),
    summary,
  );
}
