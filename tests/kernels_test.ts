/**
 * Equality of the kernels lib/kernels registers against the CPU backend:
 * the same seeded random inputs go through the CPU backend and through the
 * patched backend, and the results (forward and gradients) must agree within
 * float32 tolerance (different summation orders: XNNPACK vs tfjs-cpu loops).
 */
import { strict as assert } from "node:assert";
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../lib/backend.ts";
import { mulberry32 } from "../lib/_random.ts";
import {
  adamUpdateInto,
  directFilterGrad,
  directInputGrad,
  gemmConv2D,
  gemmFilterGrad,
  gemmInputGrad,
  useGemm,
  useWinogradTile,
  winogradConv2D,
  winogradFilterGrad,
  winogradInputGrad,
} from "../lib/kernels/mod.ts";

type Pad = "same" | "valid" | [[0, 0], [number, number], [number, number], [0, 0]];

function randArray(rand: () => number, n: number): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = rand() * 2 - 1;
  return a;
}

const T = (values: Float32Array, shape: number[]): tf.Tensor => tf.tensor(values, shape);

/**
 * A convolution, then the value and gradients (x and filter) of Σ conv(x, f)²; only the
 * convolution when dilated (tfjs has no gradient for dilated convolutions).
 */
function convAndGrads(x: tf.Tensor, f: tf.Tensor, s: number, pad: Pad, d = 1): tf.Tensor[] {
  const y = tf.conv2d(x as tf.Tensor4D, f as tf.Tensor4D, s, pad, "NHWC", d);
  if (d > 1) return [y];
  const { value, grads } = tf.valueAndGrads((a: tf.Tensor, b: tf.Tensor) =>
    tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, s, pad).square().sum()
  )([x, f]);
  return [y, value, ...grads];
}

const int = (rand: () => number, lo: number, hi: number): number =>
  lo + Math.floor(rand() * (hi - lo + 1));

/** Run `fn` on `backend` and return its outputs as plain arrays (no tensors left). */
async function on(
  backend: "cpu" | "wasm" | "webgpu",
  fn: () => tf.Tensor | tf.Tensor[],
): Promise<{ shapes: number[][]; values: Float32Array[] }> {
  const report = await initBackend({ prefer: backend });
  assert.equal(report.backend, backend, `backend ${backend} is not available: ${report.reason}`);
  const before = tf.memory().numTensors;
  const dataIdsBefore = tf.engine().backend.numDataIds();
  const outs = tf.tidy(fn);
  const list = Array.isArray(outs) ? outs : [outs];
  const values = await Promise.all(list.map(async (t) => new Float32Array(await t.data())));
  const shapes = list.map((t) => t.shape);
  tf.dispose(list);
  assert.equal(tf.memory().numTensors, before, `${backend}: tensors leaked`);
  assert.equal(tf.engine().backend.numDataIds(), dataIdsBefore, `${backend}: backend data leaked`);
  return { shapes, values };
}

function assertClose(
  got: { shapes: number[][]; values: Float32Array[] },
  want: { shapes: number[][]; values: Float32Array[] },
  what: string,
  rtol = 1e-4,
): void {
  assert.deepEqual(got.shapes, want.shapes, `${what}: shapes`);
  for (let k = 0; k < want.values.length; k++) {
    const g = got.values[k], w = want.values[k];
    let scale = 1e-3;
    for (const v of w) scale = Math.max(scale, Math.abs(v));
    for (let i = 0; i < w.length; i++) {
      const err = Math.abs(g[i] - w[i]);
      if (!(err <= rtol * scale)) {
        assert.fail(
          `${what}: output ${k} element ${i}: got ${g[i]}, want ${w[i]} (|err| ${err} > ${
            rtol * scale
          })`,
        );
      }
    }
  }
}

interface ConvCase {
  x: number[];
  f: number[];
  strides: [number, number];
  pad: Pad;
}

function convCases(seed: number, count: number): ConvCase[] {
  const rand = mulberry32(seed);
  const cases: ConvCase[] = [];
  while (cases.length < count) {
    const b = int(rand, 1, 3), h = int(rand, 4, 11), w = int(rand, 4, 11);
    const ci = int(rand, 1, 4), co = int(rand, 1, 5);
    const fh = int(rand, 1, Math.min(5, h)), fw = int(rand, 1, Math.min(5, w));
    const strides: [number, number] = [int(rand, 1, 3), int(rand, 1, 3)];
    const kind = cases.length % 3;
    const pad: Pad = kind === 0 ? "same" : kind === 1 ? "valid" : [
      [0, 0],
      [
        int(rand, 0, 2),
        int(
          rand,
          0,
          2,
        ),
      ],
      [int(rand, 0, 2), int(rand, 0, 2)],
      [0, 0],
    ];
    cases.push({ x: [b, h, w, ci], f: [fh, fw, ci, co], strides, pad });
  }
  return cases;
}

function convOutShape(c: ConvCase): number[] {
  const info = tf.backend_util.computeConv2DInfo(
    c.x as [number, number, number, number],
    c.f as [number, number, number, number],
    c.strides,
    1,
    c.pad,
  );
  return info.outShape;
}

Deno.test("Conv2DBackpropFilter on wasm equals cpu (random shapes, strides, paddings)", async () => {
  const rand = mulberry32(1);
  // Fixed cases first: the im2col path (few input channels, stride 1) with each padding,
  // then the convolution path.
  const fixed: ConvCase[] = [
    { x: [2, 7, 7, 1], f: [3, 3, 1, 8], strides: [1, 1], pad: "same" },
    { x: [3, 6, 5, 2], f: [2, 2, 2, 8], strides: [1, 1], pad: [[0, 0], [1, 2], [0, 1], [0, 0]] },
    { x: [2, 9, 8, 1], f: [3, 2, 1, 6], strides: [1, 1], pad: "valid" },
    { x: [2, 9, 8, 4], f: [3, 3, 4, 2], strides: [1, 1], pad: "valid" },
    // More output channels than patch entries: the (dYᵀ·P)ᵀ form.
    { x: [2, 7, 7, 1], f: [3, 3, 1, 16], strides: [1, 1], pad: "same" },
    { x: [2, 6, 6, 2], f: [2, 2, 2, 12], strides: [1, 1], pad: [[0, 0], [1, 0], [0, 1], [0, 0]] },
  ];
  for (const c of [...fixed, ...convCases(7, 24)]) {
    const dyShape = convOutShape(c);
    const x = randArray(rand, c.x.reduce((a, b) => a * b));
    const dy = randArray(rand, dyShape.reduce((a, b) => a * b));
    const run = () =>
      tf.engine().runKernel("Conv2DBackpropFilter", {
        x: T(x, c.x),
        dy: T(dy, dyShape),
      }, {
        strides: c.strides,
        pad: c.pad,
        dataFormat: "NHWC",
        filterShape: c.f,
      }) as tf.Tensor;
    const want = await on("cpu", run);
    const got = await on("wasm", run);
    assertClose(got, want, `dW for ${JSON.stringify(c)}`);
  }
});

