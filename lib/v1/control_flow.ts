/**
 * Control flow as graph ops: `cond` and `whileLoop` build their branches and
 * bodies as sub-graphs (child {@linkcode Graph}s that capture the outer tensors
 * they use) inside one `If` or `While` op. At run time the `If` kernel runs only
 * the branch `pred` picks, and the `While` kernel runs the body until the
 * condition is false — the other branch's ops never execute.
 *
 * This is what TensorFlow's AutoGraph turns a Python `if`/`while` on a tensor into.
 * As TF2 does, the op is a `StatelessIf` / `StatelessWhile` when its branches
 * (condition and body) hold no stateful op (no variable read or write, print,
 * random draw; see {@linkcode hasStatefulOp}), and `If` / `While` otherwise;
 * both names have the same kernels and gradients.
 *
 * Both are differentiable by `v1.gradients`, as in TensorFlow: the gradient of
 * an `If` or `While` op is one `IfGrad` / `WhileGrad` op whose kernel re-runs
 * the taken branch or the loop on a {@linkcode GradientTape} (the iterations
 * are recorded at run time, however many the data asks for) and returns the
 * gradients of the op's float inputs: loop variables and captured tensors.
 * A failed build (mismatched branches, a body changing a dtype) frees the
 * sub-graphs it made; `maximumIterations` must be a whole number >= 0.
 *
 * @example
 * ```ts
 * import { Graph } from "./graph.ts";
 * import { add, constant, less, mul } from "./ops.ts";
 * import { cond, whileLoop } from "./control_flow.ts";
 * import { Session } from "./session.ts";
 * const g = new Graph();
 * const [i, total] = g.asDefault(() =>
 *   whileLoop((i, _s) => less(i, 5), (i, s) => [add(i, 1), add(s, i)], [constant(0), constant(0)])
 * );
 * console.log(new Session(g).run([i, total])); // [5, 10]
 * ```
 *
 * @example The gradient of a loop: x^(2^3) by repeated squaring gives 8x^7
 * ```ts
 * import { Graph } from "./graph.ts";
 * import { constant, less, add, mul, placeholder } from "./ops.ts";
 * import { whileLoop } from "./control_flow.ts";
 * import { gradients } from "./gradients.ts";
 * import { Session } from "./session.ts";
 * const g = new Graph();
 * const { x, dx } = g.asDefault(() => {
 *   const x = placeholder("float32", [], "x");
 *   const [, v] = whileLoop((i) => less(i, 3), (i, v) => [add(i, 1), mul(v, v)], [constant(0, "int32"), x]);
 *   return { x, dx: gradients(v, x)[0]! };
 * });
 * console.log(new Session(g).run(dx, new Map([[x, 1]]))); // 8
 * ```
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import {
  type DType,
  DTypeError,
  formatShape,
  getDefaultGraph,
  Graph,
  GraphError,
  type Operation,
  type Shape,
  ShapeError,
  SymbolicTensor,
  type TensorLike,
} from "./graph.ts";
import { kernels, placeholder, readVariable, toSymbolic } from "./ops.ts";
import { execute, type RunContext } from "./session.ts";
import { gradFns } from "./gradients.ts";
import { drawIn, DRAWS, redrawError } from "./random_ops.ts";
import { GradientTape } from "../tape.ts";

/**
 * Builds `fn` into a child graph of `outer`; returns its outputs (captured into
 * it). If `fn` throws, what the partial graph holds is freed.
 */
function buildFunctionGraph(
  outer: Graph,
  args: SymbolicTensor[],
  fn: (...xs: SymbolicTensor[]) => TensorLike | TensorLike[],
): Graph {
  const g = new Graph(outer);
  try {
    g.asDefault(() => {
      g.inputs = args.map((a, i) => placeholder(a.dtype, a.shape, `arg${i}`));
      const out = fn(...g.inputs);
      g.outputs = (Array.isArray(out) ? out : [out]).map((t) => g.capture(toSymbolic(t)));
    });
    g.finished = "a cond branch or a while_loop body";
  } catch (e) {
    g.dispose();
    throw e;
  }
  return g;
}

