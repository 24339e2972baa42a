/**
 * `deno task bench` in its tiny mode (seconds), as a subprocess: it must
 * finish, print the table and write a well-formed JSON and HTML report, and
 * `--compare` must read two reports back.
 */
import { strict as assert } from "node:assert";
import type { BenchReport } from "../tools/bench.ts";

const bench = new URL("../tools/bench.ts", import.meta.url).pathname;

async function run(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", bench, ...args],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

Deno.test("bench --tiny writes a report; --compare reads two", async () => {
  const dir = await Deno.makeTempDir({ prefix: "bench_test_" });
  try {
    const r = await run(["--tiny", "--backends", "wasm", "--out", dir]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /samples\/s/);
    const report: BenchReport = JSON.parse(await Deno.readTextFile(`${dir}/bench.json`));
    assert.equal(report.version, 1);
    assert.equal(report.mode, "tiny");
    const single = report.training.filter((t) => t.replicas === 0);
    assert.deepEqual(single.map((t) => t.model).sort(), ["keras_cnn", "mlp", "small_cnn"]);
    for (const t of report.training) {
      assert.ok(Number.isFinite(t.samplesPerSec) && t.samplesPerSec > 0, JSON.stringify(t));
    }
    for (const t of single) assert.ok(t.testAcc! >= 0 && t.testAcc! <= 1, JSON.stringify(t));
    assert.ok(report.training.some((t) => t.replicas === 2), "a mirrored row");
    assert.ok(report.kernels.length >= 5);
    for (const k of report.kernels) assert.ok(k.gflops > 0 && k.ms > 0, JSON.stringify(k));
    assert.deepEqual(
      report.speedups.map((k) => k.kernel).sort(),
      ["Adam step", "Add", "BatchMatMul", "Conv2D", "Conv2DBackpropInput", "MaxPoolGrad", "Sum"],
    );
    for (const k of report.speedups) assert.ok(k.stockMs > 0 && k.oursMs > 0, JSON.stringify(k));
    assert.equal(report.profiles.length, 3);
    for (const p of report.profiles) assert.ok(p.kernels.length > 0 && p.stepMs > 0);
    const html = await Deno.readTextFile(`${dir}/bench.html`);
    assert.match(html, /Plotly\.newPlot/);
    assert.match(html, /Training throughput/);

    const c = await run(["--compare", `${dir}/bench.json`, `${dir}/bench.json`]);
    assert.equal(c.code, 0, c.stderr);
    assert.match(c.stdout, /train wasm mlp\s+samples\/s\s+[\d,]+\s+[\d,]+\s+1\.00/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("bench rejects bad arguments with a message", async () => {
  const a = await run(["--frobnicate"]);
  assert.equal(a.code, 2);
  assert.match(a.stderr, /unknown option --frobnicate/);
  const b = await run(["--compare", "/nonexistent.json", "/nonexistent.json"]);
  assert.equal(b.code, 2);
  assert.match(b.stderr, /not a readable bench\.json/);
});
