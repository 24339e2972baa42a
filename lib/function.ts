/**
 * `tfFunction`: TensorFlow 2's `tf.function` for TensorFlow.js. The first call
 * with a new signature (argument shapes and dtypes, values of non-tensor
 * arguments) *traces* the function: it runs once with symbolic tensors and
 * records every op into a v1 {@linkcode Graph} (a "concrete function"). Later
 * calls with that signature skip the JavaScript and run the cached graph.
 *
 * Consequences you can observe, as in TensorFlow:
 * - `console.log` inside the function runs only while tracing; use
 *   {@linkcode tfPrint} (a graph op: `tfPrint(x, "msg")`, or TF's
 *   `tfPrint("msg", x, ...)`) to print at every call.
 * - A new shape retraces (`traceCount` grows) unless an `inputSignature` with
 *   `null` dimensions says that any size is fine, or `reduceRetracing` lets
 *   the second shape generalise to `null` dimensions.
 * - State is part of the graph: `v.assign(x)`, `assignAdd(v, x)`,
 *   `assignSub(v, x)` on captured `tf.Variable`s and optimizer updates
 *   (`optimizer.applyGradients`, `minimize`; SGD, momentum, Adam) are ops that
 *   run at every call, in program order (TF2's automatic control
 *   dependencies: a read after a write sees the write). A `GradientTape`
 *   inside the function differentiates the graph, so a whole training step
 *   (tape + `tape.gradient` + `optimizer.applyGradients`) traces once and trains.
 * - Variables may be created only by the first trace; as in TF, a first trace
 *   that creates some is followed by a second that may not (`traceCount` 2), and
 *   a trace that creates one then throws {@linkcode VariableCreationError}
 *   (TensorFlow's "tf.function only supports singleton tf.Variables created on
 *   the first call"), so a function that creates a Variable at every call fails
 *   on its first call. An initial value computed from the arguments
 *   (`tf.variable(tf.onesLike(x))`) is taken from the first call's values.
 * - A graph tensor kept outside (in an outer variable, an array, an object)
 *   cannot be used once its trace, branch or loop body is finished: an
 *   `InaccessibleTensorError`. A function that calls itself with the signature
 *   it is being traced for raises a `GraphError` (TF: recursion is not supported).
 * - `getConcreteFunction(...)` returns a {@linkcode ConcreteFunction}: called
 *   with the traced arguments, or only their tensors and Variables (TF's flat
 *   signature); it shows its signature (`String(cf)`, `structuredInputSignature`,
 *   `structuredOutputs`, `variables`).
 * - Arguments are flattened: tensors inside arrays and records are inputs.
 *   A `tf.Variable` argument is keyed by its `VariableSpec` (shape, dtype,
 *   trainable, and an alias id: `f(v, v)` and `f(v, w)` trace apart), so
 *   another Variable of the same spec reuses the trace, and the graph reads
 *   and assigns the Variable passed at each call (not the one traced with;
 *   a Variable both passed and captured by the closure is treated as passed).
 *   Other values key the cache: primitives by value (`NaN`, `-0`, `null`,
 *   `undefined` kept apart), functions and objects by identity.
 * - Defaults are bound before the cache is keyed, as TF's `FunctionSpec` binds
 *   Python's: `f(x)`, `f(x, undefined)` and `f(x, 2)` of `(x, y = 2) => ...`
 *   share one trace, and so do `f(x)` and `f(x, { scale: 2 })` of
 *   `(x, { scale = 2 } = {}) => ...`. Only literal defaults (numbers, strings,
 *   booleans, `null`, JSON arrays and objects) are known (read from the source,
 *   `_function_params.ts`); another default still applies, unbound.
 * - A trace's inputs are placeholders named after the parameters (`x:0`; the
 *   tensors of a nested argument `x`, `x_1`, ...; a `TensorSpec`'s name wins;
 *   `arg<i>` where the source does not say), and `structuredInputSignature`
 *   names each spec by its path (`x`, `x/0`, `x/key`), as TensorFlow does.
 * - AutoGraph runs first (`{ autograph: false }` turns it off): `if`/`else`,
 *   `?:`, `while`, `for`, `break`/`continue`/`return`, `&&`/`||`/`!` and the
 *   operators `< > <= >= === !== + - * / %` on tensors become graph ops
 *   (`If`, `While`, `Less`, ...); on plain JavaScript values they run as
 *   JavaScript while tracing (a loop over a number unrolls). `toCode(fn)`
 *   shows the converted source. Names the converted code reads must be
 *   visible to it: a notebook cell's top-level names are; a module's closure
 *   variables are passed with `{ scope: { name } }`.
 *
 * Inside the function, use tensor methods (`a.square().sum()`, `x.matMul(w)`)
 * or `v1` ops: they work on the symbolic tensors. The common `tf.*` ops
 * (`tf.add`, `tf.mul`, `tf.matMul`, `tf.relu`, `tf.sum`, `tf.reshape`,
 * `tf.maximum`, `tf.pow`, `tf.where`, `tf.concat`, `tf.stack`, `tf.gather`,
 * `tf.oneHot`, `tf.clipByValue`, `tf.softmax`, `tf.logSoftmax`, `tf.prod`,
 * `tf.cumsum`, `tf.all`, `tf.any`, `tf.atan2`, `tf.argMin`, ..., `tf.losses.*`,
 * `tf.conv2d`, `tf.maxPool`, `tf.fused.*`, `tf.depthwiseConv2d`, `tf.batchNorm`,
 * `tf.prelu`, `tf.image.resizeBilinear`, `tf.localResponseNormalization`, so a
 * `tf.Sequential` model of dense, convolution, pooling, batch-normalization
 * (`training: true` updates its moving statistics at every call, as TF's
 * `tf.function` does) and flatten layers; the list is in
 * `v1/_kernel_dispatch.ts`) do too, with gradients, and so do the tensor
 * methods (`x.pow(2)`); others raise a `GraphError`. `tf.softmax` and
 * `tf.logSoftmax` take only the last axis, as tfjs's do eagerly: another axis
 * raises a `ShapeError` giving the transposes that move it last (TF's
 * `tf.nn.softmax(x, axis)` is `v1.softmax(x, axis)`).
 * `tf.stridedSlice` (all five masks), `tf.gatherND`, `tf.scatterND`, `tf.topk`,
 * `tf.mirrorPad` and `tf.einsum` trace too, with TensorFlow's gradients.
 * Closed-over `tf.Tensor`s become constants; closed-over `tf.Variable`s are
 * read at every call (`x.mul(w)`, `tf.mul(x, w)`, AutoGraph's `x * w`).
 *
 * Random numbers, as in TensorFlow, are drawn anew at every call by the graph
 * ops `v1.randomUniform`, `v1.randomNormal`, `v1.truncatedNormal`,
 * `v1.randomStandardNormal`, `v1.randomGamma` and `v1.dropout` (an op `seed`
 * gives a new draw per call and the same sequence per trace; no global seed),
 * and by `tf.layers.dropout` called with `{ training: true }`. tfjs's own
 * random ops (`tf.randomUniform`, `tf.dropout`, ...) draw once, in JavaScript:
 * a draw that would become a graph constant raises `RandomOpInTraceError`
 * (a draw that only initializes a Variable created by the first trace is fine).
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { tfFunction } from "./function.ts";
 * const f = tfFunction((a: tf.Tensor) => a.square().sum());
 * f(tf.tensor([1, 2])).print(); // 5
 * f(tf.tensor([3, 4])).print(); // 25
 * console.log(f.traceCount); // 1: same signature
 * ```
 *
 * @example A traced training step
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { tfFunction } from "./function.ts";
 * import { GradientTape } from "./tape.ts";
 * const w = tf.variable(tf.zeros([2, 1]));
 * const opt = tf.train.sgd(0.1);
 * const step = tfFunction((x: tf.Tensor, y: tf.Tensor) => {
 *   const tape = new GradientTape();
 *   const loss = tape.record(() => x.matMul(w).sub(y).square().mean());
 *   const [dw] = tape.gradient(loss, [w]);
 *   opt.applyGradients({ [w.name]: dw! });
 *   return loss;
 * });
 * const x = tf.tensor([[1, 0], [0, 1]]), y = tf.tensor([[1], [2]]);
 * for (let i = 0; i < 100; i++) step(x, y).dispose();
 * w.print(); // close to [[1], [2]]; step.traceCount is 1
 * ```
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import {
  AutoGraphScopeError,
  convert,
  doNotConvert,
  OperatorNotAllowedInGraphError,
} from "./autograph/mod.ts";
import {
  assertInScope,
  constant,
  DisposedTensorError,
  type DType,
  execute,
  formatShape,
  getDefaultGraph,
  gradFns,
  gradients,
  Graph,
  GraphError,
  kernels,
  neededOps,
  Operation,
  placeholder,
  print,
  printTensor,
  readVariable,
  RunContext,
  type Shape,
  SymbolicTensor,
  toSymbolic,
} from "./v1/mod.ts";
import { inFunctionGraph } from "./v1/resource_variables.ts";
import { notLastAxisError } from "./v1/ops.ts";
import { gradThrough } from "./v1/control_flow.ts";
import { drawIn, redrawError } from "./v1/random_ops.ts";
import "./_traced_optimizers.ts";
import { watchRandomDraws } from "./_trace_random.ts";
import { type Parameter, parseParameters } from "./_function_params.ts";
export { RandomOpInTraceError } from "./_trace_random.ts";

/**
 * The shape and dtype an argument must have (`tf.TensorSpec`): `null` for a
 * dimension of any size, a `shape` of `null` for any rank.
 */
