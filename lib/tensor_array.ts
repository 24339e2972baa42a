/**
 * `TensorArray`: TensorFlow's `tf.TensorArray`, a list of same-shaped tensors that a loop
 * writes one element at a time, eagerly and inside `tfFunction` (where AutoGraph carries it
 * through a graph `While` loop, as TF2 does; the guide's "Accumulating values in a loop").
 *
 * As in TF2:
 *
 * - `write(index, value)` returns the TensorArray to use from then on: eagerly that is the
 *   same object, updated; in a trace it is a new one (always write `ta = ta.write(i, x)`).
 *   `unstack` and `scatter` likewise.
 * - `read(index)`, `stack()`, `gather(indices)`, `concat()`, `size()`, `close()`, and the
 *   fields `dtype`, `dynamicSize`, `elementShape` (merged from the writes; `null` while even
 *   the rank is unknown).
 * - Every element has the shape of the first one written (or of `elementShape`), and the
 *   dtype of the array: anything else is a {@linkcode TensorArrayError} with TF's message.
 *   An index past `size` without `dynamicSize: true` is one too (in a trace, when the index
 *   is only known at run time, the error comes when the function runs, as in TF).
 * - Elements never written read as zeros when the element shape is fully known.
 * - Eagerly, `clearAfterRead` (default true) clears an element when it is read: reading it
 *   again raises TF's "Could not read index 0 twice". In a trace it is ignored, as TF2's
 *   TensorList-based arrays ignore it, and an element may be written more than once.
 * - Gradients flow through `write`/`read`/`stack`/`unstack`: eagerly through
 *   `GradientTape` (the elements are the written tensors, `stack` is `tf.stack`), in a trace
 *   through the graph ops of `v1/list_ops.ts`, inside `While` loops too.
 *
 * In a trace the array is one graph tensor holding the elements stacked (`[n, ...element]`,
 * `n` unknown when it grows in a loop); a loop that writes an array whose element shape is
 * not known yet is traced once more first to learn it (as AutoGraph does for variables
 * defined in the loop). Where this differs from TF: in a trace `concat()` needs elements of
 * one shape (TF's may differ in their first dimension); a traced function cannot return a
 * TensorArray (using it afterwards raises `InaccessibleTensorError`: return `ta.stack()`);
 * `split`, `grad` and `identity` are not emulated.
 *
 * Eagerly, the tensors the array makes itself (zeros for unwritten elements, the rows of
 * `unstack`, values given as numbers) belong to the enclosing `tf.tidy`, as any op's result;
 * `close()` frees them and empties the array. Written tensors stay the caller's.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { TensorArray } from "./tensor_array.ts";
 * import { tfFunction } from "./function.ts";
 * import { range } from "./autograph/mod.ts";
 *
 * let ta = new TensorArray("float32", { size: 0, dynamicSize: true, clearAfterRead: false });
 * ta = ta.write(0, 10).write(1, 20).write(2, 30);
 * ta.stack().print(); // [10, 20, 30]
 *
 * // The guide's loop: the number of iterations is a tensor, known only at run time.
 * const squares = tfFunction((n: tf.Tensor) => {
 *   let out = new TensorArray("int32", { size: 0, dynamicSize: true });
 *   for (const i of range(n)) out = out.write(i, i * i);
 *   return out.stack();
 * }, { scope: { TensorArray, range } });
 * squares(tf.scalar(4, "int32")).print(); // [0, 1, 4, 9]
 * ```
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import {
  constant,
  type DType,
  formatShape,
  gather,
  getDefaultGraph,
  type Graph,
  InaccessibleTensorError,
  reshape,
  type Shape,
  shapeOf,
  stack as stackOp,
  SymbolicTensor,
  toSymbolic,
} from "./v1/mod.ts";
import {
  mergeElementShapes,
  TensorArrayError,
  tensorListGetItem,
  tensorListReserve,
  tensorListSetItem,
} from "./v1/list_ops.ts";

export { TensorArrayError } from "./v1/list_ops.ts";

/** The options of {@linkcode TensorArray} (TF's keyword arguments). */
export interface TensorArrayOptions {
  /** The number of elements (TF requires it eagerly); in a trace it may be an int32 tensor. */
  size?: number | tf.Tensor | SymbolicTensor;
  /** Writes past `size` grow the array (default false). */
  dynamicSize?: boolean;
  /** Eagerly: an element is cleared when read, so it can be read once (default true). */
  clearAfterRead?: boolean;
  /** The shape of every element; `null` for a dimension not known yet. */
  elementShape?: Shape;
  /** Learn the element shape from the writes and hold every element to it (default true). */
  inferShape?: boolean;
}

