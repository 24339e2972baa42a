/**
 * Running a graph: `Session.run(fetches, feedDict)` computes only the ops the
 * fetches need (walking back from them, stopping at fed tensors), in graph
 * order, with one TensorFlow.js kernel per op, inside one `tf.tidy`. It returns
 * host values (nested arrays, as `arraySync()` gives; scalars as numbers) and
 * keeps nothing but the variables' values, which `close()` frees. Host feeds
 * convert as NumPy's `np.asarray(value, dtype)` does (2.7 → 2 for int32), but
 * NaN, infinities and values outside int32 are a {@linkcode FeedError}; a
 * disposed tensor fed is a `DisposedTensorError`, an eager tensor fetched a
 * {@linkcode FetchError}. Tensors and ops may be named by their TF names
 * (`"MatMul:0"`). The walk over the graph is iterative: 100,000 chained ops run.
 *
 * @example
 * ```ts
 * import { Graph } from "./graph.ts";
 * import { add, placeholder } from "./ops.ts";
 * import { Session } from "./session.ts";
 * const g = new Graph();
 * const { a, s } = g.asDefault(() => {
 *   const a = placeholder("float32", [2], "a");
 *   return { a, s: add(a, 1) };
 * });
 * const sess = new Session(g);
 * console.log(sess.run(s, new Map([[a, [1, 2]]])), sess.lastRunOpCount); // [2, 3] 2
 * sess.close();
 * ```
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import {
  DisposedTensorError,
  type DType,
  formatShape,
  getDefaultGraph,
  type Graph,
  GraphError,
  Operation,
  SymbolicTensor,
} from "./graph.ts";
import { kernels } from "./ops.ts";

/** A feed value was missing, or has the wrong dtype or shape. */
export class FeedError extends GraphError {
  constructor(message: string) {
    super(message);
    this.name = "FeedError";
  }
}

/** Something that is not a tensor or an op of the session's graph was fetched. */
export class FetchError extends GraphError {
  constructor(message: string) {
    super(message);
    this.name = "FetchError";
  }
}

/** An op failed on the values it got at run time (TensorFlow's name for it); names the node. */
export class InvalidArgumentError extends GraphError {
  constructor(message: string, options?: ErrorOptions) {
    super(message);
    this.name = "InvalidArgumentError";
    if (options?.cause !== undefined) this.cause = options.cause;
  }
}

/** A variable was read before it was initialized (TensorFlow's name for it). */
export class FailedPreconditionError extends GraphError {
  constructor(message: string) {
    super(message);
    this.name = "FailedPreconditionError";
  }
}

/**
 * What may be fetched: a tensor, an op (runs it, gives null), their names
 * (`"MatMul:0"`, `"train"`), or lists/records of those.
 */
export type Fetch = SymbolicTensor | Operation | string | Fetch[] | { [key: string]: Fetch };

/** The host value a fetch gives back: its structure with numbers, nested arrays or null. */
// deno-lint-ignore no-explicit-any
export type FetchResult<F> = F extends SymbolicTensor ? any
  : F extends Operation ? null
  // deno-lint-ignore no-explicit-any
  : F extends string ? any
  : { [K in keyof F]: FetchResult<F[K]> };

/** A host value for a placeholder: a number, nested arrays, a typed array, or a tf.Tensor. */
export type FeedValue = tf.Tensor | number | boolean | ArrayLike<unknown> | unknown[];

/** The state one run threads through its kernels (and into `If`/`While` sub-graphs). */
export class RunContext {
  /** Names of the ops executed, in order (sub-graph ops as `cond/then/Mul`). */
  readonly executed: string[] = [];
  /** Old variable values, freed when the run ends. */
  readonly garbage: tf.Tensor[] = [];

  /**
   * `tf.Variable`s passed as arguments of a traced function: the variable the
   * trace saw → the one this call passed (TF's `VariableSpec` placeholders).
   */
  bound = new Map<tf.Variable, tf.Variable>();

  constructor(readonly variables: Map<Operation, tf.Tensor>) {}

  /**
   * Values that reads of a variable give instead of its value, while a
   * gradient re-runs a sub-graph on a tape (so that the tape sees the reads
   * as the inputs it differentiates with respect to).
   */
  fedReads = new Map<tf.Variable, tf.Tensor>();

  /** The variable that `v`, as traced, stands for in this run. */
  variable(v: tf.Variable): tf.Variable {
    return this.bound.get(v) ?? v;
  }

