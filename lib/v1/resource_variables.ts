/**
 * Eager `tf.Variable`s inside graphs: TF2's resource-variable ops. A traced
 * function reads a captured variable with `ReadVariableOp` (in `ops.ts`) and
 * changes it with the ops here, which run at every call of the graph:
 *
 * - `AssignVariableOp` (`v.assign(x)`), `AssignAddVariableOp` and
 *   `AssignSubVariableOp` (`assignAdd(v, x)` / `assignSub(v, x)` from
 *   `lib/variables.ts`);
 * - each is ordered by the graph's automatic control dependencies
 *   ({@linkcode Graph.sequence}): side effects run in program order, and a
 *   read after a write sees the write, as in TensorFlow 2.
 *
 * While a function is being traced (the default graph is a function graph),
 * or whenever the value is a graph tensor, `tf.Variable.prototype.assign`
 * builds an `AssignVariableOp` instead of assigning now: this module patches
 * it when first imported (the eager behaviour is unchanged). Likewise, while
 * tracing, the tensor methods that graph tensors have (`v.add(1)`,
 * `w.square()`, `c.mul(x)`) called on a `tf.Variable` read it in the graph
 * (instead of computing now with the value it has at trace time), and called
 * on an eager tensor with a graph-tensor argument make it a constant of the graph.
 * tfjs's functional ops (`tf.mul(x, w)`, `tf.add(w, 1)`, `x.mul(w)` with an
 * eager `x`) on graph tensors or, while tracing, on variables are graph ops
 * too, or a `GraphError` for kernels without a graph form (`_kernel_dispatch.ts`).
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { Graph } from "./graph.ts";
 * import { assignVariable } from "./resource_variables.ts";
 * import { execute, RunContext } from "./session.ts";
 * const v = tf.variable(tf.scalar(1));
 * const g = new Graph();
 * g.autoControlDeps = true;
 * const op = g.asDefault(() => assignVariable(v, 2, "AssignAddVariableOp"));
 * tf.tidy(() => execute([op], new Map(), new RunContext(new Map())));
 * v.print(); // 3
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
  GraphError,
  type Operation,
  ShapeError,
  SymbolicTensor,
  type TensorLike,
} from "./graph.ts";
import { kernels, readVariable, toSymbolic } from "./ops.ts";
import "./_kernel_dispatch.ts"; // tf.mul(x, w) and the like on graph tensors and variables

/** The resource-variable update op types. */
export type AssignVariableType =
  | "AssignVariableOp"
  | "AssignAddVariableOp"
  | "AssignSubVariableOp";

/** True while ops go into a traced function's graph (or one of its branches). */
export function inFunctionGraph(): boolean {
  return getDefaultGraph().autoControlDeps;
}

/** True when `x` holds a graph tensor (a tensor, or a list/record with one inside). */
export function hasSymbolic(x: unknown, depth = 0): boolean {
  if (x instanceof SymbolicTensor) return true;
  if (depth > 8 || x === null || typeof x !== "object" || x instanceof tf.Tensor) return false;
  if (Array.isArray(x)) return x.some((v) => hasSymbolic(v, depth + 1));
  const proto = Object.getPrototypeOf(x);
  if (proto !== Object.prototype && proto !== null) return false;
  return Object.values(x).some((v) => hasSymbolic(v, depth + 1));
}

/** A name usable as an op name for a variable (tfjs names may contain anything). */
export function variableOpName(v: tf.Variable): string {
  return v.name.replace(/[^\w/.-]/g, "_");
}

/**
 * Adds an op that sets (`AssignVariableOp`), increments or decrements the
 * eager variable `v` by `value` each time it runs; returns the op (its output
 * is the variable's new value). Checks dtype and shape now, as TensorFlow
 * does when it builds the op: a value of another dtype is a
 * {@linkcode DTypeError}, of an incompatible shape a {@linkcode ShapeError}.
 */