/** An index: a number, or an int32 scalar tensor (read now, eagerly). */
export type TensorArrayIndex = number | tf.Tensor | SymbolicTensor;
/** A value to write: a tensor, or numbers made into one of the array's dtype. */
export type TensorArrayValue = tf.Tensor | SymbolicTensor | number | number[] | number[][];

/** The static shape of the element shape cell: `null` while even the rank is unknown. */
interface ShapeCell {
  shape: Shape | null;
}

/** What a TensorArray in a trace holds: its graph tensor, made when first needed. */
interface GraphState {
  /** The elements stacked, `[n, ...element]`; undefined until the element shape is known. */
  flow?: SymbolicTensor;
  size: number | SymbolicTensor;
  /** Where it was made: the `TensorListReserve` for `flow` goes there. */
  home: Graph;
}

/** Set while `#withFlow` makes an array from another. */
let deriving: { from: TensorArray; flow: SymbolicTensor } | undefined;

const tracing = (): boolean => getDefaultGraph().autoControlDeps;
const fullyKnown = (s: Shape | null): s is number[] => s !== null && s.every((d) => d !== null);
const show = (s: Shape | null) => formatShape(s);

/**
 * A list of tensors of one dtype and one shape (TensorFlow's `tf.TensorArray`), eagerly a
 * JavaScript list, in a traced function a graph tensor. See the module doc.
 */
export class TensorArray {
  /** The dtype of every element. */
  readonly dtype: DType;
  /** True when writes past `size` grow the array. */
  readonly dynamicSize: boolean;
  readonly #clearAfterRead: boolean;
  readonly #inferShape: boolean;
  /** Shared by the arrays one write makes from another (TF shares it too). */
  readonly #cell: ShapeCell;
  // eager
  #list: (tf.Tensor | undefined)[] = [];
  readonly #read = new Set<number>();
  readonly #owned = new Set<tf.Tensor>();
  // traced
  readonly #graph?: GraphState;

  constructor(dtype: DType, options: TensorArrayOptions = {}) {
    this.dtype = dtype;
    if (deriving) {
      // `#withFlow`: the same settings and shape cell, another graph tensor.
      const { from, flow } = deriving;
      this.dynamicSize = from.dynamicSize;
      this.#clearAfterRead = from.#clearAfterRead;
      this.#inferShape = from.#inferShape;
      this.#cell = from.#cell;
      this.#graph = { ...from.#graph!, flow };
      return;
    }
    this.dynamicSize = options.dynamicSize ?? false;
    this.#clearAfterRead = options.clearAfterRead ?? true;
    this.#inferShape = options.inferShape ?? true;
    this.#cell = { shape: options.elementShape ? [...options.elementShape] : null };
    const size = options.size;
    if (size === undefined) {
      throw new TensorArrayError(
        "TensorArray: size must be given (TF: 'Size must be declared for TensorArrays when " +
          "eager execution is enabled'); use size: 0 with dynamicSize: true for an array that grows",
      );
    }
    if (tracing() || size instanceof SymbolicTensor) {
      const n = size instanceof tf.Tensor ? toSymbolic(size) : size;
      if (n instanceof SymbolicTensor && (n.dtype !== "int32" || n.rank !== 0)) {
        throw new TensorArrayError(
          `TensorArray: size must be an int32 scalar, got ${n.toString()}`,
        );
      }
      this.#graph = { size: n, home: getDefaultGraph() };
    } else {
      const n = eagerIndex(size, "size");
      if (n < 0) throw new TensorArrayError(`TensorArray: size must be >= 0, got ${n}`);
      this.#list = Array(n).fill(undefined);
    }
  }

  /** The shape of every element as known so far; `null` while even its rank is unknown. */
  get elementShape(): Shape | null {
    return this.#cell.shape && [...this.#cell.shape];
  }

  /** Writes `value` at `index`; returns the array to use from now on (see the module doc). */
  write(index: TensorArrayIndex, value: TensorArrayValue): TensorArray {
    if (this.#graph) {
      const v = this.#symbolicValue(value);
      this.#checkElement(v.shape);
      const flow = this.#flow();
      if (typeof index === "number" && !this.dynamicSize && flow.shape[0] !== null) {
        this.#checkWriteIndex(index, flow.shape[0]);
      }
      return this.#withFlow(tensorListSetItem(flow, graphIndex(index), v, this.dynamicSize));
    }
    const i = eagerIndex(index, "index");
    this.#checkWriteIndex(i, this.#list.length);
    const v = this.#eagerValue(value);
    try {
      this.#write(i, v);
    } catch (e) {
      if (v !== value) this.#owned.delete(v), v.dispose();
      throw e;
    }
    return this;
  }

