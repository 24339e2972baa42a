/**
 * `deno task report [--out DIR] [--jobs N] [names...]`: executes the notebooks in
 * `notebooks/` with Deno's Jupyter kernel through `jupyter nbconvert`, and
 * writes `reports/<notebook>.html` plus `reports/index.html` (a page linking
 * each report with its status, run time, headline results and figure count).
 * Exits non-zero when a cell errors, naming the notebook and the cell (a cell
 * that ends the kernel, e.g. with `Deno.exit()`, is named too). `QUICK=1`
 * selects quick mode. `--help` lists the options; unknown options are refused.
 *
 * Notebooks run `--jobs N` at a time, each in its own kernel (default: one per
 * core, {@linkcode defaultJobs}). tfjs's WASM backend runs one thread per
 * kernel then (`TFJS_WASM_THREADS=1`), so two kernels on two cores do not
 * oversubscribe them; the longest notebooks start first ({@linkcode startOrder},
 * from the durations the output folder's `index.json` recorded, else
 * {@linkcode TYPICAL_SECONDS}); the log lines, the results and the index come in
 * the notebooks' order whatever order they finish in. Each run has its own
 * temporary folder and every file is written atomically.
 *
 * Formulas in Markdown cells are typeset to SVG at export time
 * (`typeset_math.ts`): a report needs no MathJax to load.
 *
 * Headline results are outputs made with `headline(text)` from
 * `lib/display/headline.ts` (mime type `HEADLINE_MIME`).
 *
 * Each notebook is executed headless (`nbconvert --to notebook` with the
 * execute preprocessor of `tools/deno_execute.py`, errors allowed, cwd
 * `notebooks/`, `NO_COLOR=1`) and the executed notebook is then exported to
 * HTML (by `deno_execute.py`'s postprocessor, in the same nbconvert process),
 * so that every error output can be found and named while the report still
 * shows how far it got. `deno_execute.py` is nbconvert's
 * `ExecutePreprocessor` plus one fix: Deno 2.9's kernel can send a cell's
 * last outputs after the cell's "idle" status, which plain nbconvert drops.
 *
 * @example
 * ```ts
 * import { runReports } from "./report.ts";
 * const results = await runReports({ names: ["01"], quick: true });
 * console.log(results.map((r) => `${r.name}: ${r.status} in ${r.seconds.toFixed(1)} s`));
 * ```
 *
 * @module
 */
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { writeFileAtomic } from "../lib/io/atomic.ts";
import { HEADLINE_MIME } from "../lib/display/headline.ts";
import { PLOTLY_MIME } from "../lib/display/plot.ts";
import { typesetMath } from "./typeset_math.ts";

/** The repository root (this file is tools/report.ts). */
export const ROOT: string = join(dirname(fileURLToPath(import.meta.url)), "..");
/** Where the notebooks are. */
export const NOTEBOOK_DIR: string = join(ROOT, "notebooks");
/** Where the reports go. */
export const REPORT_DIR: string = join(ROOT, "reports");

/** Thrown when the tools the report needs are missing; the message says how to install them. */
export class ReportSetupError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ReportSetupError";
  }
}

/** One failing cell of an executed notebook. */
export interface CellError {
  /** 0-based index among all cells. */
  index: number;
  /** 1-based number among code cells (what a reader counts). */
  codeCell: number;
  id?: string;
  ename: string;
  evalue: string;
  /** The first line of the cell's source. */
  firstLine: string;
}

/** The outcome of one notebook. */
export interface NotebookResult {
  name: string;
  notebook: string;
  html: string;
  status: "ok" | "error" | "failed";
  seconds: number;
  htmlBytes: number;
  errors: CellError[];
  /** Why nbconvert itself failed (kernel died, timeout), when it did. */
  message?: string;
  /** "quick" (QUICK=1) or "full". */
  mode: "quick" | "full";
  /** When it ran (ISO time). */
  date: string;
  /** The notebook's `headline(...)` outputs, in order. */
  headlines?: string[];
  /** Figures drawn: plotly figures, SVG drawings and image grids. */
  figures?: number;
  /** Formulas typeset in the report (Markdown `$...$` and `$$...$$`). */
  formulas?: number;
  /** Formulas MathJax could not parse, with its message. */
  mathErrors?: string[];
  /** The executed notebook, when `keepExecuted` asked for it (`<outDir>/<name>.executed.ipynb`). */
  executed?: string;
}