export class TensorSpec {
  readonly shape: Shape | null;
  readonly dtype: DType;
  readonly name?: string;

  constructor(shape: Shape | null, dtype: DType = "float32", name?: string) {
    this.shape = shape === null ? null : [...shape];
    this.dtype = dtype;
    this.name = name;
  }

  /** The spec of a tensor (`tf.TensorSpec.from_tensor`). */
  static fromTensor(t: tf.Tensor | SymbolicTensor, name?: string): TensorSpec {
    const shape = t instanceof SymbolicTensor && t.unknownRank ? null : [...t.shape];
    return new TensorSpec(shape, t.dtype as DType, name);
  }

  /** A spec with the shape and dtype of `spec`, named `name` (`tf.TensorSpec.from_spec`). */
  static fromSpec(spec: TensorSpec, name: string | undefined = spec.name): TensorSpec {
    return new TensorSpec(spec.shape, spec.dtype, name);
  }

  /**
   * Whether this spec and a tensor or spec could describe the same value
   * (`is_compatible_with`): the same dtype, and shapes that agree where both are
   * known (an unknown rank or a `null` dimension agrees with anything).
   */
  isCompatibleWith(t: { dtype: string; shape: Shape | null }): boolean {
    if (t.dtype !== this.dtype) return false;
    if (this.shape === null || t.shape === null) return true;
    return t.shape.length === this.shape.length &&
      this.shape.every((d, i) => d === null || t.shape![i] === null || d === t.shape![i]);
  }

  /**
   * Whether every value this spec describes is also described by `other`
   * (`is_subtype_of`): `TensorSpec([2])` is a subtype of `TensorSpec([null])`,
   * not the other way round. A concrete function accepts its subtypes.
   */
  isSubtypeOf(other: TensorSpec): boolean {
    return isSubtype(this, other);
  }

  /**
   * The most specific spec that all of `this` and `others` are subtypes of
   * (`most_specific_common_supertype`): differing dimensions become `null`,
   * differing ranks an unknown rank; `null` when the dtypes differ.
   */
  mostSpecificCommonSupertype(others: TensorSpec[]): TensorSpec | null {
    let shape: Shape | null = this.shape;
    for (const o of others) {
      if (o.dtype !== this.dtype) return null;
      shape = shape === null || o.shape === null || o.shape.length !== shape.length
        ? null
        : shape.map((d, i) => d === o.shape![i] ? d : null);
    }
    return new TensorSpec(shape, this.dtype);
  }

  toString(): string {
    const named = this.name === undefined ? "" : `, name='${this.name}'`;
    return `TensorSpec(shape=${formatShape(this.shape)}, dtype=${this.dtype}${named})`;
  }
  [Symbol.for("Deno.customInspect")](): string {
    return this.toString();
  }
}

/** Whether every value `a` describes is described by `b` (TF's `is_subtype_of`). */
function isSubtype(a: { dtype: string; shape: Shape | null }, b: TensorSpec): boolean {
  if (a.dtype !== b.dtype) return false;
  if (b.shape === null) return true;
  if (a.shape === null) return false;
  return a.shape.length === b.shape.length &&
    b.shape.every((d, i) => d === null || d === a.shape![i]);
}

/** `new TensorSpec(shape, dtype, name)` (`tf.TensorSpec(shape, dtype)`). */
export function tensorSpec(
  shape: Shape | null,
  dtype: DType = "float32",
  name?: string,
): TensorSpec {
  return new TensorSpec(shape, dtype, name);
}

/** An `inputSignature` entry: a spec, or arrays and records of specs (TF's nested signature). */
export type SpecTree =
  | TensorSpec
  | { shape: Shape | null; dtype?: DType }
  | SpecTree[]
  | { [key: string]: SpecTree };

const isPlainSpec = (x: unknown): x is { shape: Shape | null; dtype?: DType } =>
  isRecord(x) && "shape" in x && (x.shape === null || Array.isArray(x.shape)) &&
  Object.keys(x).every((k) => k === "shape" || k === "dtype");

/** A signature entry with its plain `{ shape, dtype }` objects made `TensorSpec`s. */
function toSpecTree(s: SpecTree): SpecTree {
  if (s instanceof TensorSpec) return s;
  if (isPlainSpec(s)) return new TensorSpec(s.shape, s.dtype ?? "float32");
  if (Array.isArray(s)) return s.map(toSpecTree);
  return Object.fromEntries(Object.entries(s).map(([k, v]) => [k, toSpecTree(v as SpecTree)]));
}

const describeValue = (x: unknown): string =>
  Array.isArray(x) ? `an array of ${x.length}` : isRecord(x) ? "a record" : primitiveKey(x);

/** Options for {@linkcode tfFunction}. */
export interface TfFunctionOptions {
  /**
   * One spec per argument: trace once for every input that fits. Plain
   * `{ shape, dtype }` objects are accepted here, and so are arrays and records
   * of specs for arguments that are arrays and records of tensors (TF's nested
   * `input_signature`). Numbers and arrays passed for a spec are converted to
   * tensors of its dtype.
   */
  inputSignature?: SpecTree[];
  /** A name for the traced graphs. */
  name?: string;
  /**
   * TF's `reduce_retracing=True`: when a call needs a new trace only because
   * shapes differ from an earlier trace, trace once with the differing
   * dimensions as `null`, which then serves every such shape.
   */
  reduceRetracing?: boolean;
  /** At most this many concrete functions are kept (least recently used evicted, graphs freed). Default 32. */
  maxConcreteFunctions?: number;
  /**
   * Convert the function's JavaScript control flow and operators to graph ops
   * (AutoGraph, `lib/autograph/`), as `tf.function(autograph=True)`. Default
   * `true`; `false` traces the function as written, and a symbolic tensor used
   * as a JavaScript value then throws `OperatorNotAllowedInGraphError`.
   */
  autograph?: boolean;
  /** For AutoGraph: the names free in the function's source, e.g. a notebook cell's top level. */
  scope?: Record<string, unknown>;
}

/** An argument that does not fit the function's `inputSignature` or concrete function. */
export class SignatureError extends GraphError {
  constructor(message: string) {
    super(message);
    this.name = "SignatureError";
  }
}

/** A later trace created a `tf.Variable` (TensorFlow raises a ValueError with this meaning). */
export class VariableCreationError extends GraphError {
  constructor(message: string) {
    super(message);
    this.name = "VariableCreationError";
  }
}

let functionsRunEagerly = false;

/**
 * Makes every {@linkcode tfFunction} run its JavaScript eagerly instead of
 * tracing (`tf.config.run_functions_eagerly(true)`), for debugging with
 * `console.log` and breakpoints; `false` restores tracing.
 */
export function runFunctionsEagerly(enabled: boolean): void {
  functionsRunEagerly = enabled;
}

/** Whether {@linkcode runFunctionsEagerly} is on (`tf.config.functions_run_eagerly()`). */
export function functionsRunningEagerly(): boolean {
  return functionsRunEagerly;
}

type Leaf = tf.Tensor | SymbolicTensor | TensorSpec;
/** A JavaScript value returned by a traced function, given back as it is. */
class JsValue {
  constructor(readonly value: unknown) {}
}
type Structure = SymbolicTensor | JsValue | Structure[] | { [key: string]: Structure };

