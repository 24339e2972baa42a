/**
 * Checks for the exercises of chapter 3 (`tfFunction` and tracing).
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { tfFunction } from "../function.ts";
 * import { checkSteadyPredict } from "./ch03_tf_function.ts";
 * const r = checkSteadyPredict((w) =>
 *   tfFunction((x: tf.Tensor) => x.matMul(w).softmax(), { inputSignature: [{ shape: [null, 4] }] })
 * );
 * console.log(r.passed); // true
 * ```
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { answered, attempt, type CheckResult, pass, Wrong } from "./check.ts";

/** What the checks need of a traced function. */
export interface Traced {
  (x: tf.Tensor): unknown;
  readonly traceCount: number;
  dispose(): void;
}

const BATCHES = [1, 32, 100, 7];

/** Calls `predict` on batches of 1, 32, 100 and 7 rows of 4 features; checks the values. */
function traces(exercise: string, make: (w: tf.Tensor) => Traced | undefined): number {
  const w = tf.randomNormal([4, 3], 0, 1, "float32", 3);
  let predict: Traced | undefined;
  try {
    predict = answered(
      make(w),
      "your function",
      "return tfFunction((x: tf.Tensor) => x.matMul(w).softmax(), ...).",
    );
    if (typeof predict.traceCount !== "number") {
      throw new Wrong(
        "You returned a plain function, not a tfFunction: it never traces.",
        "wrap it: tfFunction((x: tf.Tensor) => x.matMul(w).softmax()).",
      );
    }
    for (const batch of BATCHES) {
      tf.tidy(() => {
        const x = tf.randomNormal([batch, 4], 0, 1, "float32", batch);
        const y = predict!(x) as tf.Tensor;
        const want = x.matMul(w).softmax();
        if (
          !(y instanceof tf.Tensor) || JSON.stringify(y.shape) !== JSON.stringify(want.shape) ||
          y.sub(want).abs().max().dataSync()[0] > 1e-5
        ) {
          throw new Wrong(
            `On a batch of ${batch} the result is not softmax(x·w).`,
            "compute x.matMul(w).softmax() inside the traced function.",
          );
        }
      });
    }
    void exercise;
    return predict.traceCount;
  } finally {
    // No answer, or a plain function: nothing to dispose but w.
    if (typeof predict?.dispose === "function") predict.dispose();
    w.dispose();
  }
}

/** 3.1: a traced `predict` that retraces for every new batch size. */
export function checkRetracingPredict(make: (w: tf.Tensor) => Traced | undefined): CheckResult {
  return attempt("3.1", () => {
    const n = traces("3.1", make);
    if (n !== BATCHES.length) {
      throw new Wrong(
        `Your function traced ${n} time(s) for batches of ${
          BATCHES.join(", ")
        }; this exercise wants one trace per batch size (${BATCHES.length}).`,
        "leave out the inputSignature: each new shape is a new signature, and a new trace.",
      );
    }
    return pass(
      "3.1",
      `${n} traces for ${n} batch sizes: without an inputSignature every new shape is a new signature and TensorFlow traces again (and warns about retracing).`,
    );
  });
}

/** 3.2: the same `predict`, traced once for every batch size. */
export function checkSteadyPredict(make: (w: tf.Tensor) => Traced | undefined): CheckResult {
  return attempt("3.2", () => {
    const n = traces("3.2", make);
    if (n !== 1) {
      throw new Wrong(
        `Your function retraced ${n} times for batches of ${BATCHES.join(", ")}.`,
        "an inputSignature with a null batch dimension, [{ shape: [null, 4] }], traces once.",
      );
    }
    return pass(
      "3.2",
      "One trace for batches of 1, 32, 100 and 7: the inputSignature's null batch dimension matches them all.",
    );
  });
}

/** 3.3: a traced `x + bias` that sees the bias Variable's new value after `assign`. */
export function checkAddBias(make: (bias: tf.Variable) => Traced | undefined): CheckResult {
  return attempt("3.3", () => {
    const bias = tf.tidy(() => tf.variable(tf.tensor1d([1, 1])));
    const x = tf.tensor1d([10, 20]);
    let fn: Traced | undefined;
    try {
      fn = answered(
        make(bias),
        "makeAddBias(bias)",
        "return tfFunction((x: tf.Tensor) => x.add(bias)).",
      );
      if (typeof fn.traceCount !== "number") {
        throw new Wrong(
          "You returned a plain function, not a tfFunction.",
          "wrap it: tfFunction((x: tf.Tensor) => x.add(bias)).",
        );
      }
      const first = tf.tidy(() => Array.from((fn!(x) as tf.Tensor).dataSync()));
      if (first[0] !== 11 || first[1] !== 21) {
        throw new Wrong(
          `For x = [10, 20] and bias [1, 1] you returned [${first}].`,
          "return x.add(bias).",
        );
      }
      tf.tidy(() => bias.assign(tf.tensor1d([5, 5])));
      const second = tf.tidy(() => Array.from((fn!(x) as tf.Tensor).dataSync()));
      if (second[0] === 11) {
        throw new Wrong(
          "After bias.assign([5, 5]) the traced function still adds 1: the bias was frozen into the graph as a constant.",
          "close over the Variable itself (x.add(bias)), not a tensor made from it (bias.clone(), tf.tensor(bias.dataSync())): closed-over tensors are frozen, Variables are read at every call.",
        );
      }
      if (second[0] !== 15) {
        throw new Wrong(
          `After the assign you returned [${second}], not [15, 25].`,
          "return x.add(bias).",
        );
      }
      return pass(
        "3.3",
        `[11, 21], then [15, 25] after bias.assign, with ${fn.traceCount} trace: a closed-over Variable is read at every call, a closed-over tensor would have been frozen.`,
      );
    } finally {
      fn?.dispose();
      tf.dispose([bias, x]);
    }
  });
}
