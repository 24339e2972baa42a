/**
 * The run-time side of converted control flow (TensorFlow AutoGraph's
 * `operators/control_flow.py`). Each statement dispatches on its condition or iterable:
 *
 * - a symbolic tensor → graph control flow: `ifStmt` → `v1.cond`, `whileStmt` and
 *   `forStmt` → `v1.whileLoop`, with the statement's variables (found by the converter)
 *   as branch outputs / loop variables, read with `getState` and written with `setState`;
 * - an eager `tf.Tensor` → read as a JavaScript boolean now (eager execution);
 * - a JavaScript value → plain JavaScript at trace time: a loop over `range(3)` unrolls.
 *
 * A `TensorArray` made in the trace is carried as its one graph tensor (as TF carries a
 * TensorArray's flow); a loop that writes one whose element shape is not known yet, or an
 * `if` whose else branch alone writes it, is traced once more first to learn that shape.
 *
 * The errors follow TensorFlow's: a variable defined in one branch only, a `return` in
 * one branch only, a loop variable whose dtype or shape changes, a value a graph loop
 * cannot carry.
 *
 * @example
 * ```ts
 * import { ifStmt } from "./control_flow.ts";
 * let y = 0;
 * ifStmt(3 > 2, () => { y = 1; }, () => { y = 2; }, () => [y], ([v]) => { y = v as number; }, ["y"]);
 * console.log(y); // 1
 * ```
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import * as v1 from "../../v1/mod.ts";
import { AutoGraphError } from "../errors.ts";
import { add, gt, lt } from "./arithmetic.ts";
import { and } from "./logical.ts";
import { asSymbolic, describe, isEager, isSymbolic, isTensorLike, truthy } from "./_tensors.ts";
import { TensorArray } from "../../tensor_array.ts";

type Sym = v1.SymbolicTensor;
/** Reads the current values of the statement's variables. */
export type GetState = () => unknown[];
/** Writes the statement's variables. */
export type SetState = (values: unknown[]) => void;

const noState: GetState = () => [];
/** > 0 while a loop body is traced once to learn the types of variables it defines. */
let probing = 0;
const noop: SetState = () => {};

// ---------------------------------------------------------------- if

/**
 * Runs `build` (a `v1.cond` / `v1.whileLoop`); if it throws, frees the constants of the
 * sub-graphs it had built (`graphs`), which no op owns then.
 */
function disposingOnError<T>(graphs: v1.Graph[], build: () => T): T {
  try {
    return build();
  } catch (e) {
    for (const g of new Set(graphs)) g.dispose();
    throw e;
  }
}

/**
 * `if (test) body() else orelse()`. On a symbolic `test` both branches are traced into
 * one `If` op; the variables they assign (`names`) become its outputs.
 */
export function ifStmt(
  test: unknown,
  body: () => void,
  orelse: () => void,
  getState: GetState = noState,
  setState: SetState = noop,
  names: string[] = [],
): void {
  if (isSymbolic(test)) return tfIf(test, body, orelse, getState, setState, names);
  if (truthy(test, "if")) body();
  else orelse();
}

/** `test ? a() : b()`; on a symbolic `test`, `v1.cond(test, a, b)`. */
export function ifExp(test: unknown, a: () => unknown, b: () => unknown): unknown {
  if (isSymbolic(test)) {
    return v1.cond(test, a as () => v1.TensorLike, b as () => v1.TensorLike, "cond");
  }
  return truthy(test, "?:") ? a() : b();
}

const dtypeOf = (x: unknown): v1.DType | undefined =>
  isSymbolic(x) || isEager(x) || x instanceof TensorArray ? x.dtype as v1.DType : undefined;

/** A TensorArray made in a trace: graph control flow carries its one graph tensor. */
const isTracedArray = (x: unknown): x is TensorArray => x instanceof TensorArray && x._traced;
/** A value a graph `if` or loop carries: a tensor, a number, a boolean, a traced TensorArray. */
const isCarried = (x: unknown): boolean => isTensorLike(x) || isTracedArray(x);
/** `v` as the graph tensor a cond or loop carries. */
const flowOf = (v: unknown, dtype?: v1.DType): Sym =>
  isTracedArray(v) ? v._flow() : asSymbolic(v as v1.TensorLike, dtype);
