/**
 * Scope analysis on the parsed function (TensorFlow AutoGraph's `pyct/static_analysis`,
 * reduced to what the converters need):
 *
 * - {@linkcode modifiedVariables}: the names a statement assigns that live outside it —
 *   the loop-carried variables of a loop, the outputs of an `if`;
 * - {@linkcode freeVariables}: the names a function reads but does not declare — what the
 *   converted code must find in `options.scope` or the global scope.
 *
 * The analysis is by name, not by binding (shadowing inside one function is rare in code
 * written for tracing); nested functions are opaque to {@linkcode modifiedVariables}.
 *
 * @example
 * ```ts
 * import * as acorn from "acorn";
 * import { modifiedVariables, type N } from "./_analysis.ts";
 * const loop = (acorn.parse("while (i < n) { s = s + i; i++; let t = 1; }", {
 *   ecmaVersion: "latest",
 * }) as unknown as N).body[0];
 * console.log(modifiedVariables(loop)); // ["i", "s"]
 * ```
 *
 * @module
 */
import { isFunction, isLoop, type N, walk } from "./_ast.ts";
export type { N } from "./_ast.ts";

/** The names a binding pattern declares (`[a, { b, c: d }, ...e]` → a, b, d, e). */
export function patternNames(p: N | null): string[] {
  if (!p) return [];
  switch (p.type) {
    case "Identifier":
      return [p.name];
    case "ArrayPattern":
      return p.elements.flatMap(patternNames);
    case "ObjectPattern":
      return p.properties.flatMap((q: N) =>
        patternNames(q.type === "RestElement" ? q.argument : q.value)
      );
    case "RestElement":
      return patternNames(p.argument);
    case "AssignmentPattern":
      return patternNames(p.left);
    default: // a member expression target (`o.x = ...`) declares nothing
      return [];
  }
}

/** Names declared inside `n` (let/const/var, functions, classes, catch), not inside functions. */
function declaredIn(n: N): Set<string> {
  const out = new Set<string>();
  walk(n, (c) => {
    if (c.type === "VariableDeclaration") {
      for (const d of c.declarations) patternNames(d.id).forEach((x) => out.add(x));
    } else if (c.type === "FunctionDeclaration" || c.type === "ClassDeclaration") {
      if (c.id) out.add(c.id.name);
    } else if (c.type === "CatchClause") patternNames(c.param).forEach((x) => out.add(x));
    if (isFunction(c) && c !== n) return false;
  });
  return out;
}

/**
 * The source text of a member expression AutoGraph tracks as a symbol of its own
 * (TensorFlow's composite names): `o.x`, `this.x`, `o.a.b`, `l[0]`, `d["k"]` (constant
 * keys only); null for anything else (`d[key]`, `f().x`).
 */
export function compositeName(m: N): string | null {
  if (m.type !== "MemberExpression" || m.optional) return null;
  const obj = m.object.type === "Identifier"
    ? m.object.name
    : m.object.type === "ThisExpression"
    ? "this"
    : compositeName(m.object);
  if (obj === null) return null;
  if (!m.computed) {
    return m.property.type === "PrivateIdentifier"
      ? `${obj}.#${m.property.name}`
      : `${obj}.${m.property.name}`;
  }
  const key = m.property.type === "Literal" ? m.property.value : undefined;
  return typeof key === "number" || typeof key === "string"
    ? `${obj}[${JSON.stringify(key)}]`
    : null;
}

