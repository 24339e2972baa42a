/**
 * tfjs optimizers inside a traced function: `optimizer.applyGradients(grads)`
 * with graph-tensor gradients (what `tape.gradient` gives in a trace) and
 * `optimizer.minimize(f)` called while tracing add the update as ops of the
 * trace (TensorFlow's `ResourceApplyGradientDescent` / `ResourceApplyAdam`,
 * here spelled as reads, arithmetic and `Assign*VariableOp`s), so the update
 * runs at every call of the traced function, on the optimizer's own state.
 *
 * Supported: `tf.train.sgd` (`SGDOptimizer`), `tf.train.momentum`
 * (`MomentumOptimizer`) and `tf.train.adam` (`AdamOptimizer`), with the same
 * arithmetic as their eager `applyGradients`, so a traced step and an eager
 * step give the same numbers. Slot variables (Adam's moments, momentum's
 * accumulators) are created eagerly on the first trace, in the same slots the
 * eager path uses. Other optimizers raise a `GraphError` in a trace.
 *
 * Installing is a side effect of importing this module: each optimizer class's
 * `applyGradients` becomes an accessor that routes graph tensors here and
 * everything else to whatever method is installed (tfjs's own, or a fused
 * kernel that replaced it, which keeps working).
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import "./_traced_optimizers.ts";
 * import { tfFunction } from "./function.ts";
 * const w = tf.variable(tf.scalar(0));
 * const opt = tf.train.sgd(0.1);
 * const step = tfFunction(() => opt.minimize(() => w.sub(3).square().sum() as never));
 * for (let i = 0; i < 50; i++) step();
 * w.print(); // close to 3
 * ```
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import type { AdamState } from "./kernels/adam_update.ts";
import * as v1 from "./v1/mod.ts";
import {
  assignNow,
  assignVariable,
  hasSymbolic,
  inFunctionGraph,
} from "./v1/resource_variables.ts";

type Grads = tf.NamedTensorMap | { name: string; tensor: tf.Tensor }[];
type Slot = { originalName: string; variable: tf.Variable };

function entries(grads: Grads): [string, tf.Tensor | v1.SymbolicTensor | null][] {
  return Array.isArray(grads)
    ? grads.map((g) => [g.name, g.tensor as tf.Tensor | v1.SymbolicTensor | null])
    : Object.entries(grads) as [string, tf.Tensor | v1.SymbolicTensor | null][];
}

function registered(name: string): tf.Variable {
  const v = tf.engine().registeredVariables[name];
  if (!v) {
    throw new v1.GraphError(
      `applyGradients: no variable named "${name}" (gradients are keyed by variable name)`,
    );
  }
  return v;
}

/** A slot variable, created (eagerly, zeros like `value`) the first time. */
function slot(list: Slot[], i: number, name: string, value: tf.Variable): tf.Variable {
  list[i] ??= {
    originalName: name,
    // From the shape, not the variable: an op on a variable in a trace is a graph op.
    variable: tf.tidy(() => tf.zeros(value.shape, value.dtype).variable(false)),
  };
  return list[i].variable;
}

const read = (v: tf.Variable): v1.SymbolicTensor => v1.readVariable(v);

function applySGD(opt: tf.SGDOptimizer, grads: Grads): void {
  const lr = (opt as unknown as { learningRate: number }).learningRate;
  for (const [name, g] of entries(grads)) {
    if (g == null) continue;
    const v = registered(name);
    assignVariable(v, v1.add(v1.mul(-lr, g), read(v)));
  }
}

function applyMomentum(opt: tf.MomentumOptimizer, grads: Grads): void {
  const s = opt as unknown as {
    learningRate: number;
    momentum: number;
    useNesterov: boolean;
    accumulations: Slot[];
  };
  entries(grads).forEach(([name, g], i) => {
    const v = registered(name);
    const acc = slot(s.accumulations, i, `${name}/momentum`, v);
    if (g == null) return;
    const next = v1.add(v1.mul(read(acc), s.momentum), g);
    assignVariable(acc, next);
    const step = s.useNesterov ? v1.add(v1.mul(next, s.momentum), g) : next;
    assignVariable(v, v1.add(v1.mul(-s.learningRate, step), read(v)));
  });
}

/** What a `ResourceApplyAdam` op updates: the optimizer, the variable and its two moments. */
const adamTargets = new WeakMap<
  v1.Operation,
  { s: AdamState; x: tf.Variable; m: tf.Variable; u: tf.Variable }
