/**
 * Checks for the exercises of chapter 2 (TF1 graphs and sessions).
 *
 * @example
 * ```ts
 * import { v1 } from "../mod.ts";
 * import { checkBatchPlaceholder } from "./ch02_graphs.ts";
 * console.log(checkBatchPlaceholder(() => v1.placeholder("float32", [null, 3])).passed); // true
 * ```
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import * as v1 from "../v1/mod.ts";
import { answered, attempt, type CheckResult, pass, Wrong } from "./check.ts";

/** The graph of exercise 2.1: `x → hidden = x·W → y = 2·hidden + 1`. */
export interface SkipGraph {
  sess: v1.Session;
  x: v1.SymbolicTensor;
  hidden: v1.SymbolicTensor;
  y: v1.SymbolicTensor;
}

/** 2.1: fetch `y` with `hidden` fed `[[1, 2, 3]]`, so nothing before `hidden` runs. */
export function checkFeedIntermediate(fn: (graph: SkipGraph) => unknown): CheckResult {
  return attempt("2.1", () => {
    const g = new v1.Graph();
    const w = tf.randomNormal([4, 3], 0, 1, "float32", 1);
    const nodes = g.asDefault(() => {
      const x = v1.placeholder("float32", [null, 4], "x");
      const W = new v1.Variable(w, { name: "W" });
      const hidden = v1.matMul(x, W, false, false, "hidden");
      const y = v1.add(v1.mul(hidden, 2), 1, "y");
      return { x, hidden, y };
    });
    const sess = new v1.Session(g);
    try {
      sess.run(v1.globalVariablesInitializer(g));
      const got = answered(
        fn({ sess, ...nodes }),
        "your fetch",
        "return sess.run(y, new Map([[hidden, [[1, 2, 3]]]])).",
      );
      const ran = [...sess.lastRunOps];
      if (JSON.stringify(got) !== JSON.stringify([[3, 5, 7]])) {
        throw new Wrong(
          `You returned ${
            JSON.stringify(got)
          }; with hidden = [[1, 2, 3]], y = 2·hidden + 1 = [[3, 5, 7]].`,
          "fetch y and feed the intermediate tensor: sess.run(y, new Map([[hidden, [[1, 2, 3]]]])).",
        );
      }
      const upstream = ran.filter((name) => /^(x|W|hidden)(\/|$)/.test(name));
      if (upstream.length > 0) {
        throw new Wrong(
          `The value is right but the run executed ${upstream.join(", ")}.`,
          "feed hidden itself, not x: the session stops walking back at a fed tensor.",
        );
      }
      return pass(
        "2.1",
        `y = [[3, 5, 7]] and the run executed only ${
          ran.join(", ")
        }: feeding an intermediate tensor cuts the graph there (x was never needed).`,
      );
    } finally {
      sess.close();
      g.dispose();
      w.dispose();
    }
  });
}

/** 2.2: the symbolic derivative of `y = x² + 3x`, built with `v1.gradients`. */
export function checkSymbolicDerivative(
  fn: (x: v1.SymbolicTensor) => v1.SymbolicTensor | null | undefined,
): CheckResult {
  return attempt("2.2", () => {
    const g = new v1.Graph();
    try {
      const { x, dy } = g.asDefault(() => {
        const x = v1.placeholder("float32", [], "x");
        return { x, dy: fn(x) };
      });
      answered(
        dy,
        "derivative(x)",
        "build y from x with v1 ops, then return v1.gradients(y, x)[0].",
      );
      if (!(dy instanceof v1.SymbolicTensor)) {
        throw new Wrong(
          "You returned an eager value, not a symbolic tensor of the graph.",
          "build y with v1.add / v1.mul on x and return v1.gradients(y, x)[0].",
        );
      }
      const sess = new v1.Session(g);
      try {
        for (const [at, want] of [[2, 7], [-1, 1], [0.5, 4]]) {
          const v = sess.run(dy, new Map([[x, at]])) as number;
          if (Math.abs(v - want) > 1e-5) {
            throw new Wrong(
              `At x = ${at} your tensor is ${v}; dy/dx = 2x + 3 = ${want}.`,
              "y = v1.add(v1.mul(x, x), v1.mul(x, 3)); v1.gradients(y, x)[0] is 2x + 3.",
            );
          }
        }
      } finally {
        sess.close();
      }
      const gradOps = g.operations.filter((op) => op.name.startsWith("gradients/")).length;
      if (gradOps === 0) {
        throw new Wrong(
          "The values are right but no op is under gradients/: you wrote the derivative by hand.",
          "let v1.gradients(y, x) add the derivative's ops.",
        );
      }
      return pass(
        "2.2",
        `dy/dx = 2x + 3 at x = 2, -1 and 0.5, from ${gradOps} ops that v1.gradients added under gradients/.`,
      );
    } finally {
      g.dispose();
    }
  });
}

/** 2.3: a placeholder for any number of rows of 3 features. */
export function checkBatchPlaceholder(fn: () => v1.SymbolicTensor | undefined): CheckResult {
  return attempt("2.3", () => {
    const g = new v1.Graph();
    try {
      const { p, s } = g.asDefault(() => {
        const p = answered(
          fn(),
          "makePlaceholder()",
          'return v1.placeholder("float32", [null, 3], "rows").',
        );
        return { p, s: v1.reduceSum(p) };
      });
      if (p.op.type !== "Placeholder") {
        throw new Wrong(
          `You returned a ${p.op.type} op's tensor, not a placeholder.`,
          "use v1.placeholder(dtype, shape, name).",
        );
      }
      const shape = v1.formatShape(p.shape);
      const sess = new v1.Session(g);
      try {
        for (const rows of [1, 5]) {
          try {
            sess.run(s, new Map([[p, Array.from({ length: rows }, () => [1, 2, 3])]]));
          } catch {
            throw new Wrong(
              `Feeding ${rows} row(s) of 3 failed: the placeholder's shape is ${shape}.`,
              "use null for the batch dimension: [null, 3].",
            );
          }
        }
        let refused = false;
        try {
          sess.run(s, new Map([[p, [[1, 2, 3, 4]]]]));
        } catch {
          refused = true;
        }
        if (!refused) {
          throw new Wrong(
            `A row of 4 features was accepted: the shape ${shape} does not fix the feature count.`,
            "fix the last dimension: [null, 3].",
          );
        }
      } finally {
        sess.close();
      }
      return pass(
        "2.3",
        `The placeholder ${shape} takes 1 or 5 rows of 3 features and refuses a row of 4 before anything runs.`,
      );
    } finally {
      g.dispose();
    }
  });
}
