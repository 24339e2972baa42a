/**
 * Headless Chromium for the tests (Debian's `chromium`, no network, a fresh
 * profile), driven through the DevTools protocol, and a check of an HTML
 * report page: plotly figures drawn with the titles and axis titles their
 * layout asks for, no text outside its figure, drawing or image cell, no
 * figure title under plotly's toolbar, formulas typeset, no script error and
 * no network request.
 *
 * @example
 * ```ts ignore
 * import { Browser, checkPage, CHROMIUM, startChromium, which } from "./_browser.ts";
 * const chromium = await which(CHROMIUM);
 * const { proc, url } = await startChromium(chromium!, await Deno.makeTempDir());
 * const browser = await Browser.connect(url);
 * console.log(await checkPage(browser, "file:///tmp/report.html"));
 * browser.close();
 * proc.kill();
 * ```
 *
 * @module
 */
import assert from "node:assert/strict";
import { join } from "node:path";

/** require.js from Debian (libjs-requirejs): nbconvert pages load it. */
export const REQUIRE_JS = "/usr/share/javascript/requirejs/require.min.js";
/** Browser binaries tried, in order. */
export const CHROMIUM = ["chromium", "chromium-browser", "google-chrome"];

/** The first of `names` found on PATH, or null. */
export async function which(names: string[]): Promise<string | null> {
  for (const n of names) {
    for (const dir of (Deno.env.get("PATH") ?? "/usr/bin").split(":")) {
      try {
        if ((await Deno.stat(join(dir, n))).isFile) return join(dir, n);
      } catch {
        // next
      }
    }
  }
  return null;
}

