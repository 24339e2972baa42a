/**
 * ESTree helpers for the converters: a loose node type, a bottom-up tree map,
 * and builders for the few node shapes the generated code uses. (`pyct/templates`
 * and `pyct/gast_util` in TensorFlow's AutoGraph.)
 *
 * @example
 * ```ts
 * import { agCall, id } from "./_ast.ts";
 * console.log(agCall("not", [id("done")]).type); // "CallExpression"
 * ```
 *
 * @module
 */

/** An ESTree node, as acorn produces and astring prints (fields vary by `type`). */
// deno-lint-ignore no-explicit-any
export type N = { type: string; [field: string]: any };

/** True for the three kinds of JavaScript function nodes. */
export function isFunction(n: N): boolean {
  return n.type === "FunctionDeclaration" || n.type === "FunctionExpression" ||
    n.type === "ArrowFunctionExpression";
}

/** True for the loops AutoGraph converts (`for...in` and `do...while` stay JavaScript). */
export function isLoop(n: N): boolean {
  return n.type === "WhileStatement" || n.type === "ForStatement" ||
    n.type === "ForOfStatement";
}

const isNode = (x: unknown): x is N =>
  typeof x === "object" && x !== null && typeof (x as N).type === "string";

/** The child nodes of `n`, in source order. */
export function children(n: N): N[] {
  const out: N[] = [];
  for (const [k, v] of Object.entries(n)) {
    if (k === "loc" || k.startsWith("_")) continue;
    if (Array.isArray(v)) out.push(...v.filter(isNode));
    else if (isNode(v)) out.push(v);
  }
  return out;
}

/**
 * Rebuilds `n` bottom-up: children first, then `fn(node)` replaces the node
 * (return it unchanged to keep it). A statement list flattens blocks marked
 * `_flatten` (a converter that turns one statement into several). `enter`
 * may return false to leave a subtree alone.
 */
export function map(n: N, fn: (n: N) => N, enter: (n: N) => boolean = () => true): N {
  if (!enter(n)) return n;
  for (const [k, v] of Object.entries(n)) {
    if (k === "loc" || k.startsWith("_")) continue;
    if (Array.isArray(v)) {
      n[k] = v.flatMap((c) => {
        if (!isNode(c)) return [c];
        const r = map(c, fn, enter);
        return r.type === "BlockStatement" && r._flatten ? r.body : [r];
      });
    } else if (isNode(v)) n[k] = map(v, fn, enter);
  }
  return fn(n);
}

/** Visits every node of `n` (pre-order); `visit` returns false to skip a subtree. */
export function walk(n: N, visit: (n: N) => boolean | void): void {
  if (visit(n) === false) return;
  for (const c of children(n)) walk(c, visit);
}

// ---------------------------------------------------------------- builders

export const id = (name: string): N => ({ type: "Identifier", name });
export const literal = (value: string | number | boolean | null): N => ({
  type: "Literal",
  value,
  raw: JSON.stringify(value),
});
export const block = (body: N[], flatten = false): N => ({
  type: "BlockStatement",
  body,
  _flatten: flatten,
});
export const exprStmt = (expression: N): N => ({ type: "ExpressionStatement", expression });
export const assign = (left: N, right: N): N => ({
  type: "AssignmentExpression",
  operator: "=",
  left,
  right,
});
export const call = (callee: N, args: N[]): N => ({
  type: "CallExpression",
  callee,
  arguments: args,
  optional: false,
});
/** `ag__.name(...args)`: a call of an AutoGraph operator. */
export const agCall = (name: string, args: N[]): N =>
  call({ type: "MemberExpression", object: id("ag__"), property: id(name), computed: false }, args);
/** `(params) => body` (an expression body unless `body` is a block). */
export const arrow = (params: N[], body: N): N => ({
  type: "ArrowFunctionExpression",
  params,
  body,
  expression: body.type !== "BlockStatement",
  async: false,
  generator: false,
});
export const array = (elements: N[]): N => ({ type: "ArrayExpression", elements });
/** `let name = init;` (no initializer when `init` is undefined). */
export const letDecl = (name: string, init?: N): N => ({
  type: "VariableDeclaration",
  kind: "let",
  declarations: [{ type: "VariableDeclarator", id: id(name), init: init ?? null }],
});
export const ifStmt = (test: N, consequent: N, alternate: N | null = null): N => ({
  type: "IfStatement",
  test,
  consequent,
  alternate,
});
/** The statements of a statement used as a body (`if (c) x();` has no block). */
export const statements = (s: N | null): N[] =>
  s === null ? [] : s.type === "BlockStatement" ? s.body : [s];