/** Runs `check`; if it throws, frees the sub-graphs first (a failed build leaks nothing). */
function disposingOnError<T>(graphs: Graph[], check: () => T): T {
  try {
    return check();
  } catch (e) {
    for (const g of graphs) g.dispose();
    throw e;
  }
}

/** The tensors of enclosing graphs that any of `subgraphs` captured (op inputs, in order). */
function capturedInputs(subgraphs: Graph[]): SymbolicTensor[] {
  return [...new Set(subgraphs.flatMap((g) => [...g.captures.keys()]))];
}

/**
 * The eager `tf.Variable`s the sub-graphs of each control-flow op read: read
 * again in the enclosing graph as the op's last inputs, as TF2 makes a
 * variable's handle an input of `If`/`While`, so that gradients reach them
 * (a gradient re-runs the op with the reads giving those inputs' values).
 */
const variableReads = new WeakMap<Operation, tf.Variable[]>();

/** Reads, in `outer`, of the variables `subgraphs` read (to append to the op's inputs). */
function readsOf(
  outer: Graph,
  subgraphs: Graph[],
): { vars: tf.Variable[]; reads: SymbolicTensor[] } {
  const vars = [
    ...new Set(
      subgraphs.flatMap((g) =>
        g.operations.filter((o) => o.type === "ReadVariableOp").map((o) => o.variable!)
      ),
    ),
  ];
  return { vars, reads: outer.asDefault(() => vars.map((v) => readVariable(v))) };
}

/** Feeds for a sub-graph's capture placeholders, from the values of its op's inputs `opInputs`. */
function captureFeeds(
  g: Graph,
  opInputs: readonly SymbolicTensor[],
  values: tf.Tensor[],
): Map<SymbolicTensor, tf.Tensor> {
  const feeds = new Map<SymbolicTensor, tf.Tensor>();
  for (const inner of g.captures.values()) {
    feeds.set(inner, values[opInputs.indexOf(inner.op.captured!)]);
  }
  return feeds;
}

function mergeShapes(a: Shape, b: Shape): Shape | null {
  if (a.length !== b.length) return null;
  return a.map((d, i) => d === b[i] ? d : null);
}

function outerGraph(ts: SymbolicTensor[]): Graph {
  const d = getDefaultGraph();
  return ts.every((t) => d.isWithin(t.graph)) ? d : ts[0].graph;
}

/**
 * Whether `graphs` hold an op TensorFlow counts as stateful (`op._is_stateful`):
 * a side effect (an assignment, a print, an optimizer update), a random draw,
 * or a variable read (TF marks every op on a resource stateful), also inside
 * nested branches, loops and calls. TF's `cond_v2`/`while_v2` then emit
 * `If`/`While`, otherwise `StatelessIf`/`StatelessWhile`.
 */
export function hasStatefulOp(graphs: Graph[]): boolean {
  return graphs.some((g) =>
    g.operations.some((o) =>
      o.stateful || o.variable !== undefined || DRAWS.includes(o.type) ||
      o.type === "VariableV2" || o.type === "If" || o.type === "While" ||
      hasStatefulOp([...(o.callee ? [o.callee] : [])])
    )
  );
}

function markStateful(op: Operation, subgraphs: Graph[]): void {
  if (subgraphs.some((g) => g.statefulOps.length > 0)) {
    op.stateful = true;
    op.graph.statefulOps.push(op);
  }
}

/**
 * The outputs' dtypes and merged shapes of two branches (TF's most specific compatible
 * shape: differing sizes unknown, differing ranks an unknown rank), or the error TensorFlow
 * gives.
 */
function branchSpecs(
  name: string,
  thenG: Graph,
  elseG: Graph,
): { dtype: DType; shape: Shape; unknownRank?: boolean }[] {
  const [a, b] = [thenG.outputs, elseG.outputs];
  if (a.length !== b.length) {
    throw new GraphError(
      `${name}: the true branch gives ${a.length} tensors, the false ${b.length}`,
    );
  }
  return a.map((t, i) => {
    if (t.dtype !== b[i].dtype) {
      throw new DTypeError(
        `${name}: output ${i} is ${t.dtype} in one branch, ${b[i].dtype} in the other`,
      );
    }
    const shape = t.unknownRank || b[i].unknownRank ? null : mergeShapes(t.shape, b[i].shape);
    return shape ? { dtype: t.dtype, shape } : { dtype: t.dtype, shape: [], unknownRank: true };
  });
}

