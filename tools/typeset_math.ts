/**
 * Typesets the LaTeX in an nbconvert HTML page at export time, so that a
 * report shows its formulas offline with nothing to load: every `$...$`,
 * `$$...$$`, `\(...\)` and `\[...\]` in the rendered Markdown cells becomes an
 * inline SVG made by MathJax (the npm package `mathjax-full`, pinned in
 * `deno.json`), and the page's own MathJax loader (nbconvert points it at
 * `file:///usr/share/javascript/mathjax/`, which nothing installs) is removed.
 *
 * Only Markdown cells are read (code, outputs and `<code>`/`<pre>` text keep
 * their dollars). Inline math follows MathJax's rules: no space just inside
 * the dollars, and a closing dollar followed by a digit is not one ("$5 and
 * $6" is money). `\$` is a literal dollar.
 *
 * @example
 * ```ts
 * import { texToSvg } from "./typeset_math.ts";
 * console.log(texToSvg("y = 3x + 2", false).slice(0, 40)); // <mjx-container class="MathJax" jax="SVG"...
 * ```
 *
 * @module
 */
import { mathjax } from "mathjax-full/js/mathjax.js";
import { TeX } from "mathjax-full/js/input/tex.js";
import { SVG } from "mathjax-full/js/output/svg.js";
import { liteAdaptor } from "mathjax-full/js/adaptors/liteAdaptor.js";
import { RegisterHTMLHandler } from "mathjax-full/js/handlers/html.js";
import { AllPackages } from "mathjax-full/js/input/tex/AllPackages.js";

/** What {@linkcode typesetMath} did to a page. */
export interface TypesetResult {
  html: string;
  /** Formulas typeset. */
  count: number;
  /** Formulas MathJax could not parse (shown in red on the page), with its message. */
  errors: string[];
}

// deno-lint-ignore no-explicit-any
let engine: { adaptor: any; doc: any } | null = null;

function mj() {
  if (!engine) {
    const adaptor = liteAdaptor();
    RegisterHTMLHandler(adaptor);
    const doc = mathjax.document("", {
      InputJax: new TeX({ packages: AllPackages.filter((p: string) => p !== "bussproofs") }),
      // fontCache "none": each SVG carries its own glyph paths (no shared <defs> to lose).
      OutputJax: new SVG({ fontCache: "none" }),
    });
    engine = { adaptor, doc };
  }
  return engine;
}

/** `tex` as an `<mjx-container>` holding an SVG; `display` for a centred block. */
export function texToSvg(tex: string, display: boolean): string {
  const { adaptor, doc } = mj();
  return adaptor.outerHTML(doc.convert(tex, { display }));
}

/** The CSS MathJax's SVG output needs (sizes, alignment of display math). */
export function mathStyleSheet(): string {
  const { adaptor, doc } = mj();
  return adaptor.textContent(doc.outputJax.styleSheet(doc));
}

const decode = (s: string): string =>
  s.replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&quot;/g, '"').replace(/&#39;/g, "'")
    .replace(/&#x27;/g, "'").replace(/&nbsp;/g, "\u00a0").replace(/&amp;/g, "&");

/** `$$..$$`, `\[..\]`, `\(..\)`, then `$..$` (not after a backslash, no inner edge spaces). */
const MATH =
  /\$\$([\s\S]+?)\$\$|\\\[([\s\S]+?)\\\]|\\\(([\s\S]+?)\\\)|(?<!\\)\$(?!\s)((?:\\\$|[^$])+?)(?<![\s\\])\$(?!\d)/g;

/** Typesets the math in one run of text (no tags in it); returns the new markup. */
export function typesetText(
  text: string,
  found: { count: number; errors: string[] },
): string {
  const out = text.replace(MATH, (_m, dd, sq, pr, d) => {
    const tex = decode(dd ?? sq ?? pr ?? d);
    const display = dd !== undefined || sq !== undefined;
    const svg = texToSvg(tex, display);
    found.count++;
    const err = /data-mjx-error="([^"]*)"/.exec(svg);
    if (err) found.errors.push(`${decode(err[1])} in "${tex.slice(0, 80)}"`);
    return svg;
  });
  return out.replace(/\\\$/g, "$");
}

const MARKDOWN_START =
  /<div class="[^"]*\bjp-RenderedMarkdown\b[^"]*"[^>]*>|<div class="[^"]*\btext_cell_render\b[^"]*"[^>]*>/g;

/** Index just past the `</div>` closing the div whose content starts at `from`. */
function closingDiv(html: string, from: number): number {
  const tag = /<(\/?)div\b[^>]*>/gi;
  tag.lastIndex = from;
  let depth = 1;
  for (let m = tag.exec(html); m; m = tag.exec(html)) {
    depth += m[1] ? -1 : 1;
    if (depth === 0) return m.index;
  }
  return html.length;
}

/** Typesets one Markdown cell's rendered HTML, leaving tags and code alone. */
function typesetFragment(fragment: string, found: { count: number; errors: string[] }): string {
  const parts = fragment.split(/(<[^>]*>)/);
  let code = 0;
  // Join runs of text between tags that cannot split a formula (none can), typeset each.
  return parts.map((part) => {
    if (part.startsWith("<")) {
      const m = /^<(\/?)(code|pre|script|style)\b/i.exec(part);
      if (m) code += m[1] ? -1 : 1;
      return part;
    }
    return code > 0 || !/[$\\]/.test(part) ? part : typesetText(part, found);
  }).join("");
}

/**
 * The page with every formula in its Markdown cells typeset as SVG, MathJax's
 * stylesheet added, and nbconvert's MathJax loader removed.
 */
export function typesetMath(html: string): TypesetResult {
  const found = { count: 0, errors: [] as string[] };
  let out = "";
  let at = 0;
  MARKDOWN_START.lastIndex = 0;
  for (let m = MARKDOWN_START.exec(html); m; m = MARKDOWN_START.exec(html)) {
    const start = m.index + m[0].length;
    const end = closingDiv(html, start);
    out += html.slice(at, start) + typesetFragment(html.slice(start, end), found);
    at = end;
    MARKDOWN_START.lastIndex = end;
  }
  out += html.slice(at);
  out = out.replace(
    /<!-- Load mathjax -->[\s\S]*?<!-- End of mathjax configuration -->/,
    `<!-- Math typeset at export time by MathJax (npm mathjax-full), as SVG -->`,
  );
  if (found.count > 0) {
    out = out.replace(
      /<\/head>/i,
      `<style type="text/css">\n${mathStyleSheet()}\n</style>\n</head>`,
    );
  }
  return { html: out, ...found };
}
