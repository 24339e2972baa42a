/**
 * A minimal PNG encoder for 8-bit grayscale images (what MNIST digits are),
 * enough for TensorBoard's Images dashboard.
 *
 * Layout (PNG spec, ISO/IEC 15948): the 8-byte signature, then chunks of
 * `uint32 length, 4-byte type, data, uint32 CRC-32(type + data)`: `IHDR`
 * (width, height, bit depth 8, colour type 0 = grayscale), one `IDAT` holding
 * the zlib-compressed scanlines (each prefixed with filter byte 0), `IEND`.
 * The zlib stream comes from the platform (`node:zlib` `deflateSync`, the same
 * RFC 1950 format as `CompressionStream("deflate")`, but synchronous so that
 * the summary writer's methods stay synchronous like tfjs-node's).
 *
 * @example
 * ```ts
 * import { encodeGrayPng } from "./png.ts";
 * const png = encodeGrayPng(new Uint8Array(28 * 28).fill(128), 28, 28);
 * console.log(png.length);
 * ```
 *
 * @module
 */
import { deflateSync } from "node:zlib";

const CRC_TABLE: Uint32Array = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0xedb88320 : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

/** The CRC-32 of PNG and zip (ISO 3309 polynomial), unsigned. `"123456789"` → 0xCBF43926. */
export function crc32(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) c = CRC_TABLE[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** Thrown for pixel buffers whose size does not match the stated width and height. */
export class PngError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "PngError";
  }
}

function chunk(type: string, data: Uint8Array): Uint8Array {
  const out = new Uint8Array(12 + data.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, data.length);
  for (let i = 0; i < 4; i++) out[4 + i] = type.charCodeAt(i);
  out.set(data, 8);
  view.setUint32(8 + data.length, crc32(out.subarray(4, 8 + data.length)));
  return out;
}

/**
 * Encode `width*height` grayscale pixels (row-major) as a PNG. `Uint8Array`
 * values are used as they are; other arrays are taken as floats in [0, 1]
 * and scaled to 0..255 (clamped).
 */
export function encodeGrayPng(
  pixels: ArrayLike<number>,
  width: number,
  height: number,
): Uint8Array {
  if (!(width > 0 && height > 0) || pixels.length !== width * height) {
    throw new PngError(
      `encodeGrayPng: got ${pixels.length} pixels for ${width}x${height}; ` +
        `pass exactly width*height values`,
    );
  }
  const raw = new Uint8Array(height * (width + 1));
  const scale = pixels instanceof Uint8Array ? 1 : 255;
  for (let y = 0; y < height; y++) {
    raw[y * (width + 1)] = 0; // filter type None
    for (let x = 0; x < width; x++) {
      const v = Math.round(pixels[y * width + x] * scale);
      raw[y * (width + 1) + 1 + x] = v < 0 ? 0 : v > 255 ? 255 : v;
    }
  }
  const ihdr = new Uint8Array(13);
  const hv = new DataView(ihdr.buffer);
  hv.setUint32(0, width);
  hv.setUint32(4, height);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 0; // colour type: grayscale
  const idat = new Uint8Array(deflateSync(raw));
  const parts = [
    new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk("IHDR", ihdr),
    chunk("IDAT", idat),
    chunk("IEND", new Uint8Array(0)),
  ];
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}