  /** Runs `fn` with reads of `vars` (as traced) giving `values` (see {@linkcode fedReads}). */
  withFedReads<T>(vars: tf.Variable[], values: tf.Tensor[], fn: () => T): T {
    const outer = this.fedReads;
    this.fedReads = new Map([
      ...outer,
      ...vars.map((v, i) => [this.variable(v), values[i]] as const),
    ]);
    try {
      return fn();
    } finally {
      this.fedReads = outer;
    }
  }

  missingFeed(op: Operation): never {
    const t = op.output;
    throw new FeedError(
      `You must feed a value for placeholder "${op.name}" (dtype ${t.dtype}, shape ` +
        `${formatShape(t.shape)}): pass it in the feed dict, new Map([[${op.name}, value]])`,
    );
  }

  read(variable: Operation): tf.Tensor {
    const v = this.variables.get(variable);
    if (!v) {
      throw new FailedPreconditionError(
        `Attempting to use uninitialized value ${variable.name}: run ` +
          `sess.run(v1.globalVariablesInitializer(g)) (or ${variable.name}'s initializer) first`,
      );
    }
    return v;
  }

  assign(variable: Operation, value: tf.Tensor): tf.Tensor {
    const old = this.variables.get(variable);
    if (old) this.garbage.push(old);
    const kept = tf.keep(tf.clone(value));
    this.variables.set(variable, kept);
    return kept;
  }
}

/**
 * The ops `targets` need, in execution order, not looking past fed tensors.
 * A depth-first walk with an explicit stack (no recursion), so a chain of
 * 100,000 ops does not overflow the call stack.
 */
export function neededOps(
  targets: (SymbolicTensor | Operation)[],
  fed: { has(t: SymbolicTensor): boolean } = new Set(),
): Operation[] {
  const order: Operation[] = [];
  const seen = new Set<Operation>();
  // Each frame: an op and how many of its dependencies have been pushed.
  const stack: [Operation, number][] = [];
  const deps = (op: Operation): Operation[] => [
    ...op.inputs.filter((t) => !fed.has(t)).map((t) => t.op),
    ...op.controlInputs,
  ];
  const depLists = new Map<Operation, Operation[]>();
  const push = (op: Operation): void => {
    if (seen.has(op)) return;
    seen.add(op);
    depLists.set(op, deps(op));
    stack.push([op, 0]);
  };
  for (const t of targets) {
    if (t instanceof SymbolicTensor) {
      if (!fed.has(t)) push(t.op);
    } else push(t);
    while (stack.length > 0) {
      const frame = stack[stack.length - 1];
      const list = depLists.get(frame[0])!;
      if (frame[1] < list.length) push(list[frame[1]++]);
      else {
        stack.pop();
        depLists.delete(frame[0]);
        order.push(frame[0]);
      }
    }
  }
  return order;
}

/** The op that really produces `t`, following captures out of sub-graphs. */
export function sourceOp(t: SymbolicTensor): Operation {
  while (t.op.captured) t = t.op.captured;
  return t.op;
}

/**
 * Computes `targets` of `graph` given `feeds`: the engine under `Session.run`,
 * `tfFunction` and the `If`/`While` kernels. Call it inside `tf.tidy`.
 * Returns one tensor per tensor target (undefined for op targets).
 */
export function execute(
  targets: (SymbolicTensor | Operation)[],
  feeds: Map<SymbolicTensor, tf.Tensor>,
  ctx: RunContext,
  prefix = "",
): (tf.Tensor | undefined)[] {
  const values = new Map(feeds);
  for (const op of neededOps(targets, feeds)) {
    const kernel = kernels[op.type];
    if (!kernel) throw new GraphError(`no kernel for op type ${op.type} (op "${op.name}")`);
    const inputs = op.inputs.map((t, i) => {
      // A TF1 variable is read when its value is used (a ref), so an update that ran
      // before this op (a control dependency) is seen.
      const v = t.op.type === "VariableV2" && !feeds.has(t)
        ? ctx.variables.get(t.op) ?? values.get(t)
        : values.get(t);
      // Only an uninitialized variable gives no value; `Assign` may still write it.
      if (v === undefined && !(op.type === "Assign" && i === 0)) ctx.read(sourceOp(t));
      return v!;
    });
    let outs: tf.Tensor[];
    try {
      outs = kernel(inputs, op, ctx);
    } catch (e) {
      if (e instanceof GraphError) throw e;
      // A kernel failing on run-time values: TF's InvalidArgumentError, naming the node.
      throw new InvalidArgumentError(
        `${(e as Error).message}\n\t [[node ${prefix}${op.name} (${op.type})]]`,
        { cause: e },
      );
    }
    ctx.executed.push(prefix + op.name);
    op.outputs.forEach((t, i) => values.set(t, outs[i]));
  }
  return targets.map((t) => {
    if (!(t instanceof SymbolicTensor)) return undefined;
    return values.get(t) ?? ctx.read(sourceOp(t)); // only an uninitialized variable is missing
  });
}

