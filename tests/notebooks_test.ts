/**
 * Executes every notebooks/*.ipynb in quick mode through the real Jupyter
 * client (nbconvert + Deno's kernel), one test step per notebook, and fails on
 * any error output, naming the cell. The HTML reports go to a temporary
 * folder (never reports/), and each is opened in headless Chromium when it is
 * installed (`_browser.ts`): figures drawn with the titles they asked for, no
 * text cut, formulas typeset (chapter 04 has some), no script error.
 * `NOTEBOOKS=01,05` limits the run to some. The report's `--jobs` (notebooks
 * run at once) is tested on tiny notebooks.
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
  expectedSeconds,
  listNotebooks,
  type NotebookResult,
  parseReportArgs,
  ReportUsageError,
  runReports,
  startOrder,
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

Deno.test({
  name:
    "notebooks: outputs the Deno kernel sends after a cell's idle status stay in that cell, first, middle and last (issue 14)",
  sanitizeOps: false,
  sanitizeResources: false,
}, async () => {
  const dir = await Deno.makeTempDir({ prefix: "nb-late-" });
  try {
    // Deno 2.9.6 sends most of these lines, and the result, after the cell's idle status.
    const cell = (n: number) =>
      `for (let i = 0; i < 100; i++) console.log("c${n} " + i);\n"done-${n}"`;
    await Deno.writeTextFile(
      join(dir, "late.ipynb"),
      JSON.stringify(denoNotebook([cell(1), cell(2), cell(3)])),
    );
    const r = await executeNotebook("late.ipynb", {
      notebookDir: dir,
      outDir: dir,
      quick: true,
      keepExecuted: true,
    });
    assert.equal(r.status, "ok", describeFailure(r).join("\n"));
    const nb = JSON.parse(await Deno.readTextFile(r.executed!));
    nb.cells.forEach((c: { outputs: Record<string, unknown>[] }, k: number) => {
      const n = k + 1;
      const printed = c.outputs.filter((o) => o.output_type === "stream")
        .map((o) => [o.text].flat().join("")).join("");
      const want = Array.from({ length: 100 }, (_, i) => `c${n} ${i}\n`).join("");
      assert.equal(printed, want, `cell ${n}: its 100 lines, in order, and no other cell's`);
      const results = c.outputs.filter((o) => o.output_type === "execute_result")
        .map((o) => [(o.data as Record<string, unknown>)["text/plain"]].flat().join(""));
      assert.deepEqual(results, [`"done-${n}"`], `cell ${n}: its result`);
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test({
  name:
    "report --jobs 2: two notebooks run at once (each waits for the other), both reports and the index are written, lines in notebook order, an erroring notebook is named",
  sanitizeOps: false,
  sanitizeResources: false,
}, async () => {
  const dir = await Deno.makeTempDir({ prefix: "nb-jobs-" });
  const out = join(dir, "out");
  // Each of a and b marks that it started, then waits for the other's mark: run one
  // after the other, the first would time out and throw. Each checks its WASM threads.
  const meeting = (me: string, other: string) =>
    denoNotebook([[
      `meet-${me}`,
      `await Deno.writeTextFile(${JSON.stringify(join(dir, `${me}.started`))}, "");\n` +
      `const other = ${JSON.stringify(join(dir, `${other}.started`))};\n` +
      `const seen = async () => await Deno.stat(other).then(() => true, () => false);\n` +
      `for (let i = 0; i < 1200 && !(await seen()); i++) await new Promise((r) => setTimeout(r, 50));\n` +
      `if (!(await seen())) throw new Error("${other} did not run alongside ${me}");\n` +
      `if (Deno.env.get("TFJS_WASM_THREADS") !== "1") throw new Error("WASM threads: " + Deno.env.get("TFJS_WASM_THREADS"));\n` +
      `"${me} met ${other}"`,
    ]]);
  try {
    await Deno.writeTextFile(join(dir, "a.ipynb"), JSON.stringify(meeting("a", "b")));
    await Deno.writeTextFile(join(dir, "b.ipynb"), JSON.stringify(meeting("b", "a")));
    await Deno.writeTextFile(
      join(dir, "c.ipynb"),
      JSON.stringify(denoNotebook([["fine", "1"], ["bad", 'throw new RangeError("planted");']])),
    );
    // An earlier run recorded b as the longest and c as the shortest: b and a start first.
    await Deno.mkdir(out);
    await Deno.writeTextFile(
      join(out, "index.json"),
      JSON.stringify([["a", 5], ["b", 9], ["c", 1]].map(([name, seconds]) => ({
        name,
        seconds,
        mode: "quick",
        html: join(out, `${name}.html`),
      }))),
    );
    const lines: string[] = [];
    const results = await runReports({
      notebookDir: dir,
      outDir: out,
      quick: true,
      jobs: 2,
      cellTimeoutS: 300,
      log: (l) => lines.push(l),
    });
    assert.deepEqual(results.map((r) => r.name), ["a", "b", "c"]);
    assert.deepEqual(results.map((r) => r.status), ["ok", "ok", "error"], lines.join("\n"));
    for (const r of results) assert.ok((await Deno.stat(r.html)).size > 0, `${r.name}.html`);
    assert.match(describeFailure(results[2])[0], /^c\.ipynb: code cell 2 .*bad.*planted/);
    const shown = lines.filter((l) => /^(executing| {2})/.test(l)).map((l) => l.split(" in ")[0]);
    assert.deepEqual(shown.slice(0, 6), [
      "executing a.ipynb ...",
      "  ok",
      "executing b.ipynb ...",
      "  ok",
      "executing c.ipynb ...",
      "  error",
    ]);
    assert.match(lines[0], /3 notebook\(s\), quick mode, 2 at a time/);
    assert.match(lines[7], /^ {2}c\.ipynb: code cell 2 /);
    const index: NotebookResult[] = JSON.parse(await Deno.readTextFile(join(out, "index.json")));
    assert.deepEqual(index.map((r) => [r.name, r.status]), [["a", "ok"], ["b", "ok"], [
      "c",
      "error",
    ]]);
    const page = await Deno.readTextFile(join(out, "index.html"));
    const links = [...page.matchAll(/<a href="([^"]+)">/g)].map((m) => m[1]);
    assert.deepEqual(links, ["a.html", "b.html", "c.html"]);
    assert.match(page, /c\.ipynb: code cell 2 .*planted/);
    const left = [...Deno.readDirSync(out)].map((e) => e.name).filter((n) => n.endsWith(".tmp"));
    assert.deepEqual(left, [], "no temporary files left");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("report --jobs: 0, x and a missing number are refused with a ReportUsageError naming --jobs, before anything runs", async () => {
  assert.equal(parseReportArgs(["--jobs", "2", "05"]).jobs, 2);
  assert.equal(parseReportArgs(["--jobs=3"]).jobs, 3);
  assert.equal(parseReportArgs([]).jobs, undefined);
  for (const args of [["--jobs", "0"], ["--jobs=x"], ["--jobs", "1.5"], ["--jobs"], ["--jobs="]]) {
    assert.throws(
      () => parseReportArgs(args),
      (e: unknown) => e instanceof ReportUsageError && /^--jobs needs /.test(e.message),
      args.join(" "),
    );
  }
  for (const jobs of [0, -1, 1.5, NaN]) {
    await assert.rejects(
      runReports({ jobs, notebookDir: "/nonexistent", log: () => {} }),
      (e: unknown) =>
        e instanceof ReportUsageError && /jobs must be a whole number/.test(e.message),
    );
  }
  const cli = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", new URL("../tools/report.ts", import.meta.url).pathname, "--jobs", "0"],
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).output();
  assert.equal(cli.code, 2);
  assert.match(
    new TextDecoder().decode(cli.stderr),
    /^report: --jobs needs a whole number .*got "0"/,
  );
});

Deno.test("report start order: longest first by the last run in the same mode (index.json), then the typical figures; notebooks with no estimate first", async () => {
  const out = await Deno.makeTempDir({ prefix: "nb-order-" });
  try {
    const order = (s: Record<string, number>) =>
      startOrder(["a.ipynb", "b.ipynb", "c.ipynb", "d.ipynb"], s);
    assert.deepEqual(order({ a: 1, b: 3, c: 2, d: 3 }), [
      "b.ipynb",
      "d.ipynb",
      "c.ipynb",
      "a.ipynb",
    ]);
    assert.deepEqual(order({ a: 1, c: 2 }), ["b.ipynb", "d.ipynb", "c.ipynb", "a.ipynb"]);
    const typical = await expectedSeconds(out, "full");
    assert.ok(typical["07_evaluate_save_load"] > typical["01_tensors_and_eager"]);
    await Deno.writeTextFile(
      join(out, "index.json"),
      JSON.stringify([
        { name: "01_tensors_and_eager", seconds: 999, mode: "full" },
        { name: "07_evaluate_save_load", seconds: 5, mode: "quick" },
      ]),
    );
    const recorded = await expectedSeconds(out, "full");
    assert.equal(recorded["01_tensors_and_eager"], 999);
    assert.equal(
      recorded["07_evaluate_save_load"],
      typical["07_evaluate_save_load"],
      "a quick run does not count for full mode",
    );
    assert.equal((await expectedSeconds(out, "quick"))["07_evaluate_save_load"], 5);
  } finally {
    await Deno.remove(out, { recursive: true });
  }
});