/** One traced graph of a {@linkcode tfFunction}, for one signature. */
export interface ConcreteFunction {
  /** The signature, e.g. `"float32(2,)"` or `"float32(?, 3), 2"`. */
  readonly signature: string;
  /** The traced graph (draw it with `v1.drawGraph(cf.graph)`). */
  readonly graph: Graph;
  /** The input specs, one per tensor of the flattened arguments. */
  readonly inputSpecs: TensorSpec[];
  /**
   * Runs the graph on these arguments. Tensors must fit the traced specs
   * (a {@linkcode SignatureError} otherwise, as TensorFlow raises). As TF's
   * concrete functions, it takes the arguments of the trace (its JavaScript
   * values must be the traced ones), or only their tensors and Variables, in
   * order (the flat signature: `square(x)` for `pow.getConcreteFunction(a, 2)`).
   */
  call(...args: unknown[]): unknown;
  /** The traced arguments with a `TensorSpec` for each tensor (`structured_input_signature`). */
  readonly structuredInputSignature: unknown[];
  /** The traced result with its graph tensors (`structured_outputs`). */
  readonly structuredOutputs: unknown;
  /** The parameters with their specs (or traced values), and the output type. */
  prettyPrintedSignature(): string;
  /** The graph's arguments (its placeholders, one per tensor) and results (`inputs`, `outputs`). */
  readonly inputs: SymbolicTensor[];
  readonly outputs: SymbolicTensor[];
  /** The Variables the graph reads or assigns, branches and loop bodies included (`variables`). */
  readonly variables: tf.Variable[];
  /** Those of {@linkcode ConcreteFunction.variables} that are trainable (`trainable_variables`). */
  readonly trainableVariables: tf.Variable[];
  /** `ConcreteFunction` and the pretty-printed signature (what TF prints for one). */
  toString(): string;
}

/** What `tfFunction` keeps about a concrete function. */
interface Concrete extends ConcreteFunction {
  readonly key: string;
  readonly structure: Structure;
  /** The Variables passed to the trace (its ops name them): stand-ins for a call's Variables. */
  readonly vars: tf.Variable[];
}

/** The trace's Variable arguments → those of a call (same alias ids, so same length). */
function bindVariables(cf: Concrete, vars: tf.Variable[]): Map<tf.Variable, tf.Variable> {
  return new Map(cf.vars.map((v, i) => [v, vars[i]]));
}

/** What a traced function returns when called: its result with graph tensors made eager. */
export type Eager<R> = R extends SymbolicTensor ? tf.Tensor
  : R extends tf.Tensor ? R
  : R extends (infer U)[] ? Eager<U>[]
  : R extends object ? { [K in keyof R]: Eager<R[K]> }
  : R;

/** A traced function: call it like the original; it keeps its concrete functions. */
export type TfFunction<A extends unknown[], R> = ((...args: A) => Eager<R>) & {
  /** The function as written, before AutoGraph (TF's `python_function`). */
  readonly pythonFunction: (...args: A) => R;
  /** How many times the function has been traced. */
  readonly traceCount: number;
  /** The ops run by the last call (a cached graph runs no JavaScript of yours). */
  readonly lastCallOpCount: number;
  /**
   * The concrete function for these arguments (or `TensorSpec`s), tracing if
   * needed; with no arguments, the one for the `inputSignature`.
   */
  getConcreteFunction(...args: unknown[]): ConcreteFunction;
  /** Every concrete function kept (at most `maxConcreteFunctions`). */
  readonly concreteFunctions: ConcreteFunction[];
  /** The signatures of every trace kept, one block each (`pretty_printed_concrete_signatures`). */
  prettyPrintedConcreteSignatures(): string;
  /** Frees the constants of every traced graph and forgets them (the next call retraces). */
  dispose(): void;
};

// ---------------------------------------------------------------- arguments

const ids = new WeakMap<object, number>();
let nextId = 1;
function identity(x: object): number {
  let id = ids.get(x);
  if (id === undefined) ids.set(x, id = nextId++);
  return id;
}

const isLeaf = (x: unknown): x is Leaf =>
  (x instanceof tf.Tensor && !(x instanceof tf.Variable)) || x instanceof SymbolicTensor ||
  x instanceof TensorSpec;

const isRecord = (x: unknown): x is Record<string, unknown> => {
  if (x === null || typeof x !== "object") return false;
  const proto = Object.getPrototypeOf(x);
  return proto === Object.prototype || proto === null;
};

/** Flattened arguments: tensor leaves (with paths), variables, a cache key. */
interface Flat {
  leaves: Leaf[];
  paths: string[];
  /** The `tf.Variable`s, each once, in order of first appearance (TF's alias ids). */
  vars: tf.Variable[];
  /** Structure, dtypes, ranks and non-tensor values: what must match exactly. */
  key: string;
}

function primitiveKey(x: unknown): string {
  switch (typeof x) {
    case "number":
      return Object.is(x, -0) ? "-0" : String(x); // NaN, Infinity, -Infinity distinct
    case "string":
      return JSON.stringify(x);
    case "bigint":
      return `${x}n`;
    case "boolean":
      return String(x);
    case "undefined":
      return "undefined";
    case "function":
      return `<function ${x.name || "anonymous"}#${identity(x)}>`;
    case "symbol":
      return `<${String(x)}#${identity(x as unknown as object)}>`;
    default:
      if (x === null) return "null";
      return `<${(x as object).constructor?.name ?? "object"}#${identity(x as object)}>`;
  }
}

/** TF's `nest.flatten` of the arguments, with the key of everything that is not a tensor. */
function flattenArgs(args: unknown[], name: string): Flat {
  const leaves: Leaf[] = [];
  const paths: string[] = [];
  const vars: tf.Variable[] = [];
  const seen = new Set<object>();
  const walk = (x: unknown, path: string): string => {
    if (x instanceof tf.Variable) {
      if (x.isDisposed) {
        throw new DisposedTensorError(`${name}: ${path} is a disposed tf.Variable`);
      }
      if (!vars.includes(x)) vars.push(x);
      return variableSpec(x, vars.indexOf(x));
    }
    if (isLeaf(x)) {
      if (x instanceof tf.Tensor && x.isDisposed) {
        throw new DisposedTensorError(
          `${name}: ${path} is a disposed tf.Tensor; pass a live tensor`,
        );
      }
      leaves.push(x);
      paths.push(path);
      return `T:${x.dtype}`; // shapes are matched by the specs (TF's dispatch)
    }
    if (Array.isArray(x) || isRecord(x)) {
      if (seen.has(x)) throw new SignatureError(`${name}: ${path} contains itself (a cycle)`);
      seen.add(x);
      const k = Array.isArray(x)
        ? `[${x.map((v, i) => walk(v, `${path}[${i}]`)).join(",")}]`
        : `{${
          Object.keys(x).sort().map((k) => `${JSON.stringify(k)}:${walk(x[k], `${path}.${k}`)}`)
            .join(",")
        }}`;
      seen.delete(x);
      return k;
    }
    return primitiveKey(x);
  };
  const key = args.map((a, i) => walk(a, `argument ${i}`)).join(", ");
  return { leaves, paths, vars, key };
}

/**
 * A Variable argument's trace type (TF's `VariableSpec`): shape, dtype,
 * trainable, and an alias id numbering the call's distinct variables, so that
 * `f(v, v)` and `f(v, w)` trace apart but `f(w, w)` reuses `f(v, v)`'s trace.
 */
function variableSpec(v: tf.Variable, aliasId: number): string {
  return `VariableSpec(shape=${formatShape(v.shape)}, dtype=${v.dtype}, ` +
    `trainable=${v.trainable}, alias_id=${aliasId})`;
}

/**
 * Replaces the tensor leaves of `args` (in flattening order) by `next()`, and the
 * Variables by `variable(v)` when given.
 */
function mapLeaves(
  args: unknown[],
  next: () => unknown,
  variable?: (v: tf.Variable) => unknown,
): unknown[] {
  const walk = (x: unknown): unknown => {
    if (variable && x instanceof tf.Variable) return variable(x);
    if (isLeaf(x)) return next();
    if (Array.isArray(x)) return x.map(walk);
    if (isRecord(x)) return Object.fromEntries(Object.keys(x).sort().map((k) => [k, walk(x[k])]));
    return x;
  };
  return args.map(walk);
}

/** The Variables the ops of `g` and of its sub-graphs read or assign, in order of first use. */
function variablesOf(g: Graph): tf.Variable[] {
  const out = new Set<tf.Variable>();
  const visit = (graph: Graph): void => {
    for (const op of graph.operations) {
      if (op.variable) out.add(op.variable);
      Object.values(op.subgraphs ?? {}).forEach(visit);
      if (op.callee) visit(op.callee);
    }
  };
  visit(g);
  return [...out];
}

