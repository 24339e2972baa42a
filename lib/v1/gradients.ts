/**
 * Reverse-mode differentiation of a graph by building more graph: `gradients(ys, xs)`
 * walks the ops between `xs` and `ys` backwards and asks each op type's gradient
 * function for NEW ops that compute its inputs' gradients from its outputs'
 * gradients (the chain rule, one op at a time, as micrograd's `_backward`).
 * Gradients reaching one tensor along several paths are summed (`AddN`); an input
 * that was broadcast gets its gradient summed over the broadcast dimensions
 * (found at run time, TF's `BroadcastGradientArgs`, when its static shape has
 * unknown dimensions).
 *
 * As in TensorFlow: `null` (None) for an `x` the `ys` do not depend on, for
 * integer and bool `xs`, and through integer casts, `ArgMax`, comparisons and
 * `stopGradient`. `If` (`cond`) and `While` (`whileLoop`) are differentiable;
 * their gradient ops are added by `control_flow.ts` and re-run the branch or
 * loop on a `GradientTape` at run time (so their gradients cannot be
 * differentiated again). The walk over the graph uses an explicit stack:
 * chains of any length work.
 *
 * @example
 * ```ts
 * import { Graph } from "./graph.ts";
 * import { placeholder, reduceSum, square } from "./ops.ts";
 * import { gradients } from "./gradients.ts";
 * import { Session } from "./session.ts";
 * const g = new Graph();
 * const { x, dx } = g.asDefault(() => {
 *   const x = placeholder("float32", [3], "x");
 *   return { x, dx: gradients(reduceSum(square(x)), [x])[0]! };
 * });
 * console.log(new Session(g).run(dx, new Map([[x, [1, 2, 3]]]))); // [2, 4, 6]
 * ```
 *
 * @module
 */
import { GraphError, type Operation, type SymbolicTensor } from "./graph.ts";
import {
  addN,
  broadcastGradientArgs,
  cast,
  div,
  equal,
  exp,
  expandDims,
  floorDiv,
  greater,
  matMul,
  mul,
  neg,
  oneHot,
  onesLike,
  reduceSum,
  reduceSumAxes,
  reshape,
  shapeOf,
  sign,
  size,
  softmax,
  square,
  sub,
  transpose,
  zerosLike,
} from "./ops.ts";

/** Given an op and its outputs' gradients, the gradient of each input (null: none). */
export type GradFn = (op: Operation, dys: SymbolicTensor[]) => (SymbolicTensor | null)[];

/**
 * Sums `dy` down to `x`'s shape over the dimensions that broadcasting stretched.
 * With `x`'s static shape fully known they are read from the static shapes
 * (leading dimensions `x` lacks, and dimensions of size 1 in `x`); when a
 * dimension of `x` is unknown (`null`) it may be 1 at run time, so the axes
 * come from the run-time shapes (TF's `BroadcastGradientArgs`, then `Sum` and
 * `Reshape` to `shape(x)`).
 */
export function unbroadcast(dy: SymbolicTensor, x: SymbolicTensor): SymbolicTensor {
  if (x.shape.some((d) => d === null)) {
    const [, axes] = broadcastGradientArgs(shapeOf(dy), shapeOf(x));
    return reshape(reduceSumAxes(dy, axes), shapeOf(x));
  }
  const lead = dy.rank - x.rank;
  let d = dy;
  if (lead > 0) d = reduceSum(d, [...Array(lead).keys()]);
  const ones = x.shape.flatMap((n, i) => n === 1 && d.shape[i] !== 1 ? [i] : []);
  return ones.length > 0 ? reduceSum(d, ones, true) : d;
}

/** `t` of a reduction `op` with the reduced axes put back as size 1. */
function keptDims(op: Operation, t: SymbolicTensor): SymbolicTensor {
  let d = t;
  if (!op.attrs.keep_dims) { for (const a of op.attrs.axis as number[]) d = expandDims(d, a); }
  return d;
}

function sumGrad(op: Operation, dy: SymbolicTensor): SymbolicTensor {
  return mul(keptDims(op, dy), onesLike(op.inputs[0]));
}

/** The gradient of `Max` goes to the maxima, shared equally between ties (as in TensorFlow). */
function maxGrad(op: Operation, dy: SymbolicTensor): SymbolicTensor {
  const x = op.inputs[0];
  const hits = cast(equal(x, keptDims(op, op.output)), x.dtype);
  const count = reduceSum(hits, op.attrs.axis as number[], true);
  return mul(div(hits, count), keptDims(op, dy));
}

