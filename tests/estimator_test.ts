/** The Estimator: checkpoints while training, resume by a new Estimator, evaluate/predict from the latest checkpoint. */
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../lib/backend.ts";
import {
  Estimator,
  EstimatorError,
  type InputFn,
  type ModelFn,
  readScalars,
} from "../lib/ecosystem/mod.ts";
import { CheckpointError, readCheckpoint } from "../lib/variables.ts";
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

/**
 * 96 examples in batches of 20 (a pass is 5 batches, the last of 16), in an
 * order shuffled by the pass: `epoch` seeds it, as `ds.batches(20, { shuffle: true,
 * seed: 1 + epoch })` would. Records which examples each step saw.
 */
function shuffledInput(seen: number[][]): InputFn {
  return function* ({ epoch }) {
    const order = Array.from({ length: 96 }, (_, i) => i);
    let s = 1 + epoch;
    for (let i = order.length - 1; i > 0; i--) {
      s = (s * 1103515245 + 12345) >>> 0;
      const j = s % (i + 1);
      [order[i], order[j]] = [order[j], order[i]];
    }
    for (let i = 0; i < 96; i += 20) {
      const idx = order.slice(i, i + 20);
      seen.push(idx);
      yield {
        features: tf.tensor2d(idx.flatMap((k) => Array.from(data.x.slice(k * 4, k * 4 + 4))), [
          idx.length,
          4,
        ]),
        labels: tf.tidy(() =>
          tf.oneHot(tf.tensor1d(idx.map((k) => data.y[k]), "int32"), 3).toFloat()
        ),
      };
    }
  };
}

const adamFn: ModelFn = (features, labels, mode, ctx) => ({
  ...modelFn(features, labels, mode, ctx),
  optimizer: () => tf.train.adam(0.05),
});

Deno.test("tf.estimator resume: train(7) == train(4) + a new Estimator's train(3), the input position and its shuffle resumed (7 and 4 do not divide the 5-batch pass)", async () => {
  const dirA = await Deno.makeTempDir({ prefix: "est_pos_a_" });
  const dirB = await Deno.makeTempDir({ prefix: "est_pos_b_" });
  try {
    const before = tf.memory().numTensors;
    const seenA: number[][] = [];
    const straight = new Estimator({ modelFn: adamFn, modelDir: dirA });
    await straight.train(shuffledInput(seenA), { steps: 7 });
    const seenB: number[][] = [];
    const first = new Estimator({ modelFn: adamFn, modelDir: dirB });
    await first.train(shuffledInput(seenB), { steps: 4 });
    first.dispose();
    const ckpt4 = await readCheckpoint(`${dirB}/model.ckpt-4`);
    assert.deepEqual(ckpt4.metadata.input, { epoch: 0, batch: 4 }, "the position is saved");
    const seenResumed: number[][] = [];
    const second = new Estimator({ modelFn: adamFn, modelDir: dirB });
    const r = await second.train(shuffledInput(seenResumed), { steps: 3 });
    assert.equal(r.globalStep, 7);
    // The resumed run trained on pass 0's last batch, then pass 1's first two (reshuffled).
    const trainedA = seenA;
    const trainedB = [...seenB, ...seenResumed.slice(4)];
    assert.deepEqual(trainedB, trainedA, "the same batches in the same order");
    assert.notDeepEqual(trainedA[5], trainedA[0], "each pass is shuffled anew");
    for (const name of ["dense/kernel", "dense/bias"]) {
      const a = await straight.variables.get(name)!.data();
      const b = await second.variables.get(name)!.data();
      assert.deepEqual(b, a, `${name}: resumed == uninterrupted`);
    }
    assert.deepEqual((await readCheckpoint(`${dirB}/model.ckpt-7`)).metadata.input, {
      epoch: 1,
      batch: 2,
    });
    straight.dispose();
    second.dispose();
    assert.equal(tf.memory().numTensors, before, "skipped batches are disposed too");
  } finally {
    await Deno.remove(dirA, { recursive: true });
    await Deno.remove(dirB, { recursive: true });
  }
});

