/**
 * `tf.losses.softmaxCrossEntropy` through TensorFlow's fused
 * `SoftmaxCrossEntropyWithLogits` kernel (lib/kernels/softmax_cross_entropy.ts),
 * checked against TensorFlow's definitions: `tf.nn.softmax_cross_entropy_with_logits`
 * (loss = −Σ labels·log_softmax(logits) over the last axis) and its gradient in
 * `nn_grad.py` (`_SoftmaxCrossEntropyWithLogitsGrad`: softmax − labels for the logits,
 * −log_softmax for the labels), computed here in float64.
 */
import { strict as assert } from "node:assert";
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../lib/backend.ts";
import { mulberry32 } from "../lib/_random.ts";
import { tfFunction } from "../lib/function.ts";
import { GradientTape } from "../lib/tape.ts";
import { SOFTMAX_CROSS_ENTROPY } from "../lib/kernels/mod.ts";

const BACKENDS = ["cpu", "wasm"] as const;

/** Rows of logits and labels; labels are soft (each row a distribution) unless `hard`. */
function problem(seed: number, rows: number, classes: number, hard = false) {
  const rand = mulberry32(seed);
  const logits = Array.from({ length: rows * classes }, () => (rand() - 0.5) * 8);
  const labels: number[] = [];
  for (let r = 0; r < rows; r++) {
    const hot = Math.floor(rand() * classes);
    const row = Array.from({ length: classes }, (_, j) => hard ? Number(j === hot) : rand());
    const sum = row.reduce((a, b) => a + b, 0);
    labels.push(...row.map((v) => v / sum));
  }
  return { logits, labels };
}

/** float64 log_softmax over rows of `classes`. */
function logSoftmax(logits: number[], classes: number): number[] {
  const out: number[] = [];
  for (let at = 0; at < logits.length; at += classes) {
    const row = logits.slice(at, at + classes);
    const max = Math.max(...row);
    const lse = max + Math.log(row.reduce((s, x) => s + Math.exp(x - max), 0));
    out.push(...row.map((x) => x - lse));
  }
  return out;
}

function close(got: ArrayLike<number>, want: number[], what: string, tol = 2e-6): void {
  assert.equal(got.length, want.length, what);
  for (let i = 0; i < want.length; i++) {
    const err = Math.abs(got[i] - want[i]);
    assert.ok(
      err <= tol * Math.max(1, Math.abs(want[i])),
      `${what}[${i}]: ${got[i]} vs ${want[i]}`,
    );
  }
}

async function kernelsOf(f: () => tf.TensorContainer): Promise<string[]> {
  const info = await tf.profile(() => {
    tf.dispose(f());
  });
  return info.kernels.map((k) => k.name);
}

Deno.test("tf.losses.softmaxCrossEntropy on cpu and wasm is TF's fused SoftmaxCrossEntropyWithLogits: loss = −Σ labels·log_softmax(logits) per row, then each reduction (NONE, SUM, MEAN, SUM_BY_NONZERO_WEIGHTS), for [batch, classes] and [a, b, classes]", async () => {
  for (const backend of BACKENDS) {
    await initBackend({ prefer: backend });
    for (const shape of [[16, 10], [3, 4, 7]]) {
      const classes = shape[shape.length - 1];
      const { logits, labels } = problem(
        shape.length,
        shape.reduce((a, b) => a * b) / classes,
        classes,
      );
      const ls = logSoftmax(logits, classes);
      const perRow: number[] = [];
      for (let at = 0; at < ls.length; at += classes) {
        let l = 0;
        for (let j = 0; j < classes; j++) l -= labels[at + j] * ls[at + j];
        perRow.push(l);
      }
      const sum = perRow.reduce((a, b) => a + b, 0);
      const want: Record<string, number[]> = {
        [tf.Reduction.NONE]: perRow,
        [tf.Reduction.SUM]: [sum],
        [tf.Reduction.MEAN]: [sum / perRow.length],
        [tf.Reduction.SUM_BY_NONZERO_WEIGHTS]: [sum / perRow.length],
      };
      const [y, z] = [tf.tensor(labels, shape), tf.tensor(logits, shape)];
      for (const reduction of Object.keys(want)) {
        const loss = tf.losses.softmaxCrossEntropy(y, z, undefined, 0, Number(reduction));
        assert.deepEqual(
          loss.shape,
          Number(reduction) === tf.Reduction.NONE ? shape.slice(0, -1) : [],
        );
        close(await loss.data(), want[reduction], `${backend} ${shape} reduction ${reduction}`);
        loss.dispose();
      }
      const ran = await kernelsOf(() => tf.losses.softmaxCrossEntropy(y, z));
      assert.ok(ran.includes(SOFTMAX_CROSS_ENTROPY), `${backend}: ${ran}`);
      assert.ok(!ran.includes("Exp") && !ran.includes("Max"), `${backend}: ${ran}`);
      tf.dispose([y, z]);
    }
  }
});

