/**
 * Executes every notebooks/*.ipynb in quick mode through the real Jupyter
 * client (nbconvert + Deno's kernel), one test step per notebook, and fails on
 * any error output, naming the cell. The HTML reports land in reports/ (the
 * browser test checks them). `NOTEBOOKS=01,05` limits the run to some.
 *
 * @module
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import {
  checkNbconvert,
  describeFailure,
  ensureKernelspec,
  executeNotebook,
  indexHtml,
  listNotebooks,
  type NotebookResult,
  REPORT_DIR,
} from "../tools/report.ts";
import { writeFileAtomic } from "../lib/io/atomic.ts";

const only = (Deno.env.get("NOTEBOOKS") ?? "").split(",").map((s) => s.trim()).filter(Boolean);
const notebooks = await listNotebooks(only);

Deno.test({
  name: "notebooks: each runs in quick mode through nbconvert with no error output",
  sanitizeOps: false,
  sanitizeResources: false,
}, async (t) => {
  await checkNbconvert();
  await ensureKernelspec(() => {});
  assert.ok(notebooks.length > 0, "no notebooks in notebooks/");
  const results: NotebookResult[] = [];
  try {
    for (const nb of notebooks) {
      await t.step(nb, async () => {
        const r = await executeNotebook(nb, { quick: true, cellTimeoutS: 600 });
        results.push(r);
        console.log(
          `${nb}: ${r.status} in ${r.seconds.toFixed(1)} s, ${(r.htmlBytes / 1e6).toFixed(2)} MB`,
        );
        assert.equal(r.status, "ok", describeFailure(r).join("\n"));
        assert.ok(r.htmlBytes > 0, `${nb}: no HTML report written`);
        const page = await Deno.readTextFile(r.html);
        assert.ok(
          !page.includes('<span class="ansi-'),
          `${nb}: ANSI colour codes in saved outputs`,
        );
      });
    }
  } finally {
    if (results.length) {
      await writeFileAtomic(join(REPORT_DIR, "index.html"), indexHtml(results, true));
    }
  }
});

Deno.test({
  name: "notebooks: a cell that throws is reported with its notebook, cell number and error",
  sanitizeOps: false,
  sanitizeResources: false,
}, async () => {
  const dir = await Deno.makeTempDir({ prefix: "nb-error-" });
  try {
    const cell = (id: string, source: string) => ({
      cell_type: "code",
      id,
      metadata: {},
      execution_count: null,
      outputs: [],
      source,
    });
    await Deno.writeTextFile(
      join(dir, "broken.ipynb"),
      JSON.stringify({
        nbformat: 4,
        nbformat_minor: 5,
        metadata: { kernelspec: { name: "deno", display_name: "Deno", language: "typescript" } },
        cells: [
          cell("ok-cell", "const x = 1 + 1;\nx"),
          cell("bad-cell", 'throw new RangeError("planted failure");'),
        ],
      }),
    );
    const r = await executeNotebook("broken.ipynb", { notebookDir: dir, outDir: dir, quick: true });
    assert.equal(r.status, "error");
    assert.equal(r.errors.length, 1);
    assert.equal(r.errors[0].codeCell, 2);
    assert.equal(r.errors[0].id, "bad-cell");
    assert.match(describeFailure(r)[0], /broken\.ipynb: code cell 2 .*bad-cell.*planted failure/);
    assert.ok(r.htmlBytes > 0, "the report is still written, showing the error");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