/** The values after a cond or loop: its tensors, TensorArrays rebuilt around theirs. */
const rebuild = (like: unknown[], ts: unknown[]): unknown[] =>
  ts.map((t, i) => isTracedArray(like[i]) ? like[i]._withFlow(t as Sym) : t);

function tfIf(
  test: Sym,
  body: () => void,
  orelse: () => void,
  getState: GetState,
  setState: SetState,
  names: string[],
): void {
  // A TensorArray only the else branch writes learns its element shape first.
  if (getState().some(shapeUnknown)) probe(orelse, getState, setState);
  const init = getState();
  let main: unknown[] = [];
  let other: unknown[] = [];
  // The main branch decides which variables are outputs (the tensor-like ones); the else
  // branch is checked against it.
  const outputs = (vals: unknown[], like: unknown[]) =>
    vals.flatMap((v, i) => isCarried(main[i]) ? [flowOf(v, dtypeOf(like[i]))] : []);
  const built: v1.Graph[] = []; // the branch graphs, freed if the cond cannot be built
  const results = disposingOnError(built, () =>
    v1.cond(test, () => {
      built.push(v1.getDefaultGraph());
      setState(init);
      body();
      main = getState();
      return outputs(main, init);
    }, () => {
      built.push(v1.getDefaultGraph());
      setState(init);
      orelse();
      other = getState();
      names.forEach((name, i) => checkBranches(name, main[i], other[i]));
      // While probing, a variable one branch leaves undefined is zeros like the other's.
      return outputs(probing > 0 ? other.map((v, i) => v ?? zerosLike(main[i])) : other, main);
    }) as Sym[]);
  let k = 0;
  setState(names.map((_, i) => {
    const [a, b] = [main[i], other[i]];
    if (!isCarried(a)) return a;
    const out = results[k++];
    if (isTracedArray(a)) return a._withFlow(out);
    const plain = (x: unknown) => typeof x === "number" || typeof x === "boolean";
    return plain(a) && a === b ? a : out; // the same JavaScript value from both branches
  }));
}

function checkBranches(name: string, a: unknown, b: unknown): void {
  for (const [v, branch] of [[a, "main"], [b, "else"]] as const) {
    if (v !== undefined) continue;
    if (a === b || probing > 0) return;
    throw new AutoGraphError(
      name === "retval_"
        ? `the ${branch} branch must also have a return statement: a \`return\` inside a ` +
          `tensor-dependent \`if\` needs one in every branch (or a return after the \`if\`)`
        : `'${name}' must also be initialized in the ${branch} branch: a tensor-dependent ` +
          `\`if\` must define it in both branches (or before the \`if\`)`,
    );
  }
  if (isCarried(a) !== isCarried(b) || (!isCarried(a) && a !== b)) {
    throw new AutoGraphError(
      `'${name}' is ${describe(a)} in the main branch but ${describe(b)} in the else branch ` +
        `of a tensor-dependent \`if\`: both must be tensors (or numbers/booleans), or the same value`,
    );
  }
  const [da, db] = [dtypeOf(a), dtypeOf(b)];
  if (da && db && da !== db) {
    throw new AutoGraphError(
      `'${name}' has dtype ${da} in the main branch, but dtype ${db} in the else branch`,
    );
  }
}

// ---------------------------------------------------------------- while

/** Options of a graph loop (`tf.autograph.experimental.set_loop_options`). */
export interface LoopOptions {
  /** `[variable, shape]` pairs: the variable may take any shape that fits (`null` = any size). */
  shapeInvariants?: [unknown, v1.Shape][];
  /** Stop after this many iterations. */
  maximumIterations?: number;
}

/**
 * Sets the options of the enclosing loop when called first in its body
 * (`tf.autograph.experimental.set_loop_options`): the converter moves the call out of the
 * body and passes its options to the loop; called in unconverted code it does nothing.
 */
