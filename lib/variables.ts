/**
 * Variables, TensorFlow style, and checkpoints of them.
 *
 * TensorFlow.js's `tf.variable(initial, trainable, name)` already gives a
 * mutable tensor with `assign`. This module adds what `tf.Variable` has in
 * Python — {@linkcode variable} with named options, {@linkcode assign},
 * {@linkcode assignAdd}, {@linkcode assignSub} (TensorFlow's shape and dtype
 * checks, returning the variable) and {@linkcode readValue} — and
 * `tf.train.Checkpoint`-like files:
 * {@linkcode saveVariables} writes a set of variables to one file, atomically;
 * {@linkcode restoreVariables} checks the whole file against the variables
 * before it assigns anything, so a bad checkpoint leaves them unchanged and
 * throws a {@linkcode CheckpointError} that names the file and the variable.
 *
 * @example Save, change, restore
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { assignAdd, restoreVariables, saveVariables, variable } from "./variables.ts";
 *
 * const w = variable(tf.ones([2, 2]), { name: "w" });
 * const step = variable(tf.scalar(0, "int32"), { name: "step", trainable: false });
 * const path = (await Deno.makeTempDir()) + "/model.ckpt";
 * await saveVariables(path, { w, step }, { metadata: { epoch: 3 } });
 * assignAdd(w, tf.ones([2, 2]));
 * assignAdd(step, 10);
 * const info = await restoreVariables(path, { w, step });
 * w.print(); // back to ones
 * console.log(info.metadata); // { epoch: 3 }
 * ```
 *
 * ## The checkpoint file (format version 1)
 *
 * One file, little-endian throughout:
 *
 * | bytes | content |
 * |---|---|
 * | 0–7 | magic `TFJSCKPT` (ASCII) |
 * | 8–11 | uint32 format version (1) |
 * | 12–15 | uint32 `H`, the header's byte length |
 * | 16 … 16+H | header: UTF-8 JSON, space-padded so the data starts at a multiple of 8 |
 * | … +D | data: each variable's values, one after another (float32 and int32: 4 bytes each, bool: 1 byte) |
 * | last 4 | uint32 CRC-32 (IEEE, as zlib/PNG) of every byte before it |
 *
 * The header is `{ format: "tfjs-deno-checkpoint", version: 1, dataByteLength: D,
 * metadata: {...}, variables: [{ name, dtype, shape, offset, byteLength, crc32 }] }`,
 * `offset` counted from the start of the data and `crc32` over that variable's
 * bytes (so a damaged file names the damaged variable). The file is written
 * to a temporary file in the same directory and renamed over the target, so a
 * crash never leaves a half-written checkpoint under the real name.
 *
 * The TensorFlow (Python) equivalent is `tf.train.Checkpoint(w=w, step=step)`
 * with `.write(path)` and `.read(path)`, which store an index file and data
 * shards instead of one file.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { dirname } from "node:path";
import { crc32 } from "node:zlib";
import { FileWriteError, writeFileAtomic } from "./io/atomic.ts";
import { type PathFault, readAtMost, statRegularFile } from "./io/safe_path.ts";
import { assignVariable, hasSymbolic, inFunctionGraph } from "./v1/resource_variables.ts";
import { readVariable } from "./v1/ops.ts";
import type { SymbolicTensor } from "./v1/graph.ts";

// ---------------------------------------------------------------------------
// Variables

/** Options of {@linkcode variable} (the keyword arguments of `tf.Variable`). */
export interface VariableOptions {
  /** Name, unique among live variables (TensorFlow.js registers them by name). Default: a number. */
  name?: string;
  /** Whether GradientTape watches it and optimizers update it. Default true. */
  trainable?: boolean;
  /** Cast the initial value to this dtype. */
  dtype?: "float32" | "int32" | "bool";
}

/** A variable could not be created or updated (duplicate name, wrong value). */
export class VariableError extends Error {
  override name = "VariableError";
}

/**
 * Creates a `tf.Variable`, like Python's `tf.Variable(initial, name=, trainable=)`.
 * A tensor initial value is copied (the caller still owns and disposes it);
 * arrays and numbers become float32 unless `dtype` says otherwise.
 */
