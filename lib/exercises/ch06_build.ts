/**
 * Checks for the exercises of chapter 6 (three ways to build a model).
 *
 * @example
 * ```ts
 * import { checkTwoInputsTwoOutputs } from "./ch06_build.ts";
 * console.log(checkTwoInputsTwoOutputs(() => undefined).passed); // false: not answered
 * ```
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { answered, attempt, type CheckResult, pass, Wrong } from "./check.ts";

/** 6.1: a Functional model with two inputs, two outputs and a layer shared by both inputs. */
export function checkTwoInputsTwoOutputs(build: () => tf.LayersModel | undefined): CheckResult {
  return attempt("6.1", () => {
    const model = answered(
      build(),
      "twoInputsTwoOutputs()",
      "tf.model({ inputs: [a, b], outputs: [p, q] }).",
    );
    // tfjs 4.22's model.dispose() leaves a layer applied twice undisposed: free its weights here.
    const variables = model.weights.map((w) => (w as unknown as { val: tf.Variable }).val);
    try {
      if (model.inputs.length !== 2 || model.outputs.length !== 2) {
        throw new Wrong(
          `The model has ${model.inputs.length} input(s) and ${model.outputs.length} output(s).`,
          "make two tf.input(...) and pass both lists: tf.model({ inputs: [a, b], outputs: [p, q] }).",
        );
      }
      const shared = model.layers.filter((l) =>
        l.getClassName() !== "InputLayer" && l.inboundNodes.length >= 2
      );
      if (shared.length === 0) {
        throw new Wrong(
          "No layer is used twice: each input has its own layers.",
          "create one layer object (const shared = tf.layers.dense(...)) and call shared.apply(a) and shared.apply(b).",
        );
      }
      const outs = tf.tidy(() => {
        const xs = model.inputs.map((i) => tf.ones([2, ...(i.shape.slice(1) as number[])]));
        const ys = model.predict(xs) as tf.Tensor[];
        return ys.map((y) => y.shape[0]);
      });
      if (outs.some((b) => b !== 2)) {
        throw new Wrong(
          "A batch of 2 did not give 2 rows per output.",
          "keep the batch dimension.",
        );
      }
      return pass(
        "6.1",
        `Two inputs, two outputs, and "${shared[0].name}" is applied to both inputs (${
          shared[0].inboundNodes.length
        } inbound nodes, one set of weights).`,
      );
    } finally {
      model.dispose();
      for (const v of variables) if (v && !v.isDisposed) v.dispose();
    }
  });
}

/** 6.2: a model from `model`'s input to the output of its layer `layerName`, sharing the weights. */
export function checkFeatureExtractor(
  extract: (model: tf.LayersModel, layerName: string) => tf.LayersModel | undefined,
  model: tf.LayersModel,
  layerName: string,
): CheckResult {
  return attempt("6.2", () => {
    const f = answered(
      extract(model, layerName),
      "featureExtractor(...)",
      "tf.model({ inputs: model.inputs, outputs: model.getLayer(name).output }).",
    );
    const want = JSON.stringify(model.getLayer(layerName).outputShape);
    const got = JSON.stringify(f.outputs[0].shape);
    if (got !== want) {
      throw new Wrong(
        `Your extractor outputs ${got}; layer "${layerName}" outputs ${want}.`,
        `take the output of model.getLayer("${layerName}").`,
      );
    }
    if (!f.layers.includes(model.getLayer(layerName))) {
      throw new Wrong(
        "The shapes fit but the extractor has new layers: it does not share the trained weights.",
        "build it from model.inputs and the layer's own .output, not from new layers.",
      );
    }
    return pass(
      "6.2",
      `A model from the image to "${layerName}" ${got}, built from the trained model's own layers, so it shares their weights.`,
    );
  });
}

/** 6.3: a dropout layer applied with `training: true` and `training: false`. */
export function checkTrainingFlag(
  fn: (x: tf.Tensor) => { training: tf.Tensor; inference: tf.Tensor } | undefined,
): CheckResult {
  return attempt("6.3", () => {
    const x = tf.ones([200]);
    try {
      const r = answered(
        fn(x),
        "bothWays(x)",
        "apply one tf.layers.dropout({ rate: 0.5 }) twice, with { training: true } and { training: false }.",
      );
      const train = Array.from(r.training.dataSync());
      const infer = Array.from(r.inference.dataSync());
      tf.dispose([r.training, r.inference]);
      if (infer.some((v) => v !== 1)) {
        throw new Wrong(
          "In inference some units were dropped or rescaled.",
          "call the layer with { training: false } (the default of predict): dropout is then the identity.",
        );
      }
      const zeros = train.filter((v) => v === 0).length;
      if (zeros === 0) {
        throw new Wrong(
          "With training: true nothing was dropped.",
          "pass { training: true } to layer.apply(x, { training: true }).",
        );
      }
      if (train.some((v) => v !== 0 && Math.abs(v - 2) > 1e-5)) {
        throw new Wrong(
          "The kept units are not scaled by 1 / (1 − rate) = 2.",
          "use tf.layers.dropout({ rate: 0.5 }), which rescales what it keeps.",
        );
      }
      return pass(
        "6.3",
        `training: true dropped ${zeros} of 200 units and doubled the rest; training: false returned x unchanged, as model.predict does.`,
      );
    } finally {
      x.dispose();
    }
  });
}
