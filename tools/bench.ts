/**
 * `deno task bench`: training throughput, kernel GFLOP/s, eager vs traced calls
 * and data loading, on every backend available, with an optional PyTorch
 * reference taken in the same run.
 *
 * It trains the three models of `tools/torch_reference.py` (MLP
 * 784-128-10, small CNN, Keras CNN; batch 128, Adam 1e-3, PyTorch's default
 * initialisation) on Fashion-MNIST,
 * on WASM (as initBackend starts it: tfjs's threaded build when it works, and
 * mirrored on 2 single-threaded Workers), the CPU backend and WebGPU when an
 * adapter exists; times each op and training step on 1 and 2 WASM threads (in
 * separate processes, `_bench_threads.ts`); prints a table of medians over
 * repeats and writes
 * `reports/bench.json` and `reports/bench.html` (plotly bar charts).
 *
 * ```sh
 * deno task bench                      # full run (under 5 minutes on 2 cores)
 * deno task bench --tiny               # seconds: what the test runs
 * deno task bench --torch              # also run PyTorch (apt-get install python3-torch)
 * deno task bench --torch --seeds 3    # one-epoch accuracy: the mean over 3 seeds, both sides
 * deno task bench --compare a.json b.json   # ratios b/a of every figure
 * deno task bench --out DIR            # write DIR/bench.json and DIR/bench.html
 * deno task bench --help
 * TFJS_WASM_THREADS=1 deno task bench  # WASM rows on one thread (default: two, on two cores)
 * ```
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { type BackendName, initBackend } from "../lib/backend.ts";
import { buildModel, MODEL_NAMES, type ModelName } from "../lib/distribute/models.ts";
import { MirroredStrategy } from "../lib/distribute/mirrored.ts";
import { plot } from "../lib/display/mod.ts";
import { DISPLAY } from "../lib/display/displayable.ts";
import { writeFileAtomic } from "../lib/io/atomic.ts";
import { permutation } from "../lib/_random.ts";
import { installFusedAdam } from "../lib/kernels/adam_update.ts";
import { useGemm } from "../lib/kernels/gemm.ts";
import { untilSteady } from "./_steady.ts";
import { SeededDropout } from "../lib/models/seeded_dropout.ts";
import type { ThreadsProbe } from "./_bench_threads.ts";

/** The WASM kernels lib/kernels replaces, as registered before `initBackend` ran. */
const STOCK_NAMES = [
  "MaxPoolGrad",
  "Conv2DBackpropInput",
  "BatchMatMul",
  "Sum",
  "Add",
  "Conv2D",
] as const;
const STOCK: Map<string, tf.KernelConfig> = new Map(
  STOCK_NAMES.flatMap((n) => {
    const k = tf.getKernel(n, "wasm");
    return k ? [[n, k] as [string, tf.KernelConfig]] : [];
  }),
);

/** A replaced WASM kernel against the stock one, on the same inputs. */
export interface SpeedupRow {
  kernel: string;
  shape: string;
  stockMs: number;
  oursMs: number;
}

/** One training measurement. */
export interface TrainRow {
  backend: string;
  model: ModelName;
  /** Workers (mirrored training); 0 = one process (its threads in the note). */
  replicas: number;
  /** WASM rows trained in fresh processes: each one's samples/s (the row is the fastest's). */
  processes?: number[];
  steps: number;
  batch: number;
  /** Median over repeats of samples per second. */
  samplesPerSec: number;
  repeats: number[];
  /** Test accuracy after training (single-thread rows only); the mean over `testAccs`. */
  testAcc?: number;
  /** With `--seeds N`: the test accuracy of each seed 0..N−1 (initialisation and order). */
  testAccs?: number[];
  trainSamples?: number;
  note?: string;
}

/** One kernel measurement. */
export interface KernelRow {
  backend: string;
  kernel: string;
  shape: string;
  ms: number;
  gflops: number;
}

/** Everything one run measured (reports/bench.json). */
export interface BenchReport {
  version: 1;
  date: string;
  mode: "tiny" | "full";
  /** `load`: 1/5/15-minute load averages at the start; `loadEnd`: at the end. */
  host: { cpus: number; deno: string; tfjs: string; load: number[]; loadEnd?: number[] };
  training: TrainRow[];
  kernels: KernelRow[];
  speedups: SpeedupRow[];
  /** Per model: milliseconds per training step by kernel (tf.profile, WASM), largest first. */
  profiles: { model: string; stepMs: number; kernels: { name: string; ms: number }[] }[];
  functions: {
    name: string;
    backend: string;
    eagerMs: number;
    tracedMs: number;
    traceMs: number;
  }[];
  data: { source?: string; loadMs?: number; count?: number; batchSamplesPerSec?: number }[];
  /** PyTorch per model: the faster of the runs before and after ours (`runs`: each run). */
  torch: {
    model: string;
    samplesPerSec: number;
    /** Seed 0's test accuracy, or with `--seeds N` the mean over `testAccs`. */
    testAcc: number;
    testAccs?: number[];
    runtime: string;
    runs?: number[];
  }[];
  torchMatmul: { n: number; threads: number; gflops: number }[];
  /**
   * WASM single- vs multi-threaded (tfjs's threaded build), each in its own process, run
   * alternately; each figure is the best of its runs (ms).
   */
  threads?: {
    /** Per build: threads, how it started (ms), resident memory after the start (MB). */
    builds: { threads: number; build: string; fallback: string; startMs: number; rssMb: number }[];
    /** `msXnn`: threaded build, lib/kernels' loops on one thread (TFJS_KERNEL_THREADS=1). */
    ops: { op: string; shape: string; ms1: number; msN: number; msXnn?: number }[];
    steps: { model: string; ms1: number; msN: number; msXnn?: number }[];
  };
  skipped: string[];
}

/** Thrown for bad command-line arguments or unreadable files to compare. */
export class BenchError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "BenchError";
  }
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0
    ? NaN
    : s.length % 2
    ? s[(s.length - 1) / 2]
    : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

interface Bytes {
  images: Uint8Array;
  labels: Uint8Array;
  count: number;
}

export async function loadData(
  tiny: boolean,
  report: Pick<BenchReport, "data" | "skipped">,
): Promise<{ train: Bytes; test: Bytes }> {
  try {
    const data = await import("../lib/data/mod.ts");
    const t0 = performance.now();
    const { train, test, source } = await data.loadFashionMnist({
      testLimit: tiny ? 500 : undefined,
    });
    const loadMs = performance.now() - t0;
    // Batch throughput: bytes → float tensors of 128, as the training loops do.
    await initBackend({ prefer: "wasm" });
    const n = Math.min(train.count, tiny ? 1280 : 12800);
    const t1 = performance.now();
    for (const b of train.subset(n, 1).batches(128, { shuffle: true, seed: 1 })) {
      tf.dispose([b.xs, b.ys]);
    }
    const batchSamplesPerSec = n / ((performance.now() - t1) / 1000);
    report.data.push({ source, loadMs, count: train.count, batchSamplesPerSec });
    return { train, test };
  } catch (e) {
    report.skipped.push(`data: lib/data could not load Fashion-MNIST (${(e as Error).message})`);
    const rand = (n: number) => new Uint8Array(n).map((_, i) => (i * 2654435761) >>> 24);
    const mk = (count: number): Bytes => ({
      images: rand(count * 784),
      labels: new Uint8Array(count).map((_, i) => i % 10),
      count,
    });
    return { train: mk(tiny ? 2048 : 20000), test: mk(tiny ? 500 : 2000) };
  }
}

const scaled = new WeakMap<Bytes, Float32Array>();

