/**
 * Every task answers `--help` and refuses what it does not know (issue 14):
 * `deno task train` and `deno task strip`, run as the tasks run them.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { parseStripArgs, StripUsageError } from "../tools/strip.ts";

const ROOT = new URL("..", import.meta.url).pathname;

async function run(
  tool: string,
  args: string[],
): Promise<{ code: number; out: string; err: string }> {
  const o = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", join(ROOT, "tools", tool), ...args],
    cwd: ROOT,
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).output();
  const text = new TextDecoder();
  return { code: o.code, out: text.decode(o.stdout), err: text.decode(o.stderr) };
}

Deno.test("deno task train --help prints the usage (exit 0); an unknown option or a stray argument is refused (exit 2) with the usage", async () => {
  const help = await run("train.ts", ["--help"]);
  assert.equal(help.code, 0, help.err);
  assert.match(help.out, /usage: deno task train \[--epochs N\]/);
  for (
    const [args, why] of [
      [["--bogus"], /Unknown option '--bogus'/],
      [["extra"], /Unexpected argument 'extra'/],
      [["--epochs"], /--epochs <value>' argument missing/],
    ] as const
  ) {
    const r = await run("train.ts", [...args]);
    assert.equal(r.code, 2, `${args}: ${r.err}`);
    assert.match(r.err, why);
    assert.match(r.err, /usage: deno task train/);
  }
});

Deno.test("deno task strip --help prints the usage and an unknown option is refused (exit 2), both before any notebook is touched", async () => {
  const dir = await Deno.makeTempDir({ prefix: "strip_cli_" });
  try {
    const nb = join(dir, "dirty.ipynb");
    const text = JSON.stringify({
      cells: [{
        cell_type: "code",
        source: "1",
        outputs: [{ output_type: "stream" }],
        execution_count: 1,
      }],
    });
    await Deno.writeTextFile(nb, text);
    const help = await run("strip.ts", ["--help", dir]);
    assert.equal(help.code, 0, help.err);
    assert.match(help.out, /usage: deno task strip \[--check\] \[DIR\]/);
    for (const args of [["--bogus", dir], ["--chek", dir], [dir, dir]]) {
      const r = await run("strip.ts", args);
      assert.equal(r.code, 2, `${args}: ${r.out}${r.err}`);
      assert.match(r.err, /^strip: /);
      assert.match(r.err, /usage: deno task strip/);
    }
    assert.equal(await Deno.readTextFile(nb), text, "the notebook is untouched");
    const missing = await run("strip.ts", [join(dir, "nope")]);
    assert.equal(missing.code, 2);
    assert.match(missing.err, /no such folder of notebooks/);
    // The real thing still works: --check sees the outputs, a plain run strips them.
    assert.equal((await run("strip.ts", ["--check", dir])).code, 1);
    assert.equal((await run("strip.ts", [dir])).code, 0);
    assert.notEqual(await Deno.readTextFile(nb), text);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("parseStripArgs: --check, -h and one folder; anything else is a StripUsageError", () => {
  assert.deepEqual(parseStripArgs(["--check", "/x"]), { check: true, dir: "/x" });
  assert.equal(parseStripArgs([]).check, false);
  assert.throws(() => parseStripArgs(["-h"]), (e: unknown) => (e as StripUsageError).help);
  assert.throws(() => parseStripArgs(["--all"]), StripUsageError);
  assert.throws(() => parseStripArgs(["a", "b"]), /one folder at most/);
});
