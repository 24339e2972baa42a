/**
 * The one graph type: a `Graph` is a plain, ordered list of {@linkcode Operation}s.
 *
 * TF1 graphs (`v1.placeholder`, `v1.matMul`, `v1.Session`), `tfFunction` traces,
 * the SVG drawings and TensorBoard `GraphDef`s are all this list seen different
 * ways. Each operation has:
 *
 * - `name`: unique in its graph, TF-style (`"MatMul"`, `"MatMul_1"`, `"dense/MatMul"`);
 * - `type`: the TensorFlow op type (`"Placeholder"`, `"Const"`, `"VariableV2"`,
 *   `"MatMul"`, `"AddV2"`, `"Relu"`, `"Softmax"`, ...);
 * - `inputs`: the {@linkcode SymbolicTensor}s it reads (their names, `"MatMul:0"`,
 *   are in `op.toJSON().inputs`), plus `controlInputs`: ops that must run first;
 * - `outputs`: one {@linkcode SymbolicTensor} per result, each with a `dtype` and a
 *   static `shape` (`null` for a dimension unknown until run time);
 * - `attrs`: plain JSON values (`transpose_a`, `axis`, `keep_dims`, ...). A `Const`
 *   keeps its value as a `tf.Tensor` in `op.value`; `If`/`While` keep their
 *   sub-graphs in `op.subgraphs`.
 *
 * Operations are appended in a valid execution order: an op's inputs always come
 * before it. Names are made unique with a counter per name (TF's
 * `Graph.unique_name`), so building n ops takes O(n); re-entering a name scope
 * opens `dense_1`. A tensor of unknown rank (`v1.placeholder(dtype)`) has
 * `unknownRank` set. Graphs of traced functions order their side effects with
 * automatic control dependencies ({@linkcode Graph.sequence}).
 *
 * @example
 * ```ts
 * import { Graph } from "./graph.ts";
 * import { matMul, placeholder, constant } from "./ops.ts";
 * const g = new Graph();
 * g.asDefault(() => matMul(placeholder("float32", [null, 2], "x"), constant([[1], [1]])));
 * console.log(g.operations.map((op) => `${op.name}: ${op.type}`));
 * // [ "x: Placeholder", "Const: Const", "MatMul: MatMul" ]
 * ```
 *
 * @module
 */
import type * as tf from "@tensorflow/tfjs";
import * as ops from "./ops.ts";

/** Element types a graph tensor can have. */
export type DType = "float32" | "int32" | "bool";

/** A static shape: `null` marks a dimension unknown until run time. */
export type Shape = (number | null)[];

/** A JSON value, as kept in `attrs`. */
export type AttrValue = string | number | boolean | null | AttrValue[] | {
  [key: string]: AttrValue;
};

/** What may be passed where a graph tensor is expected; numbers and arrays become `Const`s. */
export type TensorLike = SymbolicTensor | tf.Tensor | number | boolean | number[] | number[][];

/** The base of every error this module throws about building or running a graph. */
export class GraphError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "GraphError";
  }
}

/** Shapes that cannot work together, found when the op is added (not when it runs). */
export class ShapeError extends GraphError {
  constructor(message: string) {
    super(message);
    this.name = "ShapeError";
  }
}

/** Element types that cannot work together (TensorFlow does not cast implicitly). */
export class DTypeError extends GraphError {
  constructor(message: string) {
    super(message);
    this.name = "DTypeError";
  }
}

/**
 * A symbolic tensor used where JavaScript needs a plain value (TensorFlow's
 * `OperatorNotAllowedInGraphError`: "using a tf.Tensor as a Python bool is not allowed in Graph
 * execution").
 */
export class OperatorNotAllowedInGraphError extends GraphError {
  constructor(message: string) {
    super(message);
    this.name = "OperatorNotAllowedInGraphError";
  }
}

/**
 * A tensor of a finished function graph (a traced function, a cond branch, a loop body)
 * used outside it (TensorFlow's `InaccessibleTensorError`: "is out of scope and cannot be
 * used here"): a tensor stored in an outer variable, array or object while tracing.
 */
export class InaccessibleTensorError extends GraphError {
  constructor(message: string) {
    super(message);
    this.name = "InaccessibleTensorError";
  }
}

/** A tensor that was disposed was passed where a value is needed (a feed, a traced argument). */
export class DisposedTensorError extends GraphError {
  constructor(message: string) {
    super(message);
    this.name = "DisposedTensorError";
  }
}