/**
 * `trueFn()` when the boolean scalar `pred` is true at run time, else
 * `falseFn()` (`tf.cond`). Both branches must give the same number of tensors
 * with the same dtypes. Returns a tensor, or a list if the branches return lists.
 */
export function cond<T extends TensorLike | TensorLike[]>(
  pred: TensorLike,
  trueFn: () => T,
  falseFn: () => T,
  name = "cond",
): T extends unknown[] ? SymbolicTensor[] : SymbolicTensor {
  const p = toSymbolic(pred);
  if (p.dtype !== "bool" || p.rank !== 0) {
    throw new DTypeError(
      `cond: pred ${p.toString()} must be a bool scalar (e.g. v1.greater(x, 0))`,
    );
  }
  const outer = outerGraph([p]);
  let single = false;
  const branch = (fn: () => T) =>
    buildFunctionGraph(outer, [], () => {
      const r = fn();
      single = !Array.isArray(r);
      return r;
    });
  const thenG = branch(trueFn);
  const elseG = disposingOnError([thenG], () => branch(falseFn));
  const specs = disposingOnError([thenG, elseG], () => branchSpecs(name, thenG, elseG));
  const attrs = {
    then_branch: `${name}_true`,
    else_branch: `${name}_false`,
    Tout: specs.map((s) => s.dtype),
  };
  const { vars, reads } = readsOf(outer, [thenG, elseG]);
  const inputs = [p, ...capturedInputs([thenG, elseG]), ...reads];
  const type = hasStatefulOp([thenG, elseG]) ? "If" : "StatelessIf";
  const op = outer.addOp(type, inputs, attrs, specs, { name });
  op.subgraphs = { then: thenG, else: elseG };
  variableReads.set(op, vars);
  markStateful(op, [thenG, elseG]);
  return (single ? op.outputs[0] : op.outputs) as T extends unknown[] ? SymbolicTensor[]
    : SymbolicTensor;
}

kernels.If = kernels.StatelessIf = ([pred, ...rest], op, ctx: RunContext) => {
  const taken = pred.dataSync()[0] ? "then" : "else";
  const g = op.subgraphs![taken];
  const outs = execute(
    [...g.outputs, ...g.statefulOps],
    captureFeeds(g, op.inputs, [pred, ...rest]),
    ctx,
    `${op.name}/${taken}/`,
  );
  return outs.slice(0, g.outputs.length) as tf.Tensor[];
};

/** Options for {@linkcode whileLoop}. */
export interface WhileOptions {
  /** Stop after this many iterations even if the condition still holds (a whole number >= 0). */
  maximumIterations?: number;
  name?: string;
}

/**
 * Repeats `loopVars = bodyFn(...loopVars)` while `condFn(...loopVars)` is true
 * (`tf.while_loop`); returns the final loop variables. The body must keep each
 * variable's dtype and a compatible shape.
 */
export function whileLoop(
  condFn: (...vars: SymbolicTensor[]) => TensorLike,
  bodyFn: (...vars: SymbolicTensor[]) => TensorLike | TensorLike[],
  loopVars: TensorLike[],
  opts: WhileOptions = {},
): SymbolicTensor[] {
  const name = opts.name ?? "while";
  const max = opts.maximumIterations;
  if (max !== undefined && !(Number.isInteger(max) && max >= 0)) {
    throw new GraphError(
      `${name}: maximumIterations is ${max}; it must be a whole number >= 0 (as in ` +
        "tf.while_loop), or left out for no limit",
    );
  }
  const vars = loopVars.map((v) => toSymbolic(v));
  const outer = outerGraph(vars);
  const condG = buildFunctionGraph(outer, vars, condFn);
  disposingOnError([condG], () => {
    const c = condG.outputs[0];
    if (condG.outputs.length !== 1 || c.dtype !== "bool" || c.rank !== 0) {
      throw new DTypeError(
        `${name}: the condition must return one bool scalar, got ${c.toString()}`,
      );
    }
  });
  const bodyG = disposingOnError([condG], () => buildFunctionGraph(outer, vars, bodyFn));
  disposingOnError([condG, bodyG], () => checkBody(name, vars, bodyG));
  const attrs = {
    cond: `${name}_cond`,
    body: `${name}_body`,
    T: vars.map((v) => v.dtype as DType),
    maximum_iterations: max ?? -1,
  };
  const specs = vars.map((v) => ({ dtype: v.dtype, shape: [...v.shape] }));
  const { vars: read, reads } = readsOf(outer, [condG, bodyG]);
  const inputs = [...vars, ...capturedInputs([condG, bodyG]), ...reads];
  const type = hasStatefulOp([condG, bodyG]) ? "While" : "StatelessWhile";
  const op = outer.addOp(type, inputs, attrs, specs, { name });
  op.subgraphs = { cond: condG, body: bodyG };
  variableReads.set(op, read);
  markStateful(op, [condG, bodyG]);
  return op.outputs;
}