export function setLoopOptions(_options: LoopOptions): void {}

/** `x` seen with the static shape `shape` (an `Identity` op): a loop variable's invariant. */
function relax(name: string, x: Sym, shape: v1.Shape): Sym {
  const fits = shape.length === x.rank && shape.every((d, i) => d === null || d === x.shape[i]);
  if (!fits) {
    throw new AutoGraphError(
      `'${name}' has shape ${v1.formatShape(x.shape)} before the loop, which does not conform ` +
        `with the shape invariant ${v1.formatShape(shape)}`,
    );
  }
  const spec = { dtype: x.dtype, shape: [...shape] };
  return v1.getDefaultGraph().addOp("Identity", [x], {}, [spec], { name: "shape_invariant" })
    .output;
}

/**
 * `while (test()) body()`. When the first `test()` is a symbolic tensor the loop is one
 * `While` op carrying the variables `names`; otherwise it runs (unrolls) in JavaScript.
 */
export function whileStmt(
  test: () => unknown,
  body: () => void,
  getState: GetState = noState,
  setState: SetState = noop,
  names: string[] = [],
  opts: LoopOptions = {},
): void {
  let t = test();
  if (isSymbolic(t)) return tfWhile(test, body, getState, setState, names, opts);
  while (truthy(t, "while")) {
    body();
    t = test();
    if (isSymbolic(t)) {
      throw new AutoGraphError(
        `the condition of a while loop started as a JavaScript value, then changed to a ` +
          `tensor (${t.toString()}): a loop is a graph loop only if its condition is a tensor ` +
          `from the start; make the loop variables tensors before the loop`,
      );
    }
  }
}

/** A loop variable's entry value as a graph tensor, or the TF error for what cannot be one. */
function carry(name: string, v: unknown): Sym {
  if (isTensorLike(v)) return asSymbolic(v);
  if (isTracedArray(v)) return relax(name, v._flow(), v._loopShape());
  throw new AutoGraphError(
    `'${name}' is ${describe(v)} before the loop: a tensor-dependent loop can only carry ` +
      `tensors and TensorArrays (numbers and booleans become tensors); compute it outside the loop, or make ` +
      `the loop a JavaScript loop`,
  );
}

function compatible(a: v1.Shape, b: v1.Shape): boolean {
  return a.length === b.length && a.every((d, i) => d === null || b[i] === null || d === b[i]);
}

/** The value of loop variable `name` after one iteration, checked against its entry value. */
function next(name: string, before: Sym, v: unknown): Sym {
  if (isTracedArray(v)) v = v._flow();
  if (!isTensorLike(v)) {
    throw new AutoGraphError(
      `'${name}' is ${describe(v)} after one iteration, but a tensor before the loop`,
    );
  }
  const t = asSymbolic(v, before.dtype);
  if (t.dtype !== before.dtype) {
    throw new AutoGraphError(
      `'${name}' has dtype ${before.dtype} before the loop, but dtype ${t.dtype} after one ` +
        `iteration. TensorFlow control flow requires it stays the same.`,
    );
  }
  if (!compatible(t.shape, before.shape)) {
    throw new AutoGraphError(
      `'${name}' has shape ${v1.formatShape(before.shape)} before the loop, but shape ` +
        `${v1.formatShape(t.shape)} after one iteration. Use setLoopOptions({ shapeInvariants: ` +
        `[[${name}, shape]] }) first in the loop body (tf.autograph.experimental.set_loop_options) ` +
        `to set shape invariants, or collect the values in a TensorArray.`,
    );
  }
  return t;
}

/** A TensorArray of a trace that does not know its element shape yet (nothing written). */
const shapeUnknown = (v: unknown): boolean => v instanceof TensorArray && v._shapeUnknown;

/**
 * Traces `body` once in a throwaway graph and returns the variables' values after it (then
 * restores them). What it learns: the dtype and shape of variables it defines, and the element
 * shape of the TensorArrays it writes (their shape cell is shared with the arrays before it).
 */