Deno.test("the gradient of tf.losses.softmaxCrossEntropy is TF's (nn_grad.py): dy·(softmax(logits) − labels) for the logits and −dy·log_softmax(logits) for the labels", async () => {
  for (const backend of BACKENDS) {
    await initBackend({ prefer: backend });
    const [rows, classes] = [6, 5];
    const { logits, labels } = problem(7, rows, classes);
    const ls = logSoftmax(logits, classes);
    const [y, z] = [tf.tensor2d(labels, [rows, classes]), tf.tensor2d(logits, [rows, classes])];
    // The mean over rows: dy = 1/rows for every row.
    const [dLabels, dLogits] = tf.grads((a: tf.Tensor, b: tf.Tensor) =>
      tf.losses.softmaxCrossEntropy(a, b) as tf.Scalar
    )([y, z]);
    close(
      await dLogits.data(),
      ls.map((l, i) => (Math.exp(l) - labels[i]) / rows),
      `${backend} d/dlogits`,
    );
    close(await dLabels.data(), ls.map((l) => -l / rows), `${backend} d/dlabels`);
    // Per-example losses weighted by an upstream gradient of our choosing.
    const dy = Array.from({ length: rows }, (_, r) => r - 2.5);
    const grad = tf.grad((b: tf.Tensor) =>
      tf.sum(tf.mul(tf.losses.softmaxCrossEntropy(y, b, undefined, 0, tf.Reduction.NONE), dy))
    )(z);
    const want = ls.map((l, i) => dy[Math.floor(i / classes)] * (Math.exp(l) - labels[i]));
    close(await grad.data(), want, `${backend} d/dlogits with dy`);
    tf.dispose([y, z, dLabels, dLogits, grad]);
  }
});

Deno.test("second derivatives of tf.losses.softmaxCrossEntropy through nested tapes: the Hessian-vector product with respect to the logits is (diag(p) − p·pᵀ)·v per row, divided by the batch", async () => {
  for (const backend of BACKENDS) {
    await initBackend({ prefer: backend });
    const [rows, classes] = [3, 4];
    const { logits, labels } = problem(11, rows, classes, true);
    const v = problem(12, rows, classes).logits;
    const [y, z, u] = [
      tf.tensor2d(labels, [rows, classes]),
      tf.tensor2d(logits, [rows, classes]),
      tf.tensor2d(v, [rows, classes]),
    ];
    // TF's guide ("Advanced automatic differentiation", Hessian-vector product): nested tapes.
    const outer = new GradientTape();
    outer.watch(z);
    const gu = outer.record(() => {
      const inner = new GradientTape();
      inner.watch(z);
      const loss = inner.record(() => tf.losses.softmaxCrossEntropy(y, z));
      const [g] = inner.gradient(loss, [z]);
      return tf.sum(tf.mul(g!, u));
    });
    const [hvp] = outer.gradient(gu, [z]);
    const p = logSoftmax(logits, classes).map(Math.exp);
    const want: number[] = [];
    for (let r = 0; r < rows; r++) {
      const at = r * classes;
      let pv = 0;
      for (let j = 0; j < classes; j++) pv += p[at + j] * v[at + j];
      for (let i = 0; i < classes; i++) want.push(p[at + i] * (v[at + i] - pv) / rows);
    }
    close(await hvp!.data(), want, `${backend} Hessian-vector product`, 1e-5);
    tf.dispose([y, z, u, hvp!, gu]);
  }
});