export function variable(
  initial: tf.Tensor | tf.TensorLike | (() => tf.Tensor | tf.TensorLike),
  options: VariableOptions = {},
): tf.Variable {
  const { name, trainable = true, dtype } = options;
  if (initial === undefined || initial === null) {
    throw new VariableError(
      "variable(): an initial value is required (a tensor, a number, an array, or a function " +
        "returning one), as TensorFlow's tf.Variable(initial_value) requires",
    );
  }
  if (name !== undefined) {
    if (typeof name !== "string" || name === "") {
      throw new VariableError(`variable(): name must be a non-empty string, got ${String(name)}`);
    }
    const registered = tf.engine().registeredVariables;
    if (registered[name] !== undefined) {
      throw new VariableError(
        `variable(): a variable named "${name}" already exists. Names are unique in ` +
          `TensorFlow.js: choose another name, or dispose the old one first ` +
          `(tf.engine().registeredVariables["${name}"].dispose(), e.g. when re-running a cell)`,
      );
    }
  }
  return tf.tidy(() => {
    // TF: the initial value "can also be a callable with no argument that returns the initial value".
    const value = typeof initial === "function" ? initial() : initial;
    const t = value instanceof tf.Tensor ? value : tf.tensor(value, undefined, dtype);
    return tf.variable(t, trainable, name, dtype);
  });
}

/**
 * The value of `v` now, as a tensor of its own (Python's `v.read_value()`): a
 * later `assign` to `v` does not change it. Read inside a `GradientTape`, it is
 * connected to `v` like any use of `v`; in a traced function it is a
 * `ReadVariableOp` of the trace (read at every call).
 */
export function readValue(v: tf.Variable): tf.Tensor {
  if (!(v instanceof tf.Variable)) {
    throw new VariableError(`readValue(): the argument must be a tf.Variable, got ${String(v)}`);
  }
  if (v.isDisposed) throw new VariableError(`readValue(): variable "${v.name}" was disposed`);
  if (inFunctionGraph()) return readVariable(v) as unknown as tf.Tensor;
  return tf.clone(v);
}

/**
 * `v ± delta` with TensorFlow's checks (`AssignAddVariableOp`): `delta` must
 * have the variable's shape exactly (no broadcasting: TensorFlow raises
 * "Cannot update variable with shape [2,2] using a Tensor with shape [],
 * shapes must be equal") and, as a tensor, its dtype; plain numbers are
 * converted to the variable's dtype (a non-integer for an int32 variable is
 * refused). In a traced function the update is an op of the trace instead.
 */
function updated(
  v: tf.Variable,
  what: "assign" | "assignAdd" | "assignSub",
  delta: tf.Tensor | tf.TensorLike | SymbolicTensor,
): tf.Variable {
  if (!(v instanceof tf.Variable)) {
    throw new VariableError(`${what}(): the first argument must be a tf.Variable`);
  }
  if (v.isDisposed) throw new VariableError(`${what}(): variable "${v.name}" was disposed`);
  const numeric = v.dtype === "float32" || v.dtype === "int32";
  if (!numeric && (what !== "assign" || v.dtype !== "bool")) {
    throw new VariableError(`${what}(): variable "${v.name}" has dtype ${v.dtype}; need a number`);
  }
  if (inFunctionGraph() || hasSymbolic(delta)) {
    const type = what === "assign"
      ? "AssignVariableOp"
      : what === "assignAdd"
      ? "AssignAddVariableOp"
      : "AssignSubVariableOp";
    assignVariable(v, delta as never, type);
    return v;
  }
  const noun = what === "assign" ? "value" : "delta";
  if (delta instanceof tf.Tensor && delta.isDisposed) {
    throw new VariableError(`${what}(): the ${noun} for variable "${v.name}" was disposed`);
  }
  tf.tidy(() => {
    let d: tf.Tensor;
    if (delta instanceof tf.Tensor) {
      if (delta.dtype !== v.dtype) {
        throw new VariableError(
          `${what}(): the ${noun} is ${delta.dtype}, variable "${v.name}" ${v.dtype}: ` +
            `TensorFlow does not cast implicitly (cast the ${noun} with .cast("${v.dtype}"))`,
        );
      }
      d = delta;
    } else {
      const flat = [delta].flat(Infinity as 1);
      if (v.dtype === "int32" && flat.some((x) => typeof x === "number" && !Number.isInteger(x))) {
        throw new VariableError(
          `${what}(): ${JSON.stringify(delta)} cannot be converted to int32 exactly ` +
            `(variable "${v.name}")`,
        );
      }
      d = tf.tensor(delta as number[], undefined, v.dtype as "float32" | "int32" | "bool");
    }
    if (!tf.util.arraysEqual(d.shape, v.shape)) {
      throw new VariableError(
        `${what}(): cannot update variable "${v.name}" with shape [${v.shape}] using a ` +
          `tensor with shape [${d.shape}]: shapes must be equal, as in TensorFlow (no ` +
          `broadcasting; e.g. tf.fill([${v.shape}], x) for a constant ${noun})`,
      );
    }
    v.assign(what === "assign" ? d : what === "assignAdd" ? tf.add(v, d) : tf.sub(v, d));
  });
  return v;
}

