/**
 * Checks for the exercises of chapter 4 (Variables and GradientTape).
 *
 * {@linkcode checkNullGradients} follows TensorFlow: a `GradientTape` does not
 * watch integer tensors, and `Cast` to an integer, `ArgMax` and comparisons
 * have no gradient, so each gives `None` (`null` here).
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { checkSecondDerivative } from "./ch04_tape.ts";
 * console.log(checkSecondDerivative(() => undefined).passed); // false: not answered
 * ```
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { GradientTape } from "../tape.ts";
import { answered, attempt, type CheckResult, fail, pass, Wrong } from "./check.ts";

/** Four ways to get a `null` gradient (exercise 4.1). */
export interface NullGradientWays {
  /** A source tensor the tape cannot watch (an integer tensor). */
  integerSource: () => tf.Tensor;
  /** A loss of float `x` that goes through a cast to an integer dtype. */
  throughCast: (x: tf.Tensor) => tf.Tensor;
  /** A loss of float `x` that goes through `argMax` or a comparison. */
  throughArgMax: (x: tf.Tensor) => tf.Tensor;
  /** One "update" of the Variable `w` that replaces it by a plain tensor (what not to do). */
  replacedVariable: (w: tf.Variable) => tf.Tensor;
}

/** The result of {@linkcode checkNullGradients}: which of the four ways gave `null`. */
export type NullGradientsResult = CheckResult & { parts: Record<keyof NullGradientWays, boolean> };

const HINTS: Record<keyof NullGradientWays, string> = {
  integerSource:
    'an int32 tensor, e.g. tf.tensor1d([1, 2, 3], "int32"): tapes watch only floating-point tensors',
  throughCast: "round through an integer dtype: x.toInt().toFloat().sum()",
  throughArgMax:
    "x.argMax().toFloat(), or x.greater(1).toFloat().sum(): argMax and comparisons have no gradient",
  replacedVariable:
    "w.sub(0.1) (Python: w = w - 0.1): the result is a new tensor, not the Variable, and the tape does not watch it",
};

function gradOf(fn: (tape: GradientTape) => { y: tf.Tensor; source: tf.Tensor }): tf.Tensor | null {
  const tape = new GradientTape();
  try {
    let source: tf.Tensor | undefined;
    const y = tape.record(() => {
      const r = fn(tape);
      source = r.source;
      return r.y;
    });
    const g = tape.gradient(y, source!);
    y.dispose();
    return g;
  } finally {
    tape.dispose();
  }
}

/** 4.1: every way must give a `null` gradient, for a loss that does depend on its input. */
export function checkNullGradients(
  ways: Partial<NullGradientWays> | undefined,
): NullGradientsResult {
  const parts = {
    integerSource: false,
    throughCast: false,
    throughArgMax: false,
    replacedVariable: false,
  };
  const notes: string[] = [];
  const tryPart = (key: keyof NullGradientWays, body: () => tf.Tensor | null): void => {
    try {
      if (!ways || typeof ways[key] !== "function") {
        notes.push(`${key} is not answered (${HINTS[key]})`);
        return;
      }
      const g = body();
      if (g === null) {
        parts[key] = true;
      } else {
        const v = Array.from(g.dataSync()).slice(0, 3).map((n) => +n.toFixed(3));
        g.dispose();
        notes.push(`${key} gave a gradient [${v}] instead of null (${HINTS[key]})`);
      }
    } catch (e) {
      if (e instanceof Wrong) notes.push(`${key}: ${e.problem} (${e.hint})`);
      else notes.push(`${key} threw ${(e as Error).message} (${HINTS[key]})`);
    }
  };
  tryPart("integerSource", () => {
    const src = ways!.integerSource!();
    try {
      if (!src.dtype.startsWith("int")) {
        throw new Wrong(`the source is ${src.dtype}`, HINTS.integerSource);
      }
      return gradOf((tape) => {
        tape.watch(src);
        return { y: src.toFloat().square().sum(), source: src };
      });
    } finally {
      src.dispose();
    }
  });
  const x = tf.tensor1d([1.2, 2.5, 3.7]);
  const dependsOnX = (f: (x: tf.Tensor) => tf.Tensor, key: keyof NullGradientWays): void => {
    const [a, b] = tf.tidy(
      () => [f(x).sum().dataSync()[0], f(x.add(tf.tensor1d([5, 0, -5]))).sum().dataSync()[0]],
    );
    if (a === b) {
      throw new Wrong(
        "the loss does not change when x changes, so a null gradient proves nothing",
        HINTS[key],
      );
    }
  };
  for (const key of ["throughCast", "throughArgMax"] as const) {
    tryPart(key, () => {
      const f = ways![key]!;
      dependsOnX(f, key);
      return gradOf((tape) => {
        tape.watch(x);
        return { y: f(x).toFloat().sum(), source: x };
      });
    });
  }
  x.dispose();
  tryPart("replacedVariable", () => {
    const w = tf.tidy(() => tf.variable(tf.tensor1d([1, 2])));
    // The update happens before the next step's tape starts, as in a training loop.
    const replaced = ways!.replacedVariable!(w);
    try {
      if (!(replaced instanceof tf.Tensor)) {
        throw new Wrong("it did not return a tensor", HINTS.replacedVariable);
      }
      return gradOf(() => ({ y: replaced.square().sum(), source: replaced }));
    } finally {
      if (replaced !== w && replaced instanceof tf.Tensor) replaced.dispose();
      w.dispose();
    }
  });
  const ok = Object.values(parts).filter(Boolean).length;
  const base = ok === 4
    ? pass(
      "4.1",
      "Four null gradients: an integer source is never watched, Cast to an integer, argMax and comparisons have no gradient, and w.sub(...) is a new tensor the tape does not watch (update Variables in place with assignSub).",
    )
    : fail(
      "4.1",
      `${ok} of 4 ways give null. ${notes.join("; ")}.`,
      "read the hint in brackets after each way.",
    );
  return Object.assign(base, { parts }) as NullGradientsResult;
}