/**
 * Throws {@linkcode InaccessibleTensorError} if one of `xs` is a tensor of a finished
 * function graph (a traced function, a cond branch, a loop body).
 */
export function assertInScope(xs: Iterable<unknown>): void {
  for (const x of xs) {
    if (x instanceof SymbolicTensor && x.graph.finished) throw outOfScope(x, x.graph.finished);
  }
}

/** The error for a tensor of a finished function graph (`where`) used outside it. */
function outOfScope(t: SymbolicTensor | undefined, where: string): InaccessibleTensorError {
  return new InaccessibleTensorError(
    `${t?.toString() ?? "A tensor"} is out of scope and cannot be used here: it was made ` +
      `inside ${where}, whose graph is finished (it was stored in a variable, array or object ` +
      `outside while tracing). Use return values (or a loop variable) to get it out; to ` +
      `collect values across the iterations of a tensor loop, write them to a TensorArray ` +
      `(ta = ta.write(i, x) in the loop, ta.stack() after it; lib/tensor_array.ts)`,
  );
}

/** Formats a static shape the way TF1 prints it: `(?, 784)`; `null` (unknown rank) is `<unknown>`. */
export function formatShape(shape: Shape | null): string {
  if (shape === null) return "<unknown>";
  return `(${shape.map((d) => d ?? "?").join(", ")}${shape.length === 1 ? "," : ""})`;
}

/**
 * A symbolic tensor: the `index`-th output of `op`. It has a dtype and a static
 * shape but no value; a `Session` (or a `tfFunction` call) computes values.
 *
 * Method chaining mirrors `tf.Tensor` (`x.square().sum()`), so a function
 * written for eager tensors can be traced.
 */
export class SymbolicTensor {
  constructor(
    readonly op: Operation,
    readonly index: number,
    readonly dtype: DType,
    readonly shape: Shape,
    /** True when even the rank is unknown (`v1.placeholder(dtype)` without a shape); `shape` is then `[]`. */
    readonly unknownRank = false,
  ) {
    // tf.dispose walks the enumerable fields of what it is given (tf.layers disposes its
    // intermediate results so): never from a graph tensor into its graph's constants and variables.
    Object.defineProperty(this, "op", { enumerable: false });
  }

  /** The graph this tensor belongs to. */
  get graph(): Graph {
    return this.op.graph;
  }
  /** TF-style name: `"MatMul:0"`. */
  get name(): string {
    return `${this.op.name}:${this.index}`;
  }
  get rank(): number {
    return this.shape.length;
  }
  toString(): string {
    const shape = formatShape(this.unknownRank ? null : this.shape);
    return `Tensor("${this.name}", shape=${shape}, dtype=${this.dtype})`;
  }
  /** How Deno's console and the notebook show it (not the whole graph behind it). */
  [Symbol.for("Deno.customInspect")](): string {
    return this.toString();
  }
  /**
   * A symbolic tensor has no value while a graph is built: using it as a JavaScript number,
   * string or boolean-producing comparison (`x > 0`, `x + 1`, `${x}`) throws
   * {@linkcode OperatorNotAllowedInGraphError}. Use `x.toString()` for its description.
   */
  [Symbol.toPrimitive](hint: string): never {
    const as = hint === "string" ? "string" : "number (in a comparison or arithmetic)";
    throw new OperatorNotAllowedInGraphError(
      `using a symbolic tensor ${this.toString()} as a JavaScript ${as} is not allowed in ` +
        `graph execution: it has no value while the function is traced. Let AutoGraph convert ` +
        `the function (tfFunction's default), use v1 ops (v1.greater, v1.cond, v1.whileLoop), ` +
        `or run it eagerly; call x.toString() for its description.`,
    );
  }

