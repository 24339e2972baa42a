/**
 * Converts JavaScript's arithmetic and comparison operators into AutoGraph operator calls,
 * which build tensor ops when an operand is a tensor and stay plain JavaScript otherwise
 * (Python overloads `__add__`, `__lt__`, ... on tensors; JavaScript cannot, so AutoGraph for
 * JavaScript rewrites the operators):
 *
 * `a + b` → `ag__.add(a, b)`, `a < b` → `ag__.lt(a, b)`, `-a` → `ag__.neg(a)`,
 * `s += x` → `s = ag__.add(s, x)`, `i++` (as a statement) → `i = ag__.add(i, 1)`.
 *
 * Left alone: operations between two literals, comparisons with a string literal or a
 * `typeof` (always JavaScript), a postfix `i++` whose value is used, `**`, bitwise operators.
 *
 * @example
 * ```ts
 * import * as acorn from "acorn";
 * import { generate } from "astring";
 * import { convertOperators } from "./operators.ts";
 * import type { N } from "../_ast.ts";
 * const ast = acorn.parse("s += x * 2;", { ecmaVersion: "latest" }) as unknown as N;
 * console.log(generate(convertOperators(ast))); // s = ag__.add(s, ag__.mul(x, 2));
 * ```
 *
 * @module
 */
import { agCall, assign, literal, map, type N } from "../_ast.ts";

/** The AutoGraph operator of each JavaScript binary operator. */
export const BINARY: Record<string, string> = {
  "+": "add",
  "-": "sub",
  "*": "mul",
  "/": "div",
  "%": "mod",
  "<": "lt",
  ">": "gt",
  "<=": "le",
  ">=": "ge",
  "===": "eq",
  "!==": "ne",
  "==": "looseEq",
  "!=": "looseNe",
};

const plainJs = (n: N): boolean =>
  (n.type === "Literal" && typeof n.value === "string") || n.type === "TemplateLiteral" ||
  (n.type === "UnaryExpression" && n.operator === "typeof");

/** Rewrites the operators of `tree` (in place) into `ag__` calls. */
export function convertOperators(tree: N): N {
  return map(tree, (n) => {
    if (n.type === "BinaryExpression" && BINARY[n.operator]) {
      const { left, right } = n;
      if (left.type === "Literal" && right.type === "Literal") return n;
      if (plainJs(left) || plainJs(right)) return n;
      return agCall(BINARY[n.operator], [left, right]);
    }
    if (n.type === "UnaryExpression" && n.operator === "-" && n.argument.type !== "Literal") {
      return agCall("neg", [n.argument]);
    }
    const target = (t: N) => t.type === "Identifier" || t.type === "MemberExpression";
    if (n.type === "AssignmentExpression" && n.operator !== "=" && target(n.left)) {
      const op = BINARY[n.operator.slice(0, -1)];
      if (op) return assign(n.left, agCall(op, [structuredClone(n.left), n.right]));
    }
    // `i++` / `++i` whose value is not needed (a statement, a for update) or a prefix one.
    if (n.type === "ExpressionStatement" && isUpdate(n.expression)) {
      n.expression = updateToAssign(n.expression);
    } else if (n.type === "ForStatement" && n.update && isUpdate(n.update)) {
      n.update = updateToAssign(n.update);
    } else if (n.type === "SequenceExpression") {
      n.expressions = n.expressions.map((e: N, i: number) =>
        i < n.expressions.length - 1 && isUpdate(e) ? updateToAssign(e) : e
      );
    } else if (n.type === "UpdateExpression" && n.prefix && target(n.argument)) {
      return updateToAssign(n);
    }
    return n;
  });
}

const isUpdate = (e: N): boolean =>
  e.type === "UpdateExpression" &&
  (e.argument.type === "Identifier" || e.argument.type === "MemberExpression");

function updateToAssign(e: N): N {
  const op = e.operator === "++" ? "add" : "sub";
  return assign(e.argument, agCall(op, [structuredClone(e.argument), literal(1)]));
}