/** Options of {@linkcode runReports}. */
export interface ReportOptions {
  /** Notebook names or prefixes ("01", "01_tensors_and_eager", "...ipynb"); default all. */
  names?: string[];
  /** Quick mode (sets QUICK=1 for the kernel). Default: the QUICK environment variable. */
  quick?: boolean;
  /** Per-cell timeout in seconds (default 1800, or REPORT_CELL_TIMEOUT). */
  cellTimeoutS?: number;
  /** Output directory (default reports/). */
  outDir?: string;
  /** Progress messages (default console.log). */
  log?: (line: string) => void;
  /** Write index.html (default true). */
  index?: boolean;
  /**
   * Notebooks executed at once, each in its own kernel (default
   * {@linkcode defaultJobs}: one per core). Above 1 each kernel runs tfjs's
   * WASM backend on one thread (`TFJS_WASM_THREADS=1`), and the longest
   * notebooks start first.
   */
  jobs?: number;
  /** Where the notebooks are (default notebooks/). */
  notebookDir?: string;
}

interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

async function run(cmd: string, args: string[], opts: {
  cwd?: string;
  env?: Record<string, string>;
} = {}): Promise<RunResult> {
  try {
    const out = await new Deno.Command(cmd, {
      args,
      cwd: opts.cwd,
      env: opts.env,
      stdout: "piped",
      stderr: "piped",
    }).output();
    const dec = new TextDecoder();
    return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) {
      return { code: 127, stdout: "", stderr: `${cmd}: not found` };
    }
    throw e;
  }
}

const INSTALL_HINT = "install it with `sudo apt-get install jupyter-nbconvert python3-nbclient` " +
  "(Debian/Ubuntu) or `pip install nbconvert nbclient`";

/** The nbconvert version; throws {@linkcode ReportSetupError} naming the install command when missing. */
export async function checkNbconvert(): Promise<string> {
  const r = await run("jupyter", ["nbconvert", "--version"]);
  if (r.code !== 0) {
    throw new ReportSetupError(
      `jupyter nbconvert is not available (${
        (r.stderr.trim().split("\n").pop() || `exit code ${r.code}`).slice(0, 200)
      }): ${INSTALL_HINT}`,
    );
  }
  return r.stdout.trim();
}

/** Jupyter's data directories (`jupyter --paths --json`), with the usual defaults as fallback. */
async function jupyterDataDirs(): Promise<string[]> {
  const r = await run("jupyter", ["--paths", "--json"]);
  if (r.code === 0) {
    try {
      return (JSON.parse(r.stdout) as { data: string[] }).data;
    } catch {
      // fall through
    }
  }
  const home = Deno.env.get("HOME") ?? "";
  return [join(home, ".local/share/jupyter"), "/usr/local/share/jupyter", "/usr/share/jupyter"];
}

/** Path of the Deno kernelspec's kernel.json, or null when none is registered. */
export async function findDenoKernelspec(): Promise<string | null> {
  for (const dir of await jupyterDataDirs()) {
    const path = join(dir, "kernels", "deno", "kernel.json");
    try {
      const spec = JSON.parse(await Deno.readTextFile(path)) as { argv?: string[] };
      if (Array.isArray(spec.argv) && spec.argv.length > 0) return path;
    } catch {
      // not here
    }
  }
  return null;
}

/** Registers the Deno kernelspec (`deno jupyter --install`) when it is missing; returns its path. */
export async function ensureKernelspec(log: (line: string) => void = console.log): Promise<string> {
  const found = await findDenoKernelspec();
  if (found) return found;
  log("registering the Deno Jupyter kernel: deno jupyter --install");
  const r = await run(Deno.execPath(), ["jupyter", "--install"]);
  const path = await findDenoKernelspec();
  if (r.code !== 0 || !path) {
    throw new ReportSetupError(
      `could not register the Deno kernel with \`deno jupyter --install\` (exit ${r.code}): ` +
        `${(r.stderr || r.stdout).trim().slice(0, 400)}`,
    );
  }
  return path;
}

