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
 * before it.
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

/** Formats a static shape the way TF1 prints it: `(?, 784)`. */
export function formatShape(shape: Shape): string {
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
  ) {}

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
    return `Tensor("${this.name}", shape=${formatShape(this.shape)}, dtype=${this.dtype})`;
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
  logSoftmax(): SymbolicTensor {
    return ops.logSoftmax(this);
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
  softmax(): SymbolicTensor {
    return ops.softmax(this);
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
  argMax(axis = -1): SymbolicTensor {
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

/** The plain description of one operation (what `toJSON` gives; GraphDef converters read it). */
export interface OpInfo {
  name: string;
  type: string;
  /** Input tensor names (`"MatMul:0"`), then control inputs as `"^name"`, as in a GraphDef. */
  inputs: string[];
  /** One entry per output. */
  outputs: { dtype: DType; shape: Shape }[];
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
  subgraphs?: Record<string, Graph>;
  /** For a placeholder that stands for a tensor of an enclosing graph (a capture). */
  captured?: SymbolicTensor;
  /** For `ReadVariableOp`: the eager `tf.Variable` read at run time. */
  variable?: tf.Variable;
  /** True for ops run for their side effects (`Print`, `Assign*`). */
  stateful = false;

  constructor(
    readonly graph: Graph,
    readonly name: string,
    readonly type: string,
    readonly inputs: SymbolicTensor[],
    readonly attrs: Record<string, AttrValue>,
    outputs: { dtype: DType; shape: Shape }[],
    controlInputs: Operation[] = [],
  ) {
    this.outputs = outputs.map((o, i) => new SymbolicTensor(this, i, o.dtype, o.shape));
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
      outputs: this.outputs.map((t) => ({ dtype: t.dtype, shape: [...t.shape] })),
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

  readonly #names = new Set<string>();
  readonly #scopes: string[] = [];

  constructor(parent?: Graph) {
    this.parent = parent;
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
   * Runs `fn` with op names prefixed by `scope/` (like `tf.name_scope`); a scope
   * ending in "/" is absolute (`"w/"` reopens the scope named exactly `w`).
   */
  nameScope<T>(scope: string, fn: () => T): T {
    const current = this.#scopes.at(-1);
    this.#scopes.push(
      scope.endsWith("/") ? scope.slice(0, -1) : current ? `${current}/${scope}` : scope,
    );
    try {
      return this.asDefault(fn);
    } finally {
      this.#scopes.pop();
    }
  }

  /** A name not used yet in this graph: `base`, then `base_1`, `base_2`, ... */
  uniqueName(base: string): string {
    const scope = this.#scopes.at(-1);
    const full = scope ? `${scope}/${base}` : base;
    let name = full;
    for (let i = 1; this.#names.has(name); i++) name = `${full}_${i}`;
    return name;
  }

  /** The operation called `name`, or undefined. */
  op(name: string): Operation | undefined {
    return this.operations.find((op) => op.name === name);
  }

  /** True when `other` is this graph or one it is nested in. */
  isWithin(other: Graph): boolean {
    return this === other || (this.parent?.isWithin(other) ?? false);
  }

  /**
   * Appends an operation. Inputs from an enclosing graph are captured (replaced
   * by placeholders of this graph); inputs from an unrelated graph are an error.
   */
  addOp(
    type: string,
    inputs: SymbolicTensor[],
    attrs: Record<string, AttrValue>,
    outputs: { dtype: DType; shape: Shape }[],
    opts: { name?: string; controlInputs?: Operation[] } = {},
  ): Operation {
    const name = this.uniqueName(opts.name ?? type);
    const local = inputs.map((t) => this.capture(t, name));
    const op = new Operation(this, name, type, local, attrs, outputs, opts.controlInputs);
    this.#names.add(name);
    this.operations.push(op);
    return op;
  }

  /** This graph's stand-in for `t` (itself when `t` already belongs here). */
  capture(t: SymbolicTensor, user = "an op"): SymbolicTensor {
    if (t.graph === this) return t;
    if (!this.parent || !this.isWithin(t.graph)) {
      throw new GraphError(
        `${t.toString()} is from another graph than ${user}: build every op of a graph inside the same ` +
          `graph.asDefault(() => ...)`,
      );
    }
    let inner = this.captures.get(t);
    if (!inner) {
      const outer = this.parent.capture(t, user);
      const spec = { dtype: t.dtype, shape: t.shape };
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
    for (const op of this.operations) {
      op.value?.dispose();
      for (const sub of Object.values(op.subgraphs ?? {})) sub.dispose();
    }
  }
}
