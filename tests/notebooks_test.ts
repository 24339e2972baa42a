/**
 * Executes every notebooks/*.ipynb in quick mode through the real Jupyter
 * client (nbconvert + Deno's kernel), one test step per notebook, and fails on
 * any error output, naming the cell. The HTML reports go to a temporary
 * folder (never reports/), and each is opened in headless Chromium when it is
 * installed (`_browser.ts`): figures drawn with the titles they asked for, no
 * text cut, formulas typeset (chapter 04 has some), no script error.
 * `NOTEBOOKS=01,05` limits the run to some.
 *
 * @module
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { denoNotebook } from "./_notebook.ts";
import {
  checkNbconvert,
  describeFailure,
  ensureKernelspec,
  executeNotebook,
  listNotebooks,
} from "../tools/report.ts";
import { Browser, checkPage, CHROMIUM, startChromium, which } from "./_browser.ts";

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
  const out = await Deno.makeTempDir({ prefix: "notebooks-test-" });
  const chromium = await which(CHROMIUM);
  let browser: Browser | null = null;
  let proc: Deno.ChildProcess | null = null;
  try {
    if (chromium) {
      const started = await startChromium(chromium, join(out, "profile"));
      proc = started.proc;
      browser = await Browser.connect(started.url);
    }
    for (const nb of notebooks) {
      await t.step(nb, async () => {
        const r = await executeNotebook(nb, { quick: true, cellTimeoutS: 600, outDir: out });
        console.log(
          `${nb}: ${r.status} in ${r.seconds.toFixed(1)} s, ${
            (r.htmlBytes / 1e6).toFixed(2)
          } MB, ` +
            `${r.figures ?? 0} figures, ${r.formulas ?? 0} formulas`,
        );
        assert.equal(r.status, "ok", describeFailure(r).join("\n"));
        assert.ok(r.htmlBytes > 0, `${nb}: no HTML report written`);
        assert.deepEqual(r.mathErrors ?? [], [], `${nb}: formulas MathJax could not parse`);
        if (nb.startsWith("04_")) assert.ok((r.formulas ?? 0) >= 10, `${nb}: formulas typeset`);
        const page = await Deno.readTextFile(r.html);
        assert.ok(
          !page.includes('<span class="ansi-'),
          `${nb}: ANSI colour codes in saved outputs`,
        );
        assert.ok(!page.includes("mathjax/MathJax.js"), `${nb}: the page still loads MathJax`);
        if (!browser) return;
        const check = await checkPage(browser, `file://${r.html}`, 120_000);
        assert.deepEqual(check.errors, [], `${nb}: script errors`);
        assert.deepEqual(check.requests, [], `${nb}: network requests`);
        assert.deepEqual(check.notRendered, [], `${nb}: figures not rendered`);
        assert.deepEqual(check.missingTitles, [], `${nb}: titles asked for but not drawn`);
        assert.deepEqual(check.clipped, [], `${nb}: text cut at the edge of its figure or cell`);
        assert.deepEqual(check.toolbarOverlaps, [], `${nb}: titles under plotly's toolbar`);
        assert.deepEqual(check.rawMath, [], `${nb}: TeX left untypeset`);
        assert.equal(check.formulas, r.formulas ?? 0, `${nb}: formulas on the page`);
      });
    }
  } finally {
    browser?.close();
    if (proc) {
      try {
        proc.kill("SIGTERM");
      } catch { /* gone */ }
      await proc.status;
    }
    await Deno.remove(out, { recursive: true }).catch(() => {});
  }
});

Deno.test({
  name: "notebooks: a cell that throws is reported with its notebook, cell number and error",
  sanitizeOps: false,
  sanitizeResources: false,
}, async () => {
  const dir = await Deno.makeTempDir({ prefix: "nb-error-" });
  try {
    await Deno.writeTextFile(
      join(dir, "broken.ipynb"),
      JSON.stringify(denoNotebook([
        ["ok-cell", "const x = 1 + 1;\nx"],
        ["bad-cell", 'throw new RangeError("planted failure");'],
      ])),
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

Deno.test({
  name:
    "notebooks: a cell that ends the kernel (Deno.exit) is named, and the cells after it are skipped",
  sanitizeOps: false,
  sanitizeResources: false,
}, async () => {
  const dir = await Deno.makeTempDir({ prefix: "nb-exit-" });
  try {
    await Deno.writeTextFile(
      join(dir, "exits.ipynb"),
      JSON.stringify(denoNotebook([
        ["before", "1 + 1"],
        ["exit-cell", "Deno.exit(3);"],
        ["after", "2 + 2"],
      ])),
    );
    const r = await executeNotebook("exits.ipynb", { notebookDir: dir, outDir: dir, quick: true });
    assert.equal(r.status, "error", r.message ?? "no error recorded");
    assert.equal(r.errors.length, 1);
    assert.equal(r.errors[0].codeCell, 2);
    assert.equal(r.errors[0].id, "exit-cell");
    assert.equal(r.errors[0].ename, "KernelDied");
    assert.match(
      describeFailure(r)[0],
      /exits\.ipynb: code cell 2 .*exit-cell.*"Deno\.exit\(3\);".*KernelDied: the kernel exited/,
    );
    assert.ok(r.htmlBytes > 0, "the report is still written, up to the cell");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