/** 4.2: one SGD step on `w` in place, for the loss `mean((x·w − y)²)`; returns the loss. */
export function checkGradientStep(
  step: (w: tf.Variable, xs: tf.Tensor, ys: tf.Tensor, lr: number) => number | undefined,
): CheckResult {
  return attempt("4.2", () => {
    const xs = tf.tensor1d([-1, -0.5, 0, 0.5, 1, 1.5]);
    const ys = xs.mul(3);
    const w = tf.tidy(() => tf.variable(tf.scalar(0)));
    try {
      const before = tf.memory().numTensors;
      const losses: number[] = [];
      for (let i = 0; i < 60; i++) {
        losses.push(
          answered(
            step(w, xs, ys, 0.1),
            "gradientStep(...)",
            "return the loss as a number (loss.dataSync()[0]).",
          ),
        );
      }
      const leaked = tf.memory().numTensors - before;
      const value = w.dataSync()[0];
      if (Math.abs(value) < 1e-6) {
        throw new Wrong(
          "After 60 steps w is still 0: the Variable was never updated.",
          "update it in place with assignSub(w, grad.mul(lr)) or w.assign(...); w = w.sub(...) only rebinds a local name.",
        );
      }
      if (Math.abs(value - 3) > 0.05) {
        throw new Wrong(
          `After 60 steps w = ${value.toFixed(3)}, not close to 3.`,
          "the gradient of mean((x·w − y)²) is mean(2x(x·w − y)); step against it: w ← w − lr·grad.",
        );
      }
      if (!(losses[59] < losses[0])) {
        throw new Wrong("The loss you returned did not fall.", "return the loss of this step.");
      }
      if (leaked > 0) {
        throw new Wrong(
          `w reached ${value.toFixed(3)}, but the 60 steps left ${leaked} tensors behind.`,
          "dispose the loss and the gradient after the update (or wrap the update in tf.tidy).",
        );
      }
      return pass(
        "4.2",
        `w went from 0 to ${
          value.toFixed(4)
        } (the true slope is 3) with the same Variable throughout, and no tensor leaked.`,
      );
    } finally {
      tf.dispose([xs, ys, w]);
    }
  });
}

/** 4.3: `f''(x)` by nested tapes, for any elementwise `f`. */
export function checkSecondDerivative(
  d2: (f: (x: tf.Tensor) => tf.Tensor, x: tf.Tensor) => tf.Tensor | null | undefined,
): CheckResult {
  return attempt("4.3", () => {
    const x = tf.linspace(-2, 2, 9);
    try {
      const cases: [string, (x: tf.Tensor) => tf.Tensor, (x: tf.Tensor) => tf.Tensor][] = [
        ["x³", (t) => t.pow(3), (t) => t.mul(6)],
        ["sin x", (t) => t.sin(), (t) => t.sin().neg()],
      ];
      for (const [name, f, want] of cases) {
        const got = answered(
          d2(f, x),
          `secondDerivative(${name})`,
          "an outer tape records an inner tape's gradient; return outer.gradient(dfdx, x).",
        );
        const err = tf.tidy(() => got.sub(want(x)).abs().max().dataSync()[0]);
        got.dispose();
        if (!(err < 1e-3)) {
          throw new Wrong(
            `For f = ${name} your f'' is off by ${err.toFixed(3)} somewhere on [-2, 2].`,
            "watch x on both tapes, compute dfdx = inner.gradient(f(x), x) inside outer.record, then outer.gradient(dfdx, x).",
          );
        }
      }
      return pass(
        "4.3",
        "f'' = 6x for x³ and −sin x for sin x: the outer tape recorded the inner gradient's ops and differentiated them again.",
      );
    } finally {
      x.dispose();
    }
  });
}