/**
 * `v = value` in place (Python's `v.assign(value)`), with TensorFlow's checks:
 * the value must have the variable's shape (a variable cannot be resized) and,
 * as a tensor, its dtype; plain numbers and arrays take the variable's dtype
 * (`a.assign([1, 2])` keeps a float32 variable float32). Returns `v`. In a
 * traced function the assignment is an `AssignVariableOp` of the trace.
 */
export function assign(
  v: tf.Variable,
  value: tf.Tensor | tf.TensorLike | SymbolicTensor,
): tf.Variable {
  return updated(v, "assign", value);
}

/** `v += delta` in place (Python's `v.assign_add(delta)`, same shape and dtype); returns `v`. */
export function assignAdd(
  v: tf.Variable,
  delta: tf.Tensor | tf.TensorLike | SymbolicTensor,
): tf.Variable {
  return updated(v, "assignAdd", delta);
}

/** `v -= delta` in place (Python's `v.assign_sub(delta)`, same shape and dtype); returns `v`. */
export function assignSub(
  v: tf.Variable,
  delta: tf.Tensor | tf.TensorLike | SymbolicTensor,
): tf.Variable {
  return updated(v, "assignSub", delta);
}

// ---------------------------------------------------------------------------
// Checkpoints

/** A checkpoint could not be written, read or applied. Names the file and the variable. */
export class CheckpointError extends Error {
  override name = "CheckpointError";
  /** The checkpoint file. */
  readonly path: string;
  /** The variable at fault, when one is. */
  readonly variable?: string;
  constructor(path: string, message: string, variable?: string) {
    super(
      `checkpoint ${path}${variable !== undefined ? `, variable "${variable}"` : ""}: ${message}`,
    );
    this.path = path;
    this.variable = variable;
  }
}

/** The variables to save or restore: a list (each saved under `v.name`) or a record (keys as names). */
export type VariableSet = readonly tf.Variable[] | Readonly<Record<string, tf.Variable>>;

/** The dtypes a checkpoint stores. */
export type CheckpointDtype = "float32" | "int32" | "bool";

/** One variable's entry in a checkpoint header. */
export interface CheckpointEntry {
  name: string;
  dtype: CheckpointDtype;
  shape: number[];
  /** Byte offset from the start of the data section. */
  offset: number;
  byteLength: number;
  /** CRC-32 of the variable's bytes. */
  crc32: number;
}

/** What {@linkcode saveVariables} and {@linkcode restoreVariables} report. */
export interface CheckpointInfo {
  path: string;
  /** Variables written or restored, in file order. */
  names: string[];
  /** The metadata saved with the checkpoint (e.g. `{ step: 1200 }`). */
  metadata: Record<string, unknown>;
  /** File size in bytes. */
  bytes: number;
  /** Restore only: variables in the file that were not asked for. */
  unused?: string[];
}

/** A checkpoint read into memory by {@linkcode readCheckpoint}. */
export interface CheckpointContents {
  path: string;
  version: number;
  metadata: Record<string, unknown>;
  entries: CheckpointEntry[];
  /** File size in bytes. */
  bytes: number;
  /** The values of each variable, by name. */
  values: Map<string, Float32Array | Int32Array | Uint8Array>;
}

/** Options of {@linkcode saveVariables}. */
export interface SaveVariablesOptions {
  /** JSON-serialisable facts stored with the variables (step, epoch, config...). */
  metadata?: Record<string, unknown>;
}

const MAGIC = "TFJSCKPT";
const VERSION = 1;
const FORMAT = "tfjs-deno-checkpoint";
const PREFIX = 16;
const BYTES: Record<CheckpointDtype, number> = { float32: 4, int32: 4, bool: 1 };