function probe(body: () => void, getState: GetState, setState: SetState): unknown[] {
  const init = getState();
  let after: unknown[] = [];
  const g = new v1.Graph(v1.getDefaultGraph());
  try {
    probing++;
    g.asDefault(() => {
      body();
      after = getState();
    });
  } finally {
    probing--;
    setState(init);
    g.dispose();
  }
  return after;
}

/**
 * Entry values for variables first assigned inside the loop body: the body is traced once
 * in a throwaway graph to learn their dtype and shape, and they start as zeros (TensorFlow
 * does the same).
 */
function fillUndefined(
  body: () => void,
  getState: GetState,
  setState: SetState,
  names: string[],
): unknown[] {
  const init = getState();
  if (!init.some((v) => v === undefined || shapeUnknown(v))) return init;
  const after = probe(body, getState, setState);
  return init.map((v, i) => {
    if (v !== undefined) return v;
    const a = after[i];
    const shape = isSymbolic(a) || isEager(a) ? a.shape : [];
    if (!isTensorLike(a) || shape.some((d) => d === null)) {
      throw new AutoGraphError(
        `'${names[i]}' must be defined before the loop` +
          (names[i] === "retval_"
            ? " (a `return` inside a tensor loop returns a tensor " +
              "of unknown shape: assign the result to a variable before the loop and `break`)"
            : ""),
      );
    }
    return zerosLike(a);
  });
}

/** A constant of zeros with the dtype and static shape of `x` (unknown sizes as 1). */
function zerosLike(x: unknown): Sym {
  const shape = (isSymbolic(x) || isEager(x) ? x.shape : []).map((d) => d ?? 1);
  const dtype = dtypeOf(x) ?? (typeof x === "boolean" ? "bool" : "float32");
  const zeros = tf.zeros(shape, dtype);
  const c = v1.constant(zeros, dtype); // the graph keeps its own copy
  zeros.dispose();
  return c;
}

function tfWhile(
  test: () => unknown,
  body: () => void,
  getState: GetState,
  setState: SetState,
  names: string[],
  opts: LoopOptions,
): void {
  const entry = fillUndefined(body, getState, setState, names);
  const init = entry.map((v, i) => carry(names[i], v));
  for (const [v, shape] of opts.shapeInvariants ?? []) {
    const i = entry.indexOf(v);
    if (i < 0) {
      throw new AutoGraphError(
        `shapeInvariants: ${describe(v)} is not the value of a loop variable before the loop`,
      );
    }
    init[i] = relax(names[i], init[i], shape);
  }
  const built: v1.Graph[] = [];
  const out = disposingOnError(built, () =>
    v1.whileLoop(
      (...vars) => {
        built.push(v1.getDefaultGraph());
        setState(rebuild(entry, vars));
        const c = test();
        return isSymbolic(c) ? c : truthy(c, "while");
      },
      (...vars) => {
        built.push(v1.getDefaultGraph());
        setState(rebuild(entry, vars));
        body();
        return getState().map((v, i) => next(names[i], init[i], v));
      },
      init,
      { maximumIterations: opts.maximumIterations },
    ));
  setState(rebuild(entry, out));
}

/**
 * The condition of a `do...while` loop, which has no graph form (TensorFlow has no such
 * loop): its JavaScript truth value; a symbolic tensor is an error, where JavaScript would
 * take the tensor object as true and loop forever while tracing.
 */
export function doWhileTest(test: unknown): boolean {
  if (isSymbolic(test)) {
    throw new AutoGraphError(
      `the condition of a do...while loop is the tensor ${test.toString()}: a do...while ` +
        `loop cannot become a graph loop (TensorFlow has none). Write it as a while loop: ` +
        `the body once, then while (condition) { body }`,
    );
  }
  return truthy(test, "do...while");
}

// ---------------------------------------------------------------- for

