/**
 * Removes `break`, `continue` and `return` from inside loops and `if`s (TensorFlow
 * AutoGraph's `break_statements`, `continue_statements` and `return_statements`
 * converters): a graph loop body or cond branch is a function, which cannot jump out.
 *
 * - `break` → `break_ = true`; the statements after it in the body are guarded by
 *   `if (ag__.not(break_))` and the loop test becomes `!break_ && test`;
 * - `continue` → `continue_ = true` (reset at the top of each iteration); the rest of
 *   the body is guarded;
 * - `return x` inside control flow → `do_return = true; retval_ = x`; the code after it is
 *   guarded, loops stop on `do_return`, and the function ends with `return retval_`.
 *   First, code after an `if` whose branch always returns moves into the other branch
 *   (`if (c) return a; return b;` is `if (c) return a; else return b;`).
 *
 * A C-style `for (init; test; update)` becomes `init; while (test) { body; update }`.
 *
 * @example
 * ```ts
 * import * as acorn from "acorn";
 * import { generate } from "astring";
 * import { convertJumps } from "./return_break_continue.ts";
 * import type { N } from "../_ast.ts";
 * const src = "(function f(n) { while (n > 1) { if (n === 7) break; n = n - 1; } return n; })";
 * const ast = acorn.parse(src, { ecmaVersion: "latest" }) as unknown as N;
 * console.log(generate(convertJumps(ast)));
 * ```
 *
 * @module
 */
import {
  agCall,
  assign,
  block,
  exprStmt,
  id,
  ifStmt,
  isFunction,
  isLoop,
  letDecl,
  literal,
  map,
  type N,
  statements,
  walk,
} from "../_ast.ts";
import { AutoGraphError } from "../errors.ts";

interface Jump {
  /** The statement type replaced: BreakStatement, ContinueStatement or ReturnStatement. */
  type: string;
  /** The flag variable that records the jump. */
  flag: string;
  /** What the jump statement becomes. */
  replace(s: N): N[];
}

/** Does `s` contain a jump of this kind that belongs to the enclosing loop/function? */
function contains(s: N, type: string): boolean {
  let found = false;
  walk(s, (c) => {
    if (found || isFunction(c)) return false;
    if (
      type !== "ReturnStatement" && c !== s && (isLoop(c) || c.type === "ForInStatement" ||
        c.type === "DoWhileStatement")
    ) return false;
    if (type === "BreakStatement" && c.type === "SwitchStatement") return false;
    if (c.type === type) found = true;
  });
  return found;
}

const NEVER = 0, MAYBE = 1, ALWAYS = 2;

/** Rewrites a statement list; returns the new list and whether it jumps (NEVER/MAYBE/ALWAYS). */
function rewrite(stmts: N[], j: Jump): [N[], number] {
  const out: N[] = [];
  for (let k = 0; k < stmts.length; k++) {
    const [s, kind] = rewriteStmt(stmts[k], j);
    out.push(...s);
    if (kind === ALWAYS) return [out, ALWAYS]; // what follows never runs
    if (kind === MAYBE) {
      const [rest] = rewrite(stmts.slice(k + 1), j);
      if (rest.length > 0) out.push(ifStmt(agCall("not", [id(j.flag)]), block(rest)));
      return [out, MAYBE];
    }
  }
  return [out, NEVER];
}

function rewriteStmt(s: N, j: Jump): [N[], number] {
  if (s.type === j.type) {
    if (s.label) {
      throw new AutoGraphError(
        `AutoGraph does not convert a labeled jump (\`${
          j.type === "BreakStatement" ? "break" : "continue"
        } ` +
          `${s.label.name}\`): use a flag variable, or turn AutoGraph off with { autograph: false }`,
      );
    }
    return [j.replace(s), ALWAYS];
  }
  if (!contains(s, j.type)) return [[s], NEVER];
  if (s.type === "BlockStatement") {
    const [body, kind] = rewrite(s.body, j);
    return [[block(body)], kind];
  }
  if (s.type === "IfStatement") {
    const [a, ka] = rewrite(statements(s.consequent), j);
    const [b, kb] = rewrite(statements(s.alternate), j);
    const kind = ka === ALWAYS && kb === ALWAYS ? ALWAYS : MAYBE;
    return [[ifStmt(s.test, block(a), s.alternate ? block(b) : null)], kind];
  }
  if (isLoop(s) && j.type === "ReturnStatement") { // a return inside a loop also stops it
    s.body = block(rewrite(statements(s.body), j)[0]);
    (s._guards ??= []).unshift(j.flag);
    return [[s], MAYBE];
  }
  const what = j.type.replace("Statement", "").toLowerCase();
  throw new AutoGraphError(
    `AutoGraph cannot convert a \`${what}\` inside a ${s.type.replace("Statement", "")} ` +
      `statement: restructure the code, or turn AutoGraph off with { autograph: false }`,
  );
}

