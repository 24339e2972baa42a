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
import { FileWriteError, writeFileAtomic } from "../io/atomic.ts";
import { describeFsError, type PathFault, statRegularFile } from "../io/safe_path.ts";
import { gzip, isGzip } from "./_gzip.ts";
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

/** The largest file this reader accepts (header and data): 2 GiB. */
export const MAX_IDX_BYTES = 2 ** 31;

/** A parsed header: dimensions, data bytes and header bytes. */
interface Header {
  dims: number[];
  size: number;
  headerBytes: number;
}

/**
 * Parse the header at the start of `bytes`. Returns null when more bytes are
 * needed (and `final` is false); throws for a bad header.
 */
function parseHeader(bytes: Uint8Array, file: string, final: boolean): Header | null {
  if (bytes.length < 4) {
    if (!final) return null;
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
    if (!final) return null;
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
  if (headerBytes + size > MAX_IDX_BYTES) {
    throw new IdxFormatError(
      file,
      "shape",
      `dimensions [${dims.join(", ")}] declare ${size} bytes of data, more than the ` +
        `${MAX_IDX_BYTES} this reader accepts; the header is damaged or the file is not MNIST-sized`,
    );
  }
  return { dims, size, headerBytes };
}

function truncatedData(file: string, h: Header, have: number): IdxFormatError {
  return new IdxFormatError(
    file,
    "truncated",
    `truncated data: dimensions [${h.dims.join(", ")}] need ${h.size} bytes after the header, ` +
      `the file has ${have}; the file is incomplete, download or write it again`,
  );
}

function trailingData(file: string, h: Header, extra: number | null): IdxFormatError {
  return new IdxFormatError(
    file,
    "trailing",
    `${extra === null ? "unexpected bytes" : `${extra} unexpected bytes`} after the data of ` +
      `dimensions [${h.dims.join(", ")}]; the header does not match the file`,
  );
}

/** Parse uncompressed IDX bytes. The returned `data` is a view into `bytes` (no copy). */
function parse(bytes: Uint8Array, file: string): IdxData {
  const h = parseHeader(bytes, file, true)!;
  const have = bytes.length - h.headerBytes;
  if (have < h.size) throw truncatedData(file, h, have);
  if (have > h.size) throw trailingData(file, h, have - h.size);
  return { dims: h.dims, data: bytes.subarray(h.headerBytes) };
}

/**
 * Read IDX from a stream of (uncompressed) bytes: the header first, then at
 * most the declared data plus one byte, so a small gzip file that inflates to
 * gigabytes costs no more than its header declares. `knownSize` (a raw file's
 * size from `stat`) lets a size mismatch fail before the data is read.
 */
async function parseStream(
  stream: ReadableStream<Uint8Array>,
  file: string,
  gz: boolean,
  knownSize?: number,
): Promise<IdxData> {
  const reader = stream.getReader();
  let buf = new Uint8Array(1024);
  let n = 0;
  let h: Header | null = null;
  const gzipError = (e: unknown) =>
    new IdxFormatError(
      file,
      "gzip",
      `corrupt gzip data (${(e as Error).message}); download the file again or use the ` +
        `uncompressed version`,
      { cause: e },
    );
  try {
    while (true) {
      let chunk: ReadableStreamReadResult<Uint8Array>;
      try {
        chunk = await reader.read();
      } catch (e) {
        if (gz) throw gzipError(e);
        throw new IdxFormatError(file, "unreadable", `cannot be read (${(e as Error).message})`);
      }
      if (chunk.done) break;
      let value = chunk.value;
      while (value.length > 0) {
        const limit = h ? h.headerBytes + h.size + 1 : 4 + 4 * 255;
        const take = Math.min(value.length, limit - n);
        if (n + take > buf.length) {
          const grown = new Uint8Array(Math.min(limit, Math.max(buf.length * 2, n + take)));
          grown.set(buf.subarray(0, n));
          buf = grown;
        }
        buf.set(value.subarray(0, take), n);
        n += take;
        value = value.subarray(take);
        if (h === null) {
          h = parseHeader(buf.subarray(0, n), file, false);
          if (h !== null && knownSize !== undefined) {
            const have = knownSize - h.headerBytes;
            if (have < h.size) throw truncatedData(file, h, have);
            if (have > h.size) throw trailingData(file, h, have - h.size);
          }
        }
        if (h !== null && n > h.headerBytes + h.size) throw trailingData(file, h, null);
      }
    }
  } finally {
    await reader.cancel().catch(() => {});
  }
  if (h === null) h = parseHeader(buf.subarray(0, n), file, true)!;
  const have = n - h.headerBytes;
  if (have < h.size) throw truncatedData(file, h, have);
  if (have > h.size) throw trailingData(file, h, have - h.size);
  return { dims: h.dims, data: buf.subarray(h.headerBytes, n) };
}

/** Compressed bytes go to the decompressor this many at a time: at most ~1000× that comes out per step. */
const INFLATE_SLICE = 4096;

/**
 * gunzip as a stream that respects backpressure: the platform's
 * `DecompressionStream` inflates each input chunk whole, so the input is cut
 * into small slices first and a reader that stops early stops the inflation.
 */
function inflate(compressed: ReadableStream<Uint8Array>): ReadableStream<Uint8Array> {
  const slices = new TransformStream<Uint8Array, Uint8Array>({
    transform(chunk, controller) {
      for (let i = 0; i < chunk.length; i += INFLATE_SLICE) {
        controller.enqueue(chunk.subarray(i, i + INFLATE_SLICE));
      }
    },
  });
  return compressed.pipeThrough(slices).pipeThrough(
    new DecompressionStream("gzip") as unknown as TransformStream<Uint8Array, Uint8Array>,
  );
}

/**
 * Read an unsigned-byte IDX file from a path or from bytes, gzip-compressed
 * (detected by its `1f 8b` magic, not by the file name) or not. A path must
 * name a regular file (a FIFO or device is refused before it is opened); gzip
 * is decompressed as a stream, the header checked first and reading stopped
 * one byte past the declared size.
 *
 * @throws {IdxFormatError} for a missing file, a wrong magic number, an
 * unsupported data type, truncated or trailing data, or corrupt gzip.
 */
export async function readIdx(
  source: Uint8Array | string | URL,
  options: ReadIdxOptions = {},
): Promise<IdxData> {
  if (source instanceof Uint8Array) {
    const file = options.name ?? "<bytes>";
    if (!isGzip(source)) return parse(source, file);
    const stream = new Blob([source as Uint8Array<ArrayBuffer>]).stream();
    return await parseStream(inflate(stream), file, true);
  }
  const file = source instanceof URL ? source.pathname : source;
  const fail = (fault: PathFault, message: string) =>
    fault === "missing"
      ? new IdxFormatError(file, "missing", "no such file; check the path")
      : new IdxFormatError(
        file,
        "unreadable",
        `cannot be read: ${message}; check that it is a readable file`,
      );
  const info = await statRegularFile(file, fail);
  let f: Deno.FsFile;
  try {
    f = await Deno.open(source, { read: true });
  } catch (e) {
    const d = describeFsError(file, e);
    throw fail(d.fault, d.message);
  }
  // Peek at the magic number, then stream the file from its start.
  const magic = new Uint8Array(2);
  let got = 0;
  try {
    while (got < 2) {
      const r = await f.read(magic.subarray(got));
      if (r === null) break;
      got += r;
    }
    await f.seek(0, Deno.SeekMode.Start);
  } catch (e) {
    f.close();
    throw fail("unreadable", (e as Error).message);
  }
  if (isGzip(magic.subarray(0, got))) {
    return await parseStream(inflate(f.readable), file, true);
  }
  return await parseStream(f.readable, file, false, info.size);
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
 * @throws {IdxFormatError} when `dims` do not match `data` (fault `shape` or
 * `dtype`), or when the file cannot be written (fault `unwritable`, naming
 * `path`, e.g. a folder that does not exist).
 */
export async function writeIdx(path: string, idx: IdxData): Promise<void> {
  let bytes = encodeIdx(idx, path);
  if (path.endsWith(".gz")) bytes = await gzip(bytes);
  try {
    await writeFileAtomic(path, bytes);
  } catch (e) {
    const reason = e instanceof FileWriteError ? e.reason : String(e);
    throw new IdxFormatError(path, "unwritable", reason, { cause: e });
  }
}
