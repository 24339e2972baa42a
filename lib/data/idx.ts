/**
 * The IDX file format of MNIST and its relatives (Fashion-MNIST, KMNIST,
 * EMNIST): a 4-byte magic number (two zero bytes, a data-type code, the number
 * of dimensions), one big-endian 32-bit size per dimension, then the data.
 * This module reads and writes the unsigned-byte kind (`idx1` labels, `idx3`
 * images), raw or gzip-compressed, with the platform's
 * `DecompressionStream`/`CompressionStream`.
 *
 * @example Write a tiny image file and read it back
 * ```ts
 * import { readIdx, writeIdx } from "./idx.ts";
 * const path = await Deno.makeTempFile({ suffix: "-idx3-ubyte.gz" });
 * await writeIdx(path, { dims: [2, 2, 2], data: new Uint8Array([0, 1, 2, 3, 4, 5, 6, 7]) });
 * const { dims, data } = await readIdx(path);
 * console.log(dims, data); // [2, 2, 2] Uint8Array(8) [0, 1, ..., 7]
 * ```
 *
 * @module
 */
import { writeFileAtomic } from "../io/atomic.ts";
import { gunzip, gzip, isGzip } from "./_gzip.ts";
import { IdxFormatError } from "./idx_error.ts";

export { IdxFormatError };
export type { IdxFault } from "./idx_error.ts";

/** The contents of an IDX file: its dimensions and its bytes, row-major. */
export interface IdxData {
  /** Sizes of each dimension, e.g. `[60000, 28, 28]` for MNIST's training images. */
  dims: number[];
  /** The values, `dims` multiplied together, row-major. */
  data: Uint8Array;
}

/** Options for {@linkcode readIdx}. */
export interface ReadIdxOptions {
  /** The name used in error messages when reading bytes (default `<bytes>`). */
  name?: string;
}

/** The IDX data-type codes (third byte of the magic number). Only `0x08` is supported. */
const IDX_DTYPES: Record<number, string> = {
  0x08: "unsigned byte",
  0x09: "signed byte",
  0x0b: "16-bit integer",
  0x0c: "32-bit integer",
  0x0d: "32-bit float",
  0x0e: "64-bit float",
};