/** A minimal DevTools-protocol client over the browser's WebSocket. */
export class Browser {
  #ws: WebSocket;
  #id = 0;
  #pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  #listeners: ((method: string, params: Record<string, unknown>, session?: string) => void)[] = [];
  constructor(ws: WebSocket) {
    this.#ws = ws;
    ws.onmessage = (ev) => {
      const msg = JSON.parse(ev.data as string);
      if (msg.id !== undefined) {
        const p = this.#pending.get(msg.id);
        this.#pending.delete(msg.id);
        if (msg.error) p?.reject(new Error(`${msg.error.message} (${msg.error.code})`));
        else p?.resolve(msg.result);
      } else {
        for (const l of this.#listeners) l(msg.method, msg.params, msg.sessionId);
      }
    };
  }
  static async connect(url: string): Promise<Browser> {
    const ws = new WebSocket(url);
    await new Promise((resolve, reject) => {
      ws.onopen = resolve;
      ws.onerror = () => reject(new Error(`cannot connect to ${url}`));
    });
    return new Browser(ws);
  }
  // deno-lint-ignore no-explicit-any
  send(method: string, params: Record<string, unknown> = {}, sessionId?: string): Promise<any> {
    const id = ++this.#id;
    this.#ws.send(JSON.stringify({ id, method, params, sessionId }));
    return new Promise((resolve, reject) => this.#pending.set(id, { resolve, reject }));
  }
  on(l: (method: string, params: Record<string, unknown>, session?: string) => void): void {
    this.#listeners.push(l);
  }
  close(): void {
    this.#ws.close();
  }
}

export interface PageCheck {
  figures: number;
  rendered: number;
  traces: number[];
  amd: boolean;
  ready: boolean;
  plotly: boolean;
  errors: string[];
  /** Network (http, ws) requests the page tried: none may be needed. */
  requests: string[];
  notRendered: string[];
  /** Figure titles and axis titles asked for (in the figure's layout) but not drawn. */
  missingTitles: string[];
  /** Text drawn outside its figure or drawing, or captions wider than their image cell. */
  clipped: string[];
  /** Figure titles that overlap plotly's toolbar. */
  toolbarOverlaps: string[];
  /** Formulas typeset (MathJax SVG) in Markdown cells. */
  formulas: number;
  /** Markdown text still showing TeX delimiters. */
  rawMath: string[];
  /** Bar labels drawn, per figure. */
  barTexts: string[][];
}

/** What the page reports about its figures, evaluated in the page. */
const CHECK_EXPRESSION = `(() => {
  const figs = [...document.querySelectorAll(".tfjs-nb-plotly")];
  const traces = figs.map((f) => f.querySelectorAll(
    ".main-svg .trace, .main-svg .hm, .main-svg image, .main-svg .point").length);
  // Letters and digits only: plotly draws "-" as a minus sign and splits lines into tspans.
  const plain = (s) => String(s ?? "").replace(/<[^>]*>/g, "").replace(/[^\\p{L}\\p{N}]+/gu, "");
  const titleText = (t) => typeof t === "string" ? t : (t && typeof t.text === "string" ? t.text : "");
  const box = (el) => el.getBoundingClientRect();
  const inside = (a, b) => a.width === 0 || (a.left >= b.left - 1 && a.right <= b.right + 1 &&
    a.top >= b.top - 1 && a.bottom <= b.bottom + 1);
  const overlap = (a, b) => a.width > 0 && b.width > 0 && a.left < b.right && b.left < a.right &&
    a.top < b.bottom && b.top < a.bottom;
  const missingTitles = [], clipped = [], toolbarOverlaps = [];
  const barTexts = [];
  figs.forEach((f, i) => {
    const name = f.getAttribute("aria-label") || f.id;
    const lay = f.layout || {};
    const asked = [["title", titleText(lay.title)]];
    for (const k of Object.keys(lay)) {
      if (/^[xy]axis\\d*$/.test(k)) asked.push([k, titleText(lay[k] && lay[k].title)]);
    }
    const drawn = [...f.querySelectorAll(".infolayer text, .g-gtitle text")].map((t) => plain(t.textContent));
    for (const [where, text] of asked) {
      if (plain(text) && !drawn.includes(plain(text))) missingTitles.push(name + ": " + where + ' "' + text + '"');
    }
    const svg = f.querySelector("svg.main-svg");
    if (svg) {
      const frame = box(svg);
      for (const t of f.querySelectorAll(".xtick text, .ytick text, .gtitle, .xtitle, .ytitle, [class^=x2title], [class^=y2title]")) {
        if (!inside(box(t), frame)) clipped.push(name + ': "' + t.textContent + '" outside the figure ' + JSON.stringify([box(t), frame].map((r) => [r.left, r.top, r.right, r.bottom].map(Math.round))));
      }
      const title = f.querySelector(".gtitle");
      const bar = f.querySelector(".modebar");
      if (title && bar && overlap(box(title), box(bar))) toolbarOverlaps.push(name + ': "' + title.textContent + '"');
    }
    barTexts.push([...f.querySelectorAll(".bartext text, text.bartext")].map((t) => t.textContent));
  });
  for (const fig of document.querySelectorAll(".tfjs-nb-image-grid figure")) {
    const cap = fig.querySelector("figcaption");
    if (cap && cap.scrollWidth > fig.clientWidth + 1) clipped.push('caption "' + cap.textContent + '" wider than its cell');
  }
  const drawings = [...document.querySelectorAll(".jp-OutputArea-output svg, .output_area svg")]
    .filter((s) => !s.closest(".tfjs-nb-plotly") && !s.closest("mjx-container") && s.parentElement.closest("svg") === null);
  for (const s of drawings) {
    const frame = box(s);
    for (const t of s.querySelectorAll("text")) {
      if (!inside(box(t), frame)) clipped.push('drawing text "' + t.textContent + '" outside its SVG');
    }
  }
  const markdown = [...document.querySelectorAll(".jp-RenderedMarkdown, .text_cell_render")];
  let formulas = 0;
  const rawMath = [];
  for (const md of markdown) {
    formulas += md.querySelectorAll("mjx-container > svg").length;
    const copy = md.cloneNode(true);
    copy.querySelectorAll("code, pre, mjx-container").forEach((e) => e.remove());
    const m = /\\$[^$]+\\$|\\\\\\(|\\\\\\[/.exec(copy.textContent);
    if (m) rawMath.push(m[0].slice(0, 80));
  }
  return JSON.stringify({
    figures: figs.length,
    rendered: figs.filter((f, i) => f.querySelector("svg.main-svg") && traces[i] > 0).length,
    traces,
    amd: typeof window.define === "function" && !!window.define.amd,
    ready: document.readyState === "complete",
    plotly: !!window.Plotly,
    notRendered: figs.filter((f, i) => !(f.querySelector("svg.main-svg") && traces[i] > 0))
      .map((f) => (f.getAttribute("aria-label") || f.id) + ": " + f.textContent.slice(0, 200))
      // Drawings (svg()): an HTML sanitiser can leave an output <svg> with no shapes in it.
      .concat(drawings.filter((s) => s.childElementCount === 0)
        .map((s) => "empty SVG drawing: " + s.textContent.slice(0, 200))),
    missingTitles, clipped, toolbarOverlaps, formulas, rawMath, barTexts,
  });
})()`;

export async function checkPage(
  browser: Browser,
  url: string,
  timeoutMs = 60_000,
): Promise<PageCheck> {
  const { targetId } = await browser.send("Target.createTarget", { url: "about:blank" });
  const { sessionId } = await browser.send("Target.attachToTarget", { targetId, flatten: true });
  const errors: string[] = [];
  const requests: string[] = [];
  browser.on((method, params, session) => {
    if (session !== sessionId) return;
    if (method === "Network.requestWillBeSent") {
      const u = (params.request as { url: string }).url;
      // Only MathJax (nbconvert's, for LaTeX) may be fetched from a CDN by the page template.
      if (/^(https?|wss?):/.test(u) && !/mathjax/i.test(u)) requests.push(u);
    }
    if (method === "Runtime.exceptionThrown") {
      const d = params.exceptionDetails as { text: string; exception?: { description?: string } };
      errors.push(`exception: ${d.exception?.description ?? d.text}`);
    } else if (method === "Runtime.consoleAPICalled" && params.type === "error") {
      const args = params.args as { value?: unknown; description?: string }[];
      errors.push(`console.error: ${args.map((a) => a.value ?? a.description).join(" ")}`);
    } else if (method === "Log.entryAdded") {
      const e = params.entry as { source: string; level: string; text: string; url?: string };
      // Missing optional resources (e.g. MathJax without libjs-mathjax) are network
      // entries, not script errors.
      if (e.level === "error" && e.source === "javascript") errors.push(`log: ${e.text}`);
    }
  });
  await browser.send("Runtime.enable", {}, sessionId);
  await browser.send("Log.enable", {}, sessionId);
  await browser.send("Page.enable", {}, sessionId);
  await browser.send("Network.enable", {}, sessionId);
  await browser.send("Page.navigate", { url }, sessionId);
  const deadline = Date.now() + timeoutMs;
  let last: PageCheck | null = null;
  let settled = 0;
  while (Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 500));
    const r = await browser.send("Runtime.evaluate", {
      expression: CHECK_EXPRESSION,
      returnByValue: true,
    }, sessionId).catch(() => null);
    if (!r?.result?.value) continue;
    last = { ...JSON.parse(r.result.value), errors, requests };
    // Once every figure is drawn, look again a second later: plotly lays out
    // again after its first draw (autosize, automargin), and text moves.
    if (last!.figures > 0 && last!.rendered === last!.figures) {
      if (settled++ >= 2) break;
    }
    // A page without figures is done once it has loaded and its scripts had a moment.
    if (last!.figures === 0 && last!.ready && Date.now() > deadline - timeoutMs + 3000) break;
    if (errors.length) break;
  }
  await browser.send("Target.closeTarget", { targetId });
  assert.ok(last, `${url}: the page never answered`);
  return last!;
}