  // The tf.Tensor methods that traced functions use most.
  add(b: TensorLike): SymbolicTensor {
    return ops.add(this, b);
  }
  sub(b: TensorLike): SymbolicTensor {
    return ops.sub(this, b);
  }
  mul(b: TensorLike): SymbolicTensor {
    return ops.mul(this, b);
  }
  div(b: TensorLike): SymbolicTensor {
    return ops.div(this, b);
  }
  matMul(b: TensorLike, transposeA = false, transposeB = false): SymbolicTensor {
    return ops.matMul(this, b, transposeA, transposeB);
  }
  square(): SymbolicTensor {
    return ops.square(this);
  }
  sqrt(): SymbolicTensor {
    return ops.sqrt(this);
  }
  exp(): SymbolicTensor {
    return ops.exp(this);
  }
  log(): SymbolicTensor {
    return ops.log(this);
  }
  neg(): SymbolicTensor {
    return ops.neg(this);
  }
  abs(): SymbolicTensor {
    return ops.abs(this);
  }
  /** Along the last axis only, as `tf.Tensor`'s (any other throws, as it does eagerly). */
  logSoftmax(axis = -1): SymbolicTensor {
    return ops.logSoftmax(this, lastAxis("logSoftmax", this, axis));
  }
  transpose(perm?: number[]): SymbolicTensor {
    return ops.transpose(this, perm);
  }
  max(axis?: number | number[] | null, keepDims = false): SymbolicTensor {
    return ops.reduceMax(this, axis, keepDims);
  }
  relu(): SymbolicTensor {
    return ops.relu(this);
  }
  sigmoid(): SymbolicTensor {
    return ops.sigmoid(this);
  }
  tanh(): SymbolicTensor {
    return ops.tanh(this);
  }
  /** Along the last axis only, as `tf.Tensor`'s (any other throws, as it does eagerly). */
  softmax(dim = -1): SymbolicTensor {
    return ops.softmax(this, lastAxis("softmax", this, dim));
  }
  sum(axis?: number | number[] | null, keepDims = false): SymbolicTensor {
    return ops.reduceSum(this, axis, keepDims);
  }
  mean(axis?: number | number[] | null, keepDims = false): SymbolicTensor {
    return ops.reduceMean(this, axis, keepDims);
  }
  reshape(shape: number[]): SymbolicTensor {
    return ops.reshape(this, shape);
  }
  expandDims(axis = 0): SymbolicTensor {
    return ops.expandDims(this, axis);
  }
  /** Along axis 0 by default, as `tf.Tensor`'s (and TF's `tf.math.argmax`). */
  argMax(axis = 0): SymbolicTensor {
    return ops.argMax(this, axis);
  }
  equal(b: TensorLike): SymbolicTensor {
    return ops.equal(this, b);
  }
  less(b: TensorLike): SymbolicTensor {
    return ops.less(this, b);
  }
  greater(b: TensorLike): SymbolicTensor {
    return ops.greater(this, b);
  }
  cast(dtype: DType): SymbolicTensor {
    return ops.cast(this, dtype);
  }
}

/** `axis` if it is `x`'s last, as tfjs's softmax requires; else its error, with what to do. */
function lastAxis(what: string, x: SymbolicTensor, axis: number): number {
  if (axis === -1 || (!x.unknownRank && axis === x.rank - 1)) return axis;
  throw ops.notLastAxisError(what, x.rank, axis);
}

/** The plain description of one operation (what `toJSON` gives; GraphDef converters read it). */
export interface OpInfo {
  name: string;
  type: string;
  /** Input tensor names (`"MatMul:0"`), then control inputs as `"^name"`, as in a GraphDef. */
  inputs: string[];
  /** One entry per output; `shape` is null when even the rank is unknown. */
  outputs: { dtype: DType; shape: Shape | null }[];
  attrs: Record<string, AttrValue>;
}

/** One node of a {@linkcode Graph}. */
export class Operation {
  /** One symbolic tensor per result. */
  readonly outputs: SymbolicTensor[];
  /** Ops that must run before this one (e.g. the updates a train op groups). */
  readonly controlInputs: Operation[];
  /** For `Const`: the value (owned by the graph, freed by `graph.dispose()`). */
  value?: tf.Tensor;
  /** For `If`/`While`: the branch / condition / body graphs. */
  get subgraphs(): Record<string, Graph> | undefined {
    return this.#subgraphs;
  }
  set subgraphs(graphs: Record<string, Graph> | undefined) {
    this.#subgraphs = graphs;
    // The op runs its sub-graphs' side effects: order it as they are ordered.
    for (const g of Object.values(graphs ?? {})) this.graph.adoptEffects(this, g);
  }
  #subgraphs?: Record<string, Graph>;
  /** For a placeholder that stands for a tensor of an enclosing graph (a capture). */
  captured?: SymbolicTensor;
  /** For `ReadVariableOp`: the eager `tf.Variable` read at run time. */
  variable?: tf.Variable;
  /** True for ops run for their side effects (`Print`, `Assign*`). */
  stateful = false;
  /** For `PartitionedCall` (a nested traced function): the callee's graph (not owned). */
  callee?: Graph;