function named(path: string, vars: VariableSet): [string, tf.Variable][] {
  let pairs: [string, tf.Variable][];
  if (Array.isArray(vars)) {
    pairs = (vars as readonly tf.Variable[]).map((v, i) => {
      if (!(v instanceof tf.Variable)) {
        throw new CheckpointError(path, `item ${i} of the variable list is not a tf.Variable`);
      }
      return [v.name, v];
    });
  } else if (vars !== null && typeof vars === "object") {
    pairs = Object.entries(vars as Record<string, tf.Variable>);
    for (const [name, v] of pairs) {
      if (!(v instanceof tf.Variable)) {
        throw new CheckpointError(path, "not a tf.Variable", name);
      }
    }
  } else {
    throw new CheckpointError(path, "variables must be a list or a record of tf.Variable");
  }
  const seen = new Set<string>();
  for (const [name, v] of pairs) {
    if (name === "") throw new CheckpointError(path, "empty variable name");
    if (seen.has(name)) {
      throw new CheckpointError(path, "two variables share this name; pass a record", name);
    }
    seen.add(name);
    if (v.isDisposed) throw new CheckpointError(path, "the variable is disposed", name);
    if (!(v.dtype in BYTES)) {
      throw new CheckpointError(path, `dtype ${v.dtype} cannot be checkpointed`, name);
    }
  }
  return pairs;
}

function encode(
  dtype: CheckpointDtype,
  values: tf.TypedArray | number[],
  size: number,
): Uint8Array {
  const out = new Uint8Array(size * BYTES[dtype]);
  const view = new DataView(out.buffer);
  for (let i = 0; i < size; i++) {
    const x = Number(values[i]);
    if (dtype === "float32") view.setFloat32(i * 4, x, true);
    else if (dtype === "int32") view.setInt32(i * 4, x, true);
    else out[i] = x ? 1 : 0;
  }
  return out;
}

function decode(dtype: CheckpointDtype, bytes: Uint8Array): Float32Array | Int32Array | Uint8Array {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (dtype === "bool") return bytes.slice();
  const n = bytes.byteLength / 4;
  const out = dtype === "float32" ? new Float32Array(n) : new Int32Array(n);
  for (let i = 0; i < n; i++) {
    out[i] = dtype === "float32" ? view.getFloat32(i * 4, true) : view.getInt32(i * 4, true);
  }
  return out;
}

/**
 * Encodes `vars` as the bytes of a checkpoint file (format above), without
 * writing them: for writers that commit the file together with others (the
 * Estimator's checkpoint and its index, through `commitFiles`). `path` is used
 * in error messages.
 */
export async function encodeCheckpoint(
  path: string,
  vars: VariableSet,
  options: SaveVariablesOptions = {},
): Promise<{ bytes: Uint8Array; info: CheckpointInfo }> {
  const pairs = named(path, vars);
  const metadata = options.metadata ?? {};
  let metaJson: string;
  try {
    metaJson = JSON.stringify(metadata);
  } catch (e) {
    throw new CheckpointError(path, `metadata is not JSON-serialisable: ${(e as Error).message}`);
  }
  const blobs: Uint8Array[] = [];
  const entries: CheckpointEntry[] = [];
  let offset = 0;
  for (const [name, v] of pairs) {
    const dtype = v.dtype as CheckpointDtype;
    const bytes = encode(dtype, await v.data(), v.size);
    entries.push({ name, dtype, shape: [...v.shape], offset, byteLength: bytes.length, crc32: 0 });
    entries[entries.length - 1].crc32 = crc32(bytes);
    blobs.push(bytes);
    offset += bytes.length;
  }
  const header = {
    format: FORMAT,
    version: VERSION,
    dataByteLength: offset,
    metadata: JSON.parse(metaJson),
    variables: entries,
  };
  let headerBytes = new TextEncoder().encode(JSON.stringify(header));
  const pad = (8 - ((PREFIX + headerBytes.length) % 8)) % 8;
  if (pad > 0) {
    const padded = new Uint8Array(headerBytes.length + pad).fill(0x20);
    padded.set(headerBytes);
    headerBytes = padded;
  }
  const total = PREFIX + headerBytes.length + offset + 4;
  const file = new Uint8Array(total);
  const view = new DataView(file.buffer);
  file.set(new TextEncoder().encode(MAGIC), 0);
  view.setUint32(8, VERSION, true);
  view.setUint32(12, headerBytes.length, true);
  file.set(headerBytes, PREFIX);
  let at = PREFIX + headerBytes.length;
  for (const b of blobs) {
    file.set(b, at);
    at += b.length;
  }
  view.setUint32(total - 4, crc32(file.subarray(0, total - 4)), true);
  return { bytes: file, info: { path, names: entries.map((e) => e.name), metadata, bytes: total } };
}

