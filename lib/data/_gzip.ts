/**
 * gzip through the platform's `CompressionStream`/`DecompressionStream`
 * (no hand-written inflate). Private to `lib/data/`.
 *
 * @example
 * ```ts
 * import { gunzip, gzip, isGzip } from "./_gzip.ts";
 * const packed = await gzip(new Uint8Array([1, 2, 3]));
 * console.log(isGzip(packed), await gunzip(packed, "<bytes>"));
 * ```
 *
 * @module
 */
import { IdxFormatError } from "./idx_error.ts";

/** True when `bytes` start with the gzip magic number `1f 8b`. */
export function isGzip(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b;
}

/**
 * Decompress gzip data.
 *
 * @throws {IdxFormatError} (fault `gzip`) naming `file` for corrupt or truncated data.
 */
export async function gunzip(bytes: Uint8Array, file: string): Promise<Uint8Array> {
  try {
    const stream = new Blob([bytes as Uint8Array<ArrayBuffer>]).stream().pipeThrough(
      new DecompressionStream("gzip"),
    );
    return new Uint8Array(await new Response(stream).arrayBuffer());
  } catch (e) {
    throw new IdxFormatError(
      file,
      "gzip",
      `corrupt gzip data (${(e as Error).message}); download the file again or use the ` +
        `uncompressed version`,
      { cause: e },
    );
  }
}

/** Compress with gzip. */
export async function gzip(bytes: Uint8Array): Promise<Uint8Array> {
  const stream = new Blob([bytes as Uint8Array<ArrayBuffer>]).stream().pipeThrough(
    new CompressionStream("gzip"),
  );
  return new Uint8Array(await new Response(stream).arrayBuffer());
}