/** notebooks/*.ipynb, sorted, optionally filtered by names or prefixes. */
export async function listNotebooks(names: string[] = [], dir = NOTEBOOK_DIR): Promise<string[]> {
  const all: string[] = [];
  for await (const e of Deno.readDir(dir)) {
    if (e.isFile && e.name.endsWith(".ipynb") && !e.name.startsWith(".")) all.push(e.name);
  }
  all.sort();
  if (names.length === 0) return all;
  const picked: string[] = [];
  for (const n of names) {
    const base = n.replace(/^.*\//, "").replace(/\.ipynb$/, "");
    const hits = all.filter((f) => f === `${base}.ipynb` || f.startsWith(base));
    if (hits.length === 0) {
      throw new ReportSetupError(
        `no notebook matches "${n}" in ${dir} (have: ${all.join(", ") || "none"})`,
      );
    }
    for (const h of hits) if (!picked.includes(h)) picked.push(h);
  }
  return picked;
}

interface NbCell {
  cell_type: string;
  id?: string;
  source: string | string[];
  outputs?: {
    output_type: string;
    ename?: string;
    evalue?: string;
    data?: Record<string, unknown>;
  }[];
}

/** `s` without ANSI colour escapes. */
export function stripAnsi(s: string): string {
  return s.replace(new RegExp(String.fromCharCode(27) + "\\[[0-9;]*m", "g"), "");
}

const text = (s: string | string[] | undefined): string => Array.isArray(s) ? s.join("") : s ?? "";

/** Error outputs of an executed notebook, with the cell that raised each. */
export function findCellErrors(nb: { cells: NbCell[] }): CellError[] {
  const errors: CellError[] = [];
  let codeCell = 0;
  nb.cells.forEach((cell, index) => {
    if (cell.cell_type !== "code") return;
    codeCell++;
    for (const o of cell.outputs ?? []) {
      if (o.output_type !== "error") continue;
      errors.push({
        index,
        codeCell,
        id: cell.id,
        ename: o.ename ?? "Error",
        evalue: stripAnsi(o.evalue ?? ""),
        firstLine: text(cell.source).split("\n")[0].slice(0, 120),
      });
    }
  });
  return errors;
}

/**
 * What an executed notebook shows at a glance: its `headline(...)` texts and
 * how many figures it drew (plotly figures, SVG drawings, image grids).
 */
export function summarizeOutputs(
  nb: { cells: NbCell[] },
): { headlines: string[]; figures: number } {
  const headlines: string[] = [];
  let figures = 0;
  for (const cell of nb.cells) {
    for (const o of cell.outputs ?? []) {
      const data = o.data ?? {};
      const h = data[HEADLINE_MIME] as { text?: unknown } | undefined;
      if (h && typeof h.text === "string") headlines.push(h.text);
      const html = typeof data["text/html"] === "string" ? data["text/html"] as string : text(
        data["text/html"] as string[] | undefined,
      );
      if (
        PLOTLY_MIME in data || "image/svg+xml" in data || "image/png" in data ||
        html.includes("tfjs-nb-image-grid")
      ) figures++;
    }
  }
  return { headlines, figures };
}

/** QUICK as lib/mode.ts reads it: set to anything but 0/false/no. */
function envQuick(): boolean {
  const q = Deno.env.get("QUICK")?.trim() ?? "";
  return q !== "" && !/^(0|false|no)$/i.test(q);
}

/** Executes one notebook and writes its HTML report. */
export async function executeNotebook(notebook: string, opts: {
  outDir?: string;
  quick?: boolean;
  cellTimeoutS?: number;
  notebookDir?: string;
  /** Keep the executed notebook beside the report (tests compare its outputs). */
  keepExecuted?: boolean;
  /** Environment variables for the kernel, over this process's. */
  env?: Record<string, string>;
} = {}): Promise<NotebookResult> {
  const notebookDir = opts.notebookDir ?? NOTEBOOK_DIR;
  const outDir = opts.outDir ?? REPORT_DIR;
  const name = notebook.replace(/\.ipynb$/, "");
  const html = join(outDir, `${name}.html`);
  await Deno.mkdir(outDir, { recursive: true });
  const work = await Deno.makeTempDir({ prefix: "report-" });
  const env: Record<string, string> = { ...opts.env, NO_COLOR: "1" };
  if (opts.quick !== undefined) env.QUICK = opts.quick ? "1" : "0";
  const timeout = opts.cellTimeoutS ??
    (Number(Deno.env.get("REPORT_CELL_TIMEOUT")) || 1800);
  const t0 = performance.now();
  const result: NotebookResult = {
    name,
    notebook: join(notebookDir, notebook),
    html,
    status: "ok",
    seconds: 0,
    htmlBytes: 0,
    errors: [],
    mode: (opts.quick ?? envQuick()) ? "quick" : "full",
    date: new Date().toISOString(),
  };
  try {
    const exec = await run("jupyter", [
      "nbconvert",
      "--to",
      "notebook",
      "--Exporter.preprocessors",
      "deno_execute.DenoExecutePreprocessor",
      "--DenoExecutePreprocessor.enabled=True",
      "--NbConvertApp.postprocessor_class=deno_execute.HTMLToo",
      "--DenoExecutePreprocessor.allow_errors=True",
      "--DenoExecutePreprocessor.kernel_name=deno",
      `--DenoExecutePreprocessor.timeout=${timeout}`,
      "--output-dir",
      work,
      "--output",
      name,
      notebook,
    ], { cwd: notebookDir, env: { ...env, PYTHONPATH: pythonPath() } });
    result.seconds = (performance.now() - t0) / 1000;
    const executed = join(work, `${name}.ipynb`);
    let nb: { cells: NbCell[] } | null = null;
    try {
      nb = JSON.parse(await Deno.readTextFile(executed));
    } catch {
      nb = null;
    }
    if (exec.code !== 0 || !nb) {
      result.status = "failed";
      result.message = nbconvertFailure(exec.stderr);
      return result;
    }
    if (opts.keepExecuted) {
      result.executed = join(outDir, `${name}.executed.ipynb`);
      await writeFileAtomic(result.executed, await Deno.readFile(executed));
    }
    result.errors = findCellErrors(nb);
    if (result.errors.length) result.status = "error";
    Object.assign(result, summarizeOutputs(nb));
    let page: string;
    try {
      page = await Deno.readTextFile(join(work, `${name}.html`)); // deno_execute.HTMLToo's export
    } catch {
      result.status = "failed";
      result.message = htmlExportFailure(exec.stderr);
      return result;
    }
    const math = typesetMath(page);
    result.formulas = math.count;
    if (math.errors.length) result.mathErrors = math.errors;
    const bytes = new TextEncoder().encode(math.html);
    await writeFileAtomic(html, bytes);
    result.htmlBytes = bytes.length;
    return result;
  } finally {
    result.seconds ||= (performance.now() - t0) / 1000;
    await Deno.remove(work, { recursive: true }).catch(() => {});
  }
}

/**
 * PYTHONPATH with tools/ first, for `deno_execute.py`: the preprocessor that
 * keeps outputs Deno's kernel sends after a cell's idle status.
 */
function pythonPath(): string {
  const tools = join(ROOT, "tools");
  const old = Deno.env.get("PYTHONPATH");
  return old ? `${tools}:${old}` : tools;
}

/** Why `deno_execute.HTMLToo` wrote no HTML, from nbconvert's stderr. */
function htmlExportFailure(stderr: string): string {
  const said = stripAnsi(stderr).split("\n").filter((l) => l.startsWith("HTML export failed: "));
  return (said.pop() ?? `HTML export failed: ${nbconvertFailure(stderr)}`).slice(0, 500);
}

/** The useful part of nbconvert's stderr: the exception, without the Python traceback. */
function nbconvertFailure(stderr: string): string {
  const clean = stripAnsi(stderr);
  const lines = clean.split("\n").filter((l) => l.trim() && !/^\[NbConvertApp\]/.test(l));
  const last = lines.filter((l) => /Error|Timeout|died|Exception/.test(l)).pop() ??
    lines.pop() ?? "nbconvert failed";
  return last.trim().slice(0, 500);
}

const esc = (s: string) =>
  s.replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c]!);

