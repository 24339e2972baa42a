/**
 * Unit tests of what a learner sees: plot titles in both of plotly's forms,
 * bar labels that tell close values apart, captions and drawing titles sized
 * to their text, headline results, the cell-end wait, and the report's
 * command line and index.
 *
 * @module
 */
import assert from "node:assert/strict";
import { barLabels } from "../lib/display/bar_chart.ts";
import { normalizeTitles, plot, PLOTLY_MIME } from "../lib/display/plot.ts";
import { captionWidth, imageGrid } from "../lib/display/image_grid.ts";
import { confusionMatrixPlot } from "../lib/display/confusion_matrix_plot.ts";
import { histogramPlot } from "../lib/display/histogram_plot.ts";
import { headline, HEADLINE_MIME } from "../lib/display/headline.ts";
import { DISPLAY, DisplayInputError } from "../lib/display/displayable.ts";
import { drainWaitMs, installCellEndFlush, MAX_MS } from "../lib/display/_cell_end.ts";
import { graphToSvg, titleWidth } from "../lib/v1/draw.ts";
import { Graph } from "../lib/v1/graph.ts";
import { FASHION_MNIST_CLASS_NAMES } from "../lib/data/mnist.ts";
import { placeholder, relu } from "../lib/v1/ops.ts";
import {
  indexHtml,
  type NotebookResult,
  parseReportArgs,
  ReportUsageError,
  summarizeOutputs,
} from "../tools/report.ts";

type Layout = Record<string, { text?: string } & Record<string, unknown>>;
const layoutOf = (d: { [DISPLAY](): Record<string, unknown> }) =>
  (d[DISPLAY]()[PLOTLY_MIME] as { layout: Layout }).layout;

Deno.test("plot: a plain-string title (plotly.js 1-2's form) becomes { text } for plotly.js 3, layout and axes", () => {
  const fig = plot([{ type: "scatter", y: [1, 2] }], {
    title: "Decoded from the event files",
    xaxis: { title: "batch" },
    yaxis: { title: "loss", type: "log" },
    yaxis2: { title: { text: "already an object" } },
    scene: { zaxis: { title: "depth" } },
  });
  const lay = layoutOf(fig);
  assert.equal(lay.title.text, "Decoded from the event files");
  assert.equal(lay.title.xanchor, "left", "titles sit left, away from plotly's toolbar");
  const centred = layoutOf(plot([{ y: [1] }], { title: { text: "t", x: 0.5 } }));
  assert.deepEqual(centred.title, { text: "t", x: 0.5 }, "a placement the caller gave is kept");
  assert.deepEqual(lay.xaxis.title, { text: "batch" });
  assert.deepEqual(lay.yaxis.title, { text: "loss" });
  assert.equal(lay.yaxis.type, "log", "other axis settings are kept");
  assert.deepEqual(lay.yaxis2.title, { text: "already an object" });
  assert.deepEqual((lay.scene.zaxis as Layout[string]).title, { text: "depth" });
  assert.match(String(fig), /"Decoded from the event files"/);
  // A layout with no titles is unchanged.
  assert.deepEqual(normalizeTitles({ height: 300 }), { height: 300 });
});

Deno.test("barChart: labels keep every digit of integers and enough digits to tell values apart", () => {
  assert.deepEqual(barLabels([5923, 5918, 6742]), ["5923", "5918", "6742"]);
  assert.deepEqual(barLabels([5.9231, 5.9182]), ["5.923", "5.918"]);
  assert.deepEqual(barLabels([120.456, 25.1, 0.012345]), ["120", "25.1", "0.0123"]);
  assert.deepEqual(barLabels([1, NaN, Infinity]), ["1", "", ""]);
  const labels = barLabels([1.00001, 1.00002, 1.00001]);
  assert.notEqual(labels[0], labels[1]);
  assert.equal(labels[0], labels[2], "equal values read the same");
});

Deno.test("histogramPlot: the statistics go on a second line, below plotly's toolbar height", () => {
  const lay = layoutOf(
    histogramPlot([1, 2, 3, 4], { title: "MNIST train: mean brightness per image" }),
  );
  const title = lay.title.text!;
  const firstLine = title.split("<br>")[0];
  assert.equal(firstLine, "MNIST train: mean brightness per image");
  assert.match(title, /<br><sup>n=4, min 1, max 4, mean 2\.5<\/sup>/);
  assert.ok((lay.margin as { t: number }).t >= 70, "room for two title lines");
});

Deno.test("confusionMatrixPlot: axes grow their margins to fit class names (automargin)", () => {
  const names = ["T-shirt/top", "Trouser", "Ankle boot"];
  const lay = layoutOf(
    confusionMatrixPlot([[1, 0, 0], [0, 1, 0], [0, 0, 1]], { classNames: names }),
  );
  assert.equal(lay.xaxis.automargin, true);
  assert.equal(lay.yaxis.automargin, true);
});

