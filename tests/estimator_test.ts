/** The Estimator: checkpoints while training, resume by a new Estimator, evaluate/predict from the latest checkpoint. */
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../lib/backend.ts";
import { Estimator, EstimatorError, type ModelFn, readScalars } from "../lib/ecosystem/mod.ts";
import type { TrainingCallback } from "../lib/training/callbacks.ts";

await initBackend({ prefer: "cpu" });

/** 4 features, 3 classes; the label is the argmax of a fixed linear map (learnable). */
function makeData(n: number, seed: number): { x: Float32Array; y: Uint8Array } {
  let s = seed;
  const rand = () => ((s = (s * 1664525 + 1013904223) >>> 0) / 2 ** 32) * 2 - 1;
  const x = new Float32Array(n * 4);
  const y = new Uint8Array(n);
  const W = [[1, -1, 0], [0.5, 1, -1], [-1, 0.2, 1], [0.3, -0.5, 0.8]];
  for (let i = 0; i < n; i++) {
    const s3 = [0, 0, 0];
    for (let j = 0; j < 4; j++) {
      x[i * 4 + j] = rand();
      for (let c = 0; c < 3; c++) s3[c] += x[i * 4 + j] * W[j][c];
    }
    y[i] = s3.indexOf(Math.max(...s3));
  }
  return { x, y };
}

const data = makeData(96, 7);
const inputFn = (batch = 16) =>
  function* () {
    for (let i = 0; i < 96; i += batch) {
      yield {
        features: tf.tensor2d(data.x.slice(i * 4, (i + batch) * 4), [batch, 4]),
        labels: tf.tidy(() =>
          tf.oneHot(tf.tensor1d(data.y.slice(i, i + batch), "int32"), 3).toFloat()
        ),
      };
    }
  };

const modelFn: ModelFn = (features, labels, mode, ctx) => {
  const w = ctx.getVariable("dense/kernel", [4, 3], "glorotUniform");
  const b = ctx.getVariable("dense/bias", [3], "zeros");
  const logits = features.matMul(w).add(b);
  const predictions = { classes: logits.argMax(1), probabilities: tf.softmax(logits) };
  if (mode === "infer") return { predictions };
  const loss = tf.losses.softmaxCrossEntropy(labels!, logits) as tf.Scalar;
  const accuracy = tf.metrics.categoricalAccuracy(labels!, logits).mean() as tf.Scalar;
  return {
    predictions,
    loss,
    optimizer: () => tf.train.sgd(Number(ctx.params.lr ?? 0.5)),
    evalMetrics: { accuracy },
  };
};