/** The images as float32 in [0, 1], converted once (as the PyTorch reference converts its arrays). */
function imagesAsFloats(d: Bytes): Float32Array {
  let f = scaled.get(d);
  if (!f) scaled.set(d, f = Float32Array.from(d.images, (v) => v / 255));
  return f;
}

/** A batch of `b` random images and one-hot labels (for timing steps on no particular data). */
export function randomBatch(b: number): { xs: tf.Tensor; ys: tf.Tensor } {
  return {
    xs: tf.randomUniform([b, 28, 28, 1]),
    ys: tf.tidy(() => tf.oneHot(tf.randomUniform([b], 0, 10, "int32") as tf.Tensor1D, 10)),
  };
}

/** One training step of `model` on (xs, ys) with `opt`; returns the loss (the caller disposes it). */
export function trainingStep(
  model: tf.LayersModel,
  opt: tf.Optimizer,
  xs: tf.Tensor,
  ys: tf.Tensor,
): tf.Scalar {
  return opt.minimize(
    () => tf.losses.softmaxCrossEntropy(ys, model.apply(xs, { training: true }) as tf.Tensor),
    true,
  )!;
}

/** The batch buffer batchTensors reuses on WASM (see below). */
let batchBuffer = new Float32Array(0);

function batchTensors(d: Bytes, idx: Uint32Array): { xs: tf.Tensor4D; ys: tf.Tensor2D } {
  const all = imagesAsFloats(d);
  // WASM copies a tensor's values into its heap, so one buffer serves every batch, as in
  // lib/data (a new 400 KB array per batch cost the MLP's step about 0.2 ms of garbage
  // collection, 1.85 → 2.08 ms, measured against a reused buffer in one process); other
  // backends keep the array.
  const reuse = tf.getBackend() === "wasm" && batchBuffer.length === idx.length * 784;
  if (!reuse) batchBuffer = new Float32Array(idx.length * 784);
  const f = batchBuffer;
  const labels = new Int32Array(idx.length);
  for (let i = 0; i < idx.length; i++) {
    const j = idx[i];
    f.set(all.subarray(j * 784, (j + 1) * 784), i * 784);
    labels[i] = d.labels[j];
  }
  return {
    xs: tf.tensor4d(f, [idx.length, 28, 28, 1]),
    ys: tf.tidy(() => tf.oneHot(tf.tensor1d(labels, "int32"), 10) as tf.Tensor2D),
  };
}

function accuracy(model: tf.LayersModel, d: Bytes): number {
  let correct = 0;
  for (let i = 0; i < d.count; i += 500) {
    const idx = new Uint32Array(Math.min(500, d.count - i)).map((_, k) => i + k);
    const { xs, ys } = batchTensors(d, idx);
    correct += tf.tidy(() =>
      tf.equal(tf.argMax(model.predict(xs) as tf.Tensor, 1), tf.argMax(ys, 1)).sum()
        .dataSync()[0]
    );
    tf.dispose([xs, ys]);
  }
  return correct / d.count;
}

/** Train `steps` batches in this process; samples/s per chunk of the steps, then test accuracy. */
export async function trainHere(
  backend: BackendName,
  name: ModelName,
  steps: number,
  repeats: number,
  data: { train: Bytes; test: Bytes },
  evaluate: boolean,
  warmup = 10,
  seed = 0,
  warmupMs = 0,
): Promise<TrainRow> {
  const report = await initBackend({ prefer: backend });
  const batch = 128;
  // As the PyTorch reference: its default initialisation, Adam's epsilon 1e-8 and
  // 10 warm-up batches that count as training.
  const model = buildModel({ name, seed, init: "torch" });
  let warm = "";
  if (warmupMs > 0) {
    // A steady state, as the PyTorch reference's: V8 optimises tfjs's JavaScript and tiers
    // the WASM loops up over the first few hundred steps (the MLP's step goes from 3.0 to
    // 1.8 ms). The model measured takes those steps on a random batch until its speed stops
    // improving, then gets its initial weights, a new optimizer and its first dropout masks
    // back, so that it still trains exactly the samples PyTorch's does from the same start.
    // (Warming a spare model instead left the measured one to re-optimise for hundreds of
    // steps: the small CNN's step took 8.0 ms, then 6.5.)
    const initial = model.getWeights().map((w) => w.clone());
    const adam = tf.train.adam(1e-3, 0.9, 0.999, 1e-8);
    const { xs, ys } = randomBatch(batch);
    const w = await untilSteady(async () => {
      const loss = trainingStep(model, adam, xs, ys);
      await loss.data();
      loss.dispose();
    }, { minMs: warmupMs, windowMs: 1000, patience: 3 });
    warm = `; after ${w.steps} warm-up steps${w.steady ? " (steady)" : " (not steady)"}, restarted`;
    model.setWeights(initial);
    for (const layer of model.layers) if (layer instanceof SeededDropout) layer.restartMasks();
    tf.dispose([xs, ys, ...initial]);
    adam.dispose();
  }
  const opt = tf.train.adam(1e-3, 0.9, 0.999, 1e-8);
  // The project's one seeded shuffle (an LCG's low bits, used here before, shuffled poorly).
  const order = permutation(data.train.count, 7 + seed);
  let cursor = 0;
  const step = async () => {
    if (cursor + batch > order.length) cursor = 0;
    const { xs, ys } = batchTensors(data.train, order.subarray(cursor, cursor + batch));
    cursor += batch;
    const loss = trainingStep(model, opt, xs, ys);
    await loss.data(); // wait for the step (WebGPU is asynchronous)
    tf.dispose([loss, xs, ys]);
  };
  for (let i = 0; i < warmup; i++) await step(); // warm-up: JIT, kernel caches, shader compiles
  const rates: number[] = [];
  const per = Math.max(1, Math.floor(steps / repeats));
  for (let r = 0; r < repeats; r++) {
    const t0 = performance.now();
    for (let i = 0; i < per; i++) await step();
    rates.push((per * batch) / ((performance.now() - t0) / 1000));
  }
  const row: TrainRow = {
    backend,
    model: name,
    replicas: 0,
    steps: per * repeats,
    batch,
    samplesPerSec: median(rates),
    repeats: rates,
    trainSamples: (per * repeats + warmup) * batch,
  };
  if (backend === "wasm") row.note = `${report.wasm.threads} thread(s) in each op${warm}`;
  if (evaluate) row.testAcc = accuracy(model, data.test);
  model.dispose();
  opt.dispose();
  return row;
}

async function trainMirrored(
  name: ModelName,
  replicas: number,
  steps: number,
  repeats: number,
  train: Bytes,
): Promise<TrainRow> {
  const s = await MirroredStrategy.create({ model: { name, seed: 0, init: "torch" }, replicas });
  try {
    await s.fit(train, { batchSize: 128, maxSteps: 3 }); // warm-up
    const rates: number[] = [];
    const per = Math.max(1, Math.floor(steps / repeats));
    for (let r = 0; r < repeats; r++) {
      const res = await s.fit(train, { batchSize: 128, maxSteps: per, seed: r + 1 });
      rates.push(res.samplesPerSecond);
    }
    return {
      backend: s.backend,
      model: name,
      replicas,
      steps: per * repeats,
      batch: 128,
      samplesPerSec: median(rates),
      repeats: rates,
    };
  } finally {
    await s.close();
  }
}

