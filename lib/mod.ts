/**
 * The one entry the notebooks import: `import { ... } from "../lib/mod.ts"`.
 * It only re-exports; each concept lives in the file named after it.
 *
 * @module
 */
export * as tf from "@tensorflow/tfjs";
export * from "./backend.ts";
export * from "./kernels/mod.ts";
export * from "./mode.ts";
export * from "./data/mod.ts";
export * from "./display/mod.ts";
export * from "./training/mod.ts";
export * from "./models/mod.ts";
export * from "./io/mod.ts";
export * as v1 from "./v1/mod.ts";
export * from "./function.ts";
export * from "./tensor_array.ts";
export * from "./random.ts";
export * as autograph from "./autograph/mod.ts";
export {
  AutoGraphError,
  OperatorNotAllowedInGraphError,
  range,
  setLoopOptions,
  toCode,
} from "./autograph/mod.ts";
export * from "./ecosystem/mod.ts";
export * from "./distribute/mod.ts";
export * from "./tape.ts";
export * from "./variables.ts";
export * from "./gradient_check.ts";
export * from "./exercises/mod.ts";
export * from "./ecosystem/transform.ts";
export * from "./training/sliced_evaluation.ts";
export * from "./ecosystem/keras_estimator.ts";
