/**
 * gzip through the platform's `CompressionStream` (no hand-written deflate);
 * reading streams through `DecompressionStream` in `idx.ts`. Private to `lib/data/`.
 *
 * @example
 * ```ts
 * import { gzip, isGzip } from "./_gzip.ts";
 * const packed = await gzip(new Uint8Array([1, 2, 3]));
 * console.log(isGzip(packed)); // true
 * ```
 *
 * @module
 */

/** True when `bytes` start with the gzip magic number `1f 8b`. */
export function isGzip(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b;
}

/** Compress with gzip. */
export async function gzip(bytes: Uint8Array): Promise<Uint8Array> {
  const stream = new Blob([bytes as Uint8Array<ArrayBuffer>]).stream().pipeThrough(
    new CompressionStream("gzip"),
  );
  return new Uint8Array(await new Response(stream).arrayBuffer());
}