/** Makes names unique within one converted function: break_, break_1, ... */
function namer(): (base: string) => string {
  const counts = new Map<string, number>();
  return (base) => {
    const n = counts.get(base) ?? 0;
    counts.set(base, n + 1);
    return n === 0 ? base : `${base}${n}`;
  };
}

const setFlag = (flag: string): N => exprStmt(assign(id(flag), literal(true)));

/** Converts the `break`/`continue` of one loop; C-style `for` loops become `while`s. */
function convertLoop(loop: N, name: (base: string) => string): N {
  let body = statements(loop.body);
  if (body.some((s) => contains(s, "ContinueStatement"))) {
    const flag = name("continue_");
    const jump = { type: "ContinueStatement", flag, replace: () => [setFlag(flag)] };
    body = [letDecl(flag, literal(false)), ...rewrite(body, jump)[0]];
  }
  let out = loop;
  const before: N[] = [];
  if (loop.type === "ForStatement") {
    if (loop.init) {
      before.push(loop.init.type === "VariableDeclaration" ? loop.init : exprStmt(loop.init));
    }
    if (loop.update) body = [...body, exprStmt(loop.update)];
    out = { type: "WhileStatement", test: loop.test ?? literal(true), body: block([]) };
  }
  if (body.some((s) => contains(s, "BreakStatement"))) {
    const flag = name("break_");
    const jump = { type: "BreakStatement", flag, replace: () => [setFlag(flag)] };
    body = rewrite(body, jump)[0];
    before.push(letDecl(flag, literal(false)));
    out._guards = [flag];
  }
  out.body = block(body);
  if (before.length === 0) return out;
  // A desugared `for` keeps its own block (its `let i` must not leak); a `while` is flattened.
  return block([...before, out], loop.type !== "ForStatement");
}

/** The code after an `if` whose branch always returns moves into the other branch. */
function absorb(stmts: N[]): N[] {
  const out: N[] = [];
  for (let k = 0; k < stmts.length; k++) {
    const s = stmts[k];
    if (s.type === "IfStatement") {
      const a = absorb(statements(s.consequent));
      const b = absorb(statements(s.alternate));
      const rest = stmts.slice(k + 1);
      const [ra, rb] = [a.some(exits), b.some(exits)];
      if (rest.length > 0 && ra !== rb) {
        const tail = absorb(rest);
        out.push(ifStmt(s.test, block(ra ? a : [...a, ...tail]), block(ra ? [...b, ...tail] : b)));
        return out;
      }
      out.push(ifStmt(s.test, block(a), s.alternate ? block(b) : null));
    } else if (s.type === "BlockStatement") out.push(block(absorb(s.body)));
    else out.push(s);
  }
  return out;
}

/** True when `s` returns (or throws) on every path. */
function exits(s: N): boolean {
  if (s.type === "ReturnStatement" || s.type === "ThrowStatement") return true;
  if (s.type === "BlockStatement") return s.body.some(exits);
  if (s.type === "IfStatement") {
    return s.alternate !== null && exits(s.consequent) && exits(s.alternate);
  }
  return false;
}

/** Converts the `return`s of one function whose returns are not all at its top level. */
function convertReturns(fn: N): void {
  if (fn.body.type !== "BlockStatement") return;
  const nested = fn.body.body.some((s: N) =>
    s.type !== "ReturnStatement" && contains(s, "ReturnStatement")
  );
  if (!nested) return;
  const jump: Jump = {
    type: "ReturnStatement",
    flag: "do_return",
    replace: (
      s,
    ) => [setFlag("do_return"), exprStmt(assign(id("retval_"), s.argument ?? id("undefined")))],
  };
  const [body] = rewrite(absorb(fn.body.body), jump);
  fn.body = block([
    letDecl("do_return", literal(false)),
    letDecl("retval_"),
    ...body,
    { type: "ReturnStatement", argument: id("retval_") },
  ]);
}

/** Removes the jumps of every loop and function in `tree` (in place). */
export function convertJumps(tree: N): N {
  const name = namer();
  return map(tree, (n) => {
    if (isLoop(n)) return convertLoop(n, name);
    if (isFunction(n)) convertReturns(n);
    return n;
  });
}
