/**
 * The operators AutoGraph puts where the source had `+ - * / %`, unary `-` and the
 * comparisons: a tensor operand gives the matching op (a v1 op on symbolic tensors, a
 * tf op on eager ones), anything else is plain JavaScript (string `+` stays concatenation).
 * Numbers take the tensor operand's dtype. `%` on tensors is `floorMod` and `/` is true
 * division (an int32 tensor is divided as float32), as Python's operators on `tf.Tensor`.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { add, lt } from "./arithmetic.ts";
 * console.log(add(1, 2)); // 3
 * (lt(tf.tensor([1, 5]), 3) as tf.Tensor).print(); // [true, false]
 * ```
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import * as v1 from "../../v1/mod.ts";
import { isEager, isSymbolic } from "./_tensors.ts";

type Sym = v1.SymbolicTensor;
type Graphs = (a: v1.TensorLike, b: v1.TensorLike) => Sym;
type Eagers = (a: tf.Tensor, b: tf.Tensor) => tf.Tensor;

/** May `x` be the other operand of a tensor op? (Not a string, null, or an object.) */
const operand = (x: unknown): boolean =>
  isSymbolic(x) || isEager(x) || typeof x === "number" || typeof x === "boolean";

function binary(a: unknown, b: unknown, graph: Graphs, eager: Eagers, js: () => unknown): unknown {
  if ((isSymbolic(a) || isSymbolic(b)) && operand(a) && operand(b)) {
    return graph(a as v1.TensorLike, b as v1.TensorLike);
  }
  if ((isEager(a) || isEager(b)) && operand(a) && operand(b)) {
    const like = (isEager(a) ? a : b) as tf.Tensor;
    const t = (x: unknown) => isEager(x) ? x : tf.scalar(x as number, like.dtype);
    return eager(t(a), t(b));
  }
  return js();
}

const floatDiv = (a: Sym, b: Sym): Sym =>
  a.dtype === "int32" ? v1.div(v1.cast(a, "float32"), v1.cast(b, "float32")) : v1.div(a, b);

// deno-lint-ignore no-explicit-any
type Js = any; // the plain-JavaScript fallbacks apply the operator to whatever the values are

/** `a + b`. */
export const add = (a: unknown, b: unknown): unknown =>
  binary(a, b, v1.add, tf.add, () => (a as Js) + (b as Js));
/** `a - b`. */
export const sub = (a: unknown, b: unknown): unknown =>
  binary(a, b, v1.sub, tf.sub, () => (a as Js) - (b as Js));
/** `a * b`. */
export const mul = (a: unknown, b: unknown): unknown =>
  binary(a, b, v1.mul, tf.mul, () => (a as Js) * (b as Js));
/** `a / b` (true division). */
export const div = (a: unknown, b: unknown): unknown =>
  binary(
    a,
    b,
    (x, y) => floatDiv(...pair(x, y)),
    (x, y) => tf.div(x.toFloat(), y.toFloat()),
    () => (a as Js) / (b as Js),
  );
/** `a % b` (`floorMod` on tensors, as Python's `%`). */
export const mod = (a: unknown, b: unknown): unknown =>
  binary(a, b, v1.floorMod, tf.mod, () => (a as Js) % (b as Js));
/** `a < b`. */
export const lt = (a: unknown, b: unknown): unknown =>
  binary(a, b, v1.less, tf.less, () => (a as Js) < (b as Js));
/** `a > b`. */
export const gt = (a: unknown, b: unknown): unknown =>
  binary(a, b, v1.greater, tf.greater, () => (a as Js) > (b as Js));
/** `a <= b`. */
export const le = (a: unknown, b: unknown): unknown =>
  binary(a, b, v1.lessEqual, tf.lessEqual, () => (a as Js) <= (b as Js));
/** `a >= b`. */
export const ge = (a: unknown, b: unknown): unknown =>
  binary(a, b, v1.greaterEqual, tf.greaterEqual, () => (a as Js) >= (b as Js));
/** `a === b`: elementwise `Equal` when a tensor meets a tensor or a number, else identity. */
export const eq = (a: unknown, b: unknown): unknown =>
  binary(a, b, v1.equal, tf.equal, () => a === b);
/** `a !== b`. */
export const ne = (a: unknown, b: unknown): unknown =>
  binary(a, b, v1.notEqual, tf.notEqual, () => a !== b);
/** `a == b`. */
export const looseEq = (a: unknown, b: unknown): unknown =>
  binary(a, b, v1.equal, tf.equal, () => a == b);
/** `a != b`. */
export const looseNe = (a: unknown, b: unknown): unknown =>
  binary(a, b, v1.notEqual, tf.notEqual, () => a != b);

/** `-a`. */
export function neg(a: unknown): unknown {
  if (isSymbolic(a)) return v1.neg(a);
  if (isEager(a)) return tf.neg(a);
  return -(a as Js);
}

/** Both operands as graph tensors, numbers taking the other one's dtype. */
function pair(a: v1.TensorLike, b: v1.TensorLike): [Sym, Sym] {
  const sa = isSymbolic(a) ? a : undefined;
  const sb = isSymbolic(b) ? b : undefined;
  return [v1.toSymbolic(a, sb?.dtype), v1.toSymbolic(b, sa?.dtype)];
}
