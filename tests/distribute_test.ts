/**
 * Mirrored (data-parallel) training: two Worker replicas against the
 * single-replica reference (one replica in this thread, the whole global
 * batch at once), with the same seed and global batch.
 *
 * Tolerance: the only difference is float32 summation order (each replica sums
 * its half of the batch, then the halves are added), about 1e-7 relative per
 * gradient. SGD passes that through linearly: weights agree to 1e-5 after a
 * few steps. Adam divides by √v, which amplifies differences in near-zero
 * gradients, so its weights are compared at 1e-4 (a tenth of one step's
 * size, lr = 1e-3), and losses at 1e-4 relative.
 */
import { strict as assert } from "node:assert";
import * as tf from "@tensorflow/tfjs";
import {
  buildModel,
  MirroredError,
  MirroredStrategy,
  ModelSpecError,
} from "../lib/distribute/mod.ts";
import {
  abortAllReduce,
  AllReduceAborted,
  allReduceBuffers,
  allReducer,
} from "../lib/distribute/_all_reduce.ts";
import type { ModelSpec, OptimizerSpec } from "../lib/distribute/mod.ts";
import type { Logs } from "../lib/training/callbacks.ts";

function synthetic(count: number, seed: number): { images: Uint8Array; labels: Uint8Array } {
  let s = seed;
  const rand = () => ((s = (s * 1103515245 + 12345) >>> 0) / 4294967296);
  const images = new Uint8Array(count * 784), labels = new Uint8Array(count);
  for (let i = 0; i < count; i++) {
    const label = Math.floor(rand() * 10);
    labels[i] = label;
    for (let p = 0; p < 784; p++) {
      // A class-dependent bar plus noise, so that the loss can fall.
      const row = Math.floor(p / 28);
      const on = row >= label * 2 + 3 && row < label * 2 + 6;
      images[i * 784 + p] = Math.min(255, (on ? 180 : 0) + Math.floor(rand() * 60));
    }
  }
  return { images, labels };
}

async function train(
  model: ModelSpec,
  optimizer: OptimizerSpec,
  replicas: number,
  inProcess: boolean,
): Promise<{ losses: number[]; weights: Float32Array; inSync: boolean; epochLoss: number }> {
  const data = synthetic(192, 5);
  const strategy = await MirroredStrategy.create({ model, optimizer, replicas, inProcess });
  try {
    const losses: number[] = [];
    const result = await strategy.fit(data, {
      epochs: 1,
      batchSize: 64,
      seed: 3,
      callbacks: { onBatchEnd: (_s: number, logs: Logs) => void losses.push(logs.loss) },
    });
    return {
      losses,
      weights: await strategy.weights(),
      inSync: await strategy.replicasInSync(),
      epochLoss: result.history.loss[0],
    };
  } finally {
    await strategy.close();
  }
}

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

for (
  const [model, optimizer, wTol] of [
    [{ name: "small_cnn", seed: 1 }, { name: "sgd", learningRate: 0.1 }, 1e-5],
    [{ name: "mlp", seed: 2 }, { name: "adam", learningRate: 1e-3 }, 1e-4],
  ] as [ModelSpec, OptimizerSpec, number][]
) {
  Deno.test(`2 replicas match 1 replica: ${model.name}, ${optimizer.name}`, async () => {
    const before = tf.memory().numTensors;
    const one = await train(model, optimizer, 1, true);
    assert.equal(tf.memory().numTensors, before, "the in-process replica leaked tensors");
    const two = await train(model, optimizer, 2, false);
    assert.ok(two.inSync, "the two replicas' weights differ");
    assert.equal(two.losses.length, 3);
    for (let i = 0; i < 3; i++) {
      const rel = Math.abs(two.losses[i] - one.losses[i]) / Math.abs(one.losses[i]);
      assert.ok(rel < 1e-4, `step ${i}: loss ${two.losses[i]} vs ${one.losses[i]}`);
    }
    const d = maxAbsDiff(two.weights, one.weights);
    assert.ok(d < wTol, `weights differ by ${d} (tolerance ${wTol})`);
    // Training did something: the weights moved from their initial values by far more.
    const init = await MirroredStrategy.create({ model, optimizer, replicas: 1, inProcess: true });
    const w0 = await init.weights();
    await init.close();
    const moved = maxAbsDiff(w0, one.weights);
    console.log(`${model.name}/${optimizer.name}: 2 vs 1 replica max |Δw| ${d}, moved ${moved}`);
    assert.ok(moved > 10 * wTol, `training moved the weights by only ${moved}`);
    assert.ok(one.losses[2] < one.losses[0], `loss did not fall: ${one.losses}`);
  });
}

