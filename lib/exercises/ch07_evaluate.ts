/**
 * Checks for the exercises of chapter 7 (evaluating, saving and loading).
 *
 * @example
 * ```ts
 * import { checkPrecisionRecall } from "./ch07_evaluate.ts";
 * console.log(checkPrecisionRecall(() => undefined).passed); // false: not answered
 * ```
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { cnn, mlp } from "../models/sequential.ts";
import { classificationReport } from "../training/metrics.ts";
import { answered, attempt, attemptAsync, type CheckResult, pass, Wrong } from "./check.ts";

/** 7.1: the bytes `weights.bin` takes for a model (float32 weights). */
export function checkWeightBytes(fn: (model: tf.LayersModel) => number | undefined): CheckResult {
  return attempt("7.1", () => {
    for (const model of [cnn({ seed: 1 }), mlp({ units: 32, seed: 1 })]) {
      try {
        const got = answered(
          fn(model),
          "weightBytes(model)",
          "sum the sizes of model.weights, times 4 bytes.",
        );
        const want = model.weights.reduce((s, w) =>
          s + tf.util.sizeFromShape(w.shape as number[]), 0) * 4;
        if (got !== want) {
          const hint = got === model.countParams()
            ? "that is the parameter count: each float32 takes 4 bytes."
            : "each weight is float32, 4 bytes: model.countParams() * 4.";
          throw new Wrong(
            `For "${model.name}" you said ${got}; its weights take ${want} bytes.`,
            hint,
          );
        }
      } finally {
        model.dispose();
      }
    }
    return pass(
      "7.1",
      "108,618 parameters × 4 bytes = 434,472 bytes for the CNN: computed, not typed in.",
    );
  });
}

/** 7.2: precision and recall of class `k` from a confusion matrix (rows true, columns predicted). */
export function checkPrecisionRecall(
  fn: (confusion: number[][], k: number) => { precision: number; recall: number } | undefined,
): CheckResult {
  return attempt("7.2", () => {
    const m = [[50, 3, 2], [10, 30, 0], [5, 5, 40]];
    const report = classificationReport(m);
    for (let k = 0; k < 3; k++) {
      const got = answered(
        fn(m, k),
        "precisionRecall(...)",
        "precision reads column k, recall row k.",
      );
      const { precision, recall } = report[k];
      if (
        Math.abs(got.precision - recall) < 1e-3 && Math.abs(got.recall - precision) < 1e-3 &&
        Math.abs(precision - recall) > 1e-3
      ) {
        throw new Wrong(
          `For class ${k} you swapped them: precision is ${precision.toFixed(3)}, recall ${
            recall.toFixed(3)
          }.`,
          "rows are the true classes, columns the predictions: precision = m[k][k] / (sum of column k).",
        );
      }
      if (Math.abs(got.precision - precision) > 1e-3 || Math.abs(got.recall - recall) > 1e-3) {
        throw new Wrong(
          `For class ${k} you said precision ${got.precision}, recall ${got.recall}; the report says ${
            precision.toFixed(4)
          } and ${recall.toFixed(4)}.`,
          "precision = m[k][k] / Σ_t m[t][k]; recall = m[k][k] / Σ_p m[k][p].",
        );
      }
    }
    return pass(
      "7.2",
      "Precision divides the diagonal by its column (what was called k), recall by its row (what really is k).",
    );
  });
}

/** 7.3: save a model into `dir` and load it back. */
export function checkRoundTrip(
  fn: (model: tf.LayersModel, dir: string) => Promise<tf.LayersModel | undefined>,
): Promise<CheckResult> {
  return attemptAsync("7.3", async () => {
    const dir = await Deno.makeTempDir({ prefix: "ex7_3_" });
    const model = mlp({ units: 16, seed: 3 });
    let back: tf.LayersModel | undefined;
    try {
      back = answered(
        await fn(model, dir),
        "roundTrip(model, dir)",
        "await saveModel(model, dir); return await loadModel(dir).",
      );
      if (back === model) {
        throw new Wrong(
          "You returned the same model object, not one loaded from disk.",
          "return await loadModel(dir).",
        );
      }
      const files = [...Deno.readDirSync(dir)].map((e) => e.name);
      if (!files.includes("model.json")) {
        throw new Wrong(
          `The folder holds ${files.join(", ") || "nothing"}, no model.json.`,
          "save with saveModel(model, dir).",
        );
      }
      const same = tf.tidy(() => {
        const x = tf.randomUniform([4, 28, 28, 1], 0, 1, "float32", 9);
        return tf.equal(model.predict(x) as tf.Tensor, back!.predict(x) as tf.Tensor).all()
          .dataSync()[0] === 1;
      });
      if (!same) {
        throw new Wrong(
          "The loaded model predicts differently.",
          "save the trained model itself, then load that folder.",
        );
      }
      return pass(
        "7.3",
        `Saved as ${files.sort().join(" + ")} and loaded back: identical predictions, bit for bit.`,
      );
    } finally {
      model.dispose();
      if (back && back !== model) back.dispose();
      await Deno.remove(dir, { recursive: true });
    }
  });
}
