/** CountingDense: a non-trainable weight updated in training only, and an addLoss penalty fit minimises. */
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../lib/backend.ts";
import { CountingDense } from "../lib/models/counting_dense.ts";

await initBackend();

Deno.test("Keras add_weight(trainable=False): counted as non-trainable, updated with training=True only", () => {
  const layer = new CountingDense({ units: 2, seed: 1 });
  tf.tidy(() => layer.apply(tf.ones([3, 4]), { training: true }) as tf.Tensor);
  assert.equal(layer.trainableWeights.length, 2);
  assert.equal(layer.nonTrainableWeights.length, 1);
  assert.equal(layer.seenCount(), 3);
  tf.tidy(() => layer.apply(tf.ones([5, 4]), { training: false }) as tf.Tensor);
  tf.tidy(() => layer.apply(tf.ones([5, 4])) as tf.Tensor);
  assert.equal(layer.seenCount(), 3);
  layer.dispose();
});

Deno.test("Keras add_loss: model.fit's loss is the compiled loss plus the layer's penalty", async () => {
  const losses: number[] = [];
  let kernelSq = 0;
  for (const l2 of [0, 0.5]) {
    const layer = new CountingDense({ units: 2, l2, seed: 1, inputShape: [4] });
    const model = tf.sequential({ layers: [layer] });
    const optimizer = tf.train.sgd(0); // no step: both runs see the same weights
    model.compile({ optimizer, loss: "meanSquaredError" });
    const [x, y] = [tf.ones([8, 4]), tf.zeros([8, 2])];
    const h = await model.fit(x, y, { epochs: 1, batchSize: 8, verbose: 0 });
    losses.push(h.history.loss[0] as number);
    kernelSq = tf.tidy(() => layer.getWeights()[0].square().sum().dataSync()[0]);
    assert.equal(layer.seenCount(), 8);
    tf.dispose([x, y]);
    model.dispose();
    optimizer.dispose();
  }
  assert.ok(Math.abs(losses[1] - losses[0] - 0.5 * kernelSq) < 1e-4, `${losses} ${kernelSq}`);
});

Deno.test("CountingDense: bad arguments are RangeErrors naming them; config round-trips", () => {
  assert.throws(() => new CountingDense({ units: 0 }), /units is 0/);
  assert.throws(() => new CountingDense({ units: 2, l2: -1 }), /l2 is -1/);
  const layer = new CountingDense({ units: 3, l2: 0.1, seed: 2 });
  const config = layer.getConfig();
  assert.equal(config.units, 3);
  assert.equal(config.l2, 0.1);
  assert.equal(config.seed, 2);
});