async function timeKernels(backend: BackendName, tiny: boolean): Promise<KernelRow[]> {
  await initBackend({ prefer: backend });
  const rows: KernelRow[] = [];
  const reps = tiny ? 2 : backend === "cpu" ? 3 : 7;
  const time = async (kernel: string, shape: string, flop: number, f: () => tf.Tensor) => {
    const once = async () => {
      const t0 = performance.now();
      const r = f();
      await r.data();
      const ms = performance.now() - t0;
      r.dispose();
      return ms;
    };
    await once(); // warm-up
    const runs: number[] = [];
    for (let i = 0; i < reps; i++) runs.push(await once());
    const ms = median(runs);
    rows.push({ backend, kernel, shape, ms, gflops: flop / ms / 1e6 });
  };
  const rnd = (s: number[]) => tf.randomNormal(s);
  const n = tiny ? 256 : 1024;
  const [a, b] = [rnd([n, n]), rnd([n, n])];
  await time("matMul", `${n}x${n}x${n}`, 2 * n ** 3, () => tf.matMul(a, b));
  await time("matMul(Aᵀ)", `${n}x${n}x${n}`, 2 * n ** 3, () => tf.matMul(a, b, true, false));
  const [x, w, g] = [rnd([128, 784]), rnd([784, 128]), rnd([128, 128])];
  await time("matMul", "128x784x128 (MLP layer)", 2 * 128 * 784 * 128, () => tf.matMul(x, w));
  await time(
    "matMul(Aᵀ)",
    "784x128x128 (its dW)",
    2 * 128 * 784 * 128,
    () => tf.matMul(x, g, true, false),
  );
  const cx = rnd([tiny ? 16 : 128, 13, 13, 32]) as tf.Tensor4D;
  const cw = rnd([3, 3, 32, 64]) as tf.Tensor4D;
  const cb = cx.shape[0];
  const convFlop = 2 * cb * 11 * 11 * 3 * 3 * 32 * 64;
  const shape = `[${cb},13,13,32]*[3,3,32,64]`;
  await time("conv2d", shape, convFlop, () => tf.conv2d(cx, cw, 1, "valid"));
  const dy = rnd([cb, 11, 11, 64]) as tf.Tensor4D;
  await time(
    "conv2d dX",
    shape,
    convFlop,
    () => tf.conv2dTranspose(dy, cw, [cb, 13, 13, 32], 1, "valid"),
  );
  if (backend !== "cpu") {
    await time(
      "conv2d dW",
      shape,
      convFlop,
      () =>
        tf.engine().runKernel("Conv2DBackpropFilter", { x: cx, dy }, {
          strides: [1, 1],
          pad: "valid",
          dataFormat: "NHWC",
          filterShape: [3, 3, 32, 64],
        }) as tf.Tensor,
    );
  }
  tf.dispose([a, b, x, w, g, cx, cw, dy]);
  return rows;
}

/** Where a WASM training step spends its time, by kernel (tf.profile over a few steps). */
async function profileSteps(tiny: boolean, report: BenchReport): Promise<void> {
  await initBackend({ prefer: "wasm" });
  const b = tiny ? 16 : 128, rounds = tiny ? 1 : 3;
  for (const name of MODEL_NAMES) {
    const model = buildModel({ name, seed: 0 });
    const opt = tf.train.adam(1e-3);
    const { xs, ys } = randomBatch(b);
    const step = () => {
      const loss = trainingStep(model, opt, xs, ys);
      loss.dataSync();
      loss.dispose();
    };
    step(); // warm-up
    const byKernel = new Map<string, number>();
    const t0 = performance.now();
    for (let r = 0; r < rounds; r++) {
      const info = await tf.profile(step);
      for (const k of info.kernels) {
        byKernel.set(k.name, (byKernel.get(k.name) ?? 0) + (k.kernelTimeMs as number) / rounds);
      }
    }
    const stepMs = (performance.now() - t0) / rounds;
    report.profiles.push({
      model: name,
      stepMs,
      kernels: [...byKernel].map(([n, ms]) => ({ name: n, ms })).sort((p, q) => q.ms - p.ms)
        .slice(0, 8),
    });
    tf.dispose([xs, ys]);
    model.dispose();
    opt.dispose();
  }
}

/** Stock vs replaced WASM kernels (the stock ones captured when this module loaded). */
async function timeSpeedups(tiny: boolean, report: BenchReport): Promise<void> {
  await initBackend({ prefer: "wasm" });
  if (STOCK.size < STOCK_NAMES.length) {
    report.skipped.push(
      "kernel speedups: the stock WASM kernels were replaced before bench loaded",
    );
    return;
  }
  const b = tiny ? 16 : 128;
  const reps = tiny ? 2 : 7;
  const compare = (
    name: string,
    shape: string,
    inputs: Record<string, tf.Tensor>,
    attrs: Record<string, unknown>,
  ) => {
    const ours = tf.getKernel(name, "wasm")!;
    const time = (k: tf.KernelConfig) => {
      tf.unregisterKernel(name, "wasm");
      tf.registerKernel(k);
      const runs: number[] = [];
      for (let i = 0; i <= reps; i++) {
        const t0 = performance.now();
        (tf.engine().runKernel(name, inputs, attrs as tf.NamedAttrMap) as tf.Tensor).dispose();
        if (i > 0) runs.push(performance.now() - t0);
      }
      return median(runs);
    };
    try {
      report.speedups.push({
        kernel: name,
        shape,
        stockMs: time(STOCK.get(name)!),
        oursMs: time(ours),
      });
    } finally {
      tf.unregisterKernel(name, "wasm");
      tf.registerKernel(ours);
    }
  };
  const x1 = tf.randomNormal([b, 26, 26, 32]);
  const y1 = tf.maxPool(x1 as tf.Tensor4D, 2, 2, "valid");
  compare("MaxPoolGrad", `[${b},26,26,32] 2x2/2`, { dy: y1, input: x1, output: y1 }, {
    filterSize: 2,
    strides: 2,
    pad: "valid",
  });
  const dy = tf.randomNormal([b, 11, 11, 64]), f = tf.randomNormal([3, 3, 32, 64]);
  compare("Conv2DBackpropInput", `dy [${b},11,11,64], W [3,3,32,64]`, { dy, filter: f }, {
    strides: [1, 1],
    pad: "valid",
    dataFormat: "NHWC",
    inputShape: [b, 13, 13, 32],
  });
  const a = tf.randomNormal([128, 784]), g = tf.randomNormal([128, 128]);
  compare("BatchMatMul", "[128,784]ᵀ·[128,128] (dense dW)", { a, b: g }, {
    transposeA: true,
    transposeB: false,
  });
  const w = tf.randomNormal([784, 128]);
  compare("BatchMatMul", "[128,784]·[784,128] (dense forward)", { a, b: w }, {
    transposeA: false,
    transposeB: false,
  });
  const x2 = tf.randomNormal([b, 13, 13, 32]);
  compare("Conv2D", `[${b},13,13,32] * [3,3,32,64] (Keras CNN conv 2)`, { x: x2, filter: f }, {
    strides: [1, 1],
    pad: "valid",
    dataFormat: "NHWC",
    dilations: [1, 1],
  });
  compare("Sum", `[${b},26,26,32] over axes 0,1,2 (bias grad)`, { x: x1 }, {
    axis: [0, 1, 2],
    keepDims: false,
  });
  const bias = tf.randomNormal([32]);
  compare("Add", `[${b},26,26,32] + [32] (conv bias)`, { a: x1, b: bias }, {});
  const img = tf.randomNormal([b, 28, 28, 1]), f1 = tf.randomNormal([3, 3, 1, 32]);
  compare("Conv2D", `[${b},28,28,1] * [3,3,1,32] (first layer)`, { x: img, filter: f1 }, {
    strides: [1, 1],
    pad: "valid",
    dataFormat: "NHWC",
    dilations: [1, 1],
  });
  tf.dispose([x1, y1, dy, f, a, g, bias, img, f1, w, x2]);
  timeAdam(reps, report);
  timeGemmSteps(tiny, report);
}

