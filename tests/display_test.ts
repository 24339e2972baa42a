import assert from "node:assert/strict";
import { crc32, gunzipSync, inflateSync } from "node:zlib";
import {
  barChart,
  confusionMatrixPlot,
  display,
  DisplayInputError,
  histogramPlot,
  historyPlot,
  html,
  imageGrid,
  inJupyter,
  plot,
  svg,
  table,
} from "../lib/display/mod.ts";
import { DISPLAY, type MimeBundle } from "../lib/display/displayable.ts";
import { binValues } from "../lib/display/histogram_plot.ts";
import { encodeGrayPng } from "../lib/display/png.ts";
import { PLOTLY_MIME, scriptJson } from "../lib/display/plot.ts";
import {
  _resetPlotlyLibrary,
  plotlyPacked,
  plotlyPath,
  plotlySource,
} from "../lib/display/_plotly_library.ts";
import type { DisplayMessage } from "../lib/display/jupyter.ts";

const bundleOf = (d: { [DISPLAY](): MimeBundle }) => d[DISPLAY]();

Deno.test("display: inJupyter() is false under deno test", () => {
  assert.equal(inJupyter(), false);
});

Deno.test("display: a plotly figure is one bundle with plotly JSON, HTML and a text summary", () => {
  _resetPlotlyLibrary();
  const fig = plot([{
    type: "scatter",
    x: new Float32Array([1, 2, 3]),
    y: [1, NaN, 9],
    name: "sq",
  }], {
    title: { text: "a </script> title" },
  });
  const b = bundleOf(fig);
  assert.deepEqual(Object.keys(b).sort(), [PLOTLY_MIME, "text/html", "text/plain"].sort());
  const spec = b[PLOTLY_MIME] as {
    data: { x: number[]; y: (number | null)[] }[];
    layout: Record<string, unknown>;
  };
  assert.deepEqual(spec.data[0].x, [1, 2, 3], "typed arrays become plain arrays");
  assert.deepEqual(spec.data[0].y, [1, null, 9], "NaN becomes null");
  assert.equal(String(fig), b["text/plain"]);
  assert.match(
    String(fig),
    /plotly figure "a <\/script> title": 1 trace \(sq: scatter, 3 points\)/,
  );
  const markup = b["text/html"] as string;
  assert.ok(!markup.includes("a </script> title"), "the title cannot end the script element");
  assert.ok(markup.includes("window.Plotly.newPlot"));
});

Deno.test("display: plotly.js is embedded in the first figure only, packed from the npm file", async () => {
  _resetPlotlyLibrary();
  const first = bundleOf(plot([{ type: "bar", x: ["a"], y: [1] }]))["text/html"] as string;
  const second = bundleOf(plot([{ type: "bar", x: ["b"], y: [2] }]))["text/html"] as string;
  assert.ok(first.includes("__tfjsNbPlotlyLoading"), "first figure carries the library");
  assert.ok(!second.includes("__tfjsNbPlotlyLoading"), "second figure does not");
  assert.ok(
    first.length > 1_000_000 && second.length < 10_000,
    `${first.length} / ${second.length}`,
  );
  assert.ok(first.includes("function (define, module, exports)"), "AMD/CommonJS are shadowed");
  assert.ok(!first.includes("https://"), "no network URL in the page");
  const unpacked = new TextDecoder().decode(
    gunzipSync(Uint8Array.from(atob(plotlyPacked()), (c) => c.charCodeAt(0))),
  );
  assert.equal(unpacked, await Deno.readTextFile(plotlyPath()));
  assert.match(plotlySource().slice(0, 100), /plotly\.js v3\.3\.1/);
  _resetPlotlyLibrary();
});

Deno.test("display: scriptJson escapes what could close a script element", () => {
  const s = scriptJson({ t: "</script><!-- \u2028" });
  assert.ok(!s.includes("<") && !s.includes(">") && !s.includes("\u2028"));
  assert.deepEqual(JSON.parse(s), { t: "</script><!-- \u2028" });
});

