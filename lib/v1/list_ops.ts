/**
 * The graph ops behind a `TensorArray` inside a traced function (TensorFlow's
 * `list_ops`: `TensorListReserve`, `TensorListGetItem`, `TensorListSetItem`,
 * `TensorListResize`). TensorFlow keeps a list of tensors in a variant tensor;
 * here the list is one plain dense tensor, its elements stacked along axis 0
 * (shape `[n, ...elementShape]`, `n` often unknown until run time), so a
 * `While` loop carries it as any other loop variable and `stack()` is the
 * tensor itself.
 *
 * - `TensorListReserve(size)`: `size` rows of zeros (the elements not written
 *   yet). An element dimension unknown when traced is 0 until the first write,
 *   which then takes the written value's shape (a list with no elements takes
 *   any element shape).
 * - `TensorListGetItem(list, i)`: row `i`; an index out of range is a
 *   {@linkcode TensorArrayError} at run time, as TF's "Trying to access element".
 * - `TensorListSetItem(list, i, item)`: row `i` replaced; with
 *   `resize_if_index_out_of_bounds` (a `dynamicSize` array) the list grows with
 *   zero rows to hold `i`, else an index out of range is an error at run time.
 * - `TensorListResize(x, shape)`: `x` cut or zero-padded to `shape[0]` rows.
 *
 * Each kernel is made of differentiable tfjs ops (slices and concats), and the
 * gradients are these ops again (all four are linear in the list and the
 * item): `GetItem`'s is a `SetItem` of `dy` into zeros, `SetItem`'s is `dy`
 * with row `i` zeroed and resized to the input list's rows (for the list) and
 * row `i` of `dy` (for the item), `Resize`'s is a `Resize` back; so second
 * derivatives work too.
 *
 * @example
 * ```ts
 * import { Graph } from "./graph.ts";
 * import { constant } from "./ops.ts";
 * import { tensorListGetItem, tensorListReserve, tensorListSetItem } from "./list_ops.ts";
 * import { Session } from "./session.ts";
 * const g = new Graph();
 * const { list, item } = g.asDefault(() => {
 *   let list = tensorListReserve("float32", constant(3, "int32"), [2]);
 *   list = tensorListSetItem(list, constant(1, "int32"), constant([5, 6]), false);
 *   return { list, item: tensorListGetItem(list, constant(1, "int32")) };
 * });
 * console.log(new Session(g).run(list)); // [[0, 0], [5, 6], [0, 0]]
 * console.log(new Session(g).run(item)); // [5, 6]
 * ```
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { type DType, formatShape, GraphError, type Shape, type SymbolicTensor } from "./graph.ts";
import { addOp, type Kernel, kernels, shapeOf, toSymbolic, zerosLike } from "./ops.ts";
import { type GradFn, gradFns } from "./gradients.ts";

/** A `TensorArray` used in a way TensorFlow rejects: an index out of range, a wrong dtype or shape. */
export class TensorArrayError extends GraphError {
  constructor(message: string) {
    super(message);
    this.name = "TensorArrayError";
  }
}

/** The most specific shape compatible with both (TF's `merge_with`), or null if they conflict. */
export function mergeElementShapes(a: Shape, b: Shape): Shape | null {
  if (a.length !== b.length) return null;
  const out: Shape = [];
  for (let i = 0; i < a.length; i++) {
    if (a[i] !== null && b[i] !== null && a[i] !== b[i]) return null;
    out.push(a[i] ?? b[i]);
  }
  return out;
}

function index(i: SymbolicTensor | number): SymbolicTensor {
  const t = toSymbolic(i, "int32");
  if (t.dtype !== "int32" || t.rank !== 0) {
    throw new TensorArrayError(`a TensorArray index must be an int32 scalar, got ${t.toString()}`);
  }
  return t;
}

/** `size` rows of zeros of `elementShape` (unknown dimensions 0 until written): `TensorListReserve`. */
export function tensorListReserve(
  dtype: DType,
  size: SymbolicTensor | number,
  elementShape: Shape,
): SymbolicTensor {
  const n = index(size);
  const rows = typeof size === "number" ? size : null;
  const spec = { dtype, shape: [rows, ...elementShape] };
  return addOp("TensorListReserve", [n], { element_shape: elementShape, element_dtype: dtype }, [
    spec,
  ]).output;
}

/** Row `i` of `list`: `TensorListGetItem`. */
export function tensorListGetItem(
  list: SymbolicTensor,
  i: SymbolicTensor | number,
): SymbolicTensor {
  const spec = { dtype: list.dtype, shape: list.shape.slice(1) };
  return addOp("TensorListGetItem", [list, index(i)], {}, [spec]).output;
}