  constructor(
    readonly graph: Graph,
    readonly name: string,
    readonly type: string,
    readonly inputs: SymbolicTensor[],
    readonly attrs: Record<string, AttrValue>,
    outputs: { dtype: DType; shape: Shape; unknownRank?: boolean }[],
    controlInputs: Operation[] = [],
  ) {
    this.outputs = outputs.map((o, i) =>
      new SymbolicTensor(this, i, o.dtype, o.unknownRank ? [] : o.shape, o.unknownRank ?? false)
    );
    this.controlInputs = controlInputs;
  }

  /** The first output (most ops have exactly one). */
  get output(): SymbolicTensor {
    if (this.outputs.length === 0) {
      throw new GraphError(`op "${this.name}" (${this.type}) has no outputs to use as a tensor`);
    }
    return this.outputs[0];
  }

  toString(): string {
    const outs = this.outputs.map((t) => `${formatShape(t.shape)} ${t.dtype}`).join(", ");
    return `Operation("${this.name}", type=${this.type}${outs ? `, outputs=${outs}` : ""})`;
  }
  [Symbol.for("Deno.customInspect")](): string {
    return this.toString();
  }

  toJSON(): OpInfo {
    return {
      name: this.name,
      type: this.type,
      inputs: [
        ...this.inputs.map((t) => t.index === 0 ? t.op.name : t.name),
        ...this.controlInputs.map((op) => `^${op.name}`),
      ],
      outputs: this.outputs.map((t) => ({
        dtype: t.dtype,
        shape: t.unknownRank ? null : [...t.shape],
      })),
      attrs: this.attrs,
    };
  }
}

const defaultStack: Graph[] = [];
let globalDefault: Graph | undefined;

/** The graph that new ops go into: the innermost `asDefault`, else a global one. */
export function getDefaultGraph(): Graph {
  return defaultStack.at(-1) ?? (globalDefault ??= new Graph());
}

/** Starts a fresh global default graph (like `tf.compat.v1.reset_default_graph()`). */
export function resetDefaultGraph(): void {
  if (defaultStack.length > 0) {
    throw new GraphError(
      "resetDefaultGraph() was called inside graph.asDefault(): call it outside",
    );
  }
  globalDefault?.dispose();
  globalDefault = new Graph();
}

/** A dataflow graph: an ordered list of operations, built once and run many times. */
export class Graph {
  /** Every operation, in the order added (a valid execution order). */
  readonly operations: Operation[] = [];
  /** Graph variables (`v1.Variable`), in creation order. */
  readonly variables: SymbolicTensor[] = [];
  /** The subset of `variables` that optimizers update. */
  readonly trainableVariables: SymbolicTensor[] = [];
  /** Ops created for their side effects (`Print`), run by `tfFunction` even when unused. */
  readonly statefulOps: Operation[] = [];
  /** The graph a sub-graph (cond branch, loop body) captures tensors from. */
  readonly parent?: Graph;
  /** For a sub-graph: placeholders standing for tensors of the enclosing graph. */
  readonly captures: Map<SymbolicTensor, SymbolicTensor> = new Map();
  /** For a function graph (traced function, cond branch, loop body): its arguments. */
  inputs: SymbolicTensor[] = [];
  /** For a function graph: its results. */
  outputs: SymbolicTensor[] = [];
  /**
   * TF2's automatic control dependencies, on in traced functions (and their
   * branches): side effects run in program order, and a read of a variable
   * after a write sees the write. See {@linkcode Graph.sequence}.
   */
  autoControlDeps: boolean;
  /** True once `dispose()` ran: the constants are gone, the graph cannot run. */
  disposed = false;
  /**
   * Set when a function graph is finished (a traced function, a cond branch, a loop
   * body): what it was. Its tensors cannot be used by new ops any more.
   */
  finished?: string;

