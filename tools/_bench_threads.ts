/**
 * A child process of `deno task bench`: times each op and one training step of
 * each benchmark model on the WASM build that `TFJS_WASM_THREADS` selects (1:
 * single-threaded; 2: tfjs's threaded build, see lib/kernels/wasm_threads.ts;
 * `TFJS_KERNEL_THREADS=1` with it: lib/kernels' loops without their helper thread),
 * and prints one JSON line. The bench runs it with 1 and 2 threads, alternating,
 * and keeps each figure's best run: the build is chosen once per process.
 *
 * ```sh
 * TFJS_WASM_THREADS=2 deno run -A tools/_bench_threads.ts --tiny
 * ```
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { untilSteady } from "./_steady.ts";
import { randomBatch, trainingStep } from "./bench.ts";
import { initBackend } from "../lib/backend.ts";
import { buildModel, MODEL_NAMES } from "../lib/distribute/models.ts";

/** What one run prints. */
export interface ThreadsProbe {
  threads: number;
  /** lib/kernels' helper thread: "running", or why not. */
  kernelHelper: string;
  build: string;
  fallback: string;
  startMs: number;
  /** Resident memory after the backend started, MB. */
  rssMb: number;
  ops: { op: string; shape: string; ms: number }[];
  steps: { model: string; ms: number }[];
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor((s.length - 1) / 2)];
}