/** Markers of a concrete function's argument template: where a tensor or a Variable was. */
const TENSOR = Symbol("tensor");
const VARIABLE = Symbol("variable");

/**
 * The traced arguments `template` with its tensors and Variables replaced by `flat`, in
 * order (TF's flat signature of a concrete function); undefined when `flat` does not fit.
 */
function fillTemplate(template: unknown[], flat: unknown[]): unknown[] | undefined {
  let k = 0;
  let fits = true;
  const walk = (x: unknown): unknown => {
    if (x === TENSOR || x === VARIABLE) {
      const a = flat[k++];
      if (x === VARIABLE ? !(a instanceof tf.Variable) : !isLeaf(a)) fits = false;
      return a;
    }
    if (Array.isArray(x)) return x.map(walk);
    if (isRecord(x)) return Object.fromEntries(Object.keys(x).map((n) => [n, walk(x[n])]));
    return x;
  };
  const filled = template.map(walk);
  return fits && k === flat.length ? filled : undefined;
}

/**
 * The names of the parameters the arguments bind to (TF names a trace's inputs after
 * the Python parameters): a rest parameter's name for each argument it takes, `arg<i>`
 * where the source does not say (a destructuring pattern, unreadable source).
 */
function parameterNames(params: Parameter[] | null, count: number): string[] {
  const list = params ?? [];
  const rest = list.findIndex((p) => p.rest);
  return Array.from({ length: count }, (_, i) => {
    const p = rest >= 0 && i >= rest ? list[rest] : list[i];
    return p?.name ?? `arg${i}`;
  });
}

/**
 * The arguments with the parameters' literal defaults bound (TF's `FunctionSpec`
 * canonicalizes the arguments with the function's defaults before keying the trace
 * cache): a missing or `undefined` argument gets its default, and an options record
 * for a pattern `{ a = 1 } = {}` gets the defaults of its missing keys. So `f(x)`,
 * `f(x, undefined)` and `f(x, 2)` of `(x, y = 2) => ...` share one trace.
 */
function bindDefaults(params: Parameter[] | null, args: unknown[]): unknown[] {
  if (params === null) return args;
  const out = [...args];
  params.forEach((p, i) => {
    if (p.rest) return;
    let a = out[i];
    if (a === undefined && p.defaultValue) a = structuredClone(p.defaultValue.value);
    if (p.keyDefaults && isRecord(a)) {
      const record = a;
      const missing = Object.keys(p.keyDefaults).filter((k) => record[k] === undefined);
      if (missing.length > 0) {
        a = { ...record, ...Object.fromEntries(missing.map((k) => [k, p.keyDefaults![k]])) };
      }
    }
    if (a !== undefined || i < out.length) out[i] = a;
  });
  // A later default bound past a missing argument whose default is unknown: that one is
  // `undefined`, which JavaScript treats as missing (its default applies); trailing
  // `undefined`s of optional parameters are dropped, so `f(x)` and `f(x, undefined)` agree.
  for (let i = 0; i < out.length; i++) if (!(i in out)) out[i] = undefined;
  const required = params.findIndex((p) => p.hasDefault || p.rest);
  const min = required < 0 ? params.length : required;
  const rest = params.findIndex((p) => p.rest); // a rest parameter counts its undefineds
  while (
    out.length > min && (rest < 0 || out.length <= rest) && out[out.length - 1] === undefined
  ) out.pop();
  return out;
}

/**
 * The name of each tensor of the flattened arguments (TF's `structured_input_signature`
 * names): the parameter's name, then its path inside an array or record (`x/0`, `x/w`).
 */
function leafNames(params: Parameter[] | null, args: unknown[], fnName: string): string[] {
  const names = parameterNames(params, args.length);
  return flattenArgs(args, fnName).paths.map((path) => {
    const [, i, rest] = /^argument (\d+)(.*)$/.exec(path)!;
    const parts = rest.split(/[[\].]+/).filter((x) => x !== "");
    return [names[+i], ...parts].join("/");
  });
}

function specOf(leaf: Leaf): TensorSpec {
  return leaf instanceof TensorSpec ? leaf : TensorSpec.fromTensor(leaf);
}

function readable(args: unknown[], specs: TensorSpec[]): string {
  let i = 0;
  const vars: tf.Variable[] = [];
  const walk = (x: unknown): string => {
    if (x instanceof tf.Variable) {
      if (!vars.includes(x)) vars.push(x);
      return variableSpec(x, vars.indexOf(x));
    }
    if (isLeaf(x)) {
      const s = specs[i++];
      return `${s.dtype}${formatShape(s.shape)}`;
    }
    if (Array.isArray(x)) return `[${x.map(walk).join(", ")}]`;
    if (isRecord(x)) {
      return `{${Object.keys(x).sort().map((k) => `${k}: ${walk(x[k])}`).join(", ")}}`;
    }
    return primitiveKey(x);
  };
  return args.map(walk).join(", ");
}

// ---------------------------------------------------------------- results

/** Flattens a traced result into graph outputs; returns the structure to rebuild. */
function collect(x: unknown, out: SymbolicTensor[]): Structure {
  if (x instanceof SymbolicTensor) {
    assertInScope([x]); // e.g. set inside a cond branch through an object's field
    out.push(x);
    return x;
  }
  if (x instanceof tf.Tensor) return collect(toSymbolic(x), out); // a variable is read
  if (Array.isArray(x)) return x.map((v) => collect(v, out));
  if (isRecord(x)) {
    return Object.fromEntries(Object.entries(x).map(([k, v]) => [k, collect(v, out)]));
  }
  if (x instanceof Operation || x instanceof Graph) {
    throw new GraphError(`a traced function cannot return ${String(x)}: return tensors`);
  }
  return new JsValue(x); // JavaScript values come back as they are (TF: Python values)
}

function rebuild(s: Structure, value: (t: SymbolicTensor) => unknown): unknown {
  if (s instanceof SymbolicTensor) return value(s);
  if (Array.isArray(s)) return s.map((v) => rebuild(v, value));
  if (s instanceof JsValue) return s.value;
  return Object.fromEntries(
    Object.entries(s as Record<string, Structure>).map(([k, v]) => [k, rebuild(v, value)]),
  );
}

// ---------------------------------------------------------------- nested calls

/** For a nested call: the callee's traced Variable arguments → the caller's Variables. */
const callBindings = new WeakMap<Operation, Map<tf.Variable, tf.Variable>>();

/** Runs `run` with the callee's Variable arguments bound to those of the call `op`. */
function inCallee<T>(op: Operation, ctx: RunContext, run: (g: Graph) => T): T {
  const g = op.callee!;
  if (g.disposed) {
    throw new GraphError(
      `${op.name}: the nested traced function ${op.attrs.f} was disposed (or evicted from its ` +
        `cache); call the outer function's dispose() so that it traces again`,
    );
  }
  const caller = ctx.bound;
  const binding = [...callBindings.get(op) ?? []].map(([v, w]) => [v, ctx.variable(w)] as const);
  ctx.bound = new Map([...caller, ...binding]);
  try {
    return run(g);
  } finally {
    ctx.bound = caller;
  }
}

/** A traced function called while another is traced: a call of its graph (TF's `PartitionedCall`). */
kernels.PartitionedCall = (inputs, op, ctx) =>
  inCallee(op, ctx, (g) => {
    // Inputs after the arguments are the reads of captured variables (for gradients only).
    const feeds = new Map(g.inputs.map((p, i) => [p, inputs[i]]));
    const outs = execute([...g.outputs, ...g.statefulOps], feeds, ctx, `${op.name}/`);
    return outs.slice(0, g.outputs.length) as tf.Tensor[];
  });

/**
 * The gradient of a call of a function with `cond`/`whileLoop` inside (a
 * `PartitionedCallGrad` op): at run time the callee runs again on a tape, its
 * variables' reads (also those in its branches and loops) giving the call's
 * read inputs, and is differentiated there, as the gradients of `If` and
 * `While` are (so it has no gradient itself).
 */
kernels.PartitionedCallGrad = (inputs, op, ctx) =>
  inCallee(op, ctx, (g) => {
    const n = op.attrs.num_inputs as number;
    const vars = calleeVariables(g);
    return gradThrough(inputs.slice(0, n), op.attrs.wrt as number[], inputs.slice(n), (vals) => {
      const feeds = new Map(g.inputs.map((p, i) => [p, vals[i]]));
      const reads = vals.slice(g.inputs.length, g.inputs.length + vars.length);
      for (const o of g.operations) { // fed: no write before a read runs again
        if (o.type === "ReadVariableOp") feeds.set(o.output, reads[vars.indexOf(o.variable!)]);
      }
      return ctx.withFedReads(vars, reads, () =>
        execute(g.outputs, feeds, ctx, `${op.name}/`)) as tf.Tensor[];
    });
  });

