/**
 * `convert(fn)` rewrites a JavaScript function's source so that its control flow and
 * operators work on tensors, as TensorFlow's AutoGraph rewrites Python
 * (`tf.autograph.to_graph`); `toCode(fn)` shows the generated code
 * (`tf.autograph.to_code`).
 *
 * The source (`fn.toString()`: the JavaScript Deno transpiled from TypeScript) is parsed
 * with acorn, converted by one small tree transform per construct (`converters/`), printed
 * with astring and compiled with `new Function` in the global scope, with the operators
 * (`operators/`) passed in as `ag__`.
 *
 * Free variables: the compiled code sees the global scope — in a notebook, the top-level
 * names of every cell (imports included) — and `options.scope`. A function in a module
 * that uses closure variables (its imports, outer `const`s) must pass them:
 * `convert(fn, { scope: { tf, w } })`; a name it cannot see is an {@linkcode AutoGraphError}
 * when converting. `range` is always available. A function with nothing to convert (no
 * control flow, no operators: `(x) => x.square().sum()`) is returned as it is.
 *
 * @example
 * ```ts
 * import { convert, toCode } from "./convert.ts";
 * const f = (x: number) => {
 *   if (x > 0) return x;
 *   return -x;
 * };
 * console.log(convert(f)(-3)); // 3 (plain JavaScript values run as JavaScript)
 * console.log(toCode(f).includes("ag__.ifStmt")); // true
 * ```
 *
 * @module
 */
import * as acorn from "acorn";
import { generate } from "astring";
import type { N } from "./_ast.ts";
import { freeVariables } from "./_analysis.ts";
import { convertOperators } from "./converters/operators.ts";
import { convertLogical } from "./converters/logical.ts";
import { convertJumps } from "./converters/return_break_continue.ts";
import { convertControlFlow } from "./converters/control_flow.ts";
import * as ag__ from "./operators/mod.ts";
import { AutoGraphError, AutoGraphScopeError } from "./errors.ts";

/** Options for {@linkcode convert}. */
export interface ConvertOptions {
  /** Values of the function's free variables the global scope does not have (closures, imports). */
  scope?: Record<string, unknown>;
}

// deno-lint-ignore no-explicit-any
type AnyFunction = (...args: any[]) => any;

interface Converted {
  code: string;
  free: string[];
}

const sources = new WeakMap<AnyFunction, Converted>();
const originals = new WeakMap<AnyFunction, AnyFunction>();
const unscoped = new WeakMap<AnyFunction, AnyFunction>();

const parse = (src: string): N =>
  acorn.parse(src, { ecmaVersion: "latest", sourceType: "script" }) as unknown as N;

/** The function node of `fn`'s source: an arrow, a function, or a method (`f(x) {...}`). */
function functionNode(fn: AnyFunction): N {
  const src = fn.toString();
  try {
    return parse(`(${src})`).body[0].expression;
  } catch {
    try {
      const method = parse(`({${src}})`).body[0].expression.properties[0];
      const node = method.value;
      if (method.key.type === "Identifier") node.id = method.key;
      return node;
    } catch {
      throw new AutoGraphError(
        `cannot convert ${fn.name || "this function"}: its source is not available ` +
          `(a built-in or bound function); convert the original function, or use { autograph: false }`,
      );
    }
  }
}

function transform(fn: AnyFunction): Converted {
  let done = sources.get(fn);
  if (!done) {
    const node = functionNode(fn);
    if (node.async || node.generator) {
      throw new AutoGraphError(
        `cannot convert ${fn.name || "this function"}: async functions and generators are not ` +
          `converted; use { autograph: false }`,
      );
    }
    for (const step of [convertOperators, convertLogical, convertJumps, convertControlFlow]) {
      step(node);
    }
    const free = freeVariables(node).filter((name) => name !== "ag__");
    done = { code: generate(node as unknown as acorn.Node), free };
    sources.set(fn, done);
  }
  return done;
}

/** Is `name` visible to code compiled in the global scope (a global, or a notebook cell's name)? */
function visibleGlobally(name: string): boolean {
  if (name in globalThis) return true;
  try {
    (0, eval)(name); // a script-scope `let`/`const` is not a property of globalThis
    return true;
  } catch {
    return false;
  }
}

const untouched = new WeakSet<AnyFunction>();

/**
 * Marks `fn` as not to be converted (`tf.autograph.experimental.do_not_convert`):
 * {@linkcode convert} returns it as it is. For functions whose source cannot or should
 * not be rewritten, e.g. a `tfFunction` wrapper.
 */
export function doNotConvert<F extends AnyFunction>(fn: F): F {
  untouched.add(fn);
  return fn;
}

/**
 * The converted version of `fn`: the same function with `if`/`while`/`for`, `&&`/`||`/`!`,
 * `?:` and the arithmetic and comparison operators dispatching on tensors. Converting a
 * converted function returns it; without `scope`, the result is cached per function.
 */
export function convert<F extends AnyFunction>(fn: F, options: ConvertOptions = {}): F {
  if (originals.has(fn) || untouched.has(fn)) return fn;
  const scope = options.scope;
  if (!scope) {
    const cached = unscoped.get(fn);
    if (cached) return cached as F;
  }
  const { code, free } = transform(fn);
  // Nothing to convert (no control flow, no operators): the function itself is its
  // conversion, and keeps its closure.
  if (!code.includes("ag__")) return fn;
  const params: string[] = [];
  const values: unknown[] = [];
  for (const name of free) {
    if (scope && Object.hasOwn(scope, name)) {
      params.push(name);
      values.push(scope[name]);
    } else if (!visibleGlobally(name)) {
      if (name === "range") {
        params.push(name);
        values.push(ag__.range);
        continue;
      }
      throw new AutoGraphScopeError(
        `AutoGraph cannot see '${name}', used by ${fn.name || "the function"}: the converted ` +
          `code runs in the global scope, where closure variables and module imports are not ` +
          `visible. Pass it: { scope: { ${name} } }, or turn AutoGraph off with { autograph: false }`,
        name,
      );
    }
  }
  const out = new Function("ag__", ...params, `return (${code});`)(ag__, ...values) as F;
  originals.set(out, fn);
  if (!scope) unscoped.set(fn, out);
  return out;
}

/**
 * The code AutoGraph generates for `fn` (`tf.autograph.to_code`). A `tfFunction` may be
 * passed directly: its `pythonFunction` (the function as written) is converted.
 */
export function toCode(fn: AnyFunction): string {
  const written = (fn as { pythonFunction?: AnyFunction }).pythonFunction ?? fn;
  return transform(originals.get(written) ?? written).code;
}
