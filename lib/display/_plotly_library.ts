/**
 * plotly.js, read from the pinned npm package `plotly.js-dist` and embedded
 * once per kernel session: the first figure's HTML carries the library, later
 * figures find `window.Plotly` on the page.
 *
 * @module
 */
import { createRequire } from "node:module";
import { gzipSync } from "node:zlib";

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
    source = text;
  }
  return source;
}

let packed: string | null = null;

/** plotly.js gzipped and base64-encoded (about 2.7 MB instead of 11 MB), computed once. */
export function plotlyPacked(): string {
  if (packed === null) {
    packed = encodeBase64(gzipSync(new TextEncoder().encode(plotlySource()), { level: 9 }));
  }
  return packed;
}

function encodeBase64(bytes: Uint8Array): string {
  let s = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(s);
}

/**
 * A `<script>` that defines `window.Plotly` unless the page already has it.
 * The library travels gzipped (base64) and is unpacked with the browser's
 * `DecompressionStream`, then run in a wrapper that shadows `define`,
 * `module` and `exports`, so that an AMD loader (require.js, which
 * nbconvert's pages load) or a CommonJS shim on the page cannot capture it:
 * it always sets `window.Plotly`. Figures wait for `window.Plotly`.
 */
export function plotlyLibraryScript(): string {
  return `<script type="text/javascript">(function () {
  if (window.Plotly || window.__tfjsNbPlotlyLoading) return;
  window.__tfjsNbPlotlyLoading = true;
  var packed = "${plotlyPacked()}";
  function fail(e) {
    window.__tfjsNbPlotlyError = "plotly.js could not be unpacked: " + e;
    console.error(window.__tfjsNbPlotlyError);
  }
  try {
    var raw = atob(packed);
    var bytes = new Uint8Array(raw.length);
    for (var i = 0; i < raw.length; i++) bytes[i] = raw.charCodeAt(i);
    var stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("gzip"));
    new Response(stream).text().then(function (code) {
      var s = document.createElement("script");
      s.type = "text/javascript";
      s.text = "(function (define, module, exports) {\\n" + code +
        "\\n}).call(window, undefined, undefined, undefined);";
      document.head.appendChild(s);
      if (!window.Plotly) fail("the bundle did not define window.Plotly");
    }, fail);
  } catch (e) {
    fail(e);
  }
})();</script>`;
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