Deno.test("Conv2DBackpropInput on wasm equals cpu (random shapes, strides, paddings)", async () => {
  const rand = mulberry32(4);
  for (const c of convCases(13, 24)) {
    const dyShape = convOutShape(c);
    const f = randArray(rand, c.f.reduce((a, b) => a * b));
    const dy = randArray(rand, dyShape.reduce((a, b) => a * b));
    const run = () =>
      tf.engine().runKernel("Conv2DBackpropInput", {
        dy: T(dy, dyShape),
        filter: T(f, c.f),
      }, {
        strides: c.strides,
        pad: c.pad,
        dataFormat: "NHWC",
        inputShape: c.x,
      }) as tf.Tensor;
    const want = await on("cpu", run);
    const got = await on("wasm", run);
    assertClose(got, want, `dX for ${JSON.stringify(c)}`);
  }
});

Deno.test("BatchMatMul and fused matMul with transposes on wasm equal cpu", async () => {
  const rand = mulberry32(5);
  for (let i = 0; i < 16; i++) {
    const m = int(rand, 1, 40), k = int(rand, 1, 40), n = int(rand, 1, 40);
    const batch = i % 4 === 0 ? [] : i % 4 === 1 ? [3] : i % 4 === 2 ? [2, 2] : [1];
    const ta = (i & 1) === 1, tb = (i & 2) === 2;
    const aShape = [...batch, ...(ta ? [k, m] : [m, k])];
    const bShape = [...(i % 4 === 3 ? [4] : batch), ...(tb ? [n, k] : [k, n])];
    const a = randArray(rand, aShape.reduce((p, q) => p * q, 1));
    const b = randArray(rand, bShape.reduce((p, q) => p * q, 1));
    const bias = randArray(rand, n);
    const run = () => {
      const at = T(a, aShape), bt = T(b, bShape);
      const out = [tf.matMul(at, bt, ta, tb)];
      if (batch.length === 0) {
        out.push(tf.fused.matMul({
          a: at as tf.Tensor2D,
          b: bt as tf.Tensor2D,
          transposeA: ta,
          transposeB: tb,
          bias: T(bias, [n]),
          activation: "relu",
        }));
        const loss = (x: tf.Tensor, y: tf.Tensor) =>
          tf.fused.matMul({
            a: x as tf.Tensor2D,
            b: y as tf.Tensor2D,
            transposeA: ta,
            transposeB: tb,
          })
            .square().sum();
        out.push(...tf.grads(loss)([at, bt]));
      }
      return out;
    };
    const want = await on("cpu", run);
    const got = await on("wasm", run);
    assertClose(got, want, `matMul ${JSON.stringify({ aShape, bShape, ta, tb })}`);
  }
});

Deno.test("conv2d forward and gradients on wasm equal cpu", async () => {
  const rand = mulberry32(2);
  for (const c of convCases(11, 12)) {
    if (c.strides[0] > 1 && c.strides[1] > 1 && c.pad === "same") continue;
    const x = randArray(rand, c.x.reduce((a, b) => a * b));
    const f = randArray(rand, c.f.reduce((a, b) => a * b));
    const run = () => {
      const xt = T(x, c.x) as tf.Tensor4D, ft = T(f, c.f) as tf.Tensor4D;
      const loss = (a: tf.Tensor, b: tf.Tensor) =>
        tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, c.strides, c.pad).square().sum();
      const { value, grads } = tf.valueAndGrads(loss)([xt, ft]);
      return [tf.conv2d(xt, ft, c.strides, c.pad), value, ...grads];
    };
    const want = await on("cpu", run);
    const got = await on("wasm", run);
    assertClose(got, want, `conv2d/grads for ${JSON.stringify(c)}`);
  }
});

Deno.test("gradients of a small conv net on wasm equal cpu", async () => {
  const rand = mulberry32(3);
  const shapes = {
    x: [4, 12, 12, 1],
    w1: [3, 3, 1, 6],
    w2: [3, 3, 6, 8],
    d: [8 * 2 * 2, 10],
  };
  const data = Object.fromEntries(
    Object.entries(shapes).map(([k, s]) => [k, randArray(rand, s.reduce((a, b) => a * b))]),
  );
  const labels = [1, 3, 5, 7];
  const run = () => {
    const x = T(data.x, shapes.x) as tf.Tensor4D;
    const params = [
      T(data.w1, shapes.w1),
      T(data.w2, shapes.w2),
      T(data.d, shapes.d),
    ];
    const y = tf.oneHot(labels, 10);
    const net = (w1: tf.Tensor, w2: tf.Tensor, d: tf.Tensor) => {
      let h = tf.relu(tf.conv2d(x, w1 as tf.Tensor4D, 1, "valid")); // 10x10
      h = tf.maxPool(h, 2, 2, "valid"); // 5x5
      h = tf.relu(tf.conv2d(h, w2 as tf.Tensor4D, 1, "same")); // 5x5
      h = tf.maxPool(h, 2, 2, "valid"); // 2x2
      const logits = tf.matMul(h.reshape([4, -1]), d as tf.Tensor2D);
      return tf.losses.softmaxCrossEntropy(y, logits);
    };
    const { value, grads } = tf.valueAndGrads(net)(params);
    return [value, ...grads];
  };
  const want = await on("cpu", run);
  const got = await on("wasm", run);
  assertClose(got, want, "small conv net loss and gradients");
});

Deno.test("installKernels is idempotent", async () => {
  const { installKernels } = await import("../lib/kernels/mod.ts");
  await initBackend({ prefer: "wasm" });
  installKernels("wasm");
  installKernels("wasm");
  assert.ok(tf.getKernel("Conv2DBackpropFilter", "wasm"), "kernel registered");
});

Deno.test("MaxPoolGrad on wasm equals cpu (random windows, strides, paddings, ties)", async () => {
  const rand = mulberry32(6);
  for (let i = 0; i < 30; i++) {
    const x = [int(rand, 1, 3), int(rand, 3, 10), int(rand, 3, 10), int(rand, 1, 5)];
    const filter: [number, number] = [int(rand, 1, 3), int(rand, 1, 3)];
    const strides: [number, number] = [int(rand, 1, 3), int(rand, 1, 3)];
    const pad = i % 3 === 0 ? "same" : i % 3 === 1 ? "valid" : int(rand, 0, 1);
    const values = randArray(rand, x.reduce((a, b) => a * b));
    // Ties and ReLU-like zeros: round half of the cases to a few levels.
    if (i % 2 === 0) {
      for (let j = 0; j < values.length; j++) values[j] = Math.max(0, Math.round(values[j] * 2));
    }
    const outShape = tf.backend_util.computePool2DInfo(
      x as [number, number, number, number],
      filter,
      strides,
      1,
      pad,
    ).outShape;
    const dy = randArray(rand, outShape.reduce((a, b) => a * b));
    // The kernel alone, on the same dy (numeric pads included).
    const kernel = () =>
      tf.engine().runKernel("MaxPoolGrad", {
        dy: T(dy, outShape),
        input: T(values, x),
        output: tf.zeros(outShape), // unused by both backends
      }, { filterSize: filter, strides, pad }) as tf.Tensor;
    const what = `maxPool ${JSON.stringify({ x, filter, strides, pad })}`;
    assertClose(await on("wasm", kernel), await on("cpu", kernel), `${what} MaxPoolGrad`);
    // Through tf.grad (stock wasm MaxPool differs from cpu for numeric pads: skip those).
    if (typeof pad === "number") continue;
    const run = () => {
      const xt = T(values, x) as tf.Tensor4D;
      const f = (a: tf.Tensor) => tf.maxPool(a as tf.Tensor4D, filter, strides, pad).square().sum();
      return [tf.maxPool(xt, filter, strides, pad), tf.grad(f)(xt)];
    };
    assertClose(await on("wasm", run), await on("cpu", run), `${what} forward and grad`);
  }
});