/** Parse uncompressed IDX bytes. The returned `data` is a view into `bytes` (no copy). */
function parse(bytes: Uint8Array, file: string): IdxData {
  if (bytes.length < 4) {
    throw new IdxFormatError(
      file,
      "truncated",
      `only ${bytes.length} bytes: an IDX file starts with a 4-byte magic number`,
    );
  }
  if (bytes[0] !== 0 || bytes[1] !== 0) {
    const hex = Array.from(bytes.subarray(0, 4), (b) => b.toString(16).padStart(2, "0")).join(" ");
    throw new IdxFormatError(
      file,
      "magic",
      `wrong magic number ${hex}: an IDX file starts with 00 00 <type> <ndim> ` +
        `(e.g. 00 00 08 03 for images); is this an IDX file?`,
    );
  }
  const dtype = bytes[2];
  const ndim = bytes[3];
  if (dtype !== 0x08) {
    const what = IDX_DTYPES[dtype]
      ? `${IDX_DTYPES[dtype]} (0x${dtype.toString(16)})`
      : `unknown type 0x${dtype.toString(16).padStart(2, "0")}`;
    throw new IdxFormatError(
      file,
      "dtype",
      `unsupported data type ${what}: only unsigned-byte IDX files (type 0x08, as in MNIST) ` +
        `are supported`,
    );
  }
  if (ndim === 0) {
    throw new IdxFormatError(file, "shape", "the header declares 0 dimensions; expected 1 or more");
  }
  const headerBytes = 4 + 4 * ndim;
  if (bytes.length < headerBytes) {
    throw new IdxFormatError(
      file,
      "truncated",
      `truncated header: ${ndim} dimensions need ${headerBytes} header bytes, the file has ` +
        `${bytes.length}`,
    );
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const dims: number[] = [];
  let size = 1;
  for (let i = 0; i < ndim; i++) {
    const d = view.getUint32(4 + 4 * i, false);
    dims.push(d);
    size *= d;
  }
  const have = bytes.length - headerBytes;
  if (have < size) {
    throw new IdxFormatError(
      file,
      "truncated",
      `truncated data: dimensions [${dims.join(", ")}] need ${size} bytes after the header, ` +
        `the file has ${have}; the file is incomplete, download or write it again`,
    );
  }
  if (have > size) {
    throw new IdxFormatError(
      file,
      "trailing",
      `${have - size} unexpected bytes after the data of dimensions [${dims.join(", ")}]; ` +
        `the header does not match the file`,
    );
  }
  return { dims, data: bytes.subarray(headerBytes) };
}

/**
 * Read an unsigned-byte IDX file from a path or from bytes, gzip-compressed
 * (detected by its `1f 8b` magic, not by the file name) or not.
 *
 * @throws {IdxFormatError} for a missing file, a wrong magic number, an
 * unsupported data type, truncated or trailing data, or corrupt gzip.
 */
export async function readIdx(
  source: Uint8Array | string | URL,
  options: ReadIdxOptions = {},
): Promise<IdxData> {
  let bytes: Uint8Array;
  let file: string;
  if (source instanceof Uint8Array) {
    bytes = source;
    file = options.name ?? "<bytes>";
  } else {
    file = source instanceof URL ? source.pathname : source;
    try {
      bytes = await Deno.readFile(source);
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) {
        throw new IdxFormatError(file, "missing", "no such file; check the path", { cause: e });
      }
      throw new IdxFormatError(
        file,
        "unreadable",
        `cannot be read (${(e as Error).message}); check that it is a readable file`,
        { cause: e },
      );
    }
  }
  if (isGzip(bytes)) bytes = await gunzip(bytes, file);
  return parse(bytes, file);
}

/** Encode dimensions and data as uncompressed IDX bytes (validated like {@linkcode writeIdx}). */
export function encodeIdx(idx: IdxData, file = "<bytes>"): Uint8Array {
  const { dims, data } = idx;
  if (!(data instanceof Uint8Array)) {
    throw new IdxFormatError(file, "dtype", "data must be a Uint8Array (unsigned-byte IDX)");
  }
  if (!Array.isArray(dims) || dims.length < 1 || dims.length > 255) {
    throw new IdxFormatError(file, "shape", "dims must be an array of 1 to 255 sizes");
  }
  let size = 1;
  for (const d of dims) {
    if (!Number.isInteger(d) || d < 0 || d > 0xffffffff) {
      throw new IdxFormatError(
        file,
        "shape",
        `dims [${dims.join(", ")}] must be non-negative 32-bit integers`,
      );
    }
    size *= d;
  }
  if (size !== data.length) {
    throw new IdxFormatError(
      file,
      "shape",
      `dims [${dims.join(", ")}] hold ${size} values but data has ${data.length}`,
    );
  }
  const header = 4 + 4 * dims.length;
  const out = new Uint8Array(header + size);
  const view = new DataView(out.buffer);
  out[2] = 0x08;
  out[3] = dims.length;
  dims.forEach((d, i) => view.setUint32(4 + 4 * i, d, false));
  out.set(data, header);
  return out;
}

/**
 * Write an unsigned-byte IDX file, gzip-compressed when `path` ends in `.gz`.
 * The write is atomic: a temporary file in the same directory is renamed over
 * `path`, so a failed write leaves no half-written file.
 *
 * @throws {IdxFormatError} when `dims` do not match `data`.
 */
export async function writeIdx(path: string, idx: IdxData): Promise<void> {
  let bytes = encodeIdx(idx, path);
  if (path.endsWith(".gz")) bytes = await gzip(bytes);
  await writeFileAtomic(path, bytes);
}