Deno.test("display: html, svg and table bundles; table escapes HTML and aligns text", () => {
  const h = bundleOf(html("<b>bold &amp; <i>x</i></b>"));
  assert.equal(h["text/plain"], "bold & x");
  const s = bundleOf(svg('<svg width="10" height="5"><rect/></svg>'));
  assert.equal(s["text/plain"], "SVG image 10x5");
  assert.ok((s["image/svg+xml"] as string).startsWith("<svg"));
  // nbconvert sanitises image/svg+xml down to an empty <svg>: reports render the text/html copy.
  assert.equal(s["text/html"], s["image/svg+xml"]);
  assert.throws(() => svg("<div/>"), DisplayInputError);
  const t = table([{ name: "<b>", value: 1.23456 }, { name: "y", value: 10 }], { title: "T" });
  const tb = bundleOf(t);
  assert.ok((tb["text/html"] as string).includes("&lt;b&gt;"));
  assert.ok(!(tb["text/html"] as string).includes("<b>"));
  assert.equal(String(t), "T\nname  value\n----  -----\n<b>   1.235\ny        10");
  assert.throws(() => table("x" as unknown as Record<string, unknown>[]), DisplayInputError);
});

Deno.test("display: histogram bins count every finite value once", () => {
  const values = Float32Array.from({ length: 1001 }, (_, i) => i / 1000);
  const b = binValues([...values, NaN, Infinity], 10);
  assert.equal(b.counts.reduce((a, c) => a + c, 0), 1001);
  assert.equal(b.skipped, 2);
  assert.equal(b.edges.length, 11);
  assert.equal(b.min, 0);
  assert.equal(b.max, 1);
  assert.deepEqual(binValues([5, 5, 5], 3).counts.reduce((a, c) => a + c, 0), 3);
  assert.throws(() => binValues([NaN], 3), DisplayInputError);
  const fig = bundleOf(histogramPlot(values, { bins: 10, title: "u" }));
  const spec = fig[PLOTLY_MIME] as { data: { y: number[] }[] };
  assert.deepEqual(spec.data[0].y, binValues(values, 10).counts);
});

Deno.test("display: history, bar and confusion matrix figures", () => {
  const h = bundleOf(
    historyPlot({ loss: [1, 0.5], val_loss: [1.2, 0.7], acc: [0.5, 0.8] }),
  )[PLOTLY_MIME] as {
    data: { name: string; yaxis: string; line: { dash: string } }[];
  };
  assert.deepEqual(h.data.map((d) => [d.name, d.yaxis, d.line.dash]), [
    ["loss", "y", "solid"],
    ["val_loss", "y", "dash"],
    ["acc", "y2", "solid"],
  ]);
  assert.throws(() => historyPlot({}), DisplayInputError);
  const b = bundleOf(barChart(["a", "b"], [1, 2]))[PLOTLY_MIME] as {
    data: { x: string[]; y: number[] }[];
  };
  assert.deepEqual(b.data[0].y, [1, 2]);
  assert.throws(() => barChart(["a"], [1, 2]), DisplayInputError);
  const c = confusionMatrixPlot([[3, 1], [0, 4]], { classNames: ["x", "y"] });
  assert.match(String(c), /accuracy 87\.50%/);
  assert.throws(() => confusionMatrixPlot([[1, 2]]), DisplayInputError);
});

