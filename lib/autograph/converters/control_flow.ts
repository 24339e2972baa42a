/**
 * Converts `if`, `while` and `for...of` statements into AutoGraph operator calls (TensorFlow
 * AutoGraph's `control_flow` converter). The branches and the loop body become arrow
 * functions that assign the enclosing variables directly; the variables a statement
 * modifies (found by {@linkcode modifiedVariables}) are passed as state:
 *
 * ```text
 * ag__.ifStmt(test, () => { y = x; }, () => { y = ag__.neg(x); },
 *   () => [y], (vars_) => { [y] = vars_; }, ["y"]);
 * ag__.whileStmt(() => ag__.lt(i, n), () => { ... }, () => [i, s], (vars_) => { [i, s] = vars_; }, ["i", "s"]);
 * ag__.forStmt(xs, null, (x) => { ... }, ...);
 * ```
 *
 * Loops get the `break`/`return` flags of `return_break_continue.ts` as extra tests.
 *
 * @example
 * ```ts
 * import * as acorn from "acorn";
 * import { generate } from "astring";
 * import { convertControlFlow } from "./control_flow.ts";
 * import type { N } from "../_ast.ts";
 * const ast = acorn.parse("if (c) { y = 1; }", { ecmaVersion: "latest" }) as unknown as N;
 * console.log(generate(convertControlFlow(ast)));
 * ```
 *
 * @module
 */
import {
  agCall,
  array,
  arrow,
  assign,
  block,
  children,
  exprStmt,
  id,
  literal,
  map,
  type N,
  statements,
} from "../_ast.ts";
import * as acorn from "acorn";
import { liveAfter, modifiedVariables, rootName } from "../_analysis.ts";

/** The expression of a state name: a variable, or a composite name (`o.x`, `d["k"]`). */
const symbol = (name: string): N =>
  /^[\w$]+$/.test(name)
    ? id(name)
    : acorn.parseExpressionAt(name, 0, { ecmaVersion: "latest" }) as unknown as N;

/** `() => [a, b], (vars_) => { [a, b] = vars_; }, ["a", "b"]` (nothing when no state). */
function stateArgs(names: string[]): N[] {
  if (names.length === 0) return [];
  return [
    arrow([], array(names.map(symbol))),
    arrow([id("vars_")], block([exprStmt(assign(array(names.map(symbol)), id("vars_")))])),
    array(names.map(literal)),
  ];
}

/** `!flag1 && !flag2 && test`, as `ag__` calls. */
function guarded(flags: string[], test: N | null): N | null {
  return flags.reduceRight<N | null>((rest, flag) => {
    const not = agCall("not", [id(flag)]);
    return rest ? agCall("and", [arrow([], not), arrow([], rest)]) : not;
  }, test);
}

const isSetLoopOptions = (s: N): boolean =>
  s.type === "ExpressionStatement" && s.expression.type === "CallExpression" &&
  ((s.expression.callee.type === "Identifier" && s.expression.callee.name === "setLoopOptions") ||
    (s.expression.callee.type === "MemberExpression" &&
      s.expression.callee.property.name === "setLoopOptions"));

/**
 * The body of a loop without its `setLoopOptions(...)` calls, and the state and options
 * arguments of its operator call (explicit state when there are options).
 */
function loopParts(n: N, body: N[]): { body: N[]; rest: N[] } {
  const calls = body.filter(isSetLoopOptions);
  if (calls.length === 0) return { body, rest: stateArgs(n._state) };
  const state = n._state.length > 0
    ? stateArgs(n._state)
    : [arrow([], array([])), arrow([], block([])), array([])];
  return {
    body: body.filter((s) => !isSetLoopOptions(s)),
    rest: [...state, calls.at(-1)!.expression.arguments[0]],
  };
}

/** Rewrites the control flow statements of `tree` (in place). */
export function convertControlFlow(tree: N): N {
  // The state of each statement is read from the source before any of it is converted.
  // An `if` passes out only the variables read after it (TensorFlow's liveness analysis):
  // a temporary set in one branch and not used later is no error.
  const path: N[] = [];
  const annotate = (n: N): void => {
    if (n.type === "IfStatement") {
      const live = liveAfter(path, n);
      n._state = modifiedVariables(n).filter((x) =>
        live.has(rootName(x)) || rootName(x) === "this"
      );
    } else if (n.type === "WhileStatement" || n.type === "ForOfStatement") {
      n._state = modifiedVariables(n);
    }
    path.push(n);
    children(n).forEach(annotate);
    path.pop();
  };
  annotate(tree);
  return map(tree, (n) => {
    if (n.type === "IfStatement") {
      const orelse = n.alternate ? arrow([], block(statements(n.alternate))) : arrow([], block([]));
      return exprStmt(agCall("ifStmt", [
        n.test,
        arrow([], block(statements(n.consequent))),
        orelse,
        ...stateArgs(n._state),
      ]));
    }
    if (n.type === "DoWhileStatement") {
      return { ...n, test: agCall("doWhileTest", [n.test]) }; // no graph form: JavaScript only
    }
    if (n.type === "WhileStatement") {
      const { body, rest } = loopParts(n, statements(n.body));
      return exprStmt(agCall("whileStmt", [
        arrow([], guarded(n._guards ?? [], n.test)!),
        arrow([], block(body)),
        ...rest,
      ]));
    }
    if (n.type === "ForOfStatement" && !n.await) {
      let param = n.left.type === "VariableDeclaration" ? n.left.declarations[0].id : null;
      let body = statements(n.body);
      if (!param) { // `for (x of xs)` assigns an existing variable
        param = id("itr_");
        body = [exprStmt(assign(n.left, id("itr_"))), ...body];
      }
      const extra = guarded(n._guards ?? [], null);
      const parts = loopParts(n, body);
      return exprStmt(agCall("forStmt", [
        n.right,
        extra ? arrow([], extra) : literal(null),
        arrow([param], block(parts.body)),
        ...parts.rest,
      ]));
    }
    return n;
  });
}