// ---------------------------------------------------------------- feeds

/** A value for an error message (a symbolic tensor refuses `String(t)`: it has no value). */
const describe = (v: unknown): string => v instanceof SymbolicTensor ? v.toString() : String(v);

function hostShape(value: unknown, where: string): number[] {
  if (typeof value === "number" || typeof value === "boolean") return [];
  if (!Array.isArray(value) && !ArrayBuffer.isView(value)) {
    throw new FeedError(`${where}: ${describe(value)} is not a number, an array or a tf.Tensor`);
  }
  const arr = value as ArrayLike<unknown>;
  if (arr.length === 0) return [0];
  const inner = hostShape(arr[0], where);
  for (let i = 1; i < arr.length; i++) {
    if (JSON.stringify(hostShape(arr[i], where)) !== JSON.stringify(inner)) {
      throw new FeedError(`${where}: the nested arrays are ragged (row ${i} differs from row 0)`);
    }
  }
  return [arr.length, ...inner];
}

const INT32_MIN = -(2 ** 31), INT32_MAX = 2 ** 31 - 1;

/**
 * The flat values of a host feed converted to `dtype` as NumPy's
 * `np.asarray(value, dtype)` does under a Session: floats truncate toward zero
 * for int32 (2.7 → 2, -2.7 → -2), booleans are 0/1; NaN, ±Infinity and values
 * outside int32 are refused (TensorFlow raises where NumPy would wrap), as are
 * strings and other non-numbers.
 */
function convertHost(
  value: unknown,
  dtype: DType,
  where: string,
): number[] | boolean[] | Float32Array {
  if (dtype === "float32" && value instanceof Float32Array) return value; // as it is
  const flat = ArrayBuffer.isView(value)
    ? Array.from(value as unknown as ArrayLike<number>)
    : [value].flat(Infinity);
  const bad = (v: unknown, why: string): never => {
    throw new FeedError(`${where}: ${String(v)} is not a valid ${dtype} value (${why})`);
  };
  if (dtype === "bool") {
    return flat.map((v) =>
      typeof v === "boolean"
        ? v
        : typeof v === "number" && !Number.isNaN(v)
        ? v !== 0
        : bad(v, "not a boolean or a number")
    );
  }
  return flat.map((v) => {
    if (typeof v === "boolean") return v ? 1 : 0;
    if (typeof v !== "number") return bad(v, "not a number");
    if (dtype === "float32") return v;
    if (!Number.isFinite(v)) return bad(v, "NaN and infinities have no int32 value");
    const t = Math.trunc(v);
    if (t < INT32_MIN || t > INT32_MAX) {
      return bad(v, `outside int32's range [${INT32_MIN}, ${INT32_MAX}]`);
    }
    return t;
  });
}

function compatible(t: SymbolicTensor, actual: number[]): boolean {
  if (t.unknownRank) return true;
  return actual.length === t.shape.length &&
    t.shape.every((d, i) => d === null || d === actual[i]);
}

/** Checks one feed against its tensor and turns it into a tf.Tensor (inside the run's tidy). */
export function feedTensor(key: SymbolicTensor, value: FeedValue): tf.Tensor {
  const declared = formatShape(key.unknownRank ? null : key.shape);
  const where = `feed for "${key.op.name}" (dtype ${key.dtype}, shape ${declared})`;
  let t: tf.Tensor;
  if (value instanceof tf.Tensor) {
    if (value.isDisposed) {
      throw new DisposedTensorError(
        `${where}: the tf.Tensor fed was disposed; feed a live tensor (or a number/array)`,
      );
    }
    if (value.dtype !== key.dtype) {
      throw new FeedError(`${where}: got a ${value.dtype} tensor; cast it to ${key.dtype}`);
    }
    t = value;
  } else {
    const shape = hostShape(value, where);
    t = tf.tensor(convertHost(value, key.dtype, where), shape, key.dtype);
  }
  if (!compatible(key, t.shape)) {
    throw new FeedError(
      `${where}: cannot feed a value of shape ${formatShape(t.shape)} to a tensor of shape ` +
        `${declared}`,
    );
  }
  return t;
}

// ---------------------------------------------------------------- fetches