/** The body must give one tensor per loop variable, keeping its dtype and a compatible shape. */
function checkBody(name: string, vars: SymbolicTensor[], bodyG: Graph): void {
  if (bodyG.outputs.length !== vars.length) {
    throw new GraphError(
      `${name}: the body returns ${bodyG.outputs.length} tensors for ${vars.length} loop variables`,
    );
  }
  bodyG.outputs.forEach((t, i) => {
    const v = vars[i];
    if (t.dtype !== v.dtype) {
      throw new DTypeError(
        `${name}: loop variable ${i} changes dtype from ${v.dtype} to ${t.dtype}`,
      );
    }
    const ok = t.rank === v.rank &&
      t.shape.every((d, j) => d === null || v.shape[j] === null || d === v.shape[j]);
    if (!ok) {
      throw new ShapeError(
        `${name}: loop variable ${i} changes shape from ${formatShape(v.shape)} to ${
          formatShape(t.shape)
        }`,
      );
    }
  });
}

/**
 * Runs a `While` op's loop on `inputs` (the values of `opInputs`: loop
 * variables, then captured tensors) and returns the final loop variables.
 */
function runWhile(
  subgraphs: Record<string, Graph>,
  opInputs: readonly SymbolicTensor[],
  inputs: tf.Tensor[],
  numVars: number,
  max: number,
  ctx: RunContext,
  prefix: string,
): tf.Tensor[] {
  const { cond: condG, body: bodyG } = subgraphs;
  const run = (g: Graph, vals: tf.Tensor[], targets: SymbolicTensor[], kind: string) => {
    const feeds = captureFeeds(g, opInputs, inputs);
    g.inputs.forEach((p, j) => feeds.set(p, vals[j]));
    return execute([...targets, ...g.statefulOps], feeds, ctx, `${prefix}/${kind}/`)
      .slice(0, targets.length) as tf.Tensor[];
  };
  let vals = inputs.slice(0, numVars);
  for (let iter = 0; max < 0 || iter < max; iter++) {
    const current = vals;
    let done = false;
    const next: tf.Tensor[] = tf.tidy(() => {
      const [c] = run(condG, current, condG.outputs, "cond");
      done = !c.dataSync()[0];
      return done ? [] : run(bodyG, current, bodyG.outputs, "body").map((t) => t.clone());
    });
    if (done) break;
    if (iter > 0) current.forEach((t) => t.dispose()); // earlier iterations' results are ours
    vals = next;
  }
  return vals;
}

kernels.While = kernels.StatelessWhile = (inputs, op, ctx: RunContext) =>
  runWhile(
    op.subgraphs!,
    op.inputs,
    inputs,
    op.outputs.length,
    op.attrs.maximum_iterations as number,
    ctx,
    op.name,
  );

// ---------------------------------------------------------------- gradients

/**
 * Gradients through a sub-graph computation at run time: runs `forward` on
 * `values` (with the inputs `wrt` replaced by watched copies) on a
 * {@linkcode GradientTape}, then takes the gradients of its float outputs,
 * seeded with `dys`, with respect to those inputs (zeros where unconnected).
 */