/** Adds the `PartitionedCallGrad` op of the call `op`: the gradients of its float inputs. */
function callGradAtRunTime(op: Operation, dys: SymbolicTensor[]): (SymbolicTensor | null)[] {
  const g = op.callee!;
  const feeds = new Map<SymbolicTensor, tf.Tensor>(g.inputs.map((p) => [p, undefined!]));
  for (const o of g.operations) if (o.type === "ReadVariableOp") feeds.set(o.output, undefined!);
  const effect = neededOps(g.outputs, feeds).find((o) => o.stateful);
  if (effect) {
    throw new GraphError(
      `cannot differentiate through the nested traced function ${op.attrs.f}: its result ` +
        `depends on ${effect.name} (${effect.type}), a side effect that would run again; ` +
        `return a value computed without it, or call its JavaScript function directly`,
    );
  }
  const wrt = op.inputs.flatMap((t, i) => t.dtype === "float32" ? [i] : []);
  const specs = wrt.map((i) => ({ dtype: "float32" as DType, shape: [...op.inputs[i].shape] }));
  const grad = getDefaultGraph().addOp(
    "PartitionedCallGrad",
    [...op.inputs, ...dys],
    { f: op.attrs.f, num_inputs: op.inputs.length, wrt },
    specs,
    { name: `${op.name}Grad` },
  );
  grad.callee = g;
  callBindings.set(grad, callBindings.get(op)!);
  return op.inputs.map((_, i) => wrt.includes(i) ? grad.outputs[wrt.indexOf(i)] : null);
}

/** The variables a callee graph reads (its own ops, in order): implicit inputs of a call. */
function calleeVariables(g: Graph): tf.Variable[] {
  return [
    ...new Set(
      g.operations.filter((o) => o.type === "ReadVariableOp").map((o) => o.variable!),
    ),
  ];
}

/**
 * The gradient of a nested call: the callee's ops are copied into the calling
 * graph (side effects left out: they already ran) and differentiated there
 * with `v1.gradients`, as TensorFlow differentiates a `PartitionedCall`; a
 * callee with `cond`/`whileLoop` inside is differentiated at run time instead.
 */
gradFns.PartitionedCall = (op, dys) => {
  const g = op.callee!;
  const draw = drawIn(g);
  if (draw) throw redrawError(`the nested traced function ${op.attrs.f}`, draw);
  if (g.operations.some((o) => o.subgraphs)) return callGradAtRunTime(op, dys);
  const map = new Map<SymbolicTensor, SymbolicTensor>();
  g.inputs.forEach((p, i) => map.set(p, op.inputs[i]));
  const vars = calleeVariables(g);
  const into = getDefaultGraph();
  for (const o of g.operations) {
    if (o.type === "Placeholder" && map.has(o.output)) continue;
    if (o.type === "Print") {
      map.set(o.output, map.get(o.inputs[0])!);
      continue;
    }
    if (o.stateful) continue; // a side effect: it ran with the call
    const copy = o.type === "Const"
      ? constant(o.value!, undefined, o.name).op
      : o.type === "ReadVariableOp"
      ? op.inputs[g.inputs.length + vars.indexOf(o.variable!)].op
      : into.addOp(
        o.type,
        o.inputs.map((t) => {
          const m = map.get(t);
          if (!m) throw new GraphError(`cannot differentiate through ${o.name} in ${op.attrs.f}`);
          return m;
        }),
        o.attrs,
        o.outputs.map((t) => ({ dtype: t.dtype, shape: [...t.shape], unknownRank: t.unknownRank })),
        { name: o.name },
      );
    copy.callee = o.callee;
    o.outputs.forEach((t, i) => map.set(t, copy.outputs[i]));
  }
  return gradients(g.outputs.map((t) => map.get(t)!), op.inputs, dys);
};

function callOp(
  cf: Concrete,
  inputs: SymbolicTensor[],
  vars: tf.Variable[],
  name: string,
): Operation {
  const outer = getDefaultGraph(); // inputs of enclosing graphs are captured by addOp
  const g = cf.graph;
  const binding = bindVariables(cf, vars);
  const callerOf = (v: tf.Variable) => binding.get(v) ?? v;
  const specs = g.outputs.map((t) => ({
    dtype: t.dtype,
    shape: [...t.shape],
    unknownRank: t.unknownRank,
  }));
  // The callee's variables are read here too, as extra inputs: a tape around the call
  // sees them, and the gradient of the call reaches them.
  const reads = calleeVariables(g).map((v) => readVariable(callerOf(v)));
  const op = outer.addOp("PartitionedCall", [...inputs, ...reads], { f: name }, specs, { name });
  op.callee = g;
  callBindings.set(op, binding);
  const effects = g.operations.filter((o) => o.variable !== undefined);
  for (const o of effects) {
    outer.sequence(op, o.type === "ReadVariableOp" ? "read" : "write", callerOf(o.variable!));
  }
  if (g.statefulOps.length > 0) {
    op.stateful = true;
    outer.statefulOps.push(op);
    if (!effects.some((o) => o.type !== "ReadVariableOp")) outer.sequence(op, "effect");
  }
  return op;
}

// ---------------------------------------------------------------- Variables made in a trace

/** The values of the arguments of the call being traced, by placeholder (innermost trace last). */
const callValues: Map<SymbolicTensor, tf.Tensor>[] = [];

function withCallValues<T>(feeds: Map<SymbolicTensor, tf.Tensor>, run: () => T): T {
  callValues.push(feeds);
  try {
    return run();
  } finally {
    callValues.pop();
  }
}

/**
 * The eager value of a graph tensor given as a Variable's initial value while a function
 * is traced (`tf.Variable(tf.ones_like(x))` on the first call): TF initialises such a
 * Variable from the arguments of the first call, and so does this, by running the
 * initializer's ops on them.
 */
function initialValue(t: SymbolicTensor): tf.Tensor {
  const feeds = callValues.at(-1);
  const cannot = (why: string) =>
    new GraphError(
      `tf.variable: the initial value ${t.toString()} is a graph tensor, and ${why}. ` +
        `Create the Variable from an eager tensor (outside the function, or from a shape: ` +
        `tf.ones(x.shape))`,
    );
  if (!feeds || !inFunctionGraph()) throw cannot("no traced function is being called");
  const ctx = new RunContext(new Map());
  try {
    return tf.tidy(() => execute([t], feeds, ctx)[0]!.clone());
  } catch (e) {
    if (!(e instanceof GraphError)) throw e;
    throw cannot(
      `it cannot be computed from this call's arguments (${e.message.split("\n")[0]}): ` +
        `arguments given as TensorSpecs have no values`,
    );
  } finally {
    ctx.garbage.forEach((x) => x.dispose());
  }
}

{
  const engine = tf.engine() as unknown as {
    makeVariable(init: tf.Tensor, trainable?: boolean, name?: string, dtype?: string): tf.Variable;
  };
  const makeVariable = engine.makeVariable.bind(engine);
  engine.makeVariable = (init, trainable, name, dtype) => {
    if (!((init as unknown) instanceof SymbolicTensor)) {
      return makeVariable(init, trainable, name, dtype);
    }
    const value = initialValue(init as unknown as SymbolicTensor);
    try {
      return makeVariable(value, trainable, name, dtype);
    } finally {
      value.dispose();
    }
  };
}

// ---------------------------------------------------------------- tfFunction

/** TF's `FREQUENT_TRACING_WARNING_THRESHOLD` and `..._MAX_WARNING_PER_DETECTOR`. */
const RETRACE_THRESHOLD = 5;
const RETRACE_MAX_WARNINGS = 2;

/**
 * TF's frequent-tracing detector, one per JavaScript function (TF keys it by the Python
 * function, so that `tf.function(f)` created anew in a loop is one detector): the calls
 * since the oldest trace within the window, grouped by trace.
 */
class RetraceDetector {
  /** For each trace in the window: 1 + the calls without tracing that followed it. */
  callsPerTrace: number[] = [];
  calls = 0;
  warnings = 0;