  /** The element at `index` (zeros if it was never written and its shape is fully known). */
  read(index: TensorArrayIndex): tf.Tensor {
    if (this.#graph) {
      return tensorListGetItem(this.#flow(), graphIndex(index)) as unknown as tf.Tensor;
    }
    const i = eagerIndex(index, "index");
    if (i < 0) {
      throw new TensorArrayError(`Reading from negative indices (index ${i}) is not allowed.`);
    }
    if (i >= this.#list.length) {
      throw new TensorArrayError(
        `Tried to read from index ${i} but array size is: ${this.#list.length}`,
      );
    }
    if (this.#list[i] === undefined && this.#read.has(i)) {
      throw new TensorArrayError(
        `Could not read index ${i} twice because it was cleared after a previous read ` +
          `(perhaps try setting clearAfterRead: false?)`,
      );
    }
    const t = this.#maybeZero(i);
    if (this.#clearAfterRead) {
      this.#list[i] = undefined;
      this.#read.add(i);
      this.#owned.delete(t); // now the caller's
    }
    return t;
  }

  /** All elements stacked along a new first axis (`[size, ...elementShape]`). */
  stack(): tf.Tensor {
    if (this.#graph) return this.#flow() as unknown as tf.Tensor;
    if (this.#list.length === 0) {
      const shape = fullyKnown(this.#cell.shape) ? [0, ...this.#cell.shape] : [0];
      return tf.zeros(shape, this.dtype);
    }
    return tf.stack(this.#list.map((_, i) => this.#maybeZero(i)));
  }

  /** The elements at `indices`, stacked. */
  gather(indices: number[] | tf.Tensor | SymbolicTensor): tf.Tensor {
    if (this.#graph) {
      const flow = this.#flow();
      let picks: TensorArrayIndex[];
      if (indices instanceof SymbolicTensor) {
        const k = indices.rank === 1 ? indices.shape[0] : null;
        if (k === null) {
          throw new TensorArrayError(
            `TensorArray.gather in a trace needs indices of known length, got ${indices.toString()}`,
          );
        }
        picks = Array.from({ length: k }, (_, j) => gather(indices, j));
      } else picks = indices instanceof tf.Tensor ? Array.from(indices.dataSync()) : indices;
      if (picks.length === 0) {
        throw new TensorArrayError("TensorArray.gather in a trace needs at least one index");
      }
      return stackOp(
        picks.map((i) => tensorListGetItem(flow, graphIndex(i))),
      ) as unknown as tf.Tensor;
    }
    const list = indices instanceof tf.Tensor ? Array.from(indices.dataSync()) : indices;
    if (!Array.isArray(list)) {
      throw new TensorArrayError(
        "TensorArray.gather: a graph tensor of indices given to an array made eagerly: make the " +
          "array inside the traced function",
      );
    }
    return tf.stack(list.map((i) => {
      if (i < 0 || i >= this.#list.length) {
        throw new TensorArrayError(
          `TensorArray.gather: index ${i} is out of range for an array of size ${this.#list.length}`,
        );
      }
      return this.#maybeZero(i);
    }));
  }

  /** All elements joined along their first axis (elements must be at least vectors). */
  concat(): tf.Tensor {
    const shape = this.#cell.shape;
    if (shape !== null && shape.length === 0) {
      throw new TensorArrayError(
        "Concat saw a scalar shape at index 0 but requires at least vectors.",
      );
    }
    if (this.#graph) {
      const rest = shape?.slice(1) ?? [];
      if (shape === null || rest.some((d) => d === null)) {
        throw new TensorArrayError(
          `TensorArray.concat in a trace needs the element shape known beyond its first ` +
            `dimension, got ${show(shape)}: give elementShape`,
        );
      }
      return reshape(this.#flow(), [-1, ...rest as number[]]) as unknown as tf.Tensor;
    }
    if (this.#list.length === 0) {
      return tf.zeros([0, ...(shape ?? []).slice(1).map((d) => d ?? 0)], this.dtype);
    }
    return tf.concat(this.#list.map((_, i) => this.#maybeZero(i)));
  }

  /** Replaces the elements by the rows of `value`; returns the array to use from now on. */
  unstack(value: TensorArrayValue): TensorArray {
    if (this.#graph) {
      const v = this.#symbolicValue(value);
      if (v.rank === 0) throw new TensorArrayError("TensorArray.unstack: the value is a scalar");
      this.#checkElement(v.shape.slice(1));
      const size = this.#graph.size;
      if (
        !this.dynamicSize && typeof size === "number" && v.shape[0] !== null && v.shape[0] > size
      ) {
        throw unstackError(v.shape[0], size);
      }
      return this.#withFlow(v);
    }
    const v = this.#eagerValue(value);
    if (v.rank === 0) throw new TensorArrayError("TensorArray.unstack: the value is a scalar");
    this.#checkElement(v.shape.slice(1));
    const rows = tf.unstack(v);
    if (v !== value) v.dispose();
    if (rows.length > this.#list.length && !this.dynamicSize) {
      tf.dispose(rows);
      throw unstackError(rows.length, this.#list.length);
    }
    this.#list = [...rows]; // a copy: tfjs's tape keeps `rows` as the Unpack node's outputs
    rows.forEach((t) => this.#owned.add(t));
    return this;
  }

  /** Writes the rows of `value` at `indices`; returns the array to use from now on. */
  scatter(indices: number[] | tf.Tensor, value: TensorArrayValue): TensorArray {
    const list = indices instanceof tf.Tensor ? Array.from(indices.dataSync()) : indices;
    if (this.#graph) {
      const v = this.#symbolicValue(value);
      return list.reduce<TensorArray>((ta, i, j) => ta.write(i, gather(v, j)), this);
    }
    const v = this.#eagerValue(value);
    const rows = tf.unstack(v);
    if (v !== value) v.dispose();
    rows.forEach((t) => this.#owned.add(t));
    list.forEach((i, j) => this.#write(i, rows[j]));
    return this;
  }

  /** The number of elements (an int32 scalar). */
  size(): tf.Tensor {
    const g = this.#graph;
    if (!g) return tf.scalar(this.#list.length, "int32");
    if (!this.dynamicSize && typeof g.size === "number") {
      return constant(g.size, "int32") as unknown as tf.Tensor;
    }
    if (!g.flow && !(this.#cell.shape)) return toSymbolic(g.size, "int32") as unknown as tf.Tensor;
    return gather(shapeOf(this.#flow()), 0) as unknown as tf.Tensor;
  }

  /** Empties the array and frees the tensors it made (eagerly; nothing in a trace). */
  close(): void {
    tf.dispose([...this.#owned]);
    this.#owned.clear();
    this.#list = [];
  }

  toString(): string {
    const size = this.#graph ? "?" : String(this.#list.length);
    return `TensorArray(dtype=${this.dtype}, size=${size}, element_shape=${
      show(this.#cell.shape)
    })`;
  }
  [Symbol.for("Deno.customInspect")](): string {
    return this.toString();
  }

  // ------------------------------------------------------------ for AutoGraph's loops and ifs

  /** True for an array in a trace whose element rank is not known yet (a loop must probe). */
  get _shapeUnknown(): boolean {
    return this.#graph !== undefined && this.#graph.flow === undefined &&
      this.#cell.shape === null;
  }
  /** True for an array made in a traced function (a graph loop carries it as a tensor). */
  get _traced(): boolean {
    return this.#graph !== undefined;
  }
  /** Its graph tensor (made now if needed). */
  _flow(): SymbolicTensor {
    return this.#flow();
  }
  /** Its graph tensor's shape as a loop variable: any number of rows when it can grow. */
  _loopShape(): Shape {
    const flow = this.#flow();
    return [this.dynamicSize ? null : flow.shape[0], ...flow.shape.slice(1)];
  }
  /** The same array holding `flow` (a loop's or an `if`'s result). */
  _withFlow(flow: SymbolicTensor): TensorArray {
    return this.#withFlow(flow);
  }

  // ------------------------------------------------------------ private

  #flow(): SymbolicTensor {
    const g = this.#graph!;
    const finished = (g.flow?.graph ?? g.home).finished;
    if (finished) {
      throw new InaccessibleTensorError(
        `${this.toString()} was made inside ${finished}, whose graph is finished: a ` +
          `TensorArray of a trace cannot be used outside it. Return ta.stack() (a tensor) instead`,
      );
    }
    if (g.flow) return g.flow;
    const shape = this.#cell.shape;
    if (shape === null) {
      throw new TensorArrayError(
        `the element shape of ${this.toString()} is unknown here: nothing has been written ` +
          `to it yet. Write to it first, or give elementShape when making it`,
      );
    }
    const size = g.size;
    g.flow = g.home.asDefault(() => tensorListReserve(this.dtype, size, shape));
    return g.flow;
  }

  #withFlow(flow: SymbolicTensor): TensorArray {
    deriving = { from: this, flow };
    try {
      return new TensorArray(this.dtype);
    } finally {
      deriving = undefined;
    }
  }

  #checkElement(shape: Shape): void {
    const have = this.#cell.shape;
    const merged = have === null ? [...shape] : mergeElementShapes(have, shape);
    if (merged === null) {
      // TF's two messages: eager (`_EagerTensorArray`), traced (`_GraphTensorArrayV2`).
      const what = this.#graph
        ? `Inconsistent shapes: saw ${show(shape)} but expected ${show(have)}`
        : `Incompatible shape for value ${show(shape)}, expected ${show(have)}`;
      throw new TensorArrayError(`${what}: every element of a TensorArray has one shape`);
    }
    if (this.#inferShape) this.#cell.shape = merged;
  }

  #checkWriteIndex(i: number, size: number): void {
    if (i < 0) {
      throw new TensorArrayError(`Writing to negative indices (index ${i}) is not allowed.`);
    }
    if (i >= size && !this.dynamicSize) {
      throw new TensorArrayError(
        `Tried to write to index ${i} but array is not resizeable and size is: ${size} ` +
          `(give dynamicSize: true to let it grow)`,
      );
    }
  }

  #write(i: number, v: tf.Tensor): void {
    this.#checkWriteIndex(i, this.#list.length);
    this.#checkElement(v.shape);
    while (this.#list.length <= i) this.#list.push(undefined);
    this.#list[i] = v;
  }

  #maybeZero(i: number): tf.Tensor {
    const have = this.#list[i];
    if (have) return have;
    const shape = this.#cell.shape;
    if (!fullyKnown(shape)) {
      throw new TensorArrayError(
        `element ${i} of ${this.toString()} was never written, and its shape ${show(shape)} ` +
          `is not fully known, so it cannot be read as zeros: write it first or give elementShape`,
      );
    }
    const z = tf.zeros(shape, this.dtype);
    this.#owned.add(z);
    this.#list[i] = z;
    return z;
  }

  #eagerValue(value: TensorArrayValue): tf.Tensor {
    if (value instanceof SymbolicTensor) {
      throw new TensorArrayError(
        `${this.toString()} was made eagerly, outside the traced function, and cannot hold ` +
          `the graph tensor ${value.toString()}: make the TensorArray inside the function`,
      );
    }
    if (value instanceof tf.Tensor) {
      this.#checkDType(value.dtype as DType);
      return value;
    }
    const t = tf.tensor(value, undefined, this.dtype);
    this.#owned.add(t);
    return t;
  }

  #symbolicValue(value: TensorArrayValue): SymbolicTensor {
    if (value instanceof SymbolicTensor || value instanceof tf.Tensor) {
      this.#checkDType(value.dtype as DType);
      return toSymbolic(value);
    }
    return constant(value, this.dtype);
  }

  #checkDType(dtype: DType): void {
    if (dtype !== this.dtype) {
      throw new TensorArrayError(
        `TensorArray dtype is ${this.dtype} but Op is trying to write dtype ${dtype}`,
      );
    }
  }
}

function unstackError(n: number, size: number): TensorArrayError {
  return new TensorArrayError(
    `Cannot unstack ${n} tensors into a TensorArray of static size ${size} ` +
      `(give dynamicSize: true to let it grow)`,
  );
}

/** An index given to an array made eagerly: a number, or an eager int32 scalar read now. */
function eagerIndex(i: TensorArrayIndex, what: string): number {
  if (i instanceof SymbolicTensor) {
    throw new TensorArrayError(
      `a TensorArray made eagerly, outside the traced function, got the graph tensor ` +
        `${i.toString()} as its ${what}: make the TensorArray inside the function`,
    );
  }
  const n = i instanceof tf.Tensor ? i.dataSync()[0] : i;
  if (!Number.isInteger(n)) {
    throw new TensorArrayError(`a TensorArray ${what} must be a whole number, got ${n}`);
  }
  return n;
}

/** An index in a trace: a graph int32 scalar. */
function graphIndex(i: TensorArrayIndex): SymbolicTensor | number {
  if (typeof i === "number") return i;
  return toSymbolic(i, "int32");
}