/** `list` with row `i` set to `item` (grown to hold `i` when `resize`): `TensorListSetItem`. */
export function tensorListSetItem(
  list: SymbolicTensor,
  i: SymbolicTensor | number,
  item: SymbolicTensor,
  resize: boolean,
): SymbolicTensor {
  const element = mergeElementShapes(list.shape.slice(1), item.shape);
  if (element === null) {
    throw new TensorArrayError(
      `Inconsistent shapes: saw ${formatShape(item.shape)} but expected ` +
        `${formatShape(list.shape.slice(1))}: every element of a TensorArray has one shape`,
    );
  }
  const spec = { dtype: list.dtype, shape: [resize ? null : list.shape[0], ...element] };
  return addOp("TensorListSetItem", [list, index(i), item], {
    resize_if_index_out_of_bounds: resize,
  }, [spec]).output;
}

/** `x` with `shape[0]` rows (cut, or padded with zeros): `TensorListResize`. */
export function tensorListResize(x: SymbolicTensor, shape: SymbolicTensor): SymbolicTensor {
  const spec = { dtype: x.dtype, shape: [null, ...x.shape.slice(1)] };
  return addOp("TensorListResize", [x, shape], {}, [spec]).output;
}

// ---------------------------------------------------------------- kernels

const sameDims = (a: number[], b: number[]) =>
  a.length === b.length && a.every((d, i) => d === b[i]);

/** Rows `[from, from + n)` of `x`. */
const rows = (x: tf.Tensor, from: number, n: number) =>
  tf.slice(x, [from, ...x.shape.slice(1).map(() => 0)], [n, ...x.shape.slice(1)]);

/**
 * `x` with `n` rows of element shape `element`: cut, or padded with zero rows; a list with
 * no elements (not written yet) becomes zeros of that shape.
 */
function fit(x: tf.Tensor, n: number, element: number[]): tf.Tensor {
  const target = [n, ...element];
  if (!sameDims(x.shape.slice(1), element)) {
    if (x.size !== 0 && target.reduce((p, d) => p * d, 1) !== 0) {
      throw new TensorArrayError(
        `Inconsistent shapes at run time: an element of shape [${element}] written to a ` +
          `TensorArray whose elements have shape [${x.shape.slice(1)}]`,
      );
    }
    return tf.zeros(target, x.dtype);
  }
  const have = x.shape[0];
  if (have === n) return x;
  if (have > n) return rows(x, 0, n);
  return tf.concat([x, tf.zeros([n - have, ...element], x.dtype)]);
}

const scalar = (t: tf.Tensor) => t.dataSync()[0];

Object.assign(
  kernels,
  {
    TensorListReserve: ([size], op) => {
      const element = (op.attrs.element_shape as Shape).map((d) => d ?? 0);
      return [tf.zeros([scalar(size), ...element], op.attrs.element_dtype as DType)];
    },
    TensorListGetItem: ([list, at]) => {
      const i = scalar(at);
      if (i < 0 || i >= list.shape[0]) {
        throw new TensorArrayError(
          `Trying to access element ${i} in a list with ${list.shape[0]} elements ` +
            `(TensorArray.read: the index must be in [0, size))`,
        );
      }
      return [tf.tidy(() => tf.reshape(rows(list, i, 1), list.shape.slice(1)))];
    },
    TensorListSetItem: ([list, at, item], op) => {
      const i = scalar(at);
      const n = list.shape[0];
      if (i < 0 || (i >= n && !op.attrs.resize_if_index_out_of_bounds)) {
        throw new TensorArrayError(
          `Trying to modify element ${i} in a list with ${n} elements (TensorArray.write: ` +
            `the index must be in [0, size); give dynamicSize: true to let the array grow)`,
        );
      }
      return [tf.tidy(() => {
        const base = fit(list, Math.max(n, i + 1), item.shape);
        const m = base.shape[0];
        return tf.concat([rows(base, 0, i), tf.expandDims(item, 0), rows(base, i + 1, m - i - 1)]);
      })];
    },
    TensorListResize: ([x, shape]) => {
      const [n, ...element] = Array.from(shape.dataSync());
      return [tf.tidy(() => fit(x, n, element))];
    },
  } satisfies Record<string, Kernel>,
);

// ---------------------------------------------------------------- gradients

Object.assign(
  gradFns,
  {
    TensorListReserve: null,
    TensorListGetItem: ({ inputs: [list, i] }, [dy]) => [
      tensorListSetItem(zerosLike(list), i, dy, false),
      null,
    ],
    TensorListSetItem: ({ inputs: [list, i, item] }, [dy]) => [
      tensorListResize(tensorListSetItem(dy, i, zerosLike(item), false), shapeOf(list)),
      null,
      tensorListGetItem(dy, i),
    ],
    TensorListResize: ({ inputs: [x] }, [dy]) => [tensorListResize(dy, shapeOf(x)), null],
  } satisfies Record<string, GradFn | null>,
);
