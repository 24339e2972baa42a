/**
 * `deno task bench` in its tiny mode (seconds), as a subprocess: it must
 * finish, print the table and write a well-formed JSON and HTML report, and
 * `--compare` must read two reports back.
 */
import { strict as assert } from "node:assert";
import { accuracyDeltaText, type BenchReport, formatReport } from "../tools/bench.ts";
import { untilSteady } from "../tools/_steady.ts";

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
      [
        "Adam step",
        "Add",
        "BatchMatMul",
        "BatchMatMul",
        "Conv2D",
        "Conv2D",
        "Conv2DBackpropInput",
        "MaxPoolGrad",
        "Sum",
        "keras_cnn training step",
        "mlp training step",
        "small_cnn training step",
      ],
    );
    for (const k of report.speedups) assert.ok(k.stockMs > 0 && k.oursMs > 0, JSON.stringify(k));
    assert.equal(report.profiles.length, 3);
    for (const p of report.profiles) assert.ok(p.kernels.length > 0 && p.stepMs > 0);
    if (navigator.hardwareConcurrency >= 2) {
      // Single- vs multi-threaded WASM, per op and per training step.
      assert.ok(report.threads, report.skipped.join("; "));
      assert.deepEqual(report.threads.builds.map((b) => b.threads), [1, 2]);
      assert.ok(report.threads.ops.some((o) => o.op === "MaxPoolGrad (2x2/2)"));
      assert.equal(report.threads.steps.length, 3);
      for (const o of [...report.threads.ops, ...report.threads.steps]) {
        assert.ok(o.ms1 > 0 && o.msN > 0, JSON.stringify(o));
      }
      assert.match(r.stdout, /WASM on 1 vs 2 threads/);
    }
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

Deno.test("bench --help answers with the options; stray arguments are refused", async () => {
  const h = await run(["--help"]);
  assert.equal(h.code, 0, h.stderr);
  for (const o of ["--tiny", "--torch", "--seeds", "--backends", "--out", "--compare"]) {
    assert.match(h.stdout, new RegExp(o));
  }
  const s = await run(["wasm"]);
  assert.equal(s.code, 2);
  assert.match(s.stderr, /unexpected argument "wasm"/);
  const b = await run(["--backends", "tpu"]);
  assert.equal(b.code, 2);
  assert.match(b.stderr, /--backends: unknown tpu/);
});

Deno.test("bench --torch resolves tools/torch_reference.py from the repository, not the cwd", async () => {
  const { TORCH_REFERENCE } = await import("../tools/bench.ts");
  assert.equal(TORCH_REFERENCE, new URL("../tools/torch_reference.py", import.meta.url).pathname);
  assert.ok((await Deno.stat(TORCH_REFERENCE)).isFile);
});

Deno.test("bench --torch says clearly when python3 or PyTorch is missing", async () => {
  const { torchReference } = await import("../tools/bench.ts");
  const none = await torchReference(["--models", "mlp"], "/nonexistent/python3");
  assert.ok("error" in none);
  assert.match(none.error, /\/nonexistent\/python3 is not installed .*python3-torch/);
  // python3 -S skips Debian's dist-packages: the script then finds no torch (exit 3).
  let python = "";
  for (const p of ["/usr/bin/python3"]) {
    if (await Deno.stat(p).then(() => true, () => false)) python = p;
  }
  if (!python) return;
  const noTorch = await new Deno.Command(python, {
    args: ["-S", new URL("../tools/torch_reference.py", import.meta.url).pathname],
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(noTorch.code, 3);
  assert.match(new TextDecoder().decode(noTorch.stderr), /apt-get install python3-torch/);
});

Deno.test("torch_reference.py (PyTorch's reference): first line says what it changed; steady-state RESULT", async (t) => {
  const python = "/usr/bin/python3";
  const probe = await new Deno.Command(python, { args: ["-c", "import torch"], stderr: "null" })
    .output().catch(() => undefined);
  if (!probe?.success) {
    await t.step({ name: "PyTorch is not installed here", ignore: true, fn() {} });
    return;
  }
  const out = await new Deno.Command(python, {
    args: [
      new URL("../tools/torch_reference.py", import.meta.url).pathname,
      ...["--models", "mlp", "--limit", "384", "--warmup-batches", "2", "--skip-matmul"],
    ],
    env: { OPENBLAS_CORETYPE: "Haswell", OPENBLAS_L2_SIZE: "1048576" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout);
  assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
  const first = text.split("\n")[0];
  assert.match(first, /dropped OPENBLAS_CORETYPE=Haswell/);
  assert.match(first, /dropped OPENBLAS_L2_SIZE=1048576/);
  assert.match(first, /malloc thresholds/);
  const r = JSON.parse(text.split("\n").find((l) => l.startsWith("RESULT "))!.slice(7));
  assert.equal(r.model, "mlp");
  assert.equal(r.samples, 384);
  assert.equal(r.warmup_samples, 256);
  assert.equal(r.chunks.length, 3);
  assert.ok(r.samples_per_s > 0 && r.acc_1ep >= 0 && r.acc_1ep <= 1);
});

Deno.test("bench: Δ accuracy over seeds carries ± two standard errors of the difference of the means", () => {
  // Closed form: sample variances 1e-4 on both sides over 3 seeds, so the difference of the
  // means has standard error √(2·1e-4/3) = 0.816 points; Δ = 83 − 85 = −2 points.
  const ours = { testAcc: 0.83, testAccs: [0.82, 0.83, 0.84] };
  const ref = { testAcc: 0.85, testAccs: [0.84, 0.85, 0.86] };
  assert.equal(accuracyDeltaText(ours, ref), "-2.0 ±1.6");
  // One seed on either side: no spread to speak of, the plain difference.
  assert.equal(accuracyDeltaText({ testAcc: 0.83 }, ref), "-2.0");
  const report = {
    mode: "tiny",
    host: { cpus: 2, deno: "2", tfjs: "4", load: [0, 0, 0] },
    training: [{ backend: "wasm", model: "keras_cnn", replicas: 0, steps: 3, batch: 128 }],
    torch: [{ model: "keras_cnn", samplesPerSec: 1, runtime: "pytorch", ...ref }],
    kernels: [],
    speedups: [],
    profiles: [],
    functions: [],
    data: [],
    torchMatmul: [],
    skipped: [],
  } as unknown as BenchReport;
  Object.assign(report.training[0], { samplesPerSec: 1, repeats: [1], ...ours });
  const text = formatReport(report);
  assert.match(text, /-2\.0 ±1\.6/);
  assert.match(text, /Δ acc ±: two standard errors/);
});

Deno.test("bench warm-up (untilSteady): stops once the step time stops improving, and says when it ran out of time instead", async () => {
  const busy = (ms: number) => {
    const t0 = performance.now();
    while (performance.now() - t0 < ms);
  };
  const steady = await untilSteady(() => busy(1), { minMs: 200, maxMs: 10_000, windowMs: 40 });
  assert.equal(steady.steady, true);
  assert.ok(steady.steps >= 150, `${steady.steps} steps: it must warm up for at least minMs`);
  assert.ok(steady.msPerStep >= 1, `${steady.msPerStep} ms per step`);
  // A step that keeps getting faster (3% per window of 10 steps) is never steady.
  let calls = 0;
  const faster = await untilSteady(() => busy(4 * 0.97 ** (calls++ / 10)), {
    minMs: 100,
    maxMs: 600,
    windowMs: 1,
  });
  assert.equal(faster.steady, false);
});