/**
 * Writes `vars` to the checkpoint file `path` (format above), atomically:
 * through a temporary file in the same directory, renamed at the end. Creates
 * the directory if needed. Returns what was written.
 */
export async function saveVariables(
  path: string,
  vars: VariableSet,
  options: SaveVariablesOptions = {},
): Promise<CheckpointInfo> {
  const { bytes, info } = await encodeCheckpoint(path, vars, options);
  await writeCheckpointFile(path, bytes);
  return info;
}

/** Creates the directory, then writes atomically; any failure is a CheckpointError. */
async function writeCheckpointFile(path: string, bytes: Uint8Array): Promise<void> {
  const dir = dirname(path);
  try {
    await Deno.mkdir(dir, { recursive: true });
  } catch (e) {
    throw new CheckpointError(path, `cannot create directory ${dir}: ${(e as Error).message}`);
  }
  try {
    await writeFileAtomic(path, bytes);
  } catch (e) {
    const reason = e instanceof FileWriteError ? e.reason : (e as Error).message;
    throw new CheckpointError(path, `could not be written: ${reason}`);
  }
}

/**
 * Reads and fully validates a checkpoint file: magic, version, header, sizes
 * (truncation), the file's CRC-32 and each variable's CRC-32. Throws a
 * {@linkcode CheckpointError} naming the fault.
 */
export async function readCheckpoint(path: string): Promise<CheckpointContents> {
  const fail = (fault: PathFault, message: string) =>
    new CheckpointError(
      path,
      fault === "missing"
        ? "file not found; check the path, or save a checkpoint first with saveVariables()"
        : message,
    );
  // A regular file only (a FIFO or device would block or never end), read up to its size.
  const info = await statRegularFile(path, fail);
  const file = await readAtMost(path, info.size, fail);
  return parseCheckpoint(path, file);
}

function parseCheckpoint(path: string, file: Uint8Array): CheckpointContents {
  const fail = (msg: string, variable?: string): never => {
    throw new CheckpointError(path, msg, variable);
  };
  if (file.length < PREFIX + 4) {
    fail(`truncated or not a checkpoint: only ${file.length} bytes`);
  }
  const magic = new TextDecoder().decode(file.subarray(0, 8));
  if (magic !== MAGIC) {
    fail(
      `not a checkpoint of this project (magic "${magic.replace(/[^ -~]/g, "?")}", ` +
        `expected "${MAGIC}"); write it with saveVariables()`,
    );
  }
  const view = new DataView(file.buffer, file.byteOffset, file.byteLength);
  const version = view.getUint32(8, true);
  if (version !== VERSION) {
    fail(`format version ${version}, this code reads version ${VERSION}`);
  }
  const headerLength = view.getUint32(12, true);
  if (PREFIX + headerLength + 4 > file.length) {
    fail(
      `truncated: the header needs ${PREFIX + headerLength + 4} bytes, the file has ` +
        `${file.length}`,
    );
  }
  // deno-lint-ignore no-explicit-any
  let header: any;
  try {
    header = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(
      file.subarray(PREFIX, PREFIX + headerLength),
    ));
  } catch {
    fail("corrupt header (not valid JSON)");
  }
  if (
    header?.format !== FORMAT || !Array.isArray(header.variables) ||
    !Number.isInteger(header.dataByteLength)
  ) {
    fail(`corrupt header (expected format "${FORMAT}" with variables and dataByteLength)`);
  }
  const dataStart = PREFIX + headerLength;
  const expected = dataStart + header.dataByteLength + 4;
  if (file.length < expected) {
    fail(`truncated: ${file.length} bytes, the header promises ${expected}`);
  }
  if (file.length > expected) {
    fail(`corrupt: ${file.length - expected} unexpected bytes after the data`);
  }
  const stored = view.getUint32(file.length - 4, true);
  const fileCrcOk = crc32(file.subarray(0, file.length - 4)) === stored;
  const entries: CheckpointEntry[] = [];
  const values = new Map<string, Float32Array | Int32Array | Uint8Array>();
  for (const e of header.variables) {
    const name = typeof e?.name === "string" ? e.name : "?";
    const ok = typeof e?.name === "string" && typeof e.dtype === "string" &&
      Object.hasOwn(BYTES, e.dtype) && Array.isArray(e.shape) &&
      e.shape.every((d: unknown) => Number.isInteger(d) && (d as number) >= 0) &&
      Number.isInteger(e.offset) && Number.isInteger(e.byteLength) &&
      e.byteLength ===
        e.shape.reduce((a: number, b: number) => a * b, 1) * BYTES[e.dtype as CheckpointDtype] &&
      e.offset >= 0 && e.offset + e.byteLength <= header.dataByteLength;
    if (!ok) fail("corrupt header entry (name, dtype, shape, offset or length)", name);
    if (values.has(name)) fail("appears twice in the header", name);
    const bytes = file.subarray(dataStart + e.offset, dataStart + e.offset + e.byteLength);
    if (crc32(bytes) !== e.crc32) {
      fail("corrupt data (CRC-32 mismatch); the file was damaged after it was written", name);
    }
    entries.push({
      name,
      dtype: e.dtype,
      shape: e.shape,
      offset: e.offset,
      byteLength: e.byteLength,
      crc32: e.crc32,
    });
    values.set(name, decode(e.dtype, bytes));
  }
  if (!fileCrcOk) fail("corrupt (file CRC-32 mismatch; the header or padding was damaged)");
  const metadata = header.metadata !== null && typeof header.metadata === "object"
    ? header.metadata
    : {};
  return { path, version, metadata, entries, bytes: file.length, values };
}