  /** A call that traced; the warning to give, if any. */
  tracing(name: string): string | undefined {
    this.calls++;
    this.callsPerTrace.push(1);
    while (
      this.callsPerTrace.length > 0 && this.calls - this.callsPerTrace[0] > RETRACE_THRESHOLD
    ) {
      this.calls -= this.callsPerTrace.shift()!;
    }
    if (this.warnings >= RETRACE_MAX_WARNINGS || this.callsPerTrace.length < RETRACE_THRESHOLD) {
      return undefined;
    }
    this.warnings++;
    return `WARNING: ${this.callsPerTrace.length} out of the last ${this.calls} calls to ${name} ` +
      `triggered tf.function retracing. Tracing is expensive and the excessive number of tracings ` +
      `could be due to (1) creating a tfFunction repeatedly in a loop, (2) passing tensors ` +
      `with different shapes, (3) passing JavaScript values instead of tensors. For (1), ` +
      `define the tfFunction outside the loop. For (2), use an inputSignature with null ` +
      `dimensions or { reduceRetracing: true }. For (3), pass tensors.`;
  }

  /** A call that ran a cached graph. */
  cached(): void {
    if (this.callsPerTrace.length === 0) this.callsPerTrace = [0];
    this.callsPerTrace[this.callsPerTrace.length - 1]++;
    this.calls++;
  }
}

const detectors = new WeakMap<object, RetraceDetector>();

/**
 * Wraps `fn` so that it runs as a traced graph (`tf.function`). Tensors among
 * the arguments (also inside arrays and records) become placeholders; other
 * arguments are baked into the trace (a new value means a new trace).
 * Returns eager `tf.Tensor`s, which the caller disposes.
 */