const gpu = (globalThis.navigator as { gpu?: { requestAdapter(): Promise<unknown> } }).gpu;
const hasWebGpu = gpu ? (await gpu.requestAdapter().catch(() => null)) !== null : false;

Deno.test({
  name: "webgpu (llvmpipe here): small conv net forward and gradients equal cpu",
  ignore: !hasWebGpu,
  fn: async () => {
    const rand = mulberry32(8);
    const xs = randArray(rand, 2 * 8 * 8 * 2), w1 = randArray(rand, 3 * 3 * 2 * 4);
    const d = randArray(rand, 64 * 5), m = randArray(rand, 120);
    const run = () => {
      const x = T(xs, [2, 8, 8, 2]) as tf.Tensor4D;
      const net = (w: tf.Tensor, dense: tf.Tensor) => {
        const h = tf.maxPool(tf.relu(tf.conv2d(x, w as tf.Tensor4D, 1, "same")), 2, 2, "valid");
        return tf.matMul(h.reshape([2, -1]), dense.reshape([64, 5]), false, false).square().mean();
      };
      const { value, grads } = tf.valueAndGrads(net)([T(w1, [3, 3, 2, 4]), T(d, [64, 5])]);
      return [
        value,
        ...grads,
        tf.matMul(T(m.slice(0, 60), [6, 10]), T(m.slice(60), [6, 10]), true),
      ];
    };
    assertClose(await on("webgpu", run), await on("cpu", run), "webgpu conv net");
  },
});

Deno.test({
  name: "webgpu guard: a tensor over the storage-binding limit throws instead of giving zeros",
  ignore: !hasWebGpu,
  fn: async () => {
    const { assertFitsWebGpu, WebGpuLimitError, webGpuBindingLimit } = await import(
      "../lib/kernels/mod.ts"
    );
    await initBackend({ prefer: "webgpu" });
    const limit = webGpuBindingLimit();
    assert.ok(limit >= 64 * 1024 * 1024, `limit ${limit}`);
    // The helper, on the MNIST training set as float32 (179 MiB) and on one batch.
    assert.throws(() => assertFitsWebGpu([60_000, 28, 28, 1], "float32", "x"), WebGpuLimitError);
    assertFitsWebGpu([128, 28, 28, 1]);
    // The kernel wrapper: slicing a tensor one element over the limit throws.
    const before = tf.memory().numTensors;
    const big = tf.tensor1d(new Float32Array(limit / 4 + 1).fill(1));
    assert.throws(() => tf.slice(big, [limit / 4 - 9], [10]), WebGpuLimitError);
    big.dispose();
    // Just under the limit still computes (and gives ones, not zeros).
    const ok = tf.tensor1d(new Float32Array(limit / 4).fill(1));
    const tail = tf.slice(ok, [limit / 4 - 4], [4]);
    assert.deepEqual(Array.from(await tail.data()), [1, 1, 1, 1]);
    tf.dispose([ok, tail]);
    assert.equal(tf.memory().numTensors, before);
  },
});

Deno.test("Sum on wasm equals cpu (leading axes: column sums in runs, AvgPool, 2-D; and the rest)", async () => {
  const rand = mulberry32(9);
  const cases: [number[], number[], boolean][] = [
    [[16, 13, 13, 8], [0, 1, 2], false], // a bias gradient: column sums in 32 runs
    [[16, 13, 13, 8], [0, 1, 2], true],
    [[64, 80], [0], false], // a dense layer's bias gradient
    [[40, 2048], [0], false], // fewer rows than runs would allow: 32 runs of 1–2 rows
    [[3, 4], [0], true], // one run
    [[16, 13, 13, 3], [0, 1, 2], false], // 3 columns: AvgPool
    [[32, 20, 9], [0, 1], false], // 9 columns: 2-D, stock kernel
    [[64, 81], [0], false], // one axis, 81 columns: stock kernel
    [[16, 13, 13, 8], [1, 2], false], // not leading: stock kernel
    [[16, 13, 13, 8], [0, 1, 2, 3], false],
  ];
  for (const [shape, axes, keepDims] of cases) {
    const values = randArray(rand, shape.reduce((a, b) => a * b));
    const run = () => [
      tf.sum(T(values, shape), axes, keepDims),
      tf.grad((x: tf.Tensor) => tf.sum(x, axes).square().sum())(T(values, shape)),
    ];
    assertClose(await on("wasm", run), await on("cpu", run), `sum ${shape} over ${axes}`);
  }
});

Deno.test("conv backprop kernels on wasm equal cpu for NCHW too", async () => {
  const rand = mulberry32(10);
  for (const c of convCases(17, 8)) {
    const nchw = (s: number[]) => [s[0], s[3], s[1], s[2]];
    const dyShape = convOutShape(c);
    // Explicit pads are given in the data format's axis order.
    const pad = typeof c.pad === "string" ? c.pad : [[0, 0], [0, 0], c.pad[1], c.pad[2]];
    const x = randArray(rand, c.x.reduce((a, b) => a * b));
    const f = randArray(rand, c.f.reduce((a, b) => a * b));
    const dy = randArray(rand, dyShape.reduce((a, b) => a * b));
    const run = () => [
      tf.engine().runKernel("Conv2DBackpropFilter", {
        x: T(x, nchw(c.x)),
        dy: T(dy, nchw(dyShape)),
      }, { strides: c.strides, pad, dataFormat: "NCHW", filterShape: c.f }) as tf.Tensor,
      tf.engine().runKernel("Conv2DBackpropInput", {
        dy: T(dy, nchw(dyShape)),
        filter: T(f, c.f),
      }, {
        strides: c.strides,
        pad,
        dataFormat: "NCHW",
        inputShape: nchw(c.x),
      }) as tf.Tensor,
    ];
    assertClose(await on("wasm", run), await on("cpu", run), `NCHW ${JSON.stringify(c)}`);
  }
});

Deno.test("conv backprop kernels reject a dy whose shape does not match", async () => {
  const { Conv2DBackpropFilterError } = await import("../lib/kernels/mod.ts");
  await initBackend({ prefer: "wasm" });
  const x = tf.ones([2, 8, 8, 3]), f = tf.ones([3, 3, 3, 4]), bad = tf.ones([2, 5, 5, 4]);
  const attrs = { strides: [1, 1], pad: "valid", dataFormat: "NHWC" } as const;
  assert.throws(
    () =>
      tf.engine().runKernel("Conv2DBackpropFilter", { x, dy: bad }, {
        ...attrs,
        filterShape: [3, 3, 3, 4],
      }),
    (e: Error) => e instanceof Conv2DBackpropFilterError && /\[2,6,6,4\]/.test(e.message),
  );
  assert.throws(
    () =>
      tf.engine().runKernel("Conv2DBackpropInput", { dy: bad, filter: f }, {
        ...attrs,
        inputShape: [2, 8, 8, 3],
      }),
    (e: Error) => e instanceof Conv2DBackpropFilterError && /\[2,6,6,4\]/.test(e.message),
  );
  const { KernelInputError } = await import("../lib/kernels/mod.ts");
  assert.throws(
    () =>
      tf.engine().runKernel("MaxPoolGrad", { dy: bad, input: x, output: bad }, {
        filterSize: 2,
        strides: 2,
        pad: "valid",
      }),
    (e: Error) => e instanceof KernelInputError && /\[2,4,4,3\]/.test(e.message),
  );
  tf.dispose([x, f, bad]);
});

