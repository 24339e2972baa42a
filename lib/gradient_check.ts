/**
 * Gradient checking: compare the gradients a {@linkcode GradientTape} computes
 * with central finite differences, `(f(x + h) − f(x − h)) / 2h`, one input
 * entry at a time.
 *
 * This is how you test a hand-written model or a custom gradient: if the two
 * agree to a couple of significant digits on random inputs, the backward pass
 * is right. TensorFlow.js computes in float32 (about 7 significant digits), so
 * the step `h` cannot be tiny: the default `1e-2` balances truncation error
 * (∝ h²) against rounding error (∝ 1/h). Functions with kinks (ReLU, max,
 * abs) disagree where an input sits within `h` of a kink.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { gradientCheck } from "./gradient_check.ts";
 *
 * const x = tf.randomNormal([3, 2], 0, 1, "float32", 1);
 * const w = tf.randomNormal([2, 1], 0, 1, "float32", 2);
 * const result = gradientCheck((x, w) => tf.sigmoid(x.matMul(w)).sum(), [x, w]);
 * console.log(result.ok, result.maxRelError);
 * ```
 *
 * The TensorFlow (Python) equivalent is `tf.test.compute_gradient(f, [x])`,
 * which returns the theoretical and numerical Jacobians to compare.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { GradientTape } from "./tape.ts";

/** Options of {@linkcode gradientCheck}. */
export interface GradientCheckOptions {
  /** Finite-difference step `h`. Default 1e-2 (float32 arithmetic). */
  epsilon?: number;
  /** Relative tolerance. Default 1e-2. */
  rtol?: number;
  /** Absolute tolerance. Default 1e-3. */
  atol?: number;
  /** Check at most this many entries per input, evenly spaced. Default 100. */
  maxEntries?: number;
}

/** One checked entry: input `input`, flat index `index`. */
export interface GradientCheckEntry {
  input: number;
  index: number;
  analytic: number;
  numeric: number;
  absError: number;
  /** `|analytic − numeric| / max(|analytic|, |numeric|, 1e-8)`. */
  relError: number;
  /** `absError ≤ atol + rtol · max(|analytic|, |numeric|)`. */
  ok: boolean;
}

/** The outcome of {@linkcode gradientCheck}. */
export interface GradientCheckResult {
  /** Every checked entry within tolerance. */
  ok: boolean;
  checked: number;
  maxAbsError: number;
  maxRelError: number;
  entries: GradientCheckEntry[];
  toString(): string;
}

/** A gradient check was called with arguments it cannot use. */
export class GradientCheckError extends Error {
  override name = "GradientCheckError";
}

/**
 * Compares the GradientTape gradient of the scalar function `f` at `xs` with
 * central differences. `f` gets one tensor per input and must return a scalar
 * (a non-scalar result is summed). Leaves no tensors behind.
 */
export function gradientCheck(
  f: (...xs: tf.Tensor[]) => tf.Tensor,
  xs: tf.Tensor | tf.Tensor[],
  options: GradientCheckOptions = {},
): GradientCheckResult {
  const inputs = Array.isArray(xs) ? xs : [xs];
  const { epsilon = 1e-2, rtol = 1e-2, atol = 1e-3, maxEntries = 100 } = options;
  if (!(epsilon > 0) || !(maxEntries >= 1)) {
    throw new GradientCheckError("gradientCheck(): epsilon must be > 0 and maxEntries >= 1");
  }
  inputs.forEach((x, i) => {
    if (!(x instanceof tf.Tensor) || x.dtype !== "float32") {
      throw new GradientCheckError(`gradientCheck(): input ${i} must be a float32 tf.Tensor`);
    }
  });
  const scalarOf = (args: tf.Tensor[]): tf.Tensor => {
    const y = f(...args);
    if (!(y instanceof tf.Tensor)) {
      throw new GradientCheckError("gradientCheck(): f must return a tf.Tensor");
    }
    return y.rank === 0 ? y : y.sum();
  };

  // Analytic: one tape, all inputs watched.
  const tape = new GradientTape();
  tape.watch(inputs);
  const y = tape.record(() => scalarOf(inputs));
  const grads = tape.gradient(y, inputs, { unconnectedGradients: "zero" });
  const analytic = grads.map((g) => g.dataSync().slice());
  tf.dispose([y, ...grads]);
  tape.dispose();

  // Numeric: perturb one entry at a time.
  const values = inputs.map((x) => x.dataSync().slice() as Float32Array);
  const evalAt = (i: number, index: number, delta: number): number => {
    const v = values[i].slice();
    v[index] += delta;
    return tf.tidy(() => {
      const args = inputs.map((x, j) => (j === i ? tf.tensor(v, x.shape, "float32") : x));
      return scalarOf(args).dataSync()[0];
    });
  };
  const entries: GradientCheckEntry[] = [];
  inputs.forEach((x, i) => {
    const n = x.size;
    const count = Math.min(n, Math.floor(maxEntries));
    for (let k = 0; k < count; k++) {
      const index = Math.floor((k * n) / count);
      const numeric = (evalAt(i, index, epsilon) - evalAt(i, index, -epsilon)) / (2 * epsilon);
      const a = analytic[i][index];
      const absError = Math.abs(a - numeric);
      const scale = Math.max(Math.abs(a), Math.abs(numeric));
      entries.push({
        input: i,
        index,
        analytic: a,
        numeric,
        absError,
        relError: absError / Math.max(scale, 1e-8),
        ok: absError <= atol + rtol * scale,
      });
    }
  });
  const maxAbsError = Math.max(0, ...entries.map((e) => e.absError));
  const maxRelError = Math.max(0, ...entries.map((e) => e.relError));
  const ok = entries.every((e) => e.ok);
  return {
    ok,
    checked: entries.length,
    maxAbsError,
    maxRelError,
    entries,
    toString: () =>
      `gradient check ${ok ? "passed" : "FAILED"}: ${entries.length} entries, ` +
      `max abs error ${maxAbsError.toExponential(2)}, max rel error ${
        maxRelError.toExponential(2)
      }`,
  };
}