Deno.test("tf.losses.softmaxCrossEntropy with weights or label smoothing keeps tfjs's ops (same values as the formula), a shape mismatch keeps tfjs's error, and nothing leaks", async () => {
  await initBackend({ prefer: "wasm" });
  const [rows, classes] = [4, 3];
  const { logits, labels } = problem(13, rows, classes, true);
  const [y, z] = [tf.tensor2d(labels, [rows, classes]), tf.tensor2d(logits, [rows, classes])];
  const weights = tf.tensor1d([1, 0, 2, 1]);
  const ran = await kernelsOf(() => tf.losses.softmaxCrossEntropy(y, z, weights));
  assert.ok(!ran.includes(SOFTMAX_CROSS_ENTROPY), `weights: ${ran}`);
  // tfjs's label smoothing: labels·(1 − s) + s/classes.
  const s = 0.1;
  const smoothed = labels.map((l) => l * (1 - s) + s / classes);
  const ls = logSoftmax(logits, classes);
  let sum = 0;
  for (let i = 0; i < ls.length; i++) sum -= smoothed[i] * ls[i];
  const loss = tf.losses.softmaxCrossEntropy(y, z, undefined, s);
  close(await loss.data(), [sum / rows], "label smoothing", 1e-5);
  const wrong = tf.zeros([rows, classes + 1]);
  const before = tf.memory().numTensors;
  for (let i = 0; i < 3; i++) {
    assert.throws(
      () => tf.losses.softmaxCrossEntropy(y, wrong),
      /Error in softmaxCrossEntropy: +Shapes 4,3 and 4,4 must match/,
    );
    tf.dispose(
      tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.losses.softmaxCrossEntropy(a, b) as tf.Scalar)([
        y,
        z,
      ]),
    );
  }
  assert.equal(tf.memory().numTensors, before, "tensors leaked");
  tf.dispose([y, z, weights, loss, wrong]);
});

Deno.test("tf.losses.softmaxCrossEntropy on tf.Variables inside a traced function is TF's SoftmaxCrossEntropyWithLogits graph op, with the same loss and GradientTape gradient as eagerly", async () => {
  await initBackend({ prefer: "wasm" });
  const [rows, classes] = [5, 4];
  const { logits, labels } = problem(17, rows, classes);
  const z = tf.variable(tf.tensor2d(logits, [rows, classes]), true, "xent_traced_logits");
  const y = tf.tensor2d(labels, [rows, classes]);
  const lossAndGrad = () => {
    const tape = new GradientTape();
    const loss = tape.record(() => tf.losses.softmaxCrossEntropy(y, z) as tf.Scalar);
    const [g] = tape.gradient(loss, [z]);
    return [loss, g!];
  };
  const traced = tfFunction(lossAndGrad, { scope: { GradientTape, y, z } });
  const [tl, tg] = traced() as tf.Tensor[];
  const [el, eg] = lossAndGrad();
  close(await tl.data(), Array.from(await el.data()), "loss", 1e-5);
  close(await tg.data(), Array.from(await eg.data()), "gradient", 1e-5);
  const types = traced.getConcreteFunction().graph.operations.map((o) => o.type);
  assert.ok(types.includes("SoftmaxCrossEntropyWithLogits"), types.join(","));
  tf.dispose([tl, tg, el, eg, y, z]);
  traced.dispose();
});