/** One line per failing cell: notebook, cell number and id, the error. */
export function describeFailure(r: NotebookResult): string[] {
  if (r.status === "failed") return [`${r.name}.ipynb: nbconvert failed: ${r.message}`];
  return r.errors.map((e) =>
    `${r.name}.ipynb: code cell ${e.codeCell} (cell ${e.index}${e.id ? `, id ${e.id}` : ""}: ` +
    `"${e.firstLine}"): ${e.ename}: ${e.evalue}`
  );
}

/** The index page: one row per notebook with status, run time and size. */
export function indexHtml(results: NotebookResult[], quick: boolean): string {
  const rows = results.map((r) => {
    const color = r.status === "ok" ? "#2ca02c" : "#d62728";
    const detail = describeFailure(r).map(esc).join("<br>");
    const link = r.htmlBytes ? `<a href="${esc(r.name)}.html">${esc(r.name)}</a>` : esc(r.name);
    const results = (r.headlines ?? []).map(esc).join("<br>") +
      (r.figures
        ? `${r.headlines?.length ? "<br>" : ""}${r.figures} figure${r.figures === 1 ? "" : "s"}`
        : "");
    return `<tr><td>${link}</td><td style="color:${color};font-weight:bold">${r.status}</td>` +
      `<td>${results}</td>` +
      `<td style="text-align:right">${r.seconds.toFixed(1)} s</td><td>${r.mode ?? ""}</td>` +
      `<td>${esc((r.date ?? "").slice(0, 16).replace("T", " "))}</td>` +
      `<td style="text-align:right">${(r.htmlBytes / 1e6).toFixed(2)} MB</td>` +
      `<td>${detail}</td></tr>`;
  }).join("\n");
  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Notebook reports</title>
<style>body{font-family:sans-serif;margin:2em}td,th{padding:4px 12px;border-bottom:1px solid #ddd;
vertical-align:top}th{text-align:left}</style></head>
<body><h1>Notebook reports</h1>
<p>Last run ${new Date().toISOString()} with Deno ${Deno.version.deno}, ${
    quick ? "quick mode (QUICK=1)" : "full mode"
  }. Open a report for its figures: plotly.js is embedded, no network needed.</p>
<table><thead><tr><th>notebook</th><th>status</th><th>results</th><th>run time</th><th>mode</th><th>run at (UTC)</th>
<th>HTML</th><th>errors</th>
</tr></thead><tbody>
${rows}
</tbody></table></body></html>
`;
}

/**
 * The results of this run merged with those of earlier runs still on disk
 * (`index.json`), so that `deno task report 03` keeps the other rows.
 */
export async function mergeResults(
  outDir: string,
  results: NotebookResult[],
): Promise<NotebookResult[]> {
  let old: NotebookResult[] = [];
  try {
    old = JSON.parse(await Deno.readTextFile(join(outDir, "index.json")));
  } catch {
    old = [];
  }
  const fresh = new Set(results.map((r) => r.name));
  const kept: NotebookResult[] = [];
  for (const r of Array.isArray(old) ? old : []) {
    if (fresh.has(r.name)) continue;
    try {
      await Deno.stat(r.html); // its report still exists
      kept.push(r);
    } catch {
      // gone
    }
  }
  return [...kept, ...results].sort((a, b) => a.name.localeCompare(b.name));
}

/**
 * Notebooks run at once when `--jobs` is not given: one per core
 * (`navigator.hardwareConcurrency`), at most `count`, at least 1. Each
 * notebook's kernel runs tfjs's WASM backend on one thread, so this keeps every
 * core busy without two kernels sharing one.
 */
export function defaultJobs(count: number): number {
  return Math.max(1, Math.min(navigator.hardwareConcurrency || 1, count));
}

/**
 * Seconds each notebook took on the project's 2-core machine, two at a time
 * (`deno task report --out DIR` and `QUICK=1 deno task report --out DIR`, with
 * other work on the machine, load average about 6): the start order when the
 * output folder holds no earlier run in the same mode.
 */
export const TYPICAL_SECONDS: Readonly<Record<"quick" | "full", Readonly<Record<string, number>>>> =
  {
    quick: {
      "00_quickstart": 17,
      "01_tensors_and_eager": 6,
      "02_graphs_and_sessions": 6,
      "03_tf_function": 6,
      "04_variables_and_gradient_tape": 10,
      "05_first_vision_model": 37,
      "06_three_ways_to_build": 21,
      "07_evaluate_save_load": 51,
      "08_ecosystem": 16,
    },
    full: {
      "00_quickstart": 122,
      "01_tensors_and_eager": 11,
      "02_graphs_and_sessions": 8,
      "03_tf_function": 7,
      "04_variables_and_gradient_tape": 37,
      "05_first_vision_model": 304,
      "06_three_ways_to_build": 215,
      "07_evaluate_save_load": 460,
      "08_ecosystem": 59,
    },
  };

/**
 * The order to start `notebooks` in when several run at once: longest
 * expected first (`seconds`, by name without `.ipynb`), so that a long
 * notebook does not start last and run alone; notebooks with no estimate
 * first of all (nothing says they are short), ties in the given order.
 */
export function startOrder(notebooks: string[], seconds: Record<string, number>): string[] {
  const expected = (nb: string) => seconds[nb.replace(/\.ipynb$/, "")] ?? Infinity;
  return notebooks.map((nb, i) => ({ nb, i, s: expected(nb) }))
    .sort((a, b) => (b.s - a.s) || (a.i - b.i))
    .map((e) => e.nb);
}

/**
 * Expected seconds per notebook: {@linkcode TYPICAL_SECONDS} for the mode,
 * replaced by what `<outDir>/index.json` recorded of an earlier run in the
 * same mode.
 */
export async function expectedSeconds(
  outDir: string,
  mode: "quick" | "full",
): Promise<Record<string, number>> {
  const seconds: Record<string, number> = { ...TYPICAL_SECONDS[mode] };
  try {
    const old = JSON.parse(await Deno.readTextFile(join(outDir, "index.json")));
    for (const r of Array.isArray(old) ? old as Partial<NotebookResult>[] : []) {
      if (r?.mode === mode && typeof r.name === "string" && Number.isFinite(r.seconds)) {
        seconds[r.name] = r.seconds!;
      }
    }
  } catch {
    // no earlier run here
  }
  return seconds;
}

/**
 * Executes the notebooks and writes the reports and the index. With `jobs`
 * above 1 the notebooks run that many at once (longest expected first, see
 * {@linkcode startOrder}); the log lines and the results come in the
 * notebooks' order all the same, each notebook's lines once it is done.
 */
export async function runReports(opts: ReportOptions = {}): Promise<NotebookResult[]> {
  const log = opts.log ?? ((l: string) => console.log(l));
  const quick = opts.quick ?? envQuick();
  const outDir = opts.outDir ?? REPORT_DIR;
  const notebookDir = opts.notebookDir ?? NOTEBOOK_DIR;
  if (opts.jobs !== undefined && !(Number.isInteger(opts.jobs) && opts.jobs >= 1)) {
    throw new ReportUsageError(
      `jobs must be a whole number of notebooks to run at once, 1 or more (got ${opts.jobs})`,
    );
  }
  const notebooks = await listNotebooks(opts.names ?? [], notebookDir);
  if (notebooks.length === 0) throw new ReportSetupError(`no notebooks in ${notebookDir}`);
  const jobs = Math.min(opts.jobs ?? defaultJobs(notebooks.length), notebooks.length);
  const kernelspec = findDenoKernelspec().catch(() => null); // read-only: beside the next check
  const version = await checkNbconvert();
  if (!(await kernelspec)) await ensureKernelspec(log);
  log(
    `nbconvert ${version}; ${notebooks.length} notebook(s), ${quick ? "quick" : "full"} mode` +
      (jobs > 1 ? `, ${jobs} at a time` : ""),
  );
  // One WASM thread per kernel when kernels share the cores.
  const env: Record<string, string> = jobs > 1 ? { TFJS_WASM_THREADS: "1" } : {};
  const order = jobs > 1
    ? startOrder(notebooks, await expectedSeconds(outDir, quick ? "quick" : "full"))
    : notebooks;
  const results: (NotebookResult | undefined)[] = notebooks.map(() => undefined);
  const started = notebooks.map(() => false);
  let shown = 0;
  let announced = -1;
  // The lines of each notebook in the notebooks' order, as soon as they can be.
  const show = () => {
    for (; shown < notebooks.length; shown++) {
      if (started[shown] && announced < shown) {
        log(`executing ${notebooks[shown]} ...`);
        announced = shown;
      }
      const r = results[shown];
      if (!r) return;
      log(
        `  ${r.status} in ${r.seconds.toFixed(1)} s` +
          (r.htmlBytes ? `, ${r.html} (${(r.htmlBytes / 1e6).toFixed(2)} MB)` : ""),
      );
      for (const line of describeFailure(r)) log(`  ${line}`);
      for (const e of r.mathErrors ?? []) log(`  formula not typeset: ${e}`);
    }
  };
  const queue = [...order];
  const thrown: unknown[] = [];
  const worker = async () => {
    for (let nb = queue.shift(); nb !== undefined && !thrown.length; nb = queue.shift()) {
      const i = notebooks.indexOf(nb);
      started[i] = true;
      show();
      try {
        results[i] = await executeNotebook(nb, {
          outDir,
          quick,
          cellTimeoutS: opts.cellTimeoutS,
          notebookDir,
          env,
        });
      } catch (error) {
        thrown.push(error); // let the running notebooks finish, start no more
      }
      show();
    }
  };
  await Promise.all(Array.from({ length: jobs }, worker));
  if (thrown.length) throw thrown[0];
  const done = results as NotebookResult[];
  if (opts.index !== false) {
    const all = await mergeResults(outDir, done);
    await writeFileAtomic(join(outDir, "index.json"), JSON.stringify(all, null, 1) + "\n");
    await writeFileAtomic(join(outDir, "index.html"), indexHtml(all, quick));
    log(`index: ${join(outDir, "index.html")}`);
  }
  return done;
}

/** Thrown for a command line the report does not understand; the message says what to type. */
export class ReportUsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ReportUsageError";
  }
}

/** `deno task report --help`. */
export const USAGE = `Usage: deno task report [--out DIR] [--jobs N] [--] [NOTEBOOK...]

Executes the notebooks (all, or those named: "05", "05_first_vision_model",
"notebooks/05_first_vision_model.ipynb") with Deno's Jupyter kernel and writes
an HTML report of each plus index.html into reports/ (or DIR).

Options:
  --out DIR, --out=DIR  write the reports into DIR instead of reports/
  --jobs N, --jobs=N    run N notebooks at once, each in its own kernel (default:
                        one per core, here ${defaultJobs(Infinity)}); above 1, each kernel runs
                        tfjs's WASM backend on one thread (TFJS_WASM_THREADS=1)
                        and the longest notebooks (as the last run in DIR
                        recorded) start first; lines still come in notebook order
  -h, --help            show this help
  --                    end of options

Environment: QUICK=1 (quick mode: less data, fewer epochs),
REPORT_CELL_TIMEOUT (seconds per cell, default 1800).
Exit status: 0 all ran cleanly, 1 a notebook failed, 2 bad usage or setup.`;

/** The command line split into options and notebook names; throws {@linkcode ReportUsageError}. */
export function parseReportArgs(
  args: string[],
): { names: string[]; outDir?: string; jobs?: number; help: boolean } {
  const names: string[] = [];
  let outDir: string | undefined;
  let jobs: number | undefined;
  let help = false;
  let options = true;
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (options && a === "--") {
      options = false;
    } else if (options && (a === "-h" || a === "--help")) {
      help = true;
    } else if (options && (a === "--out" || a.startsWith("--out="))) {
      const value = a === "--out" ? args[++i] : a.slice("--out=".length);
      if (value === undefined || value === "" || (a === "--out" && value.startsWith("-"))) {
        throw new ReportUsageError("--out needs a folder: --out DIR");
      }
      outDir = value;
    } else if (options && (a === "--jobs" || a.startsWith("--jobs="))) {
      const value = a === "--jobs" ? args[++i] : a.slice("--jobs=".length);
      if (value === undefined || value === "") {
        throw new ReportUsageError("--jobs needs a number of notebooks to run at once: --jobs N");
      }
      if (!/^[1-9][0-9]*$/.test(value)) {
        throw new ReportUsageError(
          `--jobs needs a whole number of notebooks to run at once, 1 or more: got "${value}"`,
        );
      }
      jobs = Number(value);
    } else if (a.startsWith("-")) {
      throw new ReportUsageError(
        `unknown option "${a}"${options ? "" : " (after --)"}: notebook names do not begin ` +
          `with "-"; see deno task report --help`,
      );
    } else {
      names.push(a);
    }
  }
  return { names, outDir, jobs, help };
}

if (import.meta.main) {
  try {
    const cli = parseReportArgs(Deno.args);
    if (cli.help) {
      console.log(USAGE);
      Deno.exit(0);
    }
    const results = await runReports({ names: cli.names, outDir: cli.outDir, jobs: cli.jobs });
    const bad = results.filter((r) => r.status !== "ok");
    if (bad.length) {
      console.error(`\n${bad.length} notebook(s) failed:`);
      for (const r of bad) for (const line of describeFailure(r)) console.error(`  ${line}`);
      Deno.exit(1);
    }
  } catch (e) {
    if (e instanceof ReportSetupError || e instanceof ReportUsageError) {
      console.error(`report: ${e.message}`);
      Deno.exit(2);
    }
    throw e;
  }
}