/**
 * One training step of each benchmark model with lib/kernels' GEMM paths off
 * (XNNPACK and the direct loops, as before gemm.ts) and on, alternating.
 */
function timeGemmSteps(tiny: boolean, report: BenchReport): void {
  const b = tiny ? 16 : 128;
  for (const name of MODEL_NAMES) {
    const model = buildModel({ name, seed: 0, init: "torch" });
    const opt = tf.train.adam(1e-3);
    const { xs, ys } = randomBatch(b);
    const step = () => trainingStep(model, opt, xs, ys);
    const per = tiny ? 1 : name === "mlp" ? 40 : name === "small_cnn" ? 12 : 4;
    const runs: [number[], number[]] = [[], []];
    for (let r = 0; r < (tiny ? 1 : 5); r++) {
      for (const on of [false, true]) {
        useGemm(on);
        step().dispose(); // the other path's first call
        const t0 = performance.now();
        for (let i = 0; i < per; i++) {
          const loss = step();
          loss.dataSync();
          loss.dispose();
        }
        runs[on ? 1 : 0].push((performance.now() - t0) / per);
      }
    }
    useGemm(true);
    report.speedups.push({
      kernel: `${name} training step`,
      shape: `batch ${b}, GEMM paths off → on`,
      stockMs: median(runs[0]),
      oursMs: median(runs[1]),
    });
    tf.dispose([xs, ys]);
    model.dispose();
    opt.dispose();
  }
}

/** One Adam step for the MLP's 101,770 parameters: tfjs's op-by-op update against AdamUpdate. */
function timeAdam(reps: number, report: BenchReport): void {
  const shapes = [[784, 128], [128], [128, 10], [10]];
  const vars = shapes.map((s, i) => tf.variable(tf.randomNormal(s), true, `bench_adam_${i}`));
  const grads = shapes.map((s) => tf.randomNormal(s));
  const named = vars.map((v, i) => ({ name: v.name, tensor: grads[i] }));
  const time = () => {
    const opt = tf.train.adam(1e-3);
    const runs: number[] = [];
    for (let i = 0; i <= reps; i++) {
      const t0 = performance.now();
      opt.applyGradients(named);
      vars[0].dataSync();
      if (i > 0) runs.push(performance.now() - t0);
    }
    opt.dispose();
    return median(runs);
  };
  const uninstall = installFusedAdam(); // already installed: this returns the way back
  uninstall();
  const stockMs = time();
  installFusedAdam();
  const oursMs = time();
  report.speedups.push({ kernel: "Adam step", shape: "MLP, 101,770 parameters", stockMs, oursMs });
  tf.dispose([...vars, ...grads]);
}

async function timeFunctions(report: BenchReport, tiny: boolean): Promise<void> {
  let mod: typeof import("../lib/function.ts");
  try {
    mod = await import("../lib/function.ts");
  } catch (e) {
    report.skipped.push(`eager vs traced: lib/function.ts unavailable (${(e as Error).message})`);
    return;
  }
  await initBackend({ prefer: "wasm" });
  const x = tf.randomNormal([128, 784]), w1 = tf.randomNormal([784, 128]);
  const b1 = tf.zeros([128]), w2 = tf.randomNormal([128, 10]), b2 = tf.zeros([10]);
  const cases: [string, (...a: tf.Tensor[]) => tf.Tensor, tf.Tensor[]][] = [
    [
      "MLP forward (128x784)",
      (x, w1, b1, w2, b2) => x.matMul(w1).add(b1).relu().matMul(w2).add(b2),
      [x, w1, b1, w2, b2],
    ],
    [
      "20 small elementwise ops",
      (v) => {
        let y = v;
        for (let i = 0; i < 10; i++) y = y.mul(1.0001).add(0.5);
        return y;
      },
      [tf.randomNormal([16])],
    ],
  ];
  for (const [name, fn, args] of cases) {
    try {
      const t = mod.timeFunction(fn, args, { repeats: tiny ? 5 : 30, traceRepeats: tiny ? 1 : 3 });
      report.functions.push({ name, backend: "wasm", ...t });
    } catch (e) {
      report.skipped.push(`eager vs traced "${name}": ${(e as Error).message}`);
    }
  }
  tf.dispose([x, w1, b1, w2, b2, ...cases[1][2]]);
}

/** One WASM training row (`trainHere`) in a fresh process (`_bench_train.ts`). */
async function trainInChild(
  model: ModelName,
  steps: number,
  repeats: number,
  tiny: boolean,
): Promise<TrainRow> {
  const script = new URL("./_bench_train.ts", import.meta.url).pathname;
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", script, model, String(steps), String(repeats), ...(tiny ? ["--tiny"] : [])],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const line = new TextDecoder().decode(out.stdout).trim().split("\n").at(-1) ?? "";
  if (!out.success || !line.startsWith("{")) {
    const err = new TextDecoder().decode(out.stderr).trim().split("\n").slice(-3).join(" / ");
    throw new Error(`bench: training ${model} in a child process failed: ${err}`);
  }
  return JSON.parse(line);
}

/** Ops and training steps on the single- and multi-threaded WASM builds (child processes). */
async function timeThreads(
  tiny: boolean,
  report: BenchReport,
  log: (s: string) => void,
): Promise<void> {
  const threads = navigator.hardwareConcurrency;
  if (threads < 2) {
    report.skipped.push(`threads: ${threads} core here, nothing to compare`);
    return;
  }
  const script = new URL("./_bench_threads.ts", import.meta.url).pathname;
  const runs: ThreadsProbe[] = [];
  // Alternating, so that a change in the machine's load hits every configuration.
  const configs: Record<string, string>[] = [
    { TFJS_WASM_THREADS: "1" },
    { TFJS_WASM_THREADS: String(threads) },
    // XNNPACK's pool on every thread, lib/kernels on one (how tfjs alone would thread).
    {
      TFJS_WASM_THREADS: String(threads),
      TFJS_KERNEL_THREADS: "1",
      TFJS_XNNPACK_THREADS: String(threads),
    },
  ];
  for (const env of tiny ? configs : [...configs, ...configs]) {
    log(`wasm ops and steps with ${JSON.stringify(env)}`);
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", script, ...(tiny ? ["--tiny"] : [])],
      env,
      stdout: "piped",
      stderr: "piped",
    }).output();
    const line = new TextDecoder().decode(out.stdout).trim().split("\n").at(-1) ?? "";
    if (!out.success || !line.startsWith("{")) {
      const err = new TextDecoder().decode(out.stderr).trim().split("\n").at(-1);
      report.skipped.push(`threads: the run with ${JSON.stringify(env)} failed (${err})`);
      return;
    }
    runs.push(JSON.parse(line));
  }
  const single = runs.filter((r) => r.threads === 1);
  const multi = runs.filter((r) => r.threads > 1 && r.kernelHelper === "running");
  const xnnOnly = runs.filter((r) => r.threads > 1 && r.kernelHelper !== "running");
  if (!multi.length) {
    report.skipped.push(
      `threads: the threaded build or its kernel helper did not start (${
        runs[1]?.fallback || runs[1]?.kernelHelper
      })`,
    );
    return;
  }
  const best = (rs: ThreadsProbe[], pick: (r: ThreadsProbe) => number | undefined) =>
    Math.min(...rs.map(pick).filter((x): x is number => x !== undefined));
  report.threads = {
    builds: [single, multi].map((rs) => ({
      threads: rs[0].threads,
      build: rs[0].build,
      fallback: rs[0].fallback,
      startMs: best(rs, (q) => q.startMs),
      rssMb: best(rs, (q) => q.rssMb),
    })),
    ops: single[0].ops.map((o, i) => ({
      op: o.op,
      shape: o.shape,
      ms1: best(single, (r) => r.ops[i]?.ms),
      msN: best(multi, (r) => r.ops[i]?.ms),
      msXnn: best(xnnOnly, (r) => r.ops[i]?.ms),
    })),
    steps: single[0].steps.map((o, i) => ({
      model: o.model,
      ms1: best(single, (r) => r.steps[i]?.ms),
      msN: best(multi, (r) => r.steps[i]?.ms),
      msXnn: best(xnnOnly, (r) => r.steps[i]?.ms),
    })),
  };
}