  /** TF's `unique_name` bookkeeping: how many times each name was asked for. */
  readonly #nameCounts = new Map<string, number>();
  readonly #byName = new Map<string, Operation>();
  readonly #scopes: string[] = [];
  readonly #controlDeps: Operation[][] = [];
  #lastEffect?: Operation;
  readonly #lastWrite = new Map<object, Operation>();
  readonly #readsSince = new Map<object, Operation[]>();
  /** Resources this graph's ops read or write (for the op that will run it as a sub-graph). */
  readonly #touched = new Map<object, "read" | "write">();
  #hasEffect = false;

  constructor(parent?: Graph) {
    this.parent = parent;
    this.autoControlDeps = parent?.autoControlDeps ?? false;
  }

  /** Runs `fn` with this graph as the default graph; returns what `fn` returns. */
  asDefault<T>(fn: () => T): T {
    defaultStack.push(this);
    try {
      return fn();
    } finally {
      defaultStack.pop();
    }
  }

  /**
   * Runs `fn` with op names prefixed by `scope/` (like TF1's `tf.name_scope`).
   * Entering a scope name again opens a new scope, as in TensorFlow: `dense`,
   * then `dense_1`. A scope ending in "/" is absolute (`"w/"` reopens the
   * scope named exactly `w`).
   */
  nameScope<T>(scope: string, fn: () => T): T {
    this.#scopes.push(scope.endsWith("/") ? scope.slice(0, -1) : this.uniqueName(scope));
    try {
      return this.asDefault(fn);
    } finally {
      this.#scopes.pop();
    }
  }