>();

/**
 * One `ResourceApplyAdam` op per variable (TensorFlow's op of that name):
 * inputs the gradient and the reads of `beta1^t`, `beta2^t`; it updates the
 * variable and both moments when it runs, with the same arithmetic as the
 * eager step (the fused WASM kernel where the eager step uses it).
 */
function applyAdam(opt: tf.AdamOptimizer, grads: Grads): void {
  const s = opt as unknown as AdamState;
  const p1 = read(s.accBeta1);
  const p2 = read(s.accBeta2);
  entries(grads).forEach(([name, g], i) => {
    const x = registered(name);
    const m = slot(s.accumulatedFirstMoment, i, `${name}/m`, x);
    const u = slot(s.accumulatedSecondMoment, i, `${name}/v`, x);
    if (g == null) return;
    const graph = v1.getDefaultGraph();
    const grad = v1.toSymbolic(g as v1.TensorLike);
    const dtype = x.dtype as v1.DType;
    const op = graph.addOp("ResourceApplyAdam", [grad, p1, p2], { dtype, variable: x.name }, [{
      dtype,
      shape: [...x.shape],
    }], { name: `${x.name.replace(/[^\w/.-]/g, "_")}/ResourceApplyAdam` });
    op.variable = x;
    op.stateful = true;
    graph.statefulOps.push(op);
    for (const v of [m, u, x]) graph.sequence(op, "write", v);
    adamTargets.set(op, { s, x, m, u });
  });
  assignVariable(s.accBeta1, v1.mul(read(s.accBeta1), s.beta1));
  assignVariable(s.accBeta2, v1.mul(read(s.accBeta2), s.beta2));
}

v1.kernels.ResourceApplyAdam = ([g, p1, p2], op, ctx) => {
  const { s, m, u } = adamTargets.get(op)!;
  const x = ctx.variable(adamTargets.get(op)!.x); // a Variable argument: this call's
  const fused = tf.getBackend() === "wasm" && tf.getKernel("AdamUpdate", "wasm") !== undefined &&
    x.dtype === "float32" && g.dtype === "float32";
  let next: tf.Tensor[];
  if (fused) { // the same kernel and attributes as lib/kernels/adam_update.ts's eager step
    const attrs = {
      learningRate: s.learningRate,
      beta1: s.beta1,
      beta2: s.beta2,
      epsilon: s.epsilon,
      correction1: Math.fround(1 - p1.dataSync()[0]),
      correction2: Math.fround(1 - p2.dataSync()[0]),
    };
    next = tf.engine().runKernel("AdamUpdate", { x, m, v: u, g }, attrs as never) as tf.Tensor[];
  } else { // tfjs's AdamOptimizer.applyGradients, op for op
    const m1 = tf.add(tf.mul(m, s.beta1), tf.mul(g, 1 - s.beta1));
    const u1 = tf.add(tf.mul(u, s.beta2), tf.mul(tf.square(g), 1 - s.beta2));
    const mHat = tf.div(m1, tf.sub(1, p1));
    const uHat = tf.div(u1, tf.sub(1, p2));
    next = [
      tf.add(tf.mul(tf.div(mHat, tf.add(tf.sqrt(uHat), s.epsilon)), -s.learningRate), x),
      m1,
      u1,
    ];
  }
  assignNow(m, next[1]);
  assignNow(u, next[2]);
  assignNow(x, next[0]);
  return [tf.clone(x)];
};

/** The optimizer each `iterations` increment op counts for. */
const counted = new WeakMap<v1.Operation, tf.Optimizer>();

/**
 * TensorFlow's `apply_gradients` ends with `iterations.assign_add(1)`, an op of
 * the graph, so a traced training step advances `optimizer.iterations` at every
 * call. tfjs keeps the count as a number (`iterations`, set by
 * `incrementIterations`): this stateful op calls that when it runs.
 */
function incrementIterations(opt: tf.Optimizer): void {
  const g = v1.getDefaultGraph();
  const op = g.addOp("OptimizerIterationsAssignAdd", [], {}, [{ dtype: "int32", shape: [] }], {
    name: "iter/AssignAddVariableOp",
  });
  op.stateful = true;
  g.statefulOps.push(op);
  counted.set(op, opt);
}