Deno.test("imageGrid: columns are as wide as the longest caption line; wrong predictions on a second line", () => {
  const names = [...FASHION_MNIST_CLASS_NAMES];
  const grid = imageGrid(new Uint8Array(2 * 784), {
    labels: [9, 0],
    predictions: [0, 0],
    classNames: names,
  });
  const markup = grid[DISPLAY]()["text/html"] as string;
  const width = captionWidth("→ T-shirt/top");
  assert.ok(width >= 13 * 11 * 0.6, "0.6 em a monospace character");
  assert.match(markup, new RegExp(`repeat\\(2, ${width + 6}px\\)`));
  assert.match(markup, /Ankle boot<br>→ T-shirt\/top/);
  assert.ok(!/overflow:hidden/.test(markup), "captions are never clipped");
});

Deno.test("drawGraph: the drawing is at least as wide as its title", () => {
  const g = new Graph();
  g.asDefault(() => relu(placeholder("float32", [null, 2], "x")));
  const title = "concrete function float32(shape=[null, 2]) -> float32: traced once, called twice";
  const svg = graphToSvg(g, { title });
  const width = Number(/<svg[^>]*width="(\d+)"/.exec(svg)![1]);
  assert.ok(width >= titleWidth(title) + 20, `${width} px for a ${titleWidth(title)} px title`);
  assert.ok(titleWidth(title) >= title.length * 14 * 0.6);
});

Deno.test("headline: a result line marked with its mime type; empty text is refused", () => {
  const h = headline("test accuracy  97.76%\n(quick mode)");
  const bundle = h[DISPLAY]();
  assert.deepEqual(bundle[HEADLINE_MIME], { text: "test accuracy 97.76% (quick mode)" });
  assert.match(bundle["text/html"] as string, /<b>Result:<\/b> test accuracy 97\.76%/);
  assert.equal(String(h), "Result: test accuracy 97.76% (quick mode)");
  assert.throws(() => headline(" "), DisplayInputError);
  assert.throws(() => headline(42 as unknown as string), /headline\(text\)/);
});

Deno.test("kernel cell end: the wait grows with the messages and bytes a cell queued, and is bounded", () => {
  const none = drainWaitMs({ messages: 0, bytes: 0 });
  assert.ok(none > 0);
  assert.ok(drainWaitMs({ messages: 100, bytes: 0 }) >= none + 100, "at least 1 ms a message");
  assert.ok(
    drainWaitMs({ messages: 1, bytes: 3_000_000 }) > drainWaitMs({ messages: 1, bytes: 0 }),
  );
  assert.equal(drainWaitMs({ messages: 1e9, bytes: 1e12 }), MAX_MS);
  assert.equal(installCellEndFlush(), false, "nothing to install outside the kernel");
});

Deno.test("report: options are separated from names; unknown options and dash names are refused", () => {
  assert.deepEqual(parseReportArgs(["05", "07"]), {
    names: ["05", "07"],
    outDir: undefined,
    jobs: undefined,
    help: false,
  });
  assert.deepEqual(parseReportArgs(["--out", "/tmp/r", "01", "--jobs", "2"]), {
    names: ["01"],
    outDir: "/tmp/r",
    jobs: 2,
    help: false,
  });
  assert.deepEqual(parseReportArgs(["--out=/tmp/r"]).outDir, "/tmp/r");
  assert.equal(parseReportArgs(["--help"]).help, true);
  assert.equal(parseReportArgs(["-h"]).help, true);
  assert.throws(() => parseReportArgs(["--quick"]), ReportUsageError);
  assert.throws(() => parseReportArgs(["-05"]), /unknown option "-05"/);
  assert.throws(() => parseReportArgs(["--", "-x"]), /after --/);
  assert.throws(() => parseReportArgs(["--out"]), /--out needs a folder/);
  assert.throws(() => parseReportArgs(["--out", "--help"]), /--out needs a folder/);
});

Deno.test("report: the index shows each chapter's headline results and figure count", () => {
  const nb = {
    cells: [
      { cell_type: "markdown", source: "# t" },
      {
        cell_type: "code",
        source: "x",
        outputs: [
          { output_type: "display_data", data: { [PLOTLY_MIME]: {}, "text/html": "<div>" } },
          {
            output_type: "display_data",
            data: { "text/html": '<div class="tfjs-nb-image-grid">' },
          },
          {
            output_type: "execute_result",
            data: { [HEADLINE_MIME]: { text: "test accuracy 97.76%" } },
          },
          { output_type: "stream", text: "hi" },
        ],
      },
    ],
  };
  const summary = summarizeOutputs(nb);
  assert.deepEqual(summary, { headlines: ["test accuracy 97.76%"], figures: 2 });
  const r: NotebookResult = {
    name: "05_first_vision_model",
    notebook: "x",
    html: "x.html",
    status: "ok",
    seconds: 12,
    htmlBytes: 1,
    errors: [],
    mode: "quick",
    date: new Date().toISOString(),
    ...summary,
  };
  const page = indexHtml([r], true);
  assert.match(page, /<td>test accuracy 97\.76%<br>2 figures<\/td>/);
});