/** The variable a (possibly composite) name starts from: `o` for `o.x` and `o["k"]`. */
export const rootName = (name: string): string => /^[^.[]+/.exec(name)![0];

/**
 * The variables `n` assigns (`=`, `+=`, `++`) that are declared outside it, sorted: the
 * state an `if` passes out or a loop carries. An object's fields and constant-key
 * elements assigned directly (`o.x = 1`, `this.n += 1`, `d["k"] -= 1`, `l[0]++`) count as
 * symbols of their own (`"o.x"`, TensorFlow's composite names), unless the object is
 * declared inside `n`; assignments inside nested functions do not count.
 */
export function modifiedVariables(n: N): string[] {
  const out = new Set<string>();
  const target = (t: N): void => {
    const composite = compositeName(t);
    if (composite !== null) out.add(composite);
    else patternNames(t).forEach((x) => out.add(x));
  };
  walk(n, (c) => {
    if (isFunction(c)) return false;
    if (c.type === "AssignmentExpression") target(c.left);
    if (c.type === "UpdateExpression") target(c.argument);
    if (c.type === "ForOfStatement" && c.left.type !== "VariableDeclaration") {
      patternNames(c.left).forEach((x) => out.add(x));
    }
  });
  const local = declaredIn(n);
  return [...out].filter((x) => !local.has(rootName(x))).sort();
}

/** Every name declared anywhere in `fn`: its parameters, its own name, and all inner bindings. */
function allDeclared(fn: N): Set<string> {
  const out = new Set<string>(["arguments"]);
  walk(fn, (c) => {
    if (isFunction(c) || c.type === "ClassExpression" || c.type === "ClassDeclaration") {
      if (c.id) out.add(c.id.name);
      for (const p of c.params ?? []) patternNames(p).forEach((x) => out.add(x));
    }
    if (c.type === "VariableDeclarator") patternNames(c.id).forEach((x) => out.add(x));
    if (c.type === "CatchClause") patternNames(c.param).forEach((x) => out.add(x));
  });
  return out;
}

/** The names `fn` reads or writes but never declares, in order of first use. */
export function freeVariables(fn: N): string[] {
  const declared = allDeclared(fn);
  const out = new Set<string>();
  const visit = (n: N | null): void => {
    if (!n || typeof n !== "object") return;
    switch (n.type) {
      case "Identifier":
        if (!declared.has(n.name)) out.add(n.name);
        return;
      case "MemberExpression":
        visit(n.object);
        if (n.computed) visit(n.property);
        return;
      case "Property":
      case "PropertyDefinition":
      case "MethodDefinition":
        if (n.computed) visit(n.key);
        visit(n.value);
        return;
      case "LabeledStatement":
        visit(n.body);
        return;
      case "BreakStatement":
      case "ContinueStatement":
      case "MetaProperty":
        return;
    }
    for (const [k, v] of Object.entries(n)) {
      if (k === "loc" || k.startsWith("_")) continue;
      if (Array.isArray(v)) v.forEach((c) => visit(c));
      else if (v && typeof v === "object" && typeof v.type === "string") visit(v);
    }
  };
  visit(fn.body);
  for (const p of fn.params) visit(p);
  return [...out];
}

/** The names read anywhere in `n` (nested functions included); plain `x = ...` targets are writes. */
export function readVariables(n: N): Set<string> {
  const out = new Set<string>();
  const visit = (c: N | null): void => {
    if (!c || typeof c !== "object") return;
    switch (c.type) {
      case "Identifier":
        out.add(c.name);
        return;
      case "AssignmentExpression":
        if (c.operator === "=" && c.left.type !== "MemberExpression") {
          visitPatternDefaults(c.left);
        } else visit(c.left);
        visit(c.right);
        return;
      case "VariableDeclarator":
        visitPatternDefaults(c.id);
        visit(c.init);
        return;
      case "MemberExpression":
        visit(c.object);
        if (c.computed) visit(c.property);
        return;
      case "Property":
      case "PropertyDefinition":
      case "MethodDefinition":
        if (c.computed) visit(c.key);
        visit(c.value);
        return;
      case "LabeledStatement":
        visit(c.body);
        return;
      case "BreakStatement":
      case "ContinueStatement":
        return;
    }
    for (const [k, v] of Object.entries(c)) {
      if (k === "loc" || k.startsWith("_")) continue;
      if (Array.isArray(v)) v.forEach((x) => visit(x));
      else if (v && typeof v === "object" && typeof v.type === "string") visit(v);
    }
  };
  // In a write target only default values and computed keys are reads.
  const visitPatternDefaults = (p: N | null): void => {
    if (!p) return;
    if (p.type === "AssignmentPattern") {
      visitPatternDefaults(p.left);
      visit(p.right);
    } else if (p.type === "ArrayPattern") p.elements.forEach(visitPatternDefaults);
    else if (p.type === "ObjectPattern") {
      for (const q of p.properties) {
        if (q.type === "RestElement") visitPatternDefaults(q.argument);
        else {
          if (q.computed) visit(q.key);
          visitPatternDefaults(q.value);
        }
      }
    } else if (p.type === "RestElement") visitPatternDefaults(p.argument);
    else if (p.type === "MemberExpression") visit(p);
  };
  visit(n);
  return out;
}

/**
 * The names that may be read after `node` runs (`path`: its ancestors, outermost first):
 * by the statements after it in each enclosing block, by an enclosing loop (which runs
 * again), and by any function nested in the enclosing function (a closure may run later).
 * TensorFlow's liveness analysis, conservatively.
 */
export function liveAfter(path: N[], node: N): Set<string> {
  const live = new Set<string>();
  const add = (n: N) => readVariables(n).forEach((x) => live.add(x));
  for (let k = path.length - 1; k >= 0; k--) {
    const parent = path[k];
    const child = path[k + 1] ?? node;
    if (isFunction(parent)) {
      walk(parent.body, (c) => {
        if (isFunction(c)) {
          add(c);
          return false;
        }
      });
      break;
    }
    for (const key of ["body", "consequent"]) {
      const list = parent[key];
      if (Array.isArray(list) && list.includes(child)) {
        list.slice(list.indexOf(child) + 1).forEach(add);
      }
    }
    if (isLoop(parent) || parent.type === "DoWhileStatement" || parent.type === "ForInStatement") {
      add(parent);
    }
  }
  return live;
}
