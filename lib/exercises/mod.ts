/**
 * Exercises that check themselves: one `check...` per exercise, which runs the
 * learner's answer and returns a {@linkcode CheckResult} saying what is right,
 * or what is wrong and a hint. Solutions are in `solutions/`, the blanks the
 * notebooks open with in `blanks/`; the tests run both through every check.
 *
 * @example
 * ```ts
 * import { checkTopPrediction } from "./mod.ts";
 * const r = checkTopPrediction((p) => ({ digit: p.indexOf(Math.max(...p)), confidence: Math.max(...p) }));
 * console.log(r.passed); // true
 * ```
 *
 * @module
 */
export type { CheckResult } from "./check.ts";
export * from "./ch00_quickstart.ts";
export * from "./ch01_tensors.ts";
export * from "./ch02_graphs.ts";
export * from "./ch03_tf_function.ts";
export * from "./ch04_tape.ts";
export * from "./ch05_vision.ts";
export * from "./ch06_build.ts";
export * from "./ch07_evaluate.ts";
export * from "./ch08_ecosystem.ts";