function flatten(
  f: Fetch,
  out: (SymbolicTensor | Operation)[],
  graph: Graph,
  path = "fetches",
): void {
  if (f instanceof SymbolicTensor || f instanceof Operation) out.push(f);
  else if (typeof f === "string") {
    try {
      out.push(f.includes(":") ? graph.getTensorByName(f) : graph.getOperationByName(f));
    } catch (e) {
      throw new FetchError(`cannot fetch ${path} ("${f}"): ${(e as Error).message}`);
    }
  } else if (f instanceof tf.Tensor) {
    throw new FetchError(
      `cannot fetch ${path}: it is an eager tf.Tensor, which already has its value ` +
        `(read it with .arraySync()); fetch graph tensors or ops of this session's graph`,
    );
  } else if (Array.isArray(f)) f.forEach((x, i) => flatten(x, out, graph, `${path}[${i}]`));
  else if (f && typeof f === "object" && Object.getPrototypeOf(f) === Object.prototype) {
    Object.entries(f).forEach(([k, x]) => flatten(x, out, graph, `${path}.${k}`));
  } else {
    throw new FetchError(
      `cannot fetch ${path} (${describe(f)}): fetch graph tensors, ops, or lists/records of them`,
    );
  }
}

function rebuild(f: Fetch, values: unknown[]): unknown {
  if (f instanceof SymbolicTensor || f instanceof Operation || typeof f === "string") {
    return values.shift();
  }
  if (Array.isArray(f)) return f.map((x) => rebuild(x, values));
  return Object.fromEntries(Object.entries(f).map(([k, x]) => [k, rebuild(x, values)]));
}

function toHost(t: tf.Tensor): unknown {
  const v = t.arraySync();
  if (t.dtype !== "bool") return v;
  const toBool = (x: unknown): unknown => Array.isArray(x) ? x.map(toBool) : Boolean(x);
  return toBool(v);
}

/** Runs parts of one graph; holds the values of its variables (like `tf.compat.v1.Session`). */
export class Session {
  readonly graph: Graph;
  /** How many ops the last `run` executed (sub-graph ops included). */
  lastRunOpCount = 0;
  /** The names of the ops the last `run` executed, in order. */
  lastRunOps: string[] = [];
  readonly #variables = new Map<Operation, tf.Tensor>();
  #closed = false;

  constructor(graph: Graph = getDefaultGraph()) {
    this.graph = graph;
  }

  /**
   * Computes `fetches` (a tensor, an op, or a list/record of them) with
   * `feedDict` values for placeholders; returns host values in the same structure.
   */
  run<F extends Fetch>(
    fetches: F,
    feedDict?: Map<SymbolicTensor | string, FeedValue>,
  ): FetchResult<F> {
    if (this.#closed) throw new GraphError("this Session is closed: make a new one");
    const flat: (SymbolicTensor | Operation)[] = [];
    flatten(fetches, flat, this.graph);
    for (const f of flat) {
      const g = f instanceof SymbolicTensor ? f.graph : f.graph;
      if (g !== this.graph) {
        throw new FetchError(
          `cannot fetch ${
            f instanceof SymbolicTensor ? f.toString() : f.name
          }: it is not in this session's graph`,
        );
      }
    }
    const ctx = new RunContext(this.#variables);
    let host: unknown[] = [];
    try {
      tf.tidy(() => {
        const feeds = new Map<SymbolicTensor, tf.Tensor>();
        for (const [key, v] of feedDict ?? []) {
          const k = typeof key === "string" ? this.#byName(key) : key;
          if (!(k instanceof SymbolicTensor) || k.graph !== this.graph) {
            throw new FeedError(`feed key ${describe(k)} is not a tensor of this session's graph`);
          }
          feeds.set(k, feedTensor(k, v));
        }
        host = execute(flat, feeds, ctx).map((t) => t === undefined ? null : toHost(t));
      });
    } finally {
      ctx.garbage.forEach((t) => t.dispose());
      this.lastRunOps = ctx.executed;
      this.lastRunOpCount = ctx.executed.length;
    }
    return rebuild(fetches, host) as FetchResult<F>;
  }

  #byName(name: string): SymbolicTensor {
    try {
      return this.graph.getTensorByName(name.includes(":") ? name : `${name}:0`);
    } catch (e) {
      throw new FeedError(`feed key "${name}": ${(e as Error).message}`);
    }
  }

  /** Frees the variables' values; the session cannot run afterwards. */
  close(): void {
    for (const v of this.#variables.values()) v.dispose();
    this.#variables.clear();
    this.#closed = true;
  }
}