function matMulGrad(op: Operation, [dy]: SymbolicTensor[]): SymbolicTensor[] {
  const [a, b] = op.inputs;
  const ta = op.attrs.transpose_a, tb = op.attrs.transpose_b;
  if (!ta && !tb) return [matMul(dy, b, false, true), matMul(a, dy, true, false)];
  if (!ta && tb) return [matMul(dy, b), matMul(dy, a, true, false)];
  if (ta && !tb) return [matMul(b, dy, false, true), matMul(a, dy)];
  return [matMul(b, dy, true, true), matMul(dy, a, true, true)];
}

/**
 * The gradient function of each op type. `null` marks an op type with no
 * gradient (comparisons, `ArgMax`, shapes): gradients stop there. A type
 * missing from this table cannot be differentiated and raises an error.
 */
export const gradFns: Record<string, GradFn | null> = {
  Identity: (_, [dy]) => [dy],
  Print: (_, [dy]) => [dy],
  AddV2: ({ inputs: [a, b] }, [dy]) => [unbroadcast(dy, a), unbroadcast(dy, b)],
  Sub: ({ inputs: [a, b] }, [dy]) => [unbroadcast(dy, a), unbroadcast(neg(dy), b)],
  Mul: ({ inputs: [a, b] }, [dy]) => [unbroadcast(mul(dy, b), a), unbroadcast(mul(dy, a), b)],
  RealDiv: ({ inputs: [a, b] }, [dy]) => [
    unbroadcast(div(dy, b), a),
    unbroadcast(neg(div(mul(dy, a), square(b))), b),
  ],
  AddN: (op, [dy]) => op.inputs.map(() => dy),
  Neg: (_, [dy]) => [neg(dy)],
  Square: ({ inputs: [x] }, [dy]) => [mul(dy, mul(x, 2))],
  Sqrt: (op, [dy]) => [div(dy, mul(op.output, 2))],
  Log: ({ inputs: [x] }, [dy]) => [div(dy, x)],
  Exp: (op, [dy]) => [mul(dy, op.output)],
  Relu: ({ inputs: [x] }, [dy]) => [mul(dy, cast(greater(x, 0), x.dtype))],
  Sigmoid: ({ output: y }, [dy]) => [mul(dy, mul(y, sub(1, y)))],
  Tanh: ({ output: y }, [dy]) => [mul(dy, sub(1, square(y)))],
  Softmax: ({ output: s }, [dy]) => [mul(sub(dy, reduceSum(mul(dy, s), -1, true)), s)],
  LogSoftmax: ({ output: y }, [dy]) => [sub(dy, mul(reduceSum(dy, -1, true), exp(y)))],
  Abs: ({ inputs: [x] }, [dy]) => [mul(dy, sign(x))],
  Transpose: (op, [dy]) => {
    const perm = op.attrs.perm as number[];
    return [transpose(dy, perm.map((_, i) => perm.indexOf(i)))];
  },
  Max: (op, [dy]) => [maxGrad(op, dy)],
  MatMul: matMulGrad,
  Sum: (op, [dy]) => [sumGrad(op, dy)],
  Mean: (op, [dy]) => [
    div(sumGrad(op, dy), cast(div(size(op.inputs[0]), size(op.output)), "float32")),
  ],
  Reshape: ({ inputs: [x] }, [dy]) => [reshape(dy, shapeOf(x)), null],
  ExpandDims: ({ inputs: [x] }, [dy]) => [reshape(dy, shapeOf(x))],
  // Through an integer or bool cast there is no gradient (TF: None).
  Cast: ({ inputs: [x], output }, [dy]) => [
    x.dtype === "float32" && output.dtype === "float32" ? cast(dy, "float32") : null,
  ],
  SoftmaxCrossEntropyWithLogits: ({ inputs: [z, labels] }, [dy]) => [
    mul(expandDims(dy, -1), sub(softmax(z), labels)),
    null,
  ],
  SparseSoftmaxCrossEntropyWithLogits: ({ inputs: [z, labels] }, [dy]) => [
    mul(expandDims(dy, -1), sub(softmax(z), oneHot(labels, z.shape[1] ?? 0))),
    null,
  ],
  ArgMax: null,
  StopGradient: null,
  BroadcastGradientArgs: null,
  Sign: ({ inputs: [x] }) => [zerosLike(x)], // TF's _SignGrad: zeros, not None
  Equal: null,
  Less: null,
  Greater: null,
  Shape: null,
  Size: null,
  OnesLike: null,
  ZerosLike: null,
  OneHot: null,
  FloorDiv: null,
  Assign: null,
  AssignAdd: null,
  AssignSub: null,
};

