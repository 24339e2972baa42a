/**
 * The parameters of a JavaScript function, read from its source text (the only
 * place JavaScript keeps parameter names and default values): what
 * `tfFunction` needs to name a trace's inputs after the parameters and to bind
 * default values before it keys its cache, as TensorFlow's `FunctionSpec` does
 * with Python's `inspect.signature`.
 *
 * The parser is small: it finds the parameter list (`function f(...)`,
 * `(...) =>`, `x =>`, a method `m(...) {`), splits it at top-level commas
 * (skipping strings, template literals, comments and brackets) and reads each
 * parameter as a name, `...rest`, a destructuring pattern, with or without
 * `= default`. A default is known only when it is a literal: a number, a
 * string, `true`/`false`/`null`/`undefined`, a JSON array or object; an
 * options pattern `{ a = 1, b = "x" } = {}` gives its keys' literal defaults.
 * Anything else (an expression default, source that cannot be read, a native
 * function) falls back safely: the name is unknown (`null`) and the default
 * unknown, so the caller treats the argument as given.
 *
 * @example
 * ```ts
 * import { parseParameters } from "./_function_params.ts";
 * const ps = parseParameters((x: number, y = 2, { training = false } = {}) => x + y);
 * console.log(ps!.map((p) => p.name)); // ["x", "y", null]
 * console.log(ps![1].defaultValue); // { value: 2 }
 * ```
 *
 * @module
 */

/** One parameter as written. */
export interface Parameter {
  /** The name, or null for a destructuring pattern. */
  name: string | null;
  /** `...name`. */
  rest: boolean;
  /** Whether it is written with `= default`. */
  hasDefault: boolean;
  /** The default when it is a literal (`{ value }`), else undefined. */
  defaultValue?: { value: unknown };
  /** For `{ a = 1, b } = ...`: the keys with literal defaults. */
  keyDefaults?: Record<string, unknown>;
  /** The source text of the default (`"2"`, `"{}"`), for display. */
  defaultText?: string;
}

const IDENT = /^[A-Za-z_$][\w$]*$/;

/**
 * The parameters of `fn`, or null when its source cannot be read (a native or
 * bound function, a class, unexpected text).
 */
export function parseParameters(fn: unknown): Parameter[] | null {
  if (typeof fn !== "function") return null;
  let src: string;
  try {
    src = Function.prototype.toString.call(fn);
  } catch {
    return null;
  }
  if (/\{\s*\[native code\]\s*\}\s*$/.test(src) || /^\s*class\b/.test(src)) return null;
  const list = parameterList(src);
  if (list === null) return null;
  const parts = splitTopLevel(list).map((p) => stripComments(p).trim());
  if (parts.length > 0 && parts[parts.length - 1] === "") parts.pop(); // trailing comma
  if (parts.some((p) => p === "")) return null;
  const out: Parameter[] = [];
  for (const p of parts) {
    const param = parseOne(p);
    if (param === null) return null;
    out.push(param);
  }
  return out;
}

/** The text between the parentheses of the parameter list (or a lone arrow parameter). */
function parameterList(src: string): string | null {
  const s = stripComments(src).trimStart();
  const single = /^(?:async\s+)?([A-Za-z_$][\w$]*)\s*=>/.exec(s);
  if (single && single[1] !== "function") return single[1];
  const open = s.indexOf("(");
  if (open < 0) return null;
  const head = s.slice(0, open).trim();
  // `function name`, `async function* name`, `async`, a method name, `get name`, or nothing.
  if (
    !/^(?:async\s*)?(?:function\b\s*\*?\s*[\w$]*|[\w$]*|\*\s*[\w$]+|(?:get|set|static)\s+[\w$]+)$/
      .test(head)
  ) {
    return null;
  }
  const close = matching(s, open);
  return close < 0 ? null : s.slice(open + 1, close);
}

/** The index of the bracket closing the one at `open`, skipping strings and comments. */
function matching(s: string, open: number): number {
  let depth = 0;
  for (let i = open; i < s.length; i++) {
    const c = s[i];
    if (c === '"' || c === "'" || c === "`") {
      i = endOfString(s, i);
      if (i < 0) return -1;
    } else if (c === "(" || c === "[" || c === "{") depth++;
    else if (c === ")" || c === "]" || c === "}") {
      if (--depth === 0) return i;
    }
  }
  return -1;
}

/** The index of the quote closing the string starting at `i` (-1 if none). */
function endOfString(s: string, i: number): number {
  const q = s[i];
  for (let j = i + 1; j < s.length; j++) {
    if (s[j] === "\\") j++;
    else if (s[j] === q) return j;
  }
  return -1;
}