Deno.test("Identity and Cast on wasm share buffers safely and equal cpu", async () => {
  const rand = mulberry32(12);
  const values = randArray(rand, 60);
  const run = () => {
    const x = T(values, [3, 4, 5]);
    const same = tf.cast(x, "float32");
    const id = tf.clone(x);
    const asInt = tf.cast(x.mul(10), "int32"); // a real conversion: the stock kernel
    const back = tf.cast(asInt, "float32");
    x.dispose(); // the aliases must stay valid after their source is gone
    const relu = tf.grad((v: tf.Tensor) => tf.relu(v).sum())(T(values, [60]));
    return [
      same,
      id,
      back,
      relu,
      tf.cast(tf.tensor([1, 0, 2], [3], "int32"), "bool").cast("float32"),
    ];
  };
  assertClose(await on("wasm", run), await on("cpu", run), "identity/cast");
  // Variables: assigning to a variable must not change a tensor cloned from it.
  await initBackend({ prefer: "wasm" });
  const v = tf.variable(tf.tensor([1, 2, 3]));
  const snapshot = tf.clone(v);
  v.assign(tf.tensor([7, 8, 9]));
  assert.deepEqual(Array.from(await snapshot.data()), [1, 2, 3]);
  assert.deepEqual(Array.from(await v.data()), [7, 8, 9]);
  tf.dispose([v, snapshot]);
});

Deno.test("fused Adam on wasm equals the stock optimizer on cpu, step by step", async () => {
  const rand = mulberry32(21);
  const shapes = [[7, 5], [5], [3, 3, 2, 4]];
  const inits = shapes.map((s) => randArray(rand, s.reduce((a, b) => a * b, 1)));
  const steps = Array.from({ length: 6 }, () => inits.map((w) => randArray(rand, w.length)));
  const kernelsRun: Record<string, Set<string>> = {};
  const train = async (backend: "cpu" | "wasm") => {
    await initBackend({ prefer: backend });
    const vars = inits.map((w, i) =>
      tf.variable(T(w, shapes[i]), true, `adam_test_${backend}_${i}`)
    );
    const opt = tf.train.adam(0.01, 0.9, 0.999, 1e-7);
    let before = -1;
    for (const grads of steps) {
      // A zero gradient for one variable on one step, and a missing one on another.
      tf.tidy(() =>
        opt.applyGradients(
          grads.map((g, i) => ({ name: vars[i].name, tensor: T(g, shapes[i]) })).filter((_, i) =>
            i !== 2 || grads !== steps[3]
          ),
        )
      );
      // The first step creates the moments; after that the count stays flat.
      if (before < 0) before = tf.memory().numTensors;
      assert.equal(tf.memory().numTensors, before, `${backend}: Adam leaked tensors`);
    }
    // Which kernels one more step runs (after the comparison values are taken).
    const values = vars.map((v) => new Float32Array(v.dataSync()));
    const weights = await opt.getWeights();
    const profile = await tf.profile(() =>
      tf.tidy(() =>
        opt.applyGradients(vars.map((v, i) => ({ name: v.name, tensor: T(inits[i], shapes[i]) })))
      )
    );
    kernelsRun[backend] = new Set(profile.kernels.map((k) => k.name));
    const moments = weights.slice(1).map((w) => new Float32Array(w.tensor.dataSync()));
    const iterations = weights[0].tensor.dataSync()[0];
    tf.dispose(vars);
    opt.dispose();
    return { values, moments, iterations };
  };
  const cpu = await train("cpu");
  const wasm = await train("wasm");
  assert.ok(kernelsRun.wasm.has("AdamUpdate"), "wasm did not run the fused AdamUpdate kernel");
  assert.ok(!kernelsRun.cpu.has("AdamUpdate") && kernelsRun.cpu.has("Sqrt"), "cpu: stock Adam");
  assert.equal(wasm.iterations, cpu.iterations);
  // The same float32 operations in the same order: bit-identical.
  for (
    const [what, a, b] of [["values", wasm.values, cpu.values], [
      "moments",
      wasm.moments,
      cpu.moments,
    ]] as const
  ) {
    assert.equal(a.length, b.length, `${what}: count`);
    a.forEach((arr, i) => assert.deepEqual(Array.from(arr), Array.from(b[i]), `${what} ${i}`));
  }
});

Deno.test("MaxPoolGrad 2x2/2 SIMD path equals cpu (channels of 4, ties, −∞, NaN, odd sizes)", async () => {
  const rand = mulberry32(31);
  for (const [b, h, w, c] of [[2, 6, 6, 4], [3, 7, 9, 8], [1, 5, 4, 12], [2, 26, 26, 32]]) {
    const x = [b, h, w, c];
    const values = randArray(rand, b * h * w * c);
    for (let j = 0; j < values.length; j++) {
      const r = rand();
      if (r < 0.3) values[j] = Math.max(0, Math.round(values[j])); // ReLU zeros: ties
      else if (r < 0.33) values[j] = -Infinity;
      else if (r < 0.35) values[j] = NaN;
    }
    const outShape = [b, Math.floor(h / 2), Math.floor(w / 2), c];
    const dy = randArray(rand, outShape.reduce((p, q) => p * q));
    const kernel = () =>
      tf.engine().runKernel("MaxPoolGrad", {
        dy: T(dy, outShape),
        input: T(values, x),
        output: tf.zeros(outShape),
      }, { filterSize: 2, strides: 2, pad: "valid" }) as tf.Tensor;
    const got = await on("wasm", kernel), want = await on("cpu", kernel);
    assert.deepEqual(got.shapes, want.shapes);
    // Routing only copies dy values: exactly equal, zeros where nothing wins.
    assert.deepEqual(Array.from(got.values[0]), Array.from(want.values[0]), `x ${x}`);
  }
});

Deno.test("Add of a per-channel bias on wasm equals cpu (either operand order, fallbacks)", async () => {
  const rand = mulberry32(41);
  const cases: [number[], number[]][] = [
    [[3, 5, 5, 8], [8]],
    [[2, 4, 4, 16], [1, 1, 1, 16]],
    [[7, 12], [12]],
    [[2, 3, 3, 6], [6]], // 6 channels: the stock kernel
    [[4, 8], [4, 8]], // no broadcast: the stock kernel
    [[2, 1, 8], [3, 1]], // a general broadcast: the stock kernel
  ];
  for (const [sa, sb] of cases) {
    const va = randArray(rand, sa.reduce((p, q) => p * q, 1));
    const vb = randArray(rand, sb.reduce((p, q) => p * q, 1));
    const run = () => [tf.add(T(va, sa), T(vb, sb)), tf.add(T(vb, sb), T(va, sa))];
    const got = await on("wasm", run), want = await on("cpu", run);
    assert.deepEqual(got.shapes, want.shapes, `${sa} + ${sb}: shapes`);
    got.values.forEach((g, k) =>
      assert.deepEqual(Array.from(g), Array.from(want.values[k]), `${sa} + ${sb} (${k})`)
    );
  }
  // Through a conv layer's bias and its gradient.
  const x = randArray(rand, 2 * 6 * 6 * 3), w = randArray(rand, 3 * 3 * 3 * 8);
  const bias = randArray(rand, 8);
  const net = () => {
    const f = (b: tf.Tensor) =>
      tf.relu(
        tf.add(
          tf.conv2d(
            T(x, [2, 6, 6, 3]) as tf.Tensor4D,
            T(w, [3, 3, 3, 8]) as tf.Tensor4D,
            1,
            "same",
          ),
          b,
        ),
      )
        .sum();
    return [tf.grad(f)(T(bias, [8]))];
  };
  assertClose(await on("wasm", net), await on("cpu", net), "conv bias gradient");
});