/** Headless chromium, quiet: no sandbox, GPU, first-run page or background traffic. */
export const CHROMIUM_HEADLESS_FLAGS: readonly string[] = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

/** Starts headless chromium with no network and a fresh profile; returns its DevTools URL. */
export async function startChromium(
  binary: string,
  profile: string,
): Promise<{ proc: Deno.ChildProcess; url: string }> {
  const proc = new Deno.Command(binary, {
    args: [
      ...CHROMIUM_HEADLESS_FLAGS,
      "--disable-extensions",
      "--allow-file-access-from-files",
      // No network: every host resolves to nothing, and there is no proxy route out.
      "--host-resolver-rules=MAP * ~NOTFOUND",
      "--proxy-server=127.0.0.1:9",
      "--remote-debugging-port=0",
      // A laptop's window, not headless chromium's 800x600 default.
      "--window-size=1280,900",
      `--user-data-dir=${profile}`,
      "about:blank",
    ],
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const reader = proc.stderr.pipeThrough(new TextDecoderStream()).getReader();
  let buf = "";
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    const { value, done } = await reader.read();
    if (done) break;
    buf += value;
    const m = /DevTools listening on (ws:\/\/\S+)/.exec(buf);
    if (m) {
      // Keep draining stderr so chromium never blocks on a full pipe.
      (async () => {
        try {
          while (!(await reader.read()).done) { /* drain */ }
        } catch { /* closed */ }
      })();
      return { proc, url: m[1] };
    }
  }
  proc.kill();
  throw new Error(`chromium did not start: ${buf.slice(0, 1000)}`);
}