if (import.meta.main) {
  const tiny = Deno.args.includes("--tiny");
  const report = await initBackend({ prefer: "wasm" });
  const out: ThreadsProbe = {
    threads: report.wasm.threads,
    build: report.wasm.runtime?.build ?? "?",
    kernelHelper: report.wasm.runtime?.kernelHelper ?? "?",
    fallback: report.wasm.runtime?.fallback ?? "",
    startMs: report.wasm.runtime?.startMs ?? NaN,
    rssMb: Math.round(Deno.memoryUsage().rss / 1e6),
    ops: [],
    steps: [],
  };
  const r = (s: number[]) => tf.randomNormal(s);
  /**
   * Median of `f`'s times: after `warm` calls, at least `min` calls and `ms` milliseconds (so
   * that V8 has optimised the code and one slow call on a noisy machine does not decide).
   */
  const timed = (f: () => void, warm: number, min: number, ms: number): number => {
    for (let i = 0; i < warm; i++) f();
    const runs: number[] = [], start = performance.now();
    while (runs.length < min || (performance.now() - start < ms && runs.length < 2000)) {
      const t0 = performance.now();
      f();
      runs.push(performance.now() - t0);
    }
    return median(runs);
  };
  const time = (op: string, shape: string, f: () => tf.Tensor | tf.Tensor[]) => {
    // WASM kernels run synchronously: the op has finished when it returns. (Reading the
    // output back would add a copy of it, about 6 ms for the 11 MB activations here.)
    const ms = timed(() => tf.dispose(f()), 2, tiny ? 2 : 9, tiny ? 0 : 300);
    out.ops.push({ op, shape, ms });
  };
  const b = tiny ? 16 : 128, n = tiny ? 256 : 1024;
  const [a, m] = [r([n, n]), r([n, n])];
  time("matMul", `${n}x${n}x${n}`, () => tf.matMul(a, m));
  const [x, w, g] = [r([b, 784]), r([784, 128]), r([b, 128])];
  time("matMul", `${b}x784x128 (MLP layer)`, () => tf.matMul(x, w));
  time("matMul(Aᵀ)", `784x${b}x128 (its dW)`, () => tf.matMul(x, g, true, false));
  const img = r([b, 28, 28, 1]) as tf.Tensor4D, f1 = r([3, 3, 1, 32]) as tf.Tensor4D;
  time("Conv2D (GEMM)", `[${b},28,28,1]*[3,3,1,32]`, () => tf.conv2d(img, f1, 1, "valid"));
  const dy1 = r([b, 26, 26, 32]);
  const filterGrad = (x: tf.Tensor, dy: tf.Tensor, shape: number[]) =>
    tf.engine().runKernel("Conv2DBackpropFilter", { x, dy }, {
      strides: [1, 1],
      pad: "valid",
      dataFormat: "NHWC",
      filterShape: shape,
    }) as tf.Tensor;
  time(
    "Conv2DBackpropFilter (direct loops)",
    `x [${b},28,28,1], dy [${b},26,26,32]`,
    () => filterGrad(img, dy1, [3, 3, 1, 32]),
  );
  const cx = r([b, 13, 13, 32]) as tf.Tensor4D, cw = r([3, 3, 32, 64]) as tf.Tensor4D;
  const dy2 = r([b, 11, 11, 64]) as tf.Tensor4D;
  time("Conv2D (Winograd)", `[${b},13,13,32]*[3,3,32,64]`, () => tf.conv2d(cx, cw, 1, "valid"));
  time(
    "Conv2DBackpropInput (Winograd)",
    `dy [${b},11,11,64]`,
    () => tf.conv2dTranspose(dy2, cw, [b, 13, 13, 32], 1, "valid"),
  );
  time(
    "Conv2DBackpropFilter (Winograd)",
    `x [${b},13,13,32], dy [${b},11,11,64]`,
    () => filterGrad(cx, dy2, [3, 3, 32, 64]),
  );
  // The small CNN's second convolution (5x5: not Winograd's 3x3).
  const sx = r([b, 12, 12, 8]) as tf.Tensor4D, sw = r([5, 5, 8, 16]) as tf.Tensor4D;
  const sdy = r([b, 8, 8, 16]) as tf.Tensor4D;
  time(
    "Conv2DBackpropInput (GEMM, scattered per image)",
    `dy [${b},8,8,16], W [5,5,8,16]`,
    () => tf.conv2dTranspose(sdy, sw, [b, 12, 12, 8], 1, "valid"),
  );
  time(
    "Conv2DBackpropFilter (GEMM split along k)",
    `x [${b},12,12,8], dy [${b},8,8,16]`,
    () => filterGrad(sx, sdy, [5, 5, 8, 16]),
  );
  const pooled = tf.maxPool(dy1 as tf.Tensor4D, 2, 2, "valid");
  time(
    "MaxPoolGrad (2x2/2)",
    `[${b},26,26,32]`,
    () =>
      tf.engine().runKernel("MaxPoolGrad", { dy: pooled, input: dy1, output: pooled }, {
        filterSize: 2,
        strides: 2,
        pad: "valid",
      }) as tf.Tensor,
  );
  const bias = r([32]);
  time("Add (bias)", `[${b},26,26,32] + [32]`, () => tf.add(dy1, bias));
  time("Relu", `[${b},26,26,32]`, () => tf.relu(dy1));
  time(
    "ReluGrad (TF's)",
    `[${b},26,26,32]`,
    () => tf.engine().runKernel("ReluGrad", { dy: dy1, x: dy1 }) as tf.Tensor,
  );
  const vars = [[784, 128], [128], [128, 10], [10]].map((s) => tf.variable(r(s)));
  const grads = vars.map((v) => r(v.shape));
  const opt = tf.train.adam(1e-3);
  time("Adam step", "MLP, 101,770 parameters", () => {
    opt.applyGradients(vars.map((v, i) => ({ name: v.name, tensor: grads[i] })));
    return tf.clone(vars[0]);
  });
  for (const name of MODEL_NAMES) {
    const model = buildModel({ name, seed: 0, init: "torch" });
    const adam = tf.train.adam(1e-3);
    const { xs, ys } = randomBatch(b);
    const step = () => {
      const loss = trainingStep(model, adam, xs, ys);
      loss.dataSync();
      loss.dispose();
    };
    // Warm-up until steady: the MLP's step needs hundreds of calls before V8 has optimised it.
    if (tiny) step();
    else await untilSteady(step, { minMs: 2000, windowMs: 1000, patience: 3 });
    out.steps.push({ model: name, ms: timed(step, 0, tiny ? 1 : 10, tiny ? 0 : 2000) });
    tf.dispose([xs, ys]);
    model.dispose();
    adam.dispose();
  }
  console.log(JSON.stringify(out));
}