Deno.test("tf.nn.relu and its gradient on wasm equal cpu; the gradient is TF's ReluGrad, dy·(x > 0): 0 where x is NaN (relu_op_functor.h), relu(NaN) is NaN", async () => {
  const rand = mulberry32(43);
  // Sizes below and above the split threshold, and not multiples of 4 (the JavaScript tail).
  for (const size of [7, 4 * 1000 + 3, 128 * 26 * 26 * 32 / 16 + 2]) {
    const v = randArray(rand, size), dy = randArray(rand, size);
    v[0] = NaN, v[1] = -0, v[2] = Infinity, v[3] = -Infinity;
    if (size > 5) v[size - 1] = NaN, v[size - 2] = 0;
    const run = () => [
      tf.relu(T(v, [size])),
      tf.grad((x: tf.Tensor) => tf.relu(x).mul(T(dy, [size])).sum())(T(v, [size])),
    ];
    const got = await on("wasm", run), want = await on("cpu", run);
    got.values.forEach((g, k) =>
      assert.deepEqual(Array.from(g), Array.from(want.values[k]), `size ${size} (${k})`)
    );
    const [relu, grad] = got.values;
    assert.ok(
      Number.isNaN(relu[0]) && relu[1] === 0 && !Object.is(relu[1], -0),
      "relu(NaN), relu(-0)",
    );
    assert.equal(relu[2], Infinity);
    assert.equal(relu[3], 0);
    // dy · 0 (−0 where dy < 0, as TF's multiply by the mask gives).
    assert.equal(grad[0], dy[0] * 0, "the gradient at x = NaN is 0, as TF's ReluGrad");
    assert.equal(grad[1], dy[1] * 0, "the gradient at x = -0 is 0");
    assert.equal(grad[2], dy[2], "the gradient at x = +inf passes dy");
    for (let i = 4; i < size - 2; i++) assert.equal(grad[i], dy[i] * (v[i] > 0 ? 1 : 0), `[${i}]`);
  }
  // int32 relu goes to the stock kernel.
  const ints = () => [tf.relu(tf.tensor1d([-3, 0, 5], "int32"))];
  assert.deepEqual(Array.from((await on("wasm", ints)).values[0]), [0, 0, 5]);
});

Deno.test("tf.nn.max_pool 2x2/2 on wasm equals cpu (odd sizes, ties, NaN never wins: a window of NaN gives -inf), other pools through the stock kernel", async () => {
  const rand = mulberry32(47);
  const cases: [number[], number, number, "valid" | "same"][] = [
    [[3, 8, 8, 4], 2, 2, "valid"],
    [[2, 11, 9, 8], 2, 2, "valid"], // odd sizes: the last row and column are left out
    [[64, 26, 26, 8], 2, 2, "valid"], // large: parts on two threads
    [[2, 6, 6, 3], 2, 2, "valid"], // 3 channels: the stock kernel
    [[2, 7, 7, 4], 3, 2, "same"], // another pool: the stock kernel
  ];
  for (const [shape, size, stride, pad] of cases) {
    const count = shape.reduce((p, q) => p * q, 1);
    const v = randArray(rand, count).map((x) => Math.round(x * 4) / 4); // ties
    if (pad === "valid" && shape[3] % 4 === 0) {
      // One window with NaN first, one all NaN, one with -0 and 0.
      const c = shape[3], row = shape[2] * c;
      [v[0], v[c], v[row], v[row + c]] = [NaN, 1, -2, 3];
      [v[2 * c], v[3 * c], v[row + 2 * c], v[row + 3 * c]] = [NaN, NaN, NaN, NaN];
      [v[4 * c], v[5 * c], v[row + 4 * c], v[row + 5 * c]] = [-0, 0, -Infinity, -1];
    }
    const run = () => [tf.maxPool(T(v, shape) as tf.Tensor4D, size, stride, pad)];
    const got = await on("wasm", run), want = await on("cpu", run);
    assert.deepEqual(got.shapes, want.shapes, `${shape}: shapes`);
    if (pad === "valid" && shape[3] % 4 === 0) {
      assert.deepEqual(Array.from(got.values[0]), Array.from(want.values[0]), `${shape}`);
      const c = shape[3];
      assert.equal(got.values[0][0], 3, "NaN first in its window does not win");
      assert.equal(got.values[0][c], -Infinity, "a window of NaN gives -inf");
      assert.ok(Object.is(got.values[0][2 * c], -0), "±0 tie: the first (−0) wins, as on cpu");
    } else assertClose(got, want, `${shape} ${size}/${stride} ${pad}`);
  }
});

Deno.test("tf.math.cumsum with a negative axis counts from the end, on cpu and wasm, and its gradient is TF's _CumsumGrad on any axis", async () => {
  const x = [[1, 2, 3], [4, 5, 6]];
  const w = [[1, 10, 100], [1000, 10000, 100000]];
  for (const backend of ["cpu", "wasm"] as const) {
    const run = () => [
      tf.cumsum(tf.tensor2d(x), -1),
      tf.cumsum(tf.tensor2d(x), -2, true, true),
      // d/dx Σ w·cumsum(x, axis 0) = the reverse cumulative sum of w down axis 0.
      tf.grad((t: tf.Tensor) => tf.cumsum(t, 0).mul(tf.tensor2d(w)).sum())(tf.tensor2d(x)),
      tf.grad((t: tf.Tensor) => tf.cumsum(t, -1, true).mul(tf.tensor2d(w)).sum())(tf.tensor2d(x)),
    ];
    const { values } = await on(backend, run);
    assert.deepEqual(Array.from(values[0]), [1, 3, 6, 4, 9, 15], `${backend}: axis -1`);
    assert.deepEqual(
      Array.from(values[1]),
      [4, 5, 6, 0, 0, 0],
      `${backend}: axis -2, exclusive, reverse`,
    );
    assert.deepEqual(
      Array.from(values[2]),
      [1001, 10010, 100100, 1000, 10000, 100000],
      `${backend}: grad axis 0`,
    );
    // exclusive along the last axis: x_j feeds the outputs after it.
    assert.deepEqual(
      Array.from(values[3]),
      [110, 100, 0, 110000, 100000, 0],
      `${backend}: grad axis -1, exclusive`,
    );
  }
});

