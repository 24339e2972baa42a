/**
 * A real-browser test of the HTML reports: headless Chromium (Debian's
 * `chromium`, no network) opens reports from `file:` URLs and checks, through
 * the DevTools protocol, that every plotly figure rendered (an SVG
 * `.main-svg` with its trace elements) and that no script error was raised,
 * with require.js on the page (nbconvert's pages load it) and without it.
 *
 * The test executes its own small fixture notebook through the report
 * pipeline (Deno's kernel + nbconvert), and also checks any
 * `reports/*.html` that `tests/notebooks_test.ts` or `deno task report` wrote.
 *
 * @module
 */
import assert from "node:assert/strict";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { executeNotebook, REPORT_DIR } from "../tools/report.ts";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
const REQUIRE_JS = "/usr/share/javascript/requirejs/require.min.js";
const CHROMIUM = ["chromium", "chromium-browser", "google-chrome"];

async function which(names: string[]): Promise<string | null> {
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
class Browser {
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

interface PageCheck {
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
}

/** What the page reports about its figures, evaluated in the page. */
const CHECK_EXPRESSION = `(() => {
  const figs = [...document.querySelectorAll(".tfjs-nb-plotly")];
  const traces = figs.map((f) => f.querySelectorAll(
    ".main-svg .trace, .main-svg .hm, .main-svg image, .main-svg .point").length);
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
      .concat([...document.querySelectorAll(".jp-OutputArea-output svg, .output_area svg")]
        .filter((s) => !s.closest(".tfjs-nb-plotly") && !s.closest("svg svg") &&
          s.parentElement.closest("svg") === null && s.childElementCount === 0)
        .map((s) => "empty SVG drawing: " + s.textContent.slice(0, 200))),
  });
})()`;

async function checkPage(browser: Browser, url: string, timeoutMs = 60_000): Promise<PageCheck> {
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
  while (Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 500));
    const r = await browser.send("Runtime.evaluate", {
      expression: CHECK_EXPRESSION,
      returnByValue: true,
    }, sessionId).catch(() => null);
    if (!r?.result?.value) continue;
    last = { ...JSON.parse(r.result.value), errors, requests };
    if (last!.figures > 0 && last!.rendered === last!.figures) break;
    // A page without figures is done once it has loaded and its scripts had a moment.
    if (last!.figures === 0 && last!.ready && Date.now() > deadline - timeoutMs + 3000) break;
    if (errors.length) break;
  }
  await browser.send("Target.closeTarget", { targetId });
  assert.ok(last, `${url}: the page never answered`);
  return last!;
}