Deno.test("mirrored training rejects bad input with MirroredError", async () => {
  await assert.rejects(
    MirroredStrategy.create({ model: { name: "mlp" }, replicas: 2, inProcess: true }),
    MirroredError,
  );
  await assert.rejects(
    MirroredStrategy.create({ model: { name: "mlp" }, replicas: 0 }),
    MirroredError,
  );
  const s = await MirroredStrategy.create({ model: { name: "mlp" }, replicas: 1, inProcess: true });
  try {
    await assert.rejects(
      s.fit({ images: new Uint8Array(100), labels: new Uint8Array(2) }),
      /images hold 100 bytes, expected 2 labels/,
    );
  } finally {
    await s.close();
  }
});

Deno.test("a replica's failure surfaces as MirroredError", async () => {
  await assert.rejects(
    MirroredStrategy.create({ model: { name: "nope" as "mlp" }, replicas: 1 }),
    (e: Error) => e instanceof MirroredError && /unknown/.test(e.message),
  );
});

Deno.test("mirrored fit reports through the TrainingCallback shape, with validation", async () => {
  const data = synthetic(200, 9), val = synthetic(50, 10);
  const s = await MirroredStrategy.create({ model: { name: "mlp", seed: 4 }, replicas: 2 });
  try {
    const events: string[] = [];
    const result = await s.fit(data, {
      epochs: 2,
      batchSize: 64,
      validationData: val,
      callbacks: {
        onTrainBegin: (info) => void events.push(`begin ${info.epochs}x${info.stepsPerEpoch}`),
        onEpochBegin: (e) => void events.push(`epoch ${e}`),
        onBatchEnd: (step, logs) => void events.push(`batch ${step} ${logs.size}`),
        onEpochEnd: (e, logs) => void events.push(`end ${e} ${"val_acc" in logs}`),
        onTrainEnd: () => void events.push("done"),
      },
    });
    const epoch = ["batch 0 64", "batch 1 64", "batch 2 64", "batch 3 8"];
    assert.deepEqual(events, [
      "begin 2x4",
      "epoch 0",
      ...epoch,
      "end 0 true",
      "epoch 1",
      ...epoch,
      "end 1 true",
      "done",
    ]);
    assert.equal(result.steps, 8);
    assert.equal(result.history.val_loss.length, 2);
    const v = await s.evaluate(val);
    assert.ok(Math.abs(v.loss - result.history.val_loss[1]) < 1e-6, "evaluate = last val_loss");
    assert.ok(await s.replicasInSync());
  } finally {
    await s.close();
  }
});

Deno.test("any layers model (flat input, softmax output) trains mirrored like in one replica", async () => {
  const make = () => {
    const m = tf.sequential();
    m.add(tf.layers.dense({
      inputShape: [784],
      units: 32,
      activation: "relu",
      kernelInitializer: tf.initializers.glorotUniform({ seed: 11 }),
    }));
    m.add(tf.layers.dense({
      units: 10,
      activation: "softmax",
      kernelInitializer: tf.initializers.glorotUniform({ seed: 12 }),
    }));
    return m;
  };
  const data = synthetic(128, 21);
  const run = async (replicas: number, inProcess: boolean) => {
    const model = make();
    const s = await MirroredStrategy.create({
      model,
      replicas,
      inProcess,
      optimizer: { name: "sgd", learningRate: 0.5 },
    });
    model.dispose();
    try {
      const r = await s.fit(data, { epochs: 2, batchSize: 64 });
      return { loss: r.history.loss, weights: await s.weights(), inSync: await s.replicasInSync() };
    } finally {
      await s.close();
    }
  };
  const one = await run(1, true);
  const two = await run(2, false);
  assert.ok(two.inSync);
  assert.ok(one.loss[1] < one.loss[0], `loss did not fall: ${one.loss}`);
  for (let e = 0; e < 2; e++) assert.ok(Math.abs(one.loss[e] - two.loss[e]) < 1e-4 * one.loss[e]);
  assert.ok(maxAbsDiff(one.weights, two.weights) < 1e-5);
  // A model that does not take 28x28 images is refused with the reason.
  const bad = tf.sequential({ layers: [tf.layers.dense({ inputShape: [10], units: 10 })] });
  await assert.rejects(
    MirroredStrategy.create({ model: bad, replicas: 1, inProcess: true }),
    /inputs of shape \[10\]/,
  );
  bad.dispose();
});

