/**
 * `deno task strip`: removes outputs and execution counts from
 * `notebooks/*.ipynb` (atomic writes), so notebooks are committed clean.
 * `deno task strip --check` changes nothing and exits 1 listing the notebooks
 * that have outputs or execution counts. `deno task strip DIR` works on the
 * notebooks in DIR instead; `--help` prints the usage; an unknown option is
 * refused (exit 2) before any notebook is touched.
 *
 * @example
 * ```ts
 * import { stripNotebook } from "./strip.ts";
 * const { notebook, changed } = stripNotebook({ cells: [{ cell_type: "code", source: "1", outputs: [], execution_count: 3 }] });
 * console.log(changed, notebook);
 * ```
 *
 * @module
 */
import { parseArgs } from "node:util";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { writeFileAtomic } from "../lib/io/atomic.ts";

/** notebooks/ in this repository. */
export const NOTEBOOK_DIR: string = join(
  dirname(fileURLToPath(import.meta.url)),
  "..",
  "notebooks",
);

const USAGE = `usage: deno task strip [--check] [DIR]
  (no option)  remove outputs and execution counts from the notebooks in DIR (default notebooks/)
  --check      change nothing; exit 1 listing the notebooks that have outputs
  -h, --help   print this help`;

/** Thrown for a bad command line; the message ends with the usage. */
export class StripUsageError extends Error {
  /** True when the user asked for `--help` (not an error: exit 0). */
  readonly help: boolean;
  constructor(message: string, help = false) {
    super(`${message}\n${USAGE}`);
    this.name = "StripUsageError";
    this.help = help;
  }
}

/** What `deno task strip` was asked to do. */
export interface StripArgs {
  check: boolean;
  dir: string;
}

/**
 * Parse `deno task strip`'s command line: `--check`, `--help` and at most one
 * folder. Anything else throws {@linkcode StripUsageError}, so a mistyped
 * option never strips notebooks by surprise.
 */
export function parseStripArgs(args: string[]): StripArgs {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      options: { check: { type: "boolean" }, help: { type: "boolean", short: "h" } },
      allowPositionals: true,
    });
  } catch (e) {
    throw new StripUsageError(`strip: ${(e as Error).message}`);
  }
  if (parsed.values.help) {
    throw new StripUsageError("deno task strip: clear notebook outputs", true);
  }
  if (parsed.positionals.length > 1) {
    throw new StripUsageError(
      `strip: one folder at most, got ${parsed.positionals.length}: ${
        parsed.positionals.join(" ")
      }`,
    );
  }
  return { check: parsed.values.check ?? false, dir: parsed.positionals[0] ?? NOTEBOOK_DIR };
}

/** Thrown for a file that is not a notebook; the message names it. */
export class NotebookFormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "NotebookFormatError";
  }
}

interface Cell {
  cell_type: string;
  outputs?: unknown[];
  execution_count?: number | null;
  metadata?: Record<string, unknown>;
  [key: string]: unknown;
}

/** Cell metadata keys that nbclient adds while executing (timings). */
const EXECUTION_METADATA = ["execution", "collapsed", "scrolled"];

/** The notebook without outputs and execution counts, and whether anything changed. */
export function stripNotebook(
  notebook: { cells: Cell[]; [key: string]: unknown },
): { notebook: { cells: Cell[]; [key: string]: unknown }; changed: boolean; dirtyCells: number } {
  let dirtyCells = 0;
  const cells = notebook.cells.map((cell) => {
    if (cell.cell_type !== "code") return cell;
    const meta = { ...(cell.metadata ?? {}) };
    const dirtyMeta = EXECUTION_METADATA.filter((k) => k in meta);
    const dirty = (cell.outputs?.length ?? 0) > 0 || (cell.execution_count ?? null) !== null ||
      dirtyMeta.length > 0;
    if (!dirty) return cell;
    dirtyCells++;
    for (const k of dirtyMeta) delete meta[k];
    return { ...cell, metadata: meta, outputs: [], execution_count: null };
  });
  return { notebook: { ...notebook, cells }, changed: dirtyCells > 0, dirtyCells };
}

/** Parses a notebook file; throws {@linkcode NotebookFormatError} naming it when it is not one. */
export function parseNotebook(text: string, path: string): { cells: Cell[] } {
  let nb: unknown;
  try {
    nb = JSON.parse(text);
  } catch (e) {
    throw new NotebookFormatError(`${path}: not valid JSON (${(e as Error).message})`);
  }
  if (!nb || typeof nb !== "object" || !Array.isArray((nb as { cells?: unknown }).cells)) {
    throw new NotebookFormatError(`${path}: not a Jupyter notebook (no "cells" list)`);
  }
  return nb as { cells: Cell[] };
}

/** Serialises like Jupyter does: 1-space indent, trailing newline. */
export function formatNotebook(nb: unknown): string {
  return JSON.stringify(nb, null, 1) + "\n";
}

/** The notebooks in `dir`, sorted. */
export async function notebookPaths(dir = NOTEBOOK_DIR): Promise<string[]> {
  const out: string[] = [];
  for await (const e of Deno.readDir(dir)) {
    if (e.isFile && e.name.endsWith(".ipynb") && !e.name.startsWith(".")) {
      out.push(join(dir, e.name));
    }
  }
  return out.sort();
}

/** The notebooks in `dir` that have outputs or execution counts. */
export async function dirtyNotebooks(dir = NOTEBOOK_DIR): Promise<string[]> {
  const dirty: string[] = [];
  for (const path of await notebookPaths(dir)) {
    if (stripNotebook(parseNotebook(await Deno.readTextFile(path), path)).changed) dirty.push(path);
  }
  return dirty;
}

/** Strips every notebook in `dir` that needs it; returns the paths it rewrote. */
export async function stripAll(dir = NOTEBOOK_DIR): Promise<string[]> {
  const changed: string[] = [];
  for (const path of await notebookPaths(dir)) {
    const { notebook, changed: c } = stripNotebook(
      parseNotebook(await Deno.readTextFile(path), path),
    );
    if (!c) continue;
    await writeFileAtomic(path, formatNotebook(notebook));
    changed.push(path);
  }
  return changed;
}

if (import.meta.main) {
  let args: StripArgs;
  try {
    args = parseStripArgs(Deno.args);
  } catch (e) {
    if (!(e instanceof StripUsageError)) throw e;
    if (e.help) {
      console.log(e.message);
      Deno.exit(0);
    }
    console.error(e.message);
    Deno.exit(2);
  }
  const { check, dir } = args;
  try {
    if (check) {
      const dirty = await dirtyNotebooks(dir);
      if (dirty.length) {
        console.error(
          `${dirty.length} notebook(s) have outputs or execution counts ` +
            `(run \`deno task strip\`):\n${dirty.map((p) => `  ${p}`).join("\n")}`,
        );
        Deno.exit(1);
      }
      console.log("all notebooks are clean");
    } else {
      const changed = await stripAll(dir);
      console.log(
        changed.length
          ? `stripped:\n${changed.map((p) => `  ${p}`).join("\n")}`
          : "nothing to strip",
      );
    }
  } catch (e) {
    if (e instanceof NotebookFormatError) {
      console.error(`strip: ${e.message}`);
      Deno.exit(2);
    }
    if (e instanceof Deno.errors.NotFound || e instanceof Deno.errors.NotADirectory) {
      console.error(`strip: ${dir}: no such folder of notebooks (${(e as Error).message})`);
      Deno.exit(2);
    }
    throw e;
  }
}