export function tfFunction<A extends unknown[], R>(
  fn: (...args: A) => R,
  opts: TfFunctionOptions = {},
): TfFunction<A, R> {
  // AutoGraph converts the source at the first call (as tf.function does), so that names a
  // notebook defines after this cell are visible to the converted code.
  let converted: ((...args: A) => R) | undefined;
  let unseen: AutoGraphScopeError | undefined;
  const body = (...args: A): R => {
    converted ??= autographed(fn, opts, (e) => unseen = e);
    try {
      return converted(...args);
    } catch (e) {
      // Run as written because AutoGraph could not see a name: say so where it matters.
      if (unseen && e instanceof OperatorNotAllowedInGraphError) {
        throw new OperatorNotAllowedInGraphError(
          `${e.message}\nAutoGraph did not convert ${name} because it cannot see ` +
            `'${unseen.variable}': pass it with { scope: { ${unseen.variable} } }.`,
        );
      }
      throw e;
    }
  };

  /** Concrete functions by key, least recently used first. */
  const cache = new Map<string, Concrete[]>();
  const order: Concrete[] = [];
  let traceCount = 0;
  let succeeded = 0;
  let lastCallOpCount = 0;
  /** The traces under way (a trace that calls the function itself nests). */
  const inProgress: { key: string; specs: TensorSpec[] }[] = [];
  const name = opts.name ?? (fn.name || "function");
  const maxKept = opts.maxConcreteFunctions ?? 32;
  const params = parseParameters(fn);
  /** The most arguments `fn` takes (null: any number, with a rest parameter or no source). */
  const most = params === null || params.some((p) => p.rest) ? null : params.length;
  const signature = opts.inputSignature?.map(toSpecTree);
  /** The signature's specs in flattening order (one per tensor of the bound arguments). */
  const signatureSpecs = signature && flattenArgs(signature, name).leaves as TensorSpec[];

  /** Arguments checked against the inputSignature; numbers and arrays converted (to dispose). */
  const bindSignature = (given: unknown[], temps: tf.Tensor[]): unknown[] => {
    if (!signature) {
      // TF (Python) raises a TypeError for missing or extra positional arguments.
      if (given.length < fn.length || (most !== null && given.length > most)) {
        const expected = most === null || most === fn.length
          ? `${fn.length}`
          : `${fn.length}-${most}`;
        throw new SignatureError(`${name}() expects ${expected} arguments, got ${given.length}`);
      }
      return bindDefaults(params, given);
    }
    // With an inputSignature, defaults are bound for the parameters it covers.
    let args = given;
    if (given.length < signature.length) {
      args = bindDefaults(params, given).slice(0, signature.length);
    }
    if (args.length !== signature.length) {
      throw new SignatureError(
        `${name}: expected ${signature.length} arguments (inputSignature), got ${args.length}`,
      );
    }
    /** `a` bound to the spec (tree) `spec`: the same structure, tensors that fit. */
    const bind = (a: unknown, spec: SpecTree, path: string): unknown => {
      if (!(spec instanceof TensorSpec)) {
        const keys = Array.isArray(spec) ? null : Object.keys(spec).sort();
        const fits = keys
          ? isRecord(a) && Object.keys(a).sort().join() === keys.join()
          : Array.isArray(a) && a.length === (spec as SpecTree[]).length;
        if (!fits) {
          throw new SignatureError(
            `${name}: ${path} must have the structure of the inputSignature ` +
              `(${
                keys
                  ? `a record with keys ${keys.join(", ")}`
                  : `an array of ${(spec as SpecTree[]).length}`
              }), got ${describeValue(a)}`,
          );
        }
        return keys
          ? Object.fromEntries(
            keys.map((
              k,
            ) => [k, bind((a as Record<string, unknown>)[k], spec[k as never], `${path}.${k}`)]),
          )
          : (a as unknown[]).map((x, j) => bind(x, (spec as SpecTree[])[j], `${path}[${j}]`));
      }
      let t: unknown = a;
      if (typeof a === "number" || typeof a === "boolean" || Array.isArray(a)) {
        try {
          t = tf.tensor(a as number[], undefined, spec.dtype);
        } catch (e) {
          throw new SignatureError(
            `${name}: ${path} (${JSON.stringify(a)}) cannot be converted to ` +
              `${spec}: ${(e as Error).message}`,
          );
        }
        temps.push(t as tf.Tensor);
      }
      if (!isLeaf(t)) {
        throw new SignatureError(
          `${name}: ${path} must be a tensor (or a number/array) for ${spec}`,
        );
      }
      if (t instanceof tf.Tensor && t.isDisposed) {
        throw new DisposedTensorError(`${name}: ${path} is a disposed tf.Tensor`);
      }
      const s = specOf(t);
      if (!isSubtype(s, spec)) {
        throw new SignatureError(
          `${name}: ${path} (${s.dtype} ${formatShape(s.shape)}) does not fit the ` +
            `inputSignature ${spec.dtype} ${formatShape(spec.shape)}`,
        );
      }
      return t;
    };
    return args.map((a, i) => bind(a, signature[i], `argument ${i}`));
  };

  /** The parameter list as a signature shows it: `x, y=2`. */
  const header = (names: string[]): string =>
    names.map((n, i) => {
      const p = params?.[i];
      return p && !p.rest && p.defaultText !== undefined ? `${n}=${p.defaultText}` : n;
    }).join(", ");

  const trace = (
    args: unknown[],
    key: string,
    specs: TensorSpec[],
    vars: tf.Variable[],
    mayCreate: boolean,
  ): Concrete & { created: string[] } => {
    traceCount++;
    const inputNames = leafNames(params, args, name);
    const graph = new Graph();
    graph.autoControlDeps = true;
    const outputs: SymbolicTensor[] = [];
    const before = new Set(Object.keys(tf.engine().registeredVariables));
    const eng = tf.engine();
    let structure: Structure;
    let created: string[] = [];
    eng.startScope(); // eager temporaries made while tracing are freed
    inProgress.push({ key, specs });
    try {
      structure = watchRandomDraws(graph, () =>
        graph.asDefault(() => {
          let k = 0;
          const feeds = new Map<SymbolicTensor, tf.Tensor>(); // for Variables' initial values
          const leaves = flattenArgs(args, name).leaves;
          const symArgs = mapLeaves(args, () => {
            const s = specs[k];
            const leaf = leaves[k];
            // TF: named after the parameter (`x`, then `x_1`, ... for the tensors of a
            // nested argument), or after the TensorSpec's name when it has one.
            const p = placeholder(s.dtype, s.shape, s.name ?? inputNames[k].split("/")[0]);
            k++;
            graph.inputs.push(p);
            if (leaf instanceof tf.Tensor) feeds.set(p, leaf);
            return p;
          });
          return withCallValues(feeds, () => collect(body(...symArgs as A), outputs));
        }));
      created = Object.keys(tf.engine().registeredVariables).filter((n) => !before.has(n));
      if (created.length > 0 && !mayCreate) {
        for (const n of created) tf.engine().registeredVariables[n]?.dispose();
        throw new VariableCreationError(
          `${name}: tf.function only supports singleton tf.Variables created on the first ` +
            `call. Make sure the tf.Variable is only created once or created outside ` +
            `tf.function (this trace, for ${readable(args, specs)}, created ${created.join(", ")})`,
        );
      }
    } catch (e) {
      graph.dispose(); // a failed trace keeps nothing
      if (succeeded === 0) {
        for (const n of Object.keys(tf.engine().registeredVariables)) {
          if (!before.has(n)) tf.engine().registeredVariables[n]?.dispose();
        }
      }
      throw explainSoftmaxAxis(e);
    } finally {
      inProgress.pop();
      eng.endScope();
    }
    succeeded++;
    graph.outputs = outputs;
    graph.finished = `the traced function ${name}`;
    const sig = readable(args, specs);
    const template = mapLeaves(args, () => TENSOR, () => VARIABLE);
    const call = (...passed: unknown[]): unknown => {
      let callArgs = passed;
      let flat = flattenArgs(callArgs, name);
      if (flat.key !== key) {
        // TF's flat signature: only the tensors (and Variables), in order; the JavaScript
        // values stay those of the trace (`square(x)` for `pow.get_concrete_function(a, 2)`).
        const spliced = fillTemplate(template, passed);
        if (spliced) {
          callArgs = spliced;
          flat = flattenArgs(callArgs, name);
        }
      }
      if (flat.leaves.length !== graph.inputs.length || flat.key !== key) {
        throw new SignatureError(
          `${name}: this concrete function takes ${specs.length} tensors (${sig}); got ${flat.leaves.length} (${
            readable(callArgs, flat.leaves.map(specOf))
          })`,
        );
      }
      flat.leaves.forEach((leaf, i) => {
        const s = specOf(leaf);
        if (!(leaf instanceof tf.Tensor) || !isSubtype(s, specs[i])) {
          throw new SignatureError(
            `${name}: ${flat.paths[i]} (${s.dtype} ${formatShape(s.shape)}) is incompatible ` +
              `with the concrete function's ${specs[i]}`,
          );
        }
      });
      const ctx = new RunContext(new Map());
      ctx.bound = bindVariables(cf, flat.vars); // the Variables of this call, not the trace's
      let results: tf.Tensor[];
      try {
        results = tf.tidy(() => {
          const feeds = new Map(graph.inputs.map((p, i) => [p, flat.leaves[i] as tf.Tensor]));
          const outs = execute([...graph.outputs, ...graph.statefulOps], feeds, ctx);
          return outs.slice(0, graph.outputs.length).map((t) => t!.clone());
        });
      } finally {
        ctx.garbage.forEach((t) => t.dispose());
        lastCallOpCount = ctx.executed.length;
      }
      const byOutput = new Map(graph.outputs.map((o, i) => [o, results[i]]));
      // One output listed twice: the second gets its own copy (each result is the caller's).
      const given = new Set<tf.Tensor>();
      return rebuild(structure, (t) => {
        const r = byOutput.get(t)!;
        if (given.has(r)) return r.clone();
        given.add(r);
        return r;
      });
    };
    const paramNames = parameterNames(params, args.length);
    const outputType = () =>
      rebuild(structure, (t) => new TensorSpec(t.unknownRank ? null : [...t.shape], t.dtype));
    const cf: Concrete & { created: string[] } = {
      created,
      get structuredInputSignature() {
        // TF names each spec by its path (`x`, `x/0`, `x/key`), or keeps a TensorSpec's name.
        let k = 0;
        return mapLeaves(args, () => {
          const spec = specs[k];
          const path = inputNames[k++];
          return TensorSpec.fromSpec(spec, spec.name ?? path);
        }, (v) => TensorSpec.fromTensor(v));
      },
      get structuredOutputs() {
        return rebuild(structure, (t) => t);
      },
      get inputs() {
        return [...graph.inputs];
      },
      get outputs() {
        return [...graph.outputs];
      },
      get variables() {
        return variablesOf(graph);
      },
      get trainableVariables() {
        return variablesOf(graph).filter((v) => v.trainable);
      },
      prettyPrintedSignature: () => {
        let k = 0;
        const show = (x: unknown): string =>
          x instanceof TensorSpec
            ? String(x)
            : Array.isArray(x)
            ? `[${x.map(show).join(", ")}]`
            : isRecord(x)
            ? `{${Object.keys(x).map((n) => `${n}: ${show(x[n])}`).join(", ")}}`
            : x === undefined
            ? "None"
            : `Literal[${primitiveKey(x)}]`;
        const inputs = mapLeaves(args, () => specs[k++], (v) => TensorSpec.fromTensor(v));
        return [
          `${name}(${header(paramNames)})`,
          "  Input Parameters:",
          ...inputs.map((a, i) => `    ${paramNames[i]}: ${show(a)}`),
          "  Output Type:",
          `    ${show(outputType())}`,
        ].join("\n");
      },
      toString() {
        return `ConcreteFunction ${this.prettyPrintedSignature()}`;
      },
      signature: sig,
      graph,
      inputSpecs: specs,
      call,
      key,
      structure: structure!,
      vars,
    };
    return cf;
  };

  const remember = (key: string, cf: Concrete): void => {
    cache.set(key, [...(cache.get(key) ?? []), cf]);
    order.push(cf);
    while (order.length > maxKept) {
      const old = order.shift()!;
      for (const [k, list] of cache) {
        const rest = list.filter((c) => c !== old);
        if (rest.length > 0) cache.set(k, rest);
        else cache.delete(k);
      }
      old.graph.dispose();
    }
  };

  const touch = (cf: Concrete): void => {
    order.splice(order.indexOf(cf), 1);
    order.push(cf);
  };

  /** The most specific cached function whose specs accept `specs` (TF's dispatch). */
  const lookup = (key: string, specs: TensorSpec[]): Concrete | undefined => {
    const unknown = (cf: Concrete) =>
      cf.inputSpecs.reduce((n, s) => n + (s.shape?.filter((d) => d === null).length ?? 99), 0);
    return (cache.get(key) ?? [])
      .filter((cf) => cf.inputSpecs.every((s, i) => isSubtype(specs[i], s)))
      .sort((a, b) => unknown(a) - unknown(b))[0];
  };

  /** `specs` with every dimension that differs from `prev`'s made `null` (reduce_retracing). */
  const generalise = (specs: TensorSpec[], prev: TensorSpec[]): TensorSpec[] =>
    specs.map((s, i) => s.mostSpecificCommonSupertype([prev[i]]) ?? s);

  /** The concrete function for `args`, tracing if needed; `traced` tells whether it did. */
  const concrete = (args: unknown[]): { cf: Concrete; traced: boolean } => {
    const flat = flattenArgs(args, name);
    let specs = flat.leaves.map(specOf);
    if (signatureSpecs) specs = signatureSpecs; // bound arguments: one tensor per spec
    const found = lookup(flat.key, specs);
    if (found) {
      touch(found);
      return { cf: found, traced: false };
    }
    const prev = cache.get(flat.key)?.at(-1);
    if (opts.reduceRetracing && prev && !signature) specs = generalise(specs, prev.inputSpecs);
    const again = inProgress.find((t) =>
      t.key === flat.key && t.specs.every((s, i) => isSubtype(specs[i], s))
    );
    if (again) {
      throw new GraphError(
        `${name}: recursive tf.function calls are not supported: it calls itself with the ` +
          `signature it is being traced for (${readable(args, specs)}), so tracing would never ` +
          `end. Recurse on JavaScript values (each traces once), or write the recursion as a ` +
          `loop (AutoGraph's while)`,
      );
    }
    const first = succeeded === 0;
    let cf = trace(args, flat.key, specs, flat.vars, first);
    if (first && cf.created.length > 0) {
      // As TF: a first trace that created Variables only initialises them; the function is
      // traced again with Variable creation forbidden, and that trace is the one kept (so a
      // function that creates a Variable at every call raises on its first call).
      const made = cf.created;
      cf.graph.dispose();
      try {
        cf = trace(args, flat.key, specs, flat.vars, false);
      } catch (e) {
        for (const n of made) tf.engine().registeredVariables[n]?.dispose();
        succeeded = 0;
        throw e;
      }
    }
    remember(flat.key, cf);
    return { cf, traced: true };
  };

  const noteCall = (traced: boolean): void => {
    let detector = detectors.get(fn);
    if (!detector) detectors.set(fn, detector = new RetraceDetector());
    if (!traced) return detector.cached();
    const warning = detector.tracing(name);
    if (warning) console.warn(warning);
  };

  const wrapper = (...args: A): Eager<R> => {
    if (functionsRunEagerly && !inFunctionGraph()) {
      return tf.tidy(() => {
        const r = body(...args);
        return (r instanceof tf.Tensor && args.includes(r) ? r.clone() : r) as tf.TensorContainer;
      }) as Eager<R>;
    }
    const temps: tf.Tensor[] = [];
    try {
      const bound = bindSignature(args, temps);
      // Called while another function is traced: traced as its own function, called by an op.
      if (inFunctionGraph()) {
        const { cf } = concrete(bound);
        const flat = flattenArgs(bound, name);
        const leaves = flat.leaves.map((l) => toSymbolic(l as tf.Tensor | SymbolicTensor));
        const op = callOp(cf, leaves, flat.vars, name.replace(/[^\w/.-]/g, "_"));
        const outs = new Map(cf.graph.outputs.map((o, i) => [o, op.outputs[i]]));
        return rebuild(cf.structure, (t) => outs.get(t)) as Eager<R>;
      }
      const { cf, traced } = concrete(bound);
      noteCall(traced);
      return cf.call(...bound) as Eager<R>;
    } finally {
      tf.dispose(temps);
    }
  };

  doNotConvert(wrapper);
  return Object.defineProperties(wrapper, {
    pythonFunction: { value: fn },
    traceCount: { get: () => traceCount },
    lastCallOpCount: { get: () => lastCallOpCount },
    concreteFunctions: { get: () => [...order] },
    prettyPrintedConcreteSignatures: {
      value: () => order.map((cf) => cf.prettyPrintedSignature()).join("\n\n"),
    },
    getConcreteFunction: {
      value: (...args: unknown[]) => {
        const temps: tf.Tensor[] = [];
        try {
          const bound = args.length === 0 && signature ? signature : bindSignature(args, temps);
          return concrete(bound).cf;
        } finally {
          tf.dispose(temps);
        }
      },
    },
    dispose: {
      value: () => {
        for (const cf of order) cf.graph.dispose();
        cache.clear();
        order.length = 0;
      },
    },
  }) as TfFunction<A, R>;
}