/** The project's PyTorch reference, resolved from this file (not from the working directory). */
export const TORCH_REFERENCE: string = new URL("./torch_reference.py", import.meta.url).pathname;
/** Debian's python, which Debian's python3-torch installs into. */
const PYTHON = "/usr/bin/python3";

/**
 * Run the reference with `args` under `python` (default Debian's); its RESULT lines, or a
 * sentence saying why there are none (no python, no PyTorch, a failed run).
 */
export async function torchReference(
  args: string[],
  python: string = PYTHON,
): Promise<{ results: Record<string, unknown>[] } | { error: string }> {
  let out: Deno.CommandOutput;
  try {
    out = await new Deno.Command(python, {
      args: [TORCH_REFERENCE, ...args],
      stdout: "piped",
      stderr: "piped",
    }).output();
  } catch (e) {
    return {
      error: e instanceof Deno.errors.NotFound
        ? `${python} is not installed (apt-get install python3 python3-torch)`
        : `cannot run ${python} (${(e as Error).message})`,
    };
  }
  const stderr = new TextDecoder().decode(out.stderr).trim();
  if (out.code === 3) {
    return { error: `PyTorch is not installed for ${python} (apt-get install python3-torch)` };
  }
  if (!out.success) {
    return { error: `${TORCH_REFERENCE} failed: ${stderr.split("\n").slice(-1)[0]}` };
  }
  const results = new TextDecoder().decode(out.stdout).split("\n")
    .filter((l) => l.startsWith("RESULT ")).map((l) => JSON.parse(l.slice(7)));
  return { results };
}

/** A RESULT line of tools/torch_reference.py (training, or `kind: "matmul"`). */
interface TorchResult {
  kind?: "matmul";
  model: string;
  runtime: string;
  threads: number;
  samples_per_s: number;
  acc_1ep: number;
  n: number;
  gflops: number;
}

async function runTorch(
  limits: Record<ModelName, number>,
  report: BenchReport,
  log: (s: string) => void,
  again = false,
): Promise<void> {
  let first = !again;
  for (const model of MODEL_NAMES) {
    log(`PyTorch ${model} (--limit ${limits[model]})`);
    const got = await torchReference([
      "--models",
      model,
      "--limit",
      String(limits[model]),
      ...(first ? [] : ["--skip-matmul"]),
    ]);
    first = false;
    if ("error" in got) {
      log(`PyTorch skipped: ${got.error}`);
      report.skipped.push(`torch: ${got.error}`);
      return;
    }
    for (const r of got.results as unknown as TorchResult[]) {
      if (r.kind === "matmul") {
        report.torchMatmul.push({ n: r.n, threads: r.threads, gflops: r.gflops });
      } else {
        const row = {
          model: r.model,
          samplesPerSec: r.samples_per_s,
          testAcc: r.acc_1ep,
          runtime: `${r.runtime} (${r.threads} threads)`,
          runs: [r.samples_per_s],
        };
        const seen = report.torch.find((t) => t.model === r.model);
        if (!seen) report.torch.push(row);
        else {
          // Keep the faster run (its accuracy with it): PyTorch's two OpenMP threads
          // suffer most when other processes share the cores.
          const runs = [...(seen.runs ?? [seen.samplesPerSec]), r.samples_per_s];
          if (r.samples_per_s > seen.samplesPerSec) Object.assign(seen, row);
          seen.runs = runs;
        }
      }
    }
  }
}

/** PyTorch's one-epoch test accuracy for seeds 1..seeds−1, folded into `report.torch`. */
async function runTorchSeeds(
  limits: Record<ModelName, number>,
  seeds: number,
  report: BenchReport,
  log: (s: string) => void,
): Promise<void> {
  for (const row of report.torch) {
    const model = row.model as ModelName;
    row.testAccs = [row.testAcc];
    for (let seed = 1; seed < seeds; seed++) {
      log(`PyTorch ${model} seed ${seed}`);
      const got = await torchReference(
        ["--models", model, "--limit", String(limits[model]), "--skip-matmul"]
          .concat(["--seed", String(seed)]),
      );
      const r = "results" in got ? got.results.find((r) => r.model === model) : undefined;
      if (!r) {
        report.skipped.push(
          `torch ${model} seed ${seed}: ${"error" in got ? got.error : "no result"}`,
        );
        continue;
      }
      row.testAccs.push(r.acc_1ep as number);
    }
    row.testAcc = row.testAccs.reduce((a, b) => a + b, 0) / row.testAccs.length;
  }
}

/** Printed under the training table when accuracies are means over seeds. */
export const ACCURACY_NOTE =
  "Δ acc ±: two standard errors of the difference of the means over seeds (from these seeds' " +
  "own spread, itself rough with few seeds). The Keras CNN's one-epoch accuracy varies by " +
  "about 0.7 points from seed to seed (sd over 20 seeds: 0.65 tfjs, 0.77 PyTorch), so 3 seeds " +
  "resolve about ±1.1 points and --seeds 20 about ±0.45. With the same initial weights, " +
  "batches and dropout masks, tfjs and PyTorch give the same losses step for step (to 2e-4 " +
  "after 50 steps) and the same accuracy.";

/** Sample variance over the number of samples: the squared standard error of a mean. */
function squaredStandardError(xs: number[]): number {
  const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
  return xs.reduce((a, x) => a + (x - mean) ** 2, 0) / (xs.length - 1) / xs.length;
}

/**
 * Points of accuracy of ours above (+) or below PyTorch's; with several seeds on both sides,
 * "−0.6 ±0.8": ± two standard errors of the difference of the two means.
 */
export function accuracyDeltaText(
  ours: { testAcc?: number; testAccs?: number[] },
  ref: { testAcc: number; testAccs?: number[] },
): string {
  const delta = fmt((ours.testAcc! - ref.testAcc) * 100, 1);
  const a = ours.testAccs ?? [], b = ref.testAccs ?? [];
  if (a.length < 2 || b.length < 2) return delta;
  const se = Math.sqrt(squaredStandardError(a) + squaredStandardError(b));
  return `${delta} ±${fmt(2 * se * 100, 1)}`;
}

/** "83.0%", or with several seeds "83.0% (82.4–83.6)": the mean and the range. */
function accuracyText(mean: number, all?: number[]): string {
  const range = all && all.length > 1
    ? ` (${fmt(Math.min(...all) * 100, 1)}–${fmt(Math.max(...all) * 100, 1)})`
    : "";
  return fmt(mean * 100, 1) + "%" + range;
}

function fmt(n: number | undefined, digits = 0): string {
  return n === undefined || !Number.isFinite(n)
    ? "-"
    : n.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: digits });
}

function table(rows: string[][]): string {
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
  return rows.map((r) => r.map((v, c) => v.padEnd(widths[c])).join("  ")).join("\n");
}

