/**
 * plotly.js, read from the pinned npm package `plotly.js-dist` and embedded
 * once per kernel session: the first figure's HTML carries the library, later
 * figures find `window.Plotly` on the page.
 *
 * @module
 */
import { createRequire } from "node:module";

/** The plotly.js version the import map pins (checked against the package at load). */
export const PLOTLY_VERSION = "3.3.1";

let source: string | null = null;
let embedded = false;

/** Thrown when the plotly.js bundle cannot be found or is not the pinned version. */
export class PlotlyLibraryError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "PlotlyLibraryError";
  }
}

/** Path of `plotly.js-dist`'s bundle, found through the npm package (not a fixed path). */
export function plotlyPath(): string {
  const require = createRequire(import.meta.url);
  try {
    return require.resolve("plotly.js-dist");
  } catch (e) {
    throw new PlotlyLibraryError(
      `cannot find the npm package plotly.js-dist (${(e as Error).message}); ` +
        `it is pinned in deno.json's imports: run \`deno install\` in the repository root`,
    );
  }
}

/** The plotly.js source, read once. */
export function plotlySource(): string {
  if (source === null) {
    const path = plotlyPath();
    const text = Deno.readTextFileSync(path);
    const version = /plotly\.js v(\d+\.\d+\.\d+)/.exec(text.slice(0, 200))?.[1];
    if (version !== PLOTLY_VERSION) {
      throw new PlotlyLibraryError(
        `${path} is plotly.js ${version ?? "(unknown version)"}, expected ${PLOTLY_VERSION}: ` +
          `reinstall with \`deno install\``,
      );
    }
    // Inside an HTML <script>, "</script" would end the element early.
    source = text.replace(/<\/script/gi, "<\\/script");
  }
  return source;
}

/**
 * A `<script>` that defines `window.Plotly` unless the page already has it.
 * `define`, `module` and `exports` are shadowed while the bundle runs, so an
 * AMD loader (require.js, which nbconvert's pages load) or a CommonJS shim on
 * the page cannot capture it: it always sets `window.Plotly`.
 */
export function plotlyLibraryScript(): string {
  return `<script type="text/javascript">if (!window.Plotly) {(function (define, module, exports) {\n` +
    plotlySource() +
    `\n}).call(window, undefined, undefined, undefined);}</script>`;
}

/** Returns the library script the first time per session, then "". */
export function takePlotlyLibrary(): string {
  if (embedded) return "";
  const script = plotlyLibraryScript();
  embedded = true;
  return script;
}

/** Forget that the library was embedded (tests; a new report run). */
export function _resetPlotlyLibrary(): void {
  embedded = false;
}
