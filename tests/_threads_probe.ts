/**
 * A fixture of threads_test.ts, run as its own process (the WASM build is chosen
 * once per process): initialise WASM as the environment says
 * (`TFJS_WASM_THREADS`), run every kernel lib/kernels registers, forward and
 * gradients, and three training steps of each benchmark model, and write the
 * backend report and every result to the JSON file named by the first argument.
 *
 * `THREADS_PROBE_BREAK=shared-memory` makes the threaded start fail the way a
 * runtime without shared WebAssembly memory would (before tfjs loads).
 *
 * ```sh
 * TFJS_WASM_THREADS=2 deno run -A tests/_threads_probe.ts /tmp/out.json
 * ```
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../lib/backend.ts";
import { mulberry32 } from "../lib/_random.ts";
import { buildModel, MODEL_NAMES } from "../lib/distribute/models.ts";

if (Deno.env.get("THREADS_PROBE_BREAK") === "shared-memory") {
  const Memory = WebAssembly.Memory;
  const refusing = function (d: WebAssembly.MemoryDescriptor) {
    if (d.shared) throw new RangeError("shared WebAssembly memory is not supported here");
    return new Memory(d);
  };
  refusing.prototype = Memory.prototype; // instanceof WebAssembly.Memory still holds
  WebAssembly.Memory = refusing as unknown as typeof WebAssembly.Memory;
}

const report = await initBackend({ prefer: "wasm" });
const rand = mulberry32(11);
const T = (shape: number[]): tf.Tensor =>
  tf.tensor(
    Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => rand() * 2 - 1),
    shape,
  );
const results: Record<string, number[]> = {};
const keep = (name: string, t: tf.Tensor | tf.Tensor[]) => {
  for (const [i, x] of (Array.isArray(t) ? t : [t]).entries()) {
    results[`${name}#${i}`] = Array.from(x.dataSync());
  }
};
const run = (name: string, kernel: string, inputs: Record<string, tf.Tensor>, attrs: object) =>
  tf.tidy(() =>
    keep(name, tf.engine().runKernel(kernel, inputs, attrs as tf.NamedAttrMap) as tf.Tensor)
  );

tf.tidy(() => {
  // Convolutions: the direct loops (few channels) and the GEMM paths, with gradients.
  const shapes: [number[], number[], "valid" | "same"][] = [
    [[8, 28, 28, 1], [3, 3, 1, 32], "valid"], // direct forward and filter gradient
    [[8, 12, 12, 8], [5, 5, 8, 16], "valid"], // direct filter gradient, scatter input gradient
    [[16, 13, 13, 32], [3, 3, 32, 64], "valid"], // GEMM forward, filter and input gradients
    [[4, 9, 9, 16], [3, 3, 16, 32], "same"], // padded direct filter gradient
    [[2, 11, 11, 3], [3, 3, 3, 8], "same"],
    [[9, 28, 28, 1], [3, 3, 1, 32], "valid"], // an odd batch: unequal halves
    [[9, 24, 24, 8], [5, 5, 8, 16], "valid"], // split filter gradient and scatter, odd batch
  ];
  for (const [xs, fs, pad] of shapes) {
    const name = `conv ${xs}*${fs} ${pad}`;
    const x = T(xs), f = T(fs);
    const y = tf.conv2d(x as tf.Tensor4D, f as tf.Tensor4D, 1, pad);
    const dy = T(y.shape);
    keep(`${name} Conv2D`, y);
    run(`${name} Conv2DBackpropFilter`, "Conv2DBackpropFilter", { x, dy }, {
      strides: [1, 1],
      pad,
      dataFormat: "NHWC",
      filterShape: fs,
    });
    run(`${name} Conv2DBackpropInput`, "Conv2DBackpropInput", { dy, filter: f }, {
      strides: [1, 1],
      pad,
      dataFormat: "NHWC",
      inputShape: xs,
    });
  }
  // Strided convolution (the general filter-gradient path).
  const xs2 = T([4, 15, 15, 4]), fs2 = T([3, 3, 4, 8]);
  keep(
    "conv stride 2 grads",
    tf.grads((a: tf.Tensor, b: tf.Tensor) =>
      tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, 2, "same").square().sum()
    )([xs2, fs2]),
  );
  // Products, with and without transposes, fused.
  const a = T([128, 784]), b = T([784, 128]), g = T([128, 128]);
  keep("matMul", tf.matMul(a, b));
  keep("matMul Aᵀ", tf.matMul(a, g, true, false));
  keep("matMul Bᵀ", tf.matMul(g, b, false, true));
  keep(
    "fused matMul Bᵀ relu",
    tf.fused.matMul({ a: g, b, transposeB: true, activation: "relu", bias: T([784]) }),
  );
  // Max-pool gradients: the 2x2/2 SIMD loop and the general loop.
  for (
    const [xs, size, stride, pad] of [[[8, 26, 26, 32], 2, 2, "valid"], [
      [4, 9, 9, 3],
      3,
      2,
      "same",
    ]] as const
  ) {
    const x = T([...xs]);
    keep(
      `maxPool grad ${xs} ${size}/${stride}`,
      tf.grad((v: tf.Tensor) =>
        tf.maxPool(v as tf.Tensor4D, size, stride, pad).mul(
          T([...tf.maxPool(x as tf.Tensor4D, size, stride, pad).shape]),
        ).sum()
      )(x),
    );
  }
  // Sum over leading axes, bias add, Identity and Cast.
  const big = T([8, 26, 26, 32]);
  keep("sum 0,1,2", big.sum([0, 1, 2]));
  keep("sum 3", big.sum(3));
  keep("bias add", tf.add(big, T([32])));
  keep("maxPool 2x2/2", tf.maxPool(big as tf.Tensor4D, 2, 2, "valid"));
  keep("relu and its gradient (TF's ReluGrad)", [
    tf.relu(big),
    tf.grad((v: tf.Tensor) => tf.relu(v).mul(big).sum())(big),
  ]);
  keep("bias add reversed", tf.add(T([1, 1, 1, 32]), big));
  keep("identity, cast", [
    tf.clone(big),
    tf.cast(big, "float32"),
    tf.cast(T([5]).mul(10), "int32"),
  ]);
});

// Adam (the fused AdamUpdate kernel), three steps on one variable.
{
  const v = tf.variable(T([1300, 203])); // over 262,144 elements: split between threads
  const opt = tf.train.adam(0.01);
  for (let i = 0; i < 3; i++) opt.minimize(() => v.square().sum().sin() as tf.Scalar);
  keep("adam", v);
  v.dispose();
  opt.dispose();
}

// Three training steps of each benchmark model (batch 32, Adam 1e-3, dropout with a seed).
for (const name of MODEL_NAMES) {
  const model = buildModel({ name, seed: 3, init: "torch" });
  const opt = tf.train.adam(1e-3);
  const xs = tf.tidy(() => T([32, 28, 28, 1]).abs());
  const ys = tf.tidy(() =>
    tf.oneHot(tf.tensor1d(Array.from({ length: 32 }, (_, i) => (i * 7) % 10), "int32"), 10)
  );
  const losses: number[] = [];
  for (let step = 0; step < 3; step++) {
    const loss = opt.minimize(
      () => tf.losses.softmaxCrossEntropy(ys, model.apply(xs, { training: true }) as tf.Tensor),
      true,
    )!;
    losses.push(loss.dataSync()[0]);
    loss.dispose();
  }
  results[`${name} losses`] = losses;
  model.weights.forEach((w, i) => {
    results[`${name} weight ${i} ${w.name}`] = Array.from(w.read().dataSync());
  });
  tf.dispose([xs, ys]);
  model.dispose();
  opt.dispose();
}

const out = JSON.stringify({ wasm: report.wasm, reason: report.reason, results });
await Deno.writeTextFile(Deno.args[0] + ".tmp", out);
await Deno.rename(Deno.args[0] + ".tmp", Deno.args[0]);