/**
 * tfjs's plain error for `tf.softmax`/`tf.logSoftmax` along an axis other than the
 * last (raised eagerly too) as a ShapeError that says how to move the axis last.
 */
function explainSoftmaxAxis(e: unknown): unknown {
  const m = e instanceof Error && !(e instanceof GraphError) &&
    /^(Log )?Softmax along a non-last dimension.* rank (\d+) and (?:dim|axis) was (-?\d+)/
      .exec(e.message);
  return m ? notLastAxisError(m[1] ? "logSoftmax" : "softmax", +m[2], +m[3]) : e;
}

/** A built-in or bound function: its source is `[native code]`. */
function hasNoSource(fn: (...args: never[]) => unknown): boolean {
  return /\{\s*\[native code\]\s*\}\s*$/.test(Function.prototype.toString.call(fn));
}

/**
 * `fn` converted by AutoGraph, or `fn` itself when `autograph` is off. A function whose
 * free variables the converted code cannot see, or whose source is not available (a
 * bound or built-in function), runs as written, with TF's warning ("AutoGraph could not
 * transform ... and will run it as-is").
 */
function autographed<F extends (...args: never[]) => unknown>(
  fn: F,
  opts: TfFunctionOptions,
  onUnseen: (e: AutoGraphScopeError) => void,
): F {
  if (opts.autograph === false) return fn;
  if (hasNoSource(fn)) {
    console.warn(
      `WARNING: AutoGraph could not transform ${fn.name || "a function"} and will run it ` +
        `as-is. Cause: its source code is not available (a bound or built-in function); ` +
        `pass the function itself, with { scope } for what it uses`,
    );
    return fn;
  }
  try {
    return convert(fn, { scope: opts.scope });
  } catch (e) {
    if (!(e instanceof AutoGraphScopeError)) throw e;
    onUnseen(e);
    console.warn(
      `WARNING: AutoGraph could not transform ${fn.name || "a function"} and will run it ` +
        `as-is. Cause: ${e.message}`,
    );
    return fn;
  }
}

/**
 * Prints `message` and `x`'s value every time it is computed, and returns `x`
 * (`tf.print`). In a traced function it is a graph op (`Print`) that runs at
 * every call, even if its result is unused; on an eager tensor it prints now.
 *
 * TF's own form, `tfPrint("Executed with", x, ...)` (a string first: any mix of
 * strings, numbers and tensors, printed on one line joined by spaces), is a
 * `PrintV2` op in a traced function, run at every call even when it prints
 * only JavaScript values (`tf.print("Executed with", 1)`); eagerly it prints now.
 */
export function tfPrint<T extends tf.Tensor | SymbolicTensor>(x: T, message?: string): T;
export function tfPrint(first: string, ...rest: unknown[]): void;
export function tfPrint(x: unknown, ...rest: unknown[]): unknown {
  if (typeof x === "string") return printAll([x, ...rest]);
  const message = (rest[0] as string | undefined) ?? "";
  if (x instanceof SymbolicTensor) return print(x, message);
  printTensor(x as tf.Tensor, message);
  return x;
}

/** A value as `tf.print` shows it: a tensor's values, anything else as a string. */
function shown(x: unknown): string {
  return x instanceof tf.Tensor ? x.toString().replace(/^Tensor\n\s*/, "") : String(x);
}

/** `tf.print(*inputs)`: now, or as a `PrintV2` op when a function is traced. */
function printAll(inputs: unknown[]): void {
  const tensors = inputs.filter((x): x is tf.Tensor | SymbolicTensor =>
    x instanceof SymbolicTensor || x instanceof tf.Tensor
  );
  if (!inFunctionGraph() && !tensors.some((x) => x instanceof SymbolicTensor)) {
    console.log(inputs.map(shown).join(" "));
    return;
  }
  // The text around the tensors: null marks where each tensor's values go.
  const template = inputs.map((x) => tensors.includes(x as tf.Tensor) ? null : String(x));
  const g = getDefaultGraph();
  const syms = tensors.map((t) => toSymbolic(t));
  const op = g.addOp("PrintV2", syms, { template }, [], { name: "PrintV2" });
  op.stateful = true;
  g.statefulOps.push(op);
  g.sequence(op, "effect");
}

kernels.PrintV2 = (inputs, op) => {
  let k = 0;
  const parts = (op.attrs.template as (string | null)[]).map((p) =>
    p === null ? shown(inputs[k++]) : p
  );
  console.log(parts.join(" "));
  return [];
};

/** Median per-call times of a function run eagerly and as a {@linkcode tfFunction}. */
export interface FunctionTiming {
  /** Median milliseconds per eager call. */
  eagerMs: number;
  /** Median milliseconds per call of the traced graph (after the first call). */
  tracedMs: number;
  /** Median extra milliseconds the first call spends tracing (first call minus a cached call). */
  traceMs: number;
  repeats: number;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

/**
 * Times `fn(...args)` eagerly and traced: medians over `repeats` calls of each
 * (alternating) after a warm-up, each call waiting for its result (`dataSync`)
 * and freeing it. The
 * trace cost is measured on fresh `tfFunction`s (fewer repeats: tracing is slow).
 */
export function timeFunction<A extends tf.Tensor[]>(
  fn: (...args: A) => tf.Tensor,
  args: A,
  opts: { repeats?: number; traceRepeats?: number } = {},
): FunctionTiming {
  const repeats = opts.repeats ?? 30;
  const timeCall = (f: (...a: A) => tf.Tensor): number => {
    const t0 = performance.now();
    const r = f(...args);
    r.dataSync();
    const ms = performance.now() - t0;
    r.dispose();
    return ms;
  };
  // Eager and traced calls alternate, so that load from other processes hits both alike.
  const eager = (...a: A): tf.Tensor => tf.tidy(() => fn(...a));
  const traced = tfFunction(fn);
  const call = traced as (...a: A) => tf.Tensor;
  for (let i = 0; i < 3; i++) { // warm-up: kernels compiled, caches filled
    timeCall(eager);
    timeCall(call);
  }
  const eagerTimes: number[] = [];
  const tracedTimes: number[] = [];
  for (let i = 0; i < repeats; i++) {
    eagerTimes.push(timeCall(eager));
    tracedTimes.push(timeCall(call));
  }
  traced.dispose();
  const [eagerMs, tracedMs] = [median(eagerTimes), median(tracedTimes)];
  const firsts = Array.from({ length: opts.traceRepeats ?? 5 }, () => {
    const fresh = tfFunction(fn);
    const ms = timeCall(fresh as (...a: A) => tf.Tensor);
    fresh.dispose();
    return ms;
  });
  return { eagerMs, tracedMs, traceMs: Math.max(0, median(firsts) - tracedMs), repeats };
}
