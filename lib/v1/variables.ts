/**
 * Graph variables (TF1's `tf.Variable`): a `VariableV2` op whose value lives in
 * the session, set by its `initializer` (an `Assign` of the initial value) and
 * changed by `assign`, `assignAdd`, `assignSub` ops when they run.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { Graph } from "./graph.ts";
 * import { Session } from "./session.ts";
 * import { globalVariablesInitializer, Variable } from "./variables.ts";
 * const g = new Graph();
 * const { w, inc } = g.asDefault(() => {
 *   const w = new Variable(tf.zeros([2]), { name: "w" });
 *   return { w, inc: w.assignAdd([1, 1]) };
 * });
 * const sess = new Session(g);
 * sess.run(globalVariablesInitializer(g));
 * sess.run(inc);
 * console.log(sess.run(w)); // [1, 1]
 * sess.close();
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
  type Graph,
  type Operation,
  ShapeError,
  SymbolicTensor,
  type TensorLike,
} from "./graph.ts";
import { constant, group, kernels, toSymbolic } from "./ops.ts";
import { sourceOp } from "./session.ts";

/** Options for a graph {@linkcode Variable}. */
export interface VariableOptions {
  name?: string;
  /** Whether optimizers update it (default true). */
  trainable?: boolean;
  dtype?: DType;
}

/** A graph variable: use it like any tensor; its value persists across `Session.run` calls. */
export class Variable extends SymbolicTensor {
  /** The op that sets the initial value. */
  readonly initializer: Operation;
  /** The initial value (a `Const`). */
  readonly initialValue: SymbolicTensor;
  readonly trainable: boolean;

  constructor(
    initialValue: tf.Tensor | number | number[] | number[][],
    opts: VariableOptions = {},
  ) {
    const g = getDefaultGraph();
    const value = initialValue instanceof tf.Tensor
      ? initialValue
      : tf.tensor(initialValue, undefined, opts.dtype ?? "float32");
    const dtype = value.dtype as DType;
    const spec = { dtype, shape: value.shape };
    const op = g.addOp("VariableV2", [], { dtype, shape: value.shape }, [spec], {
      name: opts.name ?? "Variable",
    });
    super(op, 0, dtype, value.shape);
    op.outputs[0] = this; // the variable object is the op's output tensor
    this.initialValue = g.nameScope(`${op.name}/`, () => constant(value, dtype, "initial_value"));
    if (value !== initialValue) value.dispose();
    this.initializer = assignOp("Assign", this, this.initialValue, g);
    this.trainable = opts.trainable ?? true;
    g.variables.push(this);
    if (this.trainable) g.trainableVariables.push(this);
  }

  /** An op that sets the variable to `value` when run; its output is the new value. */
  assign(value: TensorLike): SymbolicTensor {
    return assignOp("Assign", this, value).output;
  }
  /** An op that adds `value` to the variable when run. */
  assignAdd(value: TensorLike): SymbolicTensor {
    return assignOp("AssignAdd", this, value).output;
  }
  /** An op that subtracts `value` from the variable when run. */
  assignSub(value: TensorLike): SymbolicTensor {
    return assignOp("AssignSub", this, value).output;
  }
}

function assignOp(type: string, v: Variable, value: TensorLike, g?: Graph): Operation {
  const build = (): Operation => {
    const sv = toSymbolic(value, v.dtype);
    if (sv.dtype !== v.dtype) {
      throw new DTypeError(
        `${type} to ${v.op.name}: the value ${sv.toString()} is ${sv.dtype}, the variable ${v.dtype} ` +
          `(TensorFlow does not cast implicitly: use v1.cast(value, "${v.dtype}"))`,
      );
    }
    const ok = sv.unknownRank ||
      sv.rank === v.rank && sv.shape.every((d, i) => d === null || d === v.shape[i]);
    if (!ok) {
      throw new ShapeError(
        `${type} to ${v.op.name}: value shape ${formatShape(sv.shape)} does not match the ` +
          `variable's shape ${formatShape(v.shape)}`,
      );
    }
    const g = getDefaultGraph().isWithin(v.graph) ? getDefaultGraph() : v.graph;
    const op = g.addOp(type, [v, sv], {}, [{ dtype: v.dtype, shape: [...v.shape] }], {
      name: `${v.op.name}/${type}`,
    });
    op.stateful = true;
    op.graph.statefulOps.push(op);
    op.graph.sequence(op, "write", v.op);
    return op;
  };
  return g ? g.asDefault(build) : build();
}

/** One op that runs every variable's initializer (`tf.global_variables_initializer()`). */
export function globalVariablesInitializer(g: Graph = getDefaultGraph()): Operation {
  return g.asDefault(() => group(g.variables.map((v) => (v as Variable).initializer), "init"));
}

// A variable's value, or undefined before it is initialized: `execute` then
// throws FailedPreconditionError for any op but `Assign` that reads it.
kernels.VariableV2 = (_, op, ctx) => [ctx.variables.get(op)!];
kernels.Assign = ([, value], op, ctx) => [ctx.assign(sourceOp(op.inputs[0]), value)];
kernels.AssignAdd = ([cur, value], op, ctx) => [
  ctx.assign(sourceOp(op.inputs[0]), tf.add(cur, value)),
];
kernels.AssignSub = ([cur, value], op, ctx) => [
  ctx.assign(sourceOp(op.inputs[0]), tf.sub(cur, value)),
];
