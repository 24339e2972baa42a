/**
 * A real-browser test of the HTML reports: headless Chromium (Debian's
 * `chromium`, no network) opens a report from a `file:` URL and checks,
 * through the DevTools protocol (`_browser.ts`), that every plotly figure
 * rendered (an SVG `.main-svg` with its trace elements) with the titles and
 * axis titles its layout asked for (plain-string titles included), that no
 * text falls outside its figure, drawing or image cell, that no figure title
 * sits under plotly's toolbar, that bar labels tell close counts apart, that
 * Markdown formulas are typeset, and that no script error was raised, with
 * require.js on the page (nbconvert's pages load it) and without it.
 *
 * The test executes its own small fixture notebook through the report
 * pipeline (Deno's kernel + nbconvert); `tests/notebooks_test.ts` runs the
 * same page check on every chapter's report.
 *
 * @module
 */
import assert from "node:assert/strict";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { executeNotebook } from "../tools/report.ts";
import { Graph, graphToSvg, placeholder, relu } from "../lib/v1/mod.ts";
import { Browser, checkPage, CHROMIUM, REQUIRE_JS, startChromium, which } from "./_browser.ts";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
function longTitleDrawing(): string {
  const g = new Graph();
  g.asDefault(() => relu(placeholder("float32", [null, 2], "x")));
  return graphToSvg(g, {
    title: "concrete function float32(shape=[null, 2]): a long title for a small graph",
  });
}

const FASHION =
  `["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]`;

/** Markdown and code cells; each code cell's comment says what the page check looks for. */
const FIXTURE_CELLS: { md?: string; code?: string }[] = [
  {
    code:
      `import { plot, barChart, histogramPlot, historyPlot, confusionMatrixPlot, imageGrid, progress, display, svg } from "${
        join(ROOT, "lib/display/mod.ts")
      }";`,
  },
  {
    md: "Formulas: $y = 3x + 2$, $w \\leftarrow w - \\eta\\,\\partial L/\\partial w$ and\n" +
      "$$\\frac{f(x+h) - f(x-h)}{2h}$$\nbut \\$5 is money, not math.",
  },
  {
    code:
      `plot([{ type: "scatter", mode: "lines+markers", name: "y", x: [1, 2, 3, 4], y: [1, 4, 9, 16] }], { title: { text: "squares" } })`,
  },
  {
    // plotly.js 1-2's plain-string titles (chapter 08 In[5]): drawn all the same.
    code:
      `plot([{ type: "scatter", y: [3, 2, 1] }], { title: "Decoded from the event files", xaxis: { title: "batch" }, yaxis: { title: "loss" } })`,
  },
  {
    // Close counts: bar labels must differ (5923 vs 5918). A long histogram title.
    code:
      `await display(barChart(["0", "1", "2"], [5923, 5918, 6742], { title: "examples per class", yTitle: "count" }));\nhistogramPlot(Float32Array.from({ length: 5000 }, (_, i) => Math.sin(i) * Math.cos(i / 7)), { title: "MNIST train: mean brightness per image", bins: 40 })`,
  },
  {
    code:
      `const cb = progress({ title: "fixture" });\nawait cb.onTrainBegin!({ epochs: 2, stepsPerEpoch: 5, batchSize: 8 });\nfor (let e = 0; e < 2; e++) {\n  await cb.onEpochBegin!(e);\n  for (let s = 0; s < 5; s++) await cb.onBatchEnd!(s, { loss: 1 / (s + 1), acc: s / 5, size: 8 });\n  await cb.onEpochEnd!(e, { loss: 0.5 / (e + 1), acc: 0.8 });\n}\nawait cb.onTrainEnd!({});`,
  },
  {
    code:
      `historyPlot({ loss: [0.9, 0.5, 0.3], val_loss: [1, 0.6, 0.45], acc: [0.7, 0.85, 0.9], val_acc: [0.65, 0.8, 0.86] })`,
  },
  {
    // Fashion-MNIST class names on the confusion matrix's axes and under the image grid.
    code:
      `const names = ${FASHION};\nconst m = names.map((_, t) => names.map((_, p) => (t === p ? 90 : 1)));\n` +
      `await display(confusionMatrixPlot(m, { classNames: names, title: "Fashion-MNIST test set" }));\n` +
      `imageGrid(new Uint8Array(4 * 784).map((_, i) => (i % 28) * 9), { labels: [9, 0, 3, 9], predictions: [0, 0, 3, 6], classNames: names })`,
  },
  {
    // A graph drawing (drawn here: the fixture's folder has no import map for lib/v1's
    // npm imports) whose title is longer than its boxes.
    code: `svg(${JSON.stringify(longTitleDrawing())})`,
  },
  {
    code:
      `svg('<svg xmlns="http://www.w3.org/2000/svg" width="120" height="40"><rect x="2" y="2" width="116" height="36" fill="#cde"/><text x="10" y="25">MatMul</text></svg>')`,
  },
];

async function writeFixture(dir: string): Promise<string> {
  const nb = {
    nbformat: 4,
    nbformat_minor: 5,
    metadata: {
      kernelspec: { name: "deno", display_name: "Deno", language: "typescript" },
      language_info: { name: "typescript" },
    },
    cells: FIXTURE_CELLS.map((c, i) =>
      c.md !== undefined
        ? { cell_type: "markdown", id: `fixture-${i}`, metadata: {}, source: c.md }
        : {
          cell_type: "code",
          id: `fixture-${i}`,
          metadata: {},
          execution_count: null,
          outputs: [],
          source: c.code,
        }
    ),
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
    const pages = [{ name: "fixture", html: await Deno.readTextFile(result.html) }];
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
          assert.equal(check.figures, 6, `${page.name}: ${check.figures} figures`);
          assert.ok(check.plotly, "window.Plotly is defined");
          assert.deepEqual(check.notRendered, [], `${page.name}: figures not rendered`);
          assert.equal(check.rendered, check.figures);
          assert.deepEqual(check.missingTitles, [], "titles asked for but not drawn");
          assert.deepEqual(check.clipped, [], "text cut at the edge of its figure or cell");
          assert.deepEqual(check.toolbarOverlaps, [], "titles under plotly's toolbar");
          assert.ok(
            check.barTexts.some((t) => t.includes("5923") && t.includes("5918")),
            `bar labels: ${JSON.stringify(check.barTexts)}`,
          );
          assert.equal(check.formulas, 3, "three formulas typeset as SVG");
          assert.deepEqual(check.rawMath, [], "TeX left untypeset");
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