Deno.test("tf.math.greater is not differentiable (TF: ops.NotDifferentiable): a mask cast(x > 0) in a differentiated function gives x's other paths only", async () => {
  for (const backend of ["cpu", "wasm"] as const) {
    const run = () => [
      tf.grad((x: tf.Tensor) => tf.mul(x, tf.cast(tf.greater(x, 0), "float32")).sum())(
        tf.tensor1d([-2, 0, 3]),
      ),
      tf.grad((x: tf.Tensor) => tf.cast(tf.greater(x, tf.scalar(1)), "float32").sum())(
        tf.tensor1d([0, 2]),
      ),
    ];
    const { values } = await on(backend, run);
    assert.deepEqual(Array.from(values[0]), [0, 0, 1], `${backend}: d/dx x·[x > 0]`);
    assert.deepEqual(Array.from(values[1]), [0, 0], `${backend}: d/dx [x > 1]`);
  }
});

Deno.test("direct Conv2D and filter gradient (few input channels) on wasm equal cpu", async () => {
  const rand = mulberry32(51);
  const cases: { x: number[]; f: number[]; pad: Pad | number; strides?: number }[] = [
    { x: [3, 12, 12, 1], f: [5, 5, 1, 8], pad: "valid" },
    { x: [2, 13, 13, 1], f: [5, 5, 1, 8], pad: "valid" }, // 9 wide: 2 turns of 4 partial sums, 1 more
    { x: [2, 9, 7, 1], f: [3, 3, 1, 32], pad: "same" },
    { x: [2, 6, 8, 1], f: [2, 4, 1, 12], pad: "same" }, // even filter: uneven padding
    { x: [1, 5, 5, 1], f: [1, 1, 1, 4], pad: 1 },
    { x: [2, 7, 7, 1], f: [3, 3, 1, 36], pad: "valid" }, // 36 channels: the general path
    { x: [2, 7, 7, 1], f: [3, 3, 1, 6], pad: "valid" }, // 6 channels: the general path
    { x: [2, 8, 8, 1], f: [3, 3, 1, 8], pad: "same", strides: 2 }, // stride 2: general path
    // Several input channels: the direct filter gradient (the forward pass is XNNPACK's).
    { x: [3, 12, 12, 8], f: [5, 5, 8, 16], pad: "valid" },
    { x: [2, 9, 7, 3], f: [3, 3, 3, 32], pad: "same" },
    { x: [2, 7, 7, 16], f: [3, 3, 16, 32], pad: "valid" },
    { x: [2, 7, 7, 17], f: [3, 3, 17, 8], pad: "valid" }, // 17 channels: the general path
    // The input gradient as a scatter: "valid", input channels a multiple of 4.
    { x: [2, 9, 6, 4], f: [4, 2, 4, 12], pad: "valid" },
    { x: [1, 5, 5, 32], f: [5, 5, 32, 4], pad: "valid" },
  ];
  for (const { x, f, pad, strides = 1 } of cases) {
    const xv = randArray(rand, x.reduce((a, b) => a * b, 1));
    const fv = randArray(rand, f.reduce((a, b) => a * b, 1));
    const conv = (a: tf.Tensor, w: tf.Tensor) =>
      tf.conv2d(a as tf.Tensor4D, w as tf.Tensor4D, strides, pad as "same");
    const run = () => {
      const [dx, dw] = tf.grads((a: tf.Tensor, w: tf.Tensor) => conv(a, w).square().sum())([
        T(xv, x),
        T(fv, f),
      ]);
      return [conv(T(xv, x), T(fv, f)), dx, dw];
    };
    const what = `direct conv ${JSON.stringify({ x, f, pad, strides })}`;
    assertClose(await on("wasm", run), await on("cpu", run), what);
  }
});

Deno.test("the direct filter gradient applies to stride 1, ≤ 16 input and ≤ 32 output channels", async () => {
  await initBackend({ prefer: "wasm" });
  const backend = tf.backend();
  const x = tf.ones([2, 6, 6, 1]), dy8 = tf.ones([2, 4, 4, 8]), dy6 = tf.ones([2, 4, 4, 6]);
  const attrs = (o: number) => ({ strides: 1, pad: "valid", filterShape: [3, 3, 1, o] });
  const fast = directFilterGrad(backend, x, dy8, attrs(8));
  assert.ok(fast, "8 output channels: expected the direct SIMD path");
  const dw = tf.engine().makeTensorFromTensorInfo(fast);
  // Σ over 2 images × 4 × 4 output positions of 1·1.
  assert.deepEqual(Array.from(dw.dataSync()), new Array(3 * 3 * 8).fill(32));
  dw.dispose();
  assert.equal(directFilterGrad(backend, x, dy6, attrs(6)), undefined);
  const x17 = tf.ones([2, 6, 6, 17]), x2 = tf.ones([2, 6, 6, 2]);
  assert.equal(
    directFilterGrad(backend, x17, dy8, { ...attrs(8), filterShape: [3, 3, 17, 8] }),
    undefined,
  );
  const two = directFilterGrad(backend, x2, dy8, { ...attrs(8), filterShape: [3, 3, 2, 8] });
  assert.ok(two, "2 input channels: expected the direct SIMD path");
  tf.engine().makeTensorFromTensorInfo(two).dispose();
  // The input gradient's scatter: "valid" convolutions with 4k input channels only.
  const w = tf.ones([3, 3, 8, 8]);
  const dxAttrs = (pad: string) => ({ strides: 1, pad, inputShape: [2, 6, 6, 8] });
  const dx = directInputGrad(backend, dy8, w, dxAttrs("valid"));
  assert.ok(dx, "a valid convolution: expected the scatter");
  tf.engine().makeTensorFromTensorInfo(dx).dispose();
  const dySame = tf.ones([2, 6, 6, 8]);
  assert.equal(directInputGrad(backend, dySame, w, dxAttrs("same")), undefined);
  tf.dispose([x, dy8, dy6, x17, x2, w, dySame]);
});

Deno.test("kernels split between two threads (large inputs, odd batches) on wasm equal cpu: direct convs, scatter, MaxPoolGrad, bias add", async () => {
  const rand = mulberry32(41);
  const cases: { x: number[]; f: number[]; pad: "valid" | "same" }[] = [
    { x: [9, 28, 28, 1], f: [3, 3, 1, 32], pad: "valid" }, // direct forward and filter grad
    { x: [16, 13, 13, 32], f: [3, 3, 32, 64], pad: "valid" }, // scatter input grad
    { x: [9, 24, 24, 8], f: [5, 5, 8, 16], pad: "valid" }, // direct filter grad, scatter
  ];
  for (const c of cases) {
    const xv = randArray(rand, c.x.reduce((a, b) => a * b));
    const fv = randArray(rand, c.f.reduce((a, b) => a * b));
    const run = () => {
      const x = T(xv, c.x) as tf.Tensor4D, f = T(fv, c.f) as tf.Tensor4D;
      const { value, grads } = tf.valueAndGrads((x: tf.Tensor, f: tf.Tensor) =>
        tf.conv2d(x as tf.Tensor4D, f as tf.Tensor4D, 1, c.pad).square().sum()
      )([x, f]);
      return [value, ...grads, tf.conv2d(x, f, 1, c.pad)];
    };
    assertClose(await on("wasm", run), await on("cpu", run), `conv ${c.x} * ${c.f}`);
  }
  const xv = randArray(rand, 9 * 26 * 26 * 32), bv = randArray(rand, 32);
  const pool = () => {
    const x = T(xv, [9, 26, 26, 32]) as tf.Tensor4D;
    const dx = tf.grad((v: tf.Tensor) =>
      tf.maxPool(v as tf.Tensor4D, 2, 2, "valid").mul(
        tf.range(1, 9 * 13 * 13 * 32 + 1).reshape([9, 13, 13, 32]),
      ).sum()
    )(x);
    return [dx, tf.add(x, T(bv, [32]))];
  };
  assertClose(await on("wasm", pool), await on("cpu", pool), "MaxPoolGrad and bias add");
});

