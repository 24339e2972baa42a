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
 * {@linkcode hessianVectorCheck} does the same one order up: the
 * Hessian-vector product from nested tapes (TF's "Advanced automatic
 * differentiation" recipe) against central differences of the gradient
 * along the vector, `(∇f(x + hv) − ∇f(x − hv)) / 2h`.
 *
 * @example A Hessian-vector product checked
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { hessianVectorCheck } from "./gradient_check.ts";
 *
 * const x = tf.randomNormal([4], 0, 1, "float32", 1);
 * const result = hessianVectorCheck((x) => x.tanh().mul(x.exp()).sum(), [x]);
 * console.log(result.toString()); // hessian-vector check passed: 4 entries, ...
 * ```
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

/** The outcome of {@linkcode gradientCheck} (or {@linkcode hessianVectorCheck}). */
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
      entries.push(compare(i, index, analytic[i][index], numeric, rtol, atol));
    }
  });
  return summarize("gradient check", entries);
}

function compare(
  input: number,
  index: number,
  a: number,
  numeric: number,
  rtol: number,
  atol: number,
): GradientCheckEntry {
  const absError = Math.abs(a - numeric);
  const scale = Math.max(Math.abs(a), Math.abs(numeric));
  return {
    input,
    index,
    analytic: a,
    numeric,
    absError,
    relError: absError / Math.max(scale, 1e-8),
    ok: absError <= atol + rtol * scale,
  };
}

function summarize(what: string, entries: GradientCheckEntry[]): GradientCheckResult {
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
      `${what} ${ok ? "passed" : "FAILED"}: ${entries.length} entries, ` +
      `max abs error ${maxAbsError.toExponential(2)}, max rel error ${
        maxRelError.toExponential(2)
      }`,
  };
}

/**
 * Compares the Hessian-vector product `H·v` of the scalar function `f` at
 * `xs`, computed by nested {@linkcode GradientTape}s (TF's "Advanced automatic
 * differentiation" recipe: the inner tape's gradient, recorded on the outer
 * tape, differentiated along `v`), with central differences of the gradient:
 * `(∇f(x + εv) − ∇f(x − εv)) / 2ε`. `vs` (one tensor per input, default a
 * seeded random direction) is the vector. Every entry is checked; the
 * `epsilon` default is 1e-3. Leaves no tensors behind.
 */
export function hessianVectorCheck(
  f: (...xs: tf.Tensor[]) => tf.Tensor,
  xs: tf.Tensor | tf.Tensor[],
  vs?: tf.Tensor | tf.Tensor[],
  options: Omit<GradientCheckOptions, "maxEntries"> = {},
): GradientCheckResult {
  const inputs = Array.isArray(xs) ? xs : [xs];
  const { epsilon = 1e-3, rtol = 1e-2, atol = 1e-3 } = options;
  if (!(epsilon > 0)) throw new GradientCheckError("hessianVectorCheck(): epsilon must be > 0");
  inputs.forEach((x, i) => {
    if (!(x instanceof tf.Tensor) || x.dtype !== "float32") {
      throw new GradientCheckError(`hessianVectorCheck(): input ${i} must be a float32 tf.Tensor`);
    }
  });
  const given = vs === undefined ? undefined : Array.isArray(vs) ? vs : [vs];
  if (
    given && (given.length !== inputs.length ||
      given.some((v, i) =>
        !(v instanceof tf.Tensor) || !tf.util.arraysEqual(v.shape, inputs[i].shape)
      ))
  ) {
    throw new GradientCheckError(
      "hessianVectorCheck(): vs must give one tensor per input, with that input's shape",
    );
  }
  const dirs = given ?? inputs.map((x, i) => tf.randomNormal(x.shape, 0, 1, "float32", 17 + i));
  const scalarOf = (args: tf.Tensor[]): tf.Tensor => {
    const y = f(...args);
    if (!(y instanceof tf.Tensor)) {
      throw new GradientCheckError("hessianVectorCheck(): f must return a tf.Tensor");
    }
    return y.rank === 0 ? y : y.sum();
  };
  const gradientAt = (args: tf.Tensor[]): Float32Array[] => {
    const tape = new GradientTape();
    tape.watch(args);
    const y = tape.record(() => scalarOf(args));
    const gs = tape.gradient(y, args, { unconnectedGradients: "zero" });
    const out = gs.map((g) => Float32Array.from(g.dataSync()));
    tf.dispose([y, ...gs]);
    return out;
  };
  try {
    const outer = new GradientTape();
    outer.watch(inputs);
    const gs = outer.record(() => {
      const inner = new GradientTape();
      inner.watch(inputs);
      const y = inner.record(() => scalarOf(inputs));
      return inner.gradient(y, inputs, { unconnectedGradients: "zero" });
    });
    const hv = outer.gradient(gs, inputs, { outputGradients: dirs, unconnectedGradients: "zero" });
    const analytic = hv.map((h) => Float32Array.from(h.dataSync()));
    tf.dispose([...gs, ...hv]);
    const shifted = (s: number) => {
      const moved = inputs.map((x, i) => tf.tidy(() => tf.add(x, tf.mul(dirs[i], s))));
      try {
        return gradientAt(moved);
      } finally {
        tf.dispose(moved);
      }
    };
    const plus = shifted(epsilon), minus = shifted(-epsilon);
    const entries = analytic.flatMap((a, i) =>
      Array.from(
        a,
        (v, j) => compare(i, j, v, (plus[i][j] - minus[i][j]) / (2 * epsilon), rtol, atol),
      )
    );
    return summarize("hessian-vector check", entries);
  } finally {
    if (!given) tf.dispose(dirs);
  }
}
