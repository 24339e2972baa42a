/**
 * Checks for the exercises of chapter 1 (tensors and eager execution).
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { checkNormalizeRows } from "./ch01_tensors.ts";
 * console.log(checkNormalizeRows((x) => tf.tidy(() => x.div(x.sum(1, true)))).passed); // true
 * ```
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { answered, attempt, type CheckResult, pass, Wrong } from "./check.ts";

const close = (a: ArrayLike<number>, b: ArrayLike<number>, tol = 1e-5): boolean =>
  a.length === b.length && Array.from(a).every((v, i) => Math.abs(v - b[i]) <= tol);

/** 1.1: each row divided by its sum. */
export function checkNormalizeRows(fn: (x: tf.Tensor2D) => tf.Tensor | undefined): CheckResult {
  return attempt("1.1", () => {
    const rows = [[1, 2, 3, 4], [5, 5, 5, 5], [0.5, 0, 0, 1.5]];
    const x = tf.tensor2d(rows);
    try {
      const y = answered(fn(x), "normalizeRows(x)", "divide x by its row sums.");
      try {
        if (JSON.stringify(y.shape) !== "[3,4]") {
          throw new Wrong(
            `The result has shape [${y.shape}], not [3, 4].`,
            "x.sum(1) has shape [3] and broadcasts against the last axis; keep the reduced axis with x.sum(1, true) (shape [3, 1]).",
          );
        }
        const want = rows.flatMap((r) => r.map((v) => v / r.reduce((a, b) => a + b)));
        if (!close(y.dataSync(), want)) {
          throw new Wrong(
            `Row 0 came out as [${
              Array.from(y.dataSync().slice(0, 4)).map((v) => v.toFixed(3))
            }], not [0.1, 0.2, 0.3, 0.4].`,
            "divide by x.sum(1, true): the sum over axis 1 with keepDims, shape [3, 1].",
          );
        }
      } finally {
        y.dispose();
      }
    } finally {
      x.dispose();
    }
    return pass(
      "1.1",
      "Each row sums to 1: x.sum(1, true) has shape [3, 1] and broadcasts across the columns.",
    );
  });
}

/** 1.2: `sum(x² + 1)` as a scalar, leaving no tensor behind but the result. */
export function checkNoLeak(fn: (x: tf.Tensor) => tf.Tensor | undefined): CheckResult {
  return attempt("1.2", () => {
    const x = tf.tensor1d([1, 2, 3]);
    try {
      const before = tf.memory().numTensors;
      for (let i = 0; i < 3; i++) {
        const y = answered(
          fn(x),
          "sumOfSquaresPlusOne(x)",
          "return tf.tidy(() => x.square().add(1).sum()).",
        );
        const v = y.dataSync()[0];
        y.dispose();
        if (Math.abs(v - 17) > 1e-5) {
          throw new Wrong(
            `For [1, 2, 3] you returned ${v}; (1+1) + (4+1) + (9+1) = 17.`,
            "square, add 1, then sum.",
          );
        }
      }
      const leaked = (tf.memory().numTensors - before) / 3;
      if (leaked > 0) {
        throw new Wrong(
          `The value is right, but each call left ${leaked} tensor(s) behind after the result was disposed.`,
          "wrap the computation in tf.tidy(() => ...): it frees every intermediate and keeps only the tensor returned.",
        );
      }
    } finally {
      x.dispose();
    }
    return pass(
      "1.2",
      "17, and no tensor left behind: tf.tidy freed the square and the sum with 1.",
    );
  });
}

/** 1.3: the `[n, m]` multiplication table `(i + 1)(j + 1)`, by broadcasting. */
export function checkTimesTable(fn: (n: number, m: number) => tf.Tensor | undefined): CheckResult {
  return attempt("1.3", () => {
    for (const [n, m] of [[3, 4], [5, 2]]) {
      const t = answered(fn(n, m), "timesTable(n, m)", "multiply a [n, 1] column by a [1, m] row.");
      const shape = JSON.stringify(t.shape);
      const values = Array.from(t.dataSync());
      t.dispose();
      if (shape !== JSON.stringify([n, m])) {
        throw new Wrong(
          `timesTable(${n}, ${m}) has shape ${shape}, not [${n}, ${m}].`,
          "tf.range(1, n + 1).reshape([n, 1]) times tf.range(1, m + 1) broadcasts to [n, m].",
        );
      }
      const want = Array.from({ length: n * m }, (_, k) => (Math.floor(k / m) + 1) * ((k % m) + 1));
      if (!close(values, want)) {
        throw new Wrong(
          `timesTable(${n}, ${m}) starts [${values.slice(0, m)}], not [${want.slice(0, m)}].`,
          "entry (i, j) is (i + 1)·(j + 1): count from 1 (tf.range(1, n + 1)).",
        );
      }
    }
    return pass(
      "1.3",
      "A [n, 1] column times a [m] row broadcasts to the [n, m] table without a loop.",
    );
  });
}
