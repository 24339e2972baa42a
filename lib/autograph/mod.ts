/**
 * AutoGraph for JavaScript: a source-to-source converter that makes a function's own
 * control flow and operators build graph ops when they meet tensors, as TensorFlow's
 * AutoGraph does for Python inside `tf.function`.
 *
 * `if`/`else`, `?:`, `while`, `for...of` (over a tensor's rows or a `range`), C-style
 * `for`, `break`, `continue`, `return`, `&&`, `||`, `!`, the arithmetic operators
 * `+ - * / %` (and `+=`, `++`), unary `-` and the comparisons are rewritten into calls of
 * the AutoGraph operators. At run time each one dispatches:
 *
 * - on a symbolic tensor (while a function is traced) → graph ops: `v1.cond`,
 *   `v1.whileLoop`, `LogicalAnd`, `Less`, `AddV2`, ...;
 * - on an eager `tf.Tensor` → its value now (eager execution);
 * - on plain JavaScript values → plain JavaScript at trace time: `for (const i of
 *   range(3))` unrolls into three copies of the body; a tensor bound makes one `While`.
 *
 * Without AutoGraph, JavaScript cannot see a symbolic tensor in `x > 0`, `x + 1` or
 * `${x}`: those throw {@linkcode OperatorNotAllowedInGraphError}. The one case no error
 * can catch is truthiness: `if (t)` on an object is always true, so an unconverted
 * `if (x.sum() > 0)` would silently take one branch — the converted `if` dispatches on
 * the tensor instead, which is what AutoGraph is for.
 *
 * The state of a statement is its variables and, as TensorFlow's composite names, the
 * object fields and constant-key elements it assigns directly (`o.x = ...`, `this.n += 1`,
 * `d["k"] -= 1`, `l[0]++`). A tensor stored any other way (`list.push(t)`, `d[key] = t`)
 * inside a tensor-dependent branch or loop raises `InaccessibleTensorError` where it is
 * used outside.
 *
 * Limits (as TensorFlow's, see its AutoGraph reference "limitations"): a variable that a
 * tensor-dependent `if` defines must be defined in both branches; a `return` inside one
 * must be matched in every branch; loop variables keep their dtype and shape (unless
 * `setLoopOptions({ shapeInvariants })`, first in the loop body, relaxes it); functions
 * called from the converted one are not converted (convert them too).
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { convert, toCode } from "./mod.ts";
 * import { tfFunction } from "../function.ts";
 * // deno-lint-ignore no-explicit-any
 * const sumBelow = (n: any) => { // (TypeScript has no operators on tensors: `any`, or JavaScript)
 *   let i: any = tf.scalar(0);
 *   let s: any = tf.scalar(0);
 *   while (i < n) {
 *     s = s + i;
 *     i = i + 1;
 *   }
 *   return s;
 * };
 * const f = tfFunction(convert(sumBelow, { scope: { tf } }));
 * f(tf.scalar(5)).print(); // 10, computed by one While op
 * console.log(toCode(sumBelow));
 * ```
 *
 * @module
 */
export { convert, type ConvertOptions, doNotConvert, toCode } from "./convert.ts";
export { AutoGraphError, AutoGraphScopeError, OperatorNotAllowedInGraphError } from "./errors.ts";
export { type LoopOptions, Range, range, setLoopOptions } from "./operators/control_flow.ts";
