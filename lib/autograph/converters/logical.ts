/**
 * Converts `&&`, `||` and `!` (TensorFlow AutoGraph's `logical_expressions` converter):
 * `a && b` → `ag__.and(() => a, () => b)`, `a || b` → `ag__.or(() => a, () => b)`,
 * `!a` → `ag__.not(a)`. The operands become functions so that JavaScript values keep
 * short-circuiting; on tensors the operators build `LogicalAnd` / `LogicalOr` / `LogicalNot`.
 * `??` stays JavaScript.
 *
 * @example
 * ```ts
 * import * as acorn from "acorn";
 * import { generate } from "astring";
 * import { convertLogical } from "./logical.ts";
 * import type { N } from "../_ast.ts";
 * const ast = acorn.parse("ok = a && !b;", { ecmaVersion: "latest" }) as unknown as N;
 * console.log(generate(convertLogical(ast))); // ok = ag__.and(() => a, () => ag__.not(b));
 * ```
 *
 * @module
 */
import { agCall, arrow, map, type N } from "../_ast.ts";

/** Rewrites the logical operators of `tree` (in place) into `ag__` calls. */
export function convertLogical(tree: N): N {
  return map(tree, (n) => {
    if (n.type === "LogicalExpression" && (n.operator === "&&" || n.operator === "||")) {
      return agCall(n.operator === "&&" ? "and" : "or", [arrow([], n.left), arrow([], n.right)]);
    }
    if (n.type === "UnaryExpression" && n.operator === "!") return agCall("not", [n.argument]);
    if (n.type === "ConditionalExpression") {
      // `c ? a : b` (AutoGraph's conditional_expressions converter): `tf.cond` on a tensor.
      return agCall("ifExp", [n.test, arrow([], n.consequent), arrow([], n.alternate)]);
    }
    return n;
  });
}
