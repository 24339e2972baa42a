/**
 * A notebook for the Deno kernel, built in a test: nbformat 4.5 with the Deno
 * kernelspec and one code cell per entry (a source, or `[id, source]`).
 *
 * @example
 * ```ts
 * import { denoNotebook } from "./_notebook.ts";
 * const nb = denoNotebook(["1 + 1", ["bad-cell", "throw new Error()"]]);
 * console.log(nb.cells.length); // 2
 * ```
 *
 * @module
 */

/** One code cell: its source, or its id and source. */
export type CellSpec = string | [id: string, source: string];

/** A Deno-kernel notebook of code cells, ready for `JSON.stringify`. */
export function denoNotebook(cells: CellSpec[]):
  & { cells: Record<string, unknown>[] }
  & Record<
    string,
    unknown
  > {
  return {
    nbformat: 4,
    nbformat_minor: 5,
    metadata: { kernelspec: { name: "deno", display_name: "Deno", language: "typescript" } },
    cells: cells.map((c, i) => {
      const [id, source] = typeof c === "string" ? [`c${i}`, c] : c;
      return { cell_type: "code", id, metadata: {}, execution_count: null, outputs: [], source };
    }),
  };
}