export function assignVariable(
  v: tf.Variable,
  value: TensorLike,
  type: AssignVariableType = "AssignVariableOp",
): Operation {
  if (!(v instanceof tf.Variable)) {
    throw new GraphError(`${type}: the target must be a tf.Variable, got ${String(v)}`);
  }
  const dtype = v.dtype as DType;
  const sv = value instanceof SymbolicTensor ? value : toSymbolic(value, dtype);
  if (sv.dtype !== dtype) {
    throw new DTypeError(
      `${type} to variable "${v.name}": the value ${sv.toString()} is ${sv.dtype}, the variable ${dtype} ` +
        `(TensorFlow does not cast implicitly: cast the value first)`,
    );
  }
  const fits = sv.unknownRank ||
    (sv.rank === v.rank && sv.shape.every((d, i) => d === null || d === v.shape[i]));
  if (!fits) {
    throw new ShapeError(
      `${type} to variable "${v.name}": value shape ${formatShape(sv.shape)} is not the ` +
        `variable's shape ${formatShape(v.shape)} (shapes must be equal)`,
    );
  }
  const g = getDefaultGraph().isWithin(sv.graph) ? getDefaultGraph() : sv.graph;
  const op = g.addOp(type, [sv], { dtype, variable: v.name }, [{ dtype, shape: [...v.shape] }], {
    name: `${variableOpName(v)}/${type}`,
  });
  op.variable = v;
  op.stateful = true;
  g.statefulOps.push(op);
  g.sequence(op, "write", v);
  return op;
}

// tfjs's own assign, kept before the patch below: the kernels call it.
const eagerAssign = tf.Variable.prototype.assign;

/** Assigns `value` to `v` now, eagerly (tfjs's own `assign`; for kernels of update ops). */
export function assignNow(v: tf.Variable, value: tf.Tensor): void {
  eagerAssign.call(v, value);
}

function update(v: tf.Variable, op: Operation, next: tf.Tensor): tf.Tensor[] {
  if (!tf.util.arraysEqual(next.shape, v.shape)) {
    throw new ShapeError(
      `${op.name}: cannot update variable "${v.name}" with shape [${v.shape}] using a tensor ` +
        `with shape [${next.shape}]: shapes must be equal`,
    );
  }
  eagerAssign.call(v, next);
  return [tf.clone(v)];
}

// A variable passed as an argument of a traced function: the one of this call (`ctx.variable`).
kernels.AssignVariableOp = ([value], op, ctx) => update(ctx.variable(op.variable!), op, value);
kernels.AssignAddVariableOp = ([value], op, ctx) => {
  const v = ctx.variable(op.variable!);
  return update(v, op, tf.add(v, value));
};
kernels.AssignSubVariableOp = ([value], op, ctx) => {
  const v = ctx.variable(op.variable!);
  return update(v, op, tf.sub(v, value));
};

// In a traced function (or with a graph tensor), `v.assign(x)` is an op of the graph.
tf.Variable.prototype.assign = function (this: tf.Variable, value: tf.Tensor): void {
  if (value instanceof SymbolicTensor || inFunctionGraph()) {
    return assignVariable(this, value as unknown as TensorLike).output as unknown as void;
  }
  return eagerAssign.call(this, value);
};

// While tracing, tensor methods on variables build graph ops (`w.square()` in a traced
// function reads w at every call); on any eager tensor given a graph-tensor argument
// (`c.mul(x)`), they build the op in that tensor's graph with `c` as a constant.
for (const method of Object.getOwnPropertyNames(SymbolicTensor.prototype)) {
  const own = Object.getOwnPropertyDescriptor(SymbolicTensor.prototype, method);
  const eager = Object.getOwnPropertyDescriptor(tf.Tensor.prototype, method)?.value;
  if (method === "constructor" || method === "toString") continue;
  if (typeof own?.value !== "function" || typeof eager !== "function") continue;
  const symbolic = (x: SymbolicTensor, args: unknown[]): unknown =>
    (x as unknown as Record<string, (...a: unknown[]) => unknown>)[method](...args);
  Object.defineProperty(tf.Tensor.prototype, method, {
    configurable: true,
    writable: true,
    value: function (this: tf.Tensor, ...args: unknown[]): unknown {
      const arg = args.find((a): a is SymbolicTensor => a instanceof SymbolicTensor);
      if (arg) { // cannot run eagerly: build it in the graph of the graph-tensor argument
        const d = getDefaultGraph();
        const home = d.isWithin(arg.graph) ? d : arg.graph;
        return home.asDefault(() => symbolic(toSymbolic(this as TensorLike), args));
      }
      if (this instanceof tf.Variable && inFunctionGraph()) {
        return symbolic(readVariable(this), args);
      }
      return (eager as (...a: unknown[]) => unknown).apply(this, args);
    },
  });
}