Deno.test("Estimator trains with checkpoints, a new Estimator resumes, evaluate reads the latest", async () => {
  const dir = await Deno.makeTempDir({ prefix: "est_test_" });
  try {
    const config = { saveCheckpointsSteps: 5, keepCheckpointMax: 2, saveSummarySteps: 2 };
    const a = new Estimator({ modelFn, modelDir: dir, params: { lr: 0.5 }, config });
    await assert.rejects(() => a.evaluate(inputFn()), EstimatorError);
    let batches = 0, epochs = 0;
    const counter: TrainingCallback = {
      onBatchEnd: (_s, logs) => {
        assert.ok(Number.isFinite(logs.loss) && logs.size === 16);
        batches++;
      },
      onEpochEnd: () => void epochs++,
    };
    const before = tf.memory().numTensors;
    const r1 = await a.train(inputFn(), { steps: 12, callbacks: [counter] }); // 6 batches per pass: 2 passes
    assert.equal(r1.globalStep, 12);
    assert.equal(batches, 12);
    assert.equal(epochs, 1);
    const afterFirst = tf.memory().numTensors;
    await a.train(inputFn(), { steps: 3 });
    assert.equal(a.globalStep, 15);
    assert.equal(tf.memory().numTensors, afterFirst, "no tensors leak per training step");
    assert.ok(afterFirst - before <= 4, "only the variables (and optimizer state) stay");

    const index = await Deno.readTextFile(`${dir}/checkpoint`);
    assert.match(index, /^model_checkpoint_path: "model.ckpt-15"$/m);
    const ckpts = [...Deno.readDirSync(dir)].map((e) => e.name).filter((n) =>
      n.startsWith("model.ckpt-")
    );
    assert.deepEqual(
      ckpts.sort(),
      ["model.ckpt-12", "model.ckpt-15"],
      "saved at 5, 10, 12, 15; keepCheckpointMax = 2",
    );
    assert.equal(await a.latestCheckpoint(), `${dir}/model.ckpt-15`);

    const evalA = await a.evaluate(inputFn());
    assert.equal(evalA.globalStep, 15);
    const wA = await a.variables.get("dense/kernel")!.data();

    // A new Estimator on the same directory: same weights, same metrics, the step continues.
    const b = new Estimator({ modelFn, modelDir: dir, params: { lr: 0.5 }, config });
    const evalB = await b.evaluate(inputFn());
    assert.deepEqual(await b.variables.get("dense/kernel")!.data(), wA);
    assert.ok(Math.abs(evalB.loss - evalA.loss) < 1e-6);
    assert.equal(evalB.accuracy, evalA.accuracy);
    const r2 = await b.train(inputFn(), { steps: 30 });
    assert.equal(r2.globalStep, 45);
    const evalB2 = await b.evaluate(inputFn());
    assert.ok(
      evalB2.loss < evalA.loss,
      `loss keeps falling after the resume (${evalB2.loss} < ${evalA.loss})`,
    );
    assert.ok(evalB2.accuracy > 0.7, `learns the rule (accuracy ${evalB2.accuracy})`);

    // predict reads the latest checkpoint too: one record per example.
    const c = new Estimator({ modelFn, modelDir: dir, config });
    const preds = await c.predict(inputFn(), { limit: 20 });
    assert.equal(preds.length, 20);
    assert.equal((preds[0].probabilities as number[]).length, 3);
    let correct = 0;
    preds.forEach((p, i) => (correct += Number(p.classes === data.y[i])));
    assert.ok(correct >= 12, `predictions agree with labels (${correct}/20)`);

    // TensorBoard summaries: training loss at global steps, eval metrics under eval/.
    const s = await readScalars(dir);
    assert.deepEqual(s["./loss"].steps.slice(0, 3), [2, 4, 6]);
    assert.ok(s["eval/accuracy"].steps.includes(45));
    a.dispose();
    b.dispose();
    c.dispose();
    assert.equal(tf.memory().numTensors, before, "dispose frees the variables");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("Estimator rejects a modelFn without loss or optimizer, and bad steps", async () => {
  const dir = await Deno.makeTempDir({ prefix: "est_bad_" });
  try {
    const noLoss = new Estimator({ modelFn: (f) => ({ predictions: f }), modelDir: dir });
    await assert.rejects(() => noLoss.train(inputFn(), { steps: 1 }), /no scalar loss/);
    const noOpt: ModelFn = (f, l, _m, ctx) => ({
      loss: tf.losses.meanSquaredError(l!, f.matMul(ctx.getVariable("w", [4, 3]))) as tf.Scalar,
    });
    const e = new Estimator({ modelFn: noOpt, modelDir: dir });
    await assert.rejects(() => e.train(inputFn(), { steps: 1 }), /no optimizer/);
    await assert.rejects(() => e.train(inputFn(), { steps: 0 }), /positive integer/);
    e.dispose();
    noLoss.dispose();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("resuming with Adam gives the same weights as training without a break", async () => {
  const adamFn: ModelFn = (features, labels, mode, ctx) => {
    const spec = modelFn(features, labels, mode, ctx);
    return { ...spec, optimizer: () => tf.train.adam(0.05) };
  };
  const dirA = await Deno.makeTempDir({ prefix: "est_adam_a_" });
  const dirB = await Deno.makeTempDir({ prefix: "est_adam_b_" });
  try {
    const before = tf.memory().numTensors;
    const straight = new Estimator({ modelFn: adamFn, modelDir: dirA });
    await straight.train(inputFn(), { steps: 18 });
    const first = new Estimator({ modelFn: adamFn, modelDir: dirB });
    await first.train(inputFn(), { steps: 12 }); // two whole passes: the next call starts a pass
    first.dispose();
    const second = new Estimator({ modelFn: adamFn, modelDir: dirB });
    const r = await second.train(inputFn(), { steps: 6 });
    assert.equal(r.globalStep, 18);
    for (const name of ["dense/kernel", "dense/bias"]) {
      const a = await straight.variables.get(name)!.data();
      const b = await second.variables.get(name)!.data();
      assert.deepEqual(b, a, `${name}: resumed == uninterrupted`);
    }
    // Without the optimizer state the resumed run would differ: Adam restarts its moments.
    const saved = await Deno.readFile(`${dirB}/model.ckpt-18`);
    assert.ok(saved.length > 0);
    straight.dispose();
    second.dispose();
    assert.equal(tf.memory().numTensors, before, "no tensors left behind");
  } finally {
    await Deno.remove(dirA, { recursive: true });
    await Deno.remove(dirB, { recursive: true });
  }
});
