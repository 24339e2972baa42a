/**
 * The PNG encoder for 8-bit grayscale images (what MNIST digits are), shared
 * by the image grids here and TensorBoard's Images dashboard
 * (`ecosystem/tensorboard/summary_writer.ts`).
 *
 * Layout (PNG spec, ISO/IEC 15948): the 8-byte signature, then chunks of
 * `uint32 length, 4-byte type, data, uint32 CRC-32(type + data)`: `IHDR`
 * (width, height, bit depth 8, colour type 0 = grayscale), one `IDAT` holding
 * the zlib-compressed scanlines (each prefixed with filter byte 0), `IEND`.
 * The zlib stream and the CRC-32 come from the platform (`node:zlib`
 * `deflateSync` and `crc32`; synchronous, so that display helpers and the
 * summary writer's methods stay synchronous). A 28x28 digit is a few hundred
 * bytes.
 *
 * @example
 * ```ts
 * import { encodeGrayPng, pngDataUrl } from "./png.ts";
 * const png = encodeGrayPng(new Uint8Array(28 * 28).fill(128), 28, 28);
 * console.log(png.length, pngDataUrl(png).slice(0, 30));
 * ```
 *
 * @module
 */
import { crc32, deflateSync } from "node:zlib";
import { DisplayInputError } from "./displayable.ts";

const SIGNATURE = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

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
 * PNG bytes of a `width`x`height` 8-bit grayscale image; `pixels` is row-major.
 * `Uint8Array` values (0..255) are used as they are; other arrays are taken as
 * floats in [0, 1] and scaled to 0..255 (rounded, clamped).
 *
 * @throws {DisplayInputError} when the size is not positive integers or
 * `pixels` does not hold exactly `width*height` values.
 */
export function encodeGrayPng(
  pixels: ArrayLike<number>,
  width: number,
  height: number,
): Uint8Array {
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
    throw new DisplayInputError(`encodeGrayPng: bad size ${width}x${height}`);
  }
  if (pixels.length !== width * height) {
    throw new DisplayInputError(
      `encodeGrayPng: ${pixels.length} pixels for a ${width}x${height} image (need ${
        width * height
      }); pass exactly width*height values`,
    );
  }
  const raw = new Uint8Array(height * (width + 1)); // each row: filter byte 0 (none), pixels
  if (pixels instanceof Uint8Array) {
    for (let y = 0; y < height; y++) {
      raw.set(pixels.subarray(y * width, (y + 1) * width), y * (width + 1) + 1);
    }
  } else {
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        const v = Math.round(pixels[y * width + x] * 255);
        raw[y * (width + 1) + 1 + x] = v < 0 ? 0 : v > 255 ? 255 : v;
      }
    }
  }
  const ihdr = new Uint8Array(13);
  const v = new DataView(ihdr.buffer);
  v.setUint32(0, width);
  v.setUint32(4, height);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 0; // colour type: grayscale
  const parts = [
    SIGNATURE,
    chunk("IHDR", ihdr),
    chunk("IDAT", new Uint8Array(deflateSync(raw))),
    chunk("IEND", new Uint8Array(0)),
  ];
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) out.set(p, o), o += p.length;
  return out;
}

/** `data:image/png;base64,...` for PNG bytes. */
export function pngDataUrl(png: Uint8Array): string {
  let s = "";
  for (let i = 0; i < png.length; i += 0x8000) {
    s += String.fromCharCode(...png.subarray(i, i + 0x8000));
  }
  return `data:image/png;base64,${btoa(s)}`;
}
