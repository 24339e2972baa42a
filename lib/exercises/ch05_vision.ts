/**
 * Checks for the exercises of chapter 5 (a first vision model).
 *
 * @example
 * ```ts
 * import { checkDenseParams } from "./ch05_vision.ts";
 * console.log(checkDenseParams((i, u) => i * u + u).passed); // true
 * ```
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { answered, attempt, attemptAsync, type CheckResult, pass, Wrong } from "./check.ts";

/** 5.1: the parameters of a Dense layer from `inputs` features to `units` units. */
export function checkDenseParams(
  fn: (inputs: number, units: number) => number | undefined,
): CheckResult {
  return attempt("5.1", () => {
    for (const [inputs, units] of [[784, 128], [128, 10], [3, 1]]) {
      const got = answered(
        fn(inputs, units),
        "denseParams(...)",
        "count the weights and the biases.",
      );
      const layer = tf.layers.dense({ units, inputShape: [inputs] });
      const model = tf.sequential({ layers: [layer] });
      const want = model.countParams();
      model.dispose();
      if (got !== want) {
        const hint = got === inputs * units
          ? "you counted the kernel only: each unit also has a bias."
          : "a Dense layer has an inputs × units kernel plus one bias per unit.";
        throw new Wrong(
          `For ${inputs} inputs and ${units} units you said ${got}; Keras counts ${want}.`,
          hint,
        );
      }
    }
    return pass(
      "5.1",
      "inputs × units weights + units biases: 784 × 128 + 128 = 100,480, as Keras' summary says.",
    );
  });
}

/** 5.2: the side of the image after a `kernel`×`kernel` valid convolution then `pool`×`pool` max pooling. */
export function checkConvOutputSide(
  fn: (side: number, kernel: number, pool: number) => number | undefined,
): CheckResult {
  return attempt("5.2", () => {
    for (const [side, kernel, pool] of [[28, 3, 2], [13, 3, 2], [28, 5, 2], [32, 3, 3]]) {
      const got = answered(
        fn(side, kernel, pool),
        "convOutputSide(...)",
        "a valid convolution loses kernel − 1 pixels, pooling divides (rounding down).",
      );
      const want = tf.tidy(() => {
        const m = tf.sequential({
          layers: [
            tf.layers.conv2d({ inputShape: [side, side, 1], filters: 1, kernelSize: kernel }),
            tf.layers.maxPooling2d({ poolSize: pool }),
          ],
        });
        const shape = (m.outputs[0].shape as number[])[1];
        m.dispose();
        return shape;
      });
      if (got !== want) {
        throw new Wrong(
          `For a ${side}×${side} image, kernel ${kernel}, pool ${pool} you said ${got}; the layers give ${want}.`,
          "valid padding: side − kernel + 1; then Math.floor(that / pool).",
        );
      }
    }
    return pass(
      "5.2",
      "28 → 26 → 13 and 13 → 11 → 5: a valid convolution loses kernel − 1 pixels, pooling divides and rounds down.",
    );
  });
}

/** 5.3: build, compile with an Adam instance, fit once, and free everything. */
export function checkTrainAndDispose(
  fn: (x: tf.Tensor, y: tf.Tensor) => Promise<void>,
): Promise<CheckResult> {
  return attemptAsync("5.3", async () => {
    const x = tf.randomNormal([16, 3], 0, 1, "float32", 5);
    const y = tf.randomNormal([16, 2], 0, 1, "float32", 6);
    try {
      await fn(x, y); // the first run may create tfjs's own one-off tensors
      const before = tf.memory().numTensors;
      await fn(x, y);
      await fn(x, y);
      const left = (tf.memory().numTensors - before) / 2;
      if (left > 0) {
        throw new Wrong(
          `Each run left ${left} tensors behind after model.dispose(): Adam's moment estimates (two per weight) and its step counters.`,
          "the optimizer is not part of the model: call optimizer.dispose() too (keep a reference to the tf.train.adam() you pass to compile).",
        );
      }
      return pass(
        "5.3",
        "No tensor left behind: model.dispose() freed the weights and optimizer.dispose() Adam's state.",
      );
    } finally {
      tf.dispose([x, y]);
    }
  });
}