/** Bytes through `DecompressionStream("deflate")`, which checks the zlib header and Adler-32. */
async function inflateStream(bytes: Uint8Array): Promise<Uint8Array> {
  const stream = new Blob([bytes.slice()]).stream().pipeThrough(new DecompressionStream("deflate"));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

Deno.test("display: the PNG's chunk CRCs and its zlib stream's Adler-32 verify", async () => {
  // The CRC-32 used to check the chunks matches the published check value.
  assert.equal(crc32(new TextEncoder().encode("123456789")), 0xcbf43926);
  const pixels = Uint8Array.from({ length: 5 * 3 }, (_, i) => i * 17);
  const png = encodeGrayPng(pixels, 5, 3);
  // IEND holds no data, so its CRC is the constant every PNG ends with.
  assert.deepEqual([...png.subarray(-12)], [0, 0, 0, 0, 73, 69, 78, 68, 0xae, 0x42, 0x60, 0x82]);
  const view = new DataView(png.buffer, png.byteOffset, png.byteLength);
  const types: string[] = [];
  let idat = new Uint8Array(0);
  for (let o = 8; o < png.length;) {
    const len = view.getUint32(o);
    const type = new TextDecoder().decode(png.subarray(o + 4, o + 8));
    types.push(type);
    assert.equal(view.getUint32(o + 8 + len), crc32(png.subarray(o + 4, o + 8 + len)), type);
    if (type === "IDAT") idat = png.slice(o + 8, o + 8 + len);
    o += 12 + len;
  }
  assert.deepEqual(types, ["IHDR", "IDAT", "IEND"]);
  const raw = await inflateStream(idat);
  assert.deepEqual([...raw.subarray(0, 6)], [0, ...pixels.subarray(0, 5)]);
  assert.equal(raw.length, 3 * 6);
  // A wrong Adler-32 trailer is refused, so the check above really verified it.
  const bad = idat.slice();
  bad[bad.length - 1] ^= 0xff;
  await assert.rejects(inflateStream(bad));
});

Deno.test("display: the PNG encoder's output decodes back to the pixels", () => {
  for (const [w, h] of [[28, 28], [300, 250], [1, 1]]) {
    const pixels = Uint8Array.from({ length: w * h }, (_, i) => (i * 31) % 256);
    const png = encodeGrayPng(pixels, w, h);
    assert.deepEqual([...png.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
    const view = new DataView(png.buffer);
    let o = 8;
    const idat: Uint8Array[] = [];
    while (o < png.length) {
      const len = view.getUint32(o);
      const type = new TextDecoder().decode(png.subarray(o + 4, o + 8));
      assert.equal(
        view.getUint32(o + 8 + len),
        crc32(png.subarray(o + 4, o + 8 + len)),
        `${type} CRC`,
      );
      if (type === "IHDR") {
        assert.deepEqual([view.getUint32(o + 8), view.getUint32(o + 12)], [w, h]);
      }
      if (type === "IDAT") idat.push(png.subarray(o + 8, o + 8 + len));
      o += 12 + len;
    }
    const raw = inflateSync(idat[0]); // an independent zlib decoder
    assert.equal(raw.length, h * (w + 1));
    for (let y = 0; y < h; y++) {
      assert.equal(raw[y * (w + 1)], 0);
      assert.deepEqual(
        raw.subarray(y * (w + 1) + 1, (y + 1) * (w + 1)),
        Buffer.from(pixels.subarray(y * w, (y + 1) * w)),
      );
    }
  }
  assert.throws(() => encodeGrayPng(new Uint8Array(3), 2, 2), DisplayInputError);
});

Deno.test("display: imageGrid captions labels and marks wrong predictions in red", () => {
  const images = new Float32Array(3 * 784).map((_, i) => (i % 784) / 784);
  const g = imageGrid(images, {
    labels: [1, 2, 3],
    predictions: [1, 5, 3],
    classNames: ["z", "one", "two", "three", "four", "five"],
  });
  const markup = bundleOf(g)["text/html"] as string;
  assert.equal((markup.match(/<img /g) ?? []).length, 3);
  assert.equal((markup.match(/data:image\/png;base64,/g) ?? []).length, 3);
  assert.equal((markup.match(/#d62728/g) ?? []).length, 1);
  assert.ok(markup.includes("two → five"));
  assert.match(String(g), /3 of 3 images 28x28, 1 wrong/);
  assert.throws(() => imageGrid(new Uint8Array(100)), DisplayInputError);
  assert.throws(() => imageGrid(new Uint8Array(784 * 2), { labels: [1] }), DisplayInputError);
  assert.match(String(imageGrid(new Uint8Array(784 * 100), { count: 5 })), /5 of 100 images/);
});

Deno.test("display: display() sends the bundle to a kernel sink, and prints the summary without one", async () => {
  const sent: [string, DisplayMessage][] = [];
  const sink = {
    broadcast: (
      t: "display_data" | "update_display_data",
      c: DisplayMessage,
    ) => (sent.push([t, c]), Promise.resolve()),
  };
  const t = table([{ a: 1 }]);
  await display(t, sink);
  assert.equal(sent.length, 1);
  assert.equal(sent[0][0], "display_data");
  assert.equal(sent[0][1].data["text/plain"], String(t));
  await display("plain text", sink);
  assert.equal(sent[1][1].data["text/plain"], "plain text");
  const logged: unknown[] = [];
  const orig = console.log;
  console.log = (...a: unknown[]) => logged.push(...a);
  try {
    await display(t);
  } finally {
    console.log = orig;
  }
  assert.deepEqual(logged, [String(t)]);
});