function stripComments(s: string): string {
  let out = "";
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (c === '"' || c === "'" || c === "`") {
      const end = endOfString(s, i);
      if (end < 0) return out + s.slice(i);
      out += s.slice(i, end + 1);
      i = end;
    } else if (c === "/" && s[i + 1] === "/") {
      const nl = s.indexOf("\n", i);
      i = nl < 0 ? s.length : nl - 1;
    } else if (c === "/" && s[i + 1] === "*") {
      const end = s.indexOf("*/", i + 2);
      i = end < 0 ? s.length : end + 1;
      out += " ";
    } else out += c;
  }
  return out;
}

/** `s` split at the commas outside brackets and strings. */
function splitTopLevel(s: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (c === '"' || c === "'" || c === "`") {
      const end = endOfString(s, i);
      if (end < 0) break;
      i = end;
    } else if (c === "(" || c === "[" || c === "{") depth++;
    else if (c === ")" || c === "]" || c === "}") depth--;
    else if (c === "," && depth === 0) {
      parts.push(s.slice(start, i));
      start = i + 1;
    }
  }
  parts.push(s.slice(start));
  return parts;
}

/** The index of the top-level `=` of a parameter (not `==`, `=>`, nor inside brackets). */
function topLevelEquals(s: string): number {
  let depth = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (c === '"' || c === "'" || c === "`") {
      const end = endOfString(s, i);
      if (end < 0) return -1;
      i = end;
    } else if (c === "(" || c === "[" || c === "{") depth++;
    else if (c === ")" || c === "]" || c === "}") depth--;
    else if (c === "=" && depth === 0 && s[i + 1] !== "=" && s[i + 1] !== ">") return i;
  }
  return -1;
}

function parseOne(p: string): Parameter | null {
  if (p.startsWith("...")) {
    const name = p.slice(3).trim();
    return { name: IDENT.test(name) ? name : null, rest: true, hasDefault: false };
  }
  const eq = topLevelEquals(p);
  const target = (eq < 0 ? p : p.slice(0, eq)).trim();
  const defaultText = eq < 0 ? undefined : p.slice(eq + 1).trim();
  const defaultValue = defaultText === undefined ? undefined : literal(defaultText);
  const base = { rest: false, hasDefault: eq >= 0, defaultValue, defaultText };
  if (target.startsWith("{")) return { name: null, ...base, keyDefaults: keyDefaults(target) };
  if (target.startsWith("[")) return { name: null, ...base };
  // A leftover TypeScript annotation (`x: number`) names `x`.
  const name = target.split(":")[0].trim().replace(/\?$/, "");
  return IDENT.test(name) ? { name, ...base } : null;
}

/** `{ a = 1, b: c = "x", d }` → `{ a: 1, b: "x" }` (literal defaults only). */
function keyDefaults(pattern: string): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const inner = pattern.slice(1, matching(pattern, 0));
  for (const item of splitTopLevel(inner).map((s) => s.trim())) {
    const eq = topLevelEquals(item);
    if (eq < 0 || item.startsWith("...")) continue;
    const key = item.slice(0, eq).split(":")[0].trim().replace(/^["']|["']$/g, "");
    const value = literal(item.slice(eq + 1).trim());
    if (IDENT.test(key) && value) out[key] = value.value;
  }
  return out;
}

const NUMBER =
  /^[+-]?(?:\d[\d_]*\.?\d*(?:e[+-]?\d+)?|\.\d+(?:e[+-]?\d+)?|0x[\da-f]+|0b[01]+|0o[0-7]+)$/i;

/** The value of a literal default, or undefined when it is not one. */
export function literal(text: string): { value: unknown } | undefined {
  const t = text.trim();
  switch (t) {
    case "undefined":
    case "void 0":
      return { value: undefined };
    case "NaN":
      return { value: NaN };
    case "Infinity":
    case "+Infinity":
      return { value: Infinity };
    case "-Infinity":
      return { value: -Infinity };
  }
  if (NUMBER.test(t)) {
    const negative = t.startsWith("-");
    const n = Number(t.replace(/^[+-]/, "").replace(/_/g, ""));
    return Number.isNaN(n) ? undefined : { value: negative ? -n : n };
  }
  if (/^'(?:[^'\\"\n]|\\')*'$/.test(t)) {
    return { value: t.slice(1, -1).replace(/\\'/g, "'") };
  }
  if (/^`[^`$\\]*`$/.test(t)) return { value: t.slice(1, -1) };
  try {
    return { value: JSON.parse(t) }; // "strings", true, false, null, JSON arrays and objects
  } catch {
    return undefined;
  }
}