/** Options of {@linkcode restoreVariables}. */
export interface RestoreVariablesOptions {
  /** Accept a file with variables that were not asked for (default true; they are reported). */
  allowUnused?: boolean;
}

/**
 * Restores `vars` from the checkpoint at `path`. Everything is checked first —
 * the file (see {@linkcode readCheckpoint}), that each variable is in it, with
 * the same shape and dtype — and only then are the variables assigned, so on
 * any {@linkcode CheckpointError} they are all left unchanged.
 */
export async function restoreVariables(
  path: string,
  vars: VariableSet,
  options: RestoreVariablesOptions = {},
): Promise<CheckpointInfo> {
  const pairs = named(path, vars);
  const ckpt = await readCheckpoint(path);
  const byName = new Map(ckpt.entries.map((e) => [e.name, e]));
  for (const [name, v] of pairs) {
    const e = byName.get(name);
    if (e === undefined) {
      const have = ckpt.entries.map((x) => x.name);
      throw new CheckpointError(
        path,
        `not in the checkpoint (it holds ${have.length}: ${have.slice(0, 10).join(", ")}` +
          `${have.length > 10 ? ", ..." : ""}); save it first, or restore a record whose keys ` +
          "match the saved names",
        name,
      );
    }
    if (e.dtype !== v.dtype) {
      throw new CheckpointError(path, `dtype ${e.dtype} in the file, ${v.dtype} expected`, name);
    }
    if (!tf.util.arraysEqual(e.shape, v.shape)) {
      throw new CheckpointError(
        path,
        `shape [${e.shape}] in the file, [${v.shape}] expected (a different model?)`,
        name,
      );
    }
  }
  const wanted = new Set(pairs.map(([n]) => n));
  const unused = ckpt.entries.map((e) => e.name).filter((n) => !wanted.has(n));
  if (options.allowUnused === false && unused.length > 0) {
    throw new CheckpointError(
      path,
      `holds variables that were not asked for: ${unused.join(", ")}`,
    );
  }
  // All checked: now assign.
  tf.tidy(() => {
    for (const [name, v] of pairs) {
      v.assign(tf.tensor(ckpt.values.get(name)!, v.shape, v.dtype));
    }
  });
  const order = ckpt.entries.map((e) => e.name).filter((n) => wanted.has(n));
  return { path, names: order, metadata: ckpt.metadata, bytes: ckpt.bytes, unused };
}

/** Names, shapes and dtypes in a checkpoint (Python's `tf.train.list_variables`). */
export async function listCheckpoint(
  path: string,
): Promise<{ name: string; shape: number[]; dtype: CheckpointDtype }[]> {
  const ckpt = await readCheckpoint(path);
  return ckpt.entries.map(({ name, shape, dtype }) => ({ name, shape, dtype }));
}