  /**
   * Reserves and returns a name not used yet in this graph, under the current
   * name scope: `base`, then `base_1`, `base_2`, ... (TF's `Graph.unique_name`:
   * a counter per name, so a graph of n ops is named in O(n)).
   */
  uniqueName(base: string): string {
    const scope = this.#scopes.at(-1);
    const full = scope ? `${scope}/${base}` : base;
    let i = this.#nameCounts.get(full) ?? 0;
    this.#nameCounts.set(full, i + 1);
    let name = full;
    if (i > 0) {
      while (this.#nameCounts.has(name = `${full}_${i}`)) i++;
      this.#nameCounts.set(name, 1);
    }
    return name;
  }

  /** The operation called `name`, or undefined. */
  op(name: string): Operation | undefined {
    return this.#byName.get(name);
  }

  /** The operation called `name` (`Graph.get_operation_by_name`); a GraphError if none. */
  getOperationByName(name: string): Operation {
    const op = this.#byName.get(name);
    if (!op) throw new GraphError(`The name '${name}' refers to an Operation not in the graph.`);
    return op;
  }

  /** The tensor called `"op:index"` (`Graph.get_tensor_by_name`); a GraphError if none. */
  getTensorByName(name: string): SymbolicTensor {
    const m = /^(.*):(\d+)$/.exec(name);
    if (!m) {
      throw new GraphError(
        `The name '${name}' looks like an (invalid) Operation name, not a Tensor: ` +
          `tensor names are "op_name:output_index", e.g. "${name}:0"`,
      );
    }
    const t = this.#byName.get(m[1])?.outputs[Number(m[2])];
    if (!t) throw new GraphError(`The name '${name}' refers to a Tensor which does not exist.`);
    return t;
  }

  /**
   * Runs `fn` with every op it adds to this graph depending on `deps` first
   * (TF1's `tf.control_dependencies(deps)`); nests, adding up.
   */
  controlDependencies<T>(deps: (Operation | SymbolicTensor)[], fn: () => T): T {
    const ops = deps.map((d) => d instanceof SymbolicTensor ? d.op : d);
    for (const op of ops) {
      if (!(op instanceof Operation)) {
        throw new GraphError(`controlDependencies: ${String(op)} is not an op or a graph tensor`);
      }
      if (!this.isWithin(op.graph)) {
        throw new GraphError(
          `controlDependencies: ${op.name} must be from the same graph as the ops it controls`,
        );
      }
    }
    this.#controlDeps.push(ops);
    try {
      return this.asDefault(fn);
    } finally {
      this.#controlDeps.pop();
    }
  }

  /**
   * Orders a side effect in a graph with {@linkcode Graph.autoControlDeps}
   * (TF2's automatic control dependencies): a `"read"` of `resource` runs after
   * its last write; a `"write"` runs after the previous side effect and after
   * the reads of `resource` since its last write; an `"effect"` (`Print`) runs
   * after the previous side effect. Does nothing in a TF1 graph.
   */
  sequence(op: Operation, kind: "read" | "write" | "effect", resource?: object): void {
    if (!this.autoControlDeps) return;
    if (resource) {
      const was = this.#touched.get(resource);
      this.#touched.set(resource, kind === "write" || was === "write" ? "write" : "read");
    }
    if (kind !== "read") this.#hasEffect = true;
    const after = (dep: Operation | undefined): void => {
      if (dep && dep !== op && !op.controlInputs.includes(dep)) op.controlInputs.push(dep);
    };
    if (kind === "read") {
      after(this.#lastWrite.get(resource!));
      const reads = this.#readsSince.get(resource!) ?? [];
      reads.push(op);
      this.#readsSince.set(resource!, reads);
      return;
    }
    after(this.#lastEffect);
    if (kind === "write") {
      after(this.#lastWrite.get(resource!));
      for (const r of this.#readsSince.get(resource!) ?? []) after(r);
      this.#lastWrite.set(resource!, op);
      this.#readsSince.set(resource!, []);
    }
    this.#lastEffect = op;
  }

  /** True when `other` is this graph or one it is nested in. */
  isWithin(other: Graph): boolean {
    return this === other || (this.parent?.isWithin(other) ?? false);
  }

  /**
   * Orders `op` (an `If`/`While`/call op of this graph) by the side effects of
   * its sub-graph `sub`: after the writes of what `sub` reads, in line with
   * the other side effects when `sub` has some.
   */
  adoptEffects(op: Operation, sub: Graph): void {
    if (!this.autoControlDeps) return;
    for (const [resource, kind] of sub.#touched) this.sequence(op, kind, resource);
    if (sub.#hasEffect && ![...sub.#touched.values()].includes("write")) {
      this.sequence(op, "effect");
    }
  }

  /**
   * Appends an operation. Inputs from an enclosing graph are captured (replaced
   * by placeholders of this graph); inputs from an unrelated graph are an error.
   */
  addOp(
    type: string,
    inputs: SymbolicTensor[],
    attrs: Record<string, AttrValue>,
    outputs: { dtype: DType; shape: Shape; unknownRank?: boolean }[],
    opts: { name?: string; controlInputs?: Operation[] } = {},
  ): Operation {
    if (this.disposed) throw new GraphError(`cannot add ${type} to a disposed graph`);
    if (this.finished) throw outOfScope(inputs.find((t) => t.graph === this), this.finished);
    const name = this.uniqueName(opts.name ?? type);
    const local = inputs.map((t) => this.capture(t, name));
    const control = [...(opts.controlInputs ?? [])];
    for (const deps of this.#controlDeps) {
      for (const d of deps) if (!control.includes(d)) control.push(d);
    }
    const op = new Operation(this, name, type, local, attrs, outputs, control);
    this.operations.push(op);
    this.#byName.set(name, op);
    return op;
  }

  /** This graph's stand-in for `t` (itself when `t` already belongs here). */
  capture(t: SymbolicTensor, user = "an op"): SymbolicTensor {
    if (t.graph === this) return t;
    if (t.graph.finished) throw outOfScope(t, t.graph.finished);
    if (!this.parent || !this.isWithin(t.graph)) {
      throw new GraphError(
        `${t.toString()} must be from the same graph as ${user}: build every op of a graph inside the ` +
          `same graph.asDefault(() => ...)`,
      );
    }
    let inner = this.captures.get(t);
    if (!inner) {
      const outer = this.parent.capture(t, user);
      const spec = { dtype: t.dtype, shape: t.shape, unknownRank: t.unknownRank };
      const op = this.addOp("Placeholder", [], spec, [spec], { name: `captured/${t.op.name}` });
      op.captured = outer;
      inner = op.output;
      this.captures.set(t, inner);
    }
    return inner;
  }

  toString(): string {
    return `Graph(${this.operations.length} operations, ${this.variables.length} variables)`;
  }
  [Symbol.for("Deno.customInspect")](): string {
    return this.toString();
  }

  /** The plain op list, ready for `JSON.stringify` or a GraphDef converter. */
  toJSON(): OpInfo[] {
    return this.operations.map((op) => op.toJSON());
  }

  /** Frees the values of this graph's constants (and of its sub-graphs). */
  dispose(): void {
    this.disposed = true;
    for (const op of this.operations) {
      op.value?.dispose();
      for (const sub of Object.values(op.subgraphs ?? {})) sub.dispose();
    }
  }
}
