import assert from "node:assert/strict";
import { join } from "node:path";
import {
  dirtyNotebooks,
  formatNotebook,
  NotebookFormatError,
  notebookPaths,
  parseNotebook,
  stripAll,
  stripNotebook,
} from "../tools/strip.ts";

Deno.test("strip: every committed notebook has no outputs and no execution counts", async () => {
  const paths = await notebookPaths();
  assert.ok(paths.length > 0, "no notebooks found");
  const dirty = await dirtyNotebooks();
  assert.deepEqual(dirty, [], `run \`deno task strip\` on: ${dirty.join(", ")}`);
});

Deno.test("strip: every notebook is nbformat 4.5 with cell ids and the Deno kernelspec", async () => {
  for (const path of await notebookPaths()) {
    const nb = parseNotebook(await Deno.readTextFile(path), path) as unknown as {
      nbformat: number;
      nbformat_minor: number;
      metadata: { kernelspec?: { name?: string } };
      cells: { id?: string }[];
    };
    assert.equal(nb.nbformat, 4, path);
    assert.ok(nb.nbformat_minor >= 5, `${path}: nbformat_minor ${nb.nbformat_minor}`);
    assert.equal(nb.metadata.kernelspec?.name, "deno", `${path}: kernelspec`);
    const ids = nb.cells.map((c) => c.id);
    assert.ok(
      ids.every((id) => typeof id === "string" && id.length > 0),
      `${path}: cell without id`,
    );
    assert.equal(new Set(ids).size, ids.length, `${path}: duplicate cell ids`);
  }
});

Deno.test("strip: removes outputs, counts and execution metadata; leaves clean cells alone", () => {
  const clean = {
    cell_type: "code",
    source: "1",
    metadata: {},
    outputs: [],
    execution_count: null,
  };
  const md = { cell_type: "markdown", source: "# t", metadata: {} };
  const nb = {
    nbformat: 4,
    cells: [
      md,
      clean,
      {
        cell_type: "code",
        source: "2",
        metadata: { execution: { "iopub.status.idle": "x" }, tags: ["keep"] },
        outputs: [{ output_type: "stream", name: "stdout", text: "2" }],
        execution_count: 7,
      },
    ],
  };
  const { notebook, changed, dirtyCells } = stripNotebook(nb);
  assert.equal(changed, true);
  assert.equal(dirtyCells, 1);
  assert.deepEqual(notebook.cells[0], md);
  assert.equal(notebook.cells[1], clean);
  assert.deepEqual(notebook.cells[2], {
    cell_type: "code",
    source: "2",
    metadata: { tags: ["keep"] },
    outputs: [],
    execution_count: null,
  });
  assert.equal(stripNotebook(notebook).changed, false);
});

Deno.test("strip: stripAll rewrites dirty notebooks in place and check mode sees them", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const dirty = {
      nbformat: 4,
      nbformat_minor: 5,
      metadata: {},
      cells: [{
        cell_type: "code",
        id: "a",
        source: "x",
        metadata: {},
        outputs: [{}],
        execution_count: 1,
      }],
    };
    const clean = { ...dirty, cells: [{ ...dirty.cells[0], outputs: [], execution_count: null }] };
    await Deno.writeTextFile(join(dir, "a.ipynb"), formatNotebook(dirty));
    await Deno.writeTextFile(join(dir, "b.ipynb"), formatNotebook(clean));
    const before = await Deno.readTextFile(join(dir, "b.ipynb"));
    assert.deepEqual(await dirtyNotebooks(dir), [join(dir, "a.ipynb")]);
    const check = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", new URL("../tools/strip.ts", import.meta.url).pathname, "--check", dir],
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.equal(check.code, 1);
    assert.match(new TextDecoder().decode(check.stderr), /a\.ipynb/);
    assert.deepEqual(await stripAll(dir), [join(dir, "a.ipynb")]);
    assert.deepEqual(await dirtyNotebooks(dir), []);
    assert.equal(await Deno.readTextFile(join(dir, "b.ipynb")), before);
    const names = [...Deno.readDirSync(dir)].map((e) => e.name).sort();
    assert.deepEqual(names, ["a.ipynb", "b.ipynb"], "no temp files left");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("strip: a file that is not a notebook gives a NotebookFormatError naming it", () => {
  assert.throws(
    () => parseNotebook("{", "x.ipynb"),
    (e) => e instanceof NotebookFormatError && /x\.ipynb/.test(e.message),
  );
  assert.throws(() => parseNotebook("{}", "y.ipynb"), /y\.ipynb: not a Jupyter notebook/);
});