export function gradThrough(
  values: tf.Tensor[],
  wrt: number[],
  dys: tf.Tensor[],
  forward: (vals: tf.Tensor[]) => tf.Tensor[],
): tf.Tensor[] {
  const xs = wrt.map((i) => values[i].clone());
  const vals = [...values];
  wrt.forEach((i, k) => vals[i] = xs[k]);
  const tape = new GradientTape({ watchAccessedVariables: false });
  try {
    tape.watch(xs);
    const outs = tape.record(() => forward(vals));
    const used = outs.flatMap((o, i) => o.dtype === "float32" ? [i] : []);
    if (used.length === 0) return xs.map((x) => tf.zerosLike(x));
    const grads = tape.gradient(used.map((i) => outs[i]), xs, {
      unconnectedGradients: "zero",
      outputGradients: used.map((i) => dys[i]),
    });
    // `outs` may be feeds or graph constants: the run's tidy frees what is temporary.
    return grads;
  } finally {
    tape.dispose();
    tf.dispose(xs);
  }
}

/** The indices of an op's float inputs: the ones that get gradients. */
function floatInputs(op: Operation): number[] {
  return op.inputs.flatMap((t, i) => t.dtype === "float32" ? [i] : []);
}

/**
 * Adds the gradient op of a control-flow op: its inputs are the forward op's
 * inputs and the gradients of its outputs, its outputs the gradients of the
 * forward op's float inputs; its kernel re-runs the forward computation on a
 * tape (the loop iterations are recorded at run time) and differentiates it.
 */
function controlFlowGrad(op: Operation, dys: SymbolicTensor[]): (SymbolicTensor | null)[] {
  const draw = Object.values(op.subgraphs ?? {}).map(drawIn).find((d) => d);
  if (draw) throw redrawError(`${op.name} (${op.type})`, draw);
  const wrt = floatInputs(op);
  const specs = wrt.map((i) => ({ dtype: "float32" as DType, shape: [...op.inputs[i].shape] }));
  const attrs = { ...op.attrs, num_inputs: op.inputs.length, wrt };
  const gradOp = op.graph.addOp(`${op.type}Grad`, [...op.inputs, ...dys], attrs, specs, {
    name: `${op.type}Grad`,
  });
  gradOp.subgraphs = op.subgraphs;
  variableReads.set(gradOp, variableReads.get(op) ?? []);
  return op.inputs.map((_, i) => {
    const k = wrt.indexOf(i);
    return k < 0 ? null : gradOp.outputs[k];
  });
}

gradFns.If = gradFns.StatelessIf = controlFlowGrad;
gradFns.While = gradFns.StatelessWhile = controlFlowGrad;

/** Runs `forward` with the reads of `op`'s variables giving the values of its read inputs. */
function readingInputs<T>(op: Operation, vals: tf.Tensor[], ctx: RunContext, forward: () => T): T {
  const vars = variableReads.get(op) ?? [];
  return ctx.withFedReads(vars, vals.slice(vals.length - vars.length), forward);
}

kernels.IfGrad = kernels.StatelessIfGrad = (inputs, op, ctx: RunContext) => {
  const n = op.attrs.num_inputs as number;
  const opInputs = op.inputs.slice(0, n);
  const values = inputs.slice(0, n);
  const taken = values[0].dataSync()[0] ? "then" : "else";
  const g = op.subgraphs![taken];
  return gradThrough(
    values,
    op.attrs.wrt as number[],
    inputs.slice(n),
    (vals) =>
      readingInputs(op, vals, ctx, () =>
        execute(
          g.outputs,
          captureFeeds(g, opInputs, vals),
          ctx,
          `${op.name}/${taken}/`,
        ) as tf.Tensor[]),
  );
};

kernels.WhileGrad = kernels.StatelessWhileGrad = (inputs, op, ctx: RunContext) => {
  const n = op.attrs.num_inputs as number;
  const opInputs = op.inputs.slice(0, n);
  const numVars = inputs.length - n;
  return gradThrough(
    inputs.slice(0, n),
    op.attrs.wrt as number[],
    inputs.slice(n),
    (vals) =>
      readingInputs(op, vals, ctx, () =>
        runWhile(
          op.subgraphs!,
          opInputs,
          vals,
          numVars,
          op.attrs.maximum_iterations as number,
          ctx,
          op.name,
        )),
  );
};