async function startChromium(binary: string, profile: string) {
  const proc = new Deno.Command(binary, {
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--disable-extensions",
      "--allow-file-access-from-files",
      // No network: every host resolves to nothing, and there is no proxy route out.
      "--host-resolver-rules=MAP * ~NOTFOUND",
      "--proxy-server=127.0.0.1:9",
      "--remote-debugging-port=0",
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

const FIXTURE_CELLS = [
  `import { plot, barChart, histogramPlot, historyPlot, confusionMatrixPlot, imageGrid, progress, display, svg } from "${
    join(ROOT, "lib/display/mod.ts")
  }";`,
  `plot([{ type: "scatter", mode: "lines+markers", name: "y", x: [1, 2, 3, 4], y: [1, 4, 9, 16] }], { title: { text: "squares" } })`,
  `await display(barChart(["cpu", "wasm", "webgpu"], [120, 25, 530], { yTitle: "ms" }));\nhistogramPlot(Float32Array.from({ length: 5000 }, (_, i) => Math.sin(i) * Math.cos(i / 7)), { bins: 40 })`,
  `const cb = progress({ title: "fixture" });\nawait cb.onTrainBegin!({ epochs: 2, stepsPerEpoch: 5, batchSize: 8 });\nfor (let e = 0; e < 2; e++) {\n  await cb.onEpochBegin!(e);\n  for (let s = 0; s < 5; s++) await cb.onBatchEnd!(s, { loss: 1 / (s + 1), acc: s / 5, size: 8 });\n  await cb.onEpochEnd!(e, { loss: 0.5 / (e + 1), acc: 0.8 });\n}\nawait cb.onTrainEnd!({});`,
  `historyPlot({ loss: [0.9, 0.5, 0.3], val_loss: [1, 0.6, 0.45], acc: [0.7, 0.85, 0.9], val_acc: [0.65, 0.8, 0.86] })`,
  `confusionMatrixPlot([[50, 2, 1], [3, 45, 2], [0, 4, 48]], { classNames: ["a", "b", "c"] })`,
  `imageGrid(new Uint8Array(4 * 784).map((_, i) => (i % 28) * 9), { labels: [1, 2, 3, 4], predictions: [1, 2, 0, 4] })`,
  `svg('<svg xmlns="http://www.w3.org/2000/svg" width="120" height="40"><rect x="2" y="2" width="116" height="36" fill="#cde"/><text x="10" y="25">MatMul</text></svg>')`,
];

async function writeFixture(dir: string): Promise<string> {
  const nb = {
    nbformat: 4,
    nbformat_minor: 5,
    metadata: {
      kernelspec: { name: "deno", display_name: "Deno", language: "typescript" },
      language_info: { name: "typescript" },
    },
    cells: FIXTURE_CELLS.map((source, i) => ({
      cell_type: "code",
      id: `fixture-${i}`,
      metadata: {},
      execution_count: null,
      outputs: [],
      source,
    })),
  };
  await Deno.writeTextFile(join(dir, "fixture.ipynb"), JSON.stringify(nb, null, 1));
  return "fixture.ipynb";
}

/** The page without any require.js script, or with one injected when nbconvert did not add it. */
function variant(html: string, withRequire: boolean): string {
  const stripped = html.replace(
    /<script[^>]*src="[^"]*require(\.min)?\.js"[^>]*>\s*<\/script>/g,
    "",
  );
  if (!withRequire) return stripped;
  return stripped.replace(
    /<head([^>]*)>/i,
    `<head$1>\n<script src="file://${REQUIRE_JS}"></script>`,
  );
}

const chromium = await which(CHROMIUM);

Deno.test({
  name: "browser: plotly figures in HTML reports render offline, with and without require.js",
  ignore: chromium === null,
  sanitizeOps: false,
  sanitizeResources: false,
}, async (t) => {
  try {
    await Deno.stat(REQUIRE_JS);
  } catch {
    assert.fail(`${REQUIRE_JS} is missing: install it with \`apt-get install libjs-requirejs\``);
  }
  const work = await Deno.makeTempDir({ prefix: "browser-test-" });
  const profile = await Deno.makeTempDir({ prefix: "chromium-profile-" });
  let browserProc: Deno.ChildProcess | null = null;
  let browser: Browser | null = null;
  try {
    const fixture = await writeFixture(work);
    const result = await executeNotebook(fixture, { notebookDir: work, outDir: work, quick: true });
    assert.equal(
      result.status,
      "ok",
      `fixture failed: ${result.message ?? JSON.stringify(result.errors)}`,
    );
    const pages: { name: string; html: string; minFigures: number }[] = [
      { name: "fixture", html: await Deno.readTextFile(result.html), minFigures: 5 },
    ];
    try {
      for await (const e of Deno.readDir(REPORT_DIR)) {
        if (e.isFile && e.name.endsWith(".html") && e.name !== "index.html") {
          pages.push({
            name: e.name,
            html: await Deno.readTextFile(join(REPORT_DIR, e.name)),
            minFigures: 0,
          });
        }
      }
    } catch {
      // no reports yet
    }
    const started = await startChromium(chromium!, profile);
    browserProc = started.proc;
    browser = await Browser.connect(started.url);
    for (const page of pages) {
      for (const withRequire of [true, false]) {
        await t.step(`${page.name} ${withRequire ? "with" : "without"} require.js`, async () => {
          const file = join(
            work,
            `${page.name.replace(/\.html$/, "")}-${withRequire ? "amd" : "plain"}.html`,
          );
          await Deno.writeTextFile(file, variant(page.html, withRequire));
          const check = await checkPage(browser!, `file://${file}`);
          assert.deepEqual(check.errors, [], `${page.name}: script errors`);
          assert.deepEqual(check.requests, [], `${page.name}: network requests`);
          assert.equal(check.amd, withRequire, "require.js presence on the page");
          assert.ok(check.figures >= page.minFigures, `${page.name}: ${check.figures} figures`);
          if (check.figures > 0) assert.ok(check.plotly, "window.Plotly is defined");
          assert.deepEqual(check.notRendered, [], `${page.name}: figures not rendered`);
          assert.equal(check.rendered, check.figures);
        });
      }
    }
  } finally {
    browser?.close();
    if (browserProc) {
      try {
        browserProc.kill("SIGTERM");
      } catch { /* gone */ }
      await browserProc.status;
    }
    await Deno.remove(work, { recursive: true }).catch(() => {});
    await Deno.remove(profile, { recursive: true }).catch(() => {});
  }
});