Deno.test("AdamUpdate split between two threads (a 263,900-element variable) on wasm equals its float32 reference bit for bit", async () => {
  const rand = mulberry32(43);
  const n = 1300 * 203;
  const [x, m, v, g] = [0, 1, 2, 3].map(() => randArray(rand, n));
  for (let i = 0; i < n; i++) v[i] = Math.abs(v[i]);
  const attrs = {
    learningRate: 0.01,
    beta1: 0.9,
    beta2: 0.999,
    epsilon: 1e-7,
    correction1: Math.fround(1 - 0.9 ** 3),
    correction2: Math.fround(1 - 0.999 ** 3),
  };
  const want = [new Float32Array(n), new Float32Array(n), new Float32Array(n)];
  adamUpdateInto(x, m, v, g, want[0], want[1], want[2], attrs);
  const got = await on("wasm", () =>
    tf.engine().runKernel(
      "AdamUpdate",
      { x: T(x, [1300, 203]), m: T(m, [1300, 203]), v: T(v, [1300, 203]), g: T(g, [1300, 203]) },
      attrs as unknown as tf.NamedAttrMap,
    ) as tf.Tensor[]);
  want.forEach((w, k) => {
    const bad = w.findIndex((value, i) => !Object.is(value, got.values[k][i]));
    assert.equal(bad, -1, `output ${k}[${bad}]: got ${got.values[k][bad]}, want ${w[bad]}`);
  });
});

Deno.test("fused Adam on wasm updates a variable's buffer in place only when nothing else holds it: a clone taken before the step keeps the old values, a direct AdamUpdate call leaves its inputs alone", async () => {
  await initBackend({ prefer: "wasm" });
  const rand = mulberry32(44);
  const n = 70_000; // split between the threads, in place
  const start = randArray(rand, n);
  const w = tf.variable(tf.tensor1d(start), true, "adam_in_place_w");
  const opt = tf.train.adam(0.01);
  const step = () => tf.tidy(() => void opt.minimize(() => tf.sum(tf.square(w)) as tf.Scalar));
  step();
  const before = tf.memory().numTensors;
  const buffer = w.dataId;
  step();
  assert.equal(w.dataId, buffer, "an unshared variable was not updated in its own buffer");
  assert.equal(tf.memory().numTensors, before, "in-place Adam leaked tensors");
  // A clone shares the buffer on WASM (identity.ts): the step must not write over it.
  const snapshot = tf.clone(w);
  const old = Float32Array.from(await snapshot.data());
  step();
  assert.notEqual(w.dataId, snapshot.dataId, "a shared buffer was updated in place");
  assert.deepEqual(Array.from(await snapshot.data()), Array.from(old));
  assert.ok((await w.data()).some((x, i) => x !== old[i]), "the variable did not move");
  assert.equal(tf.memory().numTensors, before + 1, "the clone is the only new tensor");
  // Called directly (no inPlace attribute), the kernel returns new tensors.
  const [x, m, v, g] = [0, 1, 2, 3].map(() => tf.tensor1d(randArray(rand, 1000).map(Math.abs)));
  const inputs = await Promise.all([x, m, v, g].map((t) => t.data()));
  const outs = tf.engine().runKernel("AdamUpdate", { x, m, v, g }, {
    learningRate: 0.01,
    beta1: 0.9,
    beta2: 0.999,
    epsilon: 1e-7,
    correction1: 0.1,
    correction2: 0.001,
  }) as tf.Tensor[];
  for (const [i, t] of [x, m, v, g].entries()) {
    assert.deepEqual(Array.from(await t.data()), Array.from(inputs[i]), `input ${i} changed`);
  }
  tf.dispose([w, snapshot, x, m, v, g, ...outs]);
  opt.dispose();
});

Deno.test("tf.matMul on wasm through our GEMM equals cpu across panel edges (6 rows, 8 columns), k blocks (384) and splits along k, every transpose, broadcast batches", async () => {
  const rand = mulberry32(61);
  // m around the 6-row panels, n around the 8-column panels, k around the 384-deep blocks.
  const cases: [number, number, number][] = [
    [1, 1, 1],
    [6, 8, 384],
    [7, 9, 385],
    [131, 70, 800],
    [128, 10, 784],
    [13, 16, 3],
    [5, 33, 769],
    // Deep products with a small C are split along k (SPLIT_K_DEPTH): 3, 4 and 8 shares.
    [45, 7, 2352],
    [13, 9, 3100],
    [20, 16, 6200],
    // A row-major B of 64–512 KiB is read in place (DIRECT_B_BYTES): the MLP's forward
    // (2 rows after the last panel), its weight gradient (xᵀ·dy), a broadcast batch of A.
    [128, 128, 784],
    [784, 128, 128],
    [97, 64, 300],
  ];
  for (const [i, [m, n, k]] of cases.entries()) {
    const direct = i >= 10; // B not transposed: row-major
    const ta = direct ? i === 11 : (i & 1) === 1, tb = direct ? false : (i & 2) === 2;
    const [batchA, batchB] = i === 3 || i === 12
      ? [[2], [1]]
      : i === 4
      ? [[1], [3]]
      : i === 5
      ? [[2], [2]]
      : [
        [],
        [],
      ];
    const aShape = [...batchA, ...(ta ? [k, m] : [m, k])];
    const bShape = [...batchB, ...(tb ? [n, k] : [k, n])];
    const a = randArray(rand, aShape.reduce((p, q) => p * q, 1));
    const b = randArray(rand, bShape.reduce((p, q) => p * q, 1));
    const run = () => [tf.matMul(T(a, aShape), T(b, bShape), ta, tb)];
    assertClose(
      await on("wasm", run),
      await on("cpu", run),
      `matMul ${JSON.stringify({ aShape, bShape, ta, tb })}`,
    );
  }
});

Deno.test("tf.conv2d on wasm through our GEMM (4+ input channels) equals cpu, with its filter and input gradients: strides, dilations, same/valid/explicit padding", async () => {
  const rand = mulberry32(62);
  const cases: { x: number[]; f: number[]; s: number; d: number; pad: Pad }[] = [
    { x: [3, 13, 13, 32], f: [3, 3, 32, 64], s: 1, d: 1, pad: "valid" },
    { x: [2, 12, 11, 8], f: [5, 5, 8, 16], s: 1, d: 1, pad: "same" },
    { x: [2, 15, 14, 4], f: [3, 2, 4, 7], s: 2, d: 1, pad: "same" },
    { x: [1, 9, 10, 12], f: [2, 3, 12, 9], s: 1, d: 1, pad: [[0, 0], [2, 1], [0, 2], [0, 0]] },
    { x: [2, 11, 11, 4], f: [3, 3, 4, 5], s: 1, d: 2, pad: "valid" },
    // More output channels than one block of k (384): the input gradient's other path.
    { x: [2, 5, 5, 4], f: [2, 2, 4, 390], s: 1, d: 1, pad: "valid" },
  ];
  for (const c of cases) {
    const x = randArray(rand, c.x.reduce((a, b) => a * b));
    const f = randArray(rand, c.f.reduce((a, b) => a * b));
    const run = () => convAndGrads(T(x, c.x), T(f, c.f), c.s, c.pad, c.d);
    assertClose(await on("wasm", run), await on("cpu", run), `conv2d ${JSON.stringify(c)}`);
  }
});