/** Per model: samples/s of each way to use the cores, the fastest, and its ratio to PyTorch. */
export function bestConfigurations(
  r: BenchReport,
): {
  model: string;
  configs: { label: string; samplesPerSec: number }[];
  best: string;
  ratio?: number;
}[] {
  const torch = new Map(r.torch.map((t) => [t.model, t.samplesPerSec]));
  return MODEL_NAMES.flatMap((model) => {
    const rows = r.training.filter((t) => t.backend === "wasm" && t.model === model);
    const here = rows.find((t) => t.replicas === 0);
    if (!here) return [];
    const threads = here.note?.match(/^(\d+) thread/)?.[1] ?? "?";
    const configs = [
      {
        label: `one process (${threads} thread${threads === "1" ? "" : "s"} in ops)`,
        samplesPerSec: here.samplesPerSec,
      },
      ...[1, 2].map((n) => ({
        label: `${n} Worker${n > 1 ? "s" : ""}`,
        samplesPerSec: rows.find((t) => t.replicas === n)?.samplesPerSec ?? NaN,
      })),
    ];
    const top = configs.reduce((a, b) => (b.samplesPerSec > a.samplesPerSec ? b : a));
    const ref = torch.get(model);
    return [{
      model,
      configs,
      best: top.label,
      ratio: ref ? top.samplesPerSec / ref : undefined,
    }];
  });
}

/** The text tables of a report. */
export function formatReport(r: BenchReport): string {
  const torch = new Map(r.torch.map((t) => [t.model, t]));
  const out: string[] = [];
  out.push(
    `Training (batch 128, Adam 1e-3, PyTorch's initialisation, Fashion-MNIST; medians over ` +
      `repeats; ${r.mode} mode; WASM: the faster of two fresh processes, as PyTorch's two runs, ` +
      `each after at least 2 s of warm-up steps, until the speed is steady (V8 has optimised ` +
      `tfjs's code), as PyTorch's steady state; then the model restarts from its initial weights)`,
  );
  out.push(table([
    [
      "backend",
      "model",
      "replicas",
      "steps",
      "samples/s",
      "test acc",
      "Δ acc",
      "vs PyTorch",
      "note",
    ],
    ...r.training.map((t) => {
      const ref = torch.get(t.model);
      return [
        t.backend,
        t.model,
        t.replicas === 0 ? "one process" : `${t.replicas} Workers`,
        String(t.steps),
        fmt(t.samplesPerSec),
        t.testAcc === undefined ? "-" : accuracyText(t.testAcc, t.testAccs),
        // Points of test accuracy above (+) or below PyTorch's after the same samples.
        t.testAcc === undefined || !ref ? "-" : accuracyDeltaText(t, ref),
        ref ? fmt(t.samplesPerSec / ref.samplesPerSec, 2) : "-",
        [
          t.note,
          (t.processes?.length ?? 0) > 1
            ? `processes ${t.processes!.map((x) => fmt(x)).join(" / ")}`
            : "",
        ].filter(Boolean).join("; "),
      ];
    }),
  ]));
  if (r.training.some((t) => (t.testAccs?.length ?? 0) > 1)) out.push(ACCURACY_NOTE);
  const choices = bestConfigurations(r);
  if (choices.length) {
    out.push(
      "\nTwo cores, per model: which way uses them best (samples/s of the training rows above, " +
        "batch assembly included)",
    );
    out.push(table([
      ["model", ...choices[0].configs.map((c) => c.label), "best", "vs PyTorch"],
      ...choices.map((c) => [
        c.model,
        ...c.configs.map((x) => fmt(x.samplesPerSec)),
        c.best,
        c.ratio === undefined ? "-" : fmt(c.ratio, 2),
      ]),
    ]));
  }
  if (r.torch.length) {
    out.push(
      "\nPyTorch reference (same run, same training samples; the faster of a run before and " +
        "after ours, listed under runs)",
    );
    out.push(table([
      ["model", "samples/s", "test acc", "runs", "runtime"],
      ...r.torch.map((t) => [
        t.model,
        fmt(t.samplesPerSec),
        accuracyText(t.testAcc, t.testAccs),
        (t.runs ?? []).map((x) => fmt(x)).join(" / "),
        t.runtime,
      ]),
    ]));
  }
  out.push("\nKernels (median ms, GFLOP/s)");
  out.push(table([
    ["backend", "kernel", "shape", "ms", "GFLOP/s"],
    ...r.kernels.map((k) => [k.backend, k.kernel, k.shape, fmt(k.ms, 2), fmt(k.gflops, 1)]),
    ...r.torchMatmul.map((m) => [
      `pytorch ${m.threads}t`,
      "matMul",
      `${m.n}x${m.n}x${m.n}`,
      "-",
      fmt(m.gflops, 1),
    ]),
  ]));
  if (r.speedups.length) {
    out.push(
      "\nWASM kernels replaced by lib/kernels (median ms; Conv2DBackpropFilter is new, not " +
        'replaced; a training step\'s "stock" is lib/kernels with the GEMM paths off)',
    );
    out.push(table([
      ["kernel", "case", "stock", "ours", "speedup"],
      ...r.speedups.map((k) => [
        k.kernel,
        k.shape,
        fmt(k.stockMs, 1),
        fmt(k.oursMs, 1),
        fmt(k.stockMs / k.oursMs, 1) + "x",
      ]),
    ]));
  }
  if (r.threads) {
    const n = r.threads.builds.at(-1)!.threads;
    out.push(
      `\nWASM on 1 vs ${n} threads (separate processes, alternating; best ms of each; ` +
        r.threads.builds.map((b) =>
          `${b.build} build: ${b.threads} thread(s), started in ${fmt(b.startMs)} ms, ` +
          `${fmt(b.rssMb)} MB resident`
        ).join("; ") + ")",
    );
    const row = (what: string, shape: string, o: { ms1: number; msN: number; msXnn?: number }) => [
      what,
      shape,
      fmt(o.ms1, 2),
      fmt(o.msN, 2),
      fmt(o.ms1 / o.msN, 2) + "x",
      o.msXnn === undefined ? "-" : fmt(o.msXnn, 2),
    ];
    out.push(table([
      ["op or step", "shape", "1 thread", `${n} threads`, "speedup", `XNNPACK ${n}t, own 1t`],
      ...r.threads.ops.map((o) => row(o.op, o.shape, o)),
      ...r.threads.steps.map((o) => row("training step", o.model, o)),
    ]));
  }
  for (const p of r.profiles) {
    out.push(
      `\nProfile of one ${p.model} training step on WASM (batch ${r.mode === "tiny" ? 16 : 128}, ${
        fmt(p.stepMs, 1)
      } ms profiled): ` +
        p.kernels.map((k) => `${k.name} ${fmt(k.ms, 1)}`).join(", "),
    );
  }
  if (r.functions.length) {
    out.push("\nEager vs traced (tfFunction), median ms per call");
    out.push(table([
      ["function", "backend", "eager", "traced", "trace once", "speedup"],
      ...r.functions.map((f) => [
        f.name,
        f.backend,
        fmt(f.eagerMs, 3),
        fmt(f.tracedMs, 3),
        fmt(f.traceMs, 1),
        fmt(f.eagerMs / f.tracedMs, 2) + "x",
      ]),
    ]));
  }
  for (const d of r.data) {
    out.push(
      `\nData: ${d.source ?? "?"}: loaded ${fmt(d.count)} training images in ${
        fmt(d.loadMs)
      } ms; batches of 128 as tensors: ${fmt(d.batchSamplesPerSec)} samples/s`,
    );
  }
  if (r.skipped.length) out.push("\nSkipped:\n- " + r.skipped.join("\n- "));
  out.push(
    `\nHost: ${r.host.cpus} CPUs, load average ${r.host.load.join(" ")} at the start, ${
      r.host.loadEnd?.join(" ") ?? "?"
    } at the end ` +
      `(other processes share these cores: a load near ${r.host.cpus} means low figures); ` +
      `deno ${r.host.deno}, tfjs ${r.host.tfjs}`,
  );
  return out.join("\n");
}