Deno.test("RunConfig keep_checkpoint_max: 0 keeps every checkpoint (TF), negative or fractional is refused", async () => {
  const dir = await Deno.makeTempDir({ prefix: "est_keep_" });
  try {
    const e = new Estimator({
      modelFn,
      modelDir: dir,
      config: { keepCheckpointMax: 0, saveCheckpointsSteps: 2 },
    });
    await e.train(inputFn(), { steps: 7 });
    const ckpts = [...Deno.readDirSync(dir)].map((x) => x.name).filter((n) =>
      n.startsWith("model.ckpt-")
    ).sort();
    assert.deepEqual(ckpts, ["model.ckpt-2", "model.ckpt-4", "model.ckpt-6", "model.ckpt-7"]);
    assert.equal(await e.latestCheckpoint(), `${dir}/model.ckpt-7`);
    e.dispose();
    for (const bad of [-1, 1.5, NaN]) {
      assert.throws(
        () => new Estimator({ modelFn, modelDir: dir, config: { keepCheckpointMax: bad } }),
        (err: unknown) =>
          err instanceof EstimatorError && /keepCheckpointMax must be a whole number >= 0/.test(
            err.message,
          ),
      );
    }
    assert.throws(
      () => new Estimator({ modelFn, modelDir: dir, config: { saveCheckpointsSteps: 0 } }),
      /saveCheckpointsSteps must be a whole number >= 1/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("the checkpoint index cannot make the Estimator delete or read files that are not its own", async () => {
  const root = await Deno.makeTempDir({ prefix: "est_index_" });
  try {
    const dir = `${root}/model`;
    await Deno.mkdir(dir);
    const victim = `${root}/victim.txt`;
    await Deno.writeTextFile(victim, "precious");
    await Deno.writeTextFile(`${dir}/notes.txt`, "mine");
    const config = { keepCheckpointMax: 1 };
    const a = new Estimator({ modelFn, modelDir: dir, config });
    await a.train(inputFn(), { steps: 1 });
    // A hostile index: deletion candidates outside modelDir and a non-checkpoint inside.
    await Deno.writeTextFile(
      `${dir}/checkpoint`,
      'model_checkpoint_path: "model.ckpt-1"\n' +
        'all_model_checkpoint_paths: "../victim.txt"\n' +
        `all_model_checkpoint_paths: "${victim}"\n` +
        'all_model_checkpoint_paths: "notes.txt"\n' +
        'all_model_checkpoint_paths: "model.ckpt-1"\n',
    );
    await a.train(inputFn(), { steps: 2 });
    await a.train(inputFn(), { steps: 1 });
    assert.equal(await Deno.readTextFile(victim), "precious");
    assert.equal(await Deno.readTextFile(`${dir}/notes.txt`), "mine");
    assert.ok(!(await Deno.stat(`${dir}/model.ckpt-1`).catch(() => null)), "its own old one went");
    assert.match(
      await Deno.readTextFile(`${dir}/checkpoint`),
      /^model_checkpoint_path: "model.ckpt-4"\nall_model_checkpoint_paths: "model.ckpt-4"\n$/,
    );
    a.dispose();
    // A latest path out of modelDir (relative or absolute) is refused, not read.
    for (const latest of ["../victim.txt", victim, "/etc/passwd"]) {
      await Deno.writeTextFile(`${dir}/checkpoint`, `model_checkpoint_path: "${latest}"\n`);
      const b = new Estimator({ modelFn, modelDir: dir });
      await assert.rejects(b.evaluate(inputFn()), (e: unknown) => {
        assert.ok(e instanceof EstimatorError, String(e));
        assert.match(e.message, /is not a checkpoint of this Estimator/);
        return true;
      });
      b.dispose();
    }
    // An absolute path naming its own file in modelDir (as TensorFlow writes them) is read.
    await Deno.writeTextFile(`${dir}/checkpoint`, `model_checkpoint_path: "${dir}/model.ckpt-4"\n`);
    const c = new Estimator({ modelFn, modelDir: dir });
    assert.equal((await c.evaluate(inputFn())).globalStep, 4);
    c.dispose();
    // Its own name, but a symlink that leads out of modelDir: refused.
    await Deno.symlink(victim, `${dir}/model.ckpt-9`);
    await Deno.writeTextFile(`${dir}/checkpoint`, 'model_checkpoint_path: "model.ckpt-9"\n');
    const d = new Estimator({ modelFn, modelDir: dir });
    await assert.rejects(d.evaluate(inputFn()), (e: unknown) => {
      assert.ok(e instanceof CheckpointError, String(e));
      assert.match(e.message, /symlink that leads out of the folder/);
      return true;
    });
    d.dispose();
    assert.equal(await Deno.readTextFile(victim), "precious");
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("an Estimator modelDir that is a file, or not UTF-8, is an EstimatorError naming it", async () => {
  const file = await Deno.makeTempFile({ prefix: "est_file_" });
  try {
    assert.throws(() => new Estimator({ modelFn, modelDir: file }), (e: unknown) => {
      assert.ok(e instanceof EstimatorError, String(e));
      assert.ok(e.message.includes(file));
      assert.match(e.message, /is a file, not a folder/);
      return true;
    });
  } finally {
    await Deno.remove(file);
  }
  // A folder whose name is not UTF-8 (Deno sees U+FFFD and cannot open it): said so.
  const root = await Deno.makeTempDir({ prefix: "est_utf8_" });
  try {
    const py = new Deno.Command("/usr/bin/python3", {
      args: ["-c", `import os; os.makedirs(os.fsencode(${JSON.stringify(root)}) + b"/bad\\xff")`],
    });
    assert.equal((await py.output()).code, 0);
    const bad = [...Deno.readDirSync(root)].find((e) => e.name.startsWith("bad"))!.name;
    assert.throws(
      () => new Estimator({ modelFn, modelDir: `${root}/${bad}` }),
      (e: unknown) => e instanceof EstimatorError && /not valid UTF-8/.test(e.message),
    );
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