/** `range(stop)` / `range(start, stop, step)`: Python's `range`; a tensor bound makes a graph loop. */
export class Range implements Iterable<number> {
  constructor(readonly start: unknown, readonly stop: unknown, readonly step: number) {
    if (step === 0) throw new AutoGraphError("range: step must not be 0");
  }
  *[Symbol.iterator](): Iterator<number> {
    if (isSymbolic(this.start) || isSymbolic(this.stop)) {
      throw new AutoGraphError(
        "range() with a tensor bound can only be iterated by a converted `for...of` loop",
      );
    }
    const num = (x: unknown) => isEager(x) ? x.dataSync()[0] : x as number;
    const [start, stop] = [num(this.start), num(this.stop)];
    for (let i = start; this.step > 0 ? i < stop : i > stop; i += this.step) yield i;
  }
}

/** Python's `range`: `for (const i of range(n))` unrolls for a number `n`, is a `While` op for a tensor `n`. */
export function range(start: unknown, stop?: unknown, step = 1): Range {
  return stop === undefined ? new Range(0, start, step) : new Range(start, stop, step);
}

/**
 * `for (const x of iter) body(x)`, stopping when `extraTest()` (a `break` or `return`
 * flag) is false. Over a symbolic tensor (its rows) or a `range` with a tensor bound it is
 * one `While` op; over an eager tensor it visits its rows; otherwise it is JavaScript.
 */
export function forStmt(
  iter: unknown,
  extraTest: (() => unknown) | null,
  body: (item: unknown) => void,
  getState: GetState = noState,
  setState: SetState = noop,
  names: string[] = [],
  opts: LoopOptions = {},
): void {
  if (iter instanceof Range && (isSymbolic(iter.start) || isSymbolic(iter.stop))) {
    const dtype = [iter.start, iter.stop].find(isSymbolic)!.dtype;
    const start = asSymbolic(iter.start as v1.TensorLike, dtype);
    const cmp = iter.step > 0 ? lt : gt;
    return tfFor(
      start,
      (i) => cmp(i, iter.stop),
      (i) => add(i, iter.step) as Sym,
      (i) => i,
      extraTest,
      body,
      getState,
      setState,
      names,
      opts,
    );
  }
  if (isSymbolic(iter)) {
    if (iter.rank === 0) {
      throw new AutoGraphError(`cannot iterate over the scalar ${iter.toString()}`);
    }
    const n = iter.shape[0] !== null
      ? v1.constant(iter.shape[0], "int32")
      : v1.gather(v1.shapeOf(iter), 0);
    const start = v1.constant(0, "int32");
    return tfFor(
      start,
      (i) => lt(i, n),
      (i) => add(i, 1) as Sym,
      (i) => v1.gather(iter, i),
      extraTest,
      body,
      getState,
      setState,
      names,
      opts,
    );
  }
  const items = isEager(iter) ? tf.unstack(iter) : iter as Iterable<unknown>;
  for (const item of items) {
    if (extraTest) {
      const e = extraTest();
      if (isSymbolic(e)) {
        throw new AutoGraphError(
          "break and return statements which depend on a tensor condition are not supported " +
            "in JavaScript for loops (over an array or a range with number bounds). Did you " +
            "intend to make it a graph loop? Iterate over a tensor or a range with a tensor bound.",
        );
      }
      if (!truthy(e, "for")) break;
    }
    body(item);
  }
}

/** A counted graph loop: index `start`, `more(i)`, `step(i)`; `body` gets `item(i)`. */
function tfFor(
  start: Sym,
  more: (i: Sym) => unknown,
  step: (i: Sym) => Sym,
  item: (i: Sym) => unknown,
  extraTest: (() => unknown) | null,
  body: (item: unknown) => void,
  getState: GetState,
  setState: SetState,
  names: string[],
  opts: LoopOptions,
): void {
  let i = start;
  tfWhile(
    () => extraTest ? and(() => more(i), extraTest) : more(i),
    () => {
      body(item(i));
      i = step(i);
    },
    () => [i, ...getState()],
    ([index, ...rest]) => {
      i = index as Sym;
      setState(rest);
    },
    ["the loop index", ...names],
    opts,
  );
}