function htmlPage(r: BenchReport): string {
  const figure = (traces: object[], layout: object) =>
    plot(traces, layout)[DISPLAY]()["text/html"] as string;
  const label = (t: TrainRow) => `${t.backend}${t.replicas ? ` ×${t.replicas} Workers` : ""}`;
  const groups = [...new Set(r.training.map(label))];
  const figs: string[] = [];
  figs.push(figure(
    [
      ...groups.map((g) => {
        const rows = r.training.filter((t) => label(t) === g);
        return {
          type: "bar",
          name: g,
          x: rows.map((t) => t.model),
          y: rows.map((t) => t.samplesPerSec),
        };
      }),
      ...(r.torch.length
        ? [{
          type: "bar",
          name: "PyTorch CPU",
          x: r.torch.map((t) => t.model),
          y: r.torch.map((t) => t.samplesPerSec),
        }]
        : []),
    ],
    {
      title: { text: "Training throughput (batch 128, Adam)" },
      barmode: "group",
      yaxis: { title: { text: "samples/s" }, type: "log" },
    },
  ));
  figs.push(figure(
    [...new Set(r.kernels.map((k) => k.backend))].map((b) => {
      const rows = r.kernels.filter((k) => k.backend === b);
      return {
        type: "bar",
        name: b,
        x: rows.map((k) => `${k.kernel} ${k.shape}`),
        y: rows.map((k) => k.gflops),
      };
    }),
    {
      title: { text: "Kernels" },
      barmode: "group",
      yaxis: { title: { text: "GFLOP/s" } },
      margin: { b: 160 },
    },
  ));
  if (r.speedups.length) {
    const x = r.speedups.map((k) => `${k.kernel} ${k.shape}`);
    figs.push(figure(
      [
        { type: "bar", name: "stock tfjs-backend-wasm", x, y: r.speedups.map((k) => k.stockMs) },
        { type: "bar", name: "lib/kernels", x, y: r.speedups.map((k) => k.oursMs) },
      ],
      {
        title: { text: "WASM kernels replaced by lib/kernels" },
        barmode: "group",
        yaxis: { title: { text: "ms (median)" }, type: "log" },
        margin: { b: 160 },
      },
    ));
  }
  if (r.functions.length) {
    figs.push(figure(
      [
        {
          type: "bar",
          name: "eager",
          x: r.functions.map((f) => f.name),
          y: r.functions.map((f) => f.eagerMs),
        },
        {
          type: "bar",
          name: "traced",
          x: r.functions.map((f) => f.name),
          y: r.functions.map((f) => f.tracedMs),
        },
      ],
      {
        title: { text: "Eager vs tfFunction" },
        barmode: "group",
        yaxis: { title: { text: "ms per call" } },
      },
    ));
  }
  const esc = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;");
  return `<!doctype html><html><head><meta charset="utf-8"><title>tfjs bench ${r.date}</title></head>` +
    `<body><h1>Benchmark ${esc(r.date)} (${r.mode})</h1>${figs.join("\n")}` +
    `<pre>${esc(formatReport(r))}</pre></body></html>`;
}

/** Ratios b/a of every matching figure of two reports, as text. */
export function compareReports(a: BenchReport, b: BenchReport): string {
  const rows: string[][] = [["what", "a", "b", "b/a"]];
  const key = (t: TrainRow) => `${t.backend} ${t.model} ${t.replicas ? `×${t.replicas}` : ""}`;
  const ta = new Map(a.training.map((t) => [key(t), t]));
  for (const t of b.training) {
    const o = ta.get(key(t));
    if (o) {
      rows.push([
        `train ${key(t)} samples/s`,
        fmt(o.samplesPerSec),
        fmt(t.samplesPerSec),
        fmt(t.samplesPerSec / o.samplesPerSec, 2),
      ]);
    }
  }
  const ka = new Map(a.kernels.map((k) => [`${k.backend} ${k.kernel} ${k.shape}`, k]));
  for (const k of b.kernels) {
    const o = ka.get(`${k.backend} ${k.kernel} ${k.shape}`);
    if (o) {
      rows.push([
        `${k.backend} ${k.kernel} ${k.shape} GFLOP/s`,
        fmt(o.gflops, 1),
        fmt(k.gflops, 1),
        fmt(k.gflops / o.gflops, 2),
      ]);
    }
  }
  const fa = new Map(a.functions.map((f) => [f.name, f]));
  for (const f of b.functions) {
    const o = fa.get(f.name);
    if (o) {
      rows.push([
        `traced ${f.name} ms`,
        fmt(o.tracedMs, 3),
        fmt(f.tracedMs, 3),
        fmt(f.tracedMs / o.tracedMs, 2),
      ]);
    }
  }
  if (rows.length === 1) return "no figures in common";
  return table(rows);
}

async function readReport(path: string): Promise<BenchReport> {
  try {
    const r = JSON.parse(await Deno.readTextFile(path));
    if (r?.version !== 1 || !Array.isArray(r.training)) throw new Error("not a bench report");
    return r;
  } catch (e) {
    throw new BenchError(
      `--compare: ${path} is not a readable bench.json (${(e as Error).message}); ` +
        `make one with deno task bench`,
    );
  }
}

/** What `deno task bench --help` prints. */
export const USAGE: string = `Usage: deno task bench [options]

Training throughput, kernel GFLOP/s, eager vs traced calls and data loading on every
backend available; writes bench.json and bench.html (default folder: reports/).

Options:
  --tiny                 a few steps of everything (seconds; what the test runs)
  --torch                also run the PyTorch reference, tools/torch_reference.py, with
                         /usr/bin/python3 (apt-get install python3-torch)
  --seeds N              one-epoch accuracy as the mean over seeds 0..N-1, both sides
  --backends LIST        comma-separated, from wasm,cpu,webgpu (default: all; --tiny: wasm,cpu)
  --out DIR              write DIR/bench.json and DIR/bench.html
  --compare A.json B.json  print the ratios B/A of every figure two reports share
  --help, -h             this text`;

const VALUE_OPTIONS = new Set(["--out", "--backends", "--seeds"]);
const FLAG_OPTIONS = new Set(["--tiny", "--torch"]);

/** The command line, checked: unknown options and stray arguments are refused. */
function parseArgs(args: string[]): {
  help: boolean;
  flags: Set<string>;
  values: Map<string, string>;
  compare?: [string, string];
} {
  const flags = new Set<string>(), values = new Map<string, string>();
  let compare: [string, string] | undefined;
  const known = [...FLAG_OPTIONS, ...VALUE_OPTIONS, "--compare", "--help"].join(", ");
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === "--help" || a === "-h") return { help: true, flags, values };
    if (FLAG_OPTIONS.has(a)) flags.add(a);
    else if (VALUE_OPTIONS.has(a)) {
      const v = args[++i];
      if (v === undefined || v.startsWith("-")) throw new BenchError(`${a} needs a value`);
      values.set(a, v);
    } else if (a === "--compare") {
      const [pa, pb] = [args[i + 1], args[i + 2]];
      if (!pa || !pb || pa.startsWith("-") || pb.startsWith("-")) {
        throw new BenchError("--compare needs two files: --compare a.json b.json");
      }
      compare = [pa, pb];
      i += 2;
    } else if (a.startsWith("-")) {
      throw new BenchError(`unknown option ${a}: use ${known} (see --help)`);
    } else {
      throw new BenchError(`unexpected argument "${a}": bench takes only options (see --help)`);
    }
  }
  const backends = values.get("--backends");
  if (backends !== undefined) {
    const bad = backends.split(",").filter((b) => !["wasm", "cpu", "webgpu"].includes(b));
    if (bad.length) {
      throw new BenchError(`--backends: unknown ${bad.join(", ")}; use wasm, cpu, webgpu`);
    }
  }
  return { help: false, flags, values, compare };
}