Deno.test("the shared-memory all-reduce sums in replica order and never waits once aborted", () => {
  // One replica: no waiting; the sum is its own gradient, in a fresh array.
  const one = allReduceBuffers(1, 3);
  const flat = Float32Array.of(1, 2, 3);
  const sum = allReducer(one, 0)(flat);
  assert.deepEqual(Array.from(sum), [1, 2, 3]);
  assert.notEqual(sum, flat);
  assert.throws(() => allReducer(one, 0)(new Float32Array(2)), /2 values, expected 3/);
  // Two replicas, the other one failed: the barrier throws instead of hanging.
  const two = allReduceBuffers(2, 3);
  abortAllReduce(two);
  assert.throws(() => allReducer(two, 0)(flat), AllReduceAborted);
});

Deno.test("benchmark models: dropout draws a new mask each batch, reproducibly from the seed", () => {
  const x = tf.ones([4, 28, 28, 1]);
  const outputs = (seed: number) => {
    const model = buildModel({ name: "keras_cnn", seed });
    const out = [0, 1].map(() =>
      tf.tidy(() => Array.from((model.apply(x, { training: true }) as tf.Tensor).dataSync()))
    );
    model.dispose();
    return out;
  };
  const [a1, a2] = outputs(5), [b1, b2] = outputs(5);
  assert.notDeepEqual(a1, a2, "two training batches saw the same dropout mask");
  assert.deepEqual([a1, a2], [b1, b2], "the same seed gave different masks");
  x.dispose();
});

Deno.test(
  "benchmark models: models of different seeds draw no initial weights from a shared stream (tf.random seeds: one seed, one sequence)",
  () => {
    // With PyTorch's initialisation every weight is bound·(2u − 1), u = the seeded stream's
    // draws; the first draws of each weight identify its stream.
    const fanIns = [9, 9, 288, 288, 1600, 1600]; // Keras CNN: kernel, bias of each layer
    const streams = new Map<string, string>();
    for (const seed of [0, 1, 2, 3]) {
      const model = buildModel({ name: "keras_cnn", seed, init: "torch" });
      model.getWeights().forEach((w, i) => {
        const b = 1 / Math.sqrt(fanIns[i]);
        const u = Array.from(w.dataSync().slice(0, 8), (x) => ((x + b) / (2 * b)).toFixed(4));
        const key = u.join(",");
        const where = `seed ${seed} weight ${i} (${model.weights[i].name})`;
        assert.ok(!streams.has(key), `${where} repeats the draws of ${streams.get(key)}`);
        streams.set(key, where);
      });
      model.dispose();
    }
  },
);

Deno.test("benchmark models: PyTorch's initialisation is uniform in ±1/√fan_in", () => {
  const model = buildModel({ name: "small_cnn", seed: 2, init: "torch" });
  const fanIns = [25, 25, 200, 200, 256, 256]; // kernel, bias of each layer with weights
  const weights = model.getWeights();
  assert.equal(weights.length, fanIns.length);
  weights.forEach((w, i) => {
    const v = Array.from(w.dataSync() as Float32Array);
    const bound = 1 / Math.sqrt(fanIns[i]);
    const max = v.reduce((m, x) => Math.max(m, Math.abs(x)), 0);
    assert.ok(max <= bound && max > 0.8 * bound, `weight ${i}: max |w| ${max}, bound ${bound}`);
  });
  model.dispose();
  assert.throws(() => buildModel({ name: "mlp", init: "xavier" as "torch" }), ModelSpecError);
});

Deno.test("a callback that throws during mirrored fit fails the fit, not the process", async () => {
  const s = await MirroredStrategy.create({ model: { name: "mlp", seed: 2 }, replicas: 2 });
  try {
    const images = new Uint8Array(256 * 784).map((_, i) => (i * 13) % 256);
    const labels = new Uint8Array(256).map((_, i) => i % 10);
    const boom = { onBatchEnd: () => Promise.reject(new Error("callback failed")) };
    await assert.rejects(
      s.fit({ images, labels }, { batchSize: 64, callbacks: boom }),
      /callback failed/,
    );
  } finally {
    await s.close();
  }
});
