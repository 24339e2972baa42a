/**
 * Checks for the exercises of chapter 0 (the quickstart).
 *
 * @example
 * ```ts
 * import { checkTopPrediction } from "./ch00_quickstart.ts";
 * console.log(checkTopPrediction(() => undefined).passed); // false: not answered
 * ```
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { answered, attempt, type CheckResult, pass, Wrong } from "./check.ts";

/** 0.1: a CNN classifier for 28×28×1 images with a 10-way softmax and at most 200,000 parameters. */
export function checkClassifier(build: () => tf.LayersModel | undefined): CheckResult {
  return attempt("0.1", () => {
    const model = answered(
      build(),
      "buildClassifier()",
      "return tf.sequential({ layers: [...] }).",
    );
    try {
      const inShape = JSON.stringify(model.inputs[0].shape);
      if (inShape !== "[null,28,28,1]") {
        throw new Wrong(
          `The model's input shape is ${inShape}, not [null,28,28,1].`,
          "give the first layer inputShape: [28, 28, 1].",
        );
      }
      if (!model.layers.some((l) => l.getClassName() === "Conv2D")) {
        throw new Wrong(
          "The model has no Conv2D layer, so it is not a CNN.",
          "start with tf.layers.conv2d({ filters: 16, kernelSize: 3, ... }).",
        );
      }
      const sums = tf.tidy(() => {
        const y = model.predict(tf.randomUniform([3, 28, 28, 1], 0, 1, "float32", 1)) as tf.Tensor;
        if (y.shape.length !== 2 || y.shape[1] !== 10) {
          throw new Wrong(
            `The model outputs shape [${y.shape}], not [batch, 10].`,
            'flatten, then end with tf.layers.dense({ units: 10, activation: "softmax" }).',
          );
        }
        return Array.from(y.sum(1).dataSync());
      });
      if (sums.some((s) => Math.abs(s - 1) > 1e-4)) {
        throw new Wrong(
          `The 10 outputs sum to ${sums[0].toFixed(3)}, not 1: they are not probabilities.`,
          'the last layer needs activation: "softmax".',
        );
      }
      const params = model.countParams();
      if (params > 200_000) {
        throw new Wrong(
          `The model has ${params.toLocaleString("en")} parameters, more than 200,000.`,
          "pool after each convolution (tf.layers.maxPooling2d) so the dense layer stays small.",
        );
      }
      return pass(
        "0.1",
        `A CNN with ${
          params.toLocaleString("en")
        } parameters that maps a [batch, 28, 28, 1] batch to 10 probabilities summing to 1.`,
      );
    } finally {
      model.dispose();
    }
  });
}

/** 0.2: the most probable digit and its probability, from one row of probabilities. */
export function checkTopPrediction(
  top: (probabilities: number[]) => { digit: number; confidence: number } | undefined,
): CheckResult {
  return attempt("0.2", () => {
    const cases = [
      [0.01, 0.02, 0.9, 0.01, 0.01, 0.01, 0.01, 0.01, 0.01, 0.01],
      [0.3, 0.05, 0.05, 0.05, 0.05, 0.05, 0.05, 0.05, 0.05, 0.3],
      [0, 0, 0, 0, 0, 0, 0, 0.2, 0.1, 0.7],
    ];
    for (const p of cases) {
      const got = answered(top(p), "topPrediction(...)", "return { digit, confidence }.");
      const digit = p.indexOf(Math.max(...p));
      if (got.digit !== digit) {
        throw new Wrong(
          `For [${p}] you answered digit ${got.digit}; the most probable is ${digit}.`,
          "the digit is the index of the largest probability (argMax); on a tie take the first.",
        );
      }
      if (Math.abs(got.confidence - p[digit]) > 1e-9) {
        throw new Wrong(
          `For [${p}] the confidence is ${got.confidence}, not ${p[digit]}.`,
          "the confidence is the probability at that index.",
        );
      }
    }
    return pass(
      "0.2",
      "The digit is the index of the largest probability, and the confidence that probability (argMax of model.predict).",
    );
  });
}
