/**
 * A v1 `Graph` (or `tfFunction` trace) as a TensorFlow `GraphDef`, the
 * message TensorBoard's Graphs dashboard draws.
 *
 * Field numbers, from TensorFlow's protos:
 * - graph.proto: `message GraphDef { repeated NodeDef node = 1; ... }`.
 * - node_def.proto: `message NodeDef { string name = 1; string op = 2;
 *   repeated string input = 3; string device = 4; map<string, AttrValue>
 *   attr = 5; }` (a map field is a repeated entry message with key = 1,
 *   value = 2).
 * - attr_value.proto: `message AttrValue { oneof value { ListValue list = 1;
 *   bytes s = 2; int64 i = 3; float f = 4; bool b = 5; DataType type = 6;
 *   TensorShapeProto shape = 7; ... } }`; `ListValue { repeated bytes s = 2;
 *   repeated int64 i = 3 [packed]; repeated float f = 4 [packed]; repeated
 *   bool b = 5 [packed]; repeated DataType type = 6 [packed]; repeated
 *   TensorShapeProto shape = 7; }`.
 * - tensor_shape.proto: `TensorShapeProto { repeated Dim dim = 2; bool
 *   unknown_rank = 3; }`, `Dim { int64 size = 1; string name = 2; }` with
 *   size -1 for an unknown dimension.
 * - types.proto: `DT_FLOAT = 1; DT_DOUBLE = 2; DT_INT32 = 3; DT_UINT8 = 4;
 *   DT_STRING = 7; DT_COMPLEX64 = 8; DT_INT64 = 9; DT_BOOL = 10;`.
 *
 * Each op's dtype becomes the attr `T` (or `dtype` for Placeholder, Const and
 * variables, as in TensorFlow) and its static shape `_output_shapes`, which
 * TensorBoard shows on the edges.
 *
 * @example
 * ```ts
 * import { toGraphDef } from "./graph_def.ts";
 * const bytes = toGraphDef({
 *   operations: [
 *     { name: "x", type: "Placeholder", inputs: [], dtype: "float32", shape: [null, 784] },
 *     { name: "w", type: "VariableV2", inputs: [], dtype: "float32", shape: [784, 10] },
 *     { name: "logits", type: "MatMul", inputs: ["x", "w"], dtype: "float32", shape: [null, 10] },
 *   ],
 * });
 * console.log(bytes.length);
 * ```
 *
 * @module
 */
import { ProtoWriter } from "./_proto.ts";

/** An input reference: a tensor name (`"x"`, `"x:1"`), or an object naming the op and output. */
export type InputLike =
  | string
  | { name: string }
  | { op: { name: string }; index?: number; outputIndex?: number };

/** What {@linkcode toGraphDef} needs of one operation. */
export interface GraphOpLike {
  name: string;
  /** The TensorFlow op type, e.g. "MatMul", "Placeholder", "VariableV2". */
  type: string;
  inputs: readonly InputLike[];
  dtype?: string | null;
  /** Static shape; null or -1 for an unknown dimension; null/undefined for unknown rank. */
  shape?: readonly (number | null)[] | null;
  /** Per-output dtype and shape (a v1 `Operation`'s outputs); used when `dtype`/`shape` are absent. */
  outputs?: readonly { dtype?: string | null; shape?: readonly (number | null)[] | null }[];
  attrs?: Record<string, unknown>;
  /** Control dependencies, written as `^name` inputs. */
  controlInputs?: readonly InputLike[];
  device?: string;
  /** A `Const`'s value; written as the `value` attr (a TensorProto) when it has at most 1024 elements. */
  value?: { dtype: string; shape: readonly number[]; size: number; dataSync(): ArrayLike<number> };
}

/** A graph: anything with a list of operations (v1 `Graph`, a trace, a hand-built list). */
export type GraphLike =
  | { operations: readonly GraphOpLike[] }
  | { getOperations(): readonly GraphOpLike[] }
  | readonly GraphOpLike[];

/** Thrown when an operation cannot be written as a NodeDef (bad name, dangling input). */
export class GraphDefError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "GraphDefError";
  }
}

/** DataType enum values (types.proto) for tfjs dtype names. */
export const DATA_TYPES: Readonly<Record<string, number>> = {
  float32: 1,
  float64: 2,
  int32: 3,
  uint8: 4,
  string: 7,
  complex64: 8,
  int64: 9,
  bool: 10,
};

function opsOf(graph: GraphLike): readonly GraphOpLike[] {
  if (Array.isArray(graph)) return graph as readonly GraphOpLike[];
  if ("operations" in graph) return graph.operations;
  if ("getOperations" in graph) return graph.getOperations();
  throw new GraphDefError(
    "toGraphDef: expected a Graph (with operations or getOperations()) or a list of operations",
  );
}

function inputName(i: InputLike): string {
  if (typeof i === "string") return i;
  if ("op" in i) {
    const idx = i.index ?? i.outputIndex ?? 0;
    return idx === 0 ? i.op.name : `${i.op.name}:${idx}`;
  }
  return i.name;
}

function shapeProto(shape: readonly (number | null)[] | null | undefined): Uint8Array {
  const w = new ProtoWriter();
  if (shape == null) return w.bool(3, true).finish();
  for (const d of shape) {
    w.bytes(2, new ProtoWriter().varint(1, d == null || d < 0 ? -1 : d).finish());
  }
  return w.finish();
}