v1.kernels.OptimizerIterationsAssignAdd = (_inputs, op) => {
  const opt = counted.get(op)! as unknown as { incrementIterations(): void; iterations: number };
  opt.incrementIterations();
  return [tf.scalar(opt.iterations, "int32")];
};

/** Builds the update ops of `opt` for `grads` in the current (function) graph. */
export function applyGradientsSymbolic(opt: tf.Optimizer, grads: Grads): void {
  // tfjs's `instanceof` on optimizers is duck-typed (any optimizer passes): use the class name.
  const kind = opt.getClassName();
  if (kind === "Adam") applyAdam(opt as tf.AdamOptimizer, grads);
  else if (kind === "Momentum") applyMomentum(opt as tf.MomentumOptimizer, grads);
  else if (kind === "SGD") applySGD(opt as tf.SGDOptimizer, grads);
  else {
    throw new v1.GraphError(
      `${opt.getClassName()}.applyGradients inside a traced function is not supported: use ` +
        `tf.train.sgd, tf.train.momentum or tf.train.adam there, or call it outside tfFunction`,
    );
  }
  incrementIterations(opt);
}

/**
 * `optimizer.minimize(f)` while tracing: `f()` builds the loss, its symbolic
 * gradients with respect to every trainable variable it reads (or `varList`)
 * are taken with `v1.gradients`, and the update is added. Returns the loss
 * when `returnCost`, else null (as tfjs's `minimize`).
 */
export function minimizeSymbolic(
  opt: tf.Optimizer,
  f: () => unknown,
  returnCost: boolean,
  varList?: tf.Variable[],
): v1.SymbolicTensor | null {
  const g = v1.getDefaultGraph();
  const start = g.operations.length;
  const loss = f();
  if (!(loss instanceof v1.SymbolicTensor)) {
    throw new v1.GraphError(
      "minimize(f) in a traced function: f must return the loss as a graph tensor",
    );
  }
  const reads = g.operations.slice(start).filter((op) =>
    op.type === "ReadVariableOp" && op.variable !== undefined &&
    (varList ? varList.includes(op.variable) : op.variable.trainable)
  );
  const vars = [...new Set(reads.map((op) => op.variable!))];
  const xs = reads.map((op) => op.output);
  const dxs = v1.gradients(loss, xs);
  const named: tf.NamedTensorMap = {};
  for (const v of vars) {
    const parts = dxs.filter((d, i) =>
      d !== null && reads[i].variable === v
    ) as v1.SymbolicTensor[];
    if (parts.length > 0) named[v.name] = v1.addN(parts) as unknown as tf.Tensor;
  }
  if (Object.keys(named).length === 0) {
    throw new v1.GraphError(
      "minimize(f) in a traced function: the loss depends on none of the trainable variables",
    );
  }
  applyGradientsSymbolic(opt, named);
  return returnCost ? loss : null;
}

// ---------------------------------------------------------------- install

type Apply = (this: tf.Optimizer, grads: Grads) => void;
const wrappers = new WeakMap<Apply, Apply>();
const unwrapped = new WeakMap<Apply, Apply>();

/** Wraps `inner` so that graph-tensor gradients (or a trace) take the symbolic path. */
function wrap(inner: Apply): Apply {
  const known = wrappers.get(inner);
  if (known) return known;
  const w: Apply = function (this: tf.Optimizer, grads: Grads): void {
    if (inFunctionGraph() || hasSymbolic(grads)) return applyGradientsSymbolic(this, grads);
    return inner.call(this, grads);
  };
  wrappers.set(inner, w);
  unwrapped.set(w, inner);
  return w;
}

for (const cls of [tf.SGDOptimizer, tf.MomentumOptimizer, tf.AdamOptimizer]) {
  const proto = cls.prototype as unknown as { applyGradients: Apply };
  let inner = proto.applyGradients;
  Object.defineProperty(proto, "applyGradients", {
    configurable: true,
    get: () => wrap(inner),
    set: (f: Apply) => {
      inner = unwrapped.get(f) ?? f;
    },
  });
}

const eagerMinimize = tf.Optimizer.prototype.minimize;
tf.Optimizer.prototype.minimize = function (
  this: tf.Optimizer,
  f: () => tf.Scalar,
  returnCost = false,
  varList?: tf.Variable[],
): tf.Scalar | null {
  if (inFunctionGraph()) {
    return minimizeSymbolic(this, f, returnCost, varList) as unknown as tf.Scalar | null;
  }
  return eagerMinimize.call(this, f, returnCost, varList);
};
