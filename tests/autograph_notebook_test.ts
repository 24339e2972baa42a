/**
 * AutoGraph in a notebook: a function defined in a Deno Jupyter cell is converted with
 * `new Function` in the global scope, and sees the top-level names of every cell — `import`s
 * (the kernel turns them into top-level constants) and `const`s — without `{ scope }`.
 * Runs a tiny notebook through the real client (`jupyter nbconvert --execute`, Deno's
 * kernel) in a temp folder; skipped when jupyter is not installed.
 *
 * @module
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { ensureKernelspec } from "../tools/report.ts";
import { denoNotebook } from "./_notebook.ts";

const hasJupyter = await new Deno.Command("jupyter", { args: ["nbconvert", "--version"] })
  .output().then((o) => o.success, () => false);
const root = new URL("..", import.meta.url);
const lib = (path: string) => new URL(path, root).href;

Deno.test({
  name:
    "AutoGraph in a notebook: a cell's top-level names and imports are visible to converted code",
  ignore: !hasJupyter,
  sanitizeOps: false,
  sanitizeResources: false,
}, async () => {
  await ensureKernelspec(() => {}); // a fresh machine has no Deno kernel registered yet
  const dir = await Deno.makeTempDir({ prefix: "autograph-nb-" });
  try {
    const config = JSON.parse(await Deno.readTextFile(new URL("deno.json", root)));
    await Deno.writeTextFile(
      join(dir, "deno.json"),
      JSON.stringify({ imports: config.imports, nodeModulesDir: "none" }),
    );
    const notebook = denoNotebook([
      `import * as tf from "@tensorflow/tfjs";\n` +
      `import { convert } from "${lib("lib/autograph/mod.ts")}";\n` +
      `import { tfFunction } from "${lib("lib/function.ts")}";`,
      "const w = tf.scalar(3);",
      "function f(x) {\n  if (x.sum() > 0) {\n    return x * w;\n  }\n  return -x;\n}\n" +
      "const g = tfFunction(convert(f));\n" +
      "const ys = [g(tf.tensor([1, 2])), g(tf.tensor([-1, -2]))];\n" +
      "const ops = g.concreteFunctions[0].graph.operations.map((op) => op.type);\n" +
      "let missing = '';\n" +
      "try { convert((x) => x * notDefinedAnywhere); } catch (e) { missing = e.name; }\n" +
      "console.log('RESULT ' + JSON.stringify({ ys: ys.map((y) => Array.from(y.dataSync())), " +
      "hasIf: ops.includes('StatelessIf'), missing }));",
      // A symbolic tensor as a cell's value is displayed (not turned into a string primitive).
      `import * as v1 from "${lib("lib/v1/mod.ts")}";\n` +
      `new v1.Graph().asDefault(() => v1.placeholder("float32", [2], "shown"))`,
      "1",
    ]);
    const path = join(dir, "autograph.ipynb");
    await Deno.writeTextFile(path, JSON.stringify(notebook));
    const out = await new Deno.Command("jupyter", {
      args: [
        "nbconvert",
        "--to",
        "notebook",
        "--execute",
        "--ExecutePreprocessor.kernel_name=deno",
        "--ExecutePreprocessor.timeout=300",
        "--output",
        "executed.ipynb",
        path,
      ],
      cwd: dir,
      env: { NO_COLOR: "1" },
    }).output();
    const log = new TextDecoder().decode(out.stderr);
    assert.ok(out.success, log);
    const executed = JSON.parse(await Deno.readTextFile(join(dir, "executed.ipynb")));
    const text = executed.cells.flatMap((c: { outputs: { text?: string | string[] }[] }) =>
      c.outputs.map((o) => [o.text ?? ""].flat().join(""))
    ).join("");
    const line = text.split("\n").find((l: string) => l.startsWith("RESULT "));
    assert.ok(line, `no result printed: ${text}\n${log}`);
    const result = JSON.parse(line.slice("RESULT ".length));
    assert.deepEqual(result.ys, [[3, 6], [1, 2]]); // `w` and `tf` come from other cells
    assert.equal(result.hasIf, true); // a pure branch: StatelessIf, as TF2
    assert.equal(result.missing, "AutoGraphScopeError"); // an AutoGraphError naming the variable
    const shown = JSON.stringify(executed.cells[3].outputs);
    assert.ok(shown.includes('Tensor(\\"shown:0\\"'), shown);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
