/**
 * How the AutoGraph operators tell values apart: symbolic tensors (graph
 * construction: build ops), eager `tf.Tensor`s (run now with tf ops), and plain
 * JavaScript values (run as JavaScript), as TensorFlow's operators tell `tf.Tensor`s
 * from Python values.
 *
 * @example
 * ```ts
 * import { truthy } from "./_tensors.ts";
 * console.log(truthy(0, "if")); // false
 * ```
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { constant, type DType, SymbolicTensor, type TensorLike, toSymbolic } from "../../v1/mod.ts";
import { AutoGraphError } from "../errors.ts";

/** A graph tensor: control flow on it becomes graph ops. */
export const isSymbolic = (x: unknown): x is SymbolicTensor => x instanceof SymbolicTensor;
/** An eager tensor: it has a value now. */
export const isEager = (x: unknown): x is tf.Tensor => x instanceof tf.Tensor;
/** A value a graph op can take: a tensor, a number or a boolean. */
export const isTensorLike = (x: unknown): x is TensorLike =>
  isSymbolic(x) || isEager(x) || typeof x === "number" || typeof x === "boolean";

/**
 * The JavaScript truth value of a condition: an eager tensor is read (it must hold one
 * element, as TensorFlow's `bool(tensor)`); a symbolic tensor has no value yet.
 */
export function truthy(x: unknown, where: string): boolean {
  if (isSymbolic(x)) {
    throw new AutoGraphError(
      `the ${where} condition ${x.toString()} is a symbolic tensor where a JavaScript value ` +
        `was expected`,
    );
  }
  if (isEager(x)) {
    if (x.size !== 1) {
      throw new AutoGraphError(
        `the ${where} condition is a tensor of shape [${x.shape.join(", ")}]: the truth value ` +
          `of a tensor with more than one element is ambiguous; reduce it (x.any(), x.all())`,
      );
    }
    return x.dataSync()[0] !== 0;
  }
  return Boolean(x);
}

/** `x` as a graph tensor; numbers and booleans get `dtype` when given (else float32 / bool). */
export function asSymbolic(x: TensorLike, dtype?: DType): SymbolicTensor {
  if (typeof x === "number") return constant(x, dtype === "bool" ? undefined : dtype);
  if (typeof x === "boolean") return constant(x);
  return toSymbolic(x);
}

/** A short description of a JavaScript value for error messages. */
export function describe(x: unknown): string {
  if (isSymbolic(x)) return `the tensor ${x.toString()}`;
  if (isEager(x)) return `a ${x.dtype} tensor`;
  if (x === null || x === undefined) return String(x);
  if (Array.isArray(x)) return "an array";
  return `a ${typeof x}`;
}