// The ops AutoGraph's operators add: comparisons and logic have no gradient; `FloorMod` follows
// TensorFlow (d(a mod b)/da = 1, d(a mod b)/db = -floor(a / b)); `GatherV2` puts `dy` back at
// the gathered row (a dense version of TensorFlow's IndexedSlices).
Object.assign(
  gradFns,
  {
    LessEqual: null,
    GreaterEqual: null,
    NotEqual: null,
    LogicalAnd: null,
    LogicalOr: null,
    LogicalNot: null,
    FloorMod: ({ inputs: [a, b] }, [dy]) => [
      unbroadcast(dy, a),
      unbroadcast(neg(mul(dy, floorDiv(a, b))), b),
    ],
    GatherV2: ({ inputs: [x, i] }, [dy]) => {
      const rows = x.shape[0];
      if (rows === null) {
        throw new GraphError(
          `no gradient for GatherV2 on ${x.toString()}: its row count is unknown`,
        );
      }
      const hot = reshape(oneHot(i, rows), [rows, ...x.shape.slice(1).map(() => 1)]);
      return [mul(hot, expandDims(dy, 0)), null];
    },
  } satisfies Record<string, GradFn | null>,
);

/**
 * Symbolic gradients of `sum(ys)` with respect to each of `xs`
 * (`tf.compat.v1.gradients`): new ops in `ys`' graph, under the name scope
 * `gradients/`. An `x` that `ys` do not depend on gets `null`.
 * `gradYs` seeds the output gradients (default: ones). `options.through`
 * limits the backward pass to those ops (a `GradientTape` passes the ops it
 * recorded; TF's tape differentiates only what it recorded).
 */
export function gradients(
  ys: SymbolicTensor | SymbolicTensor[],
  xs: SymbolicTensor | SymbolicTensor[],
  gradYs?: SymbolicTensor[],
  options: { through?: ReadonlySet<Operation> } = {},
): (SymbolicTensor | null)[] {
  const yList = Array.isArray(ys) ? ys : [ys];
  const xList = Array.isArray(xs) ? xs : [xs];
  const g = yList[0].graph;
  return g.nameScope("gradients", () => {
    const forward = opsReaching(yList);
    // Which ops lie on a path from some x (only those need gradients).
    const xSet = new Set(xList);
    const onPath = new Set<Operation>();
    const reaches = (t: SymbolicTensor): boolean => xSet.has(t) || onPath.has(t.op);
    const through = options.through;
    for (const op of forward) {
      if ((through === undefined || through.has(op)) && op.inputs.some(reaches)) onPath.add(op);
    }

    const grads = new Map<SymbolicTensor, SymbolicTensor[]>();
    const push = (t: SymbolicTensor, d: SymbolicTensor): void => {
      grads.set(t, [...(grads.get(t) ?? []), d]);
    };
    const total = (t: SymbolicTensor): SymbolicTensor | null => {
      const list = grads.get(t);
      return list ? addN(list) : null;
    };
    yList.forEach((y, i) => push(y, gradYs?.[i] ?? onesLike(y)));

    for (const op of [...forward].reverse()) {
      if (!onPath.has(op)) continue;
      const dys = op.outputs.map(total);
      if (dys.every((d) => d === null)) continue;
      const fn = gradFns[op.type];
      if (fn === undefined) {
        throw new GraphError(
          `no gradient defined for op type ${op.type} (op "${op.name}"): add one to gradFns`,
        );
      }
      if (fn === null) continue;
      const filled = dys.map((d, i) => d ?? zerosLike(op.outputs[i]));
      const dxs = g.nameScope(`${op.name}_grad`, () => fn(op, filled));
      op.inputs.forEach((t, i) => {
        const d = dxs[i];
        if (d && reaches(t)) push(t, d);
      });
    }
    // Integer and bool tensors have no gradient (TF: None).
    return xList.map((x) => x.dtype === "float32" ? total(x) : null);
  });
}

/**
 * The ops `ys` depend on through data inputs, in execution order: a
 * depth-first walk with an explicit stack, so graphs of any depth work.
 */
function opsReaching(ys: SymbolicTensor[]): Operation[] {
  const order: Operation[] = [];
  const seen = new Set<Operation>();
  const stack: { op: Operation; next: number }[] = [];
  for (const y of ys) {
    if (seen.has(y.op)) continue;
    seen.add(y.op);
    stack.push({ op: y.op, next: 0 });
    while (stack.length > 0) {
      const top = stack[stack.length - 1];
      if (top.next < top.op.inputs.length) {
        const dep = top.op.inputs[top.next++].op;
        if (!seen.has(dep)) {
          seen.add(dep);
          stack.push({ op: dep, next: 0 });
        }
        continue;
      }
      stack.pop();
      order.push(top.op);
    }
  }
  return order;
}
