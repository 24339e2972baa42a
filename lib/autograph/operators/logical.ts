/**
 * `and`, `or`, `not`: what AutoGraph puts where the source had `&&`, `||`, `!`
 * (TensorFlow's `ag__.and_`, `or_`, `not_`). JavaScript values short-circuit as in
 * JavaScript; a symbolic tensor gives `LogicalAnd` / `LogicalOr` / `LogicalNot`; an eager
 * tensor is read as a boolean (a cond in TensorFlow's eager mode does the same).
 *
 * @example
 * ```ts
 * import { and, not } from "./logical.ts";
 * console.log(and(() => 0, () => { throw new Error("not evaluated"); })); // 0
 * console.log(not(false)); // true
 * ```
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import * as v1 from "../../v1/mod.ts";
import { isEager, isSymbolic, truthy } from "./_tensors.ts";

const asBool = (x: unknown): v1.TensorLike =>
  isSymbolic(x) || isEager(x) ? x : Boolean(x as unknown);

/** `a() && b()`. */
export function and(a: () => unknown, b: () => unknown): unknown {
  const x = a();
  if (isSymbolic(x)) return v1.logicalAnd(x, asBool(b()));
  if (isEager(x)) return truthy(x, "&&") ? b() : x;
  return x && b();
}

/** `a() || b()`. */
export function or(a: () => unknown, b: () => unknown): unknown {
  const x = a();
  if (isSymbolic(x)) return v1.logicalOr(x, asBool(b()));
  if (isEager(x)) return truthy(x, "||") ? x : b();
  return x || b();
}

/** `!a`. */
export function not(a: unknown): unknown {
  if (isSymbolic(a)) return v1.logicalNot(a);
  if (isEager(a)) return tf.logicalNot(a);
  return !a;
}