Deno.test("the GEMM convolution paths apply where they should, and useGemm(false) takes the previous paths with the same results", async () => {
  await initBackend({ prefer: "wasm" });
  const backend = tf.backend();
  const x = tf.randomNormal([2, 9, 9, 8], 0, 1, "float32", 1) as tf.Tensor4D;
  const f = tf.randomNormal([3, 3, 8, 8], 0, 1, "float32", 2) as tf.Tensor4D;
  const dy = tf.randomNormal([2, 7, 7, 8], 0, 1, "float32", 3) as tf.Tensor4D;
  const attrs = { strides: 1, pad: "valid" };
  const made = [
    gemmConv2D(backend, x, f, attrs),
    gemmFilterGrad(backend, x, dy, { ...attrs, filterShape: [3, 3, 8, 8] }),
    gemmInputGrad(backend, dy, f, { ...attrs, inputShape: [2, 9, 9, 8] }),
  ];
  assert.ok(made.every((t) => t !== undefined), "float32 NHWC convolutions take the GEMM");
  for (const t of made) backend.disposeData(t!.dataId);
  // Input channels not a multiple of 4: the scatter does not apply.
  const x3 = tf.zeros([1, 5, 5, 3]) as tf.Tensor4D, f3 = tf.zeros([3, 3, 3, 2]) as tf.Tensor4D;
  const dy3 = tf.zeros([1, 3, 3, 2]) as tf.Tensor4D;
  assert.equal(gemmInputGrad(backend, dy3, f3, { ...attrs, inputShape: [1, 5, 5, 3] }), undefined);
  const nchw = gemmConv2D(backend, x3, f3, { ...attrs, dataFormat: "NCHW" });
  assert.equal(nchw, undefined, "NCHW is not ours");
  const results = async () => {
    const out = tf.tidy(() => {
      const { grads } = tf.valueAndGrads((a: tf.Tensor, b: tf.Tensor) =>
        tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, 1, "valid").square().sum()
      )([x, f]);
      return [tf.matMul(x.reshape([18, 72]), x.reshape([18, 72]), true, false), ...grads];
    });
    const values = await Promise.all(out.map((t) => t.data()));
    tf.dispose(out);
    return values;
  };
  const withGemm = await results();
  assert.equal(useGemm(false), true);
  try {
    assert.equal(
      gemmConv2D(backend, x, f, attrs),
      undefined,
      "off: the GEMM paths decline",
    );
    const without = await results();
    for (let i = 0; i < withGemm.length; i++) {
      for (let j = 0; j < withGemm[i].length; j++) {
        assert.ok(Math.abs(withGemm[i][j] - without[i][j]) <= 1e-3 * (1 + Math.abs(without[i][j])));
      }
    }
  } finally {
    useGemm(true);
  }
  tf.dispose([x, f, dy, x3, f3, dy3]);
});

Deno.test("tf.conv2d with 3x3 filters at stride 1 on wasm (Winograd F(2x2, 3x3) and F(4x4, 3x3), images grouped) equals cpu, with its input and filter gradients: odd and even sizes, same/valid/explicit padding, one tile", async () => {
  const rand = mulberry32(63);
  const cases: { x: number[]; f: number[]; pad: Pad }[] = [
    { x: [3, 13, 13, 32], f: [3, 3, 32, 64], pad: "valid" }, // 11x11: odd, last tiles cut
    { x: [2, 12, 12, 8], f: [3, 3, 8, 12], pad: "valid" }, // 10x10: even
    { x: [2, 7, 9, 4], f: [3, 3, 4, 8], pad: "same" }, // 7x9, padded inside the kernel
    { x: [1, 3, 3, 4], f: [3, 3, 4, 4], pad: "valid" }, // one output, one tile
    { x: [2, 6, 5, 8], f: [3, 3, 8, 4], pad: [[0, 0], [2, 0], [1, 2], [0, 0]] },
    { x: [8, 6, 6, 4], f: [3, 3, 4, 8], pad: "valid" }, // F(4x4): one tile, 8 images a call
    { x: [4, 14, 10, 8], f: [3, 3, 8, 8], pad: "same" }, // F(4x4): cut rows and columns
  ];
  for (const m of [2, 4, undefined] as const) {
    const before = useWinogradTile(m);
    try {
      for (const c of cases) {
        const x = randArray(rand, c.x.reduce((a, b) => a * b));
        const f = randArray(rand, c.f.reduce((a, b) => a * b));
        const run = () => convAndGrads(T(x, c.x), T(f, c.f), 1, c.pad);
        const what = `winograd F(${m ?? "auto"}) ${JSON.stringify(c)}`;
        assertClose(await on("wasm", run), await on("cpu", run), what);
      }
    } finally {
      useWinogradTile(before);
    }
  }
  // Where it applies: 3x3, stride and dilation 1, channels in and out multiples of 4, NHWC.
  await initBackend({ prefer: "wasm" });
  const backend = tf.backend();
  const attrs = { strides: 1, pad: "valid" };
  const taken = (xs: number[], fs: number[], a: Record<string, unknown> = attrs) => {
    const [x, f] = [tf.zeros(xs), tf.zeros(fs)];
    const y = winogradConv2D(backend, x, f, a as never);
    if (y) backend.disposeData(y.dataId);
    tf.dispose([x, f]);
    return y !== undefined;
  };
  assert.equal(taken([1, 9, 9, 8], [3, 3, 8, 8]), true);
  assert.equal(taken([1, 9, 9, 8], [3, 3, 8, 8], { strides: 2, pad: "valid" }), false);
  assert.equal(taken([1, 9, 9, 8], [3, 3, 8, 8], { ...attrs, dilations: 2 }), false);
  assert.equal(taken([1, 9, 9, 8], [5, 5, 8, 8]), false);
  assert.equal(taken([1, 9, 9, 3], [3, 3, 3, 8]), false);
  assert.equal(taken([1, 9, 9, 8], [3, 3, 8, 6]), false);
  assert.equal(taken([1, 8, 9, 9], [3, 3, 8, 8], { ...attrs, dataFormat: "NCHW" }), false);
  // An image whose transforms would outgrow MAX_IMAGE_SCRATCH (16 MB): the GEMM instead.
  assert.equal(taken([1, 130, 130, 64], [3, 3, 64, 64]), false);
  assert.equal(taken([1, 64, 64, 64], [3, 3, 64, 64]), true);
  const dy = tf.zeros([1, 7, 7, 8]), f = tf.zeros([3, 3, 8, 8]);
  const dx = winogradInputGrad(backend, dy, f, { ...attrs, inputShape: [1, 9, 9, 8] });
  assert.ok(dx, "the input gradient of an eligible convolution takes F(2x2, 3x3)");
  const x = tf.zeros([1, 9, 9, 8]);
  const dw = winogradFilterGrad(backend, x, dy, { ...attrs, filterShape: [3, 3, 8, 8] });
  assert.ok(dw, "and so does its filter gradient");
  backend.disposeData(dx.dataId);
  backend.disposeData(dw.dataId);
  tf.dispose([dy, f, x]);
});