function attrValue(v: unknown, key: string): Uint8Array | null {
  const w = new ProtoWriter();
  if (typeof v === "boolean") return w.bool(5, v).finish();
  if (typeof v === "number") {
    return Number.isInteger(v) ? w.varint(3, v).finish() : w.float(4, v).finish();
  }
  if (typeof v === "string") {
    return key === "dtype" || key === "T" || key === "DstT" || key === "SrcT"
      ? w.varint(6, DATA_TYPES[v] ?? 0).finish()
      : w.string(2, v).finish();
  }
  if (
    Array.isArray(v) && (key === "shape" || key.endsWith("_shape")) &&
    v.every((x) => x === null || typeof x === "number")
  ) {
    return w.bytes(7, shapeProto(v)).finish();
  }
  if (Array.isArray(v)) {
    const list = new ProtoWriter();
    if (v.every((x) => typeof x === "number" && Number.isInteger(x))) list.packedVarints(3, v);
    else if (v.every((x) => typeof x === "number")) list.packedFloats(4, v);
    else if (v.every((x) => typeof x === "string")) { for (const s of v) list.string(2, s); }
    else if (v.every((x) => typeof x === "boolean")) list.packedVarints(5, v.map(Number));
    else return null;
    return w.bytes(1, list.finish()).finish();
  }
  // Tensors, functions and nested objects have no faithful AttrValue here; they are skipped.
  return null;
}

const TYPE_ATTR_AS_DTYPE = new Set([
  "Placeholder",
  "Const",
  "VariableV2",
  "Variable",
  "VarHandleOp",
]);

/**
 * A small tensor as a TensorProto (tensor.proto: `DataType dtype = 1;
 * TensorShapeProto tensor_shape = 2; repeated float float_val = 5 [packed];
 * repeated int32 int_val = 7 [packed]; repeated bool bool_val = 11 [packed];`).
 */
function tensorProto(t: NonNullable<GraphOpLike["value"]>): Uint8Array {
  const w = new ProtoWriter()
    .varint(1, DATA_TYPES[t.dtype] ?? 0)
    .bytes(2, shapeProto(t.shape));
  const data = t.dataSync();
  if (t.dtype === "float32") w.packedFloats(5, data);
  else if (t.dtype === "bool") w.packedVarints(11, data);
  else w.packedVarints(7, data);
  return w.finish();
}

/** One NodeDef for `op`. */
function nodeDef(op: GraphOpLike, known: Set<string>): Uint8Array {
  if (!/^[A-Za-z0-9.][A-Za-z0-9_./-]*$/.test(op.name)) {
    throw new GraphDefError(
      `toGraphDef: op name ${JSON.stringify(op.name)} is not a valid TensorFlow node name ` +
        `(letters, digits, "_", ".", "/", "-")`,
    );
  }
  const w = new ProtoWriter().string(1, op.name).string(2, op.type);
  for (const i of [...op.inputs, ...(op.controlInputs ?? []).map((c) => `^${inputName(c)}`)]) {
    const name = inputName(i);
    const base = name.replace(/^\^/, "").replace(/:\d+$/, "");
    if (!known.has(base)) {
      throw new GraphDefError(
        `toGraphDef: op "${op.name}" has input "${name}" that is not an op of this graph`,
      );
    }
    w.string(3, name);
  }
  if (op.device) w.string(4, op.device);
  const attrs: [string, Uint8Array][] = [];
  const dtype = op.dtype ?? op.outputs?.[0]?.dtype;
  if (dtype) {
    const key = TYPE_ATTR_AS_DTYPE.has(op.type) ? "dtype" : "T";
    attrs.push([key, new ProtoWriter().varint(6, DATA_TYPES[dtype] ?? 0).finish()]);
  }
  const shapes = op.shape !== undefined ? [op.shape] : (op.outputs ?? []).map((o) => o.shape);
  if (shapes.length > 0) {
    const list = new ProtoWriter();
    for (const s of shapes) list.bytes(7, shapeProto(s));
    attrs.push(["_output_shapes", new ProtoWriter().bytes(1, list.finish()).finish()]);
    if (op.type === "Placeholder") {
      attrs.push(["shape", new ProtoWriter().bytes(7, shapeProto(shapes[0])).finish()]);
    }
  }
  if (op.value && op.value.size <= 1024 && op.value.dtype !== "string") {
    attrs.push(["value", new ProtoWriter().bytes(8, tensorProto(op.value)).finish()]);
  }
  for (const [k, v] of Object.entries(op.attrs ?? {})) {
    if (attrs.some(([key]) => key === k)) continue;
    const enc = attrValue(v, k);
    if (enc) attrs.push([k, enc]);
  }
  for (const [k, v] of attrs) w.bytes(5, new ProtoWriter().string(1, k).bytes(2, v).finish());
  return w.finish();
}

/** Serialize `graph` as a `GraphDef`. Inputs must name ops of the same graph. */
export function toGraphDef(graph: GraphLike): Uint8Array {
  const ops = opsOf(graph);
  const known = new Set(ops.map((o) => o.name));
  if (known.size !== ops.length) {
    throw new GraphDefError("toGraphDef: two operations share a name; names must be unique");
  }
  const w = new ProtoWriter();
  for (const op of ops) w.bytes(1, nodeDef(op, known));
  return w.finish();
}