/** Run the benchmark with command-line `args`; returns the report (undefined for --compare). */
export async function main(args: string[]): Promise<BenchReport | undefined> {
  const opts = parseArgs(args);
  if (opts.help) {
    console.log(USAGE);
    return undefined;
  }
  const flag = (f: string) => opts.flags.has(f);
  const value = (f: string) => opts.values.get(f);
  if (opts.compare) {
    const [pa, pb] = opts.compare;
    console.log(compareReports(await readReport(pa), await readReport(pb)));
    return undefined;
  }
  const tiny = flag("--tiny");
  const seeds = Number(value("--seeds") ?? 1);
  if (!Number.isInteger(seeds) || seeds < 1) {
    throw new BenchError(`--seeds is ${value("--seeds")}: give a whole number >= 1`);
  }
  const outDir = value("--out") ?? new URL("../reports/", import.meta.url).pathname;
  const report: BenchReport = {
    version: 1,
    date: new Date().toISOString(),
    mode: tiny ? "tiny" : "full",
    host: {
      cpus: navigator.hardwareConcurrency,
      deno: Deno.version.deno,
      tfjs: tf.version.tfjs,
      load: Deno.loadavg().map((x) => Math.round(x * 100) / 100),
    },
    training: [],
    kernels: [],
    speedups: [],
    profiles: [],
    functions: [],
    data: [],
    torch: [],
    torchMatmul: [],
    skipped: [],
  };
  const log = (s: string) => console.error(`[bench] ${s}`);
  const data = await loadData(tiny, report);
  // The headline: WASM, one thread, a fixed number of steps then test accuracy.
  const wasmSteps: Record<ModelName, number> = tiny
    ? { mlp: 3, small_cnn: 3, keras_cnn: 2 }
    : { mlp: 468, small_cnn: 468, keras_cnn: 468 }; // one epoch of 60 000 (plus 3 warm-up steps)
  const mirroredSteps: Record<ModelName, number> = tiny
    ? { mlp: 2, small_cnn: 2, keras_cnn: 2 }
    : { mlp: 120, small_cnn: 60, keras_cnn: 24 };
  const repeats = tiny ? 1 : 3;
  // PyTorch runs before and after ours; the faster run counts (see runTorch).
  const torchLimits = Object.fromEntries(
    MODEL_NAMES.map((m) => [m, Math.min(60_000, wasmSteps[m] * 128)]),
  ) as Record<ModelName, number>;
  if (flag("--torch")) await runTorch(torchLimits, report, log);
  // Tiny mode skips WebGPU unless asked for: on a software adapter one CNN step takes seconds.
  const wanted = (value("--backends") ?? (tiny ? "wasm,cpu" : "wasm,cpu,webgpu")).split(",");
  if (wanted.includes("wasm")) {
    for (const m of MODEL_NAMES) {
      // Two fresh processes, the faster counting, as PyTorch's two runs: a whole process of
      // ours moves by 10–25% from one to the next on this machine (so does PyTorch's).
      const runs: TrainRow[] = [];
      for (let p = 0; p < (tiny ? 1 : 2); p++) {
        log(`wasm ${m}, process ${p + 1}`);
        runs.push(await trainInChild(m, wasmSteps[m], repeats, tiny));
      }
      const row = runs.reduce((a, b) => (b.samplesPerSec > a.samplesPerSec ? b : a));
      row.processes = runs.map((r) => Math.round(r.samplesPerSec));
      if (seeds > 1) {
        // One-epoch accuracy varies with the seed by a few points: train the same steps
        // again from other seeds and report the mean (speed: seed 0's run).
        row.testAccs = [row.testAcc!];
        for (let s = 1; s < seeds; s++) {
          log(`wasm ${m} seed ${s}`);
          const again = await trainHere("wasm", m, wasmSteps[m], 1, data, true, 10, s);
          row.testAccs.push(again.testAcc!);
        }
        row.testAcc = row.testAccs.reduce((a, b) => a + b, 0) / seeds;
      }
      report.training.push(row);
    }
    for (const replicas of [1, 2]) {
      for (const m of tiny ? ["mlp" as const] : MODEL_NAMES) {
        log(`wasm ${m} mirrored ×${replicas}`);
        report.training.push(
          await trainMirrored(m, replicas, mirroredSteps[m], repeats, data.train),
        );
      }
    }
    report.kernels.push(...await timeKernels("wasm", tiny));
    log("wasm kernel speedups");
    await timeSpeedups(tiny, report);
    log("wasm per-kernel profile of a training step");
    await profileSteps(tiny, report);
    await timeThreads(tiny, report, log);
  }
  if (wanted.includes("cpu")) {
    log("cpu mlp");
    report.training.push(await trainHere("cpu", "mlp", tiny ? 2 : 30, repeats, data, false));
    report.skipped.push(
      "cpu backend: small_cnn and keras_cnn not trained (its Conv2DBackpropFilter takes 2–55 s " +
        "per batch); conv2d dW not timed",
    );
    // Small shapes: the CPU backend takes seconds per 1024³ product.
    report.kernels.push(...await timeKernels("cpu", true));
  }
  if (wanted.includes("webgpu")) {
    const r = await initBackend({ prefer: "webgpu" });
    if (r.backend !== "webgpu") {
      report.skipped.push(`webgpu: not available (${r.attempts[0]?.reason})`);
    } else {
      const soft = r.webgpu.isFallback;
      for (const m of MODEL_NAMES) {
        if (soft && m === "keras_cnn") {
          report.skipped.push(
            `webgpu keras_cnn: not trained on the software adapter ${r.webgpu.adapter} ` +
              `(about 17 samples/s: 45 s for a few steps)`,
          );
          continue;
        }
        log(`webgpu ${m}`);
        const row = soft || tiny
          ? await trainHere("webgpu", m, m === "mlp" ? 3 : 1, 1, data, false, 1)
          : await trainHere("webgpu", m, mirroredSteps[m], 1, data, false);
        if (soft) row.note = `software adapter: ${r.webgpu.adapter}`;
        report.training.push(row);
      }
      report.kernels.push(...await timeKernels("webgpu", tiny || !!soft));
    }
  }
  log("eager vs traced");
  await timeFunctions(report, tiny);
  // The same number of training samples as each WASM row (its 3 warm-up steps excluded:
  // the reference adds 10 warm-up batches of its own).
  if (flag("--torch")) await runTorch(torchLimits, report, log, true);
  if (flag("--torch") && seeds > 1) await runTorchSeeds(torchLimits, seeds, report, log);
  await initBackend({ prefer: "wasm" });
  report.host.loadEnd = Deno.loadavg().map((x) => Math.round(x * 100) / 100);
  console.log(formatReport(report));
  await Deno.mkdir(outDir, { recursive: true });
  await writeFileAtomic(`${outDir}/bench.json`, JSON.stringify(report, null, 2) + "\n");
  await writeFileAtomic(`${outDir}/bench.html`, htmlPage(report));
  console.log(`\nwrote ${outDir}/bench.json and ${outDir}/bench.html`);
  return report;
}

if (import.meta.main) {
  try {
    await main(Deno.args);
  } catch (e) {
    if (e instanceof BenchError) {
      console.error(`bench: ${e.message}`);
      Deno.exit(2);
    }
    throw e;
  }
}
